"""DUIS supply and auxiliary-load SRVs -> GBCS (emulator.duis.routes_supply): typed bodies,
body values in the GBCS, refusals, and the DCC inputs of the RTDS pairs (the generic
pair tests of tests/test_duis_transform.py read RTDS_* below)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import model, routes_supply, routing, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.routes_supply import (
    AuxiliaryControllerState,
    AuxiliaryLoadAction,
    BoostButtonAssociation,
    DailyTariffBlockCounterMatrixReset,
    RandomisedOffsetLimit,
    SupplyTamperState,
    SynchroniseClock,
)
from emulator.duis.transform import Refusal, Transformed
from gbcs.axdr import Data, DataType
from gbcs.codec import decode
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import AccessRequest, ActionSpec
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import DEFAULT_ACB, Verdict, check_mac
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import duiskit, interop

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# The RTDS GSME commands' Issuer Event ID 0x1C374A80 (on the wire 80 4A 37 1C) is the ZCL
# UTCTime 473385600: the DCC built them at 2015-01-01T00:00:00Z (ZSE: a UTC time stamp
# identifying when the command was issued). The DUIS bodies (empty) carry none.
_RTDS_BUILT = datetime(2015, 1, 1, tzinfo=UTC)
# The ESME's variant from the DCC's inventory: RTDS's ESME stands for both, and the two
# (identical) 6.27 templates are named for the use case each variant gets.
RTDS_FACTS: dict[str, dict[str, str]] = {
    "ECS29e_6.27_SUCCESS_REQUEST_DUIS.XML": {"esme_variant": "A"},
    "ECS29f_6.27_SUCCESS_REQUEST_DUIS.XML": {"esme_variant": "C"},
}
RTDS_NOW: dict[str, datetime] = {
    "GCS11_3.5_SUCCESS_REQUEST_DUIS.XML": _RTDS_BUILT,
    "GCS32_7.2_SUCCESS_REQUEST_DUIS.XML": _RTDS_BUILT,
    "GCS39_7.3_SUCCESS_REQUEST_DUIS.XML": _RTDS_BUILT,
}
# None of these SRVs is originated by the DCC.
RTDS_DCC_COUNTER: dict[str, int] = {}
# Every paired template of these SRVs equals its RTDS GBCS.
RTDS_EXCEPTIONS: dict[str, str] = {}


# --- requests built in code ---------------------------------------------------------


def _body(name: str, inner: str = "", attrs: str = "") -> Body:
    xml = f'<sr:{name} xmlns:sr="{SR_NS}"{attrs}>{inner}</sr:{name}>'
    return Body(name, xml.encode())


def _request(
    variant: str, body: Body, *, cv: int = 4, target: str = ESME, counter: int = 4242
) -> Request:
    rid = RequestId.parse(f"{USER}:{target}:{counter}")
    ref = ".".join(variant.split(".")[:2])
    return Request(RequestHeader(rid, cv, ref, variant), body)


def _fresh_keys(device: str = ESME) -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(device.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


def _run(
    variant: str,
    body: Body,
    device: str = "ESME",
    *,
    cv: int | None = None,
    now: datetime = NOW,
    keys: KeyStore | None = None,
) -> Transformed | Refusal:
    srv_cv = cv if cv is not None else (1 if variant in ("3.5", "7.9", "7.10") else 4)
    target = GSME if device == "GSME" else ESME
    return transform.transform(
        _request(variant, body, cv=srv_cv, target=target),
        target_type=device,
        keys=keys if keys is not None else _fresh_keys(target),
        now=now,
    )


def _ok(result: Transformed | Refusal) -> Transformed:
    assert isinstance(result, Transformed), result
    return result


def _dlms(result: Transformed | Refusal) -> AccessRequest:
    payload = decode(_ok(result).gbcs).payload
    assert isinstance(payload, AccessRequest)
    return payload


def _cosem(t: datetime) -> bytes:
    return DlmsDateTime.from_datetime(t).to_bytes()


def _el(inner: str, name: str = "DateTime") -> str:
    return f"<sr:{name}>{inner}</sr:{name}>"


def _boost(element: str, flags: str = "11111", extra: str = "") -> str:
    parts = [
        f'<sr:{element} index="{i}">{"true" if f == "1" else "false"}</sr:{element}>'
        for i, f in enumerate(flags, 1)
    ]
    return extra + "".join(parts)


def _state(level: int = 100, n: int = 5, extra: str = "", end: str = "01") -> str:
    return (
        f"<sr:StartDateTime>2026-02-03T00:00:00.00Z</sr:StartDateTime>"
        f"<sr:EndDateTime>2026-02-03T{end}:00:00.00Z</sr:EndDateTime>"
        f"<sr:CommandedStateLevel>{level}</sr:CommandedStateLevel>{extra}"
    )


TAMPER = "SetElectricitySupplyTamperState"
DAILY = "UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix"
CLOCK = "CommissionDeviceSynchroniseClock"
ACS = "SetAuxiliaryControllerState"
APC = "LimitAPCLevel"
INPUT = "<sr:InputFromControlledLoad/>"
T0 = datetime(2026, 2, 3, tzinfo=UTC)
T1 = datetime(2026, 2, 3, 1, tzinfo=UTC)


# --- typed bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "body", "typed"),
    [
        ("6.25", _body(TAMPER, _el("Locked", "SupplyTamperState")), SupplyTamperState("Locked")),
        ("6.25", _body(TAMPER, _el("Unchanged", "SupplyTamperState")),
         SupplyTamperState("Unchanged")),
        ("6.26", _body(DAILY, _el("false", "DailyTariffBlockCounterMatrixReset")),
         DailyTariffBlockCounterMatrixReset(False)),
        ("7.5", _body("ActivateAuxiliaryLoad",
                      '<sr:ActivateALCSHCALCS index="2"><sr:Duration>45</sr:Duration>'
                      "</sr:ActivateALCSHCALCS>"),
         AuxiliaryLoadAction("activate", 2, 45)),
        ("7.6", _body("DeactivateAuxiliaryLoad",
                      '<sr:DeactivateALCSHCALCS index="4"><sr:Duration>65535</sr:Duration>'
                      "</sr:DeactivateALCSHCALCS>"),
         AuxiliaryLoadAction("deactivate", 4, 65535)),
        ("7.8", _body("ResetAuxiliaryLoad", '<sr:ResetALCSHCALCS index="1"/>'),
         AuxiliaryLoadAction("reset", 1, None)),
        ("7.9", _body("AddAuxiliaryLoadToBoostButton", _boost("AddToBoostButton", "10111")),
         BoostButtonAssociation(True, (True, False, True, True, True))),
        ("7.10", _body("RemoveAuxiliaryLoadFromBoostButton",
                       _boost("RemoveFromBoostButton",
                              extra=_el("2026-03-01T10:00:00Z", "ExecutionDateTime"))),
         BoostButtonAssociation(False, (True,) * 5, datetime(2026, 3, 1, 10, tzinfo=UTC))),
        ("7.12", _body("SetRandomisedOffsetLimit", _el("1799", "RandomisedOffsetLimit")),
         RandomisedOffsetLimit(1799)),
        ("7.13", _body(ACS, _state(50, extra=INPUT), ' auxiliaryControllerN="3"'),
         AuxiliaryControllerState(3, T0, T1, 50, True)),
        ("7.16", _body(APC, _state(0), ' auxiliaryControllerN="1"'),
         AuxiliaryControllerState(1, T0, T1, 0, False)),
        ("8.1.1", _body(CLOCK, "<sr:CurrentDateTime>2026-01-01T12:00:00+01:00</sr:CurrentDateTime>"
                               "<sr:TolerancePeriod>86400</sr:TolerancePeriod>"),
         SynchroniseClock(datetime(2026, 1, 1, 11, tzinfo=UTC), 86400)),
    ],
)  # fmt: skip
def test_bodies_parse_into_their_typed_body(variant: str, body: Body, typed: Any) -> None:
    route = transform.ROUTES[variant]
    assert route.body == body.name
    parsed = route.parse(body.element())
    assert parsed == typed
    assert routing.typed_body(body) == typed  # the route found by its body element
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(parsed, dataclasses.fields(parsed)[0].name, None)


# --- body values reach the GBCS -----------------------------------------------------


@pytest.mark.parametrize(("state", "value"), [("Locked", True), ("Unchanged", False)])
def test_tamper_state_is_the_ecs81_boolean(state: str, value: bool) -> None:
    result = _run("6.25", _body(TAMPER, _el(state, "SupplyTamperState")))
    req = _dlms(result)
    assert _ok(result).use_case == "ECS81" and _ok(result).pre_command
    assert str(req.specs[0].obis) == "0-0:94.44.0.4"
    assert req.data == (Data.boolean(value),)


@pytest.mark.parametrize("reset", [True, False])
def test_daily_reset_is_a_midnight_entry_or_none(reset: bool) -> None:
    flag = "true" if reset else "false"
    req = _dlms(_run("6.26", _body(DAILY, _el(flag, "DailyTariffBlockCounterMatrixReset"))))
    (entries,) = req.data
    assert entries.tag is DataType.ARRAY
    if not reset:
        assert len(entries.value) == 0
        return
    (entry,) = entries.value
    time, date = entry.value
    assert time.value == bytes(4)  # 00:00:00.00
    assert date.value == b"\xff\xff\xff\xff\xff"  # every day


@pytest.mark.parametrize(
    ("variant", "body", "duration", "selector"),
    [
        ("7.5", _body("ActivateAuxiliaryLoad",
                      '<sr:ActivateALCSHCALCS index="2"><sr:Duration>45</sr:Duration>'
                      "</sr:ActivateALCSHCALCS>"), ("0-0:94.44.117.1", 45), 0x0211),
        ("7.6", _body("DeactivateAuxiliaryLoad",
                      '<sr:DeactivateALCSHCALCS index="4"><sr:Duration>600</sr:Duration>'
                      "</sr:DeactivateALCSHCALCS>"), ("0-0:94.44.119.2", 600), 0x0412),
        ("7.8", _body("ResetAuxiliaryLoad", '<sr:ResetALCSHCALCS index="3"/>'), None, 0x0320),
    ],
)  # fmt: skip
def test_auxiliary_load_action_index_and_duration_reach_ecs47(
    variant: str, body: Body, duration: tuple[str, int] | None, selector: int
) -> None:
    req = _dlms(_run(variant, body))
    *sets, script = req.specs
    assert isinstance(script, ActionSpec) and str(script.obis) == "0-0:10.0.103.255"
    assert req.data[-1] == Data(DataType.LONG_UNSIGNED, selector)
    if duration is None:
        assert sets == []
    else:
        assert [str(s.obis) for s in sets] == [duration[0]]
        assert req.data[0] == Data(DataType.LONG_UNSIGNED, duration[1])


@pytest.mark.parametrize(
    ("variant", "element", "value"),
    [("7.9", "AddToBoostButton", True), ("7.10", "RemoveFromBoostButton", False)],
)
def test_boost_button_association_sets_all_five(variant: str, element: str, value: bool) -> None:
    name = transform.ROUTES[variant].body
    keys = _fresh_keys()
    result = _ok(_run(variant, _body(name, _boost(element)), keys=keys))
    assert result.use_case == "ECS62" and not result.pre_command and result.send_at is None
    msg = decode(result.gbcs)
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID
    req = msg.payload
    assert isinstance(req, AccessRequest)
    assert [str(s.obis) for s in req.specs] == [f"0-0:94.44.6.{i}" for i in range(1, 6)]
    assert req.data == (Data.boolean(value),) * 5


def test_boost_button_execution_date_time_is_held_by_the_dsp() -> None:
    later = _el("2026-03-01T10:30:00Z", "ExecutionDateTime")
    body = _body("AddAuxiliaryLoadToBoostButton", _boost("AddToBoostButton", extra=later))
    held = _ok(_run("7.9", body))
    now = _ok(_run("7.9", _body("AddAuxiliaryLoadToBoostButton", _boost("AddToBoostButton"))))
    assert held.send_at == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    assert decode(held.gbcs).payload == decode(now.gbcs).payload  # the device never sees it


def test_randomised_offset_limit_reaches_ecs38() -> None:
    req = _dlms(
        _run("7.12", _body("SetRandomisedOffsetLimit", _el("1234", "RandomisedOffsetLimit")))
    )
    assert str(req.specs[0].obis) == "0-0:94.44.0.1"
    assert req.data == (Data(DataType.LONG_UNSIGNED, 1234),)


@pytest.mark.parametrize(
    ("n", "level", "extra", "selector"),
    [(3, 50, INPUT, 0x2332), (5, 100, "", 0x25E4), (1, 0, "", 0x2180)],
)
def test_controller_state_reaches_ecs47a(n: int, level: int, extra: str, selector: int) -> None:
    body = _body(ACS, _state(level, extra=extra), f' auxiliaryControllerN="{n}"')
    result = _run("7.13", body)
    assert _ok(result).use_case == "ECS47a"
    req = _dlms(result)
    start, end, script = req.data
    assert start.value == _cosem(T0) and end.value == _cosem(T1)
    assert script == Data(DataType.LONG_UNSIGNED, selector)


@pytest.mark.parametrize(
    ("n", "level", "extra", "selector"),
    [(3, 50, INPUT, 0x2332), (5, 100, "", 0x25E4), (2, 7, INPUT, 0x2207)],
)
def test_apc_limit_reaches_ecs47e(n: int, level: int, extra: str, selector: int) -> None:
    body = _body(APC, _state(level, extra=extra), f' auxiliaryControllerN="{n}"')
    result = _run("7.16", body)
    assert _ok(result).use_case == "ECS47e" and _ok(result).message_code == 0x011F
    req = _dlms(result)
    assert [str(s.obis) for s in req.specs] == [
        "0-0:94.44.119.3",
        "0-0:94.44.119.4",
        "0-0:10.0.107.255",
    ]
    start, end, script = req.data
    assert start.value == _cosem(T0) and end.value == _cosem(T1)
    assert script == Data(DataType.LONG_UNSIGNED, selector)
    # the same selector ECS47a gives the same controller state
    same = _dlms(
        _run("7.13", _body(ACS, _state(level, extra=extra), f' auxiliaryControllerN="{n}"'))
    )
    assert same.data[-1] == script


def test_commissioning_clock_window_reaches_ecs70_and_gcs28() -> None:
    body = _body(
        CLOCK,
        "<sr:CurrentDateTime>2026-01-05T08:00:00Z</sr:CurrentDateTime>"
        "<sr:TolerancePeriod>90</sr:TolerancePeriod>",
    )
    start, end = datetime(2026, 1, 5, 8, tzinfo=UTC), datetime(2026, 1, 5, 8, 1, 30, tzinfo=UTC)
    esme = _ok(_run("8.1.1", body))
    assert esme.use_case == "ECS70" and esme.pre_command
    req = _dlms(esme)
    preset = next(
        d for s, d in zip(req.specs, req.data, strict=False) if getattr(s, "method", 0) == 5
    )
    assert [f.value for f in preset.value] == [
        DlmsDateTime.not_specified().to_bytes(),  # the ESME's time source's time
        _cosem(start),
        _cosem(end),
    ]
    gsme = _ok(_run("8.1.1", body, "GSME"))
    assert gsme.use_case == "GCS28" and gsme.recipient == bytes.fromhex(GSME.replace("-", ""))
    typed = decode(gsme.gbcs).payload.typed
    assert (typed.validity_interval_start, typed.validity_interval_end) == (start, end)


# --- the GSME commands whose Issuer Event ID the DCC writes -------------------------


@pytest.mark.parametrize(
    ("variant", "element", "use_case", "code"),
    [
        ("3.5", "DisablePrivacyPIN", "GCS11", 0x0073),
        ("7.2", "DisableSupply", "GCS32", 0x0081),
        ("7.3", "ArmSupply", "GCS39", 0x0085),
    ],
)
def test_gsme_issuer_event_id_is_the_zcl_utc_time_of_the_build(
    variant: str, element: str, use_case: str, code: int
) -> None:
    built = datetime(2026, 6, 1, 12, 30, 15, 999_000, tzinfo=UTC)
    result = _ok(_run(variant, _body(element), "GSME", now=built))
    assert (result.use_case, result.message_code) == (use_case, code)
    (component,) = decode(result.gbcs).payload.components
    # whole seconds since 2000-01-01T00:00:00Z
    assert component.body.issuer_event_id == int(
        (built - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()
    )
    assert component.body.issuer_event_id == 833_632_215
    later = _ok(_run(variant, _body(element), "GSME", now=datetime(2026, 6, 1, 12, 31, tzinfo=UTC)))
    (newer,) = decode(later.gbcs).payload.components
    assert newer.body.issuer_event_id > component.body.issuer_event_id  # newer is larger


def test_gsme_supply_commands_carry_the_proposed_state() -> None:
    disable = _ok(_run("7.2", _body("DisableSupply"), "GSME"))
    arm = _ok(_run("7.3", _body("ArmSupply"), "GSME"))
    assert disable.pre_command and arm.pre_command
    states = [
        decode(r.gbcs).payload.components[0].body.proposed_supply_status for r in (disable, arm)
    ]
    assert states == [0, 1]  # off, armed


def test_gsme_privacy_pin_command_is_macd() -> None:
    keys = _fresh_keys(GSME)
    result = _ok(_run("3.5", _body("DisablePrivacyPIN"), "GSME", keys=keys))
    msg = decode(result.gbcs)
    assert not result.pre_command and msg.envelope is Envelope.GENERAL_CIPHERING
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


def test_zcl_utc_time_outside_its_range_is_refused() -> None:
    result = _run("7.2", _body("DisableSupply"), "GSME", now=datetime(1999, 12, 31, tzinfo=UTC))
    assert isinstance(result, Refusal)
    assert "does not fit a ZCL UTCTime" in result.reason
    assert routes_supply.zcl_utc_time(datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1


# --- refusals -----------------------------------------------------------------------

_SWITCH = (
    '<sr:ActivateALCSHCALCS index="{i}"><sr:Duration>{d}</sr:Duration></sr:ActivateALCSHCALCS>'
)


@pytest.mark.parametrize(
    ("variant", "body", "device", "words"),
    [
        ("6.25", _body(TAMPER), "ESME", f"{TAMPER}: no SupplyTamperState"),
        ("6.25", _body(TAMPER, _el("Open", "SupplyTamperState")), "ESME",
         "'Open' is not Locked or Unchanged"),
        ("6.25", _body(TAMPER, _el("Locked", "SupplyTamperState") + "<sr:Extra/>"), "ESME",
         "unexpected Extra"),
        ("6.26", _body(DAILY, _el("yes", "DailyTariffBlockCounterMatrixReset")), "ESME",
         "not a boolean"),
        ("7.5", _body("ActivateAuxiliaryLoad"), "ESME", "no ActivateALCSHCALCS"),
        ("7.5", _body("ActivateAuxiliaryLoad", _SWITCH.format(i=6, d=1)), "ESME",
         "ActivateALCSHCALCS/@index: 6 is not in 1..5"),
        ("7.5", _body("ActivateAuxiliaryLoad", _SWITCH.format(i="one", d=1)), "ESME",
         "not an integer"),
        ("7.5", _body("ActivateAuxiliaryLoad", _SWITCH.format(i=1, d=65536)), "ESME",
         "Duration: 65536 is not in 0..65535"),
        ("7.5", _body("ActivateAuxiliaryLoad", _SWITCH.format(i=1, d="1.5")), "ESME",
         "not an integer"),
        ("7.5", _body("ActivateAuxiliaryLoad", '<sr:ActivateALCSHCALCS index="1"/>'), "ESME",
         "ActivateALCSHCALCS: no Duration"),
        ("7.6", _body("DeactivateAuxiliaryLoad", '<sr:DeactivateALCSHCALCS><sr:Duration>1'
                      "</sr:Duration></sr:DeactivateALCSHCALCS>"), "ESME", "no index attribute"),
        ("7.8", _body("ResetAuxiliaryLoad",
                      '<sr:ResetALCSHCALCS index="1"><sr:Duration>1</sr:Duration>'
                      "</sr:ResetALCSHCALCS>"), "ESME", "ResetALCSHCALCS: unexpected Duration"),
        ("7.9", _body("AddAuxiliaryLoadToBoostButton", _boost("AddToBoostButton", "1111")),
         "ESME", "needs AddToBoostButton for each index 1..5"),
        ("7.9", _body("AddAuxiliaryLoadToBoostButton",
                      _boost("AddToBoostButton", "1111")
                      + '<sr:AddToBoostButton index="4">true</sr:AddToBoostButton>'),
         "ESME", "index 4 given twice"),
        ("7.9", _body("AddAuxiliaryLoadToBoostButton", _boost("AddToBoostButton", "11011")),
         "ESME", "AddToBoostButton false (index 3) is not carried"),
        ("7.10", _body("RemoveAuxiliaryLoadFromBoostButton",
                       _boost("RemoveFromBoostButton", "01110")),
         "ESME", "RemoveFromBoostButton false (index 1, 5) is not carried"),
        ("7.10", _body("RemoveAuxiliaryLoadFromBoostButton",
                       _boost("RemoveFromBoostButton", "1111").replace(">true<", ">maybe<", 1)
                       + '<sr:RemoveFromBoostButton index="5">true</sr:RemoveFromBoostButton>'),
         "ESME", "RemoveFromBoostButton[@index=1]: not a boolean"),
        ("7.12", _body("SetRandomisedOffsetLimit", _el("1800", "RandomisedOffsetLimit")), "ESME",
         "RandomisedOffsetLimit: 1800 is not in 0..1799"),
        ("7.12", _body("SetRandomisedOffsetLimit", _el("-1", "RandomisedOffsetLimit")), "ESME",
         "-1 is not in 0..1799"),
        ("7.12", _body("SetRandomisedOffsetLimit", _el("ten", "RandomisedOffsetLimit")), "ESME",
         "not an integer: 'ten'"),
        ("7.13", _body(ACS, _state(), ""), "ESME", "no auxiliaryControllerN attribute"),
        ("7.13", _body(ACS, _state(101), ' auxiliaryControllerN="1"'), "ESME",
         "CommandedStateLevel: 101 is not in 0..100"),
        ("7.13", _body(ACS, _state(end="00"), ' auxiliaryControllerN="1"'), "ESME",
         "EndDateTime is not after StartDateTime"),
        ("7.13", _body(ACS, _state().replace("2026-02-03T00", "yesterday"),
                       ' auxiliaryControllerN="1"'), "ESME", f"{ACS}/StartDateTime: "),
        ("7.13", _body(ACS, _state(extra=INPUT.replace("/>", ">x</sr:InputFromControlledLoad>")),
                       ' auxiliaryControllerN="1"'), "ESME",
         "InputFromControlledLoad: expected an empty element"),
        ("7.13", _body(ACS, _state().replace("00.00Z</sr:Start", "00.001Z</sr:Start"),
                       ' auxiliaryControllerN="1"'), "ESME",
         "StartDateTime: a COSEM date-time holds hundredths"),
        ("7.16", _body(APC, _state(), ' auxiliaryControllerN="0"'), "ESME",
         "auxiliaryControllerN: 0 is not in 1..5"),
        ("8.1.1", _body(CLOCK, "<sr:CurrentDateTime>2026-01-01T00:00:00Z</sr:CurrentDateTime>"),
         "GSME", f"{CLOCK}: no TolerancePeriod"),
        ("8.1.1", _body(CLOCK, "<sr:CurrentDateTime>2026-01-01T00:00:00Z</sr:CurrentDateTime>"
                               "<sr:TolerancePeriod>86401</sr:TolerancePeriod>"), "ESME",
         "TolerancePeriod: 86401 is not in 0..86400"),
        ("8.1.1", _body(CLOCK, "<sr:CurrentDateTime>2026-01-01T00:00:00Z</sr:CurrentDateTime>"
                               "<sr:TolerancePeriod>60</sr:TolerancePeriod>"
                               "<sr:TolerancePeriod>60</sr:TolerancePeriod>"), "ESME",
         "more than one TolerancePeriod"),
        ("3.5", _body("DisablePrivacyPIN", _el("2026-01-02T00:00:00Z", "ExecutionDateTime")),
         "GSME", "SRV 3.5 cannot be future-dated"),
        ("6.27", _body("UpdateDeviceConfigurationRMSVoltageCounterReset"), "ESME",
         "ECS29e or ECS29f: the ESME's variant decides"),
    ],
)  # fmt: skip
def test_bad_bodies_are_refused_with_a_clear_reason(
    variant: str, body: Body, device: str, words: str
) -> None:
    cv = 1 if variant in ("3.5", "6.27", "7.9", "7.10") else 4
    result = _run(variant, body, device, cv=cv)
    assert isinstance(result, Refusal), result
    assert words in result.reason
    assert result.reason.startswith(f"SRV {variant} (")
    assert "\n" not in result.line()


def test_routes_cover_the_srvs_and_device_types() -> None:
    planned = {v: sorted(transform.ROUTES[v].planners) for v in transform.ROUTES}
    for variant in ("6.25", "6.26", "7.5", "7.6", "7.8", "7.9", "7.10", "7.12", "7.13", "7.16"):
        assert planned[variant] == ["ESME"]
    assert planned["8.1.1"] == ["ESME", "GSME"]
    for variant in ("3.5", "7.2", "7.3"):
        assert planned[variant] == ["ESME", "GSME"]
    assert planned["6.27"] == ["ESME"] and ("6.27", "ESME") not in transform.NOT_YET


# --- the RTDS material --------------------------------------------------------------


def _rows() -> list[dict[str, Any]]:
    d = duiskit.duis_dir()
    if d is None:
        return []
    ours = {r.variant for r in routes_supply.ROUTES} | set(routes_supply.MORE_PLANNERS)
    rows = [json.loads(line) for line in (d / "pairs.jsonl").read_text().splitlines() if line]
    return [r for r in rows if r["srv"] in ours]


def test_rtds_issuer_event_ids_are_the_zcl_time_of_rtds_now() -> None:
    interop.require_interop()
    for template, built in RTDS_NOW.items():
        stem = template.removesuffix("_REQUEST_DUIS.XML")
        use_case, srv = stem.split("_")[:2]
        vector = interop.by_id(f"RTDS-4.5.0/{srv}_{use_case}/{stem}_COMMAND")
        (component,) = decode(bytes.fromhex(vector["hex"])).payload.components
        assert component.body.issuer_event_id == 0x1C374A80 == routes_supply.zcl_utc_time(built)


UNPAIRED_CRITICAL = [
    "ECS47a_7.13_ALCS_ACTIVATE_SUCCESS_REQUEST_DUIS.XML",
    "ECS47a_7.13_ALCS_DEACTIVATE_SUCCESS_REQUEST_DUIS.XML",
    "ECS47a_7.13_APC_OUTPUT_SUCCESS_REQUEST_DUIS.XML",
    "ECS47e_7.16_APC_OUTPUT_SUCCESS_REQUEST_DUIS.XML",
]


@pytest.mark.parametrize("name", UNPAIRED_CRITICAL)
def test_unpaired_critical_templates_become_pre_commands(name: str) -> None:
    # tests/test_duis_transform.py checks unpaired templates as MAC'd commands only; these
    # are critical (CV 4): their GBCS is the unsigned pre-command
    data = (duiskit.require_duis() / "templates" / name).read_bytes()
    request = model.parse(data)
    assert isinstance(request, Request)
    result = _ok(transform.transform(request, target_type="ESME", keys=KeyStore(), now=NOW))
    rid = request.header.request_id
    msg = decode(result.gbcs)
    assert result.pre_command and result.use_case == name.split("_")[0]
    assert msg.envelope is Envelope.GENERAL_SIGNING
    assert msg.signature_form is SignatureForm.ABSENT
    assert (msg.originator, msg.recipient, msg.counter) == (
        rid.originator_eui,
        rid.target_eui,
        rid.counter,
    )
    body = routes_supply.parse_controller_state(request.body.element())
    script = msg.payload.data[-1].value
    assert script == routes_supply.apc_script_selector(
        body.auxiliary_controller_n, body.commanded_state_level, body.input_from_controlled_load
    )


def test_every_template_of_these_srvs_is_transformed_or_listed() -> None:
    rows = _rows()
    if not rows:
        duiskit.require_duis()
    names = {r["template"] for r in rows}
    assert set(UNPAIRED_CRITICAL) <= names
    assert set(RTDS_NOW) <= names and set(RTDS_EXCEPTIONS) <= names
    # the paired ones are checked by tests/test_duis_transform.py: 18 equal their RTDS GBCS
    paired = {r["template"] for r in rows if r["gbcs_vector"]} - set(RTDS_EXCEPTIONS)
    assert len(paired) == 20  # with ECS29e and ECS29f, given the ESME's variant


def test_the_two_rms_templates_are_the_same_request() -> None:
    d = duiskit.require_duis() / "templates"
    e, f = (d / f"ECS29{x}_6.27_SUCCESS_REQUEST_DUIS.XML" for x in "ef")
    assert e.read_bytes() == f.read_bytes()  # no body rule can pick ECS29e or ECS29f
    request = model.parse(e.read_bytes())
    result = transform.transform(request, target_type="ESME", keys=_fresh_keys(), now=NOW)
    assert isinstance(result, Refusal) and "C" in result.reason
    for variant, use_case in (
        ("A", "ECS29e"),
        ("B", "ECS29e"),
        ("C", "ECS29f"),
    ):
        made = transform.transform(
            request, target_type="ESME", keys=_fresh_keys(), now=NOW, esme_variant=variant
        )
        assert isinstance(made, Transformed) and made.use_case == use_case
