"""DUIS configuration SRVs -> GBCS (emulator.duis.routes_config): typed bodies, the body's
values in the GBCS, the use case each body chooses, the DCC's Issuer Event ID, the
refusals, and the RTDS templates refused."""

from __future__ import annotations

import ast
import dataclasses
import json
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from lxml import etree

from emulator.duis import model, routes_config, tables, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.routes_config import (
    BillingCalendar,
    ClearEventLog,
    DuisDate,
    ElectricityBillingCalendar,
    GasConversion,
    GasFlow,
    ImportMpxn,
    LoadLimitingGeneralSettings,
    MaximumDemandReset,
    PhaseVoltageSettings,
    SynchroniseClock,
)
from emulator.duis.transform import Refusal, Transformed
from gbcs.codec import decode
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import DEFAULT_ACB, Verdict, check_mac
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import duiskit, interop

# The DCC's build time for the RTDS GSME commands whose ZCL Issuer Event ID (or Display
# Message ID) the DCC writes: each carries 0x1C374A80, the ZCL UTCTime of this instant
# (checked against the RTDS GBCS below).
_RTDS_ISSUE = datetime(2015, 1, 1, tzinfo=UTC)
RTDS_NOW: dict[str, datetime] = {
    f"{stem}_SUCCESS_REQUEST_DUIS.XML": _RTDS_ISSUE
    for stem in (
        "GCS07_3.1",
        "GCS44_3.4",
        "GCS23_6.6",
        "GCS24_6.7",
        "GCS24a_6.7",
        "GCS25_6.8",
        "GCS25a_6.8",
        "GCS41_6.20.1",
    )
}
# ECS39b: the DCC (the ACB) originates it for the Export Supplier, with its own counter.
RTDS_DCC_COUNTER: dict[str, int] = {"ECS39b_6.20.2_SUCCESS_REQUEST_DUIS.XML": 1300}
# Transformed by the rules, but not RTDS's GBCS: the RTDS 4.5.0 GCS09 command carries
# another restriction date-time (2016-11-22T02:46:56Z) than the 4.9.1 template
# (2015-02-01); with that date in the request it is RTDS's byte for byte (tested below).
RTDS_DIFFERENT: dict[str, str] = {
    "GCS09_3.2_SUCCESS_REQUEST_DUIS.XML": "another restriction date-time",
}
# Templates of this group's SRVs that are refused, and why (routes_config.py).
RTDS_EXCEPTIONS: dict[str, str] = {
    # a twin-element ESME: the ECS39a entry writes the import MPAN only
    "ECS39a_6.20.1_TWIN_SUCCESS_REQUEST_DUIS.XML": "SecondaryImportMPAN",
    # three of five descriptions; ECS46a writes all five
    "ECS46a_6.14.1_SOME_OPTIONALS_SUCCESS_REQUEST_DUIS.XML": "partial updates",
}

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ZCL_NOW = 820540800  # ZCL UTCTime of NOW: seconds since 2000-01-01T00:00:00Z


def _body(name: str, inner: str = "") -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def _el(name: str, inner: str = "") -> etree._Element:
    return _body(name, inner).element()


def _request(variant: str, body: Body, *, target: str = ESME, cv: int | None = None) -> Request:
    srv = _srv(variant)
    rid = RequestId.parse(f"{USER}:{target}:4242")
    command_variant = cv if cv is not None else (4 if srv.critical else 1)
    return Request(RequestHeader(rid, command_variant, srv.reference, variant), body)


def _srv(variant: str) -> tables.Srv:
    srv = tables.srv(variant)
    assert srv is not None
    return srv


def _fresh_keys(*devices: str) -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, *(bytes.fromhex(d.replace("-", "")) for d in devices)):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


def _run(
    variant: str, name: str, inner: str, device: str, *, now: datetime = NOW
) -> Transformed | Refusal:
    target = ESME if device == "ESME" else GSME
    return transform.transform(
        _request(variant, _body(name, inner), target=target),
        target_type=device,
        keys=_fresh_keys(target),
        now=now,
    )


def _built(variant: str, name: str, inner: str, device: str, **kw: Any) -> tuple[Transformed, Any]:
    result = _run(variant, name, inner, device, **kw)
    assert isinstance(result, Transformed), result
    return result, decode(result.gbcs).payload


def _refused(variant: str, name: str, inner: str, device: str = "ESME") -> Refusal:
    result = _run(variant, name, inner, device)
    assert isinstance(result, Refusal), result
    assert "\n" not in result.line()
    return result


def _values(payload: Any) -> list[Any]:
    """The DLMS data values of an access request."""
    return [d.value for d in payload.data]


def _gbz(payload: Any, i: int = 0) -> Any:
    return payload.components[i].body


def _x(name: str, value: Any) -> str:
    return f"<sr:{name}>{value}</sr:{name}>"


# --- the DCC's Issuer Event ID ---------------------------------------------------------------


def test_the_zcl_utc_time_counts_seconds_from_2000() -> None:
    assert routes_config.zcl_utc_time(datetime(2015, 1, 1, tzinfo=UTC)) == 0x1C374A80
    assert routes_config.zcl_utc_time(NOW) == ZCL_NOW
    assert routes_config.zcl_utc_time(datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1


@pytest.mark.parametrize(
    "when", [datetime(1999, 12, 31, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)]
)
def test_a_time_outside_zcl_utc_time_is_refused(when: datetime) -> None:
    result = _run(
        "3.4",
        "UpdateSupplierName",
        _x("SupplierName", "A") + _x("SupplierTelephoneNumber", "1"),
        "GSME",
        now=when,
    )
    assert isinstance(result, Refusal) and "does not fit a ZCL UTCTime" in result.reason


def test_the_issuer_event_id_is_the_dcc_build_time() -> None:
    inner = _x("SupplierName", "E-ON") + _x("SupplierTelephoneNumber", "0333 202 4650")
    early, p1 = _built("3.4", "UpdateSupplierName", inner, "GSME", now=NOW)
    later = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    _, p2 = _built("3.4", "UpdateSupplierName", inner, "GSME", now=later)
    assert (_gbz(p1).issuer_event_id, _gbz(p2).issuer_event_id) == (ZCL_NOW, ZCL_NOW + 10)
    assert early.use_case == "GCS44"
    assert (_gbz(p1).proposed_provider_name, _gbz(p1).proposed_provider_contact_details) == (
        b"E-ON",
        b"0333 202 4650",
    )


def test_rtds_now_is_the_issuer_event_id_rtds_carries() -> None:
    # each template given a DCC build time carries, in its RTDS GBCS, the ZCL UTCTime of it
    d = duiskit.require_duis()
    interop.require_interop()
    rows = {
        r["template"]: r
        for r in map(json.loads, (d / "pairs.jsonl").read_text().splitlines())
        if r["template"] in RTDS_NOW
    }
    assert set(rows) == set(RTDS_NOW)
    for name, row in rows.items():
        vectors = row["gbcs_vectors"]
        vector = interop.by_id(vectors["precommand"] or vectors["command"])
        payload = decode(bytes.fromhex(vector["hex"])).payload
        ids = {
            getattr(c.body, f)
            for c in payload.components
            for f in ("issuer_event_id", "message_id")
            if hasattr(c.body, f)
        }
        assert ids == {routes_config.zcl_utc_time(RTDS_NOW[name])}, name


# --- 3.1 - 3.4 -------------------------------------------------------------------------------


def test_display_message_reaches_both_meters() -> None:
    inner = _x("SupplierMessage", "Top up soon")
    result, payload = _built("3.1", "DisplayMessage", inner, "ESME")
    assert result.use_case == "ECS10" and _values(payload) == [b"Top up soon"]
    result, payload = _built("3.1", "DisplayMessage", inner, "GSME")
    assert result.use_case == "GCS07"
    assert (_gbz(payload).message, _gbz(payload).message_id) == (b"Top up soon", ZCL_NOW)


def test_a_future_dated_display_message_is_held_by_the_dsp() -> None:
    inner = _x("ExecutionDateTime", "2026-02-01T10:00:00Z") + _x("SupplierMessage", "Hi")
    result, payload = _built("3.1", "DisplayMessage", inner, "ESME")
    assert result.send_at == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert _values(payload) == [b"Hi"]


def test_restrict_access_writes_the_restriction_date_time() -> None:
    inner = _x("RestrictionDateTime", "2026-03-27T15:45:32.25Z")
    result, payload = _built("3.2", "RestrictAccessForChangeOfTenancy", inner, "ESME")
    assert result.use_case == "ECS12"
    value = _values(payload)[0]
    assert (int.from_bytes(value[:2], "big"), *value[2:4], *value[5:9]) == (
        2026,
        3,
        27,
        15,
        45,
        32,
        25,
    )


@pytest.mark.parametrize(
    ("device", "inner", "use_case"),
    [
        ("ESME", _x("ESMEEventLogType", "ESME"), "ECS15a"),
        ("ESME", _x("ESMEEventLogType", "ALCS"), "ECS15c"),
        ("GSME", "", "CS11"),
        ("GPF", "", "CS11"),
    ],
)
def test_clear_event_log_chooses_by_device_and_log_type(
    device: str, inner: str, use_case: str
) -> None:
    body = transform.ROUTES["3.3"].parse(_el("ClearEventLog", inner))
    assert body == ClearEventLog(inner[inner.find(">") + 1 : inner.find("</")] or None)
    result, _ = _built("3.3", "ClearEventLog", inner, device)
    assert result.use_case == use_case


@pytest.mark.parametrize(
    ("device", "inner", "words"),
    [
        ("ESME", "", "needs ESMEEventLogType"),
        ("GSME", _x("ESMEEventLogType", "ESME"), "ESMEEventLogType is for an ESME"),
        ("ESME", _x("ESMEEventLogType", "GAS"), "ClearEventLog/ESMEEventLogType: 'GAS' is not one"),
        ("ESME", _x("ExecutionDateTime", "2026-01-01T00:00:00Z"), "unexpected ExecutionDateTime"),
    ],
)
def test_bad_clear_event_log_requests_are_refused(device: str, inner: str, words: str) -> None:
    assert words in _refused("3.3", "ClearEventLog", inner, device).reason


def test_update_supplier_name_reaches_the_esme() -> None:
    inner = _x("SupplierName", "Acme") + _x("SupplierTelephoneNumber", "0800 123")
    result, payload = _built("3.4", "UpdateSupplierName", inner, "ESME")
    assert result.use_case == "ECS16" and _values(payload) == [b"0800 123", b"Acme"]


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (_x("SupplierName", "Acme"), "UpdateSupplierName: no SupplierTelephoneNumber"),
        (_x("SupplierName", "A" * 16) + _x("SupplierTelephoneNumber", "1"), "1..15 printable"),
        (_x("SupplierName", "A") + _x("SupplierTelephoneNumber", "+44"), "digits and spaces"),
    ],
)
def test_bad_supplier_names_are_refused(inner: str, words: str) -> None:
    assert words in _refused("3.4", "UpdateSupplierName", inner).reason


# --- 6.4 load limiting ------------------------------------------------------------------------

_LOAD_LIMIT = (
    _x("LoadLimitPeriod", 300)
    + _x("LoadLimitPowerThreshold", 6900)
    + _x("LoadLimitRestorationPeriod", 30)
    + _x("LoadLimitSupplyState", "Disable")
)
_LL = "UpdateDeviceConfigurationLoadLimitingGeneralSettings"


def test_load_limiting_body_parses_into_its_typed_body() -> None:
    route = transform.ROUTES["6.4.1"]
    assert route.parse(_el(_LL, _LOAD_LIMIT)) == LoadLimitingGeneralSettings(
        300, 6900, 30, "Disable"
    )


def test_load_limiting_is_the_pre_command_with_the_body_values() -> None:
    result, payload = _built("6.4.1", _LL, _LOAD_LIMIT, "ESME")
    assert result.use_case == "ECS28a" and result.pre_command and result.send_at is None
    msg = decode(result.gbcs)
    assert msg.envelope is Envelope.GENERAL_SIGNING and msg.signature_form is SignatureForm.ABSENT
    values = _values(payload)
    assert values[:4] == [255, 6900, 300, 30]  # supply state true: Disable
    assert all(v[:9] == bytes(9) for v in values[4:])  # activation: now


def test_load_limiting_future_dated_by_the_device_carries_the_time() -> None:
    inner = _x("ExecutionDateTime", "2030-01-15T09:00:00Z") + _LOAD_LIMIT.replace(
        "Disable", "Unchanged"
    )
    result, payload = _built("6.4.1", _LL, inner, "ESME")
    assert result.send_at is None  # the device holds it, not the DSP
    values = _values(payload)
    assert values[0] == 0  # Unchanged
    for v in values[4:]:
        assert (int.from_bytes(v[:2], "big"), v[2], v[3], v[5], v[6]) == (2030, 1, 15, 9, 0)


def test_load_limiting_bad_supply_state_is_refused() -> None:
    inner = _LOAD_LIMIT.replace("Disable", "Off")
    assert (
        "LoadLimitSupplyState: 'Off' is not one of Disable" in _refused("6.4.1", _LL, inner).reason
    )


def test_load_limiting_counter_reset_takes_no_fields() -> None:
    result, _ = _built("6.4.2", "UpdateDeviceConfigurationLoadLimitingCounterReset", "", "ESME")
    assert result.use_case == "ECS28b"


# --- 6.5 voltage --------------------------------------------------------------------------------

_RMS = "".join(
    _x(n, v)
    for n, v in (
        ("RMSExtremeOverVoltageMeasurementPeriod", 31),
        ("RMSExtremeOverVoltageThreshold", 287),
        ("RMSExtremeUnderVoltageMeasurementPeriod", 32),
        ("RMSExtremeUnderVoltageThreshold", 180),
        ("RMSVoltageSagMeasurementPeriod", 33),
        ("RMSVoltageSagThreshold", 216),
        ("RMSVoltageSwellMeasurementPeriod", 34),
        ("RMSVoltageSwellThreshold", 253),
    )
)


def _average(over: int, under: int, period: int) -> str:
    return (
        _x("AverageRMSOverVoltageThreshold", over)
        + _x("AverageRMSUnderVoltageThreshold", under)
        + _x("AverageRMSVoltageMeasurementPeriod", period)
    )


_SINGLE = _x("SinglePhaseVoltageSettings", _average(264, 200, 35))
_POLY = "".join(
    _x(
        "PolyPhaseVoltageSettings",
        _x("Phase", n) + _x("PhaseVoltageSettings", _average(260 + n, 190 + n, 40 + n)),
    )
    for n in (3, 1, 2)
)
_NOT_RESET = "<sr:RMSVoltageCountersNotReset/>"
_VOLTAGE = "UpdateDeviceConfigurationVoltage"


def test_voltage_body_parses_phases_in_order() -> None:
    body = transform.ROUTES["6.5"].parse(_el(_VOLTAGE, _x("RMSVoltageSettings", _RMS) + _POLY))
    assert body.poly_phase and not body.counters_not_reset
    assert body.phases[0] == PhaseVoltageSettings(1, 261, 191, 41)
    assert [p.phase for p in body.phases] == [1, 2, 3]
    assert body.rms.voltage_swell_threshold == 253


@pytest.mark.parametrize(
    ("settings", "use_case"),
    [
        (_SINGLE, "ECS29a"),
        (_POLY, "ECS29b"),
        (_SINGLE + _NOT_RESET, "ECS29c"),
        (_POLY + _NOT_RESET, "ECS29d"),
    ],
)
def test_voltage_chooses_by_phases_and_counter_reset(settings: str, use_case: str) -> None:
    result, payload = _built("6.5", _VOLTAGE, _x("RMSVoltageSettings", _RMS) + settings, "ESME")
    assert result.use_case == use_case
    values = _values(payload)
    for v in (287, 180, 216, 253, 31, 32, 33, 34):
        assert v in values
    expected = (264, 200, 35) if "Single" in settings else (261, 262, 263, 191, 192, 193, 42)
    for v in expected:
        assert v in values


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (_SINGLE, "UpdateDeviceConfigurationVoltage: no RMSVoltageSettings"),
        (_x("RMSVoltageSettings", _RMS), "expected one SinglePhaseVoltageSettings or three"),
        (
            _x("RMSVoltageSettings", _RMS) + _SINGLE + _POLY,
            "expected one SinglePhaseVoltageSettings",
        ),
        (
            _x("RMSVoltageSettings", _RMS) + _POLY.replace("<sr:Phase>3<", "<sr:Phase>1<"),
            "phases 1, 2 and 3",
        ),
        (
            _x("RMSVoltageSettings", _RMS.replace(">287<", ">-1<")),
            "RMSVoltageSettings/RMSExtremeOverVoltageThreshold: -1 is not in",
        ),
        (_x("RMSVoltageSettings", _RMS.replace(">287<", ">x<")), "not an integer: 'x'"),
    ],
)
def test_bad_voltage_bodies_are_refused(inner: str, words: str) -> None:
    assert words in _refused("6.5", _VOLTAGE, inner).reason


# --- 6.6 / 6.7 gas -------------------------------------------------------------------------------

_CONVERSION = "UpdateDeviceConfigurationGasConversion"
_FLOW = "UpdateDeviceConfigurationGasFlow"


def test_gas_conversion_scales_the_decimals() -> None:
    inner = _x("CalorificValue", "39.5") + _x("ConversionFactor", "1.02264")
    assert transform.ROUTES["6.6"].parse(_el(_CONVERSION, inner)) == GasConversion(
        Decimal("39.5"), Decimal("1.02264")
    )
    result, payload = _built("6.6", _CONVERSION, inner, "GSME")
    assert result.use_case == "GCS23" and result.pre_command
    factor, calorific = _gbz(payload, 0), _gbz(payload, 1)
    assert (factor.conversion_factor, calorific.calorific_value) == (102264, 395)
    assert factor.issuer_event_id == calorific.issuer_event_id == ZCL_NOW


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (
            _x("CalorificValue", "39.55") + _x("ConversionFactor", "1"),
            "more than 1 fraction digits",
        ),
        (_x("CalorificValue", "abc") + _x("ConversionFactor", "1"), "not a decimal"),
        (_x("CalorificValue", "-1") + _x("ConversionFactor", "1"), "outside 0..429496729.5"),
        (_x("CalorificValue", "1"), "no ConversionFactor"),
        (
            _x("ExecutionDateTime", "2026-01-01T00:00:00Z")
            + _x("CalorificValue", "1")
            + _x("ConversionFactor", "1"),
            "unexpected ExecutionDateTime",
        ),
    ],
)
def test_bad_gas_conversions_are_refused(inner: str, words: str) -> None:
    assert words in _refused("6.6", _CONVERSION, inner, "GSME").reason


_FLOW_REST = (
    _x("SupplyDepletionState", "Locked")
    + _x("SupplyTamperState", "Unchanged")
    + _x("StabilisationPeriod", 60)
    + _x("MeasurementPeriod", 300)
)


@pytest.mark.parametrize(
    ("rate", "use_case", "threshold", "divisor"),
    [
        (_x("UncontrolledGasFlowRate", 12), "GCS24", 12, 1),
        (_x("UncontrolledGasFlowRateDecimal", "6.168"), "GCS24a", 61680, 10000),
    ],
)
def test_gas_flow_chooses_by_the_rate_element(
    rate: str, use_case: str, threshold: int, divisor: int
) -> None:
    result, payload = _built("6.7", _FLOW, rate + _FLOW_REST, "GSME")
    assert result.use_case == use_case
    flow, status = _gbz(payload, 0), _gbz(payload, 1)
    assert (flow.uncontrolled_flow_threshold, flow.divisor) == (threshold, divisor)
    assert (flow.stabilisation_period, flow.measurement_period) == (60, 300)
    assert status.supply_depletion_state != status.supply_tamper_state  # Locked vs Unchanged
    assert flow.issuer_event_id == status.issuer_event_id == ZCL_NOW


def test_gas_flow_body_parses_into_its_typed_body() -> None:
    body = transform.ROUTES["6.7"].parse(_el(_FLOW, _x("UncontrolledGasFlowRate", 5) + _FLOW_REST))
    assert body == GasFlow(5, None, "Locked", "Unchanged", 60, 300)


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (_FLOW_REST, "expected one of UncontrolledGasFlowRate or UncontrolledGasFlowRateDecimal"),
        (
            _x("UncontrolledGasFlowRate", 1) + _x("UncontrolledGasFlowRateDecimal", 1) + _FLOW_REST,
            "expected one of",
        ),
        (_x("UncontrolledGasFlowRate", 70000) + _FLOW_REST, "70000 is not in 0..65535"),
        (
            _x("UncontrolledGasFlowRate", 1) + _FLOW_REST.replace("Locked", "Open"),
            "'Open' is not one of",
        ),
        (
            _x("UncontrolledGasFlowRate", 1) + _FLOW_REST.replace(">60<", ">0<"),
            "0 is not in 1..255",
        ),
    ],
)
def test_bad_gas_flows_are_refused(inner: str, words: str) -> None:
    assert words in _refused("6.7", _FLOW, inner, "GSME").reason


# --- 6.8 billing calendar -----------------------------------------------------------------------

_CAL = "UpdateDeviceConfigurationBillingCalendar"


def _elec(period: str) -> str:
    return _x("ElectricityBillingCalendar", _x("BillingTime", "12:30:00Z") + period)


def _gas(periodicity: str) -> str:
    return _x(
        "GasBillingCalendar",
        _x("BillingPeriodStart", "2026-02-01T00:00:00Z") + _x("Periodicity", periodicity),
    )


def _entries(payload: Any) -> list[tuple[bytes, bytes]]:
    return [(s.value[0].value, s.value[1].value) for s in payload.data[0].value]


@pytest.mark.parametrize(
    ("period", "use_case", "dates"),
    [
        ("<sr:Daily/>", "ECS30", [b"\xff\xff\xff\xff\xff"]),
        (_x("Weekly", 3), "ECS30", [b"\xff\xff\xff\xff\x03"]),
        (_x("Monthly", 15), "ECS30", [b"\xff\xff\xff\x0f\xff"]),
        (
            _x("Quarterly", _x("DayOfMonth", 2) + _x("BillingPeriodStartMonth", 2)),
            "ECS30a",
            [
                b"\xff\xff\x02\x02\xff",
                b"\xff\xff\x05\x02\xff",
                b"\xff\xff\x08\x02\xff",
                b"\xff\xff\x0b\x02\xff",
            ],
        ),
        (
            _x("SixMonthly", _x("DayOfMonth", 28) + _x("BillingPeriodStartMonth", 9)),
            "ECS30a",
            [b"\xff\xff\x09\x1c\xff", b"\xff\xff\x03\x1c\xff"],
        ),
        (
            _x("Yearly", _x("DayOfMonth", 1) + _x("BillingPeriodStartMonth", 12)),
            "ECS30a",
            [b"\xff\xff\x0c\x01\xff"],
        ),
    ],
)
def test_electricity_billing_calendar_chooses_and_writes_the_dates(
    period: str, use_case: str, dates: list[bytes]
) -> None:
    result, payload = _built("6.8", _CAL, _elec(period), "ESME")
    assert result.use_case == use_case and result.pre_command
    assert _entries(payload) == [(b"\x0c\x1e\x00\x00", d) for d in dates]


def test_a_billing_time_with_an_offset_is_taken_as_utc() -> None:
    body = transform.ROUTES["6.8"].parse(
        _el(
            _CAL,
            _x("ElectricityBillingCalendar", _x("BillingTime", "13:30:00+01:00") + "<sr:Daily/>"),
        )
    )
    assert body == BillingCalendar(ElectricityBillingCalendar(time(12, 30), "Daily"))


@pytest.mark.parametrize(
    ("periodicity", "use_case", "duration"),
    [
        ("Daily", "GCS25", 1),
        ("Monthly", "GCS25", 1),
        ("Quarterly", "GCS25a", 3),
        ("Yearly", "GCS25a", 12),
    ],
)
def test_gas_billing_calendar_chooses_and_writes_the_period(
    periodicity: str, use_case: str, duration: int
) -> None:
    result, payload = _built("6.8", _CAL, _gas(periodicity), "GSME")
    assert result.use_case == use_case
    billing, block = _gbz(payload, 0), _gbz(payload, 1)
    start = routes_config.zcl_utc_time(datetime(2026, 2, 1, tzinfo=UTC))
    assert billing.billing_period_start_time == block.block_period_start_time == start
    assert billing.billing_period_duration == block.block_period_duration == duration
    assert billing.issuer_event_id == ZCL_NOW


@pytest.mark.parametrize(
    ("device", "inner", "words"),
    [
        ("ESME", _gas("Monthly"), "an ESME takes an ElectricityBillingCalendar"),
        ("GSME", _elec("<sr:Daily/>"), "a GSME takes a GasBillingCalendar"),
        ("ESME", _elec(_x("Monthly", 29)), "29 is not in 1..28"),
        ("ESME", _elec(_x("Fortnightly", 1)), "unexpected Fortnightly"),
        ("ESME", _elec(""), "expected one of Daily, Weekly"),
        ("GSME", _gas("Hourly"), "'Hourly' is not one of Daily"),
        ("ESME", "", "expected one of ElectricityBillingCalendar or GasBillingCalendar"),
    ],
)
def test_bad_billing_calendars_are_refused(device: str, inner: str, words: str) -> None:
    assert words in _refused("6.8", _CAL, inner, device).reason


# --- 6.11 / 6.12 ---------------------------------------------------------------------------------

_CLOCK = _x("CurrentDateTime", "2026-01-01T12:00:00Z") + _x("TolerancePeriod", 90)


def test_synchronise_clock_sets_the_window_from_the_tolerance() -> None:
    assert transform.ROUTES["6.11"].parse(_el("SynchroniseClock", _CLOCK)) == SynchroniseClock(
        datetime(2026, 1, 1, 12, tzinfo=UTC), 90
    )
    result, payload = _built("6.11", "SynchroniseClock", _CLOCK, "GSME")
    assert result.use_case == "GCS28" and result.pre_command
    assert (payload.typed.validity_interval_start, payload.typed.validity_interval_end) == (
        datetime(2026, 1, 1, 12, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 1, 30, tzinfo=UTC),
    )
    result, payload = _built("6.11", "SynchroniseClock", _CLOCK, "ESME")
    assert result.use_case == "ECS70"
    window = payload.data[1].value
    assert window[1].value[:8] == b"\x07\xea\x01\x01\xff\x0c\x00\x00"
    assert window[2].value[:8] == b"\x07\xea\x01\x01\xff\x0c\x01\x1e"


def test_a_tolerance_past_a_day_is_refused() -> None:
    inner = _CLOCK.replace(">90<", ">86401<")
    assert "86401 is not in 0..86400" in _refused("6.11", "SynchroniseClock", inner).reason


def test_power_thresholds_reach_the_esme() -> None:
    inner = _x("LowMediumPowerThreshold", 2300) + _x("MediumHighPowerThreshold", 4600)
    name = "UpdateDeviceConfigurationInstantaneousPowerThreshold"
    result, payload = _built("6.12", name, inner, "ESME")
    assert result.use_case == "ECS34"
    assert [d.value for d in payload.data[0].value] == [2300, 4600]
    assert (
        "no MediumHighPowerThreshold"
        in _refused("6.12", name, inner[: inner.index("<sr:Med")]).reason
    )


# --- 6.14.1 switch descriptions -----------------------------------------------------------------

_ALC = "UpdateDeviceConfigurationALCDescriptions"


def _descriptions(*indices: int) -> str:
    return "".join(
        f'<sr:ALCSHCALCSDescription index="{i}">{_x("SwitchDescription", f"Heater {i}")}'
        "</sr:ALCSHCALCSDescription>"
        for i in indices
    )


def test_all_five_switch_descriptions_reach_the_esme() -> None:
    result, payload = _built("6.14.1", _ALC, _descriptions(5, 4, 3, 2, 1), "ESME")
    assert result.use_case == "ECS46a" and result.pre_command
    assert _values(payload) == [f"Heater {i}" for i in range(1, 6)]


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (_descriptions(2, 3), "leaves out switch 1, 4, 5"),
        (_descriptions(1, 1), "index 1 given twice"),
        (_descriptions(6), "ALCSHCALCSDescription/@index: 6 is not in 1..5"),
        ("", "expected 1..5 ALCSHCALCSDescription"),
    ],
)
def test_bad_switch_descriptions_are_refused(inner: str, words: str) -> None:
    assert words in _refused("6.14.1", _ALC, inner).reason


# --- 6.14.2 switch scheduler ---------------------------------------------------------------------

_SCHEDULER = "UpdateDeviceConfigurationALCScheduler"


def _date(year: str = "", month: str = "", day: str = "", weekday: str = "") -> str:
    def part(name: str, value: str, other: str = "") -> str:
        if other:
            return _x(name, f"<sr:{other}/>")
        if value:
            return _x(name, _x(f"Specified{name}", value))
        return _x(name, f"<sr:NonSpecified{name}/>")

    last = "LastDayOfMonth" if day == "last" else ""
    return (
        part("Year", year)
        + part("Month", month)
        + part("DayOfMonth", "" if last else day, last)
        + part("DayOfWeek", weekday)
    )


def _switching(
    switch: int, action: str, at: str, *, days: tuple[str, ...] = (), special: tuple[int, ...] = ()
) -> str:
    week = "".join(_x("DayOfWeekApplicability", _x("DayOfWeekID", d)) for d in days)
    act = f'<sr:ActivateDeactivateSwitch index="{switch}"><sr:{action}/>'
    return _x(
        "ALCSHCALCSConnectionSchedule",
        act
        + "</sr:ActivateDeactivateSwitch>"
        + "".join(f'<sr:SpecialDaysApplicability index="{i}"/>' for i in special)
        + (_x("DaysOfWeekApplicability", week) if days else "")
        + _x(
            "ALCSScheduleDatesAndTime",
            _x("SwitchTime", at)
            + _x("StartDate", _date(month="06", day="21"))
            + _x("EndDate", _date(year="2031", day="last")),
        ),
    )


_SPECIAL_DAYS = _x(
    "ALCSHCALCSSpecialDays",
    f'<sr:ALCSHCALCSSpecialDay index="1">{_date(month="12", day="25")}</sr:ALCSHCALCSSpecialDay>'
    f'<sr:ALCSHCALCSSpecialDay index="2">{_date(year="2030", month="04", day="03")}'
    "</sr:ALCSHCALCSSpecialDay>",
)
_SWITCHES = (
    '<sr:SwitchTypeAndId index="2"><sr:HCALCS>00-DB-12-34-56-78-90-97</sr:HCALCS>'
    '</sr:SwitchTypeAndId><sr:SwitchTypeAndId index="1"><sr:ALCS/></sr:SwitchTypeAndId>'
)
_SCHEDULE = (
    _switching(1, "ActivateSwitch", "06:00:00Z", days=("Monday", "Sunday"))
    + _switching(2, "DeactivateSwitch", "21:30:00Z", special=(2,))
    + _SPECIAL_DAYS
    + _SWITCHES
)


def test_switch_scheduler_body_parses_into_its_typed_body() -> None:
    body = transform.ROUTES["6.14.2"].parse(_el(_SCHEDULER, _SCHEDULE))
    first, second = body.schedule
    assert (first.switch, first.activate, first.weekdays, first.special_days) == (
        1,
        True,
        ("Monday", "Sunday"),
        (),
    )
    assert (second.switch, second.activate, second.weekdays, second.special_days) == (
        2,
        False,
        None,
        (2,),
    )
    assert first.start_date == DuisDate(None, 6, 21, None)
    assert first.end_date == DuisDate(2031, None, 0xFE, None)
    assert body.special_days[1] == (2, DuisDate(2030, 4, 3, None))
    assert body.switch_types == ((2, bytes.fromhex("00DB123456789097")), (1, None))


def test_switch_scheduler_reaches_the_esme_schedule() -> None:
    result, payload = _built("6.14.2", _SCHEDULER, _SCHEDULE, "ESME")
    assert result.use_case == "ECS46c" and result.pre_command
    values = _values(payload)
    assert values[:2] == [bytes(8), bytes.fromhex("00DB123456789097")]  # switches 1, 2
    days = [tuple(f.value for f in d.value) for d in values[2]]
    assert days == [(1, b"\xff\xff\x0c\x19\xff", 1), (2, b"\x07\xee\x04\x03\xff", 2)]
    entries = [[f.value for f in e.value] for e in values[3]]
    first, second = entries
    assert (first[0], first[3], first[4]) == (1, 0x0101, b"\x06\x00\x00\x00")
    assert (second[0], second[3], second[4]) == (2, 0x0202, b"\x15\x1e\x00\x00")
    assert (first[6].length, first[6].data) == (7, b"\x82")  # Monday and Sunday
    assert (second[6].length, second[6].data) == (7, b"\x00")
    assert (first[7].length, second[7].length, second[7].data) == (2, 2, b"\x40")
    assert first[8:] == [b"\xff\xff\x06\x15\xff", b"\x07\xef\xff\xfe\xff"]
    assert all(v[:9] == bytes(9) for v in values[4:])  # activation: now


def test_a_future_dated_switch_schedule_carries_the_time() -> None:
    inner = _x("ExecutionDateTime", "2030-01-15T09:00:00Z") + _SCHEDULE
    result, payload = _built("6.14.2", _SCHEDULER, inner, "ESME")
    assert result.send_at is None
    for v in _values(payload)[4:]:
        assert (int.from_bytes(v[:2], "big"), v[2], v[3], v[5]) == (2030, 1, 15, 9)


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (
            _SCHEDULE.replace("(2,)", "").replace('index="2"/>', 'index="3"/>'),
            "names special day 3, which ALCSHCALCSSpecialDays does not define",
        ),
        (_SCHEDULE.replace("00-DB-12-34-56-78-90-97", "00DB"), "HCALCS: not an EUI-64"),
        (_SCHEDULE.replace("<sr:ActivateSwitch/>", ""), "expected one of ActivateSwitch"),
        (_SCHEDULE.replace("Sunday", "Funday"), "'Funday' is not one of Monday"),
        (
            _SCHEDULE.replace(
                'ActivateDeactivateSwitch index="1"', 'ActivateDeactivateSwitch index="6"'
            ),
            "ActivateDeactivateSwitch/@index: 6 is not in 1..5",
        ),
        (
            _SCHEDULE.replace("<sr:SpecifiedMonth>06", "<sr:SpecifiedMonth>13"),
            "13 is not in 1..12",
        ),
        (_SPECIAL_DAYS, "expected 1..48 ALCSHCALCSConnectionSchedule"),
        (_SCHEDULE.replace(_SPECIAL_DAYS, ""), "no ALCSHCALCSSpecialDays"),
    ],
)
def test_bad_switch_schedules_are_refused(inner: str, words: str) -> None:
    assert words in _refused("6.14.2", _SCHEDULER, inner).reason


# --- 6.18 maximum demand -----------------------------------------------------------------------

_MD_PERIOD = "SetMaximumDemandConfigurableTimePeriod"


def test_maximum_demand_window_reaches_the_schedule() -> None:
    inner = _x(
        "MaximumDemandTimePeriodSchedule", _x("StartTime", "07:15:00Z") + _x("EndTime", "09:45:00Z")
    )
    result, payload = _built("6.18.1", _MD_PERIOD, inner, "ESME")
    assert result.use_case == "ECS37"
    entries = [e.value for e in payload.data[0].value]
    # (index, selector, switch time): the DCC numbers the entries 0 and 1
    assert [(e[0].value, e[3].value, e[4].value) for e in entries] == [
        (0, 1, b"\x07\x0f\x00\x00"),
        (1, 2, b"\x09\x2d\x00\x00"),
    ]


def test_a_maximum_demand_window_with_seconds_is_refused() -> None:
    inner = _x(
        "MaximumDemandTimePeriodSchedule", _x("StartTime", "07:15:30Z") + _x("EndTime", "09:45:00Z")
    )
    assert "whole minutes" in _refused("6.18.1", _MD_PERIOD, inner).reason


@pytest.mark.parametrize(
    ("names", "obis_e"),
    [
        (("MaxDemandActivePowerImportValue",), [(1, 0)]),
        (("MaxDemandConfigTimeActivePowerImportValue",), [(1, 1)]),
        (("MaxDemandActivePowerExportValue", "MaxDemandActivePowerImportValue"), [(1, 0), (2, 0)]),
    ],
)
def test_maximum_demand_reset_resets_the_registers_named(
    names: tuple[str, ...], obis_e: list[tuple[int, int]]
) -> None:
    inner = "".join(f"<sr:{n}/>" for n in names)
    result, payload = _built("6.18.2", "ResetMaximumDemandRegisters", inner, "ESME")
    assert result.use_case == "ECS57"
    assert [(s.obis.c, s.obis.e) for s in payload.specs] == obis_e


def test_maximum_demand_reset_body_and_refusals() -> None:
    route = transform.ROUTES["6.18.2"]
    body = route.parse(_el("ResetMaximumDemandRegisters", "<sr:MaxDemandActivePowerExportValue/>"))
    assert body == MaximumDemandReset(False, True, False)
    assert "names no register" in _refused("6.18.2", "ResetMaximumDemandRegisters", "").reason
    bad = _refused(
        "6.18.2", "ResetMaximumDemandRegisters", _x("MaxDemandActivePowerExportValue", 1)
    )
    assert "MaxDemandActivePowerExportValue: expected an empty element" in bad.reason


# --- 6.20 MPxN ---------------------------------------------------------------------------------

_MPXN = "SetDeviceConfigurationImportMPxN"


def test_import_mpan_and_mprn_reach_their_meters() -> None:
    inner = _x("ImportMPANs", _x("ImportMPAN", "1312345678999"))
    result, payload = _built("6.20.1", _MPXN, inner, "ESME")
    assert result.use_case == "ECS39a" and _values(payload) == [b"1312345678999"]
    result, payload = _built("6.20.1", _MPXN, _x("ImportMPRN", "987654"), "GSME")
    assert result.use_case == "GCS41"
    assert (_gbz(payload).site_id, _gbz(payload).issuer_event_id) == (b"987654", ZCL_NOW)
    assert transform.ROUTES["6.20.1"].parse(_el(_MPXN, _x("ImportMPRN", "987654"))) == ImportMpxn(
        import_mprn="987654"
    )


@pytest.mark.parametrize(
    ("device", "inner", "words"),
    [
        ("GSME", _x("ImportMPANs", _x("ImportMPAN", "1312345678999")), "a GSME takes ImportMPRN"),
        ("ESME", _x("ImportMPRN", "1"), "an ESME takes ImportMPANs"),
        ("ESME", _x("ImportMPANs", _x("ImportMPAN", "131")), "ImportMPAN: expected 13 characters"),
        (
            "ESME",
            _x("ImportMPANs", _x("ImportMPAN", "1" * 13) + _x("SecondaryImportMPAN", "2" * 13)),
            "SecondaryImportMPAN",
        ),
        ("ESME", "", "expected one of ImportMPANs or ImportMPRN"),
        ("GSME", _x("ImportMPRN", "12345678901"), "ImportMPRN: expected 1..10 characters"),
    ],
)
def test_bad_mpxn_requests_are_refused(device: str, inner: str, words: str) -> None:
    assert words in _refused("6.20.1", _MPXN, inner, device).reason


def test_export_mpan_is_the_acbs_with_the_export_supplier_as_supplementary_party() -> None:
    name = "SetDeviceConfigurationExportMPAN"
    body = transform.ROUTES["6.20.2"].parse(_el(name, _x("ExportMPAN", "1" * 13)))
    assert body.export_mpan == "1" * 13
    keys = _fresh_keys(ESME)
    request = _request("6.20.2", _body(name, _x("ExportMPAN", "1" * 13)), target=ESME)
    refused = transform.transform(request, target_type="ESME", keys=keys, now=NOW)
    assert isinstance(refused, Refusal) and "give the DCC's counter" in refused.reason
    made = transform.transform(request, target_type="ESME", keys=keys, now=NOW, dcc_counter=5)
    assert isinstance(made, Transformed), made
    msg = decode(made.gbcs)
    assert (msg.originator, msg.counter) == (DEFAULT_ACB, 5)
    assert msg.header.other.srp_id == bytes.fromhex(USER.replace("-", ""))
    assert b"1111111111111" in made.gbcs  # the MPAN written
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


def test_restrict_access_to_a_gpf_hides_data_before_the_restriction_time() -> None:
    inner = _x("RestrictionDateTime", "2026-02-01T00:00:00Z")
    result, payload = _built("3.2", "RestrictAccessForChangeOfTenancy", inner, "GPF")
    body = payload.components[0].body
    assert result.use_case == "GCS09"
    assert body.implementation_date_time == ZCL_NOW + 31 * 86400
    assert body.issuer_event_id == ZCL_NOW  # the DCC's build time


def test_gcs09_is_rtds_with_the_rtds_restriction_time() -> None:
    interop.require_interop()
    name = "GCS09_3.2_SUCCESS_REQUEST_DUIS.XML"
    request = model.parse((duiskit.require_duis() / "templates" / name).read_bytes())
    assert isinstance(request, Request)
    el = request.body.element()
    found = el.find(f"{{{SR_NS}}}RestrictionDateTime")
    assert found is not None
    found.text = "2016-11-22T02:46:56Z"  # the RTDS 4.5.0 command's
    keys = KeyStore()
    keys.load_directory(interop.keys_dir())
    result = transform.transform(
        dataclasses.replace(request, body=Body.of(el)),
        target_type="GPF",
        keys=keys,
        now=datetime(2015, 1, 1, tzinfo=UTC),
    )
    (vector,) = [v for v in interop.vectors() if v["id"].endswith("/GCS09_3.2_SUCCESS_COMMAND")]
    assert isinstance(result, Transformed) and result.gbcs == bytes.fromhex(vector["hex"])


# --- routes and refusals -------------------------------------------------------------------------


def test_non_critical_commands_are_macd_by_the_acb() -> None:
    keys = _fresh_keys(ESME)
    result = transform.transform(
        _request("3.1", _body("DisplayMessage", _x("SupplierMessage", "x"))),
        target_type="ESME",
        keys=keys,
        now=NOW,
    )
    assert isinstance(result, Transformed) and not result.pre_command
    assert check_mac(decode(result.gbcs), keys, DEFAULT_ACB).verdict is Verdict.VALID


def test_every_srv_of_the_group_is_routed_or_says_why() -> None:
    srvs = [
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "6.4.1",
        "6.4.2",
        "6.5",
        "6.6",
        "6.7",
        "6.8",
        "6.11",
        "6.12",
        "6.14.1",
        "6.14.2",
        "6.14.3",
        "6.18.1",
        "6.18.2",
        "6.20.1",
        "6.20.2",
        "6.22",
    ]
    for variant in srvs:
        srv = _srv(variant)
        route = transform.ROUTES.get(variant)
        for device in srv.device_types:
            if device not in transform.EMULATED_DEVICE_TYPES:
                continue
            routed = route is not None and device in route.planners
            assert routed != ((variant, device) in routes_config.NOT_YET), (variant, device)


@pytest.mark.parametrize(
    ("variant", "name", "device", "words"),
    [
        ("6.22", "ConfigureAlertBehaviour", "ESME", "bit position"),
        ("6.22", "ConfigureAlertBehaviour", "GSME", "GCS20"),
        ("6.14.3", "UpdateDeviceConfigurationAuxiliaryControllerScheduler", "ESME", "ECS46d"),
    ],
)
def test_pairs_not_transformed_yet_say_why(
    variant: str, name: str, device: str, words: str
) -> None:
    result = _run(variant, name, "", device)
    assert isinstance(result, Refusal) and "not transformed yet" in result.reason
    assert words in result.reason


def test_the_routes_read_no_files() -> None:
    source = Path(routes_config.__file__).read_text()
    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"open", "Path", "os"}
    assert "shared" not in source
