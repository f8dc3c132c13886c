"""Log and profile reads (SRV 4.4.2-4.4.5, 4.6.1, 4.6.2, 4.8.1-4.8.3, 4.10, 4.14, 4.17,
6.13, 7.11), device-configuration reads (6.2.1, 6.2.3, 6.2.4, 6.2.10), 7.14, 9.1, 14.1,
and SRV 4.18 to a gas meter.

Typed bodies follow the DUIS 5.4 XML schema: ``ReadLogFutureDatable`` (an optional
DSP-held ``ExecutionDateTime`` and a ``ReadLogPeriod``), ``ReadLogFutureDatableAnd
URPCredentials`` (the same and, for a user that is not a Known Remote Party of the device,
``KAPublicSecurityCredentials``) and ``ReadEventOrSecurityLog`` (a ``ReadLogPeriod`` and
the ``LogToRead`` choice). The period's start and end go into the GBCS: as the selective
access range of the DLMS use cases, as the start and end times of the GBZ log reads, and,
for the GBZ profile reads that take a start and a number of samples, as the start and
the number of sample intervals the period spans, plus one (both ends included).

Who originates the GBCS: the user, except that the DCC (the Access Control Broker) sends,
on the user's behalf, with its own counter and the user as *supplementary remote party*
(its EUI and RequestID counter in the grouping header):

* every use case whose only GBCS remote-party role is the ACB (here ECS21c, the CHF's
  ECS35c/ECS35d, GCS31);
* every command for a user that is an Unknown Remote Party of the device (GBCS: its
  credentials are in none of the device's trust anchor cells; the request then carries
  ``KAPublicSecurityCredentials``). That GBCS also carries the user's KA certificate, for
  the device to encrypt its response.

Where an SRV has several use cases for one device type and neither the body nor the
SRV's eligible user roles choose between them (the choice rests on the device's model or
GBCS version, which the DCC knows from its inventory and the request does not carry),
the pair is in :data:`NOT_YET` with why.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from emulator.duis.routing import (
    ACB,
    ZCL_EPOCH,
    NotTransformed,
    Plan,
    PlanInput,
    Planner,
    SrvRoute,
    child,
    cosem_text,
    date_time,
    dcc_issuer_event_id,
    dsp_held,
    empty_body,
    fixed,
    only,
    optional,
    plain,
    required,
    text,
)

__all__ = [
    "LOGS_TO_READ",
    "MORE_PLANNERS",
    "NOT_YET",
    "ROUTES",
    "EventOrSecurityLog",
    "LogPeriod",
    "ReadLog",
    "RecordNetworkDataGas",
    "parse_event_or_security_log",
    "parse_period",
    "parse_read_log",
    "parse_read_log_urp",
    "parse_record_network_data_gas",
]

# --- typed bodies -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogPeriod:
    """``ReadLogPeriod``: the period of the log to read, both ends UTC."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ReadLog:
    """``ReadLogFutureDatable`` and ``ReadLogFutureDatableAndURPCredentials``."""

    period: LogPeriod
    #: When the DSP sends the request (the SRVs of this body are DSP future-dated).
    execution_date_time: datetime | None = None
    #: The DER KA certificate of a user that is an Unknown Remote Party of the device.
    ka_public_security_credentials: bytes | None = None


#: ``LogToRead`` values of the XSD.
LOGS_TO_READ = ("Event", "ALCSEvent", "PowerEvent", "Security", "GSMEEvent", "GSMESecurity")


@dataclass(frozen=True, slots=True)
class EventOrSecurityLog:
    """``ReadEventOrSecurityLog``: a period and which log (:data:`LOGS_TO_READ`)."""

    period: LogPeriod
    log_to_read: str


def parse_period(el: etree._Element) -> LogPeriod:
    """``ReadLogPeriod`` (``StartDateTime``, ``EndDateTime``); the start must not be after
    the end."""
    only(el, ("StartDateTime", "EndDateTime"))
    start = required(el, "StartDateTime", date_time)
    end = required(el, "EndDateTime", date_time)
    if start > end:
        raise NotTransformed(
            f"ReadLogPeriod: StartDateTime {start.isoformat()} is after EndDateTime "
            f"{end.isoformat()}"
        )
    return LogPeriod(start.astimezone(UTC), end.astimezone(UTC))


def _certificate(value: str) -> bytes:
    try:
        der = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if not der:
        raise ValueError("empty")
    return der


def _read_log(el: etree._Element, allowed: tuple[str, ...]) -> ReadLog:
    only(el, allowed)
    return ReadLog(
        period=parse_period(child(el, "ReadLogPeriod")),
        execution_date_time=optional(el, "ExecutionDateTime", date_time),
        ka_public_security_credentials=optional(el, "KAPublicSecurityCredentials", _certificate),
    )


def parse_read_log(el: etree._Element) -> ReadLog:
    """A ``ReadLogFutureDatable`` body."""
    return _read_log(el, ("ExecutionDateTime", "ReadLogPeriod"))


def parse_read_log_urp(el: etree._Element) -> ReadLog:
    """A ``ReadLogFutureDatableAndURPCredentials`` body."""
    return _read_log(el, ("ExecutionDateTime", "ReadLogPeriod", "KAPublicSecurityCredentials"))


def parse_event_or_security_log(el: etree._Element) -> EventOrSecurityLog:
    """A ``ReadEventOrSecurityLog`` body (not future-datable: no ``ExecutionDateTime``)."""
    only(el, ("ReadLogPeriod", "LogToRead"))
    period = parse_period(child(el, "ReadLogPeriod"))
    log = text(child(el, "LogToRead"))
    if log not in LOGS_TO_READ:
        raise NotTransformed(
            f"ReadEventOrSecurityLog/LogToRead: {log!r} is not one of {', '.join(LOGS_TO_READ)}"
        )
    return EventOrSecurityLog(period, log)


@dataclass(frozen=True, slots=True)
class RecordNetworkDataGas:
    """``RecordNetworkDataGAS`` (SRV 14.1): an empty type, not future-datable."""


def parse_record_network_data_gas(el: etree._Element) -> RecordNetworkDataGas:
    """A ``RecordNetworkDataGAS`` body: no children, no text."""
    only(el, ())
    return RecordNetworkDataGas()


# --- GBCS arguments from a period --------------------------------------------------------

Args = Callable[[LogPeriod], Mapping[str, Any]]


def _instants(period: LogPeriod) -> Mapping[str, Any]:
    """Use cases taking the period as two UTC instants."""
    return {"start_date_time": period.start, "end_date_time": period.end}


# ZCL UTCTime counts seconds from 2000-01-01T00:00:00Z in 32 bits and 0xFFFFFFFF means
# "invalid": the latest instant a GBZ log read can name is 0xFFFFFFFE seconds on.
_ZCL_LATEST = ZCL_EPOCH + timedelta(seconds=0xFFFF_FFFE)


def _gbz_instants(period: LogPeriod) -> Mapping[str, Any]:
    """GBZ log reads: the period as ZCL UTCTimes, an end past the last one (a read "to
    the end of the log") being the last one."""
    return {"start_date_time": period.start, "end_date_time": min(period.end, _ZCL_LATEST)}


def _cosem(period: LogPeriod) -> Mapping[str, Any]:
    """Use cases taking the period as COSEM date-times (UTC, to the hundredth)."""
    return {"start_date_time": cosem_text(period.start), "end_date_time": cosem_text(period.end)}


def _event_log(period: LogPeriod) -> Mapping[str, Any]:
    """ECS35a/b name their range ``start`` and ``end``."""
    return {"start": period.start, "end": period.end}


def _samples(interval: timedelta) -> Args:
    """GBZ profile reads: the start and how many samples of ``interval`` the period spans,
    both ends included."""

    def args(period: LogPeriod) -> Mapping[str, Any]:
        count = (period.end - period.start) // interval + 1
        return {"start_date_time": period.start, "number_of_samples": count}

    return args


_HALF_HOUR = timedelta(minutes=30)
_DAY = timedelta(days=1)
# the GSME's network data log (started by GCS31) holds a sample every 6 minutes: the
# RTDS GCS18 command asks 41 samples for its template's 4-hour period
_NETWORK_SAMPLE = timedelta(minutes=6)


# --- planners -----------------------------------------------------------------------------


def _log(use_case: str, args: Args, *, acb: bool = False) -> Planner:
    """A planner for a log read: the body's period as ``args``; DSP-held if future-dated;
    sent by the ACB for the user where ``acb`` (its only GBCS remote party) or where the
    user is an Unknown Remote Party (see the module notes)."""

    def plan(p: PlanInput) -> Plan:
        body: ReadLog = p.body
        certificate = body.ka_public_security_credentials
        if acb or certificate is not None:
            return _for_the_user(use_case, args(body.period), dsp_held(p), certificate)
        return Plan(use_case, args(body.period), send_at=dsp_held(p))

    return plan


def _for_the_user(
    use_case: str,
    args: Mapping[str, Any],
    send_at: datetime | None,
    certificate: bytes | None = None,
) -> Plan:
    """The ACB originates ``use_case`` with its own counter, the user as supplementary
    remote party (with its KA ``certificate`` when it is an Unknown Remote Party)."""
    return Plan(
        use_case,
        args,
        originator=ACB,
        send_at=send_at,
        supplementary=True,
        supplementary_certificate=certificate,
    )


def _record_network_data(p: PlanInput) -> Plan:
    """SRV 14.1: GCS31 (start the network data log), the ACB's use case alone."""
    return _for_the_user("GCS31", {"issuer_event_id": dcc_issuer_event_id(p)}, None)


# SRV 6.13: the use case by LogToRead and device type (ESME ALCSEvent: see _ALCS_LOG);
# the CHF's logs are read by the ACB alone.
_CHF_LOGS = {"Event": "ECS35c", "Security": "ECS35d"}
_EVENT_LOGS: dict[tuple[str, str], tuple[str, Args]] = {
    ("ESME", "Event"): ("ECS35a", _event_log),
    ("ESME", "Security"): ("ECS35b", _event_log),
    ("ESME", "PowerEvent"): ("ECS35e", _instants),
    ("GSME", "Event"): ("CS10a", _gbz_instants),
    ("GSME", "Security"): ("CS10b", _gbz_instants),
    ("GPF", "Event"): ("CS10a", _gbz_instants),
    ("GPF", "Security"): ("CS10b", _gbz_instants),
}
_ALCS_LOG = (
    "LogToRead ALCSEvent to an ESME is ECS35f or ECS35g (Read ALCS Event Log), and neither "
    "the body nor the SRV's user roles choose between them"
)


def _event_or_security_log(p: PlanInput) -> Plan:
    body: EventOrSecurityLog = p.body
    if p.device == "ESME" and body.log_to_read == "ALCSEvent":
        raise NotTransformed(_ALCS_LOG)
    if p.device == "CHF" and body.log_to_read in _CHF_LOGS:
        return _for_the_user(_CHF_LOGS[body.log_to_read], _instants(body.period), None)
    found = _EVENT_LOGS.get((p.device, body.log_to_read))
    if found is None:
        raise NotTransformed(
            f"LogToRead {body.log_to_read}: no GBCS use case here reads that log from the "
            f"{p.device}"
        )
    use_case, args = found
    return Plan(use_case, args(body.period))


def _by_phases(what: str, single: Planner, poly: Planner) -> Planner:
    """``poly`` for a polyphase ESME, ``single`` for a single-phase or twin-element one
    (the variant from the DCC's inventory: :meth:`PlanInput.polyphase`)."""

    def plan(p: PlanInput) -> Plan:
        return (poly if p.polyphase(what) else single)(p)

    return plan


# SRV 6.2.10 to an ESME by the requesting user's role (the DCC's user registry): a
# supplier reads the supplier's behaviours (ECS25r1), a network operator its own (ECS25r2)
_BEHAVIOURS_BY_ROLE = {"IS": "ECS25r1", "ED": "ECS25r2"}


def _esme_behaviours(p: PlanInput) -> Plan:
    use_case = _BEHAVIOURS_BY_ROLE.get(p.user_role or "")
    if use_case is None:
        if p.user_role is None:
            raise NotTransformed(
                "ECS25r1 (a supplier) or ECS25r2 (a network operator): the user's role "
                "decides, which the DCC knows from its user registry: give it"
            )
        raise NotTransformed(
            f"a user of role {p.user_role} reads no ESME event and alert behaviours (IS: "
            "ECS25r1, ED: ECS25r2)"
        )
    return Plan(use_case, send_at=dsp_held(p))


def _customer_id(use_case: str) -> Planner:
    """SRV 9.1: the DCC (the ACB, the use case's only remote party) writes the Customer
    Identification Number it chose, the user as supplementary remote party."""

    def plan(p: PlanInput) -> Plan:
        cin = p.cin
        if cin is None:
            raise NotTransformed(
                f"{use_case} carries the Customer Identification Number the DCC chooses "
                "(and returns to the user): give it"
            )
        if not (len(cin) == 4 and cin.isascii() and cin.isdigit()):
            raise NotTransformed(f"CIN {cin!r}: four decimal digits")
        if use_case == "ECS50":
            args: dict[str, Any] = {"cin": cin}
        else:
            args = {"issuer_event_id": dcc_issuer_event_id(p), "customer_id_number": cin}
        return Plan(use_case, args, originator=ACB, supplementary=True)

    return plan


def _route(variant: str, body: str, urp: bool, planners: Mapping[str, Planner]) -> SrvRoute:
    """A log-read route: ``urp`` for a body of ``ReadLogFutureDatableAndURPCredentials``."""
    return SrvRoute(variant, body, parse_read_log_urp if urp else parse_read_log, planners)


def _gas(use_case: str, args: Args) -> dict[str, Planner]:
    planner = _log(use_case, args)
    return {"GSME": planner, "GPF": planner}


ROUTES: tuple[SrvRoute, ...] = (
    _route(
        "4.4.2",
        "RetrieveCoMOrTariffTriggeredBillingDataLog",
        True,
        {"ESME": _log("ECS20b", _cosem), **_gas("GCS15b", _gbz_instants)},
    ),
    _route(
        "4.4.3",
        "RetrieveBillingCalendarTriggeredBillingDataLog",
        True,
        {"ESME": _log("ECS20c", _cosem), **_gas("GCS15c", _gbz_instants)},
    ),
    _route(
        "4.4.4",
        "RetrieveBillingDataLogDebtPayments",
        False,
        {"ESME": _log("ECS20a", _instants), **_gas("GCS15d", _gbz_instants)},
    ),
    _route(
        "4.4.5",
        "RetrieveBillingDataLogPrepaymentCredits",
        False,
        {"ESME": _log("ECS20d", _instants), **_gas("GCS15e", _gbz_instants)},
    ),
    _route(
        "4.6.1",
        "RetrieveImportDailyReadLog",
        True,
        {"ESME": _log("ECS21a", _cosem), **_gas("GCS16a", _gbz_instants)},
    ),
    _route(
        "4.8.1",
        "ReadActiveImportProfileData",
        True,
        {"ESME": _log("ECS22b", _cosem), **_gas("GCS17", _samples(_HALF_HOUR))},
    ),
    _route("4.8.2", "ReadReactiveImportProfileData", False, {"ESME": _log("ECS22c", _instants)}),
    _route("4.8.3", "ReadExportProfileData", False, {"ESME": _log("ECS22a", _instants)}),
    _route(
        "4.10",
        "ReadNetworkData",
        True,
        {
            "ESME": _by_phases(
                "ECS23 or ECS23b", _log("ECS23", _instants), _log("ECS23b", _instants)
            ),
            "GSME": _log("GCS18", _samples(_NETWORK_SAMPLE)),
        },
    ),
    _route(
        "4.14",
        "ReadPrepaymentDailyReadLog",
        True,
        {"ESME": _log("ECS21b", _cosem), **_gas("GCS16b", _gbz_instants)},
    ),
    _route(
        "4.17",
        "RetrieveDailyConsumptionLog",
        True,
        {"ESME": _log("ECS66", _cosem), "GPF": _log("GCS61", _samples(_DAY))},
    ),
    _route("7.11", "ReadBoostButtonDetails", False, {"ESME": _log("ECS61c", _instants)}),
    SrvRoute(
        "6.13",
        "ReadEventOrSecurityLog",
        parse_event_or_security_log,
        {d: _event_or_security_log for d in ("ESME", "GSME", "GPF", "CHF")},
    ),
    _route(
        "4.6.2", "RetrieveExportDailyReadLog", False, {"ESME": _log("ECS21c", _instants, acb=True)}
    ),
    SrvRoute(
        "14.1",
        "RecordNetworkDataGAS",
        parse_record_network_data_gas,
        {"GSME": _record_network_data},
    ),
    # bodies with nothing but, where DSP future-dated, an ExecutionDateTime
    plain("6.2.3", "ReadDeviceConfigurationBillingCalendar", {"GPF": "GCS21k"}),
    plain(
        "6.2.10",
        "ReadDeviceConfigurationEventAndAlertBehaviours",
        {"ESME": _esme_behaviours, "GSME": "GCS20r"},
    ),
    plain(
        "9.1",
        "RequestCustomerIdentificationNumber",
        {"ESME": _customer_id("ECS50"), "GSME": _customer_id("GCS36")},
    ),
    plain(
        "6.2.1",
        "ReadDeviceConfigurationVoltage",
        {"ESME": _by_phases("ECS26b or ECS26k", fixed("ECS26b"), fixed("ECS26k"))},
    ),
    plain("7.14", "ReadAuxiliaryControllerConfigurationData", {"ESME": "ECS61d"}),
)
"""The SRV variants of this module."""

# SRV 4.18 to a gas meter (routes_reads.py routes it to the ESME), by device type: GCS60
# to the GSME, GCS60a (the same GBZ read, its own message code) to the GPF, the one target
# the registry gives GCS60a; the RTDS 4.5.0 GCS60 command goes to a GSME, both GCS60a ones
# to a GPF. (One RTDS 4.9.1 template, GCS60a ..._UNRELIABLE_GSME, names GCS60a for a
# request to a GSME that is the GCS60 template's, counter aside: no rule can follow both.)
MORE_PLANNERS: dict[str, dict[str, Planner]] = {
    "4.18": {"GSME": fixed("GCS60"), "GPF": fixed("GCS60a")},
}
"""Planners this module adds to SRV 4.18 (routed by :mod:`emulator.duis.routes_reads`)."""

_WHICH = (
    "{a} or {b}: the {device}'s {what} decides, which the DCC knows from its inventory "
    "and the request does not carry"
)
NOT_YET: dict[tuple[str, str], str] = {
    ("6.2.4", "CHF"): _WHICH.format(a="ECS26i", b="ECS26n", device="CHF", what="GBCS version"),
    ("6.2.3", "ESME"): _WHICH.format(a="ECS26d", b="ECS26l", device="ESME", what="GBCS version"),
    ("6.2.3", "GSME"): _WHICH.format(a="GCS21d", b="GCS21k", device="GSME", what="GBCS version"),
    ("6.2.4", "ESME"): _WHICH.format(a="ECS26e", b="ECS26m", device="ESME", what="GBCS version"),
    ("6.2.4", "GSME"): _WHICH.format(a="GCS21e", b="GCS21m", device="GSME", what="GBCS version"),
}
"""Pairs of these SRVs not transformed yet, with why."""

TYPED_BODIES: dict[str, Any] = {"ReadDeviceConfigurationIdentityExcMPxN": empty_body}
"""Typed bodies of this group's SRVs not transformed yet (6.2.4: see NOT_YET)."""
