"""The head-end client end to end: typed use cases over an in-process bus to a Site.

The serving loop here is deliberately minimal (the real runtime lives elsewhere): it
subscribes to ``gbcs/<site>/+/in``, feeds each frame to a ``devices.site.Site`` at a
virtual time, fast-forwards the GSME to its next wake-ups when a command waits for it,
and publishes what the Site sends: responses on ``out``, alerts on ``alert``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from devices.behaviours.load import LoadProfile
from devices.chf import Chf
from devices.esme import Esme
from devices.gpf import Gpf
from devices.gsme import Gsme
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from emulator.headend import usecases
from emulator.headend.client import (
    AlertEvent,
    HeadEnd,
    Reply,
    RequestError,
    RequestTimeout,
    ResponseError,
)
from emulator.headend.identity import (
    PARTY_ROLES,
    CounterError,
    CounterStore,
    HeadEndError,
    IdentityError,
    MemoryCounterStore,
    RemoteParty,
    check_parties,
    parse_parties,
    parse_role,
    parties_from_store,
)
from emulator.headend.usecases import UseCaseError
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.dlms import ActionSpec, GetSpec, Obis
from gbcs.envelope import Envelope, decode_envelope, eui_hex
from gbcs.usecases import by_name
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole
from keys.store import KeyStore
from tests.devkit import EUIS, SUPPLIER, T0, Bench, bench, dlms_command

R = RemotePartyRole
SITE = "site-1"
HANG = 20.0  # hang guard only
ESME, GSME, GPF, CHF = EUIS["ESME"], EUIS["GSME"], EUIS["GPF"], EUIS["CHF"]


# --------------------------------------------------------------------- serving loop


@dataclass
class SiteServer:
    """Feeds frames from the bus to a Site at a virtual time and publishes its output."""

    hub: InProcessHub
    site: Site
    name: str = SITE
    now: datetime = T0 + timedelta(hours=1)
    step: timedelta = timedelta(seconds=1)
    #: Applied to every frame the server publishes (tests tamper with responses).
    tamper: Callable[[bytes], bytes] | None = None
    received: list[bytes] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bus = InProcessBus(self.hub)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.start()
        await self.bus.subscribe(f"gbcs/{self.name}/+/in")
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def close(self) -> None:
        await self.bus.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, HANG)

    async def _serve(self) -> None:
        async for m in self.bus.messages():
            try:
                self.received.append(m.frame)
                self.now += self.step
                out = self.site.receive(m.frame, self.now)
                out += self._wake_gsme()
                await self.publish(out)
            except Exception as e:  # keep serving; the test inspects errors
                self.errors.append(e)

    def _wake_gsme(self) -> list[Outbound]:
        """Advance virtual time through GSME wake-ups until its queue is empty."""
        out: list[Outbound] = []
        gsme = self.site.gsme
        for _ in range(8):
            if gsme is None or not self.site.chf.gsme_queues.get(gsme.eui):
                break
            self.now += timedelta(minutes=30)
            out += self.site.advance(self.now)
        return out

    async def publish(self, outs: list[Outbound]) -> None:
        for o in outs:
            channel = {OutboundKind.RESPONSE: Channel.OUT, OutboundKind.ALERT: Channel.ALERT}.get(
                o.kind
            )
            if channel is None:
                continue  # AD1 records, HAN tunnel traffic
            frame = self.tamper(o.frame) if self.tamper else o.frame
            origin = decode_envelope(o.frame).header.originator
            await self.bus.publish(BusMessage(self.name, eui_hex(origin), channel, frame))


def _make_site(b: Bench, **esme_options: Any) -> Site:
    chf = b.device("CHF")
    esme = b.device("ESME", options=dict(esme_options))
    gsme = b.device("GSME", options={"gas_profile": 1000})
    gpf = b.device("GPF")
    assert isinstance(chf, Chf) and isinstance(esme, Esme)
    assert isinstance(gsme, Gsme) and isinstance(gpf, Gpf)
    return Site(chf, esme, gsme, gpf)


@dataclass
class Env:
    bench: Bench
    site: Site
    server: SiteServer
    headend: HeadEnd
    hub: InProcessHub

    @property
    def esme(self) -> Esme:
        assert isinstance(self.site.esme, Esme)
        return self.site.esme

    async def request(self, eui: bytes, use_case: str, **kw: Any) -> Reply:
        return await asyncio.wait_for(self.headend.request(SITE, eui, use_case, **kw), HANG)


def _headend(
    hub: InProcessHub, b: Bench, server: SiteServer, counters: CounterStore | None = None
) -> HeadEnd:
    return HeadEnd(
        InProcessBus(hub),
        b.store,
        parties=dict(DEFAULT_ORGANISATION_EUIS),
        counters=counters or MemoryCounterStore(first=5000),
        clock=lambda: server.now,
    )


@contextlib.asynccontextmanager
async def _env(**esme_options: Any) -> AsyncIterator[Env]:
    b = bench()
    site = _make_site(b, **esme_options)
    hub = InProcessHub()
    server = SiteServer(hub, site)
    await server.start()
    headend = _headend(hub, b, server)
    async with headend:
        yield Env(b, site, server, headend, hub)
    await server.close()
    assert server.errors == []


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    async with _env(load_profile=LoadProfile.constant(1000).to_dict()) as e:
        yield e


# ------------------------------------------------------------- every use case, typed

# Use case -> (target, arguments, check of the reply). Together they must cover the
# whole catalog (test_every_catalog_use_case_is_covered).


def _check_ecs17a(e: Env, r: Reply) -> None:
    assert r.values["ok"] is True
    assert r.values["active_export"] == e.esme.load.export_wh
    assert r.values["active_export_unit"] == "Wh"
    assert r.values["reactive_export_unit"] == "varh"


def _check_ecs17b(e: Env, r: Reply) -> None:
    assert r.values["active_import"] == e.esme.load.import_wh > 0
    assert r.values["active_import_unit"] == "Wh"
    assert r.message.encrypted_parts()  # the registers travelled encrypted


def _check_ecs18a(e: Env, r: Reply) -> None:
    assert r.values["ok"] is True
    assert r.values["export_md"] == 0
    assert r.values["export_md_unit"] == "W"


def _check_ecs18b(e: Env, r: Reply) -> None:
    assert r.values["import_md"] == e.esme.md.import_all.value == 1000  # 500 Wh per ½ h
    assert r.values["import_md_unit"] == "W"
    assert (r.values["window_start"], r.values["window_end"]) == ("16:00", "19:00")
    assert [x["script_selector"] for x in r.values["schedule"]] == [1, 2]


def _check_ok(e: Env, r: Reply) -> None:
    assert r.values["ok"] is True


def _check_ecs37(e: Env, r: Reply) -> None:
    assert r.values == {"ok": True, "window_start": "17:00", "window_end": "22:30"}
    assert tuple(str(t) for t in e.esme.md.window) == ("17:00:00.00", "22:30:00.00")


def _check_ecs57(e: Env, r: Reply) -> None:
    assert r.values["reset"] == ["import", "import_window", "export"]
    assert e.esme.md.import_all.value == 0


def _check_ecs43(e: Env, r: Reply) -> None:
    assert r.verified == "signature"  # critical: device-signed response
    assert r.message.envelope is Envelope.GENERAL_SIGNING
    assert e.esme.control_state == 0


def _check_ecs45(e: Env, r: Reply) -> None:
    assert r.values["supply_state"] == "connected"
    assert r.verified == "mac"


def _check_ecs52(e: Env, r: Reply) -> None:
    assert r.values["firmware_version"] == e.esme.firmware.running_version.hex().upper()


def _check_ecs70(e: Env, r: Reply) -> None:
    assert r.values["set"] is True
    assert r.values["clock"] == e.server.now.isoformat()
    assert e.esme.clock.offset == 0.0


def _check_log(e: Env, r: Reply) -> None:
    assert r.values["ok"] is True
    assert r.values["count"] == len(r.values["entries"])


def _check_gcs13a(e: Env, r: Reply) -> None:
    assert e.site.gpf is not None
    assert r.values["consumption"] == e.site.gpf.model.get_int(0x0702, 0)
    assert r.values["unit"] == "m3"
    assert r.values["consumption_scaled"] == r.values["consumption"] / 1000
    assert r.message.encrypted_parts()


def _check_gcs38(e: Env, r: Reply) -> None:
    assert e.site.gsme is not None
    assert r.values["firmware_version"] == e.site.gsme.model.firmware_version.hex().upper()


def _check_cs06(e: Env, r: Reply) -> None:
    assert r.values == {"ok": True, "response_code": "success", "firmware_version": "02000000"}
    assert r.verified == "signature"


def _check_ccs01(e: Env, r: Reply) -> None:
    assert r.values["added"] is True
    assert bytes.fromhex("00DB1234567890B9") in e.site.chf.device_log


CASES: list[tuple[str, bytes, dict[str, Any], Callable[[Env, Reply], None]]] = [
    ("ECS17a", ESME, {}, _check_ecs17a),
    ("ECS17b", ESME, {}, _check_ecs17b),
    ("ECS18a", ESME, {}, _check_ecs18a),
    ("ECS18b", ESME, {}, _check_ecs18b),
    ("ECS37", ESME, {"start": "17:00", "end": "22:30"}, _check_ecs37),
    ("ECS57", ESME, {}, _check_ecs57),
    ("ECS42", ESME, {}, _check_ok),
    ("ECS43", ESME, {}, _check_ecs43),
    ("ECS44", ESME, {}, _check_ok),
    ("ECS45", ESME, {}, _check_ecs45),
    ("ECS52", ESME, {}, _check_ecs52),
    ("ECS70", ESME, {}, _check_ecs70),
    ("ECS35a", ESME, {"start": "2026-01-01T00:00:00Z"}, _check_log),
    ("ECS35b", ESME, {}, _check_log),
    ("GCS13a", GPF, {}, _check_gcs13a),
    ("GCS38", GSME, {}, _check_gcs38),
    ("CS06", ESME, {}, _check_cs06),
    (
        "CCS01",
        CHF,
        {
            "device": "00DB1234567890B9",
            "device_type": "ihd",
            "install_code": "0123456789ABCDEF0123456789ABCDEF",
        },
        _check_ccs01,
    ),
]


def test_every_catalog_use_case_is_covered() -> None:
    assert {c[0] for c in CASES} == set(usecases.names())
    for name in usecases.names():
        entry = usecases.get(name)
        uc = by_name(name)
        assert uc is not None and entry.message_code == uc.code
        assert entry.critical == bool(uc.critical)


@pytest.mark.asyncio
@pytest.mark.parametrize(("name", "eui", "args", "check"), CASES, ids=[c[0] for c in CASES])
async def test_use_case_end_to_end(
    env: Env, name: str, eui: bytes, args: dict[str, Any], check: Callable[[Env, Reply], None]
) -> None:
    if name == "CS06":
        held = env.esme.firmware.hold_image(b"new image", bytes.fromhex("02000000"))
        args = {"image_hash": held.image_hash}
    if name == "ECS70":
        env.esme.clock.offset = 30.0  # slightly wrong; the window covers the true time
    before = env.headend.counters.last(DEFAULT_ORGANISATION_EUIS[usecases.get(name).default_role])
    reply = await env.request(eui, name, **args)
    assert reply.use_case == name
    assert reply.verified == ("signature" if usecases.get(name).critical else "mac")
    assert reply.message.originator == eui
    assert reply.message.counter == reply.counter
    assert before is None or reply.counter > before
    assert reply.values["ok"] is True
    assert json.loads(json.dumps(reply.values)) == reply.values  # plain values for CLIs
    check(env, reply)


# ----------------------------------------------------------------------- scenarios


@pytest.mark.asyncio
async def test_ecs37_then_ecs18b_shows_the_new_window(env: Env) -> None:
    first = await env.request(ESME, "ECS18b")
    assert (first.values["window_start"], first.values["window_end"]) == ("16:00", "19:00")
    await env.request(ESME, "ECS37", start="17:00", end="22:00")
    after = await env.request(ESME, "ECS18b")
    assert (after.values["window_start"], after.values["window_end"]) == ("17:00", "22:00")
    # read-back: the entries sent are the device's own, only the switch times change
    reply = await env.request(ESME, "ECS37", start="06:15", end="07:45", read_back=True)
    assert reply.values["ok"] is True
    again = await env.request(ESME, "ECS18b")
    assert (again.values["window_start"], again.values["window_end"]) == ("06:15", "07:45")
    # and a schedule given explicitly (ECS18b's values) works the same
    reply = await env.request(
        ESME, "ECS37", start="01:00", end="02:00", current=again.values["schedule"]
    )
    assert reply.values["ok"] is True
    assert tuple(str(t) for t in env.esme.md.window) == ("01:00:00.00", "02:00:00.00")


@pytest.mark.asyncio
async def test_ecs37_with_changed_constants_is_refused_by_the_device(env: Env) -> None:
    current = (await env.request(ESME, "ECS18b")).values["schedule"]
    current[0] = {**current[0], "begin_date": "07E90101FF"}
    reply = await env.request(ESME, "ECS37", start="17:00", end="22:00", current=current)
    assert reply.values["ok"] is False
    assert "scope-of-access-violated" in reply.values["errors"]["schedule"]
    assert tuple(str(t) for t in env.esme.md.window) == ("16:00:00.00", "19:00:00.00")


@pytest.mark.asyncio
async def test_supply_commands_then_ecs45(env: Env) -> None:
    for use_case, state in (("ECS43", "disconnected"), ("ECS44", "armed"), ("ECS42", "connected")):
        reply = await env.request(ESME, use_case)
        assert reply.verified == "signature"
        status = await env.request(ESME, "ECS45")
        assert status.values["supply_state"] == state


@pytest.mark.asyncio
async def test_firmware_activation_then_version_read(env: Env) -> None:
    held = env.esme.firmware.hold_image(b"image 3", bytes.fromhex("03000000"))
    reply = await env.request(ESME, "CS06", image_hash=held.image_hash.hex())
    assert reply.values["firmware_version"] == "03000000"
    assert env.esme.firmware.running_version == bytes.fromhex("03000000")
    env.server.now += timedelta(minutes=5)  # the Comms Hub was off while the ESME rebooted
    wrong = await env.request(ESME, "CS06", image_hash=bytes(32))
    assert wrong.values["ok"] is False
    assert wrong.values["response_code"] == "hash-mismatch"
    assert wrong.values["firmware_version"] == "03000000"


@pytest.mark.asyncio
async def test_ecs52_reports_the_activated_version(env: Env) -> None:
    held = env.esme.firmware.hold_image(b"image 3", bytes.fromhex("03000000"))
    await env.request(ESME, "CS06", image_hash=held.image_hash)
    env.server.now += timedelta(minutes=5)
    assert (await env.request(ESME, "ECS52")).values["firmware_version"] == "03000000"


@pytest.mark.asyncio
async def test_gsme_read_waits_for_the_wake_up_and_gpf_answers_at_once(env: Env) -> None:
    t0 = env.server.now
    gpf = await env.request(GPF, "GCS13a")
    assert env.server.now - t0 < timedelta(minutes=30)
    gsme = await env.request(GSME, "GCS13a")
    assert env.server.now - t0 >= timedelta(minutes=30)
    assert gsme.message.originator == GSME
    assert gsme.values["consumption"] >= gpf.values["consumption"] > 0


@pytest.mark.asyncio
async def test_concurrent_requests_each_get_their_own_reply(env: Env) -> None:
    calls = [
        (ESME, "ECS45", {}),
        (ESME, "ECS17b", {}),
        (GPF, "GCS13a", {}),
        (GSME, "GCS38", {}),
        (CHF, "ECS52", {"target_type": "CHF"}),
        (ESME, "ECS18b", {}),
    ]
    replies = await asyncio.gather(*(env.request(eui, uc, **kw) for eui, uc, kw in calls))
    for (eui, uc, _), reply in zip(calls, replies, strict=True):
        assert (reply.use_case, reply.message.originator) == (uc, eui)
        assert reply.values["ok"] is True
    supplier_counters = [r.counter for r in replies if r.message.recipient == SUPPLIER]
    assert len(set(supplier_counters)) == len(supplier_counters)


@pytest.mark.asyncio
async def test_chf_read_goes_as_the_acb_for_a_chf(env: Env) -> None:
    reply = await env.request(CHF, "ECS52", target_type="CHF")
    assert reply.values["firmware_version"] == env.site.chf.firmware.running_version.hex().upper()
    assert reply.message.recipient == DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER]


@pytest.mark.asyncio
async def test_log_range_read_returns_only_entries_inside(env: Env) -> None:
    t = env.server.now
    env.esme.log_security(0x8F3D, t - timedelta(days=2), "old")
    env.esme.log_security(0x8F3E, t - timedelta(minutes=1), "recent")
    recent = await env.request(ESME, "ECS35b", start=t - timedelta(hours=1), end=t)
    codes = [x["code"] for x in recent.values["entries"]]
    assert 0x8F3E in codes and 0x8F3D not in codes
    everything = await env.request(ESME, "ECS35b")
    assert {0x8F3D, 0x8F3E} <= {x["code"] for x in everything.values["entries"]}


# ---------------------------------------------------------------------- refusals


def _flip_last(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x01])


@pytest.mark.asyncio
async def test_tampered_responses_are_refused(env: Env) -> None:
    env.server.tamper = _flip_last  # the MAC of DD responses, the signature of DF ones
    with pytest.raises(ResponseError, match="mac invalid") as exc:
        await env.request(ESME, "ECS45")
    assert exc.value.verdict == "invalid"
    with pytest.raises(ResponseError, match="signature invalid"):
        await env.request(ESME, "ECS43")
    env.server.tamper = None
    assert (await env.request(ESME, "ECS45")).values["supply_state"] == "disconnected"
    assert env.headend.stats["refused"] == 2


@pytest.mark.asyncio
async def test_response_without_the_device_key_is_refused(env: Env) -> None:
    """A head-end that cannot check the device's signature refuses the answer."""
    store = KeyStore()
    for entry in env.bench.store:
        if (entry.eui, entry.usage.value) != (ESME, "ds"):
            store.add_entry(entry)
    env.headend.store = store
    with pytest.raises(ResponseError, match="signature no key") as exc:
        await env.request(ESME, "ECS43")
    assert exc.value.verdict == "no key"
    assert exc.value.response is not None and exc.value.response.originator == ESME


@pytest.mark.asyncio
async def test_timeout_when_nothing_answers(env: Env) -> None:
    # nobody serves site-2
    with pytest.raises(RequestTimeout, match="no response from 00DB1234567890A0 at site-2"):
        await asyncio.wait_for(env.headend.request("site-2", ESME, "ECS45", timeout=0.2), HANG)
    assert env.headend.stats["timeouts"] == 1
    assert not env.headend._pending
    # a late or unrelated response is ignored and the head-end keeps working
    assert (await env.request(ESME, "ECS45")).values["ok"] is True


@pytest.mark.asyncio
async def test_device_rejection_gives_a_timeout_and_a_verified_alert(env: Env) -> None:
    # The ACB may not disconnect the supply: the ESME refuses and alerts the ACB.
    alerts = env.headend.alerts()
    with pytest.raises(RequestTimeout):
        await env.request(ESME, "ECS43", as_role="acb", timeout=0.3)
    event = await alerts.next(HANG)
    assert event.alert_code == 0x8F30 and event.eui == ESME
    assert event.is_verified


@pytest.mark.asyncio
async def test_garbage_on_the_bus_does_not_stop_the_dispatcher(env: Env) -> None:
    junk = InProcessBus(env.hub)
    await junk.start()
    for frame in (b"", b"\xdd\x00", b"not gbcs at all", bytes(200)):
        await junk.publish(BusMessage(SITE, eui_hex(ESME), Channel.OUT, frame))
        await junk.publish(BusMessage(SITE, eui_hex(ESME), Channel.ALERT, frame))
    await junk.close()
    # a genuine response to a command the head-end did not send is ignored too
    control = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)
    other = dlms_command(env.bench, "ESME", 0x0052, (control,))
    await env.server.publish(env.site.receive(other, env.server.now))
    assert (await env.request(ESME, "ECS45")).values["ok"] is True
    assert env.headend.stats["undecodable"] >= 4
    assert env.headend.stats["unmatched"] == 1


# ------------------------------------------------------------------- bad arguments


@pytest.mark.asyncio
async def test_bad_requests_raise_clear_errors(env: Env) -> None:
    h = env.headend
    with pytest.raises(UseCaseError, match="unknown use case 'ECS999'"):
        await h.request(SITE, ESME, "ECS999")
    with pytest.raises(UseCaseError, match="CS02a needs remote_party_role"):  # a list
        await h.request(SITE, ESME, "CS02a")
    with pytest.raises(UseCaseError, match=r"args: .*items\[0\]\.obis"):  # structural
        await h.request(
            SITE,
            ESME,
            "ECS26c",
            args={"items": [{"operation": "get", "class_id": 1, "obis": "0-0:94", "attribute": 2}]},
        )
    with pytest.raises(UseCaseError, match="ECS01a needs seasons"):  # named arguments
        await h.request(SITE, ESME, "ECS01a")
    with pytest.raises(UseCaseError, match="ECS37 needs start"):
        await h.request(SITE, ESME, "ECS37", end="17:00")
    with pytest.raises(UseCaseError, match="out of range"):
        await h.request(SITE, ESME, "ECS37", start="25:00", end="17:00")
    with pytest.raises(UseCaseError, match="does not take 'colour'"):
        await h.request(SITE, ESME, "ECS45", colour="red")
    with pytest.raises(UseCaseError, match="32 bytes"):
        await h.request(SITE, ESME, "CS06", image_hash="ABCD")
    with pytest.raises(UseCaseError, match="not one of"):
        await h.request(SITE, ESME, "ECS57", registers="import,reactive")
    with pytest.raises(UseCaseError, match="date-time"):
        await h.request(SITE, ESME, "ECS35a", start="yesterday")
    with pytest.raises(IdentityError, match="unknown remote-party role"):
        await h.request(SITE, ESME, "ECS45", as_role="plumber")
    with pytest.raises(RequestError, match="site"):
        await h.request("a/b", ESME, "ECS45")
    with pytest.raises(RequestError, match="EUI"):
        await h.request(SITE, "00DB12", "ECS45")
    with pytest.raises(RequestError, match="positive"):
        await h.request(SITE, ESME, "ECS45", timeout=0)
    assert h.stats["sent"] == 0  # nothing left for a bad request
    assert isinstance(UseCaseError("x"), HeadEndError)


@pytest.mark.asyncio
async def test_missing_party_or_keys_is_an_identity_error(env: Env) -> None:
    hub = InProcessHub()
    only_supplier = HeadEnd(
        InProcessBus(hub),
        env.bench.store,
        parties={"supplier": SUPPLIER, "acb": DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER]},
        counters=MemoryCounterStore(),
    )
    async with only_supplier:
        with pytest.raises(IdentityError, match="no EUI configured for the network-operator"):
            await only_supplier.request(SITE, ESME, "ECS37", start="17:00", end="22:00")
    public_only = KeyStore()
    for entry in env.bench.store:
        public_only.add(entry.eui, entry.usage, public_key=entry.public_key)
    h = HeadEnd(
        InProcessBus(hub),
        public_only,
        parties=DEFAULT_ORGANISATION_EUIS,
        counters=MemoryCounterStore(),
    )
    async with h:
        with pytest.raises(IdentityError, match="DS private key of supplier"):
            await h.request(SITE, ESME, "ECS43")
    with pytest.raises(RequestError, match="not running"):
        await h.request(SITE, ESME, "ECS45")


# ------------------------------------------------------------------------ raw frames


@pytest.mark.asyncio
async def test_send_raw_publishes_a_prebuilt_frame(env: Env) -> None:
    supply = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)
    frame = dlms_command(env.bench, "ESME", 0x0050, (supply,), (Data.long_unsigned(52),))
    await env.headend.send_raw(SITE, eui_hex(ESME), frame)
    for _ in range(200):
        if env.esme.control_state == 0:
            break
        await asyncio.sleep(0.01)
    assert env.esme.control_state == 0
    with pytest.raises(RequestError, match="non-empty"):
        await env.headend.send_raw(SITE, ESME, b"")


# --------------------------------------------------------------------------- alerts


@pytest.mark.asyncio
async def test_mains_restore_streams_a_verified_ecs80(env: Env) -> None:
    alerts = env.headend.alerts()
    t = env.server.now
    await env.server.publish(env.site.lose_mains(t))
    await env.server.publish(env.site.restore_mains(t + timedelta(minutes=5)))
    event: AlertEvent = await alerts.next(HANG)
    assert (event.site, event.eui) == (SITE, ESME)
    assert (event.message_code, event.alert_code) == (0x0067, 0x8F36)
    assert event.verified == "signature"
    assert event.message.recipient == DEFAULT_ORGANISATION_EUIS[R.NETWORK_OPERATOR]
    alerts.close()
    with pytest.raises(StopAsyncIteration):
        await alerts.next(HANG)


@pytest.mark.asyncio
async def test_mac_alert_verified_and_tampered_alerts_filtered(env: Env) -> None:
    verified = env.headend.alerts()
    everything = env.headend.alerts(include_unverified=True)
    reply = await env.request(
        CHF, "CCS01", device="00DB1234567890B8", device_type=6, install_code="00" * 16
    )
    assert reply.values["added"] is True
    cs14 = await verified.next(HANG)  # CS14 to the ACB, MAC'd with the CHF's KA key
    assert (cs14.message_code, cs14.alert_code, cs14.verified) == (0x0018, 0x8F12, "mac")
    assert (await everything.next(HANG)).verified == "mac"
    env.server.tamper = _flip_last
    env.server.now += timedelta(minutes=1)
    await env.server.publish(env.site.restore_mains(env.server.now))  # nothing: not lost
    await env.server.publish(env.site.lose_mains(env.server.now))
    await env.server.publish(env.site.restore_mains(env.server.now + timedelta(minutes=1)))
    bad = await everything.next(HANG)
    assert bad.message_code == 0x0067 and not bad.is_verified
    assert bad.verified.startswith("signature invalid")
    with pytest.raises(TimeoutError):
        await verified.next(0.2)  # the tampered alert never reaches the verified stream
    assert env.headend.stats["alerts_unverified"] == 1


@pytest.mark.asyncio
async def test_alert_streams_end_when_the_headend_closes() -> None:
    async with _env() as e:
        stream = e.headend.alerts()
    with pytest.raises(StopAsyncIteration):
        await stream.next(HANG)


# ------------------------------------------------------------------------- counters


def test_counter_store_persists_and_never_regresses(tmp_path: Path) -> None:
    path = tmp_path / "counters.sqlite"
    with CounterStore(path, first=1000) as store:
        values = [store.next(SUPPLIER) for _ in range(3)]
        other = store.next("90B3D51F30FE0003")
    assert values == [1000, 1001, 1002] and other == 1000
    with CounterStore(path, first=1000) as store:
        assert store.last(SUPPLIER) == 1002
        assert store.next(SUPPLIER) == 1003
    with CounterStore(path, first=10) as store:  # a lower first value never goes back
        assert store.next(SUPPLIER) == 1004
    with CounterStore(path, first=50_000) as store:  # a higher one moves past the gap
        assert store.next(SUPPLIER) == 50_000
        store.ensure_above(SUPPLIER, 60_000)
        assert store.next(SUPPLIER) == 60_001
        assert store.next(SUPPLIER) == 60_002
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_counter_blocks_skip_ahead_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with CounterStore(path, block=100) as store:
        assert [store.next(SUPPLIER) for _ in range(5)] == [1, 2, 3, 4, 5]
        assert store.last(SUPPLIER) == 100  # reserved, committed before use
    with CounterStore(path, block=100) as store:
        assert store.next(SUPPLIER) == 101


def test_counter_store_bad_input() -> None:
    with pytest.raises(CounterError):
        CounterStore(":memory:", first=-1)
    with pytest.raises(CounterError):
        MemoryCounterStore(block=0)
    store = MemoryCounterStore()
    with pytest.raises(IdentityError):
        store.next("xyz")
    store.close()
    with pytest.raises(CounterError, match="closed"):
        store.next(SUPPLIER)
    with pytest.raises(CounterError):
        CounterStore(Path("/nonexistent-dir/x/c.sqlite"))


@pytest.mark.asyncio
async def test_counters_survive_a_head_end_restart(tmp_path: Path) -> None:
    path = tmp_path / "headend.sqlite"
    b = bench()
    site = _make_site(b)
    hub = InProcessHub()
    server = SiteServer(hub, site)
    await server.start()
    try:
        counters = CounterStore(path, first=7000)
        async with _headend(hub, b, server, counters) as h:
            first = await asyncio.wait_for(h.request(SITE, ESME, "ECS43"), HANG)
            second = await asyncio.wait_for(h.request(SITE, ESME, "ECS45"), HANG)
        counters.close()
        assert first.counter == 7000 and second.counter == 7001
        # A new process: the device accepts the next command (no replay) because the
        # counter carries on from the file, even with the same configured first value.
        counters = CounterStore(path, first=7000)
        async with _headend(hub, b, server, counters) as h:
            third = await asyncio.wait_for(h.request(SITE, ESME, "ECS42"), HANG)
        counters.close()
        assert third.counter > second.counter
        assert site.esme is not None and site.esme.control_state == 1
        # With a fresh store the same counters are replays and the ESME refuses them.
        async with _headend(hub, b, server, MemoryCounterStore(first=7000)) as h:
            with pytest.raises(RequestTimeout):
                await h.request(SITE, ESME, "ECS43", timeout=0.3)
        assert site.esme.control_state == 1
        assert site.esme.last_rejection is not None
        assert site.esme.last_rejection.check.value == "replay"
    finally:
        await server.close()


# ------------------------------------------------------------------------ identities


def test_roles_and_parties() -> None:
    assert parse_role("supplier") is R.SUPPLIER
    assert parse_role("network-operator") is R.NETWORK_OPERATOR
    assert parse_role("acb") is R.ACCESS_CONTROL_BROKER
    assert parse_role("transitional-cos") is R.TRANSITIONAL_COS
    assert parse_role("wan-provider") is R.WAN_PROVIDER
    assert parse_role("recovery") is R.RECOVERY
    assert parse_role("Load Controller") is R.LOAD_CONTROLLER
    with pytest.raises(IdentityError, match="not a role a head-end sends"):
        parse_role("root")
    with pytest.raises(IdentityError):
        parse_role("dentist")
    assert parse_parties({"supplier": "90b3d51f30fe0002"}) == {R.SUPPLIER: SUPPLIER}
    with pytest.raises(IdentityError, match="not hex"):
        parse_parties({"supplier": "zz"})
    p = RemoteParty.parse("sup", SUPPLIER.hex())
    assert str(p) == "supplier 90B3D51F30FE0002"
    b = bench()
    assert p.missing_keys(b.store) == []
    assert parties_from_store(b.store) == {r: DEFAULT_ORGANISATION_EUIS[r] for r in PARTY_ROLES}
    assert check_parties(b.store, parties_from_store(b.store)) == []
    assert "access-control-broker" in check_parties(b.store, {R.SUPPLIER: SUPPLIER})[0]
    assert RemoteParty(R.SUPPLIER, ESME).missing_keys(b.store) == [
        "the KA private key of supplier 00DB1234567890A0",
        "the DS private key of supplier 00DB1234567890A0",
    ]


def test_catalog_describes_itself() -> None:
    e = usecases.get("ecs17b")
    assert e.describe() == "ECS17b Read ESME Energy Registers (Import Energy) [ESME; supplier]"
    assert usecases.get("ECS52").role_for("chf") is R.ACCESS_CONTROL_BROKER
    assert usecases.get("ECS52").role_for(None) is R.SUPPLIER
    with pytest.raises(UseCaseError, match="unknown device type"):
        usecases.get("ECS52").role_for("toaster")
    assert usecases.get("CCS01").default_role is R.ACCESS_CONTROL_BROKER
    assert usecases.get("ECS37").default_role is R.NETWORK_OPERATOR
    assert (
        usecases.get("ECS37").parse_args({"start": "17:00", "end": "22:00:30"})["end"].second == 30
    )
