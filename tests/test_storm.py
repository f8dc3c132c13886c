"""Broker fault in an alert storm: stop and restart the broker while 2,000+ alerts flow;
the durable outbox and QoS 1 persistent sessions lose none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.base import BusMessage, Channel
from emulator.transport.broker import MosquittoBroker
from emulator.transport.mqtt import MqttBus
from keys.store import KeyStore
from tests.brokers import require_mosquitto

SITES = 1000  # an ECS80 and an AD1 per site: 2,000 alerts


@pytest.mark.asyncio
async def test_broker_restart_mid_storm_loses_no_alert(tmp_path: Path) -> None:
    require_mosquitto()
    config = load_config(None, sites=SITES)
    keys = KeyStore(ensure_pki(tmp_path))
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    async with MosquittoBroker(persistence=True) as broker:
        sub = MqttBus(broker.url, client_id="storm-watcher", persistent=True)
        await sub.start()
        await sub.subscribe("gbcs/+/+/alert")
        got: dict[tuple[str, str, bytes], int] = {}
        arrived = asyncio.Event()

        async def watch() -> None:
            async for m in sub.messages():
                key = (m.site, m.eui, m.frame)
                got[key] = got.get(key, 0) + 1
                if len(got) >= 2 * SITES:
                    arrived.set()

        watcher = asyncio.create_task(watch())
        bus = MqttBus(broker.url, client_id="storm-emulator", persistent=True)
        emulator = Emulator(config, bus, clock, keys, tmp_path, cache_size=SITES)
        stop = asyncio.Event()
        runner = asyncio.create_task(emulator.run(stop))
        await asyncio.wait_for(emulator.ready.wait(), 30)
        produced = emulator.power_cut(range(SITES), 240)
        assert produced == 2 * SITES
        while emulator.metrics.counters["published"] < 300:  # in the middle of the storm
            await asyncio.sleep(0.01)
        await broker.stop()
        await asyncio.sleep(1.0)  # publishes fail; the outbox keeps them
        failures = emulator.metrics.counters["broker.publish_failures"]
        await broker.start()
        await asyncio.wait_for(arrived.wait(), 180)
        stop.set()
        await asyncio.wait_for(runner, 30)
        watcher.cancel()
        await sub.close()
    assert failures > 0
    assert len(got) == 2 * SITES  # every distinct alert arrived
    duplicates = sum(n - 1 for n in got.values())
    assert duplicates >= 0  # acceptable, and counted
    channels = {BusMessage.from_topic(f"gbcs/{s}/{e}/alert", f).channel for s, e, f in got}
    assert channels == {Channel.ALERT}
