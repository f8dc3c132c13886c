"""Fan-out at fleet scale: a worker of several subscribes only its own sites' topics, so
the broker (or the in-process hub) never hands it another worker's frames; the worker
that owns a topic's site counts what is wrong on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import FleetConfig, load_config
from emulator.runtime.pki import ensure_pki
from emulator.runtime.server import WILDCARD_FILTERS, Emulator
from emulator.transport.base import Bus, BusMessage, Channel, TopicFilters, topic_matches
from emulator.transport.broker import MosquittoBroker
from emulator.transport.inprocess import InProcessBus, InProcessHub
from emulator.transport.mqtt import MqttBus
from keys.store import KeyStore
from tests.brokers import require_mosquitto

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GUARD = 120.0  # hang guard for whole phases; never a performance assertion
FLEET = 100_000
WORKERS = 2


def eui(config: FleetConfig, index: int, kind: str = "ESME") -> str:
    return config.site_config(index).eui(kind).hex().upper()


def emulator_for(config: FleetConfig, bus: Bus, state: Path, worker: int, workers: int) -> Emulator:
    keys = KeyStore(ensure_pki(state))
    return Emulator(config, bus, VirtualClock(T0), keys, state, worker=worker, workers=workers)


class Recording(InProcessBus):
    """An in-process bus that records every message it hands out."""

    def __init__(self, hub: InProcessHub) -> None:
        super().__init__(hub)
        self.seen: list[BusMessage] = []

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        async for m in super().messages():
            self.seen.append(m)
            yield m


class RecordingMqtt(MqttBus):
    """An MQTT bus that records every message it hands out."""

    def __init__(self, url: str, **kwargs: object) -> None:
        super().__init__(url, **kwargs)  # type: ignore[arg-type]
        self.seen: list[BusMessage] = []
        self.marker = asyncio.Event()

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        async for m in super().messages():
            self.seen.append(m)
            if m.frame == b"marker":
                self.marker.set()
            yield m


def traffic(config: FleetConfig) -> list[BusMessage]:
    """Commands and control requests for sites of both workers and outside the fleet."""
    out = []
    for index in (0, 1, 2, 3, FLEET - 2, FLEET - 1):
        out.append(BusMessage(f"site-{index}", eui(config, index), Channel.IN, b"\xdd\x00"))
        out.append(BusMessage(f"site-{index}", eui(config, index), Channel.CONTROL, b"{}"))
    # a device of site 1 named under site 0's topic, an unknown EUI under site 3's topic
    out.append(BusMessage("site-0", eui(config, 1), Channel.IN, b"\xdd\x01"))
    out.append(BusMessage("site-3", "00DB000000000001", Channel.IN, b"\xdd\x02"))
    out.append(BusMessage(f"site-{FLEET}", eui(config, 0), Channel.IN, b"\xdd\x03"))
    out.append(BusMessage("elsewhere", eui(config, 0), Channel.IN, b"\xdd\x04"))
    return out


def site_of(message: BusMessage) -> int | None:
    head, _, number = message.site.rpartition("-")
    return int(number) if head == "site" and number.isdigit() else None


# ------------------------------------------------------------------ the subscriptions


def test_a_worker_of_several_subscribes_its_own_sites_only(tmp_path: Path) -> None:
    config = load_config(None, sites=FLEET)
    emulator = emulator_for(config, InProcessBus(InProcessHub()), tmp_path, 1, 3)
    try:
        filters = emulator.subscriptions()
        assert len(filters) == 2 * len(range(1, FLEET, 3))
        assert "gbcs/+/+/in" not in filters and "gbcs/site-1/+/in" in filters
        matcher = TopicFilters(filters)
        for index in (0, 1, 2, 4, 99_997, 99_998, 99_999):
            for channel in ("in", "control"):
                topic = f"gbcs/site-{index}/{eui(config, index)}/{channel}"
                assert matcher.matches(topic) is (index % 3 == 1), topic
            # nothing the emulator itself publishes comes back to it
            for channel in ("out", "alert", "control/reply"):
                assert not matcher.matches(f"gbcs/site-{index}/{eui(config, index)}/{channel}")
    finally:
        emulator.close()


def test_one_worker_serving_the_whole_fleet_keeps_the_two_wildcards(tmp_path: Path) -> None:
    emulator = emulator_for(
        load_config(None, sites=10), InProcessBus(InProcessHub()), tmp_path, 0, 1
    )
    try:
        assert emulator.subscriptions() == list(WILDCARD_FILTERS)
    finally:
        emulator.close()


def test_topic_filters_match_as_topic_matches_does() -> None:
    patterns = ["gbcs/+/+/in", "gbcs/site-1/+/in", "gbcs/site-2/#", "a/+/#", "+", "x/y"]
    topics = ["gbcs/site-1/E/in", "gbcs/site-2/E/control/reply", "gbcs/site-2", "a", "a/b",
              "a/b/c", "x/y", "x/y/z", "gbcs/site-3/E/out", "q"]  # fmt: skip
    for n in range(len(patterns) + 1):
        f = TopicFilters(patterns[:n])
        for t in topics:
            assert f.matches(t) is any(topic_matches(p, t) for p in patterns[:n]), (n, t)
    f = TopicFilters(patterns)
    for p in patterns:
        assert f.discard(p) and not f.discard(p)
    assert len(f) == 0 and not any(f.matches(t) for t in topics)


# -------------------------------------------------------------------- in-process hub


@pytest.mark.asyncio
async def test_in_process_workers_receive_only_their_own_sites(tmp_path: Path) -> None:
    config = load_config(None, sites=FLEET)
    hub = InProcessHub()
    buses = [Recording(hub) for _ in range(WORKERS)]
    emulators = [emulator_for(config, b, tmp_path, w, WORKERS) for w, b in enumerate(buses)]
    stop = asyncio.Event()
    runners = [asyncio.create_task(e.run(stop)) for e in emulators]
    try:
        for e in emulators:
            await asyncio.wait_for(e.ready.wait(), GUARD)
        head_end = InProcessBus(hub)
        await head_end.start()
        sent = traffic(config)
        for m in sent:
            await head_end.publish(m)
        # the hub delivers synchronously: every queue already holds what it will get
        for w, bus in enumerate(buses):
            queued = [m for m in list(bus.queue._queue) if m is not None]  # type: ignore[attr-defined]
            got = bus.seen + queued
            expected = [m for m in sent if site_of(m) is not None and site_of(m) < FLEET  # type: ignore[operator]
                        and site_of(m) % WORKERS == w]  # type: ignore[operator]  # fmt: skip
            assert got == expected, w
        await head_end.close()
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*runners), GUARD)


def test_the_owner_of_a_topics_site_counts_what_is_wrong_on_it(tmp_path: Path) -> None:
    """Each frame is counted once, by the worker owning its topic's site (worker 0 for a
    site outside the fleet, when a wildcard subscription brings it there)."""
    config = load_config(None, sites=4)
    hub = InProcessHub()
    w0, w1 = (emulator_for(config, InProcessBus(hub), tmp_path, w, 2) for w in range(2))
    try:
        wrong_site = BusMessage("site-0", eui(config, 1), Channel.IN, b"\xdd")
        unknown = BusMessage("site-1", "00DB000000000001", Channel.IN, b"\xdd")
        outside = BusMessage("site-9", eui(config, 3), Channel.IN, b"\xdd")
        for m in (wrong_site, unknown, outside):
            assert w0.handle(m) == 0 and w1.handle(m) == 0
        c0, c1 = w0.metrics.counters, w1.metrics.counters
        assert c0["rejected.topic"] == 2 and c0["commands"] == 2  # wrong site, outside
        assert c1["ignored.unknown_device"] == 1 and c1["rejected.topic"] == 0
        assert c0["ignored.unknown_device"] == 0 and c1["commands"] == 0
        assert not w0.sites and not w1.sites  # nothing hydrated for a bad topic
        # control, off: counted by the site's owner only
        request = BusMessage("site-1", eui(config, 1), Channel.CONTROL, b"{}")
        assert not w0.handle_control(request) and not w1.handle_control(request)
        assert c1["rejected.control_disabled"] == 1 and c0["rejected.control_disabled"] == 0
    finally:
        w0.close()
        w1.close()


def test_wrong_site_control_request_is_answered_by_the_topics_owner(tmp_path: Path) -> None:
    config = load_config(None, sites=4)
    hub = InProcessHub()
    emulators = [emulator_for(config, InProcessBus(hub), tmp_path, w, 2) for w in range(2)]
    for e in emulators:
        e.control = True
    try:
        # site 1's ESME (worker 1) named under site 0's topic (worker 0)
        m = BusMessage("site-0", eui(config, 1), Channel.CONTROL, b'{"id": 5, "op": "x"}')
        answered = [e.handle_control(m) for e in emulators]
        assert answered == [True, False]
        (entry,) = emulators[0].store.pending()
        assert entry.topic == f"gbcs/site-0/{eui(config, 1)}/control/reply"
        assert b'"wrong_site"' in entry.frame and b'"id":5' in entry.frame
        assert emulators[1].store.pending() == []
    finally:
        for e in emulators:
            e.close()


# ---------------------------------------------------------------------- real broker


@pytest.mark.asyncio
async def test_a_worker_of_a_100k_site_fleet_gets_no_frame_of_another_worker(
    tmp_path: Path,
) -> None:
    """Through mosquitto, with a persistent session an earlier version left subscribed
    to ``gbcs/+/+/in``: the worker drops that filter and gets its own sites' frames only."""
    require_mosquitto()
    config = load_config(None, sites=FLEET)
    client_id = "fanout-w1"
    async with MosquittoBroker(persistence=True) as broker:
        legacy = MqttBus(broker.url, client_id=client_id, persistent=True)
        await legacy.start()
        await legacy.subscribe_many(WILDCARD_FILTERS)
        await legacy.close()

        bus = RecordingMqtt(broker.url, client_id=client_id, persistent=True)
        emulator = emulator_for(config, bus, tmp_path, 1, WORKERS)
        stop = asyncio.Event()
        runner = asyncio.create_task(emulator.run(stop))
        try:
            await asyncio.wait_for(emulator.ready.wait(), GUARD)
            head_end = MqttBus(broker.url)
            await head_end.start()
            sent = traffic(config)
            for m in sent:
                await head_end.publish(m)
            # one publisher, one subscriber, QoS 1: the broker keeps the order, so
            # once the marker is in, everything sent before it that was due is too
            await head_end.publish(BusMessage("site-1", eui(config, 1), Channel.IN, b"marker"))
            await asyncio.wait_for(bus.marker.wait(), GUARD)
            await head_end.close()
        finally:
            stop.set()
            await asyncio.wait_for(runner, GUARD)
    got = [(m.topic, m.frame) for m in bus.seen]
    expected = [(m.topic, m.frame) for m in sent if site_of(m) in (1, 3, FLEET - 1)]
    assert got == [*expected, (f"gbcs/site-1/{eui(config, 1)}/in", b"marker")]
    assert emulator.metrics.counters["ignored.unknown_device"] == 1  # the EUI under site 3
