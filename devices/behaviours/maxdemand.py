"""ESME maximum demand: registers, the configurable time window and their COSEM view.

GBCS Table 28d (as corrected by DP131/MP131), use cases ECS18a/ECS18b (read), ECS37 (set
the window), ECS57 (reset); ``domain-rules.md`` §1. COSEM objects:

=================  =====  ============================================================
OBIS               class  meaning
=================  =====  ============================================================
1-0:1.6.0.255      4      all-day import maximum demand (W)
1-0:1.6.1.255      4      windowed ("configurable time") import maximum demand (W)
1-0:2.6.0.255      4      export maximum demand (W)
0-0:94.44.5.0      1      date-time of the last reset of the *windowed* import MD
0-0:94.44.5.1      1      date-time of the last reset of the *all-day* import MD
0-0:94.44.5.2      1      date-time of the last reset of the export MD
0-0:12.0.0.255     10     the window: two schedule entries (selector 1 start, 2 end)
=================  =====  ============================================================

Behaviour and the choices made where the sources are silent (``domain-rules`` §1.6, §7):

* Demand is the mean power of each aligned UTC half hour: ``W = import_wh * 2`` (Wh are
  integers, so this is exactly ``floor(Wh * 2)``), clamped to the double-long-unsigned
  maximum. All-day import and export maxima consider every period; the windowed import
  maximum only periods lying *wholly* inside a window instance. A new maximum must be
  strictly greater, so ties keep the earlier capture time.
* Capture time = period start by default (``capture_at="end"`` selects the period end);
  SMETS text not available (§7.3).
* The window: on each UTC day ``d`` that *qualifies*, an instance runs from ``d + start``
  to ``d + end``, or to ``d + 1 day + end`` when ``end < start`` (window across
  midnight). ``start == end`` gives an empty window (spec silent). A day qualifies when
  both entries are enabled and the start entry's ``exec_weekdays`` bit for that weekday is
  set (first bit = Monday) and the day lies in ``[begin_date, end_date]`` compared as a
  *range*, never as a pattern: see :func:`date_bounds`. The end entry only supplies the
  end time. Switch times are UTC (DUIS carries them with ``Z``).
* ECS37 (:func:`apply_schedule_update`, :meth:`MaxDemand.set_schedule`) may only change
  the switch times, the entry indices (stored as sent: RTDS sends 0/1, the factory
  default is 1/2) and the selectors (exactly one 1 and one 2). Everything else must equal
  the current entry with the same selector. Rejections raise :class:`ScheduleRejected`
  whose ``data_access_result`` is the DLMS code to answer:

  - ``type-unmatched (12)``: not an array of two 10-element structures of the wire types
    ``long-unsigned, boolean, octet-string(6), long-unsigned, octet-string(4),
    long-unsigned, bit-string, bit-string, octet-string(5), octet-string(5)``;
  - ``other-reason (250)``: invalid values: a switch time with a ``0xFF`` wildcard or
    out of range ("TIME NO WILDCARDS"), selectors other than one 1 and one 2, duplicate
    indices;
  - ``scope-of-access-violated (13)``: a Table 28d constant (enable, script, validity
    window, weekdays, special days, begin/end date) differs from the stored one.

  The stored schedule is unchanged on rejection, and ECS37 never resets the registers
  (the Network Operator follows it with ECS57).
* ECS57 reset: value 0, capture time *unspecified* (``None``; encoded as the all-wildcard
  date-time ``FFFF FF FF FF FF FF FF FF 8000 FF``), last-reset time = ``now``. A device
  that was never reset reports the same unspecified date-time as its last-reset time
  unless ``reset_time`` is given at construction.
* IRP571 (a device that does not know the time; domain-rules §4.2, uncertain §7.8): the
  caller passes the *device* time, ``None`` while the clock is invalid. A reset then
  stamps an unspecified last-reset time, and :meth:`MaxDemand.record_untimed` accounts a
  half hour whose time is unknown: the all-day import and export maxima may take its
  demand with an unspecified capture time; the windowed maximum never does, since the
  device cannot tell whether the period lay in the window.
* Default switch times: the ENA default is unknown (§7.2); :data:`DEFAULT_START` /
  :data:`DEFAULT_END` are 16:00–19:00 UTC, the common GB DUoS peak ("red") band, and are
  configuration, not a sourced value.

Date-times on the wire are octet-string(12) in the RTDS form ``YYYY MM DD FF hh mm ss hh
8000 FF`` (UTC, weekday / deviation / clock status not specified).

Errors: :class:`MaxDemandError` (invalid argument or state dict) and its subclass
:class:`ScheduleRejected` (carries the data-access-result).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Literal

from gbcs.axdr import Data, DataType
from gbcs.cosem_time import DlmsDate, DlmsDateTime
from gbcs.dlms import ActionResultCode, DataAccessResult, Obis
from gbcs.errors import GbcsError

__all__ = [
    "CLASS_DATA",
    "CLASS_EXTENDED_REGISTER",
    "CLASS_SCHEDULE",
    "DEFAULT_END",
    "DEFAULT_START",
    "GBCS_BEGIN_DATE",
    "GBCS_END_DATE",
    "GBCS_EXEC_WEEKDAYS",
    "GBCS_SCRIPT_TABLE",
    "GBCS_VALIDITY_WINDOW",
    "MAX_VALUE",
    "OBIS_EXPORT",
    "OBIS_IMPORT_ALL",
    "OBIS_IMPORT_WINDOW",
    "OBIS_RESET_EXPORT",
    "OBIS_RESET_IMPORT_ALL",
    "OBIS_RESET_IMPORT_WINDOW",
    "OBIS_SCHEDULE",
    "PERIOD",
    "SELECTOR_END",
    "SELECTOR_START",
    "UNIT_W",
    "CaptureAt",
    "InvalidSwitchTime",
    "MaxDemand",
    "MaxDemandError",
    "MdRegister",
    "Schedule",
    "ScheduleEntry",
    "ScheduleRejected",
    "SwitchTime",
    "apply_schedule_update",
    "date_bounds",
    "default_schedule",
]

CLASS_DATA = 1
CLASS_EXTENDED_REGISTER = 4
CLASS_SCHEDULE = 10

OBIS_IMPORT_ALL = Obis(1, 0, 1, 6, 0, 255)
OBIS_IMPORT_WINDOW = Obis(1, 0, 1, 6, 1, 255)
OBIS_EXPORT = Obis(1, 0, 2, 6, 0, 255)
OBIS_RESET_IMPORT_WINDOW = Obis(0, 0, 94, 44, 5, 0)
OBIS_RESET_IMPORT_ALL = Obis(0, 0, 94, 44, 5, 1)
OBIS_RESET_EXPORT = Obis(0, 0, 94, 44, 5, 2)
OBIS_SCHEDULE = Obis(0, 0, 12, 0, 0, 255)

SELECTOR_START = 1
SELECTOR_END = 2
GBCS_SCRIPT_TABLE = bytes.fromhex("00000A8064FF")
"""``0-0:10.128.100.255``, the script table the two entries invoke."""
GBCS_VALIDITY_WINDOW = 0xFFFF
GBCS_EXEC_WEEKDAYS = "1111111"
"""bit-string(7), Monday first: every day (``04 07 FE`` on the wire)."""
GBCS_BEGIN_DATE = DlmsDate(0x0000, 0x01, 0xFF, 0xFF)
"""``00 00 01 FF FF``: January of year 0 — the beginning of time, not a wildcard."""
GBCS_END_DATE = DlmsDate(0xFFFF, 0xFF, 0xFF, 0xFF)
"""``FF FF FF FF FF``: open-ended."""

UNIT_W = 27
MAX_VALUE = 0xFFFF_FFFF
PERIOD = timedelta(minutes=30)
_DAY = timedelta(days=1)

# value register -> its dateTimeOfLastReset object (domain-rules §1.1)
_RESET_OF: dict[Obis, Obis] = {
    OBIS_IMPORT_ALL: OBIS_RESET_IMPORT_ALL,
    OBIS_IMPORT_WINDOW: OBIS_RESET_IMPORT_WINDOW,
    OBIS_EXPORT: OBIS_RESET_EXPORT,
}
_REGISTER_OF: dict[Obis, Obis] = {v: k for k, v in _RESET_OF.items()}

_UNSPECIFIED_DT = DlmsDateTime.not_specified().to_bytes()


class MaxDemandError(Exception):
    """Invalid argument or serialised state for the maximum-demand behaviour."""


class ScheduleRejected(MaxDemandError):
    """A schedule (ECS37 SET of ``0-0:12.0.0.255`` attribute 2) is not acceptable.

    ``data_access_result`` is the DLMS result the SET must answer; ``reason`` says why.
    """

    def __init__(self, reason: str, data_access_result: DataAccessResult) -> None:
        self.reason = reason
        self.data_access_result = data_access_result
        super().__init__(f"{reason} ({int(data_access_result)})")


class InvalidSwitchTime(ScheduleRejected):
    """A switch time with a wildcard or an out-of-range field ("TIME NO WILDCARDS")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, DataAccessResult.OTHER_REASON)


def _type_error(reason: str) -> ScheduleRejected:
    return ScheduleRejected(reason, DataAccessResult.TYPE_UNMATCHED)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _utc(t: Any, what: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise MaxDemandError(f"{what} must be an aware datetime, got {t!r}")
    return t.astimezone(UTC)


def _utc_or_none(t: datetime | None) -> datetime | None:
    """A reset time: the device time, or None (unspecified) while its clock is invalid."""
    return None if t is None else _utc(t, "now")


def _obis(v: Obis | str) -> Obis:
    if isinstance(v, Obis):
        return v
    try:
        return Obis.parse(v)
    except (GbcsError, AttributeError):
        raise MaxDemandError(f"not an OBIS code: {v!r}") from None


# ---------------------------------------------------------------------------------------
# switch time and schedule entries
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SwitchTime:
    """A COSEM time (4 bytes) with every field specified ("TIME NO WILDCARDS"), UTC.

    Construction raises :class:`InvalidSwitchTime` for a ``0xFF`` wildcard or a field out
    of range (hour 0–23, minute 0–59, second 0–59, hundredths 0–99).
    """

    hour: int
    minute: int = 0
    second: int = 0
    hundredths: int = 0

    def __post_init__(self) -> None:
        for name, top in (("hour", 23), ("minute", 59), ("second", 59), ("hundredths", 99)):
            v = getattr(self, name)
            if not _is_int(v):
                raise InvalidSwitchTime(f"switch time {name} must be an int, got {v!r}")
            if v == 0xFF:
                raise InvalidSwitchTime(f"switch time {name} is a wildcard (0xFF)")
            if not 0 <= v <= top:
                raise InvalidSwitchTime(f"switch time {name} {v} is out of range 0..{top}")

    @classmethod
    def from_bytes(cls, data: bytes) -> SwitchTime:
        """From the 4 wire bytes (:class:`ScheduleRejected` type-unmatched if not 4)."""
        if not isinstance(data, bytes | bytearray) or len(data) != 4:
            raise _type_error(f"switch time needs 4 bytes, got {data!r}")
        return cls(*data)

    def to_bytes(self) -> bytes:
        return bytes((self.hour, self.minute, self.second, self.hundredths))

    @classmethod
    def parse(cls, text: str) -> SwitchTime:
        """From ``"HH:MM"``, ``"HH:MM:SS"`` or ``"HH:MM:SS.hh"`` (a trailing ``Z`` is allowed)."""
        if not isinstance(text, str):
            raise InvalidSwitchTime(f"switch time text must be a str, got {text!r}")
        body = text.strip().removesuffix("Z")
        main, _, frac = body.partition(".")
        parts = main.split(":")
        if not 2 <= len(parts) <= 3 or (frac and len(parts) != 3):
            raise InvalidSwitchTime(f"not a switch time: {text!r}")
        fields = [*parts, *([frac] if frac else [])]
        if not all(p.isascii() and p.isdigit() and len(p) <= 2 for p in fields):
            raise InvalidSwitchTime(f"not a switch time: {text!r}")
        return cls(*(int(p) for p in fields))

    @property
    def offset(self) -> timedelta:
        """Time after midnight."""
        return timedelta(
            hours=self.hour,
            minutes=self.minute,
            seconds=self.second,
            milliseconds=10 * self.hundredths,
        )

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}.{self.hundredths:02d}"


DEFAULT_START = SwitchTime(16, 0)
"""Default window start, 16:00 UTC (configuration: the ENA default is unknown)."""
DEFAULT_END = SwitchTime(19, 0)
"""Default window end, 19:00 UTC (configuration: the ENA default is unknown)."""


def date_bounds(d: DlmsDate, *, upper: bool) -> tuple[int, int, int] | None:
    """A COSEM date used as a range bound, as a comparable ``(year, month, day)``.

    ``None`` = open bound (the year is not specified). Otherwise an unspecified month or
    day takes its earliest value for a lower bound (``upper=False``) and its latest for an
    upper bound; the DST month values and reserved values count as unspecified; "last" /
    "second-last day of month" resolve against the bound's own year and month. So
    ``00 00 01 FF FF`` -> ``(0, 1, 1)`` and ``FF FF FF FF FF`` -> ``None``.
    """
    if d.year == 0xFFFF:
        return None
    month = d.month if 1 <= d.month <= 12 else (12 if upper else 1)
    if 1 <= d.day <= 31:
        day = d.day
    elif d.day in (0xFD, 0xFE) and 1 <= d.month <= 12:
        last = calendar.monthrange(2000 + d.year % 400, d.month)[1]  # same leap cycle
        day = last if d.day == 0xFE else last - 1
    else:
        day = 31 if upper else 1
    return (d.year, month, day)


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One COSEM ``schedule_table_entry`` (Schedule class 10, attribute 2 element).

    ``exec_weekdays`` / ``exec_specdays`` are bit-strings as ``"0"``/``"1"`` text, first
    bit first (for weekdays: Monday); padding bits are not kept (re-encoded as 0).
    """

    index: int
    enable: bool
    script_logical_name: bytes
    script_selector: int
    switch_time: SwitchTime
    validity_window: int
    exec_weekdays: str
    exec_specdays: str
    begin_date: DlmsDate
    end_date: DlmsDate

    def __post_init__(self) -> None:
        for name in ("index", "script_selector", "validity_window"):
            v = getattr(self, name)
            if not _is_int(v) or not 0 <= v <= 0xFFFF:
                raise _type_error(f"{name} must be a long-unsigned, got {v!r}")
        if not isinstance(self.enable, bool):
            raise _type_error(f"enable must be a bool, got {self.enable!r}")
        if not isinstance(self.script_logical_name, bytes) or len(self.script_logical_name) != 6:
            raise _type_error(f"script_logical_name must be 6 bytes: {self.script_logical_name!r}")
        if not isinstance(self.switch_time, SwitchTime):
            raise _type_error(f"switch_time must be a SwitchTime, got {self.switch_time!r}")
        for name in ("exec_weekdays", "exec_specdays"):
            v = getattr(self, name)
            if not isinstance(v, str) or any(c not in "01" for c in v):
                raise _type_error(f"{name} must be a 0/1 bit string, got {v!r}")
        for name in ("begin_date", "end_date"):
            if not isinstance(getattr(self, name), DlmsDate):
                raise _type_error(f"{name} must be a DlmsDate")

    # -- wire --------------------------------------------------------------------------

    def to_data(self) -> Data:
        """The 10-element structure in the GBCS wire types (``domain-rules`` §1.2)."""
        return Data.structure(
            Data.long_unsigned(self.index),
            Data.boolean(self.enable),
            Data.octet_string(self.script_logical_name),
            Data.long_unsigned(self.script_selector),
            Data.octet_string(self.switch_time.to_bytes()),
            Data.long_unsigned(self.validity_window),
            Data.bit_string(self.exec_weekdays),
            Data.bit_string(self.exec_specdays),
            Data.octet_string(self.begin_date.to_bytes()),
            Data.octet_string(self.end_date.to_bytes()),
        )

    @classmethod
    def from_data(cls, data: Data) -> ScheduleEntry:
        """Parse one entry; :class:`ScheduleRejected` on a wrong shape/type or bad time."""
        if not isinstance(data, Data) or data.tag != DataType.STRUCTURE:
            raise _type_error("schedule entry must be a structure")
        items = data.value
        if len(items) != len(_ENTRY_TYPES):
            raise _type_error(f"schedule entry must have 10 elements, got {len(items)}")
        for i, (item, (name, tag, size)) in enumerate(zip(items, _ENTRY_TYPES, strict=True)):
            if item.tag != tag:
                raise _type_error(f"schedule entry element {i} ({name}) has the wrong type")
            if size is not None and len(item.value) != size:
                raise _type_error(f"schedule entry {name} must be {size} bytes")
        return cls(
            index=items[0].value,
            enable=items[1].value != 0,
            script_logical_name=items[2].value,
            script_selector=items[3].value,
            switch_time=SwitchTime.from_bytes(items[4].value),
            validity_window=items[5].value,
            exec_weekdays=items[6].value.bits,
            exec_specdays=items[7].value.bits,
            begin_date=DlmsDate.from_bytes(items[8].value),
            end_date=DlmsDate.from_bytes(items[9].value),
        )

    # -- semantics ---------------------------------------------------------------------

    def runs_on(self, day: date) -> bool:
        """Enabled, weekday bit set and ``day`` within ``[begin_date, end_date]`` (a range)."""
        if not self.enable:
            return False
        i = day.isoweekday() - 1
        if i >= len(self.exec_weekdays) or self.exec_weekdays[i] != "1":
            return False
        key = (day.year, day.month, day.day)
        lo = date_bounds(self.begin_date, upper=False)
        hi = date_bounds(self.end_date, upper=True)
        return (lo is None or lo <= key) and (hi is None or key <= hi)

    def constants(self) -> tuple[Any, ...]:
        """The fields ECS37 may not change (compared by :func:`apply_schedule_update`)."""
        return tuple(getattr(self, n) for n in _CONSTANT_FIELDS)

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "enable": self.enable,
            "script_logical_name": self.script_logical_name.hex().upper(),
            "script_selector": self.script_selector,
            "switch_time": str(self.switch_time),
            "validity_window": self.validity_window,
            "exec_weekdays": self.exec_weekdays,
            "exec_specdays": self.exec_specdays,
            "begin_date": self.begin_date.to_bytes().hex().upper(),
            "end_date": self.end_date.to_bytes().hex().upper(),
        }

    @classmethod
    def from_dict(cls, d: Any) -> ScheduleEntry:
        if not isinstance(d, Mapping):
            raise MaxDemandError(f"schedule entry must be a mapping, got {d!r}")
        try:
            return cls(
                index=d["index"],
                enable=d["enable"],
                script_logical_name=_hex(d["script_logical_name"], 6),
                script_selector=d["script_selector"],
                switch_time=SwitchTime.parse(d["switch_time"]),
                validity_window=d["validity_window"],
                exec_weekdays=d["exec_weekdays"],
                exec_specdays=d["exec_specdays"],
                begin_date=DlmsDate.from_bytes(_hex(d["begin_date"], 5)),
                end_date=DlmsDate.from_bytes(_hex(d["end_date"], 5)),
            )
        except KeyError as e:
            raise MaxDemandError(f"schedule entry lacks {e.args[0]!r}") from None


_ENTRY_TYPES: tuple[tuple[str, DataType, int | None], ...] = (
    ("index", DataType.LONG_UNSIGNED, None),
    ("enable", DataType.BOOLEAN, None),
    ("script_logical_name", DataType.OCTET_STRING, 6),
    ("script_selector", DataType.LONG_UNSIGNED, None),
    ("switch_time", DataType.OCTET_STRING, 4),
    ("validity_window", DataType.LONG_UNSIGNED, None),
    ("exec_weekdays", DataType.BIT_STRING, None),
    ("exec_specdays", DataType.BIT_STRING, None),
    ("begin_date", DataType.OCTET_STRING, 5),
    ("end_date", DataType.OCTET_STRING, 5),
)
_CONSTANT_FIELDS = (
    "enable",
    "script_logical_name",
    "validity_window",
    "exec_weekdays",
    "exec_specdays",
    "begin_date",
    "end_date",
)


def _hex(v: Any, size: int) -> bytes:
    if not isinstance(v, str):
        raise MaxDemandError(f"expected hex text, got {v!r}")
    try:
        b = bytes.fromhex(v)
    except ValueError:
        raise MaxDemandError(f"not hex: {v!r}") from None
    if len(b) != size:
        raise MaxDemandError(f"expected {size} bytes of hex, got {v!r}")
    return b


Schedule = tuple[ScheduleEntry, ScheduleEntry]


def _gbcs_entry(index: int, selector: int, t: SwitchTime) -> ScheduleEntry:
    return ScheduleEntry(
        index=index,
        enable=True,
        script_logical_name=GBCS_SCRIPT_TABLE,
        script_selector=selector,
        switch_time=t,
        validity_window=GBCS_VALIDITY_WINDOW,
        exec_weekdays=GBCS_EXEC_WEEKDAYS,
        exec_specdays="",
        begin_date=GBCS_BEGIN_DATE,
        end_date=GBCS_END_DATE,
    )


def default_schedule(
    start: SwitchTime = DEFAULT_START, end: SwitchTime = DEFAULT_END
) -> tuple[ScheduleEntry, ScheduleEntry]:
    """The Table 28d factory default: entries (index 1, selector 1) and (index 2, selector 2).

    Every day, from the beginning of time, never ending, enabled, script
    ``00 00 0A 80 64 FF``, validity window ``0xFFFF``; only the switch times vary.
    """
    if not isinstance(start, SwitchTime) or not isinstance(end, SwitchTime):
        raise MaxDemandError("default_schedule needs two SwitchTime values")
    return _default_schedule(start, end)


@functools.lru_cache(maxsize=64)
def _default_schedule(start: SwitchTime, end: SwitchTime) -> Schedule:
    # every ESME of a fleet asks for the same window: entries are frozen, so share them
    return (_gbcs_entry(1, SELECTOR_START, start), _gbcs_entry(2, SELECTOR_END, end))


def _check_schedule(s: Any) -> Schedule:
    if (
        not isinstance(s, tuple)
        or len(s) != 2
        or not all(isinstance(e, ScheduleEntry) for e in s)
        or s[0].script_selector != SELECTOR_START
        or s[1].script_selector != SELECTOR_END
    ):
        raise MaxDemandError("schedule must be (start entry selector 1, end entry selector 2)")
    return s


def apply_schedule_update(
    current: tuple[ScheduleEntry, ScheduleEntry], data: Data
) -> tuple[ScheduleEntry, ScheduleEntry]:
    """Validate an ECS37 SET of ``0-0:12.0.0.255`` attribute 2; return the new schedule.

    The result is ordered ``(start entry, end entry)`` whatever the order sent. Raises
    :class:`ScheduleRejected` (see the module docstring for the result codes); ``current``
    is never modified.
    """
    cur = _check_schedule(current)
    if not isinstance(data, Data) or data.tag != DataType.ARRAY:
        raise _type_error("schedule must be an array of schedule entries")
    if len(data.value) != 2:
        raise _type_error(f"schedule must have exactly 2 entries, got {len(data.value)}")
    entries = [ScheduleEntry.from_data(d) for d in data.value]
    by_selector = {e.script_selector: e for e in entries}
    if sorted(by_selector) != [SELECTOR_START, SELECTOR_END] or len(entries) != 2:
        raise ScheduleRejected(
            "schedule needs exactly one start (selector 1) and one end (selector 2) entry",
            DataAccessResult.OTHER_REASON,
        )
    if entries[0].index == entries[1].index:
        raise ScheduleRejected(
            f"duplicate schedule entry index {entries[0].index}", DataAccessResult.OTHER_REASON
        )
    new = (by_selector[SELECTOR_START], by_selector[SELECTOR_END])
    for old, upd in zip(cur, new, strict=True):
        for name in _CONSTANT_FIELDS:
            if getattr(old, name) != getattr(upd, name):
                raise ScheduleRejected(
                    f"{name} of the selector {upd.script_selector} entry is a Table 28d "
                    "constant and may not be changed",
                    DataAccessResult.SCOPE_OF_ACCESS_VIOLATED,
                )
    return new


# ---------------------------------------------------------------------------------------
# registers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MdRegister:
    """One maximum-demand value (W) and when it was captured (``None`` = unspecified)."""

    value: int = 0
    capture_time: datetime | None = None


def _dt_bytes(t: datetime | None) -> bytes:
    if t is None:
        return _UNSPECIFIED_DT
    return DlmsDateTime.from_datetime(t.astimezone(UTC)).to_bytes()


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


def _parse_iso(v: Any, what: str) -> datetime | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise MaxDemandError(f"{what} must be an ISO 8601 string or null, got {v!r}")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise MaxDemandError(f"{what} is not an ISO 8601 date-time: {v!r}") from None
    return _utc(t, what)


CaptureAt = Literal["start", "end"]


class MaxDemand:
    """Maximum-demand state of one ESME (see the module docstring for the rules)."""

    __slots__ = ("_capture_at", "_registers", "_resets", "_schedule")

    def __init__(
        self,
        schedule: tuple[ScheduleEntry, ScheduleEntry] | None = None,
        *,
        capture_at: CaptureAt = "start",
        reset_time: datetime | None = None,
    ) -> None:
        if capture_at not in ("start", "end"):
            raise MaxDemandError(f"capture_at must be 'start' or 'end', got {capture_at!r}")
        self._capture_at: CaptureAt = capture_at
        self._schedule = default_schedule() if schedule is None else _check_schedule(schedule)
        rt = None if reset_time is None else _utc(reset_time, "reset_time")
        self._registers: dict[Obis, MdRegister] = {o: MdRegister() for o in _RESET_OF}
        self._resets: dict[Obis, datetime | None] = {o: rt for o in _REGISTER_OF}

    # -- views -------------------------------------------------------------------------

    @property
    def capture_at(self) -> CaptureAt:
        return self._capture_at

    @property
    def schedule(self) -> tuple[ScheduleEntry, ScheduleEntry]:
        """``(start entry, end entry)``."""
        return self._schedule

    @property
    def window(self) -> tuple[SwitchTime, SwitchTime]:
        """``(start, end)`` switch times (UTC)."""
        return (self._schedule[0].switch_time, self._schedule[1].switch_time)

    @property
    def import_all(self) -> MdRegister:
        """``1-0:1.6.0.255``."""
        return self._registers[OBIS_IMPORT_ALL]

    @property
    def import_window(self) -> MdRegister:
        """``1-0:1.6.1.255``."""
        return self._registers[OBIS_IMPORT_WINDOW]

    @property
    def export(self) -> MdRegister:
        """``1-0:2.6.0.255``."""
        return self._registers[OBIS_EXPORT]

    def register(self, obis: Obis | str) -> MdRegister:
        """The register ``1-0:1.6.0.255``, ``1-0:1.6.1.255`` or ``1-0:2.6.0.255``."""
        return self._registers[self._register_obis(obis)]

    def last_reset(self, obis: Obis | str) -> datetime | None:
        """Last reset time by ``0-0:94.44.5.x`` *or* by the register's own OBIS."""
        o = _obis(obis)
        if o in _RESET_OF:
            o = _RESET_OF[o]
        if o not in self._resets:
            raise MaxDemandError(f"{o} is not a maximum-demand object")
        return self._resets[o]

    @staticmethod
    def _register_obis(obis: Obis | str) -> Obis:
        o = _obis(obis)
        if o not in _RESET_OF:
            raise MaxDemandError(f"{o} is not a maximum-demand register")
        return o

    # -- window ------------------------------------------------------------------------

    def window_bounds(self, t: datetime) -> tuple[datetime, datetime] | None:
        """The window instance ``[begin, end)`` containing ``t``, or ``None``."""
        t = _utc(t, "t")
        start_e, end_e = self._schedule
        s, e = start_e.switch_time.offset, end_e.switch_time.offset
        if s == e or not end_e.enable:
            return None
        day = t.date()
        midnight = datetime.combine(day, dtime(0), UTC)
        tod = t - midnight
        if s < e:
            if s <= tod < e and start_e.runs_on(day):
                return (midnight + s, midnight + e)
            return None
        if tod >= s and start_e.runs_on(day):
            return (midnight + s, midnight + _DAY + e)
        if tod < e:
            try:
                prev = day - _DAY
            except OverflowError:
                return None
            if start_e.runs_on(prev):
                return (midnight - _DAY + s, midnight + e)
        return None

    def window_active(self, t: datetime) -> bool:
        """True when ``t`` (aware) lies inside a window instance."""
        return self.window_bounds(t) is not None

    def window_covers(self, start: datetime, end: datetime) -> bool:
        """True when the whole interval ``[start, end)`` lies inside one window instance."""
        b = self.window_bounds(start)
        return b is not None and _utc(end, "end") <= b[1]

    # -- behaviour ---------------------------------------------------------------------

    def record_period(self, start: datetime, import_wh: int, export_wh: int = 0) -> None:
        """Account one completed half hour ``[start, start + 30 min)``."""
        start = _utc(start, "start")
        for name, v in (("import_wh", import_wh), ("export_wh", export_wh)):
            if not _is_int(v) or v < 0:
                raise MaxDemandError(f"{name} must be a non-negative int, got {v!r}")
        cap = start if self._capture_at == "start" else start + PERIOD
        imp_w = min(import_wh * 2, MAX_VALUE)
        exp_w = min(export_wh * 2, MAX_VALUE)
        regs = self._registers
        if imp_w > regs[OBIS_IMPORT_ALL].value:
            regs[OBIS_IMPORT_ALL] = MdRegister(imp_w, cap)
        if imp_w > regs[OBIS_IMPORT_WINDOW].value and self.window_covers(start, start + PERIOD):
            regs[OBIS_IMPORT_WINDOW] = MdRegister(imp_w, cap)
        if exp_w > regs[OBIS_EXPORT].value:
            regs[OBIS_EXPORT] = MdRegister(exp_w, cap)

    def record_untimed(self, import_wh: int, export_wh: int = 0) -> None:
        """Account one completed half hour measured while the clock was invalid (IRP571):
        a new all-day import or export maximum is kept with an unspecified capture time;
        the windowed import maximum is left alone (the window cannot be placed)."""
        for name, v in (("import_wh", import_wh), ("export_wh", export_wh)):
            if not _is_int(v) or v < 0:
                raise MaxDemandError(f"{name} must be a non-negative int, got {v!r}")
        regs = self._registers
        imp_w = min(import_wh * 2, MAX_VALUE)
        exp_w = min(export_wh * 2, MAX_VALUE)
        if imp_w > regs[OBIS_IMPORT_ALL].value:
            regs[OBIS_IMPORT_ALL] = MdRegister(imp_w, None)
        if exp_w > regs[OBIS_EXPORT].value:
            regs[OBIS_EXPORT] = MdRegister(exp_w, None)

    def reset(self, now: datetime | None) -> None:
        """ECS57: all three registers to 0 (capture time unspecified), reset times = ``now``
        (the device time; ``None`` while the clock is invalid: unspecified)."""
        at = _utc_or_none(now)
        for o in _RESET_OF:
            self._reset_one(o, at)

    def reset_register(self, obis: Obis | str, now: datetime | None) -> None:
        """Reset one register (the ECS57 ACTION on it) and stamp its last-reset time."""
        o = self._register_obis(obis)
        self._reset_one(o, _utc_or_none(now))

    def _reset_one(self, o: Obis, now: datetime | None) -> None:
        self._registers[o] = MdRegister()
        self._resets[_RESET_OF[o]] = now

    def set_window(self, start: SwitchTime, end: SwitchTime) -> None:
        """Change the switch times (configuration; keeps indices and constants)."""
        if not isinstance(start, SwitchTime) or not isinstance(end, SwitchTime):
            raise MaxDemandError("set_window needs two SwitchTime values")
        s, e = self._schedule
        self._schedule = (replace(s, switch_time=start), replace(e, switch_time=end))

    # -- COSEM face --------------------------------------------------------------------

    def set_schedule(self, data: Data) -> DataAccessResult:
        """ECS37 SET handler: apply ``data`` or leave the schedule unchanged.

        Returns SUCCESS or the rejection's data-access-result; never raises. Registers and
        reset times are untouched either way.
        """
        try:
            self._schedule = apply_schedule_update(self._schedule, data)
        except ScheduleRejected as e:
            return e.data_access_result
        return DataAccessResult.SUCCESS

    def reset_action(
        self, obis: Obis | str, parameter: Data, now: datetime | None
    ) -> tuple[ActionResultCode, Data | None]:
        """ECS57 ACTION handler for method 1 (reset) of one register.

        The parameter must be an ``integer`` (GBCS sends ``integer 0``; the value is not
        checked) else ``type-unmatched`` and nothing changes. Success returns no data.
        """
        o = self._register_obis(obis)
        if not isinstance(parameter, Data) or parameter.tag != DataType.INTEGER:
            return ActionResultCode.TYPE_UNMATCHED, None
        self._reset_one(o, _utc_or_none(now))
        return ActionResultCode.SUCCESS, None

    def value_data(self, obis: Obis | str) -> Data:
        """Attribute 2 (value), double-long-unsigned W."""
        return Data.double_long_unsigned(self.register(obis).value)

    @staticmethod
    def scaler_unit_data() -> Data:
        """Attribute 3 (scaler_unit): ``structure{integer 0, enum 27 (W)}``."""
        return Data.structure(Data.integer(0), Data.enum(UNIT_W))

    def capture_time_data(self, obis: Obis | str) -> Data:
        """Attribute 5 (capture_time), octet-string(12) COSEM date-time."""
        return Data.octet_string(_dt_bytes(self.register(obis).capture_time))

    def reset_time_data(self, obis: Obis | str) -> Data:
        """``0-0:94.44.5.x`` attribute 2, octet-string(12) COSEM date-time."""
        return Data.octet_string(_dt_bytes(self.last_reset(obis)))

    def schedule_data(self) -> Data:
        """``0-0:12.0.0.255`` attribute 2: array of the two entries."""
        return Data.array(*(e.to_data() for e in self._schedule))

    def cosem_getters(self) -> list[tuple[int, Obis, int, Callable[[], Data]]]:
        """``(class id, OBIS, attribute, getter)`` for every readable attribute, to bind."""
        out: list[tuple[int, Obis, int, Callable[[], Data]]] = []
        for r in _REGISTER_OF:
            out.append((CLASS_DATA, r, 2, lambda r=r: self.reset_time_data(r)))
        for o in _RESET_OF:
            out.append((CLASS_EXTENDED_REGISTER, o, 2, lambda o=o: self.value_data(o)))
            out.append((CLASS_EXTENDED_REGISTER, o, 3, self.scaler_unit_data))
            out.append((CLASS_EXTENDED_REGISTER, o, 5, lambda o=o: self.capture_time_data(o)))
        out.append((CLASS_SCHEDULE, OBIS_SCHEDULE, 2, self.schedule_data))
        return out

    # -- persistence -------------------------------------------------------------------

    def copy(self) -> MaxDemand:
        """An independent copy (registers, reset times and schedule entries are immutable
        values, so copying the two dicts is enough): an in-memory rollback snapshot."""
        out = MaxDemand.__new__(MaxDemand)
        out._capture_at = self._capture_at
        out._schedule = self._schedule
        out._registers = dict(self._registers)
        out._resets = dict(self._resets)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able state."""
        return {
            "capture_at": self._capture_at,
            "registers": {
                str(o): {"value": r.value, "capture_time": _iso(r.capture_time)}
                for o, r in self._registers.items()
            },
            "last_reset": {str(o): _iso(t) for o, t in self._resets.items()},
            "schedule": [e.to_dict() for e in self._schedule],
        }

    @classmethod
    def from_dict(cls, d: Any) -> MaxDemand:
        """Inverse of :meth:`to_dict`; :class:`MaxDemandError` on malformed state."""
        if not isinstance(d, Mapping):
            raise MaxDemandError(f"max demand state must be a mapping, got {d!r}")
        try:
            sched_raw = d["schedule"]
            if not isinstance(sched_raw, list) or len(sched_raw) != 2:
                raise MaxDemandError("schedule must be a list of 2 entries")
            schedule = tuple(ScheduleEntry.from_dict(e) for e in sched_raw)
            md = cls(schedule, capture_at=d["capture_at"])  # type: ignore[arg-type]
            regs, resets = d["registers"], d["last_reset"]
            if not isinstance(regs, Mapping) or not isinstance(resets, Mapping):
                raise MaxDemandError("registers and last_reset must be mappings")
            for o in _RESET_OF:
                r = regs[str(o)]
                if not isinstance(r, Mapping):
                    raise MaxDemandError(f"register {o} must be a mapping")
                v = r["value"]
                if not _is_int(v) or not 0 <= v <= MAX_VALUE:
                    raise MaxDemandError(f"register {o} value must be 0..{MAX_VALUE}")
                md._registers[o] = MdRegister(v, _parse_iso(r["capture_time"], f"{o} capture"))
            for o in _REGISTER_OF:
                md._resets[o] = _parse_iso(resets[str(o)], f"{o} last reset")
        except KeyError as e:
            raise MaxDemandError(f"max demand state lacks {e.args[0]!r}") from None
        return md
