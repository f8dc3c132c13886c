"""Supply and auxiliary-load SRVs: tamper state, tariff block counter reset, auxiliary
load switches and controllers, the randomised offset limit, commissioning's clock; and
the GSME supply commands whose GBCS carries a ZCL Issuer Event ID (SRV 3.5, 7.2, 7.3).

Each SRV's body is read into a frozen dataclass whose fields follow the DUIS 5.4 XSD
complexType of its element (ranges checked as the XSD restricts them); its planner maps
those fields onto the named parameters of the head-end catalogue entry:

=======  ======================================================  ======================
SRV      body                                                    device=use case
=======  ======================================================  ======================
6.25     SetElectricitySupplyTamperState                         ESME=ECS81
6.26     UpdateDeviceConfigurationDailyResettingOf...Matrix      ESME=ECS48
7.5      ActivateAuxiliaryLoad                                   ESME=ECS47 (activate)
7.6      DeactivateAuxiliaryLoad                                 ESME=ECS47 (deactivate)
7.8      ResetAuxiliaryLoad                                      ESME=ECS47 (reset)
7.9      AddAuxiliaryLoadToBoostButton                           ESME=ECS62
7.10     RemoveAuxiliaryLoadFromBoostButton                      ESME=ECS62
7.12     SetRandomisedOffsetLimit                                ESME=ECS38
7.13     SetAuxiliaryControllerState                             ESME=ECS47a
7.16     LimitAPCLevel                                           ESME=ECS47e
8.1.1    CommissionDeviceSynchroniseClock                        ESME=ECS70 GSME=GCS28
3.5      DisablePrivacyPIN (route in routes_reads)               GSME=GCS11
7.2      DisableSupply (route in routes_reads)                   GSME=GCS32
7.3      ArmSupply (route in routes_reads)                       GSME=GCS39
=======  ======================================================  ======================

SRV 6.27 (RMS voltage counter reset) has an empty body: the ESME's variant, from the
DCC's inventory, chooses ECS29e (single-phase or twin-element) or ECS29f (polyphase).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from emulator.duis.routing import (
    NotTransformed,
    Plan,
    PlanInput,
    Planner,
    SrvRoute,
    boolean,
    child,
    children,
    date_time,
    dcc_issuer_event_id,
    dsp_held,
    integer,
    local,
    only,
    optional,
    plain,
    required,
    text,
    zcl_utc_time,
)

__all__ = [
    "MORE_PLANNERS",
    "NOT_YET",
    "ROUTES",
    "AuxiliaryControllerState",
    "AuxiliaryLoadAction",
    "BoostButtonAssociation",
    "DailyTariffBlockCounterMatrixReset",
    "RandomisedOffsetLimit",
    "SupplyTamperState",
    "SynchroniseClock",
    "apc_script_selector",
    "parse_controller_state",
    "parse_daily_reset",
    "parse_randomised_offset_limit",
    "parse_synchronise_clock",
    "parse_tamper_state",
    "zcl_utc_time",
]

_EXECUTION = "ExecutionDateTime"
_SWITCHES = 5  # HC ALCS / ALCS / APC 1..5 (DUIS range_1_5)


# --- typed bodies ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SupplyTamperState:
    """``SetElectricitySupplyTamperState`` (SRV 6.25): ``Locked`` or ``Unchanged``."""

    supply_tamper_state: str


@dataclass(frozen=True, slots=True)
class DailyTariffBlockCounterMatrixReset:
    """``UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix`` (SRV 6.26)."""

    daily_tariff_block_counter_matrix_reset: bool


@dataclass(frozen=True, slots=True)
class AuxiliaryLoadAction:
    """``ActivateAuxiliaryLoad`` / ``DeactivateAuxiliaryLoad`` / ``ResetAuxiliaryLoad``
    (SRV 7.5, 7.6, 7.8): the switch ``index`` (1..5) and, to activate or deactivate, the
    ``Duration`` in minutes (a reset has none)."""

    action: str
    index: int
    duration: int | None


@dataclass(frozen=True, slots=True)
class BoostButtonAssociation:
    """``AddAuxiliaryLoadToBoostButton`` / ``RemoveAuxiliaryLoadFromBoostButton`` (SRV
    7.9, 7.10): the five booleans, in index order (switch 1 first), and the optional
    DSP-held ``ExecutionDateTime``."""

    add: bool
    flags: tuple[bool, ...]
    execution_date_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RandomisedOffsetLimit:
    """``SetRandomisedOffsetLimit`` (SRV 7.12): seconds, 0..1799."""

    randomised_offset_limit: int


@dataclass(frozen=True, slots=True)
class AuxiliaryControllerState:
    """``SetAuxiliaryControllerState`` (SRV 7.13) and ``LimitAPCLevel`` (SRV 7.16): the
    controller [n], the period, the commanded level in % and whether it is for the input
    from the controlled load."""

    auxiliary_controller_n: int
    start_date_time: datetime
    end_date_time: datetime
    commanded_state_level: int
    input_from_controlled_load: bool


@dataclass(frozen=True, slots=True)
class SynchroniseClock:
    """``CommissionDeviceSynchroniseClock`` (SRV 8.1.1, type ``SynchroniseClock``)."""

    current_date_time: datetime
    tolerance_period: int


# --- readers ---------------------------------------------------------------------------


def _in_range(where: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise NotTransformed(f"{where}: {value} is not in {low}..{high}")
    return value


def _ranged(el: etree._Element, name: str, low: int, high: int) -> int:
    """The required integer child ``name``, within ``low..high`` (the XSD restriction)."""
    return _in_range(f"{local(el)}/{name}", required(el, name, integer), low, high)


def _attribute(el: etree._Element, name: str, low: int = 1, high: int = _SWITCHES) -> int:
    """The required integer attribute ``name``, within ``low..high``."""
    raw = el.get(name)
    where = f"{local(el)}/@{name}"
    if raw is None:
        raise NotTransformed(f"{local(el)}: no {name} attribute")
    try:
        value = integer(raw)
    except ValueError as e:
        raise NotTransformed(f"{where}: {e}") from None
    return _in_range(where, value, low, high)


def _no_type(el: etree._Element, name: str) -> bool:
    """Whether the empty (``NoType``) child ``name`` is present."""
    found = children(el, name)
    if found and (children(found[0]) or (found[0].text or "").strip()):
        raise NotTransformed(f"{local(el)}/{name}: expected an empty element")
    return bool(found)


# --- parsers ---------------------------------------------------------------------------


def parse_tamper_state(el: etree._Element) -> SupplyTamperState:
    """Read ``SetElectricitySupplyTamperState``."""
    only(el, ("SupplyTamperState",))
    state = required(el, "SupplyTamperState")
    if state not in ("Locked", "Unchanged"):
        raise NotTransformed(f"{local(el)}/SupplyTamperState: {state!r} is not Locked or Unchanged")
    return SupplyTamperState(state)


def parse_daily_reset(el: etree._Element) -> DailyTariffBlockCounterMatrixReset:
    """Read ``UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix``."""
    only(el, ("DailyTariffBlockCounterMatrixReset",))
    return DailyTariffBlockCounterMatrixReset(
        required(el, "DailyTariffBlockCounterMatrixReset", boolean)
    )


def _switch_action(element: str, action: str) -> Callable[[etree._Element], AuxiliaryLoadAction]:
    """A parser of a body holding one ``element`` (``index`` attribute; ``Duration``
    unless it is a reset)."""

    def parse(el: etree._Element) -> AuxiliaryLoadAction:
        only(el, (element,))
        switch = child(el, element)
        index = _attribute(switch, "index")
        if action == "reset":
            only(switch, ())
            return AuxiliaryLoadAction(action, index, None)
        only(switch, ("Duration",))
        return AuxiliaryLoadAction(action, index, _ranged(switch, "Duration", 0, 0xFFFF))

    return parse


def _boost_buttons(element: str, add: bool) -> Callable[[etree._Element], BoostButtonAssociation]:
    """A parser of a body of an optional ``ExecutionDateTime`` and exactly five
    ``element`` booleans, one per switch index 1..5."""

    def parse(el: etree._Element) -> BoostButtonAssociation:
        extra = [local(c) for c in children(el) if local(c) not in (_EXECUTION, element)]
        if extra:
            raise NotTransformed(f"{local(el)}: unexpected {', '.join(extra)}")
        if len(children(el, _EXECUTION)) > 1:
            raise NotTransformed(f"{local(el)}: {_EXECUTION} given more than once")
        by_index: dict[int, bool] = {}
        for switch in children(el, element):
            index = _attribute(switch, "index")
            if index in by_index:
                raise NotTransformed(f"{local(el)}: {element} index {index} given twice")
            try:
                by_index[index] = boolean(text(switch))
            except ValueError as e:
                raise NotTransformed(f"{local(el)}/{element}[@index={index}]: {e}") from None
        if len(by_index) != _SWITCHES:
            raise NotTransformed(
                f"{local(el)}: needs {element} for each index 1..{_SWITCHES} "
                f"(got {sorted(by_index) or 'none'})"
            )
        flags = tuple(by_index[i] for i in range(1, _SWITCHES + 1))
        return BoostButtonAssociation(add, flags, optional(el, _EXECUTION, date_time))

    return parse


def parse_randomised_offset_limit(el: etree._Element) -> RandomisedOffsetLimit:
    """Read ``SetRandomisedOffsetLimit``."""
    only(el, ("RandomisedOffsetLimit",))
    return RandomisedOffsetLimit(_ranged(el, "RandomisedOffsetLimit", 0, 1799))


def parse_controller_state(el: etree._Element) -> AuxiliaryControllerState:
    """Read ``SetAuxiliaryControllerState`` or ``LimitAPCLevel`` (the same fields)."""
    names = ("StartDateTime", "EndDateTime", "CommandedStateLevel", "InputFromControlledLoad")
    only(el, names)
    start = required(el, "StartDateTime", date_time)
    end = required(el, "EndDateTime", date_time)
    if end <= start:
        raise NotTransformed(f"{local(el)}: EndDateTime is not after StartDateTime")
    return AuxiliaryControllerState(
        auxiliary_controller_n=_attribute(el, "auxiliaryControllerN"),
        start_date_time=start,
        end_date_time=end,
        commanded_state_level=_ranged(el, "CommandedStateLevel", 0, 100),
        input_from_controlled_load=_no_type(el, "InputFromControlledLoad"),
    )


def parse_synchronise_clock(el: etree._Element) -> SynchroniseClock:
    """Read ``CommissionDeviceSynchroniseClock``."""
    only(
        el,
        (
            "CurrentDateTime",
            "TolerancePeriod",
        ),
    )
    return SynchroniseClock(
        required(el, "CurrentDateTime", date_time), _ranged(el, "TolerancePeriod", 0, 86400)
    )


# --- value conversions -----------------------------------------------------------------


def _cosem(when: datetime, where: str) -> str:
    """A UTC instant as the catalogue's COSEM date-time text (deviation and weekday not
    specified: GBCS reads such a date-time as UTC); COSEM keeps hundredths of a second."""
    t = when.astimezone(UTC)
    if t.microsecond % 10_000:
        raise NotTransformed(f"{where}: a COSEM date-time holds hundredths of a second")
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 10_000:02d}"


# --- planners --------------------------------------------------------------------------


def _plan_tamper(p: PlanInput) -> Plan:
    # GBCS ECS81 writes the Supply Tamper State boolean: true locks the supply
    return Plan("ECS81", {"supply_tamper_state": p.body.supply_tamper_state == "Locked"})


def _plan_daily_reset(p: PlanInput) -> Plan:
    # true: one single-action entry at midnight UTC every day; false: none (no reset)
    daily = [{"time": "00:00:00.00", "date": "*-*-*"}]
    reset = p.body.daily_tariff_block_counter_matrix_reset
    return Plan("ECS48", {"daily_reset_times": daily if reset else []})


def _plan_switch(p: PlanInput) -> Plan:
    body: AuxiliaryLoadAction = p.body
    args: dict[str, Any] = {"action": body.action, "index": body.index}
    if body.duration is not None:
        args["duration"] = body.duration
    return Plan("ECS47", args)


def _plan_boost(p: PlanInput) -> Plan:
    body: BoostButtonAssociation = p.body
    element = "AddToBoostButton" if body.add else "RemoveFromBoostButton"
    # GBCS ECS62 writes all five associations; a DUIS false (leave that switch as it
    # is) would need the switch's current association, which the request does not carry
    left = [str(i) for i, flag in enumerate(body.flags, 1) if not flag]
    if left:
        raise NotTransformed(
            f"{element} false (index {', '.join(left)}) is not carried: GBCS ECS62 sets "
            "all five associations and the request does not say the current ones"
        )
    args = {f"boost_button_{i}": body.add for i in range(1, _SWITCHES + 1)}
    return Plan("ECS62", args, send_at=dsp_held(p))


def _plan_offset_limit(p: PlanInput) -> Plan:
    return Plan("ECS38", {"limit": p.body.randomised_offset_limit})


def _controller_times(body: AuxiliaryControllerState) -> dict[str, str]:
    return {
        "start_date_time": _cosem(body.start_date_time, "StartDateTime"),
        "end_date_time": _cosem(body.end_date_time, "EndDateTime"),
    }


def _plan_controller_state(p: PlanInput) -> Plan:
    body: AuxiliaryControllerState = p.body
    return Plan(
        "ECS47a",
        {
            **_controller_times(body),
            "auxiliary_controller_n": body.auxiliary_controller_n,
            "commanded_state_level": body.commanded_state_level,
            "input_from_controlled_load": body.input_from_controlled_load,
        },
    )


def apc_script_selector(n: int, level: int, input_from_controlled_load: bool) -> int:
    """The auxiliary controller script selector GBCS codes ECS47a and ECS47e with:
    ``(0x20 + n) << 8 | level``, bit 7 of the level octet set unless the state is for the
    input from the controlled load (the rule of the catalogue's ECS47a hook)."""
    return (0x20 + n) << 8 | level | (0 if input_from_controlled_load else 0x80)


def _plan_apc_limit(p: PlanInput) -> Plan:
    body: AuxiliaryControllerState = p.body
    selector = apc_script_selector(
        body.auxiliary_controller_n, body.commanded_state_level, body.input_from_controlled_load
    )
    return Plan("ECS47e", {**_controller_times(body), "script_selector": selector})


def _window(body: SynchroniseClock) -> tuple[datetime, datetime]:
    # DUIS: the device takes its time source's time when it lies in CurrentDateTime ..
    # CurrentDateTime + TolerancePeriod
    start = body.current_date_time.astimezone(UTC)
    return start, start + timedelta(seconds=body.tolerance_period)


def _plan_esme_clock(p: PlanInput) -> Plan:
    # the preset time stays unspecified: the ESME takes its time source's, as the DCC sends
    start, end = _window(p.body)
    return Plan("ECS70", {"valid_from": start, "valid_to": end})


def _plan_gsme_clock(p: PlanInput) -> Plan:
    start, end = _window(p.body)
    return Plan("GCS28", {"validity_interval_start": start, "validity_interval_end": end})


def _issuer_event(use_case: str) -> Planner:
    """A GSME planner for a GBZ command whose only DCC-written field is the Issuer Event
    ID.

    ZigBee Smart Energy (ZCL Price / Metering / Device Management clusters): an Issuer
    Event ID is "a unique number managed by upstream servers or a UTC based time stamp
    (UTCTime) identifying when the Publish command was issued; newer information has a
    larger value". The DUIS body has none, so the DCC writes the ZCL UTCTime of the time
    it builds the command (``PlanInput.now``).
    """

    def plan(p: PlanInput) -> Plan:
        send_at = dsp_held(p)  # these SRVs refuse an ExecutionDateTime
        return Plan(use_case, {"issuer_event_id": dcc_issuer_event_id(p)}, send_at=send_at)

    return plan


# --- the routes ------------------------------------------------------------------------

_ROUTES: tuple[tuple[str, str, Callable[[etree._Element], Any], Mapping[str, Planner]], ...] = (
    ("6.25", "SetElectricitySupplyTamperState", parse_tamper_state, {"ESME": _plan_tamper}),
    (
        "6.26",
        "UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix",
        parse_daily_reset,
        {"ESME": _plan_daily_reset},
    ),
    (
        "7.5",
        "ActivateAuxiliaryLoad",
        _switch_action("ActivateALCSHCALCS", "activate"),
        {"ESME": _plan_switch},
    ),
    (
        "7.6",
        "DeactivateAuxiliaryLoad",
        _switch_action("DeactivateALCSHCALCS", "deactivate"),
        {"ESME": _plan_switch},
    ),
    (
        "7.8",
        "ResetAuxiliaryLoad",
        _switch_action("ResetALCSHCALCS", "reset"),
        {"ESME": _plan_switch},
    ),
    (
        "7.9",
        "AddAuxiliaryLoadToBoostButton",
        _boost_buttons("AddToBoostButton", add=True),
        {"ESME": _plan_boost},
    ),
    (
        "7.10",
        "RemoveAuxiliaryLoadFromBoostButton",
        _boost_buttons("RemoveFromBoostButton", add=False),
        {"ESME": _plan_boost},
    ),
    (
        "7.12",
        "SetRandomisedOffsetLimit",
        parse_randomised_offset_limit,
        {"ESME": _plan_offset_limit},
    ),
    (
        "7.13",
        "SetAuxiliaryControllerState",
        parse_controller_state,
        {"ESME": _plan_controller_state},
    ),
    ("7.16", "LimitAPCLevel", parse_controller_state, {"ESME": _plan_apc_limit}),
    (
        "8.1.1",
        "CommissionDeviceSynchroniseClock",
        parse_synchronise_clock,
        {"ESME": _plan_esme_clock, "GSME": _plan_gsme_clock},
    ),
)


def _rms_counter_reset(p: PlanInput) -> Plan:
    """SRV 6.27: ECS29e to a single-phase or twin-element ESME, ECS29f to a polyphase
    one (the variant from the DCC's inventory; the body is empty)."""
    return Plan("ECS29f" if p.polyphase("ECS29e or ECS29f") else "ECS29e")


ROUTES: tuple[SrvRoute, ...] = (
    *(SrvRoute(*row) for row in _ROUTES),
    plain(
        "6.27",
        "UpdateDeviceConfigurationRMSVoltageCounterReset",
        {"ESME": _rms_counter_reset},
    ),
)
"""The SRV variants of this module."""

MORE_PLANNERS: dict[str, dict[str, Planner]] = {
    "3.5": {"GSME": _issuer_event("GCS11")},
    "7.2": {"GSME": _issuer_event("GCS32")},
    "7.3": {"GSME": _issuer_event("GCS39")},
}
"""GSME planners added to the routes of :mod:`emulator.duis.routes_reads`."""

NOT_YET: dict[tuple[str, str], str] = {}
"""Pairs of these SRVs not transformed yet, with why."""
