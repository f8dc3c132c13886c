"""The ZCL object model a GSME or GPF answers GBZ use cases from.

A :class:`ZclModel` holds, per cluster, typed attributes (:class:`ZclAttribute`: a ZCL data
type id and a value in the form :class:`gbcs.zcl.ZclValue` uses) plus the *command state*
ZSE commands leave behind (the last published calendar and its day/week/season/special-day
profiles, tariff information, price matrix, block thresholds, billing and block periods,
event configuration, site id, CIN, change of tenancy/supplier, the last display message,
snapshots, sampled data, event/top-up/debt logs). :mod:`devices.gbz_engine` executes GBZ
commands against it, so a response is always built from state and a later read agrees with
an earlier write.

Profiles are data (``devices/profiles/gsme_zcl.json``, ``gpf_zcl.json``)::

    {"profile": "GSME",
     "clusters": {"0x0702": {"name": "Metering",
                             "attributes": {"0x0000": {"name": "CurrentSummationDelivered",
                                                       "type": "0x25",
                                                       "hex": "000000000000",
                                                       "access": "r"}}}},
     "config": {...}, "state": {...}}

Attribute values are written as the ZCL data type id (``"type"``: an int or a ``"0x.."``
string) and ``"hex"``: the value bytes exactly as they follow the type id on the wire
(little-endian integers, a length-prefixed string, ...), i.e. ``ZclValue.encode()[1:]``.
They are decoded with the :mod:`gbcs.zcl` decoder, so every ZCL type round-trips exactly.
``"access"`` is ``"r"`` (the default; only ZSE commands change the value) or ``"rw"`` (a
remote party may also change it with Write Attributes). ``config`` holds capacities and
behaviour switches (:class:`ModelConfig`); ``state`` the command state (absent in a
factory profile). :meth:`ZclModel.to_dict` writes the same format with ``state`` filled
in, so ``ZclModel.from_dict(m.to_dict())`` behaves exactly as ``m``. Stored ZCL records
are kept as ``{"cluster", "s2c", "command", "hex"}`` (their exact payload bytes).

Behaviours *bind* live attributes (:meth:`ZclModel.bind`) with a getter (returns the value)
and/or a setter (applies a value, returns a ZCL status; anything but 0 refuses it and
leaves state unchanged). Bindings are not part of :meth:`ZclModel.to_dict`.

Helpers the device behaviours use (all raise :class:`ZclModelError` on misuse):

* :meth:`ZclModel.get_int` / :meth:`ZclModel.set_int` by ``(cluster, attribute id)``,
  e.g. ``(METERING, CURRENT_SUMMATION_DELIVERED)`` (uint48), ``(METERING, MULTIPLIER)``,
  ``(METERING, DIVISOR)``, ``(METERING, SUPPLY_STATUS)``;
  :meth:`ZclModel.get_bytes` / :meth:`ZclModel.set_bytes` for strings;
* :attr:`ZclModel.firmware_version` — Metering ``CurrentMeterID`` (0x0206), the octet
  string GCS38 "Read GSME Firmware Version" reads;
* :attr:`ZclModel.supply_status` — Metering ``SupplyStatus`` (0x0014: 0 off, 1 armed, 2 on);
* the display matrices: :meth:`ZclModel.tou_registers` (Metering ``CurrentTier1..4
  SummationDelivered``, :data:`TOU_REGISTER_IDS`) and :meth:`ZclModel.block_counters`
  (``CurrentNoTierBlock1..4SummationDelivered``, :data:`BLOCK_COUNTER_IDS`), with
  :meth:`ZclModel.set_tou_register` / :meth:`ZclModel.set_block_counter`;
* :meth:`ZclModel.log_event`, :meth:`ZclModel.take_snapshot`, :meth:`ZclModel.record_sample`,
  :meth:`ZclModel.record_top_up`, :meth:`ZclModel.record_debt_collection` feed the logs the
  Get* commands read; :meth:`ZclModel.mirror_from` copies GSME data into a GPF model.
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.zcl import (
    BlockTierDeliveredNoBilling,
    DebtCreditStatus,
    DebtLogEntry,
    EventLogEntry,
    PublishCalendar,
    PublishDayProfile,
    PublishPrepaySnapshot,
    PublishSeasons,
    PublishSnapshot,
    PublishSpecialDays,
    PublishWeekProfile,
    ReadAttributesResponse,
    TopUpLogEntry,
    TouDeliveredNoBilling,
    ZclCommand,
    ZclValue,
    decode_zcl_payload,
    typed_commands,
)

__all__ = [
    "BASIC",
    "BILL_TO_DATE_DELIVERED",
    "BLOCK_COUNTER_IDS",
    "CALENDAR",
    "CREDIT_REMAINING",
    "CURRENT_METER_ID",
    "CURRENT_SUMMATION_DELIVERED",
    "CUSTOMER_ID_NUMBER",
    "DEVICE_MANAGEMENT",
    "DIVISOR",
    "EVENTS",
    "MESSAGING",
    "METERING",
    "MULTIPLIER",
    "PREPAYMENT",
    "PRICE",
    "SITE_ID",
    "SUPPLY_STATUS",
    "TOU_REGISTER_IDS",
    "UNIT_OF_MEASURE",
    "AttributeGetter",
    "AttributeSetter",
    "CalendarState",
    "ModelConfig",
    "Sampling",
    "Snapshot",
    "ZclAttribute",
    "ZclModel",
    "ZclModelError",
    "billing_period_boundaries",
    "calendar_slot",
    "decode_value_hex",
    "encode_value_hex",
    "load_profile",
    "record_series_sample",
]

# --------------------------------------------------------------------------- ids

BASIC = 0x0000
PRICE = 0x0700
METERING = 0x0702
MESSAGING = 0x0703
PREPAYMENT = 0x0705
CALENDAR = 0x0707
DEVICE_MANAGEMENT = 0x0708
EVENTS = 0x0709

CURRENT_SUMMATION_DELIVERED = 0x0000
SUPPLY_STATUS = 0x0014
CURRENT_METER_ID = 0x0206
UNIT_OF_MEASURE = 0x0300
MULTIPLIER = 0x0301
DIVISOR = 0x0302
SITE_ID = 0x0307
CUSTOMER_ID_NUMBER = 0x0311
BILL_TO_DATE_DELIVERED = 0x0A00
CREDIT_REMAINING = 0x0001

TOU_REGISTER_IDS: tuple[int, ...] = (0x0100, 0x0102, 0x0104, 0x0106)
"""Metering ``CurrentTier1..4SummationDelivered``: the GSME Tariff TOU Register Matrix."""

BLOCK_COUNTER_IDS: tuple[int, ...] = (0x0700, 0x0701, 0x0702, 0x0703)
"""Metering ``CurrentNoTierBlock1..4SummationDelivered``: the Tariff Block Counter Matrix."""

SNAPSHOT_CAUSE_BILLING_PERIOD_END = 0x00000002
"""ZCL snapshot cause bit 1, End of Billing Period (the GSME Billing Data Log entry its
Billing Calendar takes; GCS15c reads it)."""

_UNTIL_CHANGED = 0xFFFFFF
"""ZSE Publish Billing Period duration meaning "until changed" (no further boundary)."""

_FIXED_TIMEBASE = {0x0: 60, 0x1: 86_400, 0x2: 7 * 86_400}
"""Billing period duration timebase (low nibble of the duration type): minutes, days,
weeks, in seconds; 0x3 (months) is calendar arithmetic."""


def _add_months(t: int, months: int) -> int:
    """UTCTime ``t`` plus whole calendar months (day of month clamped, time kept)."""
    d = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=t)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    moved = d.replace(year=year, month=month, day=min(d.day, last))
    return int((moved - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds())


def billing_period_boundaries(
    start: int, duration: int, duration_type: int, after: int, until: int, limit: int = 750
) -> list[int]:
    """The billing-period boundaries of a Billing Calendar in ``(after, until]`` (UTCTime
    seconds), oldest first, at most the ``limit`` latest.

    A boundary is the calendar's start and every ``duration`` timebase units after it:
    the start ends whatever period ran before the calendar (RTDS GCS15c: a GCS25
    calendar starting 1 Feb 2015, monthly, leaves Billing Data Log entries dated 1 Feb
    and 1 Mar). Duration 0 or 0xFFFFFF ("until changed") has the start only; an unknown
    timebase (low nibble of ``duration_type`` above 3) has none. The duration-control
    nibble only matters for a start of "now", which the caller has already resolved.
    """
    if until <= after:
        return []
    base = duration_type & 0x0F
    if base > 3:
        return []
    if duration in (0, _UNTIL_CHANGED):
        return [start] if after < start <= until else []
    out: list[int] = []
    if base in _FIXED_TIMEBASE:
        step = duration * _FIXED_TIMEBASE[base]
        lo = 0 if after < start else (after - start) // step + 1
        hi = (until - start) // step
        return [start + i * step for i in range(max(lo, hi - limit + 1), hi + 1)]
    n = 0
    while True:
        t = _add_months(start, n * duration)
        if t > until:
            break
        if t > after:
            out.append(t)
            del out[: max(0, len(out) - limit)]
        n += 1
    return out


# ZCL data type ids the model treats as numbers (bitmaps, unsigned, signed, enums, UTCTime).
_UNSIGNED = {**{0x08 + i: i + 1 for i in range(8)}, **{0x18 + i: i + 1 for i in range(8)}}
_UNSIGNED.update({0x20 + i: i + 1 for i in range(8)})
_UNSIGNED.update({0x10: 1, 0x30: 1, 0x31: 2, 0xE2: 4, 0xE8: 2, 0xE9: 2, 0xEA: 4, 0xF0: 8})
_SIGNED = {0x28 + i: i + 1 for i in range(8)}
_STRINGS = frozenset((0x41, 0x42, 0x43, 0x44))

AttributeGetter = Callable[[], Any]
"""Returns the live value of a bound attribute (the Python form of its ZCL type)."""

AttributeSetter = Callable[[Any], int]
"""Applies a value to a bound attribute; returns a ZCL status (0 = accepted)."""


class ZclModelError(ValueError):
    """A profile is malformed, or a helper was asked for something the model lacks."""


# --------------------------------------------------------------------------- values


def decode_value_hex(type_id: int, hex_text: str) -> ZclValue:
    """The :class:`ZclValue` whose value bytes (after the type id) are ``hex_text``.

    Decoded by the :mod:`gbcs.zcl` Read Attributes Response decoder, so the result
    re-encodes to the same bytes; raises :class:`ZclModelError` otherwise.
    """
    if not isinstance(type_id, int) or not 0 <= type_id <= 0xFF:
        raise ZclModelError(f"ZCL data type {type_id!r} out of range")
    try:
        data = bytes.fromhex(hex_text)
    except (TypeError, ValueError):
        raise ZclModelError(f"value {hex_text!r} is not hex") from None
    try:
        rec = decode_zcl_payload(0, 0x08, 0x01, b"\x00\x00\x00" + bytes((type_id,)) + data)
    except GbcsDecodeError as e:
        raise ZclModelError(f"type 0x{type_id:02X} value {hex_text}: {e.reason}") from None
    if (
        not isinstance(rec, ReadAttributesResponse)
        or len(rec.records) != 1
        or rec.records[0].value is None
    ):
        raise ZclModelError(f"type 0x{type_id:02X} value {hex_text}: not exactly one value")
    value = rec.records[0].value
    if value.encode()[1:] != data:
        raise ZclModelError(f"type 0x{type_id:02X} value {hex_text} does not round-trip")
    return value


def encode_value_hex(value: ZclValue) -> str:
    """The value bytes of ``value`` (without its type id) as upper-case hex."""
    return value.encode()[1:].hex().upper()


def _parse_attribute(adoc: object, where: str) -> ZclAttribute:
    """One attribute of a profile or saved-state document: ``{"type", "hex", "access",
    "name"}``; :class:`ZclModelError` names ``where`` and what is wrong."""
    if not isinstance(adoc, Mapping):
        raise ZclModelError(f"{where}: expected an object")
    t = _parse_id(adoc.get("type"), f"{where} type", 0xFF)
    try:
        value = decode_value_hex(t, adoc.get("hex", ""))
    except ZclModelError as e:
        raise ZclModelError(f"{where}: {e}") from None
    access = adoc.get("access", "r")
    if access not in ("r", "rw"):
        raise ZclModelError(f"{where}: access must be 'r' or 'rw'")
    return ZclAttribute(t, value.value, access == "rw", str(adoc.get("name", "")))


def _parse_id(text: Any, what: str, limit: int = 0xFFFF) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        n = text
    elif isinstance(text, str):
        try:
            n = int(text, 0)
        except ValueError:
            raise ZclModelError(f"{what} {text!r} is not a number") from None
    else:
        raise ZclModelError(f"{what} {text!r} is not a number")
    if not 0 <= n <= limit:
        raise ZclModelError(f"{what} {text!r} out of range")
    return n


def _check_int(type_id: int, value: Any) -> int | None:
    """``value`` as an int if it fits the numeric ZCL type, else None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if type_id in _UNSIGNED:
        return value if 0 <= value < 1 << (8 * _UNSIGNED[type_id]) else None
    if type_id in _SIGNED:
        half = 1 << (8 * _SIGNED[type_id] - 1)
        return value if -half <= value < half else None
    return None


def _encodes(type_id: int, value: Any) -> bool:
    try:
        ZclValue(type_id, value).encode()
    except GbcsEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- records


def _record_json(rec: ZclCommand) -> dict[str, Any]:
    cls = type(rec)
    return {
        "cluster": cls.CLUSTER,  # type: ignore[attr-defined]
        "s2c": cls.SERVER_TO_CLIENT,  # type: ignore[attr-defined]
        "command": cls.COMMAND_ID,  # type: ignore[attr-defined]
        "hex": rec.encode().hex().upper(),
    }


def _record_from_json(doc: Any, where: str) -> Any:
    if not isinstance(doc, Mapping):
        raise ZclModelError(f"{where}: expected a stored ZCL record")
    try:
        cluster = _parse_id(doc["cluster"], f"{where}.cluster")
        s2c = bool(doc["s2c"])
        command = _parse_id(doc["command"], f"{where}.command", 0xFF)
        data = bytes.fromhex(doc["hex"])
    except (KeyError, TypeError, ValueError) as e:
        raise ZclModelError(f"{where}: bad stored record ({e})") from None
    if (cluster, s2c, command) not in typed_commands():
        raise ZclModelError(f"{where}: no typed ZCL command for {cluster:#06x}/{command:#04x}")
    fc = 0x09 if s2c else 0x01
    try:
        return decode_zcl_payload(cluster, fc, command, data, where)
    except GbcsDecodeError as e:
        raise ZclModelError(f"{where}: {e}") from None


def calendar_slot(calendar_type: int) -> str:
    """Which calendar a ZSE calendar type replaces: ``"tariff"`` (types 0-2: delivered,
    received, delivered and received), ``"friendly_credit"`` (3), ``"auxiliary"`` (4)."""
    if calendar_type in (0, 1, 2):
        return "tariff"
    if calendar_type == 3:
        return "friendly_credit"
    if calendar_type == 4:
        return "auxiliary"
    return f"type{calendar_type}"


@dataclass(slots=True)
class CalendarState:
    """A published calendar and the profiles published for it (the exact records)."""

    calendar: PublishCalendar
    days: dict[int, list[PublishDayProfile]] = field(default_factory=dict)
    weeks: dict[int, PublishWeekProfile] = field(default_factory=dict)
    seasons: list[PublishSeasons] = field(default_factory=list)
    special_days: list[PublishSpecialDays] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calendar": _record_json(self.calendar),
            "days": {str(k): [_record_json(r) for r in v] for k, v in sorted(self.days.items())},
            "weeks": {str(k): _record_json(v) for k, v in sorted(self.weeks.items())},
            "seasons": [_record_json(r) for r in self.seasons],
            "special_days": [_record_json(r) for r in self.special_days],
        }

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> CalendarState:
        if not isinstance(doc, Mapping):
            raise ZclModelError(f"{where}: expected a calendar")
        cal = _record_from_json(doc.get("calendar"), f"{where}.calendar")
        if not isinstance(cal, PublishCalendar):
            raise ZclModelError(f"{where}.calendar: not a Publish Calendar")
        out = cls(cal)
        for k, recs in dict(doc.get("days", {})).items():
            day = _parse_id(k, f"{where}.days", 0xFF)
            out.days[day] = [_typed(r, PublishDayProfile, f"{where}.days.{k}") for r in recs]
        for k, rec in dict(doc.get("weeks", {})).items():
            out.weeks[_parse_id(k, f"{where}.weeks", 0xFF)] = _typed(
                rec, PublishWeekProfile, f"{where}.weeks.{k}"
            )
        out.seasons = [
            _typed(r, PublishSeasons, f"{where}.seasons") for r in doc.get("seasons", ())
        ]
        out.special_days = [
            _typed(r, PublishSpecialDays, f"{where}.special_days")
            for r in doc.get("special_days", ())
        ]
        return out


def _typed(doc: Any, cls: type, where: str) -> Any:
    rec = _record_from_json(doc, where)
    if not isinstance(rec, cls):
        raise ZclModelError(f"{where}: expected {cls.__name__}")
    return rec


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A Metering (Publish Snapshot) or Prepayment (Publish Prepay Snapshot) snapshot.

    ``payload`` is the exact snapshot sub-payload bytes of ``payload_type``.
    """

    snapshot_id: int
    time: int
    cause: int
    payload_type: int
    payload: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.snapshot_id,
            "time": self.time,
            "cause": self.cause,
            "type": self.payload_type,
            "hex": self.payload.hex().upper(),
        }

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> Snapshot:
        try:
            return cls(
                int(doc["id"]),
                int(doc["time"]),
                int(doc["cause"]),
                int(doc["type"]),
                bytes.fromhex(doc["hex"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ZclModelError(f"{where}: bad snapshot ({e})") from None


DAILY_INTERVAL = 0xFFFF
"""Sample request interval ZSE uses for daily samples (RTDS GCS61)."""


@dataclass(slots=True)
class Sampling:
    """One sampled-data set (Get Sampled Data): profile data log (id 0), GPF daily
    consumption log (id 1), network data log (id 2, started by Start Sampling).

    Sample ``i`` was taken at ``start + i * interval`` seconds (``interval`` 0xFFFF means
    one day). Samples are uint24.
    """

    sample_type: int
    interval: int
    max_samples: int
    start: int = 0
    samples: list[int] = field(default_factory=list)
    issuer_event_id: int = 0

    @property
    def step(self) -> int:
        """Seconds between samples."""
        return 86400 if self.interval == DAILY_INTERVAL else self.interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.sample_type,
            "interval": self.interval,
            "max": self.max_samples,
            "start": self.start,
            "samples": list(self.samples),
            "issuer_event_id": self.issuer_event_id,
        }

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> Sampling:
        try:
            s = cls(
                int(doc["type"]),
                int(doc["interval"]),
                int(doc["max"]),
                int(doc.get("start", 0)),
                [int(x) for x in doc.get("samples", ())],
                int(doc.get("issuer_event_id", 0)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ZclModelError(f"{where}: bad sampling ({e})") from None
        if s.interval <= 0 or s.max_samples <= 0 or any(not 0 <= x < 1 << 24 for x in s.samples):
            raise ZclModelError(f"{where}: bad sampling values")
        return s


@dataclass(slots=True)
class ModelConfig:
    """Capacities and behaviour switches of a model (profile ``config``)."""

    event_log_capacity: int = 100
    clearable_logs: tuple[int, ...] = (3,)
    snapshot_capacity: int = 750
    top_up_log_capacity: int = 10
    debt_log_capacity: int = 100
    start_sampling_id: int | None = None
    max_event_log_entries_per_command: int = 32
    max_event_configurations_per_command: int = 64

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_log_capacity": self.event_log_capacity,
            "clearable_logs": list(self.clearable_logs),
            "snapshot_capacity": self.snapshot_capacity,
            "top_up_log_capacity": self.top_up_log_capacity,
            "debt_log_capacity": self.debt_log_capacity,
            "start_sampling_id": self.start_sampling_id,
            "max_event_log_entries_per_command": self.max_event_log_entries_per_command,
            "max_event_configurations_per_command": self.max_event_configurations_per_command,
        }

    @classmethod
    def from_dict(cls, doc: Any) -> ModelConfig:
        if doc is None:
            return cls()
        if not isinstance(doc, Mapping):
            raise ZclModelError("config: expected an object")
        try:
            c = cls(
                int(doc.get("event_log_capacity", 100)),
                tuple(int(x) for x in doc.get("clearable_logs", (3,))),
                int(doc.get("snapshot_capacity", 750)),
                int(doc.get("top_up_log_capacity", 10)),
                int(doc.get("debt_log_capacity", 100)),
                None if doc.get("start_sampling_id") is None else int(doc["start_sampling_id"]),
                int(doc.get("max_event_log_entries_per_command", 32)),
                int(doc.get("max_event_configurations_per_command", 64)),
            )
        except (TypeError, ValueError) as e:
            raise ZclModelError(f"config: {e}") from None
        if (
            min(c.event_log_capacity, c.snapshot_capacity, c.top_up_log_capacity) < 1
            or min(c.debt_log_capacity, c.max_event_log_entries_per_command) < 1
            or c.max_event_configurations_per_command < 1
        ):
            raise ZclModelError("config: capacities must be positive")
        return c


# --------------------------------------------------------------------------- attributes


@dataclass(slots=True)
class ZclAttribute:
    """One attribute: ZCL data type id, stored value, whether Write Attributes may set it,
    and optional bound getter/setter."""

    type_id: int
    value: Any
    writable: bool = False
    name: str = ""
    getter: AttributeGetter | None = field(default=None, repr=False)
    setter: AttributeSetter | None = field(default=None, repr=False)

    def current(self) -> Any:
        """The live value (bound getter first)."""
        return self.getter() if self.getter is not None else self.value


# --------------------------------------------------------------------------- the model


class ZclModel:
    """Clusters -> attributes, plus the command state of a GSME or GPF (module docstring)."""

    def __init__(self, profile: str = "", config: ModelConfig | None = None) -> None:
        self.profile = profile
        self.config = config if config is not None else ModelConfig()
        #: This model's own attributes: bound, written, added, or all of them once
        #: :attr:`clusters` was used (``_full``).
        self._own: dict[int, dict[int, ZclAttribute]] = {}
        #: The shared template (a bundled profile parsed once per process); never written.
        self._base: Mapping[int, Mapping[int, ZclAttribute]] = {}
        self._full = True
        self._template_name: str | None = None
        self.cluster_names: dict[int, str] = {}
        self.calendars: dict[str, CalendarState] = {}
        self.records: dict[str, Any] = {}
        self.price_matrix: list[Any] = []
        self.block_thresholds: bytes | None = None
        self.event_configuration: dict[int, int] = {}
        self.event_logs: dict[int, list[EventLogEntry]] = {}
        self.snapshots: list[Snapshot] = []
        self.prepay_snapshots: list[Snapshot] = []
        self.next_snapshot_id = 0
        self.samplings: dict[int, Sampling] = {}
        self.top_up_log: list[TopUpLogEntry] = []
        self.debt_log: list[DebtLogEntry] = []

    # ---------------------------------------------------------------- attribute access

    @property
    def clusters(self) -> dict[int, dict[int, ZclAttribute]]:
        """Every attribute by cluster, for code that edits the model wholesale. The first
        use copies the template's attributes into this model (copy-on-write: the hot
        paths never need it)."""
        if not self._full:
            own = self._own
            merged: dict[int, dict[int, ZclAttribute]] = {}
            for c, base in self._base.items():
                mine = own.get(c, {})
                attrs = {aid: mine.get(aid) or _copy_attribute(t) for aid, t in base.items()}
                attrs.update((aid, a) for aid, a in mine.items() if aid not in attrs)
                merged[c] = attrs
            merged.update((c, attrs) for c, attrs in own.items() if c not in merged)
            self._own = merged
            self._full = True
        return self._own

    def has_cluster(self, cluster: int) -> bool:
        return cluster in self._own or (not self._full and cluster in self._base)

    def _peek(self, cluster: int, attribute_id: int) -> ZclAttribute | None:
        """The attribute to *read* (possibly the shared template's: never write it)."""
        own = self._own.get(cluster)
        if own is not None:
            a = own.get(attribute_id)
            if a is not None:
                return a
        if self._full:
            return None
        base = self._base.get(cluster)
        return None if base is None else base.get(attribute_id)

    def _items(self, cluster: int) -> list[tuple[int, ZclAttribute]]:
        """``(id, attribute)`` of a cluster to read, in profile order."""
        own = self._own.get(cluster, {})
        if self._full:
            return list(own.items())
        base = self._base.get(cluster, {})
        out = [(aid, own.get(aid) or t) for aid, t in base.items()]
        out += [(aid, a) for aid, a in own.items() if aid not in base]
        return out

    def _cluster_ids(self) -> list[int]:
        ids = set(self._own)
        if not self._full:
            ids.update(self._base)
        return sorted(ids)

    def attribute(self, cluster: int, attribute_id: int) -> ZclAttribute | None:
        """The attribute (this model's own copy, which may be changed), or None when the
        model lacks it."""
        own = self._own.get(cluster)
        a = None if own is None else own.get(attribute_id)
        if a is not None or self._full:
            return a
        t = self._base.get(cluster, {}).get(attribute_id)
        if t is None:
            return None
        a = self._own.setdefault(cluster, {})[attribute_id] = _copy_attribute(t)
        return a

    def _require(self, cluster: int, attribute_id: int) -> ZclAttribute:
        a = self.attribute(cluster, attribute_id)
        if a is None:
            raise ZclModelError(f"no attribute 0x{attribute_id:04X} in cluster 0x{cluster:04X}")
        return a

    def _peek_required(self, cluster: int, attribute_id: int) -> ZclAttribute:
        a = self._peek(cluster, attribute_id)
        if a is None:
            raise ZclModelError(f"no attribute 0x{attribute_id:04X} in cluster 0x{cluster:04X}")
        return a

    def add_attribute(
        self,
        cluster: int,
        attribute_id: int,
        value: ZclValue,
        *,
        writable: bool = False,
        name: str = "",
    ) -> None:
        """Declare (or replace) an attribute with its type and initial value."""
        if not _encodes(value.type_id, value.value):
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X}: value does not encode")
        self._own.setdefault(cluster, {})[attribute_id] = ZclAttribute(
            value.type_id, value.value, writable, name
        )

    def read(self, cluster: int, attribute_id: int) -> ZclValue | None:
        """The attribute's current typed value (None when absent or its getter fails to
        produce a value of the declared type)."""
        a = self._peek(cluster, attribute_id)
        if a is None:
            return None
        v = a.current()
        if a.getter is not None and not _encodes(a.type_id, v):
            return None
        return ZclValue(a.type_id, v)

    def check(self, cluster: int, attribute_id: int, value: Any) -> int:
        """ZCL status a store of ``value`` would get: 0, 0x86 unsupported attribute or
        0x87 invalid value (does not fit the declared type)."""
        a = self._peek(cluster, attribute_id)
        if a is None:
            return 0x86
        if a.type_id in _UNSIGNED or a.type_id in _SIGNED:
            return 0 if _check_int(a.type_id, value) is not None else 0x87
        return 0 if _encodes(a.type_id, value) else 0x87

    def store(self, cluster: int, attribute_id: int, value: Any) -> int:
        """Set a value of the declared type on behalf of a ZSE command (ignores
        ``writable``, honours a bound setter). Returns a ZCL status; state is unchanged
        unless it is 0."""
        st = self.check(cluster, attribute_id, value)
        if st:
            return st
        a = self._require(cluster, attribute_id)
        if a.setter is not None:
            st = int(a.setter(value))
            if st:
                return st
        a.value = value
        return 0

    def store_many(self, cluster: int, values: Mapping[int, Any]) -> int:
        """:meth:`store` several attributes of one cluster, all or none."""
        for aid, v in values.items():
            st = self.check(cluster, aid, v)
            if st:
                return st
        done: list[tuple[int, Any]] = []
        for aid, v in values.items():
            a = self._require(cluster, aid)
            old = a.value
            st = self.store(cluster, aid, v)
            if st:
                for bid, prev in reversed(done):
                    b = self._require(cluster, bid)
                    if b.setter is not None:
                        b.setter(prev)
                    b.value = prev
                return st
            done.append((aid, old))
        return 0

    def write(self, cluster: int, attribute_id: int, value: ZclValue) -> int:
        """A remote Write Attributes record: 0x86 unsupported, 0x88 read only, 0x8D
        invalid data type, 0x87 invalid value, else the :meth:`store` status."""
        a = self._peek(cluster, attribute_id)
        if a is None:
            return 0x86
        if not a.writable:
            return 0x88
        if value.type_id != a.type_id:
            return 0x8D
        return self.store(cluster, attribute_id, value.value)

    def bind(
        self,
        cluster: int,
        attribute_id: int,
        *,
        getter: AttributeGetter | None = None,
        setter: AttributeSetter | None = None,
    ) -> None:
        """Make an attribute live: reads call ``getter``, stores call ``setter`` first."""
        a = self._require(cluster, attribute_id)
        if getter is not None:
            a.getter = getter
        if setter is not None:
            a.setter = setter

    # ---------------------------------------------------------------- typed helpers

    def get_int(self, cluster: int, attribute_id: int) -> int:
        """A numeric attribute's current value (bitmaps, (u)ints, enums, UTCTime ...)."""
        a = self._peek_required(cluster, attribute_id)
        v = a.current()
        numeric = a.type_id in _UNSIGNED or a.type_id in _SIGNED
        if not numeric or _check_int(a.type_id, v) is None:
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X} is not numeric")
        return int(v)

    def set_int(self, cluster: int, attribute_id: int, value: int) -> None:
        """Set a numeric attribute; raises when it is absent, not numeric, out of range or
        refused by its bound setter."""
        a = self._peek_required(cluster, attribute_id)
        if a.type_id not in _UNSIGNED and a.type_id not in _SIGNED:
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X} is not numeric")
        st = self.store(cluster, attribute_id, value)
        if st:
            raise ZclModelError(
                f"0x{cluster:04X}/0x{attribute_id:04X}: {value!r} refused (status 0x{st:02X})"
            )

    def get_bytes(self, cluster: int, attribute_id: int) -> bytes | None:
        """A string attribute's bytes (None = the invalid string)."""
        a = self._peek_required(cluster, attribute_id)
        if a.type_id not in _STRINGS:
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X} is not a string")
        v = a.current()
        return None if v is None else bytes(v)

    def set_bytes(self, cluster: int, attribute_id: int, value: bytes | None) -> None:
        """Set a string attribute (octet or character string)."""
        a = self._peek_required(cluster, attribute_id)
        if a.type_id not in _STRINGS:
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X} is not a string")
        st = self.store(cluster, attribute_id, None if value is None else bytes(value))
        if st:
            raise ZclModelError(f"0x{cluster:04X}/0x{attribute_id:04X}: refused (0x{st:02X})")

    @property
    def firmware_version(self) -> bytes:
        """Metering ``CurrentMeterID`` (0x0206), read by GCS38 as the firmware version."""
        return self.get_bytes(METERING, CURRENT_METER_ID) or b""

    @firmware_version.setter
    def firmware_version(self, value: bytes) -> None:
        self.set_bytes(METERING, CURRENT_METER_ID, value)

    @property
    def supply_status(self) -> int:
        """Metering ``SupplyStatus`` (0x0014): 0 off, 1 off/armed, 2 on."""
        return self.get_int(METERING, SUPPLY_STATUS)

    @supply_status.setter
    def supply_status(self, value: int) -> None:
        self.set_int(METERING, SUPPLY_STATUS, value)

    def tou_registers(self) -> tuple[int, ...]:
        """The Tariff TOU Register Matrix (tiers 1..4), raw register units."""
        return tuple(self.get_int(METERING, a) for a in TOU_REGISTER_IDS)

    def block_counters(self) -> tuple[int, ...]:
        """The Tariff Block Counter Matrix (blocks 1..4), raw register units."""
        return tuple(self.get_int(METERING, a) for a in BLOCK_COUNTER_IDS)

    def set_tou_register(self, tier: int, value: int) -> None:
        """Set TOU register ``tier`` (1-based)."""
        if not 1 <= tier <= len(TOU_REGISTER_IDS):
            raise ZclModelError(f"tier {tier} outside 1..{len(TOU_REGISTER_IDS)}")
        self.set_int(METERING, TOU_REGISTER_IDS[tier - 1], value)

    def set_block_counter(self, block: int, value: int) -> None:
        """Set block counter ``block`` (1-based)."""
        if not 1 <= block <= len(BLOCK_COUNTER_IDS):
            raise ZclModelError(f"block {block} outside 1..{len(BLOCK_COUNTER_IDS)}")
        self.set_int(METERING, BLOCK_COUNTER_IDS[block - 1], value)

    def get_int_or(self, cluster: int, attribute_id: int, default: int = 0) -> int:
        """:meth:`get_int`, or ``default`` when the model lacks a numeric attribute there."""
        try:
            return self.get_int(cluster, attribute_id)
        except ZclModelError:
            return default

    # ---------------------------------------------------------------- logs and data sets

    def log_event(self, log_id: int, event_id: int, time: int, data: bytes = b"") -> None:
        """Append an event to a log (3 general event log, 4 security log); the oldest entry
        goes when the log is full."""
        if not 1 <= log_id <= 0xFF or not 0 <= event_id <= 0xFFFF or not 0 <= time <= 0xFFFFFFFF:
            raise ZclModelError("event log entry out of range")
        if len(data) >= 0xFF:
            raise ZclModelError("event data too long")
        log = self.event_logs.setdefault(log_id, [])
        log.append(EventLogEntry(log_id, event_id, time, bytes(data)))
        del log[: max(0, len(log) - self.config.event_log_capacity)]

    def add_snapshot(
        self, time: int, cause: int, payload_type: int, payload: bytes, *, prepayment: bool
    ) -> Snapshot:
        """Store a snapshot as given (Metering or Prepayment); returns it with its id."""
        snap = Snapshot(self.next_snapshot_id, time, cause, payload_type, bytes(payload))
        self.next_snapshot_id = (self.next_snapshot_id + 1) & 0xFFFFFFFF
        target = self.prepay_snapshots if prepayment else self.snapshots
        target.append(snap)
        del target[: max(0, len(target) - self.config.snapshot_capacity)]
        return snap

    def take_snapshot(self, time: int, cause: int) -> tuple[Snapshot | None, Snapshot | None]:
        """Capture the current registers: a Metering snapshot (payload type 6, block tier
        information delivered, as RTDS shows for the GSME) and a Prepayment snapshot
        (payload type 0, debt/credit status), each when the model has the cluster."""
        meter = prepay = None
        if self.has_cluster(METERING):
            blocks = tuple(self.get_int_or(METERING, a) for a in BLOCK_COUNTER_IDS)
            payload = BlockTierDeliveredNoBilling(
                self.get_int_or(METERING, CURRENT_SUMMATION_DELIVERED),
                tuple(self.get_int_or(METERING, a) for a in TOU_REGISTER_IDS),
                0x10 | len(blocks),
                blocks,
            )
            meter = self.add_snapshot(time, cause, 6, _entry_bytes(payload), prepayment=False)
        if self.has_cluster(PREPAYMENT):
            status = DebtCreditStatus(
                self.get_int_or(PREPAYMENT, 0x0005),
                self.get_int_or(PREPAYMENT, 0x0211),
                self.get_int_or(PREPAYMENT, 0x0221),
                self.get_int_or(PREPAYMENT, 0x0231),
                self.get_int_or(PREPAYMENT, 0x0002),
                self.get_int_or(PREPAYMENT, CREDIT_REMAINING),
            )
            prepay = self.add_snapshot(time, cause, 0, _entry_bytes(status), prepayment=True)
        return meter, prepay

    def record_sample(self, sample_id: int, value: int, time: int) -> None:
        """Append a sample (uint24) to a sampled-data set; the first sample fixes its start
        time. When full, the oldest sample goes and the start moves on by one interval."""
        s = self.samplings.get(sample_id)
        if s is None:
            raise ZclModelError(f"no sampled-data set {sample_id}")
        if not 0 <= value < 1 << 24:
            raise ZclModelError(f"sample {value} does not fit uint24")
        if not s.samples:
            s.start = time
        s.samples.append(value)
        if len(s.samples) > s.max_samples:
            drop = len(s.samples) - s.max_samples
            del s.samples[:drop]
            s.start += drop * s.step

    def record_network_samples(self, until: int, rate: float) -> int:
        """Take the samples of the network data log (the set Start Sampling started,
        GCS31) that fall due up to ``until`` (UTCTime): one at the end of each interval
        after its start, holding what flowed in that interval at ``rate`` units per
        second. Returns how many were taken (0 when no such log is running)."""
        sid = self.config.start_sampling_id
        s = None if sid is None else self.samplings.get(sid)
        if s is None or s.step <= 0:
            return 0
        value = min(max(0, round(rate * s.step)), (1 << 24) - 1)
        taken = 0
        due = s.start + (len(s.samples) if s.samples else 1) * s.step
        while due <= until:
            self.record_sample(sid, value, due)  # type: ignore[arg-type]
            taken += 1
            due = s.start + len(s.samples) * s.step
        return taken

    def record_top_up(self, code: bytes | None, amount: int, time: int) -> None:
        """Append an accepted top-up to the top-up log."""
        self.top_up_log.append(TopUpLogEntry(code, amount, time))
        del self.top_up_log[: max(0, len(self.top_up_log) - self.config.top_up_log_capacity)]

    def record_debt_collection(
        self, time: int, amount_collected: int, debt_type: int, outstanding_debt: int
    ) -> None:
        """Append a debt collection to the debt repayment log."""
        self.debt_log.append(DebtLogEntry(time, amount_collected, debt_type, outstanding_debt))
        del self.debt_log[: max(0, len(self.debt_log) - self.config.debt_log_capacity)]

    def mirror_from(
        self,
        source: ZclModel,
        clusters: Iterable[int] = (METERING, PREPAYMENT, PRICE),
        sampling_ids: Iterable[int] = (0,),
    ) -> None:
        """Copy GSME data into this (GPF) model: the values of the attributes both models
        have in ``clusters``, the calendars, tariff records, snapshots, top-up and debt logs
        and the listed sampled-data sets. Event logs, event configuration and device
        management records stay the GPF's own."""
        for c in clusters:
            for aid, a in source._items(c):
                b = self._peek(c, aid)
                if b is not None and b.type_id == a.type_id:
                    v = a.current()
                    if b.value != v or type(b.value) is not type(v):
                        self._require(c, aid).value = v
        self.calendars = {
            k: CalendarState.from_dict(v.to_dict(), k) for k, v in source.calendars.items()
        }
        for key in ("tariff_information", "billing_period", "block_period"):
            if key in source.records:
                self.records[key] = source.records[key]
        self.price_matrix = list(source.price_matrix)
        self.block_thresholds = source.block_thresholds
        self.snapshots = list(source.snapshots)
        self.prepay_snapshots = list(source.prepay_snapshots)
        self.top_up_log = list(source.top_up_log)
        self.debt_log = list(source.debt_log)
        for sid in sampling_ids:
            s = source.samplings.get(sid)
            if s is not None:
                self.samplings[sid] = Sampling.from_dict(s.to_dict(), f"samplings.{sid}")

    # ---------------------------------------------------------------- persistence

    def to_dict(self) -> dict[str, Any]:
        """Profile plus state as a JSON-able dict (bindings excluded)."""
        clusters: dict[str, Any] = {}
        for c in self._cluster_ids():
            attrs = {}
            for aid, a in sorted(self._items(c)):
                doc: dict[str, Any] = {}
                if a.name:
                    doc["name"] = a.name
                doc["type"] = f"0x{a.type_id:02X}"
                doc["hex"] = encode_value_hex(ZclValue(a.type_id, a.value))
                doc["access"] = "rw" if a.writable else "r"
                attrs[f"0x{aid:04X}"] = doc
            entry: dict[str, Any] = {}
            if self.cluster_names.get(c):
                entry["name"] = self.cluster_names[c]
            entry["attributes"] = attrs
            clusters[f"0x{c:04X}"] = entry
        return {
            "profile": self.profile,
            "clusters": clusters,
            "config": self.config.to_dict(),
            "state": self._state_dict(),
        }

    def overlay_dict(self) -> dict[str, Any]:
        """What this model holds beyond its template, as a JSON-able dict: the attributes
        whose type, value or access differ from the bundled profile's (``"attributes"``:
        ``{"0xCCCC/0xAAAA": {"type", "hex", "access"}}``), plus ``config`` and ``state``
        as in :meth:`to_dict`. :meth:`restore` and :meth:`from_dict` take it (the
        template is named by ``"template"``). A model without a bundled template, or one
        whose template attributes were deleted, gives :meth:`to_dict`'s full form."""
        if self._template_name is None:
            return self.to_dict()
        attrs: dict[str, Any] = {}
        for c, own in self._own.items():
            base = self._base.get(c, {})
            for aid, a in own.items():
                t = base.get(aid)
                if (
                    t is None
                    or t.type_id != a.type_id
                    or t.writable != a.writable
                    or type(t.value) is not type(a.value)
                    or t.value != a.value
                ):
                    doc = {
                        "type": f"0x{a.type_id:02X}",
                        "hex": encode_value_hex(ZclValue(a.type_id, a.value)),
                        "access": "rw" if a.writable else "r",
                    }
                    if a.name and t is None:
                        doc["name"] = a.name
                    attrs[f"0x{c:04X}/0x{aid:04X}"] = doc
        if self._full and any(
            aid not in self._own.get(c, {}) for c, base in self._base.items() for aid in base
        ):
            return self.to_dict()
        return {
            "profile": self.profile,
            "template": self._template_name,
            "attributes": attrs,
            "config": self.config.to_dict(),
            "state": self._state_dict(),
        }

    def _state_dict(self) -> dict[str, Any]:
        return {
            "calendars": {k: v.to_dict() for k, v in sorted(self.calendars.items())},
            "records": {k: _record_json(v) for k, v in sorted(self.records.items())},
            "price_matrix": [_record_json(r) for r in self.price_matrix],
            "block_thresholds": (
                None if self.block_thresholds is None else self.block_thresholds.hex().upper()
            ),
            "event_configuration": [[e, c] for e, c in self.event_configuration.items()],
            "event_logs": {
                str(k): [[e.event_id, e.event_time, (e.event_data or b"").hex().upper()] for e in v]
                for k, v in sorted(self.event_logs.items())
            },
            "snapshots": [s.to_dict() for s in self.snapshots],
            "prepay_snapshots": [s.to_dict() for s in self.prepay_snapshots],
            "next_snapshot_id": self.next_snapshot_id,
            "samplings": {str(k): v.to_dict() for k, v in sorted(self.samplings.items())},
            "top_up_log": [
                [
                    None if e.top_up_code is None else e.top_up_code.hex().upper(),
                    e.top_up_amount,
                    e.top_up_time,
                ]
                for e in self.top_up_log
            ],
            "debt_log": [
                [e.collection_time, e.amount_collected, e.debt_type, e.outstanding_debt]
                for e in self.debt_log
            ],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ZclModel:
        """A model from a profile document, :meth:`to_dict` or :meth:`overlay_dict`
        output."""
        if not isinstance(doc, Mapping):
            raise ZclModelError("a ZCL profile must be a JSON object")
        if "clusters" not in doc and isinstance(doc.get("template"), str):
            m = load_profile(doc["template"])
            m.restore(doc)
            return m
        m = cls(str(doc.get("profile", "")), ModelConfig.from_dict(doc.get("config")))
        clusters = doc.get("clusters")
        if not isinstance(clusters, Mapping):
            raise ZclModelError("profile: 'clusters' must be an object")
        for ckey, cdoc in clusters.items():
            c = _parse_id(ckey, "cluster id")
            if not isinstance(cdoc, Mapping):
                raise ZclModelError(f"cluster {ckey}: expected an object")
            m.clusters.setdefault(c, {})
            if cdoc.get("name"):
                m.cluster_names[c] = str(cdoc["name"])
            attrs = cdoc.get("attributes", {})
            if not isinstance(attrs, Mapping):
                raise ZclModelError(f"cluster {ckey}: 'attributes' must be an object")
            for akey, adoc in attrs.items():
                where = f"cluster {ckey} attribute {akey}"
                aid = _parse_id(akey, where)
                m.clusters[c][aid] = _parse_attribute(adoc, where)
        m._load_state(doc.get("state") or {})
        return m

    def _load_state(self, st: Mapping[str, Any]) -> None:
        if not isinstance(st, Mapping):
            raise ZclModelError("state: expected an object")
        try:
            self.calendars = {
                str(k): CalendarState.from_dict(v, f"calendars.{k}")
                for k, v in dict(st.get("calendars", {})).items()
            }
            self.records = {
                str(k): _record_from_json(v, f"records.{k}")
                for k, v in dict(st.get("records", {})).items()
            }
            self.price_matrix = [
                _record_from_json(r, "price_matrix") for r in st.get("price_matrix", ())
            ]
            bt = st.get("block_thresholds")
            self.block_thresholds = None if bt is None else bytes.fromhex(bt)
            self.event_configuration = {}
            for e, c in st.get("event_configuration", ()):
                self.event_configuration[_parse_id(e, "event id")] = _parse_id(
                    c, "event configuration", 0xFF
                )
            self.event_logs = {}
            for k, entries in dict(st.get("event_logs", {})).items():
                log_id = _parse_id(k, "log id", 0xFF)
                self.event_logs[log_id] = [
                    EventLogEntry(log_id, int(e), int(t), bytes.fromhex(d)) for e, t, d in entries
                ]
            self.snapshots = [Snapshot.from_dict(s, "snapshots") for s in st.get("snapshots", ())]
            self.prepay_snapshots = [
                Snapshot.from_dict(s, "prepay_snapshots") for s in st.get("prepay_snapshots", ())
            ]
            self.next_snapshot_id = int(st.get("next_snapshot_id", 0))
            self.samplings = {
                _parse_id(k, "sample id"): Sampling.from_dict(v, f"samplings.{k}")
                for k, v in dict(st.get("samplings", {})).items()
            }
            self.top_up_log = [
                TopUpLogEntry(None if c is None else bytes.fromhex(c), int(a), int(t))
                for c, a, t in st.get("top_up_log", ())
            ]
            self.debt_log = [
                DebtLogEntry(int(t), int(a), int(d), int(o))
                for t, a, d, o in st.get("debt_log", ())
            ]
        except (TypeError, ValueError) as e:
            if isinstance(e, ZclModelError):
                raise
            raise ZclModelError(f"state: {e}") from None

    def restore(self, doc: Mapping[str, Any]) -> None:
        """Put back attribute values and state from :meth:`to_dict` or
        :meth:`overlay_dict` output, keeping the bindings (used to undo a message that
        could not be answered, and to load saved state). With the overlay form, the
        attributes it does not name go back to the template's values. A bad document
        raises :class:`ZclModelError` and changes nothing."""
        if not isinstance(doc, Mapping):
            raise ZclModelError("a ZCL model state must be a JSON object")
        if "clusters" in doc:
            other = ZclModel.from_dict(doc)
            values = [(c, aid, a) for c, attrs in other._own.items() for aid, a in attrs.items()]
        else:
            other = ZclModel(str(doc.get("profile", "")), ModelConfig.from_dict(doc.get("config")))
            other._load_state(doc.get("state") or {})
            values = self._parse_overlay(doc.get("attributes", {}))
            for c, own in self._own.items():
                base = self._base.get(c, {})
                for aid, b in own.items():
                    t = base.get(aid)
                    if t is not None:
                        b.type_id, b.value, b.writable = t.type_id, t.value, t.writable
        for c, aid, a in values:
            self._put(c, aid, a)
        self.config = other.config
        for name in (
            "calendars",
            "records",
            "price_matrix",
            "block_thresholds",
            "event_configuration",
            "event_logs",
            "snapshots",
            "prepay_snapshots",
            "next_snapshot_id",
            "samplings",
            "top_up_log",
            "debt_log",
        ):
            setattr(self, name, getattr(other, name))

    def _parse_overlay(self, attrs: Any) -> list[tuple[int, int, ZclAttribute]]:
        if not isinstance(attrs, Mapping):
            raise ZclModelError("attributes: expected an object")
        out = []
        for key, adoc in attrs.items():
            where = f"attributes.{key}"
            ckey, _, akey = str(key).partition("/")
            c, aid = _parse_id(ckey, f"{where} cluster"), _parse_id(akey, f"{where} attribute")
            out.append((c, aid, _parse_attribute(adoc, where)))
        return out

    def _put(self, cluster: int, attribute_id: int, a: ZclAttribute) -> None:
        """Set an attribute's type, value and access as saved: into this model's own copy
        when it has one, else into the overlay unless the template holds the same."""
        own = self._own.get(cluster)
        b = None if own is None else own.get(attribute_id)
        if b is not None:
            b.type_id, b.value, b.writable = a.type_id, a.value, a.writable
            return
        t = None if self._full else self._base.get(cluster, {}).get(attribute_id)
        if t is not None:
            if (
                t.type_id == a.type_id
                and t.writable == a.writable
                and type(t.value) is type(a.value)
                and t.value == a.value
            ):
                return
            a.name = t.name
        self._own.setdefault(cluster, {})[attribute_id] = a


def _copy_attribute(t: ZclAttribute) -> ZclAttribute:
    return ZclAttribute(t.type_id, t.value, t.writable, t.name)


_SNAPSHOT_HEAD = 16  # id, time, found, command index, total commands, cause, payload type


def _entry_bytes(entry: Any) -> bytes:
    """Bytes of a snapshot sub-payload entry, via its enclosing Publish record encoder."""
    if isinstance(entry, DebtCreditStatus):
        rec: Any = PublishPrepaySnapshot(0, 0, 0, 0, 0, 0, 0, entry)
    elif isinstance(entry, TouDeliveredNoBilling | BlockTierDeliveredNoBilling):
        ptype = 4 if isinstance(entry, TouDeliveredNoBilling) else 6
        rec = PublishSnapshot(0, 0, 0, 0, 0, 0, ptype, entry)
    else:
        raise ZclModelError(f"not a snapshot payload: {type(entry).__name__}")
    try:
        return rec.encode()[_SNAPSHOT_HEAD:]
    except GbcsEncodeError as e:
        raise ZclModelError(f"snapshot payload out of range: {e}") from None


@functools.cache
def _bundled(name: str) -> tuple[ZclModel, dict[str, Any]]:
    """A packaged profile parsed once per process: the prototype model whose attributes
    are the template its models share (never handed out), and its ``state`` section."""
    try:
        text = (resources.files("devices.profiles") / f"{name}.json").read_text("utf-8")
    except (FileNotFoundError, OSError) as e:
        raise ZclModelError(f"no ZCL profile {name!r}: {e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ZclModelError(f"profile {name}: invalid JSON ({e})") from None
    proto = ZclModel.from_dict(doc)
    state = proto._state_dict()
    # copied from the prototype's parsed dict by load_profile, not parsed again per model
    state.pop("event_configuration")
    return proto, state


def load_profile(name_or_mapping: str | Mapping[str, Any]) -> ZclModel:
    """A fresh model from a packaged profile (``"gsme"``, ``"gpf"``, ``"gsme_zcl"`` or
    ``"gsme_zcl.json"``; read with :mod:`importlib.resources` from ``devices.profiles``) or
    from a profile mapping.

    A packaged profile is parsed once per process; its models share the parsed
    attributes as their template and copy one only when they bind or change it."""
    if isinstance(name_or_mapping, Mapping):
        return ZclModel.from_dict(name_or_mapping)
    name = str(name_or_mapping).lower()
    if name.endswith(".json"):
        name = name[:-5]
    if not name.endswith("_zcl"):
        name += "_zcl"
    proto, state = _bundled(name)
    m = ZclModel(proto.profile, dataclasses.replace(proto.config))
    m._base = proto._own
    m._full = False
    m._template_name = name
    m.cluster_names = dict(proto.cluster_names)
    m._load_state(state)
    m.event_configuration = dict(proto.event_configuration)  # int -> int: a copy is fresh
    return m


def record_series_sample(model: ZclModel, sample_id: int, value: int, time: int) -> None:
    """Append a sample the device takes itself (profile data log, GPF daily consumption)
    at UTCTime ``time``. A sampled-data set is a contiguous series from its start time,
    so a sample that is not the next in line (intervals missed while the clock was
    invalid, or the clock set by an interval or more) restarts the set at ``time``: a
    gap cannot be shown, and no older sample may move to a time it was not taken at
    (IRP571). Does nothing when the model has no such set."""
    s = model.samplings.get(sample_id)
    if s is None:
        return
    if s.samples and round((time - s.start) / s.step) != len(s.samples):
        s.samples.clear()
    model.record_sample(sample_id, value, time)
