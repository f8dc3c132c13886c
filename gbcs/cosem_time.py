"""COSEM date, time and date-time values (DLMS Blue Book encodings, ``domain-rules.md`` §1.3).

Every byte is preserved exactly, including the wildcards (``0xFF`` / year ``0xFFFF``
"not specified"), the special month/day values (daylight-saving begin/end, last and
second-last day of month), the deviation ``0x8000`` "not specified" and the clock status.
Conversions to Python ``datetime`` objects exist only where the value is fully specified.

Layouts (big-endian):

* date (5 bytes): year(2) month day-of-month day-of-week
* time (4 bytes): hour minute second hundredths
* date-time (12 bytes): date ‖ time ‖ deviation(int16, minutes) ‖ clock-status

Deviation follows the Blue Book convention "minutes of local time to UTC", i.e.
``UTC = local time + deviation``: a clock on UTC+1 carries deviation ``-60``.
"""

from __future__ import annotations

import datetime as _dt
import struct
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from gbcs.errors import GbcsDecodeError, GbcsEncodeError

NOT_SPECIFIED = 0xFF
"""Wildcard for every one-byte field (month, day, weekday, hour, ..., clock status)."""
YEAR_NOT_SPECIFIED = 0xFFFF
DEVIATION_NOT_SPECIFIED = -0x8000
"""Deviation value meaning "not specified" (``0x8000`` on the wire)."""
CLOCK_STATUS_NOT_SPECIFIED = 0xFF

MONTH_DST_END = 0xFD
MONTH_DST_BEGIN = 0xFE
DAY_SECOND_LAST = 0xFD
DAY_LAST = 0xFE

# Clock status bits (Blue Book clock class).
STATUS_INVALID_VALUE = 0x01
STATUS_DOUBTFUL_VALUE = 0x02
STATUS_DIFFERENT_CLOCK_BASE = 0x04
STATUS_INVALID_CLOCK_STATUS = 0x08
STATUS_DAYLIGHT_SAVING_ACTIVE = 0x80

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_DATE = struct.Struct(">HBBB")
_TIME = struct.Struct(">BBBB")
_DATE_TIME = struct.Struct(">HBBBBBBBhB")


def _fast_factory(cls: type) -> Any:
    """A positional constructor that skips ``__init__`` validation.

    For values decoded from bytes, which are in range by construction. The setter calls
    are unrolled in generated code (as ``dataclasses`` itself does) because decoding
    creates these objects in hot loops.
    """
    names = [f.name for f in fields(cls)]
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        ns[f"_set_{name}"] = cls.__dict__[name].__set__
    body = "".join(f"    _set_{name}(obj, {name})\n" for name in names)
    src = f"def make({', '.join(names)}):\n    obj = _new(_cls)\n{body}    return obj\n"
    exec(src, ns)
    return ns["make"]


def _check_u8(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise GbcsEncodeError(f"{name} must be an int 0..255, got {value!r}")


def _check_year(value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise GbcsEncodeError(f"year must be an int 0..65535, got {value!r}")


def _fmt(value: int, width: int) -> str:
    """Zero-padded decimal, ``*`` for the wildcard and hex for other out-of-range values."""
    if value == (0xFFFF if width == 4 else 0xFF):
        return "*" * width
    if value >= 10**width:
        return f"{value:0{width}X}"
    return f"{value:0{width}d}"


def _date_str(year: int, month: int, day: int, weekday: int) -> str:
    special_month = {MONTH_DST_END: "DST-end", MONTH_DST_BEGIN: "DST-begin"}.get(month)
    special_day = {DAY_SECOND_LAST: "second-last", DAY_LAST: "last"}.get(day)
    s = f"{_fmt(year, 4)}-{special_month or _fmt(month, 2)}-{special_day or _fmt(day, 2)}"
    if weekday != NOT_SPECIFIED:
        s += f" {_WEEKDAYS[weekday - 1]}" if 1 <= weekday <= 7 else f" weekday={weekday:#04x}"
    return s


def _time_str(hour: int, minute: int, second: int, hundredths: int) -> str:
    return f"{_fmt(hour, 2)}:{_fmt(minute, 2)}:{_fmt(second, 2)}.{_fmt(hundredths, 2)}"


def _date_or_none(year: int, month: int, day: int) -> _dt.date | None:
    if year == YEAR_NOT_SPECIFIED or not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    try:
        return _dt.date(year, month, day)
    except ValueError:
        return None


def _time_or_none(hour: int, minute: int, second: int, hundredths: int) -> _dt.time | None:
    if hour > 23 or minute > 59 or second > 59:
        return None
    if hundredths == NOT_SPECIFIED:
        hundredths = 0
    elif hundredths > 99:
        return None
    return _dt.time(hour, minute, second, hundredths * 10_000)


def _weekday_of(d: _dt.date) -> int:
    return d.isoweekday()  # 1 = Monday ... 7 = Sunday, as COSEM


@dataclass(frozen=True, slots=True)
class DlmsDate:
    """COSEM date (5 bytes). Fields default to "not specified"."""

    year: int = YEAR_NOT_SPECIFIED
    month: int = NOT_SPECIFIED
    day: int = NOT_SPECIFIED
    weekday: int = NOT_SPECIFIED

    SIZE: ClassVar[int] = 5

    def __post_init__(self) -> None:
        _check_year(self.year)
        _check_u8("month", self.month)
        _check_u8("day", self.day)
        _check_u8("weekday", self.weekday)

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "date", offset: int = 0) -> DlmsDate:
        """Decode 5 bytes (``offset`` is only used to report a wrong length)."""
        if len(data) != 5:
            raise GbcsDecodeError(path, offset, f"COSEM date needs 5 bytes, got {len(data)}")
        return _make_date(*_DATE.unpack(data))

    def to_bytes(self) -> bytes:
        """The 5 wire bytes."""
        return _DATE.pack(self.year, self.month, self.day, self.weekday)

    @classmethod
    def from_date(cls, d: _dt.date, *, with_weekday: bool = True) -> DlmsDate:
        """A fully specified date (weekday filled in unless ``with_weekday`` is false)."""
        return cls(d.year, d.month, d.day, _weekday_of(d) if with_weekday else NOT_SPECIFIED)

    def to_date(self) -> _dt.date | None:
        """The ``datetime.date``, or ``None`` when year, month or day is not a plain value."""
        return _date_or_none(self.year, self.month, self.day)

    @property
    def is_fully_specified(self) -> bool:
        """True when year, month and day are plain values (the weekday may be a wildcard)."""
        return self.to_date() is not None

    def __str__(self) -> str:
        return _date_str(self.year, self.month, self.day, self.weekday)


@dataclass(frozen=True, slots=True)
class DlmsTime:
    """COSEM time (4 bytes). Fields default to "not specified"."""

    hour: int = NOT_SPECIFIED
    minute: int = NOT_SPECIFIED
    second: int = NOT_SPECIFIED
    hundredths: int = NOT_SPECIFIED

    SIZE: ClassVar[int] = 4

    def __post_init__(self) -> None:
        for name in ("hour", "minute", "second", "hundredths"):
            _check_u8(name, getattr(self, name))

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "time", offset: int = 0) -> DlmsTime:
        """Decode 4 bytes (``offset`` is only used to report a wrong length)."""
        if len(data) != 4:
            raise GbcsDecodeError(path, offset, f"COSEM time needs 4 bytes, got {len(data)}")
        return _make_time(*_TIME.unpack(data))

    def to_bytes(self) -> bytes:
        """The 4 wire bytes."""
        return _TIME.pack(self.hour, self.minute, self.second, self.hundredths)

    @classmethod
    def from_time(cls, t: _dt.time) -> DlmsTime:
        """A fully specified time (hundredths truncated from microseconds)."""
        return cls(t.hour, t.minute, t.second, t.microsecond // 10_000)

    def to_time(self) -> _dt.time | None:
        """The ``datetime.time`` (hundredths ``0xFF`` read as 0), or ``None`` if wildcarded."""
        return _time_or_none(self.hour, self.minute, self.second, self.hundredths)

    @property
    def is_fully_specified(self) -> bool:
        return self.to_time() is not None

    def __str__(self) -> str:
        return _time_str(self.hour, self.minute, self.second, self.hundredths)


@dataclass(frozen=True, slots=True)
class DlmsDateTime:
    """COSEM date-time (12 bytes). Fields default to "not specified".

    ``deviation`` is a signed number of minutes (``UTC = local + deviation``);
    :data:`DEVIATION_NOT_SPECIFIED` (``-0x8000``) is the ``0x8000`` wildcard.
    """

    year: int = YEAR_NOT_SPECIFIED
    month: int = NOT_SPECIFIED
    day: int = NOT_SPECIFIED
    weekday: int = NOT_SPECIFIED
    hour: int = NOT_SPECIFIED
    minute: int = NOT_SPECIFIED
    second: int = NOT_SPECIFIED
    hundredths: int = NOT_SPECIFIED
    deviation: int = DEVIATION_NOT_SPECIFIED
    clock_status: int = CLOCK_STATUS_NOT_SPECIFIED

    SIZE: ClassVar[int] = 12

    def __post_init__(self) -> None:
        _check_year(self.year)
        for name in ("month", "day", "weekday", "hour", "minute", "second", "hundredths"):
            _check_u8(name, getattr(self, name))
        _check_u8("clock_status", self.clock_status)
        if not isinstance(self.deviation, int) or not -0x8000 <= self.deviation <= 0x7FFF:
            raise GbcsEncodeError(f"deviation must be an int16, got {self.deviation!r}")

    # -- bytes -------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "date_time", offset: int = 0) -> DlmsDateTime:
        """Decode 12 bytes (``offset`` is only used to report a wrong length)."""
        if len(data) != 12:
            raise GbcsDecodeError(path, offset, f"COSEM date-time needs 12 bytes, got {len(data)}")
        return _make_date_time(*_DATE_TIME.unpack(data))

    def to_bytes(self) -> bytes:
        """The 12 wire bytes."""
        return _DATE_TIME.pack(
            self.year,
            self.month,
            self.day,
            self.weekday,
            self.hour,
            self.minute,
            self.second,
            self.hundredths,
            self.deviation,
            self.clock_status,
        )

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def not_specified(cls) -> DlmsDateTime:
        """Every field a wildcard: ``FFFF FF FF FF FF FF FF FF 8000 FF``."""
        return cls()

    @classmethod
    def from_parts(
        cls,
        date: DlmsDate,
        time: DlmsTime,
        deviation: int = DEVIATION_NOT_SPECIFIED,
        clock_status: int = CLOCK_STATUS_NOT_SPECIFIED,
    ) -> DlmsDateTime:
        """Combine a date and a time (either may carry wildcards)."""
        return cls(
            date.year,
            date.month,
            date.day,
            date.weekday,
            time.hour,
            time.minute,
            time.second,
            time.hundredths,
            deviation,
            clock_status,
        )

    @classmethod
    def from_datetime(
        cls,
        dt: _dt.datetime,
        deviation: int = DEVIATION_NOT_SPECIFIED,
        status: int = CLOCK_STATUS_NOT_SPECIFIED,
        *,
        with_weekday: bool = False,
    ) -> DlmsDateTime:
        """A fully specified date-time from ``dt``.

        Defaults give the GBCS/RTDS form ``YYYY MM DD FF hh mm ss 00 8000 FF`` (weekday,
        deviation and clock status not specified). An aware ``dt`` is first converted to
        UTC when the deviation is not specified, else to the local time the deviation
        designates; a naive ``dt`` is written as is. Hundredths come from microseconds.
        """
        if dt.tzinfo is not None and dt.utcoffset() is not None:
            if deviation == DEVIATION_NOT_SPECIFIED:
                dt = dt.astimezone(_dt.UTC)
            else:
                dt = dt.astimezone(_dt.timezone(_dt.timedelta(minutes=-deviation)))
        return cls(
            dt.year,
            dt.month,
            dt.day,
            _weekday_of(dt) if with_weekday else NOT_SPECIFIED,
            dt.hour,
            dt.minute,
            dt.second,
            dt.microsecond // 10_000,
            deviation,
            status,
        )

    # -- views -------------------------------------------------------------------------

    @property
    def date(self) -> DlmsDate:
        return _make_date(self.year, self.month, self.day, self.weekday)

    @property
    def time(self) -> DlmsTime:
        return _make_time(self.hour, self.minute, self.second, self.hundredths)

    @property
    def deviation_specified(self) -> bool:
        return self.deviation != DEVIATION_NOT_SPECIFIED

    def to_datetime(self, assume_tz: _dt.tzinfo | None = _dt.UTC) -> _dt.datetime | None:
        """The ``datetime``, or ``None`` unless date and time are fully specified.

        The weekday is ignored and hundredths ``0xFF`` read as 0. With a specified
        deviation the result carries that offset (``utcoffset = -deviation``); otherwise
        ``assume_tz`` (UTC by default, as GBCS uses UTC) or a naive value when ``None``.
        """
        d = _date_or_none(self.year, self.month, self.day)
        t = _time_or_none(self.hour, self.minute, self.second, self.hundredths)
        if d is None or t is None:
            return None
        if self.deviation != DEVIATION_NOT_SPECIFIED:
            if not -1439 <= self.deviation <= 1439:
                return None
            tz: _dt.tzinfo | None = _dt.timezone(_dt.timedelta(minutes=-self.deviation))
        else:
            tz = assume_tz
        return _dt.datetime.combine(d, t, tz)

    def __str__(self) -> str:
        s = _date_str(self.year, self.month, self.day, self.weekday)
        s += " " + _time_str(self.hour, self.minute, self.second, self.hundredths)
        if self.deviation != DEVIATION_NOT_SPECIFIED:
            s += f" deviation={self.deviation:+d}min"
        if self.clock_status != CLOCK_STATUS_NOT_SPECIFIED:
            s += f" status=0x{self.clock_status:02X}"
        return s


_make_date = _fast_factory(DlmsDate)
_make_time = _fast_factory(DlmsTime)
_make_date_time = _fast_factory(DlmsDateTime)
