"""Crash acceptance for ``gbcs-emu run`` itself (issue 9): ``kill -9`` of the run
process only, in the middle of a stream of 500 mixed MQTT commands, five times.

* No orphan: a restarted emulator gets the state lock only once every old worker has
  exited (the order of events is asserted, not a duration).
* No replay of an accepted command is accepted, before or after a restart.
* No device counter is issued twice: every (device, counter) is one frame, however
  often the outbox re-publishes it.
* Every acknowledged effect is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from emulator.headend.commands import CommandBuilder
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys
from emulator.transport.base import BusError, BusMessage, Channel
from emulator.transport.broker import MosquittoBroker
from emulator.transport.mqtt import MqttBus
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore
from tests.brokers import require_mosquitto
from tests.statekit import ROOT, schedule_read, schedule_set

SITES = 2
COMMANDS = 500
KILLS = 5


def _start(state: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", "run", "--state", str(state), "--broker", url,
         "--sites", str(SITES), "--workers", "2", "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _alive(pid: int) -> bool:
    """Running (a zombie holds no descriptors, so it holds no lock either)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def _ready(proc: subprocess.Popen[bytes], state: Path) -> list[int] | None:
    """Wait until both workers serve; their pids, or None if the start was refused."""
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            assert "is in use by" in err, err  # refused for the lock, nothing else
            return None
        try:
            info = json.loads((state / "lock").read_text())
        except (OSError, ValueError):
            info = {}
        stats = list(state.glob("stats-*.json"))
        if info.get("pid") == proc.pid and len(info.get("workers", [])) == 2 and len(stats) == 2:
            return list(info["workers"])
        await asyncio.sleep(0.05)


async def _restart(
    state: Path, url: str, old: list[int]
) -> tuple[subprocess.Popen[bytes], list[int], int]:
    """Start again until the lock is ours; then no old worker may still run."""
    refused = 0
    while True:
        for p in state.glob("stats-*.json"):
            p.unlink()
        proc = _start(state, url)
        workers = await _ready(proc, state)
        if workers is not None:
            assert not [pid for pid in old if _alive(pid)], "a new emulator runs beside old workers"
            return proc, workers, refused
        refused += 1
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_kill_9_of_run_no_orphan_no_replay_no_double_counter(tmp_path: Path) -> None:
    require_mosquitto()
    state = tmp_path / "state"
    rng = random.Random(9)
    async with MosquittoBroker(persistence=True) as broker:
        proc = _start(state, broker.url)
        workers = await _ready(proc, state)
        assert workers is not None
        config = load_config(None, sites=SITES)
        keys = KeyStore(state / "pki")
        add_device_public_keys(keys, config, range(SITES), state)
        builder = CommandBuilder(keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
        esmes = [config.site_config(i) for i in range(SITES)]
        bus = MqttBus(broker.url, client_id="crash-run-headend", persistent=True)
        await bus.start()
        await bus.subscribe("gbcs/+/+/out")
        await bus.subscribe("gbcs/+/+/alert")
        # (channel, device, counter): a response echoes the command's counter, an alert
        # carries the device's own
        frames: dict[tuple[Channel, str, int], set[bytes]] = defaultdict(set)
        answers: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        replay_alerts = 0

        async def pump() -> None:
            nonlocal replay_alerts
            async for m in bus.messages():
                msg = decode(m.frame)
                frames[(m.channel, m.eui, msg.counter)].add(m.frame)
                if m.channel is Channel.OUT:
                    assert check_mac(msg, keys).verdict is Verdict.VALID
                    answers[msg.counter].set()
                elif getattr(msg.payload, "alert_code", None) == 0x8F53:
                    replay_alerts += 1

        pumper = asyncio.create_task(pump())
        sent: dict[int, tuple[int, bytes, tuple[int, int] | None]] = {}  # counter -> site...
        sets: dict[int, list[tuple[int, tuple[int, int]]]] = defaultdict(list)  # per site
        replays = kills = refused = 0
        orphans_checked = 0
        try:
            period = COMMANDS // KILLS
            for i in range(COMMANDS):
                # the few commands before a kill are sent without waiting: the kill lands
                # while they are executing, queued or half-published
                in_flight = period // 2 - 6 <= i % period < period // 2
                if i % period == period // 2:
                    await asyncio.sleep(rng.random() * 0.05)
                    proc.send_signal(signal.SIGKILL)  # the run process only
                    proc.wait()
                    kills += 1
                    proc, new_workers, r = await _restart(state, broker.url, workers)
                    refused += r
                    orphans_checked += len(workers)
                    workers = new_workers
                site = rng.randrange(SITES)
                eui = esmes[site].eui("ESME")
                acked = [c for c, (s, _, e) in sent.items() if e and answers[c].is_set()]
                roll = rng.random()
                if acked and roll < 0.15:  # a replay of an accepted command
                    c = rng.choice(acked)
                    s, frame, _ = sent[c]
                    replays += 1
                    await _publish(bus, esmes[s].site_id, esmes[s].eui("ESME"), frame)
                    continue
                if roll < 0.6:
                    effect = (rng.randrange(24), rng.randrange(60))
                    frame = schedule_set(builder, eui, *effect)
                    sets[site].append((decode(frame).counter, effect))
                else:
                    effect = None
                    frame = schedule_read(builder, eui)
                counter = decode(frame).counter
                sent[counter] = (site, frame, effect)
                await _publish(bus, esmes[site].site_id, eui, frame)
                if not in_flight:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(answers[counter].wait(), 30)
            assert kills == KILLS
            await asyncio.sleep(1.0)  # late answers and re-published outbox frames
            # every acknowledged effect is kept: read each site's schedule back
            for site in range(SITES):
                eui = esmes[site].eui("ESME")
                frame = schedule_read(builder, eui)
                counter = decode(frame).counter
                await _publish(bus, esmes[site].site_id, eui, frame)
                await asyncio.wait_for(answers[counter].wait(), 30)
                (rsp,) = [decode(f) for f in frames[(Channel.OUT, eui.hex().upper(), counter)]]
                start = rsp.payload.data[0].value[0].value[4].value
                history = sets[site]
                acked_at = [k for k, (c, _) in enumerate(history) if answers[c].is_set()]
                assert acked_at, "no acknowledged change on this site"
                allowed = {e for _, e in history[acked_at[-1] :]}
                assert (start[0], start[1]) in allowed
            # no replay was ever accepted: a replayed command's counter has one answer
            # frame at most, and every replay got the replay alert
            for (channel, _, counter), seen in frames.items():
                if channel is Channel.OUT and counter in sent:
                    assert len(seen) == 1, f"command {counter} answered twice: {seen}"
            assert replays > 40 and replay_alerts >= replays
            # no device counter issued twice (a re-published frame is the same bytes)
            doubles = {k: v for k, v in frames.items() if len(v) > 1}
            assert not doubles
            assert orphans_checked == 2 * KILLS
            acked_n = sum(answers[c].is_set() for c in sent)
            print(
                f"\n{COMMANDS} commands ({len(sent)} new, {replays} replays), {acked_n} answered;"
                f" {kills} kills, {refused} restarts refused while old workers held the lock,"
                f" {replay_alerts} replay alerts"
            )
        finally:
            pumper.cancel()
            await bus.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        assert not [pid for pid in workers if _alive(pid)]


async def _publish(bus: MqttBus, site: str, eui: bytes, frame: bytes) -> None:
    while True:
        try:
            await bus.publish(BusMessage(site, eui.hex().upper(), Channel.IN, frame))
            return
        except BusError:
            await asyncio.sleep(0.1)
