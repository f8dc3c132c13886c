"""The control API core (devices.control): every operation's effect, checked through real
GBCS commands built by the head-end catalogue where GBCS can see it, every operation's bad
input (clear error, site unchanged), and the JSON schemas in docs/."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.control import CONTROL_OPS, ControlResult, execute_control
from devices.control_alerts import ALERT_NAMES
from devices.control_values import data_from_json, data_to_json
from devices.cosem import load_profile
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from emulator.headend import usecases
from emulator.headend.usecases import BuildContext
from gbcs.axdr import BitString, CompactArray, Data, DataType, TypeDescription
from gbcs.codec import GbcsMessage, decode
from gbcs.cosem_time import DlmsDate, DlmsDateTime, DlmsTime
from gbcs.security import (
    Verdict,
    check_mac,
    check_signature,
)
from keys.roles import RemotePartyRole
from tests.devkit import ACB, EUIS, NETWORK_OPERATOR, SUPPLIER, T0, Bench, bench
from tests.devkit import send_use_case as send

R = RemotePartyRole
DOCS = Path(__file__).resolve().parent.parent / "docs"
T1 = T0 + timedelta(hours=1)
IMPORT_COLLECTION = {"class_id": 1, "obis": "0-0:94.44.34.10", "attribute": 2}
TAMPER_STATE = {"class_id": 1, "obis": "0-0:94.44.0.4", "attribute": 2}

EXAMPLES: list[tuple[dict[str, Any], dict[str, Any]]] = []
"""(request, reply) pairs the tests produced; the schema test validates those that ran
before it, besides its own examples."""


# --------------------------------------------------------------------------- helpers


def _site(b: Bench) -> Site:
    return Site(
        b.device("CHF"),
        b.device("ESME"),
        b.device("GSME", options={"gas_profile": 1000}),
        b.device("GPF"),
    )


def ctl(site: Site, kind: str, request: dict[str, Any], now: datetime = T1) -> ControlResult:
    """Run a request; keep it as a schema example; the reply must be JSON text."""
    res = execute_control(site, EUIS[kind], request, now)
    assert json.loads(json.dumps(res.reply)) == res.reply
    EXAMPLES.append((request, res.reply))
    return res


def ok(site: Site, kind: str, request: dict[str, Any], now: datetime = T1) -> dict[str, Any]:
    res = ctl(site, kind, request, now)
    assert res.reply["ok"] is True, res.reply
    assert res.reply["id"] == request["id"]
    return res.reply["result"]


def _alerts(outs: list[Outbound]) -> list[GbcsMessage]:
    return [decode(o.frame) for o in outs if o.kind is OutboundKind.ALERT]


def _alert_code(msg: GbcsMessage) -> int:
    p = msg.payload
    code = getattr(p, "alert_code", None)
    if code is None:
        code = p.alert.alert_code  # type: ignore[attr-defined]
    return int(code)


def _verified(b: Bench, msg: GbcsMessage) -> bool:
    if msg.signature_form.name == "PRESENT":
        return check_signature(msg, b.store).verdict is Verdict.VALID
    return check_mac(msg, b.store, ACB).verdict is Verdict.VALID


@pytest.fixture
def b() -> Bench:
    return bench()


@pytest.fixture
def site(b: Bench) -> Site:
    s = _site(b)
    s.advance(T1)
    return s


# --------------------------------------------------------------------------- COSEM


def test_set_import_register_then_ecs17b_reads_it(b: Bench, site: Site) -> None:
    before = ok(site, "ESME", {"id": 1, "op": "get_cosem", **IMPORT_COLLECTION})
    assert before["live"] is True and before["value"]["type"] == "structure"
    res = ctl(site, "ESME", {"id": "r2", "op": "set_cosem", **IMPORT_COLLECTION, "value": 123456})
    assert res.reply["ok"] and res.changed == {"ESME"}
    assert send(b, site, "ESME", "ECS17b", T1)["active_import"] == 123456
    # the register keeps integrating from the new value (500 W for 30 minutes)
    t = T1 + timedelta(minutes=30)
    assert send(b, site, "ESME", "ECS17b", t)["active_import"] == 123456 + 250


def test_set_stored_attribute_reads_back_over_gbcs_and_survives_a_restart(
    b: Bench, site: Site
) -> None:
    assert send(b, site, "ESME", "ECS26m", T1)["supply_tamper_state"] == "unchanged"
    ok(site, "ESME", {"id": 3, "op": "set_cosem", **TAMPER_STATE, "value": True})
    assert send(b, site, "ESME", "ECS26m", T1)["supply_tamper_state"] == "locked"
    # a stored attribute no remote party may write (a register's scaler-unit) persists too
    unit = {"class_id": 3, "obis": "1-0:2.8.0.255", "attribute": 3}
    new = {"type": "structure", "value": [
        {"type": "integer", "value": 3}, {"type": "enum", "value": 30}]}  # fmt: skip
    got = ok(site, "ESME", {"id": 4, "op": "set_cosem", **unit, "value": new})
    assert got["value"] == new and got["live"] is False
    reloaded = _site(bench())
    reloaded.load_state(json.loads(json.dumps(site.to_dict())))
    again = ok(reloaded, "ESME", {"id": 5, "op": "get_cosem", **unit})
    assert again["value"] == new


def test_get_cosem_reads_bound_and_stored_values(site: Site) -> None:
    eui = ok(site, "CHF", {"id": 6, "op": "get_cosem", "class_id": 1,
                          "obis": "0-0:96.1.1.255", "attribute": 2})  # fmt: skip
    assert eui["value"] == {"type": "octet-string", "value": EUIS["CHF"].hex().upper()}
    assert eui["hex"] == "0908" + EUIS["CHF"].hex().upper()
    ln = ok(site, "ESME", {"id": 7, "op": "get_cosem", **{**TAMPER_STATE, "attribute": 1}})
    assert ln["value"]["value"] == "00005E2C0004"


@pytest.mark.parametrize(
    "d",
    [
        Data.null(),
        Data(DataType.DONT_CARE),
        Data.boolean(True),
        Data(DataType.BOOLEAN, 7),
        Data.bit_string(BitString.from_bits("10110")),
        Data.bit_string(BitString(3, b"\xff")),
        Data.double_long(-5),
        Data.long64_unsigned((1 << 64) - 1),
        Data.octet_string(b"\x00\x01"),
        Data.visible_string("abc"),
        Data.utf8_string("é"),
        Data.bcd(0x99),
        Data.enum(3),
        Data.float32(1.0),
        Data.date_time(DlmsDateTime.from_datetime(T0)),
        Data.date(DlmsDate(2026, 1, 2, 5)),
        Data.time(DlmsTime(1, 2, 3, 4)),
        Data.structure(Data.array(Data.unsigned(1), Data.unsigned(2)), Data.null()),
        Data(
            DataType.COMPACT_ARRAY,
            CompactArray.from_elements(
                TypeDescription.simple(DataType.LONG_UNSIGNED),
                [Data.long_unsigned(1), Data.long_unsigned(2)],
            ),
        ),
    ],
)
def test_tagged_form_round_trips_every_axdr_type(d: Data) -> None:
    assert data_from_json(json.loads(json.dumps(data_to_json(d)))) == d


def test_tagged_form_round_trips_every_profile_value() -> None:
    n = 0
    for name in ("esme", "chf"):
        for o in load_profile(name).objects():
            for v in o.attributes.values():
                assert data_from_json(json.loads(json.dumps(data_to_json(v)))) == v
                n += 1
    assert n > 200


# --------------------------------------------------------------------------- ZCL


def test_set_zcl_consumption_reads_back_over_gbcs_via_the_gpf(b: Bench, site: Site) -> None:
    req = {"id": 8, "op": "set_zcl", "cluster": "Metering",
           "attribute": "CurrentSummationDelivered", "value": 7777}  # fmt: skip
    res = ctl(site, "GSME", req)
    assert res.reply["ok"] and res.changed == {"GSME", "GPF"}
    assert send(b, site, "GPF", "GCS13a", T1)["consumption"] == 7777
    got = ok(site, "GPF", {"id": 9, "op": "get_zcl", "cluster": "0x0702", "attribute": 0})
    assert got["value"] == 7777 and got["hex"] == "611E00000000" and got["type"] == "0x25"
    # the gas flow continues from there (1000 l/h) rather than snapping back
    t = T1 + timedelta(minutes=30)
    site.advance(t)
    assert site.gsme is not None and site.gsme.model.get_int(0x0702, 0) == 7777 + 500


def test_set_zcl_takes_hex_and_text_forms(site: Site) -> None:
    got = ok(site, "GSME", {"id": 10, "op": "set_zcl", "cluster": 0x0000,
                            "attribute": "Location Description", "value": "Cellar"})  # fmt: skip
    assert got["value"] == "Cellar" and got["type_name"]
    got = ok(site, "GSME", {"id": 11, "op": "set_zcl", "cluster": "metering",
                            "attribute": "0x0301", "value": {"hex": "0A0000"}})  # fmt: skip
    assert got["value"] == 10


# --------------------------------------------------------------------------- profiles


def test_set_load_profile_changes_what_the_registers_accrue(b: Bench, site: Site) -> None:
    start = send(b, site, "ESME", "ECS17b", T1)["active_import"]
    ok(site, "ESME", {"id": 12, "op": "set_load_profile", "profile": 4000})
    t = T1 + timedelta(hours=1)
    assert send(b, site, "ESME", "ECS17b", t)["active_import"] == start + 4000
    shape = [0] * 47 + [100]
    got = ok(site, "ESME", {"id": 13, "op": "set_load_profile",
                            "profile": {"import": {"w": 0, "shape": shape}}}, t)  # fmt: skip
    assert got["profile"]["import"]["shape"] == shape


def test_set_gas_profile_changes_the_flow(site: Site) -> None:
    assert site.gsme is not None
    before = site.gsme.model.get_int(0x0702, 0)
    ok(site, "GSME", {"id": 14, "op": "set_gas_profile", "profile": 3000})
    site.advance(T1 + timedelta(hours=1))
    assert site.gsme.model.get_int(0x0702, 0) == before + 3000


# --------------------------------------------------------------------------- power


def test_power_off_then_on_gives_ecs80_and_ad1(b: Bench, site: Site) -> None:
    off = ctl(site, "ESME", {"id": 15, "op": "power", "state": "off"})
    assert off.reply["result"] == {"state": "off", "was": "on"} and off.outs == []
    assert off.changed >= {"ESME", "CHF"}
    on = ctl(site, "CHF", {"id": 16, "op": "power", "state": "on"}, T1 + timedelta(minutes=5))
    (ecs80,) = _alerts(on.outs)
    assert ecs80.message_code == 0x0067 and _alert_code(ecs80) == 0x8F36
    assert ecs80.recipient == NETWORK_OPERATOR
    assert check_signature(ecs80, b.store).verdict is Verdict.VALID
    (ad1,) = [json.loads(o.frame) for o in on.outs if o.kind is OutboundKind.POWER_OUTAGE]
    assert ad1["alert"] == "AD1" and ad1["chf"].upper() == EUIS["CHF"].hex().upper()
    _validate(_schema("ad1.schema.json"), ad1)


def test_short_outage_gives_0x8f35_and_no_ad1(site: Site) -> None:
    ok(site, "ESME", {"id": 17, "op": "power", "state": "off"})
    on = ctl(site, "ESME", {"id": 18, "op": "power", "state": "on"}, T1 + timedelta(minutes=1))
    (ecs80,) = _alerts(on.outs)
    assert _alert_code(ecs80) == 0x8F35
    assert not [o for o in on.outs if o.kind is OutboundKind.POWER_OUTAGE]
    again = ok(site, "ESME", {"id": 19, "op": "power", "state": "on"}, T1 + timedelta(minutes=2))
    assert again == {"state": "on", "was": "on"}


# --------------------------------------------------------------------------- tamper


def test_esme_tamper_raises_its_alert_and_locks_the_supply_when_configured(
    b: Bench, site: Site
) -> None:
    res = ctl(site, "ESME", {"id": 20, "op": "tamper", "event": "terminal_cover"})
    (alert,) = _alerts(res.outs)
    assert _alert_code(alert) == 0x8F76 and _verified(b, alert)
    assert res.reply["result"]["supply_locked"] is False
    ok(site, "ESME", {"id": 21, "op": "set_cosem", **TAMPER_STATE, "value": True})
    res = ctl(site, "ESME", {"id": 22, "op": "tamper", "event": "meter_cover"})
    assert [_alert_code(a) for a in _alerts(res.outs)] == [0x8F74, 0x81BE]
    assert all(_verified(b, a) for a in _alerts(res.outs))
    assert ok(site, "ESME", {"id": 23, "op": "get_status"})["supply"] == "disabled"
    security = ok(site, "ESME", {"id": 24, "op": "read_log", "log": "security"})["entries"]
    assert [e["code_hex"] for e in security] == ["0x8F76", "0x8F74"]
    closed = ctl(site, "ESME", {"id": 25, "op": "tamper", "event": "meter_cover",
                                "state": "cleared"})  # fmt: skip
    assert [_alert_code(a) for a in _alerts(closed.outs)] == [0x81B9]


def test_gsme_tamper_alert_travels_through_its_comms_hub(b: Bench, site: Site) -> None:
    res = ctl(site, "GSME", {"id": 26, "op": "tamper", "event": "tilt"})
    (alert,) = _alerts(res.outs)
    assert alert.originator == EUIS["GSME"] and _alert_code(alert) == 0x81C3
    assert _verified(b, alert)
    res = ctl(site, "GSME", {"id": 27, "op": "tamper", "event": "battery_cover"})
    # the GSME profile's Supply Tamper State is 'locked' (0): the valve closes
    assert [_alert_code(a) for a in _alerts(res.outs)] == [0x8F73, 0x81BE]
    assert site.gsme is not None and site.gsme.model.supply_status == 0
    assert site.gpf is not None and site.gpf.model.supply_status == 0


# --------------------------------------------------------------------------- clock


def test_set_clock_and_invalidate_clock(site: Site) -> None:
    clock = {"class_id": 8, "obis": "0-0:1.0.0.255"}
    got = ok(site, "ESME", {"id": 28, "op": "set_clock", "time": "2027-03-04T05:06:07Z"})
    assert got["adjusted_seconds"] > 0
    status = ok(site, "ESME", {"id": 29, "op": "get_status"})
    assert status["clock"] == {"time": "2027-03-04T05:06:07+00:00", "status": "reliable"}
    t = ok(site, "ESME", {"id": 30, "op": "get_cosem", **clock, "attribute": 2})["value"]
    raw = bytes.fromhex(t["value"])
    assert DlmsDateTime.from_bytes(raw).to_datetime() == datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC)
    ok(site, "ESME", {"id": 31, "op": "invalidate_clock"})
    assert ok(site, "ESME", {"id": 32, "op": "get_status"})["clock"]["time"] is None
    st = ok(site, "ESME", {"id": 33, "op": "get_cosem", **clock, "attribute": 4})
    assert st["value"] == {"type": "unsigned", "value": 1}


# --------------------------------------------------------------------------- alerts


@pytest.mark.parametrize(
    ("kind", "code", "critical"),
    [
        ("ESME", "0x8F3F", True),
        ("ESME", 0x81A0, False),
        ("CHF", "8F1E", True),
        ("GSME", "0x8F1F", True),
        ("GPF", "0x81A5", False),
    ],
)
def test_inject_alert_is_protected_like_the_devices_own(
    b: Bench, site: Site, kind: str, code: Any, critical: bool
) -> None:
    res = ctl(site, kind, {"id": "a", "op": "inject_alert", "code": code})
    (alert,) = _alerts(res.outs)
    want = int(code, 16) if isinstance(code, str) else code
    assert _alert_code(alert) == want and alert.originator == EUIS[kind]
    # the Supplier, or the ACB for a Comms Hub (it holds no Supplier anchor)
    assert alert.recipient == (ACB if kind == "CHF" else SUPPLIER)
    assert res.reply["result"]["recipient"] == alert.recipient.hex().upper()
    assert res.reply["result"]["critical"] is critical
    assert res.reply["result"]["name"] == ALERT_NAMES[want]
    if critical:
        assert check_signature(alert, b.store).verdict is Verdict.VALID
    else:
        assert check_mac(alert, b.store, ACB).verdict is Verdict.VALID
    assert res.changed >= {kind}  # its originator counter moved


def test_inject_ecs80_and_recipient_and_detail(b: Bench, site: Site) -> None:
    res = ctl(site, "ESME", {"id": 34, "op": "inject_alert", "code": "0x8F36"})
    (alert,) = _alerts(res.outs)
    assert alert.message_code == 0x0067 and alert.recipient == NETWORK_OPERATOR
    detail = [{"type": "octet-string", "value": "0102"}]
    res = ctl(site, "ESME", {"id": 35, "op": "inject_alert", "code": 0x8F01,
                             "recipient": "network-operator", "detail": detail})  # fmt: skip
    (alert,) = _alerts(res.outs)
    assert alert.recipient == NETWORK_OPERATOR and _verified(b, alert)
    body = alert.payload.body  # type: ignore[attr-defined]
    assert body.value[-1] == Data.octet_string(b"\x01\x02")


# --------------------------------------------------------------------------- firmware


def test_hold_firmware_then_cs06_activates_it(b: Bench, site: Site) -> None:
    assert send(b, site, "ESME", "ECS52", T1)["firmware_version"] == "01000000"
    image = bytes(range(256)).hex()
    held = ok(site, "ESME", {"id": 36, "op": "hold_firmware", "image": image,
                             "version": "02030405"})  # fmt: skip
    send(b, site, "ESME", "CS06", T1, image_hash=held["hash"])
    # the ESME's reboot cuts the Comms Hub's supply for 30 s (MP102): read after it
    t = T1 + timedelta(minutes=1)
    assert send(b, site, "ESME", "ECS52", t)["firmware_version"] == "02030405"
    # by hash alone, on the CHF
    digest = "AB" * 32
    ok(site, "CHF", {"id": 37, "op": "hold_firmware", "hash": digest, "version": "09000000"})
    assert site.chf.firmware.held is not None and site.chf.firmware.held.image_hash.hex() == (
        digest.lower()
    )


# --------------------------------------------------------------------------- logs


def test_read_log_returns_the_devices_entries(site: Site) -> None:
    ok(site, "ESME", {"id": 38, "op": "power", "state": "off"})
    ok(site, "ESME", {"id": 39, "op": "power", "state": "on"}, T1 + timedelta(minutes=4))
    log = ok(site, "ESME", {"id": 40, "op": "read_log", "log": "power"}, T1 + timedelta(minutes=4))
    assert [e["code_hex"] for e in log["entries"]] == ["0x8F57", "0x8F36"]
    assert log["entries"][0]["at"] == T1.isoformat()
    assert log["entries"][0]["name"] == "Supply interrupted"
    chf = ok(site, "CHF", {"id": 41, "op": "read_log", "log": "event"}, T1 + timedelta(minutes=4))
    assert [e["code_hex"] for e in chf["entries"]] == ["0x8F57"]


# --------------------------------------------------------------------------- reset


def test_factory_reset_restores_the_factory_state_and_keeps_credentials(
    b: Bench, site: Site
) -> None:
    esme = site.esme
    assert esme is not None
    fresh_model = esme.to_dict()["cosem"]
    unit = {"class_id": 3, "obis": "1-0:2.8.0.255", "attribute": 3}
    factory_unit = ok(site, "ESME", {"id": 42, "op": "get_cosem", **unit})["value"]
    new = {"type": "structure", "value": [
        {"type": "integer", "value": 1}, {"type": "enum", "value": 31}]}  # fmt: skip
    ok(site, "ESME", {"id": 43, "op": "set_cosem", **unit, "value": new})
    ok(site, "ESME", {"id": 44, "op": "hold_firmware", "hash": "00" * 32, "version": "02000000"})
    send(b, site, "ESME", "CS06", T1, image_hash="00" * 32)  # replay protected: a counter
    assert esme.counters and esme.firmware.running_version.hex() == "02000000"
    ok(site, "ESME", {"id": 45, "op": "set_clock", "time": "2030-01-01T00:00:00Z"})
    own_counter = esme.own_counter
    ok(site, "ESME", {"id": 46, "op": "inject_alert", "code": "0x8F3F"})
    reset = ctl(site, "ESME", {"id": 47, "op": "factory_reset"})
    assert reset.reply["ok"] and "ESME" in reset.changed
    assert esme.counters == {}
    assert esme.own_counter == own_counter + 1  # never goes back
    assert esme.firmware.held is None and esme.event_log.codes() == []
    assert ok(site, "ESME", {"id": 48, "op": "get_cosem", **unit})["value"] == factory_unit
    assert esme.to_dict()["cosem"] == fresh_model
    status = ok(site, "ESME", {"id": 49, "op": "get_status"})
    assert status["clock"]["time"] == T1.isoformat()
    assert status["firmware"] == {"running_version": "01000000", "held": None}
    # credentials kept: the bench still talks to it (after the CS06's 30 s supply cut)
    t = T1 + timedelta(minutes=1)
    assert send(b, site, "ESME", "ECS52", t)["firmware_version"] == "01000000"


def test_factory_reset_keeps_the_mains_state(site: Site) -> None:
    ok(site, "ESME", {"id": 50, "op": "power", "state": "off"})
    ok(site, "ESME", {"id": 51, "op": "factory_reset"})
    assert site.esme is not None and not site.esme.power.powered
    assert ok(site, "ESME", {"id": 52, "op": "get_status"})["mains"] == "off"
    on = ctl(site, "ESME", {"id": 53, "op": "power", "state": "on"}, T1 + timedelta(minutes=10))
    assert [_alert_code(a) for a in _alerts(on.outs)] == [0x8F36]


def test_factory_reset_of_the_gsme_and_chf(site: Site) -> None:
    ok(site, "GSME", {"id": 54, "op": "set_zcl", "cluster": "Metering", "attribute": 0,
                      "value": 99})  # fmt: skip
    ok(site, "GSME", {"id": 55, "op": "factory_reset"})
    assert site.gsme is not None and site.gsme.model.get_int(0x0702, 0) == 0
    assert site.gsme.chf_eui == EUIS["CHF"]
    assert site.gpf is not None and site.gpf.model.get_int(0x0702, 0) == 0
    ok(site, "CHF", {"id": 56, "op": "factory_reset"})
    assert site.chf.device_log == {} and site.chf.power.powered


def test_factory_reset_with_history_has_been_running_under_its_profiles(site: Site) -> None:
    """history_seconds: the fresh device ran that long under its profile, silently."""
    hours = 72
    history = hours * 3600
    esme = ok(site, "ESME", {"id": 60, "op": "factory_reset", "history_seconds": history})
    assert esme["history_seconds"] == history
    status = ok(site, "ESME", {"id": 61, "op": "get_status"})
    assert status["import_wh"] == 500 * hours  # the ESME's factory load profile, 500 W
    assert status["clock"]["time"] == T1.isoformat()  # ran up to now, not beyond
    res = ctl(site, "GSME", {"id": 62, "op": "factory_reset", "history_seconds": history})
    assert res.reply["ok"] and res.outs == []  # its 72 h of wake-ups were never sent
    assert ok(site, "GSME", {"id": 63, "op": "get_status"})["litres"] == 1000 * hours
    assert site.gpf is not None and site.gpf.model.get_int(0x0702, 0) == 1000 * hours
    plain = ok(site, "ESME", {"id": 64, "op": "factory_reset"})  # no history: factory-new
    assert plain["history_seconds"] == 0
    assert ok(site, "ESME", {"id": 65, "op": "get_status"})["import_wh"] == 0


def test_factory_reset_history_fills_the_gsme_daily_snapshots(b: Bench, site: Site) -> None:
    """What a history is for: a read of the last days' snapshots finds them."""
    gsme = site.gsme
    assert gsme is not None
    ok(site, "GSME", {"id": 66, "op": "factory_reset"})
    fresh = gsme.to_dict()
    ok(site, "GSME", {"id": 67, "op": "factory_reset", "history_seconds": 3 * 86400})
    ran = gsme.to_dict()
    # more state than a factory-new GSME: the snapshots and samples of three days
    assert len(json.dumps(ran)) > len(json.dumps(fresh)) + 100
    assert ran["credentials"] == fresh["credentials"]


def test_a_gsme_reset_restarts_the_gpf_daily_count(b: Bench, site: Site) -> None:
    """A GSME reset under a GPF that has counted its gas since midnight: the mirrored
    register drops below the day's first reading. The GPF's next midnight must neither
    fail (it raised on a negative sample) nor log a made-up day: its count starts again
    from the reset register, and the whole days after are logged in full."""

    def hourly(start: datetime, hours: int) -> None:  # as the runtime advances it
        for h in range(1, hours + 1):
            site.advance(start + timedelta(hours=h))

    hourly(T1, 30)  # 1000 l/h since 01:00 on day 1, through a midnight
    reset_at = T1 + timedelta(hours=30)
    ok(site, "GSME", {"id": 80, "op": "factory_reset"}, reset_at)
    assert site.gpf is not None and site.gpf.model.get_int(0x0702, 0) == 0
    hourly(reset_at, 80)  # three more midnights
    end = reset_at + timedelta(hours=80)
    daily = send(b, site, "GPF", "GCS61", end, start_date_time=T0.isoformat(), number_of_samples=10)
    values = daily["samples"]
    assert all(0 <= v <= 24_000 for v in values), values
    # the day of the reset counts from the GPF's first look at the reset register (the
    # advance an hour after it) to midnight: 16 h at 1000 l/h; nothing of the gas before
    assert values.count(1000 * (24 - reset_at.hour - 1)) == 1, values
    # then every whole day in full: 24 h at 1000 l/h
    assert values.count(24_000) >= 2, values


def test_run_on_runs_the_premises_through_time_and_keeps_it_ahead(b: Bench, site: Site) -> None:
    """run_on: every device of the premises goes through the stretch (gas flows, load
    integrates, the clock moves on), then the premises stays that far ahead, persisted."""
    assert site.gsme is not None and site.gpf is not None
    ok(site, "GSME", {"id": 70, "op": "factory_reset"})
    ok(site, "ESME", {"id": 71, "op": "factory_reset"})
    days = 2
    ran = ok(site, "GSME", {"id": 72, "op": "run_on", "seconds": days * 86400})
    assert ran["lead_seconds"] == days * 86400
    assert ran["device_time"] == (T1 + timedelta(days=days)).isoformat()
    later = T1 + timedelta(minutes=10)
    gsme = ok(site, "GSME", {"id": 73, "op": "get_status"}, later)
    # 1000 l/h through the whole stretch, and the 10 minutes since
    assert gsme["litres"] == int(1000 * 24 * days + 1000 / 6)
    assert gsme["clock"]["time"] == (later + timedelta(days=days)).isoformat()
    assert gsme["lead_seconds"] == days * 86400
    esme = ok(site, "ESME", {"id": 74, "op": "get_status"}, later)
    assert esme["clock"]["time"] == gsme["clock"]["time"]  # one premises, one time
    assert esme["import_wh"] == round(500 * (24 * days + 1 / 6))  # and its 10 minutes after
    assert site.gpf.model.get_int(0x0702, 0) >= 1000 * 24 * days  # the mirror caught up
    # the lead is site state: a reloaded premises is still ahead
    again = _site(b)
    again.load_state(json.loads(json.dumps(site.to_dict())))
    assert again.lead == timedelta(days=days)
    assert again.esme is not None and again.esme.device_time(later) is not None
    # a command arriving now is answered at premises time: its response carries it
    values = send(b, site, "ESME", "ECS17a", later)
    assert values


# --------------------------------------------------------------------------- certificates


def _cs02e(b: Bench, site: Site, usage: str, now: datetime) -> bytes:
    """CS02e from the head-end catalogue: the DER the ESME answered (verified)."""
    entry = usecases.get("CS02e")
    counter = b.builder.next_counter(SUPPLIER)
    parsed = entry.parse_args({"credential_type": usage})
    payload = entry.build_parsed(
        parsed, BuildContext(counter, SUPPLIER, EUIS["ESME"], R.SUPPLIER, now)
    )
    frame = b.builder.command(
        SUPPLIER, EUIS["ESME"], entry.message_code, payload, counter=counter, critical=True
    )
    (rsp,) = [decode(o.frame) for o in site.receive(frame, now) if o.kind is OutboundKind.RESPONSE]
    assert check_signature(rsp, b.store).verdict is Verdict.VALID
    return rsp.payload.raw  # type: ignore[union-attr, no-any-return]


@pytest.fixture
def device_ca(tmp_path: Path) -> Path:
    """A state directory's PKI (organisations and the device CA), as ensure_pki makes."""
    from emulator.runtime.pki import ensure_pki

    return ensure_pki(tmp_path)


def test_served_devices_hold_certificates_of_their_own_keys(
    b: Bench, site: Site, device_ca: Path
) -> None:
    """Issued by the state's device CA on first need, the same bytes every time, and
    kept by a factory reset."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from devices.credentials import ProvideCertificateResponse
    from emulator.runtime.pki import DeviceCertificates
    from keys.certs import describe_certificate
    from keys.roles import KeyUsage

    esme = site.esme
    assert esme is not None
    # without an issuer (a device whose key store holds no certificate of it): none held
    assert _cs02e(b, site, "digital_signature", T1) == bytes.fromhex(
        f"0201{ProvideCertificateResponse.NO_CERTIFICATE_HELD:02X}"
    )
    calls: list[str] = []
    issue = DeviceCertificates(device_ca).issuer(esme.own)

    def counting(usage: Any) -> bytes | None:
        calls.append(usage.value)
        return issue(usage)

    esme.credentials.issuer = counting
    ca = x509.load_pem_x509_certificate((device_ca / "ca-device.pem").read_bytes())
    point = (Encoding.X962, PublicFormat.UncompressedPoint)
    for name, usage, key in (
        ("digital_signature", KeyUsage.DS, esme.own.ds),
        ("key_agreement", KeyUsage.KA, esme.own.ka),
    ):
        der = _cs02e(b, site, name, T1)
        cert = x509.load_der_x509_certificate(der)
        cert.verify_directly_issued_by(ca)  # raises unless the device CA signed it
        info = describe_certificate(cert)
        assert info.is_device and info.hardware_serial == EUIS["ESME"] and not info.problems
        assert info.key_usages == frozenset({usage})
        assert cert.public_key().public_bytes(*point) == key.public_key().public_bytes(*point)
        # deterministic: another issuer over the same CA (another worker, a restart) agrees
        assert DeviceCertificates(device_ca).issuer(esme.own)(usage) == der
    assert calls == ["ds", "ka"]
    held = esme.to_dict()["credentials"]["certificates"]
    assert set(held) == {"ds", "ka"}  # saved with the device's state
    ds = _cs02e(b, site, "digital_signature", T1)
    ok(site, "ESME", {"id": 68, "op": "factory_reset", "history_seconds": 3600})
    assert esme.to_dict()["credentials"]["certificates"] == held
    assert _cs02e(b, site, "digital_signature", T1) == ds
    assert calls == ["ds", "ka"]  # held, not issued again
    snapshot = esme.to_dict()
    esme.load_state(snapshot)  # a restart keeps the issuer and the certificates
    assert esme.credentials.issuer is counting


def test_without_a_device_ca_devices_hold_no_certificate(tmp_path: Path) -> None:
    from emulator.runtime.config import derive_own_keys
    from emulator.runtime.pki import DeviceCertificates
    from keys.roles import KeyUsage

    own = derive_own_keys(b"seed", EUIS["ESME"])
    assert DeviceCertificates(tmp_path / "nothing").issuer(own)(KeyUsage.DS) is None


# --------------------------------------------------------------------------- bad input

COSEM = {"op": "set_cosem", **TAMPER_STATE, "value": True}
ZCL = {"op": "set_zcl", "cluster": "Metering", "attribute": 0, "value": 1}

BAD: list[tuple[str, Any, str, str | None]] = [
    # (device, request, error code, field)
    ("ESME", [1, 2], "bad_request", None),
    ("ESME", "text", "bad_request", None),
    ("ESME", {"op": "get_status"}, "missing_field", "id"),
    ("ESME", {"id": True, "op": "get_status"}, "bad_field", "id"),
    ("ESME", {"id": 1.5, "op": "get_status"}, "bad_field", "id"),
    ("ESME", {"id": 1}, "missing_field", "op"),
    ("ESME", {"id": 1, "op": "explode"}, "unknown_op", "op"),
    ("ESME", {"id": 1, "op": 5}, "unknown_op", "op"),
    ("ESME", {"id": 1, "op": "get_status", "colour": "red"}, "unknown_field", "colour"),
    # get_cosem / set_cosem
    ("GSME", {"id": 1, "op": "get_cosem", **TAMPER_STATE}, "wrong_device", None),
    ("ESME", {"id": 1, "op": "get_cosem", "obis": "0-0:94.44.0.4", "attribute": 2},
     "missing_field", "class_id"),
    ("ESME", {"id": 1, "op": "get_cosem", **{**TAMPER_STATE, "class_id": "one"}},
     "bad_field", "class_id"),
    ("ESME", {"id": 1, "op": "get_cosem", **{**TAMPER_STATE, "obis": "94.44"}},
     "bad_field", "obis"),
    ("ESME", {"id": 1, "op": "get_cosem", **{**TAMPER_STATE, "obis": "9-9:9.9.9.9"}},
     "not_found", "obis"),
    ("ESME", {"id": 1, "op": "get_cosem", **{**TAMPER_STATE, "attribute": 9}},
     "not_found", "attribute"),
    ("ESME", {"id": 1, "op": "get_cosem", **{**TAMPER_STATE, "attribute": 0}},
     "bad_field", "attribute"),
    ("ESME", {"id": 1, **COSEM, "value": "yes"}, "bad_field", "value"),
    ("ESME", {"id": 1, **COSEM, "value": {"type": "unsigned", "value": 1}}, "bad_field", "value"),
    ("ESME", {"id": 1, **COSEM, "value": {"type": "banana", "value": 1}},
     "bad_field", "value.type"),
    ("ESME", {"id": 1, **COSEM, "value": {"type": "long", "value": 1 << 20}},
     "bad_field", "value.value"),
    ("ESME", {"id": 1, **{**COSEM, "attribute": 1}}, "read_only", "attribute"),
    ("ESME", {"id": 1, "op": "set_cosem", "class_id": 8, "obis": "0-0:1.0.0.255", "attribute": 2,
              "value": None}, "read_only", "attribute"),
    ("ESME", {"id": 1, "op": "set_cosem", **IMPORT_COLLECTION, "value": -1}, "bad_field", "value"),
    ("ESME", {"id": 1, "op": "set_cosem", **TAMPER_STATE}, "missing_field", "value"),
    # get_zcl / set_zcl
    ("ESME", {"id": 1, **ZCL}, "wrong_device", None),
    ("GSME", {"id": 1, "op": "get_zcl", "cluster": "Toaster", "attribute": 0},
     "not_found", "cluster"),
    ("GSME", {"id": 1, "op": "get_zcl", "cluster": [], "attribute": 0}, "bad_field", "cluster"),
    ("GSME", {"id": 1, "op": "get_zcl", "cluster": "Metering", "attribute": "Nope"},
     "not_found", "attribute"),
    ("GSME", {"id": 1, **ZCL, "value": -1}, "bad_field", "value"),
    ("GSME", {"id": 1, **ZCL, "value": 1 << 48}, "bad_field", "value"),
    ("GSME", {"id": 1, **ZCL, "value": {"hex": "0102"}}, "bad_field", "value.hex"),
    ("GPF", {"id": 1, **ZCL, "value": "12"}, "bad_field", "value"),
    # profiles
    ("GSME", {"id": 1, "op": "set_load_profile", "profile": 10}, "wrong_device", None),
    ("ESME", {"id": 1, "op": "set_load_profile", "profile": -5}, "bad_field", "profile"),
    ("ESME", {"id": 1, "op": "set_load_profile", "profile": "lots"}, "bad_field", "profile"),
    ("ESME", {"id": 1, "op": "set_load_profile", "profile": {"import": {"shape": [1, 2]}}},
     "bad_field", "profile"),
    ("ESME", {"id": 1, "op": "set_gas_profile", "profile": 10}, "wrong_device", None),
    ("GSME", {"id": 1, "op": "set_gas_profile", "profile": True}, "bad_field", "profile"),
    # power
    ("ESME", {"id": 1, "op": "power", "state": "dim"}, "bad_field", "state"),
    ("ESME", {"id": 1, "op": "power"}, "missing_field", "state"),
    ("GSME", {"id": 1, "op": "power", "state": "off"}, "wrong_device", None),
    # tamper
    ("ESME", {"id": 1, "op": "tamper", "event": "tilt"}, "bad_field", "event"),
    ("ESME", {"id": 1, "op": "tamper", "event": "other", "state": "cleared"}, "bad_field", "state"),
    ("ESME", {"id": 1, "op": "tamper", "event": "meter_cover", "state": 1}, "bad_field", "state"),
    ("CHF", {"id": 1, "op": "tamper", "event": "meter_cover"}, "wrong_device", None),
    # clock
    ("ESME", {"id": 1, "op": "set_clock", "time": "2026-01-01T00:00:00"}, "bad_field", "time"),
    ("ESME", {"id": 1, "op": "set_clock", "time": "yesterday"}, "bad_field", "time"),
    ("ESME", {"id": 1, "op": "set_clock", "time": 12}, "bad_field", "time"),
    ("ESME", {"id": 1, "op": "invalidate_clock", "time": "2026-01-01T00:00:00Z"},
     "unknown_field", "time"),
    # run_on
    ("ESME", {"id": 1, "op": "run_on"}, "missing_field", "seconds"),
    ("ESME", {"id": 1, "op": "run_on", "seconds": 0}, "bad_field", "seconds"),
    ("GSME", {"id": 1, "op": "run_on", "seconds": -60}, "bad_field", "seconds"),
    ("CHF", {"id": 1, "op": "run_on", "seconds": "2 days"}, "bad_field", "seconds"),
    ("GPF", {"id": 1, "op": "run_on", "seconds": 1.5}, "bad_field", "seconds"),
    ("ESME", {"id": 1, "op": "run_on", "seconds": 400 * 86400 + 1}, "bad_field", "seconds"),
    # inject_alert
    ("ESME", {"id": 1, "op": "inject_alert", "code": "0x1234"}, "bad_field", "code"),
    ("ESME", {"id": 1, "op": "inject_alert", "code": "alarm"}, "bad_field", "code"),
    ("ESME", {"id": 1, "op": "inject_alert", "code": 0x8F3F, "critical": "yes"},
     "bad_field", "critical"),
    ("ESME", {"id": 1, "op": "inject_alert", "code": 0x8F3F, "recipient": "plumber"},
     "bad_field", "recipient"),
    ("ESME", {"id": 1, "op": "inject_alert", "code": 0x8F3F, "detail": [5]},
     "bad_field", "detail[0]"),
    ("GSME", {"id": 1, "op": "inject_alert", "code": 0x8F3F, "detail": []}, "bad_field", "detail"),
    # hold_firmware
    ("ESME", {"id": 1, "op": "hold_firmware", "version": "02000000"}, "missing_field", "image"),
    ("ESME", {"id": 1, "op": "hold_firmware", "image": "00", "hash": "00" * 32,
              "version": "02000000"}, "bad_field", "image"),
    ("ESME", {"id": 1, "op": "hold_firmware", "hash": "00" * 31, "version": "02000000"},
     "bad_field", "hash"),
    ("ESME", {"id": 1, "op": "hold_firmware", "image": "xyz", "version": "02000000"},
     "bad_field", "image"),
    ("ESME", {"id": 1, "op": "hold_firmware", "image": "00", "version": "02"},
     "bad_field", "version"),
    ("GPF", {"id": 1, "op": "hold_firmware", "image": "00", "version": "02000000"},
     "wrong_device", None),
    # read_log
    ("ESME", {"id": 1, "op": "read_log", "log": "diary"}, "bad_field", "log"),
    ("CHF", {"id": 1, "op": "read_log", "log": "power"}, "bad_field", "log"),
    # inject_fault / clear_faults (every field: tests/test_fault_injection.py)
    ("ESME", {"id": 1, "op": "inject_fault", "use_case": "ECS26i", "result": 0},
     "bad_field", "result"),
    ("GSME", {"id": 1, "op": "clear_faults", "message_code": "0xZZ"},
     "bad_field", "message_code"),
    # factory_reset / get_status
    ("ESME", {"id": 1, "op": "factory_reset", "hard": True}, "unknown_field", "hard"),
    ("ESME", {"id": 1, "op": "factory_reset", "history_seconds": -1},
     "bad_field", "history_seconds"),
    ("ESME", {"id": 1, "op": "factory_reset", "history_seconds": "3 days"},
     "bad_field", "history_seconds"),
    ("GSME", {"id": 1, "op": "factory_reset", "history_seconds": 31 * 86400 + 1},
     "bad_field", "history_seconds"),
    ("ESME", {"id": 1, "op": "factory_reset", "history_seconds": 1.5},
     "bad_field", "history_seconds"),
    ("ESME", {"id": 1, "op": "get_status", "verbose": 1}, "unknown_field", "verbose"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "request_", "code", "field"), BAD)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    site: Site, kind: str, request_: Any, code: str, field: str | None
) -> None:
    before = json.dumps(site.to_dict(), sort_keys=True)
    res = execute_control(site, EUIS[kind], request_, T1 + timedelta(minutes=10))
    assert res.reply["ok"] is False
    assert res.reply["error"]["code"] == code, res.reply
    assert res.reply["error"].get("field") == field, res.reply
    message = res.reply["error"]["message"]
    assert isinstance(message, str) and len(message) > 10 and "\n" not in message
    if field is not None and code not in ("not_found", "unknown_field", "read_only"):
        assert field.split(".")[0].split("[")[0] in message
    assert res.outs == [] and res.changed == frozenset()
    assert json.dumps(site.to_dict(), sort_keys=True) == before
    expected_id = request_.get("id") if isinstance(request_, dict) else None
    if isinstance(expected_id, bool) or not isinstance(expected_id, str | int):
        expected_id = None
    assert res.reply["id"] == expected_id
    EXAMPLES.append((request_, res.reply))


def test_unknown_target_and_every_op_has_a_bad_input_case(site: Site) -> None:
    res = execute_control(site, bytes(8), {"id": 1, "op": "get_status"}, T1)
    assert res.reply["error"]["code"] == "unknown_device"
    covered = {r.get("op") for _, r, _, _ in BAD if isinstance(r, dict)}
    assert set(CONTROL_OPS) <= covered


def test_a_failing_operation_rolls_back(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request happens whole or not at all, even when the device fails half-way."""
    assert site.esme is not None
    before = json.dumps(site.to_dict(), sort_keys=True)

    def boom(now: datetime) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(site.esme, "on_supply_switched", lambda: boom(T1))
    ok(site, "ESME", {"id": 57, "op": "set_cosem", **TAMPER_STATE, "value": True}, T1)
    res = ctl(site, "ESME", {"id": 58, "op": "tamper", "event": "meter_cover"}, T1)
    assert (
        res.reply["error"]["code"] == "internal" and "disk on fire" in res.reply["error"]["message"]
    )
    assert res.outs == [] and res.changed == frozenset()
    after = json.loads(json.dumps(site.to_dict()))
    assert after["devices"]["ESME"]["security_log"]["entries"] == []
    assert before != json.dumps(site.to_dict(), sort_keys=True)  # only the tamper state set


# --------------------------------------------------------------------------- schemas


def _schema(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text())


def _validate(schema: dict[str, Any], value: Any, root: dict[str, Any] | None = None,
              path: str = "$") -> None:  # fmt: skip
    """A tiny JSON Schema validator for the subset the docs' schemas use ($ref, type,
    const, enum, properties, required, additionalProperties, items, oneOf, anyOf,
    minimum, maximum, minLength, pattern, minItems, maxItems). Raises AssertionError."""
    root = root or schema
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        _validate(target, value, root, path)
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        assert any(checks[n](value) for n in names), f"{path}: {value!r} is not {names}"
    if "const" in schema:
        assert value == schema["const"], f"{path}: {value!r} != {schema['const']!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, str):
        if "minLength" in schema:
            assert len(value) >= schema["minLength"], path
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), f"{path}: {value!r} !~ {schema['pattern']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            assert value >= schema["minimum"], path
        if "maximum" in schema:
            assert value <= schema["maximum"], path
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, f"{path}: missing {k!r}"
        for k, v in value.items():
            if k in props:
                _validate(props[k], v, root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{path}: unexpected {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(schema["additionalProperties"], v, root, f"{path}.{k}")
    if isinstance(value, list):
        if "minItems" in schema:
            assert len(value) >= schema["minItems"], path
        if "maxItems" in schema:
            assert len(value) <= schema["maxItems"], path
        if "items" in schema:
            for i, v in enumerate(value):
                _validate(schema["items"], v, root, f"{path}[{i}]")
    for key, need in (("oneOf", 1), ("anyOf", None)):
        if key in schema:
            passed = 0
            errors = []
            for sub in schema[key]:
                try:
                    _validate(sub, value, root, path)
                    passed += 1
                except AssertionError as e:
                    errors.append(str(e))
            if need == 1:
                assert passed == 1, f"{path}: {passed} of oneOf match ({errors[:3]})"
            else:
                assert passed >= 1, f"{path}: none of anyOf match ({errors[:3]})"


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("ESME", {"id": 1, "op": "get_cosem", **IMPORT_COLLECTION}),
    ("ESME", {"id": "two", "op": "set_cosem", **TAMPER_STATE, "value": True}),
    ("GSME", {"id": 3, "op": "get_zcl", "cluster": "Metering", "attribute": 0}),
    ("GSME", {"id": 4, "op": "set_zcl", "cluster": "0x0702", "attribute": 0, "value": 5}),
    ("ESME", {"id": 5, "op": "set_load_profile", "profile": 1500}),
    ("GSME", {"id": 6, "op": "set_gas_profile", "profile": {"import": {"w": 20}}}),
    ("ESME", {"id": 7, "op": "tamper", "event": "magnetic_field"}),
    ("CHF", {"id": 8, "op": "set_clock", "time": "2026-06-01T00:00:00+01:00"}),
    ("GPF", {"id": 9, "op": "invalidate_clock"}),
    ("GSME", {"id": 10, "op": "inject_alert", "code": 0x81B4}),
    ("ESME", {"id": 11, "op": "hold_firmware", "hash": "12" * 32, "version": "01020304"}),
    ("ESME", {"id": 12, "op": "read_log", "log": "security"}),
    ("GSME", {"id": 13, "op": "get_status"}),
    ("ESME", {"id": 14, "op": "power", "state": "off"}),
    ("CHF", {"id": 15, "op": "factory_reset"}),
    ("ESME", {"id": 16, "op": "factory_reset", "history_seconds": 86400}),
    ("GSME", {"id": 17, "op": "run_on", "seconds": 3600}),
    ("ESME", {"id": 18, "op": "inject_fault", "use_case": "ECS26i", "item": 1, "result": 1}),
    ("GSME", {"id": 19, "op": "clear_faults"}),
]


def test_requests_and_replies_validate_against_the_control_schema(site: Site) -> None:
    schema = _schema("control.schema.json")
    requests = {"$ref": "#/$defs/request", "$defs": schema["$defs"]}
    replies = {"$ref": "#/$defs/reply", "$defs": schema["$defs"]}
    examples = [(q, execute_control(site, EUIS[k], q, T1).reply) for k, q in GOOD]
    assert all(r["ok"] for _, r in examples)
    assert {q["op"] for q, _ in examples} == set(CONTROL_OPS)
    for k, q, _, _ in BAD:
        examples.append((q, execute_control(site, EUIS[k], q, T1).reply))
    examples += EXAMPLES  # whatever the other tests of this run produced
    for q, r in examples:
        _validate(replies, r)
        if r["ok"]:
            _validate(requests, q)
            _validate({"$ref": f"#/$defs/result_{q['op']}", "$defs": schema["$defs"]}, r["result"])


@pytest.mark.parametrize(
    "bad",
    [
        {"id": 1, "op": "power", "state": "dim"},
        {"id": 1, "op": "power"},
        {"id": True, "op": "get_status"},
        {"id": 1, "op": "nope"},
        {"id": 1, "op": "get_status", "extra": 1},
        {"id": 1, "op": "hold_firmware", "version": "02000000"},
        {"id": 1, "op": "factory_reset", "history_seconds": -5},
        {"id": 1, "op": "factory_reset", "history_seconds": "1 day"},
    ],
)
def test_the_schema_refuses_bad_requests(bad: dict[str, Any]) -> None:
    schema = _schema("control.schema.json")
    with pytest.raises(AssertionError):
        _validate({"$ref": "#/$defs/request", "$defs": schema["$defs"]}, bad)


def test_ad1_schema_refuses_a_bad_record() -> None:
    schema = _schema("ad1.schema.json")
    good = {"alert": "AD1", "chf": "00db1234567890a2", "outage_start": T1.isoformat(),
            "sent": T1.isoformat()}  # fmt: skip
    _validate(schema, good)
    for bad in ({**good, "alert": "AD2"}, {k: v for k, v in good.items() if k != "sent"}):
        with pytest.raises(AssertionError):
            _validate(schema, bad)


def test_docs_describe_every_op() -> None:
    text = (DOCS / "control.md").read_text()
    schema = _schema("control.schema.json")
    for op in CONTROL_OPS:
        assert f"### `{op}`" in text, op
        assert f"result_{op}" in schema["$defs"], op
    assert "gbcs/<site>/<eui>/control/reply" in text and "--control" in text
