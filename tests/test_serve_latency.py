"""Round-trip latency of a running emulator (issue 13): how its loop hands answers on.

A backlog is worked off in groups whose answers are published while the next group runs;
the publisher keeps a sliding window (an unacknowledged entry does not hold back those
after it); the outbox bookkeeping of a turn is one transaction; sqlite's checkpoints run
off the serving thread; the MQTT bus awaits PUBACKs on futures of its own. Durability is
as before: nothing leaves before it is committed, and only acknowledged entries leave the
outbox. No timing is asserted anywhere.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from emulator.runtime import server as server_module
from emulator.runtime import store as store_module
from emulator.runtime.server import SERVE_BATCH, SERVE_BUDGET, _group_size, _with_first
from emulator.runtime.store import SiteWrite, StateStore
from emulator.transport.base import BusError, BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from emulator.transport.mqtt import MqttBus
from tests.test_group_commit import Kit

GUARD = 60.0  # hang guard only


# ------------------------------------------------------------------ group sizes


def test_groups_are_sized_to_the_budget_from_what_recent_groups_cost() -> None:
    average, limit = _group_size(SERVE_BUDGET / 4, 0.0)  # first group: taken as it is
    assert average == SERVE_BUDGET / 4 and limit == 4
    average, limit = _group_size(SERVE_BUDGET * 10, average)  # one slow group pulls it down
    assert limit == 1
    for _ in range(100):  # cheap commands: as many as SERVE_BATCH, never more
        average, limit = _group_size(SERVE_BUDGET / 1000, average)
    assert limit == SERVE_BATCH
    assert _group_size(0.0, 0.0) == (0.0, SERVE_BATCH)


def test_the_advance_stamp_is_spliced_into_the_stored_text() -> None:
    for state in ({}, {"a": 1, "b": [1, "x"], "c": {"d": None}}):
        text = json.dumps(state, separators=(",", ":"))
        spliced = _with_first(text, "last_advance", "2026-01-01T00:00:00+00:00")
        assert json.loads(spliced) == {**state, "last_advance": "2026-01-01T00:00:00+00:00"}


# ------------------------------------------------------------------ serve loop


class RecordingBus(InProcessBus):
    """Records, in order, the groups the emulator executes and the answers it publishes."""

    def __init__(self, hub: InProcessHub, events: list[str]) -> None:
        super().__init__(hub)
        self.events = events

    async def publish(self, message: BusMessage) -> None:
        self.events.append(f"publish {message.channel.value}")
        await super().publish(message)


def test_a_backlog_is_answered_group_by_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first group's answers leave before the last group runs (before: every group of
    a backlog ran before the publisher had a turn), each after its group's commit."""
    monkeypatch.setattr(server_module, "SERVE_BATCH", 2)
    monkeypatch.setattr(server_module, "SERVE_BUDGET", 1e9)  # size by SERVE_BATCH only
    kit = Kit(tmp_path)
    events: list[str] = []
    commands = [kit.read() for _ in range(6)]

    async def scenario() -> None:
        hub = InProcessHub()
        emu = kit.emulator(RecordingBus(hub, events))
        real = emu.handle_many

        def handle_many(messages: list[BusMessage]) -> int:
            events.append(f"group {len(messages)}")
            return real(messages)

        emu.handle_many = handle_many  # type: ignore[method-assign]
        stop = asyncio.Event()
        task = asyncio.create_task(emu.run(stop))
        await asyncio.wait_for(emu.ready.wait(), GUARD)
        for m in commands:  # all waiting on the bus before the emulator looks
            emu.bus.queue.put_nowait(m)  # type: ignore[attr-defined]
        while events.count("publish out") < len(commands):
            await asyncio.wait_for(asyncio.sleep(0.01), GUARD)
        stop.set()
        await asyncio.wait_for(task, GUARD)

    asyncio.run(scenario())
    groups = [i for i, e in enumerate(events) if e.startswith("group")]
    publishes = [i for i, e in enumerate(events) if e == "publish out"]
    assert [events[i] for i in groups] == ["group 2"] * 3
    assert publishes[0] < groups[-1], events  # answers flowed while the backlog ran
    assert publishes[0] > groups[0]  # nothing before its group was executed (and committed)


# ------------------------------------------------------------------ publisher


class HeldBus(InProcessBus):
    """Holds the PUBACK of the first frame published until ``release`` is set."""

    def __init__(self, hub: InProcessHub) -> None:
        super().__init__(hub)
        self.release = asyncio.Event()
        self.order: list[bytes] = []

    async def publish(self, message: BusMessage) -> None:
        self.order.append(message.frame)
        if len(self.order) == 1:
            await self.release.wait()
        await super().publish(message)


def test_an_unacknowledged_entry_holds_back_no_other_and_stays_until_acknowledged(
    tmp_path: Path,
) -> None:
    kit = Kit(tmp_path)
    commands = [kit.read() for _ in range(5)]

    async def scenario() -> tuple[list[bytes], list[int], list[int], list[bytes]]:
        hub = InProcessHub()
        bus = HeldBus(hub)
        emu = kit.emulator(bus)
        stop = asyncio.Event()
        task = asyncio.create_task(emu.run(stop))
        await asyncio.wait_for(emu.ready.wait(), GUARD)
        ids = emu.store.commit_rows(  # queued in outbox order, a..e
            [
                SiteWrite("site-0", outbound=[(f"gbcs/site-0/{'00' * 8}/out", c.frame)])
                for c in commands
            ]
        )
        emu._outbox.set()
        while len(bus.order) < len(commands) or emu.store.outbox_size() > 1:
            await asyncio.wait_for(asyncio.sleep(0.01), GUARD)
        left = [e.id for e in emu.store.pending()]
        attempts = [e.attempts for e in emu.store.pending()]
        bus.release.set()
        while emu.store.outbox_size():
            await asyncio.wait_for(asyncio.sleep(0.01), GUARD)
        stop.set()
        await asyncio.wait_for(task, GUARD)
        return bus.order, ids, left + attempts, [c.frame for c in commands]

    order, ids, left, frames = asyncio.run(scenario())
    assert order == frames  # handed over in outbox order
    assert left == [ids[0], 1]  # only the held one is left, marked as attempted


class FlakyBus(InProcessBus):
    """Refuses the second frame once (a broker going away), then accepts everything."""

    def __init__(self, hub: InProcessHub) -> None:
        super().__init__(hub)
        self.calls: list[bytes] = []
        self.refused = False

    async def publish(self, message: BusMessage) -> None:
        self.calls.append(message.frame)
        if len(self.calls) == 2 and not self.refused:
            self.refused = True
            raise BusError("broker away")
        await super().publish(message)


def test_a_refused_entry_is_retried_in_order_and_nothing_is_lost(tmp_path: Path) -> None:
    kit = Kit(tmp_path)
    frames = [kit.read().frame for _ in range(4)]

    async def scenario() -> tuple[list[bytes], dict[str, int]]:
        hub = InProcessHub()
        listener = InProcessBus(hub)
        await listener.start()
        await listener.subscribe("gbcs/+/+/out")
        bus = FlakyBus(hub)
        emu = kit.emulator(bus)
        stop = asyncio.Event()
        task = asyncio.create_task(emu.run(stop))
        await asyncio.wait_for(emu.ready.wait(), GUARD)
        emu.store.commit_rows(
            [SiteWrite("site-0", outbound=[(f"gbcs/site-0/{'00' * 8}/out", f) for f in frames])]
        )
        emu._outbox.set()
        while emu.store.outbox_size():
            await asyncio.wait_for(asyncio.sleep(0.01), GUARD)
        stop.set()
        await asyncio.wait_for(task, GUARD)
        got = []
        while not listener.queue.empty():
            m = listener.queue.get_nowait()
            assert m is not None
            got.append(m.frame)
        return got, dict(emu.metrics.counters)

    got, counters = asyncio.run(scenario())
    assert set(got) == set(frames)  # every frame delivered
    assert got.index(frames[1]) > got.index(frames[0])
    assert counters["broker.publish_failures"] == 1
    assert counters["published"] == len(got)


# ------------------------------------------------------------------ store


def test_a_publisher_turn_is_one_transaction(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    try:
        ids = store.commit_rows(
            [SiteWrite("s", outbound=[("t/a", b"1"), ("t/b", b"2"), ("t/c", b"3")])]
        )
        assert [e.id for e in store.pending_after(ids[0], 10)] == ids[1:]
        assert [e.id for e in store.pending_after(0, 1)] == ids[:1]
        store.attempt_many(ids[:1])
        store.sent_and_attempt(ids[:1], ids[1:])
        assert [(e.id, e.attempts) for e in store.pending()] == [(ids[1], 1), (ids[2], 1)]
        with pytest.raises(sqlite3.Error):  # the UPDATE fails: the DELETE is rolled back too
            _failing_turn(store, ids)
        assert [(e.id, e.attempts) for e in store.pending()] == [(ids[1], 1), (ids[2], 1)]
    finally:
        store.close()


def _failing_turn(store: StateStore, ids: list[int]) -> None:
    """A turn whose second statement (the UPDATE) fails."""
    store._db.execute(
        "CREATE TEMP TRIGGER boom BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    try:
        store.sent_and_attempt(ids[1:2], ids[2:])
    finally:
        store._db.execute("DROP TRIGGER temp.boom")


def test_checkpoints_run_on_a_thread_of_the_store_not_in_commits(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        sync = store._db.execute("PRAGMA synchronous").fetchone()[0]
        assert sync == 1  # NORMAL, as before: durability is not what changed
        store.commit_rows([SiteWrite("s", own="{}", outbound=[("t/a", b"1")])])
        names = [t.name for t in threading.enumerate()]
        assert "checkpoint s.db" in names
    finally:
        store.close()
    assert "checkpoint s.db" not in [t.name for t in threading.enumerate()]
    assert not (tmp_path / "s.db-wal").exists()  # closing checkpointed everything
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1


def test_a_wal_past_its_limit_is_checkpointed_by_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that never pauses: the thread's checkpoints never complete, so past
    WAL_LIMIT frames the writer checkpoints in its own commit (as sqlite would)."""
    store = StateStore(tmp_path / "s.db")
    real = store._db
    calls: list[str] = []
    try:
        store.commit_rows([SiteWrite("s", own="{}")])
        assert store._checkpointer is not None
        store._checkpointer.wal_frames = store_module.WAL_LIMIT + 1

        class Spy:
            def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
                calls.append(sql)
                return real.execute(sql, *args)

            def cursor(self) -> sqlite3.Cursor:
                return real.cursor()

        store._db = Spy()  # type: ignore[assignment]
        store.commit_rows([SiteWrite("s", own='{"a":1}')])
        assert calls == ["PRAGMA wal_checkpoint(PASSIVE)"]
        assert store._checkpointer.wal_frames <= store_module.WAL_LIMIT
    finally:
        store._db = real
        store.close()


# ------------------------------------------------------------------ MQTT acks


def test_pubacks_resolve_their_own_publication_and_a_lost_connection_fails_the_rest() -> None:
    async def scenario() -> None:
        bus = MqttBus("mqtt://127.0.0.1:1", connect_timeout=None)
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        pending: asyncio.Future[None] = loop.create_future()
        bus._acks.update({7: acked, 8: pending})
        assert bus._on_puback(7) is True
        assert acked.done() and acked.exception() is None
        assert bus._on_puback(99) is False  # not ours: handed on to aiomqtt
        bus._set_disconnected()
        with pytest.raises(BusError, match="lost before the broker acknowledged"):
            await pending
        assert bus._acks == {}
        late: asyncio.Future[None] = loop.create_future()
        bus._acks[9] = late
        bus._expire(9, late)
        with pytest.raises(BusError, match="no acknowledgement within"):
            await late
        assert bus._acks == {}

    asyncio.run(scenario())


def test_publishing_while_disconnected_fails_at_once() -> None:
    async def scenario() -> None:
        bus = MqttBus("mqtt://127.0.0.1:1", connect_timeout=None)
        with pytest.raises(BusError, match="not connected"):
            await bus.publish(BusMessage("s", "00DB1234567890A0", Channel.OUT, b"x"))

    asyncio.run(scenario())
