"""Configuration SRVs: display message, change of tenancy, event logs, supplier name
(3.1-3.4) and device configuration (6.4-6.22): their typed bodies (DUIS 5.4 XSD) and per
device type the GBCS use case they become; :data:`NOT_YET` says what is left out.

Where DUIS offers several GBCS use cases for one device type, the body chooses:

* 3.3 Clear Event Log: a GSME or GPF clears its ZigBee event log (CS11); an ESME clears
  the log ``ESMEEventLogType`` names (``ESME`` ECS15a, ``ALCS`` ECS15c).
* 6.5 Voltage: single-phase settings ECS29a, poly-phase ECS29b; with
  ``RMSVoltageCountersNotReset`` the variants without counter reset, ECS29c and ECS29d.
* 6.7 Gas Flow: ``UncontrolledGasFlowRate`` (whole m3/h) GCS24,
  ``UncontrolledGasFlowRateDecimal`` (0.0001 m3/h) GCS24a.
* 6.8 Billing Calendar: Daily, Weekly and Monthly periods ECS30 / GCS25; the periods only
  the "all periodicities" use cases carry (Quarterly, SixMonthly, Yearly) ECS30a / GCS25a.

Future dating (``tables.srv(v).future_dated``): the DSP holds 3.1, 3.2, 3.4, 6.4.2, 6.5,
6.12, 6.18.1, 6.18.2, 6.20.1 and 6.20.2 until their ``ExecutionDateTime``; the ESME holds
6.4.1 and 6.14.2, whose ``ExecutionDateTime`` goes into the GBCS activation date-times; the
other bodies have no ``ExecutionDateTime`` (XSD) and one is refused as unexpected.

Values the DCC writes that no request carries: a GBZ command's ZCL Issuer Event ID (and the
Display Message's Message ID, a number of the same kind) is, by ZigBee Smart Energy, "a
unique number managed by upstream servers or a UTC based time stamp (UTCTime) identifying
when the Publish command was issued; newer information has a larger value": the DCC
writes the ZCL UTCTime (seconds since 2000-01-01T00:00:00Z) of its build time
(:func:`dcc_issuer_event_id`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from devices.behaviours.maxdemand import ScheduleEntry, default_schedule
from emulator.duis.routing import (
    ACB,
    NotTransformed,
    Plan,
    PlanInput,
    Planner,
    SrvRoute,
    bounded,
    child,
    children,
    cosem_text,
    date_time,
    dcc_issuer_event_id,
    dsp_held,
    local,
    only,
    optional,
    plain,
    required,
    text,
    zcl_utc_time,
)

__all__ = [
    "NOT_YET",
    "ROUTES",
    "BillingCalendar",
    "ClearEventLog",
    "DisplayMessage",
    "DuisDate",
    "ElectricityBillingCalendar",
    "ExportMpan",
    "GasBillingCalendar",
    "GasConversion",
    "GasFlow",
    "ImportMpxn",
    "InstantaneousPowerThresholds",
    "LoadLimitingGeneralSettings",
    "MaximumDemandPeriod",
    "MaximumDemandReset",
    "PhaseVoltageSettings",
    "RestrictAccess",
    "RmsVoltageSettings",
    "SupplierName",
    "SwitchDescriptions",
    "SwitchSchedule",
    "SwitchScheduler",
    "SynchroniseClock",
    "VoltageSettings",
    "dcc_issuer_event_id",
    "zcl_utc_time",
]

_U32 = 0xFFFF_FFFF
_EXECUTION = "ExecutionDateTime"


# --- small readers ----------------------------------------------------------------------


def _only(el: etree._Element, allowed: tuple[str, ...]) -> None:
    """Refuse children the XSD does not give this element, and stray text."""
    extra = [local(c) for c in children(el) if local(c) not in allowed]
    if extra:
        raise NotTransformed(f"{local(el)}: unexpected {', '.join(extra)}")
    if (el.text or "").strip():
        raise NotTransformed(f"{local(el)}: expected elements, found text")


_uint = bounded(0, _U32)


def _choice(*allowed: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return value

    return convert


def _decimal(fraction_digits: int, hi: str) -> Callable[[str], Decimal]:
    def convert(value: str) -> Decimal:
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal: {value!r}") from None
        if not d.is_finite() or not Decimal(0) <= d <= Decimal(hi):
            raise ValueError(f"{value!r} is outside 0..{hi}")
        if d != d.quantize(Decimal(1).scaleb(-fraction_digits)):
            raise ValueError(f"{value!r} has more than {fraction_digits} fraction digits")
        return d

    return convert


def _utc_time(value: str) -> time:
    """An xs:time as the UTC time of day (one without a zone is UTC)."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    t = time.fromisoformat(v)
    if t.tzinfo is None:
        return t
    moved = datetime.combine(datetime(2000, 1, 1).date(), t).astimezone(UTC)
    return moved.time()


def _flag(el: etree._Element, name: str) -> bool:
    """An empty marker element (sr:NoType, sr:Reset): present or not."""
    found = children(el, name)
    if found and (children(found[0]) or (found[0].text or "").strip()):
        raise NotTransformed(f"{local(el)}/{name}: expected an empty element")
    return bool(found)


def _execution(el: etree._Element) -> datetime | None:
    return optional(el, _EXECUTION, date_time)


# --- 3.1 Display Message ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisplayMessage:
    """SRV 3.1 ``DisplayMessage``: the text to show (1..116 printable ASCII)."""

    supplier_message: str
    execution_date_time: datetime | None = None


def _printable(el: etree._Element, name: str, low: int, high: int) -> str:
    value = text(child(el, name))
    if not low <= len(value) <= high or any(not " " <= c <= "~" for c in value):
        raise NotTransformed(
            f"{local(el)}/{name}: expected {low}..{high} printable ASCII characters"
        )
    return value


def parse_display_message(el: etree._Element) -> DisplayMessage:
    """Parse a ``DisplayMessage`` body."""
    _only(el, (_EXECUTION, "SupplierMessage"))
    return DisplayMessage(_printable(el, "SupplierMessage", 1, 116), _execution(el))


def _plan_ecs10(p: PlanInput) -> Plan:
    return Plan("ECS10", {"supplier_message": p.body.supplier_message}, send_at=dsp_held(p))


def _plan_gcs07(p: PlanInput) -> Plan:
    # ZCL Display Message's Message ID is the DCC's, like an Issuer Event ID
    args = {"message_id": dcc_issuer_event_id(p), "supplier_message": p.body.supplier_message}
    return Plan("GCS07", args, send_at=dsp_held(p))


# --- 3.2 Restrict Access For Change Of Tenancy -------------------------------------------


@dataclass(frozen=True, slots=True)
class RestrictAccess:
    """SRV 3.2 ``RestrictAccessForChangeOfTenancy``: data before this instant is hidden."""

    restriction_date_time: datetime
    execution_date_time: datetime | None = None


def parse_restrict_access(el: etree._Element) -> RestrictAccess:
    """Parse a ``RestrictAccessForChangeOfTenancy`` body."""
    _only(el, (_EXECUTION, "RestrictionDateTime"))
    return RestrictAccess(required(el, "RestrictionDateTime", date_time), _execution(el))


def _plan_ecs12(p: PlanInput) -> Plan:
    args = {"restriction_date_time": cosem_text(p.body.restriction_date_time)}
    return Plan("ECS12", args, send_at=dsp_held(p))


def _plan_gcs09(p: PlanInput) -> Plan:
    # the GPF hides data before the restriction date-time (a ZCL UTCTime); the Issuer
    # Event ID is the DCC's (routing.dcc_issuer_event_id)
    args = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "restriction_date_time": p.body.restriction_date_time,
    }
    return Plan("GCS09", args, send_at=dsp_held(p))


# --- 3.3 Clear Event Log --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClearEventLog:
    """SRV 3.3 ``ClearEventLog``: for an ESME, which log (``ESME`` or ``ALCS``)."""

    esme_event_log_type: str | None = None


def parse_clear_event_log(el: etree._Element) -> ClearEventLog:
    """Parse a ``ClearEventLog`` body."""
    _only(el, ("ESMEEventLogType",))
    return ClearEventLog(optional(el, "ESMEEventLogType", _choice("ESME", "ALCS")))


def _plan_clear_esme(p: PlanInput) -> Plan:
    kind = p.body.esme_event_log_type
    if kind is None:
        raise NotTransformed("ClearEventLog to an ESME needs ESMEEventLogType (ESME or ALCS)")
    return Plan("ECS15a" if kind == "ESME" else "ECS15c")


def _plan_cs11(p: PlanInput) -> Plan:
    if p.body.esme_event_log_type is not None:
        raise NotTransformed(f"ClearEventLog to a {p.device}: ESMEEventLogType is for an ESME")
    return Plan("CS11")


# --- 3.4 Update Supplier Name ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupplierName:
    """SRV 3.4 ``UpdateSupplierName``."""

    supplier_name: str
    supplier_telephone_number: str
    execution_date_time: datetime | None = None


def parse_supplier_name(el: etree._Element) -> SupplierName:
    """Parse an ``UpdateSupplierName`` body."""
    _only(el, (_EXECUTION, "SupplierName", "SupplierTelephoneNumber"))
    name = _printable(el, "SupplierName", 1, 15)
    phone = text(child(el, "SupplierTelephoneNumber"))
    if not 1 <= len(phone) <= 18 or any(c not in "0123456789 " for c in phone):
        raise NotTransformed(
            f"{local(el)}/SupplierTelephoneNumber: expected 1..18 digits and spaces"
        )
    return SupplierName(name, phone, _execution(el))


def _supplier_args(p: PlanInput) -> dict[str, Any]:
    return {
        "supplier_name": p.body.supplier_name,
        "supplier_telephone_number": p.body.supplier_telephone_number,
    }


def _plan_ecs16(p: PlanInput) -> Plan:
    return Plan("ECS16", _supplier_args(p), send_at=dsp_held(p))


def _plan_gcs44(p: PlanInput) -> Plan:
    args = {"issuer_event_id": dcc_issuer_event_id(p), **_supplier_args(p)}
    return Plan("GCS44", args, send_at=dsp_held(p))


# --- 6.4.1 Load Limiting General Settings ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadLimitingGeneralSettings:
    """SRV 6.4.1 ``UpdateDeviceConfigurationLoadLimitingGeneralSettings`` (periods in s,
    threshold in W; supply state ``Disable`` or ``Unchanged``)."""

    load_limit_period: int
    load_limit_power_threshold: int
    load_limit_restoration_period: int
    load_limit_supply_state: str
    execution_date_time: datetime | None = None


def parse_load_limiting(el: etree._Element) -> LoadLimitingGeneralSettings:
    """Parse an ``UpdateDeviceConfigurationLoadLimitingGeneralSettings`` body."""
    names = ("LoadLimitPeriod", "LoadLimitPowerThreshold", "LoadLimitRestorationPeriod")
    _only(el, (_EXECUTION, *names, "LoadLimitSupplyState"))
    period, threshold, restoration = (required(el, n, _uint) for n in names)
    state = required(el, "LoadLimitSupplyState", _choice("Disable", "Unchanged"))
    return LoadLimitingGeneralSettings(period, threshold, restoration, state, _execution(el))


def _plan_ecs28a(p: PlanInput) -> Plan:
    b: LoadLimitingGeneralSettings = p.body
    args: dict[str, Any] = {
        "load_limit_supply_state": b.load_limit_supply_state == "Disable",
        "load_limit_power_threshold": b.load_limit_power_threshold,
        "load_limit_period": b.load_limit_period,
        "load_limit_restoration_period": b.load_limit_restoration_period,
    }
    if b.execution_date_time is not None:  # future-dated by the device: into the GBCS
        args["execution_date_time"] = cosem_text(b.execution_date_time)
    return Plan("ECS28a", args)


# --- 6.5 Voltage --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RmsVoltageSettings:
    """``RMSVoltageSettings`` (thresholds in V, measurement periods in s)."""

    extreme_over_voltage_measurement_period: int
    extreme_over_voltage_threshold: int
    extreme_under_voltage_measurement_period: int
    extreme_under_voltage_threshold: int
    voltage_sag_measurement_period: int
    voltage_sag_threshold: int
    voltage_swell_measurement_period: int
    voltage_swell_threshold: int


@dataclass(frozen=True, slots=True)
class PhaseVoltageSettings:
    """``AverageRMSVoltageSettings`` of one phase (phase 1 for a single-phase ESME)."""

    phase: int
    over_voltage_threshold: int
    under_voltage_threshold: int
    measurement_period: int


@dataclass(frozen=True, slots=True)
class VoltageSettings:
    """SRV 6.5 ``UpdateDeviceConfigurationVoltage``: the RMS settings, the average RMS
    settings of one phase (``SinglePhaseVoltageSettings``) or three
    (``PolyPhaseVoltageSettings``), and whether the counters are left as they are."""

    rms: RmsVoltageSettings
    phases: tuple[PhaseVoltageSettings, ...]
    poly_phase: bool
    counters_not_reset: bool
    execution_date_time: datetime | None = None


_RMS = (
    "RMSExtremeOverVoltageMeasurementPeriod",
    "RMSExtremeOverVoltageThreshold",
    "RMSExtremeUnderVoltageMeasurementPeriod",
    "RMSExtremeUnderVoltageThreshold",
    "RMSVoltageSagMeasurementPeriod",
    "RMSVoltageSagThreshold",
    "RMSVoltageSwellMeasurementPeriod",
    "RMSVoltageSwellThreshold",
)
_AVERAGE = (
    "AverageRMSOverVoltageThreshold",
    "AverageRMSUnderVoltageThreshold",
    "AverageRMSVoltageMeasurementPeriod",
)


def _average(el: etree._Element, phase: int) -> PhaseVoltageSettings:
    _only(el, _AVERAGE)
    over, under, period = (required(el, n, _uint) for n in _AVERAGE)
    return PhaseVoltageSettings(phase, over, under, period)


def _poly(els: list[etree._Element]) -> tuple[PhaseVoltageSettings, ...]:
    if len(els) != 3:
        raise NotTransformed(f"PolyPhaseVoltageSettings: expected 3, found {len(els)}")
    out = []
    for el in els:
        _only(el, ("Phase", "PhaseVoltageSettings"))
        out.append(
            _average(child(el, "PhaseVoltageSettings"), required(el, "Phase", bounded(1, 3)))
        )
    if sorted(s.phase for s in out) != [1, 2, 3]:
        raise NotTransformed("PolyPhaseVoltageSettings: expected phases 1, 2 and 3 once each")
    return tuple(sorted(out, key=lambda s: s.phase))


def parse_voltage(el: etree._Element) -> VoltageSettings:
    """Parse an ``UpdateDeviceConfigurationVoltage`` body."""
    single, poly = "SinglePhaseVoltageSettings", "PolyPhaseVoltageSettings"
    _only(el, (_EXECUTION, "RMSVoltageSettings", single, poly, "RMSVoltageCountersNotReset"))
    rms_el = child(el, "RMSVoltageSettings")
    _only(rms_el, _RMS)
    rms = RmsVoltageSettings(*(required(rms_el, n, _uint) for n in _RMS))
    singles, polys = children(el, single), children(el, poly)
    if bool(singles) == bool(polys) or len(singles) > 1:
        raise NotTransformed(f"{local(el)}: expected one {single} or three {poly}")
    phases = _poly(polys) if polys else (_average(singles[0], 1),)
    not_reset = _flag(el, "RMSVoltageCountersNotReset")
    return VoltageSettings(rms, phases, bool(polys), not_reset, _execution(el))


def _rms_args(rms: RmsVoltageSettings) -> dict[str, int]:
    out: dict[str, int] = {}
    for what in ("extreme_over_voltage", "extreme_under_voltage", "voltage_sag", "voltage_swell"):
        out[f"rms_{what}_threshold"] = getattr(rms, f"{what}_threshold")
        out[f"rms_{what}_measurement_period"] = getattr(rms, f"{what}_measurement_period")
    return out


def _phase_args(s: PhaseVoltageSettings, suffix: str) -> dict[str, int]:
    return {
        f"average_rms_over_voltage_threshold{suffix}": s.over_voltage_threshold,
        f"average_rms_under_voltage_threshold{suffix}": s.under_voltage_threshold,
        f"average_rms_voltage_measurement_period{suffix}": s.measurement_period,
    }


def _plan_voltage(p: PlanInput) -> Plan:
    b: VoltageSettings = p.body
    args = _rms_args(b.rms)
    if b.poly_phase:
        for s in b.phases:
            args |= _phase_args(s, f"_phase{s.phase}")
        use_case = "ECS29d" if b.counters_not_reset else "ECS29b"
    else:
        args |= _phase_args(b.phases[0], "")
        use_case = "ECS29c" if b.counters_not_reset else "ECS29a"
    return Plan(use_case, args, send_at=dsp_held(p))


# --- 6.6 Gas Conversion ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GasConversion:
    """SRV 6.6 ``UpdateDeviceConfigurationGasConversion``: calorific value (MJ/m3, one
    decimal) and conversion factor (five decimals)."""

    calorific_value: Decimal
    conversion_factor: Decimal


def parse_gas_conversion(el: etree._Element) -> GasConversion:
    """Parse an ``UpdateDeviceConfigurationGasConversion`` body."""
    _only(el, ("CalorificValue", "ConversionFactor"))
    cv = required(el, "CalorificValue", _decimal(1, "429496729.5"))
    factor = required(el, "ConversionFactor", _decimal(5, "42949.67295"))
    return GasConversion(cv, factor)


def _plan_gcs23(p: PlanInput) -> Plan:
    b: GasConversion = p.body
    args = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "conversion_factor": int(b.conversion_factor.scaleb(5)),
        "calorific_value": int(b.calorific_value.scaleb(1)),
    }
    return Plan("GCS23", args)


# --- 6.7 Gas Flow ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GasFlow:
    """SRV 6.7 ``UpdateDeviceConfigurationGasFlow``: the uncontrolled flow rate threshold,
    whole (``UncontrolledGasFlowRate``, m3/h) or with four decimals
    (``UncontrolledGasFlowRateDecimal``); supply states ``Unchanged`` or ``Locked``."""

    uncontrolled_gas_flow_rate: int | None
    uncontrolled_gas_flow_rate_decimal: Decimal | None
    supply_depletion_state: str
    supply_tamper_state: str
    stabilisation_period: int
    measurement_period: int


def parse_gas_flow(el: etree._Element) -> GasFlow:
    """Parse an ``UpdateDeviceConfigurationGasFlow`` body."""
    whole, dec = "UncontrolledGasFlowRate", "UncontrolledGasFlowRateDecimal"
    states = ("SupplyDepletionState", "SupplyTamperState")
    _only(el, (whole, dec, *states, "StabilisationPeriod", "MeasurementPeriod"))
    rate = optional(el, whole, bounded(0, 0xFFFF))
    rate_decimal = optional(el, dec, _decimal(4, "6.5535"))
    if (rate is None) == (rate_decimal is None):
        raise NotTransformed(f"{local(el)}: expected one of {whole} or {dec}")
    depletion, tamper = (required(el, n, _choice("Unchanged", "Locked")) for n in states)
    return GasFlow(
        rate,
        rate_decimal,
        depletion,
        tamper,
        required(el, "StabilisationPeriod", bounded(1, 255)),
        required(el, "MeasurementPeriod", bounded(1, 0xFFFF)),
    )


def _plan_gas_flow(p: PlanInput) -> Plan:
    b: GasFlow = p.body
    if b.uncontrolled_gas_flow_rate is not None:
        use_case, rate = "GCS24", b.uncontrolled_gas_flow_rate
    else:
        assert b.uncontrolled_gas_flow_rate_decimal is not None
        use_case, rate = "GCS24a", int(b.uncontrolled_gas_flow_rate_decimal.scaleb(4))
    args = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "uncontrolled_gas_flow_rate": rate,
        "stabilisation_period": b.stabilisation_period,
        "measurement_period": b.measurement_period,
        "supply_tamper_state": b.supply_tamper_state.lower(),
        "supply_depletion_state": b.supply_depletion_state.lower(),
    }
    return Plan(use_case, args)


# --- 6.8 Billing Calendar -------------------------------------------------------------------

#: Months between billing dates, by DUIS periodicity (Daily and Weekly: none).
_MONTHS = {"Monthly": 1, "Quarterly": 3, "SixMonthly": 6, "Yearly": 12}
#: Periodicities only the "all periodicities" use cases (ECS30a, GCS25a) carry.
_ALL_PERIODICITIES = ("Quarterly", "SixMonthly", "Yearly")
_PERIODICITIES = ("Daily", "Weekly", "Monthly", *_ALL_PERIODICITIES)


@dataclass(frozen=True, slots=True)
class ElectricityBillingCalendar:
    """``ElectricityBillingCalendar``: the UTC billing time and its periodicity; ``day``
    is the weekday (1 = Monday) for Weekly, the day of the month otherwise (None for
    Daily); ``start_month`` the first month for Quarterly, SixMonthly and Yearly."""

    billing_time: time
    periodicity: str
    day: int | None = None
    start_month: int | None = None


@dataclass(frozen=True, slots=True)
class GasBillingCalendar:
    """``GasBillingCalendar``: the start of the first billing period and the periodicity."""

    billing_period_start: datetime
    periodicity: str


@dataclass(frozen=True, slots=True)
class BillingCalendar:
    """SRV 6.8 ``UpdateDeviceConfigurationBillingCalendar``: one of the two calendars."""

    electricity: ElectricityBillingCalendar | None = None
    gas: GasBillingCalendar | None = None


def _electricity_calendar(el: etree._Element) -> ElectricityBillingCalendar:
    _only(el, ("BillingTime", *_PERIODICITIES))
    at = required(el, "BillingTime", _utc_time)
    found = [c for c in children(el) if local(c) in _PERIODICITIES]
    if len(found) != 1:
        raise NotTransformed(f"{local(el)}: expected one of {', '.join(_PERIODICITIES)}")
    kind = local(found[0])
    if kind == "Daily":
        _only(found[0], ())
        return ElectricityBillingCalendar(at, kind)
    if kind in ("Weekly", "Monthly"):
        hi = 7 if kind == "Weekly" else 28
        return ElectricityBillingCalendar(at, kind, required(el, kind, bounded(1, hi)))
    _only(found[0], ("DayOfMonth", "BillingPeriodStartMonth"))
    day = required(found[0], "DayOfMonth", bounded(1, 28))
    month = required(found[0], "BillingPeriodStartMonth", bounded(1, 12))
    return ElectricityBillingCalendar(at, kind, day, month)


def parse_billing_calendar(el: etree._Element) -> BillingCalendar:
    """Parse an ``UpdateDeviceConfigurationBillingCalendar`` body."""
    elec, gas = "ElectricityBillingCalendar", "GasBillingCalendar"
    _only(el, (elec, gas))
    found = children(el)
    if len(found) != 1:
        raise NotTransformed(f"{local(el)}: expected one of {elec} or {gas}")
    if local(found[0]) == elec:
        return BillingCalendar(electricity=_electricity_calendar(found[0]))
    g = found[0]
    _only(g, ("BillingPeriodStart", "Periodicity"))
    start = required(g, "BillingPeriodStart", date_time)
    return BillingCalendar(
        gas=GasBillingCalendar(start, required(g, "Periodicity", _choice(*_PERIODICITIES)))
    )


def _cosem_time(t: time) -> str:
    return f"{t:%H:%M:%S}.{t.microsecond // 10000:02d}"


def _billing_dates(c: ElectricityBillingCalendar) -> list[str]:
    """The COSEM dates of the billing single action schedule: one per billing month,
    from the start month on."""
    assert c.start_month is not None
    step = _MONTHS[c.periodicity]
    months = [(c.start_month - 1 + i * step) % 12 + 1 for i in range(12 // step)]
    return [f"*-{m:02d}-{c.day:02d}" for m in months]


def _plan_ecs30(p: PlanInput) -> Plan:
    c = p.body.electricity
    if c is None:
        raise NotTransformed("an ESME takes an ElectricityBillingCalendar")
    at = _cosem_time(c.billing_time)
    if c.periodicity in _ALL_PERIODICITIES:
        records = [{"time": at, "date": d} for d in _billing_dates(c)]
        return Plan("ECS30a", {"billing_calendar": records})
    if c.periodicity == "Daily":
        date = "*-*-*"
    elif c.periodicity == "Weekly":
        date = f"*-*-*[weekday={c.day}]"
    else:
        date = f"*-*-{c.day:02d}"
    return Plan("ECS30", {"billing_time": at, "billing_date": date})


#: DUIS periodicity -> ZCL billing period duration and its unit.
_GAS_PERIODS = {
    "Daily": (1, "days"),
    "Weekly": (1, "weeks"),
    "Monthly": (1, "months"),
    "Quarterly": (3, "months"),
    "SixMonthly": (6, "months"),
    "Yearly": (12, "months"),
}


def _plan_gcs25(p: PlanInput) -> Plan:
    c = p.body.gas
    if c is None:
        raise NotTransformed("a GSME takes a GasBillingCalendar")
    duration, unit = _GAS_PERIODS[c.periodicity]
    args = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "billing_period_start": c.billing_period_start,
        "billing_period_duration": duration,
        "billing_period_duration_type": unit,
    }
    return Plan("GCS25a" if c.periodicity in _ALL_PERIODICITIES else "GCS25", args)


# --- 6.11 Synchronise Clock ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SynchroniseClock:
    """SRV 6.11 ``SynchroniseClock``: the time the device is set within, and the
    tolerance after it (0..86400 s)."""

    current_date_time: datetime
    tolerance_period: int


def parse_synchronise_clock(el: etree._Element) -> SynchroniseClock:
    """Parse a ``SynchroniseClock`` body."""
    _only(el, ("CurrentDateTime", "TolerancePeriod"))
    return SynchroniseClock(
        required(el, "CurrentDateTime", date_time),
        required(el, "TolerancePeriod", bounded(0, 86400)),
    )


def _window(p: PlanInput) -> tuple[datetime, datetime]:
    b: SynchroniseClock = p.body
    start = b.current_date_time.astimezone(UTC)
    return start, start + timedelta(seconds=b.tolerance_period)


def _plan_ecs70(p: PlanInput) -> Plan:
    start, end = _window(p)
    return Plan("ECS70", {"valid_from": start, "valid_to": end})


def _plan_gcs28(p: PlanInput) -> Plan:
    start, end = _window(p)
    return Plan("GCS28", {"validity_interval_start": start, "validity_interval_end": end})


# --- 6.12 Instantaneous Power Thresholds ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstantaneousPowerThresholds:
    """SRV 6.12 ``UpdateDeviceConfigurationInstantaneousPowerThreshold`` (W)."""

    low_medium_power_threshold: int
    medium_high_power_threshold: int
    execution_date_time: datetime | None = None


def parse_power_thresholds(el: etree._Element) -> InstantaneousPowerThresholds:
    """Parse an ``UpdateDeviceConfigurationInstantaneousPowerThreshold`` body."""
    names = ("LowMediumPowerThreshold", "MediumHighPowerThreshold")
    _only(el, (_EXECUTION, *names))
    low, high = (required(el, n, _uint) for n in names)
    return InstantaneousPowerThresholds(low, high, _execution(el))


def _plan_ecs34(p: PlanInput) -> Plan:
    args = {
        "low_medium_power_threshold": p.body.low_medium_power_threshold,
        "medium_high_power_threshold": p.body.medium_high_power_threshold,
    }
    return Plan("ECS34", args, send_at=dsp_held(p))


# --- 6.14.1 Auxiliary Load Control Descriptions ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SwitchDescriptions:
    """SRV 6.14.1 ``UpdateDeviceConfigurationALCDescriptions``: (switch index 1..5,
    description) pairs, in index order."""

    descriptions: tuple[tuple[int, str], ...]


def parse_switch_descriptions(el: etree._Element) -> SwitchDescriptions:
    """Parse an ``UpdateDeviceConfigurationALCDescriptions`` body."""
    _only(el, ("ALCSHCALCSDescription",))
    found = children(el, "ALCSHCALCSDescription")
    if not 1 <= len(found) <= 5:
        raise NotTransformed(f"{local(el)}: expected 1..5 ALCSHCALCSDescription")
    out: dict[int, str] = {}
    for d in found:
        _only(d, ("SwitchDescription",))
        try:
            index = bounded(1, 5)(d.get("index", ""))
        except ValueError as e:
            raise NotTransformed(f"ALCSHCALCSDescription/@index: {e}") from None
        if index in out:
            raise NotTransformed(f"ALCSHCALCSDescription: index {index} given twice")
        out[index] = _printable(d, "SwitchDescription", 1, 22)
    return SwitchDescriptions(tuple(sorted(out.items())))


def _plan_ecs46a(p: PlanInput) -> Plan:
    given = dict(p.body.descriptions)
    missing = [i for i in range(1, 6) if i not in given]
    if missing:
        # ECS46a writes the five description objects in one command
        raise NotTransformed(
            "ECS46a sets the descriptions of all five switches; this request leaves out "
            f"switch {', '.join(str(i) for i in missing)} (partial updates not transformed yet)"
        )
    return Plan("ECS46a", {f"switch_description_{i}": given[i] for i in range(1, 6)})


# --- 6.14.2 Auxiliary Load Control Scheduler ------------------------------------------------

#: COSEM day-of-month codes of DUIS's LastDayOfMonth and SecondLastDayOfMonth.
_LAST_DAY, _SECOND_LAST_DAY = 0xFE, 0xFD
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ALCS_SCRIPTS = "0-0:10.0.103.255"


@dataclass(frozen=True, slots=True)
class DuisDate:
    """A DUIS ``Date``: each part None where not specified; ``day_of_month`` 1..31, or
    0xFE (LastDayOfMonth) / 0xFD (SecondLastDayOfMonth) as COSEM codes them;
    ``day_of_week`` 1 = Monday."""

    year: int | None = None
    month: int | None = None
    day_of_month: int | None = None
    day_of_week: int | None = None

    def cosem(self) -> str:
        """The catalogue's COSEM date text (``*`` where not specified)."""
        year = "*" if self.year is None else f"{self.year:04d}"
        month = "*" if self.month is None else f"{self.month:02d}"
        day = "*" if self.day_of_month is None else f"{self.day_of_month:02d}"
        weekday = "" if self.day_of_week is None else f"[weekday={self.day_of_week}]"
        return f"{year}-{month}-{day}{weekday}"


def _date_part(
    el: etree._Element, name: str, hi: int, lo: int = 1, extra: dict[str, int] | None = None
) -> int | None:
    part = child(el, name)
    specified, unspecified = f"Specified{name}", f"NonSpecified{name}"
    named = dict(extra or {})
    _only(part, (specified, unspecified, *named))
    found = children(part)
    if len(found) != 1:
        raise NotTransformed(f"{local(el)}/{name}: expected one of {specified} or {unspecified}")
    kind = local(found[0])
    if kind == specified:
        return required(part, specified, bounded(lo, hi))
    _flag(part, kind)
    return named.get(kind)


def _duis_date(el: etree._Element) -> DuisDate:
    _only(el, ("Year", "Month", "DayOfMonth", "DayOfWeek"))
    days = {"LastDayOfMonth": _LAST_DAY, "SecondLastDayOfMonth": _SECOND_LAST_DAY}
    return DuisDate(
        _date_part(el, "Year", 9999, 2014),
        _date_part(el, "Month", 12),
        _date_part(el, "DayOfMonth", 31, extra=days),
        _date_part(el, "DayOfWeek", 7),
    )


@dataclass(frozen=True, slots=True)
class SwitchSchedule:
    """One ``ALCSHCALCSConnectionSchedule``: switch ``switch`` (1..5) is activated or
    deactivated at ``switch_time`` (UTC) on the weekdays given (None: no
    ``DaysOfWeekApplicability``) and the special days given (their indices), between
    ``start_date`` and ``end_date``."""

    switch: int
    activate: bool
    special_days: tuple[int, ...]
    weekdays: tuple[str, ...] | None
    switch_time: time
    start_date: DuisDate
    end_date: DuisDate


@dataclass(frozen=True, slots=True)
class SwitchScheduler:
    """SRV 6.14.2 ``UpdateDeviceConfigurationALCScheduler``: the switching schedule, the
    special days (index, date), and the switches' types (index, the HC ALCS's EUI-64 or
    None for an ALCS)."""

    schedule: tuple[SwitchSchedule, ...]
    special_days: tuple[tuple[int, DuisDate], ...]
    switch_types: tuple[tuple[int, bytes | None], ...]
    execution_date_time: datetime | None = None


def _index(el: etree._Element, attribute: str, hi: int) -> int:
    try:
        return bounded(1, hi)(el.get(attribute, ""))
    except ValueError as e:
        raise NotTransformed(f"{local(el)}/@{attribute}: {e}") from None


def _weekdays(el: etree._Element) -> tuple[str, ...]:
    _only(el, ("DayOfWeekApplicability",))
    days = []
    for d in children(el, "DayOfWeekApplicability"):
        _only(d, ("DayOfWeekID",))
        days.append(required(d, "DayOfWeekID", _choice(*_WEEKDAYS)))
    return tuple(days)


def _switch_schedule(el: etree._Element) -> SwitchSchedule:
    names = ("ActivateDeactivateSwitch", "SpecialDaysApplicability", "DaysOfWeekApplicability")
    _only(el, (*names, "ALCSScheduleDatesAndTime"))
    action = child(el, "ActivateDeactivateSwitch")
    _only(action, ("ActivateSwitch", "DeactivateSwitch"))
    if len(children(action)) != 1:
        raise NotTransformed(
            "ActivateDeactivateSwitch: expected one of ActivateSwitch or DeactivateSwitch"
        )
    special = tuple(_index(s, "index", 20) for s in children(el, "SpecialDaysApplicability"))
    week = children(el, "DaysOfWeekApplicability")
    when = child(el, "ALCSScheduleDatesAndTime")
    _only(when, ("SwitchTime", "StartDate", "EndDate"))
    return SwitchSchedule(
        _index(action, "index", 5),
        _flag(action, "ActivateSwitch"),
        special,
        _weekdays(week[0]) if week else None,
        required(when, "SwitchTime", _utc_time),
        _duis_date(child(when, "StartDate")),
        _duis_date(child(when, "EndDate")),
    )


def _switch_type(el: etree._Element) -> tuple[int, bytes | None]:
    _only(el, ("ALCS", "HCALCS"))
    if len(children(el)) != 1:
        raise NotTransformed("SwitchTypeAndId: expected one of ALCS or HCALCS")
    if _flag(el, "ALCS"):
        return _index(el, "index", 5), None
    eui = text(el, "HCALCS")
    if not re.fullmatch(r"[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}", eui):
        raise NotTransformed(f"SwitchTypeAndId/HCALCS: not an EUI-64: {eui!r}")
    return _index(el, "index", 5), bytes.fromhex(eui.replace("-", ""))


def parse_switch_scheduler(el: etree._Element) -> SwitchScheduler:
    """Parse an ``UpdateDeviceConfigurationALCScheduler`` body."""
    schedule, special = "ALCSHCALCSConnectionSchedule", "ALCSHCALCSSpecialDays"
    _only(el, (_EXECUTION, schedule, special, "SwitchTypeAndId"))
    entries = tuple(_switch_schedule(s) for s in children(el, schedule))
    if not 1 <= len(entries) <= 48:
        raise NotTransformed(f"{local(el)}: expected 1..48 {schedule}")
    days_el = child(el, special)
    _only(days_el, ("ALCSHCALCSSpecialDay",))
    days = tuple(
        (_index(d, "index", 20), _duis_date(d)) for d in children(days_el, "ALCSHCALCSSpecialDay")
    )
    types = tuple(_switch_type(t) for t in children(el, "SwitchTypeAndId"))
    if len(types) > 5:
        raise NotTransformed(f"{local(el)}: expected at most 5 SwitchTypeAndId")
    return SwitchScheduler(entries, days, types, _execution(el))


def _week_bits(days: tuple[str, ...] | None) -> str:
    chosen = set(days or ())
    return "".join("1" if d in chosen else "0" for d in _WEEKDAYS)


def _special_day_bits(entry: SwitchSchedule, defined: set[int]) -> str:
    """A bit per special day, bit ``n - 1`` for the special day of day ID ``n``."""
    unknown = sorted(set(entry.special_days) - defined)
    if unknown:
        raise NotTransformed(
            f"SpecialDaysApplicability names special day {unknown[0]}, which "
            "ALCSHCALCSSpecialDays does not define"
        )
    return "".join(
        "1" if i in entry.special_days else "0" for i in range(1, max(defined, default=0) + 1)
    )


def _schedule_record(number: int, entry: SwitchSchedule, defined: set[int]) -> dict[str, Any]:
    # DUIS numbers neither the entries nor the special days' day IDs: the DCC numbers
    # the entries by their order from 1 and gives each special day its DUIS index as
    # day ID (as RTDS does); the selector is the switch and its action (GBCS ECS46c)
    return {
        "index": number,
        "enable": True,
        "script_logical_name": _ALCS_SCRIPTS,
        "script_selector": entry.switch * 256 + (1 if entry.activate else 2),
        "switch_time": _cosem_time(entry.switch_time),
        "validity_window": 0xFFFF,
        "exec_weekdays": _week_bits(entry.weekdays),
        "exec_specdays": _special_day_bits(entry, defined),
        "begin_date": entry.start_date.cosem(),
        "end_date": entry.end_date.cosem(),
    }


def _plan_ecs46c(p: PlanInput) -> Plan:
    b: SwitchScheduler = p.body
    indices = [i for i, _ in b.special_days]
    if len(set(indices)) != len(indices):
        raise NotTransformed("ALCSHCALCSSpecialDay: an index is given twice")
    defined = set(indices)
    args: dict[str, Any] = {
        "switch_type_and_id": [
            {"index": i, "alcs": True} if eui is None else {"index": i, "hcalcs": eui.hex()}
            for i, eui in b.switch_types
        ],
        "alcs_hcalcs_special_days": [
            {"index": i, "specialday_date": d.cosem(), "day_id": i} for i, d in b.special_days
        ],
        "alcs_hcalcs_connection_schedule": [
            _schedule_record(n, e, defined) for n, e in enumerate(b.schedule, start=1)
        ],
    }
    if b.execution_date_time is not None:  # future-dated by the device: into the GBCS
        args["execution_date_time"] = cosem_text(b.execution_date_time)
    return Plan("ECS46c", args)


# --- 6.18.1 / 6.18.2 Maximum Demand -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaximumDemandPeriod:
    """SRV 6.18.1 ``SetMaximumDemandConfigurableTimePeriod``: the UTC window."""

    start_time: time
    end_time: time
    execution_date_time: datetime | None = None


def parse_max_demand_period(el: etree._Element) -> MaximumDemandPeriod:
    """Parse a ``SetMaximumDemandConfigurableTimePeriod`` body."""
    _only(el, (_EXECUTION, "MaximumDemandTimePeriodSchedule"))
    s = child(el, "MaximumDemandTimePeriodSchedule")
    _only(s, ("StartTime", "EndTime"))
    return MaximumDemandPeriod(
        required(s, "StartTime", _utc_time), required(s, "EndTime", _utc_time), _execution(el)
    )


def _dcc_window_entries() -> tuple[ScheduleEntry, ...]:
    """The two Table 28d entries as the DCC writes them: numbered 0 and 1 by their place
    in the array (RTDS's ECS37 commands do; the ESME stores the indices as sent, and its
    factory default numbers them 1 and 2). Only the switch times change after this."""
    return tuple(dataclasses.replace(e, index=i) for i, e in enumerate(default_schedule()))


def _plan_ecs37(p: PlanInput) -> Plan:
    b: MaximumDemandPeriod = p.body
    if any(t.second or t.microsecond for t in (b.start_time, b.end_time)):
        raise NotTransformed("the maximum demand window is set in whole minutes (HH:MM)")
    args = {
        "start": f"{b.start_time:%H:%M}",
        "end": f"{b.end_time:%H:%M}",
        "current": _dcc_window_entries(),
    }
    return Plan("ECS37", args, send_at=dsp_held(p))


@dataclass(frozen=True, slots=True)
class MaximumDemandReset:
    """SRV 6.18.2 ``ResetMaximumDemandRegisters``: which registers to reset."""

    active_power_import: bool
    active_power_export: bool
    config_time_active_power_import: bool
    execution_date_time: datetime | None = None


_RESETS = (
    ("MaxDemandActivePowerImportValue", "import"),
    ("MaxDemandConfigTimeActivePowerImportValue", "import_window"),
    ("MaxDemandActivePowerExportValue", "export"),
)


def parse_max_demand_reset(el: etree._Element) -> MaximumDemandReset:
    """Parse a ``ResetMaximumDemandRegisters`` body."""
    _only(el, (_EXECUTION, *(n for n, _ in _RESETS)))
    imp, window, exp = (_flag(el, n) for n, _ in _RESETS)
    return MaximumDemandReset(imp, exp, window, _execution(el))


def _plan_ecs57(p: PlanInput) -> Plan:
    b: MaximumDemandReset = p.body
    chosen = (b.active_power_import, b.config_time_active_power_import, b.active_power_export)
    registers = [name for (_, name), on in zip(_RESETS, chosen, strict=True) if on]
    if not registers:
        raise NotTransformed("ResetMaximumDemandRegisters names no register to reset")
    return Plan("ECS57", {"registers": registers}, send_at=dsp_held(p))


# --- 6.20.1 / 6.20.2 MPxN ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportMpxn:
    """SRV 6.20.1 ``SetDeviceConfigurationImportMPxN``: the import MPAN(s) of an ESME or
    the MPRN of a GSME."""

    import_mpan: str | None = None
    secondary_import_mpan: str | None = None
    import_mprn: str | None = None
    execution_date_time: datetime | None = None


def _mpan(el: etree._Element, name: str) -> str:
    value = text(child(el, name))
    if len(value) != 13:
        raise NotTransformed(f"{local(el)}/{name}: expected 13 characters")
    return value


def parse_import_mpxn(el: etree._Element) -> ImportMpxn:
    """Parse a ``SetDeviceConfigurationImportMPxN`` body."""
    _only(el, (_EXECUTION, "ImportMPANs", "ImportMPRN"))
    mpans, mprn = children(el, "ImportMPANs"), children(el, "ImportMPRN")
    if len(mpans) + len(mprn) != 1:
        raise NotTransformed(f"{local(el)}: expected one of ImportMPANs or ImportMPRN")
    when = _execution(el)
    if mprn:
        value = text(mprn[0])
        if not 1 <= len(value) <= 10:
            raise NotTransformed(f"{local(el)}/ImportMPRN: expected 1..10 characters")
        return ImportMpxn(import_mprn=value, execution_date_time=when)
    m = mpans[0]
    _only(m, ("ImportMPAN", "SecondaryImportMPAN"))
    second = _mpan(m, "SecondaryImportMPAN") if children(m, "SecondaryImportMPAN") else None
    return ImportMpxn(_mpan(m, "ImportMPAN"), second, execution_date_time=when)


def _plan_ecs39a(p: PlanInput) -> Plan:
    b: ImportMpxn = p.body
    if b.import_mpan is None:
        raise NotTransformed("an ESME takes ImportMPANs, not ImportMPRN")
    if b.secondary_import_mpan is not None:
        raise NotTransformed(
            "SecondaryImportMPAN (a twin element ESME) is not transformed yet: the ECS39a "
            "entry here writes the import MPAN only"
        )
    return Plan("ECS39a", {"mpan": b.import_mpan}, send_at=dsp_held(p))


def _plan_gcs41(p: PlanInput) -> Plan:
    b: ImportMpxn = p.body
    if b.import_mprn is None:
        raise NotTransformed("a GSME takes ImportMPRN, not ImportMPANs")
    args = {"issuer_event_id": dcc_issuer_event_id(p), "import_mprn": b.import_mprn}
    return Plan("GCS41", args, send_at=dsp_held(p))


@dataclass(frozen=True, slots=True)
class ExportMpan:
    """SRV 6.20.2 ``SetDeviceConfigurationExportMPAN``."""

    export_mpan: str
    execution_date_time: datetime | None = None


def parse_export_mpan(el: etree._Element) -> ExportMpan:
    """Parse a ``SetDeviceConfigurationExportMPAN`` body."""
    _only(el, (_EXECUTION, "ExportMPAN"))
    return ExportMpan(_mpan(el, "ExportMPAN"), _execution(el))


def _plan_ecs39b(p: PlanInput) -> Plan:
    # the Export Supplier is no remote party of the ESME (GBCS): the DCC (the ACB)
    # originates ECS39b, the user as supplementary remote party
    return Plan(
        "ECS39b",
        {"mpan": p.body.export_mpan},
        originator=ACB,
        supplementary=True,
        send_at=dsp_held(p),
    )


# --- typed bodies of SRVs not transformed yet: 6.22, 6.14.3 -----------------------------


@dataclass(frozen=True, slots=True)
class AlertSetting:
    """One alert code's setting in ``ConfigureAlertBehaviour``: ``Enable``/``Disable``,
    or, for the GSME's alert and event settings, each of ``WANAlert``, ``HANAlert``,
    ``EventLog`` and ``Alarm``."""

    alert_code: int
    enabled: bool | None = None
    flags: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class AlertBehaviour:
    """SRV 6.22 ``ConfigureAlertBehaviour``: which settings (the XSD's choice, e.g.
    ``ElectricitySupplierAlerts``), and per section (``SupplierESMECommon``, ...; the
    settings element itself where alerts sit directly in it) the alerts set."""

    settings: str
    sections: tuple[tuple[str, tuple[AlertSetting, ...]], ...]


_ALERT_SETTINGS = (
    "ElectricitySupplierAlerts",
    "ElectricitySupplierHANAlertSettings",
    "ElectricitySupplierAlarmSettings",
    "ElectricitySupplierLoggingSettings",
    "ElectricityNetworkOperatorAlerts",
    "ElectricityNetworkOperatorLoggingSettings",
    "GasSupplierAlerts",
    "GasSupplierAlertEventSettings",
)
_ENABLE = {"Enable": True, "Disable": False}
_WAN_HAN_FLAGS = ("WANAlert", "HANAlert", "EventLog", "Alarm")


def _alert_setting(el: etree._Element) -> AlertSetting:
    name = local(el)
    if not re.fullmatch(r"x[0-9A-F]{4}", name):
        raise NotTransformed(f"{local(el.getparent())}: {name} is not an alert code")
    code = int(name[1:], 16)
    if not children(el):
        value = text(el)
        if value not in _ENABLE:
            raise NotTransformed(f"{name}: {value!r} is not Enable or Disable")
        return AlertSetting(code, _ENABLE[value])
    _only(el, _WAN_HAN_FLAGS)
    flags = []
    for flag in _WAN_HAN_FLAGS:
        value = required(el, flag)
        if value not in _ENABLE:
            raise NotTransformed(f"{name}/{flag}: {value!r} is not Enable or Disable")
        flags.append((flag, _ENABLE[value]))
    return AlertSetting(code, None, tuple(flags))


def parse_alert_behaviour(el: etree._Element) -> AlertBehaviour:
    """Parse a ``ConfigureAlertBehaviour`` body (the XSD's choice of one settings
    element, holding sections of alert codes or the alert codes themselves)."""
    _only(el, _ALERT_SETTINGS)
    found = children(el)
    if len(found) != 1:
        raise NotTransformed(
            f"ConfigureAlertBehaviour: expected one of {', '.join(_ALERT_SETTINGS)}"
        )
    settings = found[0]
    direct = [c for c in children(settings) if local(c).startswith("x")]
    sections: list[tuple[str, tuple[AlertSetting, ...]]] = []
    if direct:
        sections.append((local(settings), tuple(_alert_setting(c) for c in direct)))
    for section in children(settings):
        if local(section).startswith("x"):
            continue
        if not children(section):
            raise NotTransformed(f"{local(settings)}: {local(section)} is not an alert code")
        sections.append((local(section), tuple(_alert_setting(c) for c in children(section))))
    return AlertBehaviour(local(settings), tuple(sections))


@dataclass(frozen=True, slots=True)
class ControllerSchedule:
    """One ``AuxiliaryControllerSchedule``: auxiliary controller ``controller`` (1..5) goes
    to ``level`` (0..100; for the input from the controlled load where flagged) at
    ``switch_time`` (UTC) on the weekdays (None: not given) and special days given,
    between ``start_date`` and ``end_date``."""

    controller: int
    level: int
    input_from_controlled_load: bool
    special_days: tuple[int, ...]
    weekdays: tuple[str, ...] | None
    switch_time: time
    start_date: DuisDate
    end_date: DuisDate


@dataclass(frozen=True, slots=True)
class ControllerScheduler:
    """SRV 6.14.3 ``UpdateDeviceConfigurationAuxiliaryControllerScheduler``: up to 120
    schedule entries and the special days (identifier, date)."""

    schedule: tuple[ControllerSchedule, ...]
    special_days: tuple[tuple[int, DuisDate], ...]
    execution_date_time: datetime | None = None


def _controller_schedule(el: etree._Element) -> ControllerSchedule:
    names = ("AuxiliaryControllerAction", "SpecialDaysApplicability", "DaysOfWeekApplicability")
    only(el, (*names, "AuxiliaryControllerSchedulePeriodAndTime"), repeats=names[1:2])
    action = child(el, "AuxiliaryControllerAction")
    _only(action, ("CommandedStateLevel", "InputFromControlledLoad"))
    special = tuple(_index(s, "identifier", 20) for s in children(el, "SpecialDaysApplicability"))
    week = children(el, "DaysOfWeekApplicability")
    when = child(el, "AuxiliaryControllerSchedulePeriodAndTime")
    _only(when, ("SwitchTime", "StartDate", "EndDate"))
    return ControllerSchedule(
        _index(action, "auxiliaryControllerN", 5),
        required(action, "CommandedStateLevel", bounded(0, 100)),
        _flag(action, "InputFromControlledLoad"),
        special,
        _weekdays(week[0]) if week else None,
        required(when, "SwitchTime", _utc_time),
        _duis_date(child(when, "StartDate")),
        _duis_date(child(when, "EndDate")),
    )


def parse_controller_scheduler(el: etree._Element) -> ControllerScheduler:
    """Parse an ``UpdateDeviceConfigurationAuxiliaryControllerScheduler`` body."""
    schedule, special = "AuxiliaryControllerSchedule", "AuxiliaryControllerSpecialDayDefinitions"
    only(el, (_EXECUTION, schedule, special), repeats=(schedule,))
    entries = tuple(_controller_schedule(s) for s in children(el, schedule))
    if len(entries) > 120:
        raise NotTransformed(f"{local(el)}: expected at most 120 {schedule}")
    days_el = child(el, special)
    _only(days_el, ("AuxiliaryControllerSpecialDayDefinition",))
    days = tuple(
        (_index(d, "identifier", 20), _duis_date(d))
        for d in children(days_el, "AuxiliaryControllerSpecialDayDefinition")
    )
    return ControllerScheduler(entries, days, _execution(el))


TYPED_BODIES: dict[str, Callable[[etree._Element], Any]] = {
    "ConfigureAlertBehaviour": parse_alert_behaviour,
    "UpdateDeviceConfigurationAuxiliaryControllerScheduler": parse_controller_scheduler,
}
"""Typed bodies of this group's SRVs that are not transformed yet (see NOT_YET)."""


# --- the routes ---------------------------------------------------------------------------------


_ROUTES: tuple[tuple[str, str, Callable[[etree._Element], Any], dict[str, Planner]], ...] = (
    ("3.1", "DisplayMessage", parse_display_message, {"ESME": _plan_ecs10, "GSME": _plan_gcs07}),
    (
        "3.2",
        "RestrictAccessForChangeOfTenancy",
        parse_restrict_access,
        {"ESME": _plan_ecs12, "GPF": _plan_gcs09},
    ),
    (
        "3.3",
        "ClearEventLog",
        parse_clear_event_log,
        {"ESME": _plan_clear_esme, "GSME": _plan_cs11, "GPF": _plan_cs11},
    ),
    ("3.4", "UpdateSupplierName", parse_supplier_name, {"ESME": _plan_ecs16, "GSME": _plan_gcs44}),
    (
        "6.4.1",
        "UpdateDeviceConfigurationLoadLimitingGeneralSettings",
        parse_load_limiting,
        {"ESME": _plan_ecs28a},
    ),
    ("6.5", "UpdateDeviceConfigurationVoltage", parse_voltage, {"ESME": _plan_voltage}),
    (
        "6.6",
        "UpdateDeviceConfigurationGasConversion",
        parse_gas_conversion,
        {"GSME": _plan_gcs23},
    ),
    ("6.7", "UpdateDeviceConfigurationGasFlow", parse_gas_flow, {"GSME": _plan_gas_flow}),
    (
        "6.8",
        "UpdateDeviceConfigurationBillingCalendar",
        parse_billing_calendar,
        {"ESME": _plan_ecs30, "GSME": _plan_gcs25},
    ),
    (
        "6.11",
        "SynchroniseClock",
        parse_synchronise_clock,
        {"ESME": _plan_ecs70, "GSME": _plan_gcs28},
    ),
    (
        "6.12",
        "UpdateDeviceConfigurationInstantaneousPowerThreshold",
        parse_power_thresholds,
        {"ESME": _plan_ecs34},
    ),
    (
        "6.14.1",
        "UpdateDeviceConfigurationALCDescriptions",
        parse_switch_descriptions,
        {"ESME": _plan_ecs46a},
    ),
    (
        "6.18.1",
        "SetMaximumDemandConfigurableTimePeriod",
        parse_max_demand_period,
        {"ESME": _plan_ecs37},
    ),
    (
        "6.14.2",
        "UpdateDeviceConfigurationALCScheduler",
        parse_switch_scheduler,
        {"ESME": _plan_ecs46c},
    ),
    ("6.18.2", "ResetMaximumDemandRegisters", parse_max_demand_reset, {"ESME": _plan_ecs57}),
    (
        "6.20.1",
        "SetDeviceConfigurationImportMPxN",
        parse_import_mpxn,
        {"ESME": _plan_ecs39a, "GSME": _plan_gcs41},
    ),
    ("6.20.2", "SetDeviceConfigurationExportMPAN", parse_export_mpan, {"ESME": _plan_ecs39b}),
)

ROUTES: tuple[SrvRoute, ...] = (
    *(SrvRoute(v, body, parse, planners) for v, body, parse, planners in _ROUTES),
    plain("6.4.2", "UpdateDeviceConfigurationLoadLimitingCounterReset", {"ESME": "ECS28b"}),
)
"""The SRV variants of this module."""

_AUX_SELECTOR = (
    "the script selector that codes controller N, its CommandedStateLevel and "
    "InputFromControlledLoad is known here from one RTDS command (controller 1: 0x1180 + "
    "level) and no rule confirms it for the other controllers"
)
_ALERTS = (
    "the GBCS bit position of each DUIS alert code (the ECS25a-b3 behaviour bit-strings) "
    "is not held here"
)
NOT_YET: dict[tuple[str, str], str] = {
    ("6.14.3", "ESME"): f"ECS46d: {_AUX_SELECTOR}",
    ("6.22", "ESME"): f"ECS25a/a1/a2/a3/b/b3: {_ALERTS}",
    ("6.22", "GSME"): (
        "GCS20: RTDS orders the Set Event Configuration commands by no rule found "
        "(neither the body's order nor the configuration value)"
    ),
}
"""Pairs of this module's SRVs not transformed yet, with why."""
