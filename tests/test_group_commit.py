"""Group commit and the cheaper persistence path (issue 13, item 2).

Envelopes decoded once, only changed devices rewritten, commands drained together and
committed in one transaction before any answer is published, and a crash hook that stops
the process at a chosen point inside a group commit.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.site import Site
from emulator.headend.commands import CommandBuilder
from emulator.runtime import server as server_module
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.runtime.statedir import StateError
from emulator.runtime.store import SiteWrite, StateStore
from emulator.runtime.worker import WorkerOptions
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import AccessRequest, ActionSpec, GetSpec, Obis, invoke_id_for_counter
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
CONTROL = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)
SUPPLY = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)
ESME = "00DB1234567890A0"
SITE = "site-0"


class Kit:
    """An emulator used without run() (or its state directory), with a command builder."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.config = load_config(None)
        self.pki = ensure_pki(state)
        self.keys = KeyStore(self.pki)
        add_device_public_keys(self.keys, self.config, range(1), state)
        self.builder = CommandBuilder(self.keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
        self.clock = VirtualClock(T0)

    def emulator(self, bus: InProcessBus | None = None, state: Path | None = None) -> Emulator:
        return Emulator(
            self.config,
            bus or InProcessBus(InProcessHub()),
            self.clock,
            KeyStore(self.pki),
            state or self.state,
        )

    def command(self, code: int, spec: Any, value: Data | None = None) -> BusMessage:
        c = self.builder.next_counter(SUPPLIER)
        req = AccessRequest(
            invoke_id_for_counter(c), (spec,), (Data.null() if value is None else value,)
        )
        frame = self.builder.command(SUPPLIER, bytes.fromhex(ESME), code, req, counter=c)
        return BusMessage(SITE, ESME, Channel.IN, frame)

    def read(self) -> BusMessage:
        return self.command(0x0052, CONTROL)

    def disconnect(self) -> BusMessage:
        return self.command(0x0050, SUPPLY, Data.long_unsigned(52))


def _outbox_counters(emu: Emulator) -> list[tuple[str, int]]:
    return [(e.topic, decode(e.frame).counter) for e in emu.store.pending()]


def _device_rows(emu: Emulator) -> dict[str, str]:
    with sqlite3.connect(emu.store.path) as db:
        return dict(db.execute("SELECT kind, state FROM devices WHERE site = ?", (SITE,)))


def _replays_refused(emu: Emulator, messages: list[BusMessage]) -> None:
    for m in messages:
        before = emu.metrics.counters["rejected.replay"]
        emu.handle(m)
        assert emu.metrics.counters["rejected.replay"] == before + 1, "a replay was accepted"


# --------------------------------------------------------- envelopes decoded once


def test_response_topics_come_from_the_outbound_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(tmp_path)
    emu = kit.emulator()
    try:

        def no_decode(frame: bytes) -> Any:
            raise AssertionError("the runtime decoded an outgoing envelope again")

        monkeypatch.setattr(server_module, "decode_envelope", no_decode)
        monkeypatch.setattr("devices.site.decode_envelope", _counting(monkeypatch))
        message = kit.read()
        assert emu.handle(message) == 1
        [(topic, counter)] = _outbox_counters(emu)
        assert topic == f"gbcs/{SITE}/{ESME}/out"
        assert counter == decode(message.frame).counter
        assert _DECODES["n"] == 1  # routing the command only; the response is not decoded
    finally:
        emu.close()


_DECODES = {"n": 0}


def _counting(monkeypatch: pytest.MonkeyPatch) -> Any:
    from gbcs.envelope import decode_envelope

    _DECODES["n"] = 0

    def counted(frame: bytes) -> Any:
        _DECODES["n"] += 1
        return decode_envelope(frame)

    return counted


# ------------------------------------------------------- persist only what changed


def _delta_rows(emu: Emulator) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(emu.store.path) as db:
        rows = db.execute("SELECT kind, delta FROM deltas WHERE site = ? ORDER BY seq", (SITE,))
        return [(kind, json.loads(text)) for kind, text in rows]


def test_a_read_rewrites_no_device_and_a_restart_still_reads_the_same(tmp_path: Path) -> None:
    kit = Kit(tmp_path)
    emu = kit.emulator()
    writes: list[list[SiteWrite]] = []
    real = emu.store.commit_rows

    def spy(ws: Any, now: float = 0.0, *, hook: bool = False) -> list[int]:
        ws = list(ws)
        writes.append(ws)
        return real(ws, now, hook=hook)

    emu.store.commit_rows = spy  # type: ignore[method-assign]
    emu.handle(kit.read())  # a fresh site: no full save, only its row and what changed
    first = writes[0][0]
    assert first.devices == {} and first.own is not None
    assert "created" in json.loads(first.own)  # its factory state's time
    assert set(first.deltas) <= {"CHF", "ESME", "GSME", "GPF"}
    assert all("anchors" not in d.get("s", {}) for _, d in _delta_rows(emu))
    deltas = _delta_rows(emu)
    emu.handle(kit.read())  # same instant: no time-driven change either
    assert writes[1][0].devices == {} and writes[1][0].deltas == {}
    assert writes[1][0].own is None
    assert len(writes[1][0].outbound) == 1  # the response is still queued
    assert _delta_rows(emu) == deltas and _device_rows(emu) == {}
    emu.handle(kit.disconnect())  # a change (and a counter): one ESME delta
    assert set(writes[2][0].deltas) == {"ESME"} and writes[2][0].devices == {}
    kind, delta = _delta_rows(emu)[-1]
    assert kind == "ESME" and [p for p, _ in delta["p"] if p[0] == "counters"]
    saved = emu.store.load_site(SITE)
    assert saved is not None and saved["devices"]["ESME"]["counters"]  # the counter is on disk
    emu.close()
    again = kit.emulator()
    try:
        assert again.handle(kit.read()) == 1
        rsp = decode(again.store.pending()[-1].frame)
        assert rsp.payload.data[0].value == 0  # the disconnect persisted
    finally:
        again.close()


def test_an_accepted_counter_is_on_disk_before_its_response_is_published(
    tmp_path: Path,
) -> None:
    """At the moment the response is published, a copy of the state refuses its replay."""
    kit = Kit(tmp_path / "live")
    snapshot = tmp_path / "snapshot"
    taken: list[bytes] = []
    holder: dict[str, Emulator] = {}

    class SnapshotBus(InProcessBus):
        async def publish(self, message: BusMessage) -> None:
            if message.channel is Channel.OUT and not taken:
                emu = holder["emu"]
                shutil.copytree(kit.state, snapshot, ignore=shutil.ignore_patterns("state-*"))
                emu.store.backup_to(snapshot / "state-0.db")
                taken.append(message.frame)
            await super().publish(message)

    command = kit.disconnect()

    async def serve() -> None:
        hub = InProcessHub()
        emu = kit.emulator(SnapshotBus(hub))
        holder["emu"] = emu
        stop = asyncio.Event()
        task = asyncio.create_task(emu.run(stop))
        await asyncio.wait_for(emu.ready.wait(), 10)
        headend = InProcessBus(hub)
        await headend.start()
        await headend.publish(command)
        while not taken:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 10)
        await headend.close()

    asyncio.run(serve())
    assert decode(taken[0]).counter == decode(command.frame).counter
    copy = kit.emulator(state=snapshot)
    try:
        _replays_refused(copy, [command])
    finally:
        copy.close()


# ------------------------------------------------------------------ group commit


def test_handle_many_commits_every_command_in_one_transaction(tmp_path: Path) -> None:
    kit = Kit(tmp_path)
    emu = kit.emulator()
    calls: list[int] = []
    real = emu.store.commit_rows

    def spy(ws: Any, now: float = 0.0, *, hook: bool = False) -> list[int]:
        ws = list(ws)
        calls.append(len(ws))
        return real(ws, now, hook=hook)

    emu.store.commit_rows = spy  # type: ignore[method-assign]
    batch = [kit.read(), kit.disconnect(), kit.read()]
    assert emu.handle_many(batch) == 3
    assert calls == [3]
    assert [c for _, c in _outbox_counters(emu)] == [decode(m.frame).counter for m in batch]
    # the second read ran after the disconnect: commands apply in order
    assert decode(emu.store.pending()[2].frame).payload.data[0].value == 0
    emu.close()
    again = kit.emulator()
    try:
        _replays_refused(again, [batch[1]])
    finally:
        again.close()


def test_a_command_that_raises_leaves_the_others_committed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(tmp_path)
    emu = kit.emulator()
    first, bad, last = kit.disconnect(), kit.disconnect(), kit.read()
    real = Site.receive

    def receive(self: Site, frame: bytes, now: datetime) -> Any:
        out = real(self, frame, now)
        if frame == bad.frame:
            raise RuntimeError("a bug, after changing the site")
        return out

    monkeypatch.setattr(Site, "receive", receive)
    assert emu.handle_many([first, bad, last]) == 2
    assert emu.metrics.counters["errors"] == 1
    assert emu.metrics.counters["commands"] == 3  # the re-run of `first` is not recounted
    counters = [c for _, c in _outbox_counters(emu)]
    assert counters == [decode(first.frame).counter, decode(last.frame).counter]
    monkeypatch.setattr(Site, "receive", real)
    emu.close()
    again = kit.emulator()
    try:
        _replays_refused(again, [first])
        # the command that failed was never acknowledged: its counter was not consumed
        # with the half-applied state, so sending it again is accepted
        assert again.handle(bad) == 1
        assert again.metrics.counters["rejected.replay"] == 1
    finally:
        again.close()


def test_a_failed_group_commit_keeps_nothing_and_a_retry_is_accepted(
    tmp_path: Path,
) -> None:
    kit = Kit(tmp_path)
    emu = kit.emulator()
    emu.handle(kit.read())
    rows = _device_rows(emu)
    real = emu.store.commit_rows

    def broken(ws: Any, now: float = 0.0, *, hook: bool = False) -> list[int]:
        raise sqlite3.OperationalError("disk I/O error")

    emu.store.commit_rows = broken  # type: ignore[method-assign]
    batch = [kit.disconnect(), kit.read()]
    pending = len(emu.store.pending())
    with pytest.raises(StateError, match="cannot store site site-0"):
        emu.handle_many(batch)
    assert len(emu.store.pending()) == pending and _device_rows(emu) == rows
    assert 0 not in emu.sites  # the uncommitted changes are forgotten
    emu.store.commit_rows = real  # type: ignore[method-assign]
    assert emu.handle_many(batch) == 2  # not replays: nothing was acknowledged
    assert emu.metrics.counters.get("rejected.replay", 0) == 0
    emu.close()


def test_outbox_bookkeeping_in_one_transaction_per_window(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.db")
    try:
        ids = store.commit_rows([SiteWrite("s", outbound=[("t/a", b"1"), ("t/b", b"2")])])
        store.attempt_many(ids)
        assert [e.attempts for e in store.pending()] == [1, 1]
        store.sent_many(ids[:1])
        assert [e.id for e in store.pending()] == ids[1:]
        store.sent_many([])
        assert store.outbox_size() == 1
    finally:
        store.close()


# ------------------------------------------------------------------- crash hook


@pytest.mark.parametrize("point", ["before-commit", "in-commit", "after-commit"])
def test_a_crash_inside_a_group_commit_half_applies_nothing(tmp_path: Path, point: str) -> None:
    from tests.brokers import running_broker

    asyncio.run(_crash_at(tmp_path, point, running_broker))


async def _crash_at(tmp_path: Path, point: str, running_broker: Any) -> None:
    from emulator.transport.mqtt import MqttBus

    kit = Kit(tmp_path / "state")
    command = kit.disconnect()
    counter = decode(command.frame).counter
    async with running_broker() as broker:
        opts = WorkerOptions(str(kit.state), broker.url, clock="real")
        env = {**os.environ, "GBCS_CRASH_AT": point}
        proc = _spawn(opts, env)
        headend = MqttBus(broker.url, client_id=f"crash-hook-{point}")
        await headend.start()
        await headend.subscribe("gbcs/+/+/out")
        await headend.subscribe("gbcs/+/+/alert")
        replies: asyncio.Queue[BusMessage] = asyncio.Queue()

        async def pump() -> None:
            async for m in headend.messages():
                await replies.put(m)

        pumper = asyncio.create_task(pump())
        try:
            await _wait_for_file(kit.state / "stats-0.json", proc)
            await headend.publish(command)
            rc = await asyncio.to_thread(proc.wait, 60)
            assert rc == -signal.SIGKILL, f"the hook did not stop the worker (exit {rc})"
            assert replies.empty()  # nothing was published before or after the commit
            store = StateStore(kit.state / "state-0.db")
            try:
                on_disk = store.load_site(SITE)
                queued = [decode(e.frame).counter for e in store.pending()]
            finally:
                store.close()
            committed = point == "after-commit"
            if committed:
                assert on_disk is not None and queued == [counter]
                assert on_disk["devices"]["ESME"]["counters"]
            else:
                assert on_disk is None and queued == []
            proc = _spawn(opts, dict(os.environ))
            if not committed:  # never acknowledged: the same command is accepted once
                await _wait_for_file(kit.state / "stats-0.json", proc, fresh=True)
                await headend.publish(command)
            m = await asyncio.wait_for(replies.get(), 30)
            assert m.channel is Channel.OUT and decode(m.frame).counter == counter
            await headend.publish(command)  # a replay is refused after the restart
            m = await asyncio.wait_for(replies.get(), 30)
            assert m.channel is Channel.ALERT and decode(m.frame).payload.alert_code == 0x8F53
        finally:
            pumper.cancel()
            await headend.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 20)


def _spawn(opts: WorkerOptions, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "emulator.runtime.worker", opts.to_json()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], fresh: bool = False) -> None:
    """Wait until the worker has subscribed (it writes its stats file once serving)."""
    if fresh and path.exists():
        path.unlink()
    while not path.exists():
        assert proc.poll() is None, f"the worker exited ({proc.returncode})"
        await asyncio.sleep(0.05)
