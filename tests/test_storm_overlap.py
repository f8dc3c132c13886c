"""An alert storm that overlaps with publishing: :meth:`Emulator.storm` cuts the mains in
chunks, commits each chunk before its alerts leave, and lets the publisher send them
before it cuts the next chunk. Ordering is asserted by events, never by time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import FleetConfig, load_config
from emulator.runtime.pki import ensure_pki
from emulator.runtime.server import Emulator, StormReport
from emulator.transport.base import BusMessage
from emulator.transport.broker import MosquittoBroker
from emulator.transport.inprocess import InProcessBus, InProcessHub
from emulator.transport.mqtt import MqttBus
from keys.store import KeyStore
from tests.brokers import require_mosquitto

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GUARD = 120.0  # hang guard for whole phases; never a performance assertion
SITES = 120
CHUNK = 20


class CheckedBus(InProcessBus):
    """The emulator's bus: checks, as each alert leaves, that its site is committed."""

    def __init__(self, hub: InProcessHub) -> None:
        super().__init__(hub)
        self.emulator: Emulator | None = None
        self.uncommitted: list[str] = []

    async def publish(self, message: BusMessage) -> None:
        assert self.emulator is not None
        saved = self.emulator.store.load_site(message.site)
        if saved is None or message.site not in self.emulator.used.sites:
            self.uncommitted.append(message.topic)
        await super().publish(message)


def make(config: FleetConfig, bus: InProcessBus | MqttBus, state: Path) -> Emulator:
    keys = KeyStore(ensure_pki(state))
    clock = VirtualClock(T0)
    return Emulator(config, bus, clock, keys, state, cache_size=config.sites)


async def drained(emulator: Emulator) -> None:
    while emulator.store.outbox_size():
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_a_storm_publishes_each_chunk_before_cutting_the_next(tmp_path: Path) -> None:
    config = load_config(None, sites=SITES)
    hub = InProcessHub()
    listener = InProcessBus(hub)
    await listener.start()
    await listener.subscribe("gbcs/+/+/alert")
    bus = CheckedBus(hub)
    emulator = make(config, bus, tmp_path)
    bus.emulator = emulator
    stop = asyncio.Event()
    runner = asyncio.create_task(emulator.run(stop))
    delivered_at_chunk: list[tuple[int, int]] = []  # (alerts committed before, delivered)

    def progress(report: StormReport) -> None:
        before = report.produced - report.chunks[-1][1]
        delivered_at_chunk.append((before, listener.queue.qsize()))

    try:
        await asyncio.wait_for(emulator.ready.wait(), GUARD)
        report = await asyncio.wait_for(
            emulator.storm(range(SITES), 240, chunk=CHUNK, progress=progress), GUARD
        )
        await asyncio.wait_for(drained(emulator), GUARD)
    finally:
        stop.set()
        await asyncio.wait_for(runner, GUARD)
    assert report.complete and report.sites == SITES
    assert report.produced == 2 * SITES  # an ECS80 and an AD1 per site
    assert [c[0] for c in report.chunks] == list(range(CHUNK - 1, SITES, CHUNK))
    assert len(delivered_at_chunk) == SITES // CHUNK
    # when chunk k is committed, every alert of chunks 0..k-1 has been delivered already
    for before, delivered in delivered_at_chunk:
        assert delivered >= before, delivered_at_chunk
    assert delivered_at_chunk[-1][1] > 0  # the old storm published nothing until the end
    assert bus.uncommitted == []  # no alert left before its site's chunk was committed
    got = []
    while not listener.queue.empty():
        m = listener.queue.get_nowait()
        assert m is not None
        got.append((m.site, m.eui, m.frame))
    assert len(got) == len(set(got)) == 2 * SITES  # nothing lost, nothing twice
    sites = {site for site, _, _ in got}
    assert sites == {f"site-{i}" for i in range(SITES)}
    assert emulator.metrics.counters["storm_alerts"] == 2 * SITES
    assert emulator.metrics.counters["storm_sites"] == SITES


@pytest.mark.asyncio
async def test_a_storm_of_a_stopped_emulator_ends_incomplete(tmp_path: Path) -> None:
    """Stopping the emulator mid-storm ends the storm after a committed chunk."""
    config = load_config(None, sites=60)
    emulator = make(config, InProcessBus(InProcessHub()), tmp_path)
    stop = asyncio.Event()
    runner = asyncio.create_task(emulator.run(stop))
    await asyncio.wait_for(emulator.ready.wait(), GUARD)

    def progress(report: StormReport) -> None:
        if len(report.chunks) == 2:
            stop.set()

    report = await asyncio.wait_for(
        emulator.storm(range(60), 240, chunk=10, progress=progress), GUARD
    )
    await asyncio.wait_for(runner, GUARD)
    assert not report.complete
    assert report.sites == 20 and len(report.chunks) == 2


def test_the_synchronous_power_cut_commits_every_site_and_queues_every_alert(
    tmp_path: Path,
) -> None:
    config = load_config(None, sites=70)  # more than one chunk
    emulator = make(config, InProcessBus(InProcessHub()), tmp_path)
    try:
        assert emulator.power_cut(range(70), 240) == 140
        assert len(emulator.store.pending(1000)) == 140
        assert all(emulator.store.load_site(f"site-{i}") is not None for i in range(70))
        assert emulator.metrics.counters["storm_alerts"] == 140
    finally:
        emulator.close()


def test_a_chunk_below_one_site_is_refused(tmp_path: Path) -> None:
    emulator = make(load_config(None, sites=2), InProcessBus(InProcessHub()), tmp_path)
    try:
        with pytest.raises(ValueError, match="chunk must be at least 1"):
            asyncio.run(emulator.storm(range(2), 240, chunk=0))
        assert not emulator.sites and emulator.store.outbox_size() == 0
    finally:
        emulator.close()


@pytest.mark.asyncio
async def test_a_storm_through_mosquitto_delivers_while_it_runs_and_loses_nothing(
    tmp_path: Path,
) -> None:
    require_mosquitto()
    sites, chunk = 90, 15
    config = load_config(None, sites=sites)
    events: list[str] = []
    async with MosquittoBroker() as broker:
        sub = MqttBus(broker.url, client_id="overlap-watcher", persistent=True)
        await sub.start()
        await sub.subscribe("gbcs/+/+/alert")
        got: set[tuple[str, bytes]] = set()
        all_in = asyncio.Event()

        async def watch() -> None:
            async for m in sub.messages():
                events.append("alert")
                got.add((m.topic, m.frame))
                if len(got) >= 2 * sites:
                    all_in.set()

        watcher = asyncio.create_task(watch())
        emulator = make(config, MqttBus(broker.url, client_id="overlap-emu"), tmp_path)
        stop = asyncio.Event()
        runner = asyncio.create_task(emulator.run(stop))
        try:
            await asyncio.wait_for(emulator.ready.wait(), GUARD)
            report = await asyncio.wait_for(
                emulator.storm(
                    range(sites), 240, chunk=chunk, progress=lambda r: events.append("chunk")
                ),
                GUARD,
            )
            await asyncio.wait_for(all_in.wait(), GUARD)
        finally:
            stop.set()
            await asyncio.wait_for(runner, GUARD)
            watcher.cancel()
            await sub.close()
    assert report.complete and report.produced == 2 * sites
    assert len(got) == 2 * sites  # every distinct alert arrived
    # alerts arrived while the storm was still cutting: before its last chunk
    last_chunk = len(events) - 1 - events[::-1].index("chunk")
    assert events.index("alert") < last_chunk, events
    assert events.count("chunk") == sites // chunk
