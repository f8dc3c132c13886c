"""The control API on the wire: topics, the emulator's handling (off by default, bad
payloads, unknown devices, durable before the reply), the Python client, over the
in-process bus, TCP and a real MQTT broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from emulator.control_client import ControlClient, ControlFailed, ControlTimeout
from emulator.headend.commands import CommandBuilder
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.runtime.statetools import device_states
from emulator.transport.base import Bus, BusMessage, Channel, topic_matches
from emulator.transport.broker import ChildBroker
from emulator.transport.inprocess import InProcessBus, InProcessHub
from emulator.transport.mqtt import MqttBus
from emulator.transport.tcp import TcpClientBus, TcpServerBus
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import AccessRequest, GetSpec, Obis, invoke_id_for_counter
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GUARD = 30.0  # hang guard only
SITE = "site-0"
ESME = "00DB1234567890A0"
SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
SUPPLY_STATE = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)

# ---------------------------------------------------------------------- topics


@pytest.mark.parametrize(
    ("topic", "channel"),
    [
        (f"gbcs/{SITE}/{ESME}/control", Channel.CONTROL),
        (f"gbcs/{SITE}/{ESME.lower()}/control/reply", Channel.CONTROL_REPLY),
        (f"gbcs/{SITE}/{ESME}/in", Channel.IN),
        (f"gbcs/{SITE}/{ESME}/alert", Channel.ALERT),
    ],
)
def test_control_topics_parse_and_round_trip(topic: str, channel: Channel) -> None:
    m = BusMessage.from_topic(topic, b"{}")
    assert (m.site, m.eui, m.channel) == (SITE, ESME, channel)
    assert m.topic == topic.replace(ESME.lower(), ESME)


@pytest.mark.parametrize(
    "topic",
    [
        f"gbcs/{SITE}/{ESME}/control/reply/x",  # six levels
        f"gbcs/{SITE}/{ESME}/in/reply",  # five levels, but not control/reply
        f"gbcs/{SITE}/{ESME}/control/replies",
        f"gbcs/{SITE}/{ESME}/control/",
        f"gbcs/{SITE}/{ESME}/reply",  # the reply's last level alone is no channel
        f"gbcs/{SITE}/{ESME}",
        f"other/{SITE}/{ESME}/control/reply",
        f"gbcs/{SITE}/00DB12345678/control/reply",
    ],
)
def test_topics_outside_the_scheme_are_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        BusMessage.from_topic(topic, b"{}")


def test_the_request_filter_does_not_match_replies() -> None:
    """The emulator subscribes gbcs/+/+/control: its own replies never come back to it."""
    assert topic_matches("gbcs/+/+/control", f"gbcs/{SITE}/{ESME}/control")
    assert not topic_matches("gbcs/+/+/control", f"gbcs/{SITE}/{ESME}/control/reply")
    assert topic_matches("gbcs/+/+/control/reply", f"gbcs/{SITE}/{ESME}/control/reply")


# ------------------------------------------------------------------ in-process


class Rig:
    """An emulator on an in-process hub; a listener on out, alert and control/reply."""

    def __init__(self, state: Path, *, control: bool) -> None:
        self.state = state
        self.config = load_config(None)
        self.pki = ensure_pki(state)
        self.hub = InProcessHub()
        self.clock = VirtualClock(T0)
        self.keys = KeyStore(self.pki)
        add_device_public_keys(self.keys, self.config, range(1), state)
        self.builder = CommandBuilder(self.keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
        self.emulator = Emulator(
            self.config, self.bus(), self.clock, KeyStore(self.pki), state, control=control
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.listener = InProcessBus(self.hub)
        self.inbox: asyncio.Queue[BusMessage] = asyncio.Queue()

    def bus(self) -> InProcessBus:
        return InProcessBus(self.hub)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.emulator.run(self.stop))
        await asyncio.wait_for(self.emulator.ready.wait(), GUARD)
        await self.listener.start()
        for channel in ("out", "alert", "control/reply"):
            await self.listener.subscribe(f"gbcs/+/+/{channel}")
        self._pump = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for m in self.listener.messages():
            await self.inbox.put(m)

    async def shutdown(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, GUARD)
        await self.listener.close()

    async def publish(self, channel: Channel, payload: bytes, *, eui: str = ESME,
                      site: str = SITE) -> None:  # fmt: skip
        await self.listener.publish(BusMessage(site, eui, channel, payload))

    async def control(self, request: Any, *, eui: str = ESME, site: str = SITE) -> None:
        await self.publish(Channel.CONTROL, json.dumps(request).encode(), eui=eui, site=site)

    async def read_supply_state(self) -> None:
        """A GBCS read of the ESME: its response marks that earlier messages were handled."""
        c = self.builder.next_counter(SUPPLIER)
        req = AccessRequest(invoke_id_for_counter(c), (SUPPLY_STATE,), (Data.null(),))
        frame = self.builder.command(SUPPLIER, bytes.fromhex(ESME), 0x0052, req, counter=c)
        await self.publish(Channel.IN, frame)

    async def next(self) -> BusMessage:
        return await asyncio.wait_for(self.inbox.get(), GUARD)

    async def reply(self) -> dict[str, Any]:
        m = await self.next()
        assert m.channel is Channel.CONTROL_REPLY, m
        got = json.loads(m.frame)
        assert isinstance(got, dict)
        return got


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path, control=True)
    await r.start()
    yield r
    await r.shutdown()


@pytest.mark.asyncio
async def test_control_is_off_by_default_and_requests_are_only_counted(tmp_path: Path) -> None:
    r = Rig(tmp_path, control=False)
    assert r.emulator.control is False
    await r.start()
    try:
        await r.control({"id": 1, "op": "get_cosem"})
        await r.control({"id": 2, "op": "factory_reset"}, eui="00DB000000000001")
        await r.read_supply_state()  # handled after both control requests
        m = await r.next()
        assert m.channel is Channel.OUT  # no reply came before the response
        assert r.inbox.empty()
        counters = r.emulator.metrics.counters
        assert counters["rejected.control_disabled"] == 2
        assert not any(k.startswith("control.") for k in counters)
        assert r.emulator.store.outbox_size() == 0
    finally:
        await r.shutdown()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("payload", "wording"),
    [
        (b"\xff\xfe{", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "JSON array, not an object"),
        (b'"get_cosem"', "JSON string, not an object"),
        (b"null", "JSON null, not an object"),
        (b"42", "JSON number, not an object"),
    ],
)
async def test_a_malformed_payload_gets_an_error_reply_and_serving_goes_on(
    rig: Rig, payload: bytes, wording: str
) -> None:
    await rig.publish(Channel.CONTROL, payload)
    reply = await rig.reply()
    assert reply["id"] is None and reply["ok"] is False
    assert reply["error"]["code"] == "bad_request"
    assert wording in reply["error"]["message"]
    await rig.read_supply_state()  # the emulator still serves
    m = await rig.next()
    assert m.channel is Channel.OUT
    assert decode(m.frame).payload.data[0].value == 1


@pytest.mark.asyncio
async def test_an_unknown_device_or_a_wrong_site_gets_an_error_reply_with_the_id(
    rig: Rig,
) -> None:
    await rig.control({"id": "a-1", "op": "get_cosem"}, eui="00DB000000000001")
    reply = await rig.reply()
    assert reply == {
        "id": "a-1",
        "ok": False,
        "error": {
            "code": "unknown_device",
            "message": "no device 00DB000000000001 in this emulator's fleet",
        },
    }
    await rig.control({"id": 7, "op": "get_cosem"}, site="site-9")
    m = await rig.next()
    assert m.topic == f"gbcs/site-9/{ESME}/control/reply"  # answered where it was asked
    reply = json.loads(m.frame)
    assert reply["id"] == 7 and reply["error"]["code"] == "wrong_site"
    assert "'site-0', not 'site-9'" in reply["error"]["message"]
    assert rig.emulator.metrics.counters["control.rejected"] == 2


# ------------------------------------------------------------------ the client


@pytest.mark.asyncio
async def test_client_raises_control_failed_with_the_emulators_error(rig: Rig) -> None:
    async with ControlClient(rig.bus()) as client:
        with pytest.raises(ControlFailed, match="unknown_device") as info:
            await client.control("site-0", "00DB000000000001", "get_cosem")
        assert info.value.code == "unknown_device"
        assert info.value.reply["ok"] is False
        assert isinstance(info.value.reply["id"], str)  # the client's id, echoed


@pytest.mark.asyncio
async def test_client_times_out_when_nobody_serves_control(tmp_path: Path) -> None:
    r = Rig(tmp_path, control=False)
    await r.start()
    try:
        async with ControlClient(r.bus(), timeout=0.05) as client:
            with pytest.raises(ControlTimeout, match="--control"):
                await client.control(SITE, ESME, "get_cosem")
    finally:
        await r.shutdown()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "wording"),
    [
        ({"site": SITE, "eui": "00DB", "op": "x"}, "not an EUI-64"),
        ({"site": "a/b", "eui": ESME, "op": "x"}, "site 'a/b'"),
        ({"site": "+", "eui": ESME, "op": "x"}, r"site '\+'"),
        ({"site": SITE, "eui": ESME, "op": "x", "value": object()}, "not JSON-serialisable"),
        ({"site": SITE, "eui": ESME, "op": "x", "id": 3}, "set by the client"),
    ],
)
async def test_client_refuses_what_it_cannot_send(call: dict[str, Any], wording: str) -> None:
    hub = InProcessHub()
    async with ControlClient(InProcessBus(hub)) as client:
        with pytest.raises(ValueError, match=wording):
            await client.control(**call)


def test_client_ignores_replies_it_is_not_waiting_for() -> None:
    client = ControlClient(InProcessBus(InProcessHub()))
    reply = BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b'{"id": "x", "ok": true}')
    assert client.feed(reply) is False
    assert client.feed(BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b"\xff")) is False
    assert client.feed(BusMessage(SITE, ESME, Channel.OUT, b"{}")) is False


# ------------------------------------------------------------------ TCP and MQTT


async def _unknown_device_over(server: Bus, client_bus: Bus, tmp_path: Path) -> None:
    """A control round trip through ``server`` (the emulator's bus) and ``client_bus``."""
    config = load_config(None)
    emulator = Emulator(
        config, server, VirtualClock(T0), KeyStore(ensure_pki(tmp_path)), tmp_path, control=True
    )
    stop = asyncio.Event()
    task = asyncio.create_task(emulator.run(stop))
    try:
        await asyncio.wait_for(emulator.ready.wait(), GUARD)
        async with ControlClient(client_bus, timeout=GUARD) as client:
            with pytest.raises(ControlFailed) as info:
                await client.control(SITE, "00DB000000000001", "get_cosem")
            assert info.value.code == "unknown_device"
            reply = await client.request(
                SITE, ESME, {"id": "raw", "op": "get_cosem"}, timeout=GUARD
            )
            assert reply["id"] == "raw"  # whatever the operation answered, it echoes the id
    finally:
        stop.set()
        await asyncio.wait_for(task, GUARD)


@pytest.mark.asyncio
async def test_control_over_tcp(tmp_path: Path) -> None:
    server = TcpServerBus("127.0.0.1", 0)
    await server.start()
    await _unknown_device_over(server, TcpClientBus("127.0.0.1", server.port), tmp_path)


@pytest.mark.asyncio
async def test_control_over_a_real_broker(broker: ChildBroker, tmp_path: Path) -> None:
    await _unknown_device_over(MqttBus(broker.url), MqttBus(broker.url), tmp_path)


@pytest.mark.asyncio
async def test_a_malformed_payload_over_a_real_broker(broker: ChildBroker, tmp_path: Path) -> None:
    """Raw bytes from any MQTT client: the error reply comes back on control/reply."""
    config = load_config(None)
    emulator = Emulator(
        config,
        MqttBus(broker.url),
        VirtualClock(T0),
        KeyStore(ensure_pki(tmp_path)),
        tmp_path,
        control=True,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(emulator.run(stop))
    try:
        await asyncio.wait_for(emulator.ready.wait(), GUARD)
        async with MqttBus(broker.url) as bus:
            await bus.subscribe(f"gbcs/{SITE}/{ESME}/control/reply")
            await bus.publish(BusMessage(SITE, ESME, Channel.CONTROL, b"{oops"))
            m = await asyncio.wait_for(anext(aiter(bus.messages())), GUARD)
        assert m.channel is Channel.CONTROL_REPLY
        assert json.loads(m.frame)["error"]["code"] == "bad_request"
    finally:
        stop.set()
        await asyncio.wait_for(task, GUARD)


def _device_rows(state: Path) -> dict[str, str]:
    """The devices' stored state (snapshots and deltas), read by another connection (what
    a restart would see), as JSON text."""
    return {kind: json.dumps(s) for _, kind, s in device_states(state / "state-0.db")}


# ------------------------------------------------------------ with the control core

MPAN_OBIS = {"class_id": 1, "obis": "0-0:94.44.34.11", "attribute": 2}
MPAN = {"type": "octet-string", "value": b"1234567890123".hex().upper()}


class RecordingBus(InProcessBus):
    """Reads the stored device rows at the moment each control reply is published."""

    def __init__(self, hub: InProcessHub, state: Path) -> None:
        super().__init__(hub)
        self.state = state
        self.at_reply: list[dict[str, str]] = []

    async def publish(self, message: BusMessage) -> None:
        if message.channel is Channel.CONTROL_REPLY:
            self.at_reply.append(_device_rows(self.state))
        await super().publish(message)


@pytest.mark.asyncio
async def test_a_change_is_durable_before_its_reply_is_published(tmp_path: Path) -> None:
    r = Rig(tmp_path, control=True)
    recorder = RecordingBus(r.hub, tmp_path)
    r.emulator.bus = recorder
    await r.start()
    try:
        async with ControlClient(r.bus(), timeout=GUARD) as client:
            before = await client.control(SITE, ESME, "get_cosem", **MPAN_OBIS)
            stored_before = _device_rows(tmp_path).get("ESME")
            result = await client.control(SITE, ESME, "set_cosem", **MPAN_OBIS, value=MPAN)
            after = await client.control(SITE, ESME, "get_cosem", **MPAN_OBIS)
    finally:
        await r.shutdown()
    assert before["value"] != after["value"]
    assert after["value"] == MPAN, result
    # the reply to the set was published only once the new state was on disk
    at_set_reply = recorder.at_reply[1]["ESME"]
    assert at_set_reply != stored_before
    assert at_set_reply == _device_rows(tmp_path)["ESME"]
    assert MPAN["value"].lower() in at_set_reply.lower()


@pytest.mark.asyncio
async def test_a_change_survives_a_restart_and_is_read_back_over_gbcs(tmp_path: Path) -> None:
    r = Rig(tmp_path, control=True)
    await r.start()
    async with ControlClient(r.bus(), timeout=GUARD) as client:
        await client.control(SITE, ESME, "set_cosem", **MPAN_OBIS, value=MPAN)
    await r.shutdown()
    again = Rig(tmp_path, control=True)
    await again.start()
    try:
        async with ControlClient(again.bus(), timeout=GUARD) as client:
            got = await client.control(SITE, ESME, "get_cosem", **MPAN_OBIS)
        assert got["value"] == MPAN
        c = again.builder.next_counter(SUPPLIER)
        spec = GetSpec(1, Obis.parse("0-0:94.44.34.11"), 2)
        req = AccessRequest(invoke_id_for_counter(c), (spec,), (Data.null(),))
        frame = again.builder.command(SUPPLIER, bytes.fromhex(ESME), 0x004E, req, counter=c)
        await again.publish(Channel.IN, frame)
        m = await again.next()
        while m.channel is Channel.CONTROL_REPLY:  # the get's, seen by the listener too
            m = await again.next()
        assert m.channel is Channel.OUT
        assert decode(m.frame).payload.data[0].value == b"1234567890123"
    finally:
        await again.shutdown()


@pytest.mark.asyncio
async def test_power_off_and_on_publish_the_alerts_before_the_reply(rig: Rig) -> None:
    await rig.control({"id": "off", "op": "power", "state": "off"})
    assert (await rig.reply())["ok"] is True
    rig.clock.set(T0 + timedelta(minutes=4))  # past 180 s: the CHF's AD1 falls due
    await rig.control({"id": "on", "op": "power", "state": "on"})
    got: list[BusMessage] = []
    while not got or got[-1].channel is not Channel.CONTROL_REPLY:
        got.append(await rig.next())
    alerts = [m for m in got if m.channel is Channel.ALERT]
    chf_alerts = [m for m in alerts if m.eui == "00DB1234567890A2"]
    esme_alerts = [m for m in alerts if m.eui == ESME]
    assert chf_alerts and chf_alerts[0].frame.startswith(b"{")  # the AD1 JSON record
    assert esme_alerts and decode(esme_alerts[0].frame).message_code == 0x0067  # ECS80
    reply = json.loads(got[-1].frame)
    assert (reply["id"], reply["ok"], reply["result"]["was"]) == ("on", True, "off")


@pytest.mark.asyncio
async def test_a_refused_operation_raises_with_the_cores_error(rig: Rig) -> None:
    async with ControlClient(rig.bus(), timeout=GUARD) as client:
        with pytest.raises(ControlFailed) as info:
            await client.control(SITE, ESME, "no_such_op")
        assert info.value.code == "unknown_op"
        with pytest.raises(ControlFailed) as info:
            await client.control(SITE, ESME, "get_zcl", cluster="metering", attribute=0)
        assert info.value.code == "wrong_device"
    assert rig.emulator.metrics.counters["control.rejected"] == 2


# ------------------------------------------------------------------ the CLI switch


def test_run_check_says_whether_control_is_on(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from emulator.cli.run_cmd import run_cmd

    state = tmp_path / "state"
    on = CliRunner().invoke(run_cmd, ["--check", "--control", "--state", str(state)])
    off = CliRunner().invoke(run_cmd, ["--check", "--state", str(state)])
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    assert on.output.rstrip().endswith("; control API on")
    assert "control" not in off.output


def test_the_worker_options_carry_the_switch() -> None:
    from emulator.runtime.worker import WorkerOptions

    assert WorkerOptions("s").control is False
    assert WorkerOptions.from_json(WorkerOptions("s", control=True).to_json()).control is True


@pytest.mark.asyncio
async def test_a_repeated_control_request_is_answered_again_and_never_executed_twice(
    tmp_path: Path,
) -> None:
    """An at-least-once broker may deliver a request again, even after the emulator
    restarted: a late copy of ``power off`` must not cut the mains that ``power on`` has
    since restored (it gets the first reply again)."""
    from devices.control import _mains_on

    off = {"id": "cut-1", "op": "power", "state": "off"}
    r = Rig(tmp_path, control=True)
    await r.start()
    try:
        await r.control(off)
        first = await _reply_past_alerts(r)
        assert first["ok"] is True and first["result"]["was"] == "on"
        await r.control({"id": "restore-1", "op": "power", "state": "on"})
        assert (await _reply_past_alerts(r))["result"]["was"] == "off"
        await r.control(off)  # the same request, delivered again
        assert await _reply_past_alerts(r) == first
        assert _mains_on(r.emulator.site(0))
        assert r.emulator.metrics.counters["control.duplicates"] == 1
    finally:
        await r.shutdown()
    again = Rig(tmp_path, control=True)
    await again.start()
    try:
        await again.control(off)  # and again after a restart
        assert await _reply_past_alerts(again) == first
        assert _mains_on(again.emulator.site(0))
        await again.control({**off, "id": "cut-2"})  # a new request with another id runs
        assert (await _reply_past_alerts(again))["result"]["was"] == "on"
        assert not _mains_on(again.emulator.site(0))
    finally:
        await again.shutdown()


async def _reply_past_alerts(r: Rig) -> dict[str, Any]:
    """The next control reply (the alerts a power change sends may come first)."""
    m = await r.next()
    while m.channel is Channel.ALERT:
        m = await r.next()
    assert m.channel is Channel.CONTROL_REPLY, m
    got = json.loads(m.frame)
    assert isinstance(got, dict)
    return got
