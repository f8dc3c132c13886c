"""The runtime in-process: durability, outbox, scheduler scenarios on a virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from devices.outbound import OutboundKind
from devices.site import Site
from emulator.headend.commands import CommandBuilder
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import FleetConfig, load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.codec import GbcsMessage, decode
from gbcs.dlms import AccessRequest, ActionSpec, GetSpec, Obis, invoke_id_for_counter
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.security import Verdict, check_mac, check_signature
from gbcs.zcl import ReadAttributes
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
CONTROL = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)
SUPPLY = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)


class Rig:
    """An emulator on an in-process hub, and a head-end bus with a command builder."""

    def __init__(self, state: Path, config: FleetConfig | None = None) -> None:
        self.state = state
        self.config = config or load_config(None)
        self.pki = ensure_pki(state)
        self.hub = InProcessHub()
        self.clock = VirtualClock(T0)
        self.keys = KeyStore(self.pki)
        add_device_public_keys(self.keys, self.config, range(min(self.config.sites, 4)), state)
        self.builder = CommandBuilder(self.keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
        self.stop = asyncio.Event()
        self.emulator: Emulator | None = None
        self.task: asyncio.Task[None] | None = None
        self.headend = InProcessBus(self.hub)
        self.inbox: asyncio.Queue[BusMessage] = asyncio.Queue()

    async def start(self) -> None:
        self.stop = asyncio.Event()
        self.emulator = Emulator(
            self.config, InProcessBus(self.hub), self.clock, KeyStore(self.pki), self.state
        )
        self.task = asyncio.create_task(self.emulator.run(self.stop))
        await asyncio.wait_for(self.emulator.ready.wait(), 10)
        if not self.headend.started:
            await self.headend.start()
            await self.headend.subscribe("gbcs/+/+/out")
            await self.headend.subscribe("gbcs/+/+/alert")
            self._pump_task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for m in self.headend.messages():
            await self.inbox.put(m)

    async def restart(self) -> None:
        await self.shutdown()
        await self.start()

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)

    def dlms(
        self,
        kind: str,
        code: int,
        specs: tuple[Any, ...],
        data: tuple[Data, ...] | None = None,
        counter: int | None = None,
    ) -> bytes:
        c = counter if counter is not None else self.builder.next_counter(SUPPLIER)
        data = data or tuple(Data.null() for _ in specs)
        req = AccessRequest(invoke_id_for_counter(c), specs, data)
        return self.builder.command(SUPPLIER, self.config.site.eui(kind), code, req, counter=c)

    async def send(self, kind: str, frame: bytes) -> None:
        eui = self.config.site.eui(kind).hex().upper()
        await self.headend.publish(BusMessage(self.config.site.site_id, eui, Channel.IN, frame))

    async def next(self, timeout: float = 10) -> tuple[BusMessage, GbcsMessage]:
        m = await asyncio.wait_for(self.inbox.get(), timeout)
        return m, decode(m.frame)


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    await r.start()
    yield r
    await r.shutdown()


@pytest.mark.asyncio
async def test_command_response_verified_and_counted(rig: Rig) -> None:
    await rig.send("ESME", rig.dlms("ESME", 0x0052, (CONTROL,)))
    m, rsp = await rig.next()
    assert m.channel is Channel.OUT and m.eui == "00DB1234567890A0"
    assert check_mac(rsp, rig.keys).verdict is Verdict.VALID
    assert rsp.payload.data[0].value == 1
    assert rig.emulator is not None
    assert rig.emulator.metrics.counters["commands"] == 1


@pytest.mark.asyncio
async def test_state_and_counters_survive_a_restart(rig: Rig) -> None:
    disconnect = rig.dlms("ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),))
    await rig.send("ESME", disconnect)
    _, rsp = await rig.next()
    assert check_signature(rsp, rig.keys).verdict is Verdict.VALID
    await rig.restart()
    await rig.send("ESME", rig.dlms("ESME", 0x0052, (CONTROL,)))
    _, rsp = await rig.next()
    assert rsp.payload.data[0].value == 0  # the disconnect persisted
    await rig.send("ESME", disconnect)  # the replay is refused after the restart
    m, alert = await rig.next()
    assert m.channel is Channel.ALERT
    assert alert.payload.alert_code == 0x8F53


@pytest.mark.asyncio
async def test_outbox_holds_frames_while_the_transport_is_down(rig: Rig) -> None:
    await rig.send("ESME", rig.dlms("ESME", 0x0052, (CONTROL,)))
    await rig.next()
    rig.hub.up = False
    frame = rig.dlms("ESME", 0x0052, (CONTROL,))
    rig.hub.up = True
    await rig.send("ESME", frame)  # reaches the emulator, whose answer cannot go out
    rig.hub.up = False
    await asyncio.sleep(0.2)
    assert rig.emulator is not None
    rig.hub.up = True
    _, rsp = await rig.next(timeout=15)
    assert rsp.payload.data[0].value == 1


@pytest.mark.asyncio
async def test_gsme_queue_and_wake_on_the_virtual_clock(rig: Rig) -> None:
    comp = GbzComponent.command(0x0702, ReadAttributes((0x0000,)), 0, server_to_client=False)
    frame = rig.builder.command(SUPPLIER, rig.config.site.eui("GSME"), 0x0074, GbzPayload((comp,)))
    await rig.send("GSME", frame)
    await asyncio.sleep(0.2)
    assert rig.inbox.empty()  # asleep: queued at the CHF
    rig.clock.set(T0 + timedelta(minutes=30))  # the scheduler wakes the GSME
    m, rsp = await rig.next()
    assert m.eui == "00DB1234567890A1" and rsp.originator == rig.config.site.eui("GSME")
    assert check_mac(rsp, rig.keys).verdict is Verdict.VALID


@pytest.mark.asyncio
async def test_power_cut_alerts_through_the_scheduler(rig: Rig) -> None:
    assert rig.emulator is not None
    rig.emulator.apply(0, Site.lose_mains)
    rig.clock.set(T0 + timedelta(minutes=4))  # AD1 falls due after 180 s
    m, _ = await asyncio.wait_for(_power_outage(rig), 10)
    assert m.eui == "00DB1234567890A2"


def test_apply_runs_a_site_action_only_on_the_owning_worker(tmp_path: Path) -> None:
    """A site action is persisted with its alerts queued; another worker's site is refused."""
    config = load_config(None)
    keys = KeyStore(ensure_pki(tmp_path))
    emulator = Emulator(
        config, InProcessBus(InProcessHub()), VirtualClock(T0), keys, tmp_path, workers=2
    )
    with pytest.raises(ValueError, match="another worker"):
        emulator.apply(1, Site.lose_mains)
    assert 1 not in emulator.sites  # nothing was hydrated for the refused site
    emulator.apply(0, Site.lose_mains)
    outs = emulator.apply(0, Site.restore_mains, T0 + timedelta(minutes=4))
    alerts = [o for o in outs if o.kind is not OutboundKind.RESPONSE]
    assert len(alerts) == 2  # ECS80 from the ESME, AD1 from the CHF
    assert {e.frame for e in emulator.store.pending()} >= {o.frame for o in alerts}
    site_id = config.site_config(0).site_id
    assert emulator.store.load_site(site_id) is not None  # persisted with the action
    assert emulator.store.load_site(config.site_config(1).site_id) is None
    emulator.store.close()


async def _power_outage(rig: Rig) -> tuple[BusMessage, None]:
    while True:
        m = await rig.inbox.get()
        if m.frame.startswith(b"{"):
            return m, None
