"""Typed, JSON-able, lossless arguments of DLMS access-request command payloads.

:func:`explain_dlms` turns the access-request of a command into a JSON-able ``dict``;
:func:`build_dlms` turns such a ``dict`` back into the access-request, byte for byte:
``build_dlms(explain_dlms(p, code, c), code, c).encode() == p.encode()`` for every
access-request ``p``. Values are built from the A-XDR/COSEM rules (:mod:`gbcs.axdr`,
:mod:`gbcs.dlms`, :mod:`gbcs.cosem_time`), never from example bytes.

**Shape.** ``{"items": [item, ...]}``, one item per access-request-specification, plus
``"invoke_id"`` only when it is not :func:`gbcs.dlms.invoke_id_for_counter` of the
counter and ``"date_time"`` only when the APDU carries one. An item::

    {"operation": "set", "class_id": 20, "obis": "0-0:13.0.0.255",
     "name": "Tariff Switching Table", "attribute": 7, "value": ...}

``operation`` is ``get``, ``get-with-selection``, ``set``, ``set-with-selection`` or
``action``; ``attribute`` (or ``method`` for ``action``) is the member id; ``value``
(set), ``parameter`` (action), ``selector`` and ``selection`` (the selective-access
parameters) carry the typed values. A get whose data item is not null-data carries it in
``value``. ``name`` comes from the device profiles and is informational: ignored on input.

**Typed values.** Each position has a type tree, from the standard COSEM interface
classes (attributes, method parameters and profile-generic selective access, with field
names: structures become objects), else from the stored attribute value of the bundled
device profiles (structures become lists). JSON forms:

* integers and enums: ``int`` (an enum with a name table, e.g. the clock base, gives its
  name; unknown values stay ``int``); booleans: ``true`` (``FF``) / ``false`` (``00``);
  bit-strings: ``"0101…"``; visible/UTF-8 strings: text; arrays: lists;
* octet-strings by position kind (:data:`OCTET_KINDS`): COSEM date-time, date and time
  as text (:func:`date_time_text`), OBIS codes as ``"A-B:C.D.E.F"``, EUI-64s as 16
  upper-case hex digits, character data as text, and upper-case hex **only** for
  :data:`OPAQUE_POSITIONS` (octets without character, time or identifier structure);
* the selective-access ``from``/``to`` of a range read restricted by the GBCS UTC object
  (``0-0:94.44.100.255`` attribute 2) are UTC instants ``"2014-12-30T23:59:00Z"``
  (double-long-unsigned seconds since 2000-01-01).

**Tagged form.** Wherever a value does not fit its position's type (another A-XDR type
than the stored one, a wrong octet length, non-printable text, no known type at all), it
is written ``{"type": "double-long-unsigned", "value": 5}``: the A-XDR type name and the
value in the untyped form (structures and arrays as lists of tagged values, octet-strings
as hex, null-data as ``null``). A bare ``null`` is null-data in an untyped position. So the
round trip is exact without guessing. Null-data and don't-care may also be written without
a value, ``{"type": "null-data"}`` (TOML, the descriptions' format, has no null).

**Defaults.** Structure fields fixed by GBCS (the protection parameters' key info, the
range read's restricting object, ...) are omitted when they hold their default and may
be omitted on input; the protection parameters' transaction id defaults to
``04 ‖ counter``, derived from the counter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.cosem import load_profile
from gbcs.axdr import (
    INTEGER_RANGES,
    TAG_BY_NAME,
    TAG_NAMES,
    BitString,
    Data,
    DataType,
    decode_data_bytes,
    encode_data,
)
from gbcs.cosem_time import DlmsDate, DlmsDateTime, DlmsTime
from gbcs.dlms import (
    AccessRequest,
    AccessRequestSpec,
    ActionSpec,
    GetSpec,
    GetWithSelectionSpec,
    Obis,
    SetSpec,
    SetWithSelectionSpec,
    invoke_id_for_counter,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.usecases import DeviceType, lookup

__all__ = [
    "OCTET_KINDS",
    "OPAQUE_POSITIONS",
    "DlmsArgsError",
    "Leaf",
    "build_dlms",
    "data_json",
    "date_text",
    "date_time_text",
    "explain_dlms",
    "iter_leaves",
    "parse_date",
    "parse_date_time",
    "parse_time",
    "time_text",
]

Json = Any
"""A JSON-able value: dict, list, str, int, bool or None."""

OCTET_KINDS: Mapping[str, str] = {
    "date-time": "COSEM date-time (12 octets): text, see date_time_text",
    "date": "COSEM date (5 octets): text, see date_text",
    "time": "COSEM time (4 octets): text, see time_text",
    "obis": "a COSEM logical name (6 octets): text A-B:C.D.E.F",
    "eui": "an EUI-64 (8 octets, also the extended PAN id): 16 upper-case hex digits",
    "text": "character data (names, phone numbers, MPxNs, messages, UTRNs): printable "
    "ASCII text, else the tagged octet-string form",
    "opaque": "octets without character, time or identifier structure: upper-case hex",
}
"""How an octet-string is written, by the kind its position has."""

OPAQUE_POSITIONS: Mapping[str, str] = {
    "install_code": "ZigBee network control register_device: the HAN install code (key material)",
    "link_key": "ZigBee network control restore: a HAN link key (key material)",
    "key_parameters": "data protection key info: the key-agreement scheme octets",
    "key_ciphered_data": "data protection key info: wrapped key octets",
    "other_information": "data protection parameters: other information octets",
    "transaction_id": "data protection parameters: a transaction id that is not 04 ‖ counter",
    "calendar_name": "activity calendar: calendar name (COSEM: octets without a character set)",
    "season_profile_name": "activity calendar: season name (COSEM: octets)",
    "week_name": "activity calendar: week profile reference (COSEM: octets)",
    "week_profile_name": "activity calendar: week profile name (COSEM: octets)",
    "index": "charge table: register-activation mask index (COSEM: octets)",
    "0-0:0.2.1.255": "firmware version value (4 vendor octets)",
    "0-0:94.44.3.1": "privacy PIN value",
}
"""The only positions (structure field names, or OBIS of a data object's value) whose
octet-strings are written as opaque hex in typed form; every other octet-string position
has a time, OBIS, EUI or text kind. Untyped positions use the tagged form instead."""

_BOOL_TRUE = 0xFF


class DlmsArgsError(ValueError):
    """Arguments that do not fit an access-request: ``path`` names the argument
    (``items[0].value.entries[2].time``), ``reason`` says what is allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


# --------------------------------------------------------------------------- type names


def _json_type(v: Json) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, Mapping):
        return "an object"
    return type(v).__name__


def _int(v: Json, path: str, tag: DataType) -> int:
    lo, hi = INTEGER_RANGES[tag]
    what = f"an integer {lo}..{hi} ({TAG_NAMES[tag]})"
    if not isinstance(v, int) or isinstance(v, bool):
        raise DlmsArgsError(path, f"expected {what}, got {_json_type(v)}")
    if not lo <= v <= hi:
        raise DlmsArgsError(path, f"{v} out of range: expected {what}")
    return v


def _got(v: Json) -> str:
    return repr(v) if isinstance(v, str) else _json_type(v)


def _hex(v: Json, path: str) -> bytes:
    if not isinstance(v, str) or len(v) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", v):
        raise DlmsArgsError(path, f"expected upper-case hex octets, got {_got(v)}")
    return bytes.fromhex(v)


# --------------------------------------------------------------------------- time text

_WILD = "*"
_DATE_RE = r"(\*|\d{4,5})-(\*|\d{2,3})-(\*|\d{2,3})"
_TIME_RE = r"(\*|\d{2,3}):(\*|\d{2,3}):(\*|\d{2,3})\.(\*|\d{2,3})"
_WEEKDAY_RE = r"(?:\[weekday=(\d{1,3})\])?"
_STATUS_RE = r"(?:\[status=0x([0-9A-Fa-f]{2})\])?"
_OFFSET_RE = r"(?:([+-])(\d{2,3}):(\d{2}))?"
_DATE_FULL = re.compile(_DATE_RE + _WEEKDAY_RE)
_TIME_FULL = re.compile(_TIME_RE)
_DT_FULL = re.compile(_DATE_RE + "T" + _TIME_RE + _OFFSET_RE + _WEEKDAY_RE + _STATUS_RE)
_TEXT_FORMS = (
    "date-time text YYYY-MM-DDThh:mm:ss.cc[±hh:mm][[weekday=N]][[status=0xHH]], "
    "'*' for a not-specified field (e.g. 2015-01-03T01:00:00.00)"
)


def _b(v: int) -> str:
    return _WILD if v == 0xFF else f"{v:02d}"


def _year(v: int) -> str:
    return _WILD if v == 0xFFFF else f"{v:04d}"


def date_text(d: DlmsDate) -> str:
    """``YYYY-MM-DD`` plus ``[weekday=N]`` (1 = Monday) when the weekday is specified.

    Every field is decimal, ``*`` for the ``FF``/``FFFF`` "not specified" wildcard; the
    special values keep their numbers (month 253/254 = DST end/begin, day 253/254 =
    second-last/last day of the month).
    """
    s = f"{_year(d.year)}-{_b(d.month)}-{_b(d.day)}"
    return s if d.weekday == 0xFF else s + f"[weekday={d.weekday}]"


def time_text(t: DlmsTime) -> str:
    """``hh:mm:ss.cc`` (``cc`` hundredths), ``*`` for a not-specified field."""
    return f"{_b(t.hour)}:{_b(t.minute)}:{_b(t.second)}.{_b(t.hundredths)}"


def date_time_text(dt: DlmsDateTime) -> str:
    """ISO 8601 text of a COSEM date-time, lossless for all 12 octets.

    ``YYYY-MM-DDThh:mm:ss.cc`` (fields as :func:`date_text` / :func:`time_text`), then the
    UTC offset ``±hh:mm`` only when the deviation is specified (offset = -deviation, the
    Blue Book sign; deviation 0 is ``+00:00``; no offset = deviation ``8000``, "not
    specified", which GBCS reads as UTC), then ``[weekday=N]`` when the weekday is
    specified and ``[status=0xHH]`` when the clock status is (RFC 9557 suffix style).
    """
    s = f"{_year(dt.year)}-{_b(dt.month)}-{_b(dt.day)}T{time_text(dt.time)}"
    if dt.deviation != -0x8000:
        off = -dt.deviation
        sign = "+" if off >= 0 else "-"
        s += f"{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}"
    if dt.weekday != 0xFF:
        s += f"[weekday={dt.weekday}]"
    if dt.clock_status != 0xFF:
        s += f"[status=0x{dt.clock_status:02X}]"
    return s


def _field(text: str, hi: int, wild: int, what: str, path: str) -> int:
    if text == _WILD:
        return wild
    v = int(text)
    if not 0 <= v <= hi:
        raise DlmsArgsError(path, f"{what} {v} out of range 0..{hi} ('*' = not specified)")
    return v


def _date_fields(m: re.Match[str], path: str) -> tuple[int, int, int]:
    return (
        _field(m[1], 0xFFFE, 0xFFFF, "year", path),
        _field(m[2], 0xFE, 0xFF, "month", path),
        _field(m[3], 0xFE, 0xFF, "day", path),
    )


def _time_fields(m: re.Match[str], at: int, path: str) -> tuple[int, int, int, int]:
    names = ("hour", "minute", "second", "hundredths")
    return tuple(_field(m[at + i], 0xFE, 0xFF, names[i], path) for i in range(4))  # type: ignore[return-value]


def _weekday(text: str | None, path: str) -> int:
    return 0xFF if text is None else _field(text, 0xFF, 0xFF, "weekday", path)


def parse_date(v: Json, path: str = "") -> DlmsDate:
    """The inverse of :func:`date_text` (raises :class:`DlmsArgsError`)."""
    m = _DATE_FULL.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise DlmsArgsError(path, f"expected date text YYYY-MM-DD[[weekday=N]], got {_got(v)}")
    return DlmsDate(*_date_fields(m, path), _weekday(m[4], path))


def parse_time(v: Json, path: str = "") -> DlmsTime:
    """The inverse of :func:`time_text` (raises :class:`DlmsArgsError`)."""
    m = _TIME_FULL.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise DlmsArgsError(path, f"expected time text hh:mm:ss.cc ('*' wildcards), got {_got(v)}")
    return DlmsTime(*_time_fields(m, 1, path))


def parse_date_time(v: Json, path: str = "") -> DlmsDateTime:
    """The inverse of :func:`date_time_text` (raises :class:`DlmsArgsError`)."""
    m = _DT_FULL.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        raise DlmsArgsError(path, f"expected {_TEXT_FORMS}, got {_got(v)}")
    year, month, day = _date_fields(m, path)
    hour, minute, second, hundredths = _time_fields(m, 4, path)
    deviation = -0x8000
    if m[8] is not None:
        minutes = int(m[9]) * 60 + int(m[10])
        if int(m[10]) > 59:
            raise DlmsArgsError(path, f"offset minutes {m[10]} out of range 0..59")
        deviation = minutes if m[8] == "-" else -minutes
        if not -0x7FFF <= deviation <= 0x7FFF:
            raise DlmsArgsError(path, "offset out of range: the deviation is an int16 ±32767")
    status = 0xFF if m[12] is None else int(m[12], 16)
    wd = _weekday(m[11], path)
    return DlmsDateTime(year, month, day, wd, hour, minute, second, hundredths, deviation, status)


_EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)


def _utc_text(seconds: int) -> str:
    return (_EPOCH_2000 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_utc(v: Json, path: str) -> int:
    what = "a UTC instant YYYY-MM-DDThh:mm:ssZ (whole seconds, 2000-01-01..2136-02-07)"
    if not isinstance(v, str):
        raise DlmsArgsError(path, f"expected {what}, got {_json_type(v)}")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise DlmsArgsError(path, f"expected {what}, got {_got(v)}") from None
    if t.tzinfo is None or t.microsecond:
        raise DlmsArgsError(path, f"expected {what}, got {_got(v)}")
    s = int((t - _EPOCH_2000).total_seconds())
    if not 0 <= s <= 0xFFFFFFFF:
        raise DlmsArgsError(path, f"{v} out of range: expected {what}")
    return s


# --------------------------------------------------------------------------- type trees


@dataclass(frozen=True, slots=True)
class _Prim:
    """A scalar of A-XDR type ``tag``; ``kind`` refines octet-strings and
    double-long-unsigned (``utc``); ``names`` names enum values."""

    tag: DataType
    kind: str = ""
    names: Mapping[int, str] | None = None


@dataclass(frozen=True, slots=True)
class _F:
    """A structure field: name, type and optional default (Data, or made from the counter)."""

    name: str
    node: _Node
    default: Data | Callable[[int], Data] | None = None


@dataclass(frozen=True, slots=True)
class _Struct:
    """A structure: named fields (a JSON object) or, when ``named`` is false, a list."""

    fields: tuple[_F, ...]
    named: bool = True


@dataclass(frozen=True, slots=True)
class _Arr:
    element: _Node


@dataclass(frozen=True, slots=True)
class _Any:
    """No known type: the tagged form."""


@dataclass(frozen=True, slots=True)
class _Dependent:
    """A structure whose field types depend on one of its fields (a CHOICE in effect):
    ``of_data`` picks the type from the value, ``of_json`` from the arguments."""

    of_data: Callable[[Data], _Node]
    of_json: Callable[[Json, int], _Node]


_Node = _Prim | _Struct | _Arr | _Any | _Dependent
ANY = _Any()


def _p(tag: DataType, kind: str = "") -> _Prim:
    return _Prim(tag, kind)


T = DataType
INTEGER, LONG, UNSIGNED = _p(T.INTEGER), _p(T.LONG), _p(T.UNSIGNED)
LU, DL, DLU = _p(T.LONG_UNSIGNED), _p(T.DOUBLE_LONG), _p(T.DOUBLE_LONG_UNSIGNED)
ENUM, BOOL, BITS = _p(T.ENUM), _p(T.BOOLEAN), _p(T.BIT_STRING)
NULL = _p(T.NULL_DATA)
DT, DATE, TIME = (
    _p(T.OCTET_STRING, "date-time"),
    _p(T.OCTET_STRING, "date"),
    _p(T.OCTET_STRING, "time"),
)
OBIS, EUI = _p(T.OCTET_STRING, "obis"), _p(T.OCTET_STRING, "eui")
TEXT, OPAQUE = _p(T.OCTET_STRING, "text"), _p(T.OCTET_STRING, "opaque")


def _s(*fields: tuple[str, _Node] | _F) -> _Struct:
    return _Struct(tuple(f if isinstance(f, _F) else _F(*f) for f in fields))


SCRIPT = _s(("script_logical_name", OBIS), ("script_selector", LU))
VALUE_DEF = _s(("class_id", LU), ("logical_name", OBIS), ("attribute_index", INTEGER))
CAPTURE_OBJECT = _s(
    ("class_id", LU), ("logical_name", OBIS), ("attribute_index", INTEGER), ("data_index", LU)
)
SCALER_UNIT = _s(("scaler", INTEGER), ("unit", ENUM))
UNIT_CHARGE = _s(
    ("charge_per_unit_scaling", _s(("commodity_scale", INTEGER), ("price_scale", INTEGER))),
    ("commodity", VALUE_DEF),
    ("charge_table", _Arr(_s(("index", OPAQUE), ("charge_per_unit", LONG)))),
)
SEASON_PROFILE = _Arr(
    _s(("season_profile_name", OPAQUE), ("season_start", DT), ("week_name", OPAQUE))
)
WEEK_PROFILE = _Arr(
    _s(
        ("week_profile_name", OPAQUE),
        *((d, UNSIGNED) for d in ("monday", "tuesday", "wednesday", "thursday")),
        *((d, UNSIGNED) for d in ("friday", "saturday", "sunday")),
    )
)
DAY_PROFILE = _Arr(
    _s(
        ("day_id", UNSIGNED),
        (
            "day_schedule",
            _Arr(_s(("start_time", TIME), ("script_logical_name", OBIS), ("script_selector", LU))),
        ),
    )
)
CLOCK_BASE = _Prim(
    T.ENUM,
    names={
        0: "not-defined",
        1: "internal-crystal",
        2: "mains-50hz",
        3: "mains-60hz",
        4: "gps",
        5: "radio-controlled",
    },
)
PAYMENT_MODE = _Prim(T.ENUM, names={1: "credit", 2: "prepayment"})
ACCOUNT_STATUS = _Prim(T.ENUM, names={1: "new", 2: "active", 3: "closed"})

_AGREED_KEY = Data.structure(
    Data.enum(2), Data.structure(Data.octet_string(b"\x02"), Data.octet_string(b""))
)
PROTECTION_ELEMENT = _s(
    _F("protection_type", ENUM, Data.enum(2)),
    (
        "protection_options",
        _s(
            _F(
                "transaction_id",
                OPAQUE,
                lambda counter: Data.octet_string(b"\x04" + counter.to_bytes(8, "big")),
            ),
            ("originator_system_title", EUI),
            ("recipient_system_title", EUI),
            _F("other_information", OPAQUE, Data.octet_string(b"")),
            _F(
                "key_info",
                _s(
                    ("key_info_type", ENUM),
                    (
                        "key_info_options",
                        _s(("key_parameters", OPAQUE), ("key_ciphered_data", OPAQUE)),
                    ),
                ),
                _AGREED_KEY,
            ),
        ),
    ),
)
RESTRICTION_TYPE = _Prim(T.ENUM, names={0: "none", 1: "by-date", 2: "by-entry"})
_RESTRICTION_VALUES: dict[int, _Node] = {
    0: NULL,
    1: _s(("from_date", DT), ("to_date", DT)),
    2: _s(("from_entry", DLU), ("to_entry", DLU)),
}


def _restriction(kind: int | None) -> _Node:
    """Data protection restriction: the value's type follows restriction_type."""
    value = _RESTRICTION_VALUES.get(kind, ANY) if kind is not None else ANY
    return _s(("restriction_type", RESTRICTION_TYPE), ("restriction_value", value))


def _restriction_of_data(d: Data) -> _Node:
    ok = d.tag == T.STRUCTURE and len(d.value) == 2 and d.value[0].tag == T.ENUM
    return _restriction(d.value[0].value if ok else None)


def _restriction_of_json(j: Json, counter: int) -> _Node:
    kind = j.get("restriction_type") if isinstance(j, Mapping) else None
    if isinstance(kind, str):
        kind = next((k for k, n in (RESTRICTION_TYPE.names or {}).items() if n == kind), None)
    return _restriction(kind if isinstance(kind, int) and not isinstance(kind, bool) else None)


RESTRICTION = _Dependent(_restriction_of_data, _restriction_of_json)
GET_PROTECTED_ATTRIBUTES = _s(
    (
        "object_list",
        _Arr(
            _s(
                ("class_id", LU),
                ("logical_name", OBIS),
                ("attribute_index", INTEGER),
                _F("data_index", LU, Data.long_unsigned(0)),
                _F("restriction", RESTRICTION, Data.structure(Data.enum(0), Data.null())),
            )
        ),
    ),
    ("protection_parameters", _Arr(PROTECTION_ELEMENT)),
)

# Attribute types of the standard COSEM interface classes GBCS uses (Blue Book). Value
# attributes whose type depends on the object (data value, register value, thresholds)
# come from the device profiles instead.
_CLASS_ATTRIBUTES: dict[tuple[int, int], _Node] = {
    (3, 3): SCALER_UNIT,
    (4, 3): SCALER_UNIT,
    (4, 5): DT,
    (5, 3): SCALER_UNIT,
    (5, 6): DT,
    (5, 7): DT,
    (5, 8): DLU,
    (5, 9): LU,
    (7, 3): _Arr(CAPTURE_OBJECT),
    (7, 4): DLU,
    (7, 5): ENUM,
    (7, 6): CAPTURE_OBJECT,
    (7, 7): DLU,
    (7, 8): DLU,
    (8, 2): DT,
    (8, 3): LONG,
    (8, 4): UNSIGNED,
    (8, 5): DT,
    (8, 6): DT,
    (8, 7): INTEGER,
    (8, 8): BOOL,
    (8, 9): CLOCK_BASE,
    (10, 2): _Arr(
        _s(
            ("index", LU),
            ("enable", BOOL),
            ("script_logical_name", OBIS),
            ("script_selector", LU),
            ("switch_time", TIME),
            ("validity_window", LU),
            ("exec_weekdays", BITS),
            ("exec_specdays", BITS),
            ("begin_date", DATE),
            ("end_date", DATE),
        )
    ),
    (11, 2): _Arr(_s(("index", LU), ("specialday_date", DATE), ("day_id", UNSIGNED))),
    (20, 2): OPAQUE,
    (20, 3): SEASON_PROFILE,
    (20, 4): WEEK_PROFILE,
    (20, 5): DAY_PROFILE,
    (20, 6): OPAQUE,
    (20, 7): SEASON_PROFILE,
    (20, 8): WEEK_PROFILE,
    (20, 9): DAY_PROFILE,
    (20, 10): DT,
    (21, 3): VALUE_DEF,
    (21, 4): _Arr(_s(("action_up", SCRIPT), ("action_down", SCRIPT))),
    (22, 2): SCRIPT,
    (22, 3): ENUM,
    (22, 4): _Arr(_s(("time", TIME), ("date", DATE))),
    (70, 2): BOOL,
    (70, 3): ENUM,
    (70, 4): ENUM,
    (71, 2): VALUE_DEF,
    (71, 6): DLU,
    (71, 7): DLU,
    (71, 8): _s(
        ("emergency_profile_id", LU), ("emergency_activation_time", DT), ("emergency_duration", DLU)
    ),
    (71, 9): _Arr(LU),
    (71, 10): BOOL,
    (71, 11): _s(("action_over_threshold", SCRIPT), ("action_under_threshold", SCRIPT)),
    (104, 2): BOOL,
    (104, 3): LU,
    (111, 2): _s(("payment_mode", PAYMENT_MODE), ("account_status", ACCOUNT_STATUS)),
    (111, 3): UNSIGNED,
    (111, 4): BITS,
    (111, 5): DL,
    (111, 6): DL,
    (111, 7): DL,
    (111, 8): DL,
    (111, 9): _Arr(OBIS),
    (111, 10): _Arr(OBIS),
    (111, 11): _Arr(
        _s(
            ("credit_reference", OBIS),
            ("charge_reference", OBIS),
            ("collection_configuration", BITS),
        )
    ),
    (111, 12): _Arr(_s(("credit_reference", OBIS), ("token_proportion", UNSIGNED))),
    (111, 13): DT,
    (111, 14): DT,
    (111, 16): DL,
    (111, 17): DL,
    (111, 18): LU,
    (111, 19): DL,
    (112, 2): DL,
    (112, 3): ENUM,
    (112, 4): UNSIGNED,
    (112, 5): DL,
    (112, 6): DL,
    (112, 7): BITS,
    (112, 8): ENUM,
    (112, 9): DL,
    (112, 10): DL,
    (112, 11): DT,
    (113, 2): DL,
    (113, 3): ENUM,
    (113, 4): UNSIGNED,
    (113, 5): UNIT_CHARGE,
    (113, 6): UNIT_CHARGE,
    (113, 7): DT,
    (113, 8): DLU,
    (113, 9): BITS,
    (113, 10): DT,
    (113, 11): DL,
    (113, 12): DL,
    (113, 13): LU,
    (9000, 6): DT,
}

# Method parameter types (Blue Book; GBCS passes integer(0) where a method takes no data).
_CLASS_METHODS: dict[tuple[int, int], _Node] = {
    (3, 1): INTEGER,
    (4, 1): INTEGER,
    (5, 1): INTEGER,
    (5, 2): INTEGER,
    (7, 1): INTEGER,
    (7, 2): INTEGER,
    (8, 1): INTEGER,
    (8, 2): INTEGER,
    (8, 3): INTEGER,
    (8, 4): INTEGER,
    (8, 5): _s(("preset_time", DT), ("validity_interval_start", DT), ("validity_interval_end", DT)),
    (8, 6): LONG,
    (9, 1): LU,
    (30, 1): GET_PROTECTED_ATTRIBUTES,
    (70, 1): INTEGER,
    (70, 2): INTEGER,
    (104, 1): _s(
        ("mac_address", EUI),
        ("device_type", ENUM),
        ("install_code", OPAQUE),
        ("registration_option", ENUM),
    ),
    (104, 2): EUI,
    (104, 4): NULL,
    (104, 5): _s(
        ("extended_pan_id", EUI),
        ("devices", _Arr(_s(("mac_address", EUI), ("link_key", OPAQUE)))),
    ),
    (112, 1): DL,
    (112, 2): DL,
    (112, 3): INTEGER,
    (113, 1): UNIT_CHARGE,
    (113, 2): INTEGER,
    (113, 3): INTEGER,
    (113, 4): DL,
    (113, 5): DL,
    (115, 1): TEXT,
}

# Kinds of octet-string values of data objects (class 1 / 3 / 4 / 9000 value attributes),
# whose meaning the profiles' stored bytes cannot tell. A profile octet-string value not
# listed here has no kind and uses the tagged form.
_OBJECT_OCTET_KINDS: dict[str, str] = {
    "0-0:0.2.1.255": "opaque",
    "0-0:94.44.3.1": "opaque",
    "0-0:96.1.1.255": "eui",
    **{f"0-0:94.44.0.{i}": "eui" for i in range(21, 26)},
    **{
        o: "text"
        for o in (
            "0-0:96.1.2.255",
            "0-0:96.1.4.255",
            "0-0:96.1.6.255",
            "0-0:94.44.34.11",
            "1-0:0.0.2.255",
            "0-0:96.13.0.255",
            "0-0:96.13.1.255",
            "0-2:96.13.1.255",
            "0-3:96.13.1.255",
        )
    },
    **{
        o: "date-time"
        for o in (
            "0-0:94.44.3.2",
            "0-0:94.44.5.0",
            "0-0:94.44.5.1",
            "0-0:94.44.5.2",
            "0-0:94.44.119.1",
            "0-0:94.44.119.3",
            "0-0:94.44.119.4",
        )
    },
}

_UTC_OBJECT = (1, "0-0:94.44.100.255", 2)  # GBCS: UTC seconds since 2000 (range reads)
_CLOCK_OBJECT = (8, "0-0:1.0.0.255", 2)
_RANGE_DEFAULT_OBJECT = Data.structure(
    Data.long_unsigned(1),
    Data.octet_string(Obis.parse(_UTC_OBJECT[1]).to_bytes()),
    Data.integer(2),
    Data.long_unsigned(0),
)
_ENTRY_DESCRIPTOR = _s(
    ("from_entry", DLU), ("to_entry", DLU), ("from_selected_value", LU), ("to_selected_value", LU)
)


def _node_of(d: Data) -> _Node:
    """The (unnamed) type tree of a stored profile value; octet-strings have no kind."""
    if d.tag == T.STRUCTURE:
        return _Struct(tuple(_F(str(i), _node_of(x)) for i, x in enumerate(d.value)), False)
    if d.tag == T.ARRAY:
        return _Arr(_node_of(d.value[0]) if d.value else ANY)
    if d.tag in (T.OCTET_STRING, T.COMPACT_ARRAY):
        return ANY
    return _Prim(d.tag)


@dataclass(frozen=True, slots=True)
class _ObjectInfo:
    names: dict[str, str]  # profile name -> object name
    attributes: dict[int, _Node]


def _short_name(name: str) -> str:
    """A profile object name without its implementation notes (after ``;``)."""
    name = name.split("; ")[0].strip()
    if name.count("(") > name.count(")") or (name.endswith(")") and " (written by " in name):
        name = name[: name.rfind(" (")].strip()
    return name


@functools.cache
def _profiles() -> dict[tuple[int, str], _ObjectInfo]:
    out: dict[tuple[int, str], _ObjectInfo] = {}
    for profile in ("esme", "chf"):
        for obj in load_profile(profile).objects():
            key = (obj.class_id, str(obj.obis))
            info = out.setdefault(key, _ObjectInfo({}, {}))
            if obj.name:
                info.names[profile] = _short_name(obj.name)
            for attr, value in obj.attributes.items():
                node = _node_of(value)
                kind = _OBJECT_OCTET_KINDS.get(key[1])
                if value.tag == T.OCTET_STRING and kind:
                    node = _Prim(T.OCTET_STRING, kind)
                info.attributes.setdefault(attr, node)
    return out


def _object_name(class_id: int, obis: str, message_code: int) -> str | None:
    info = _profiles().get((class_id, obis))
    if info is None or not info.names:
        return None
    uc = lookup(message_code)
    prefer = ("chf", "esme")
    if uc is None or DeviceType.CHF not in uc.targets or DeviceType.ESME in uc.targets:
        prefer = ("esme", "chf")
    return next(info.names[p] for p in prefer if p in info.names)


def _attribute_node(class_id: int, obis: str, attribute: int) -> _Node:
    node = _CLASS_ATTRIBUTES.get((class_id, attribute))
    if node is not None:
        return node
    info = _profiles().get((class_id, obis))
    return info.attributes.get(attribute, ANY) if info is not None else ANY


# --------------------------------------------------------------------------- untyped form


def _tagged(d: Data) -> Json:
    """The tagged form of ``d`` (bare ``None`` for null-data)."""
    if d.tag == T.NULL_DATA:
        return None
    return {"type": TAG_NAMES[d.tag], "value": _untyped_value(d)}


def data_json(d: Data) -> Json:
    """Any A-XDR value in the lossless tagged form, without position knowledge:
    ``{"type": "double-long-unsigned", "value": 5}``, structures and arrays as lists of
    tagged values, octet-strings as hex, null-data as ``None`` (responses, plaintexts)."""
    return _tagged(d)


def _untyped_value(d: Data) -> Json:
    tag, v = d.tag, d.value
    if tag in (T.STRUCTURE, T.ARRAY):
        return [_tagged(x) for x in v]
    if tag == T.BOOLEAN:
        return True if v == _BOOL_TRUE else False if v == 0 else v
    if tag == T.BIT_STRING:
        if _canonical_bits(v):
            return v.bits  # type: ignore[no-any-return]
        return {"length": v.length, "octets": v.data.hex().upper()}
    if tag in (T.OCTET_STRING, T.FLOAT32, T.FLOAT64):
        return v.hex().upper()  # type: ignore[no-any-return]
    if tag == T.DATE_TIME:
        return date_time_text(v)
    if tag == T.DATE:
        return date_text(v)
    if tag == T.TIME:
        return time_text(v)
    if tag == T.COMPACT_ARRAY:
        return encode_data(d)[1:].hex().upper()
    return v  # ints, strings, None (don't-care)


#: Types whose value is always null: their tagged form may leave ``value`` out (TOML, the
#: descriptions' format, has no null: ``{ type = "null-data" }``).
_VALUELESS = frozenset({T.NULL_DATA, T.DONT_CARE})


def _is_tagged(j: Json) -> bool:
    """Whether ``j`` is a tagged value: ``{"type", "value"}``, or ``{"type"}`` alone for a
    type whose value is always null."""
    if not isinstance(j, Mapping):
        return False
    if set(j) == {"type", "value"}:
        return True
    name = j.get("type")
    return set(j) == {"type"} and isinstance(name, str) and TAG_BY_NAME.get(name) in _VALUELESS


def _build_tagged(j: Json, path: str, leaves: list[Leaf] | None) -> Data:
    if j is None:
        return Data.null()
    if not _is_tagged(j):
        raise DlmsArgsError(
            path,
            "this position has no known type: expected a tagged value "
            '{"type": <A-XDR type name>, "value": ...} or null (null-data, also '
            '{"type": "null-data"}), '
            f"got {_json_type(j)}",
        )
    name = j["type"]
    tag = TAG_BY_NAME.get(name) if isinstance(name, str) else None
    if tag is None:
        raise DlmsArgsError(
            f"{path}.type",
            f"unknown A-XDR type {name!r}; expected one of {', '.join(TAG_NAMES.values())}",
        )
    v, vpath = j.get("value"), f"{path}.value"
    if leaves is not None and tag not in (T.STRUCTURE, T.ARRAY):
        leaves.append(Leaf(vpath, f"tagged:{name}", v))
    try:
        return _build_untyped(tag, v, vpath, leaves)
    except (GbcsEncodeError, GbcsDecodeError) as e:
        raise DlmsArgsError(vpath, f"not a valid {name}: {e}") from None


def _build_untyped(tag: DataType, v: Json, path: str, leaves: list[Leaf] | None) -> Data:
    if tag in (T.STRUCTURE, T.ARRAY):
        if not isinstance(v, list):
            raise DlmsArgsError(path, f"expected a list of tagged values, got {_json_type(v)}")
        items = tuple(_build_tagged(x, f"{path}[{i}]", leaves) for i, x in enumerate(v))
        return Data.structure(*items) if tag == T.STRUCTURE else Data.array(*items)
    if tag in (T.NULL_DATA, T.DONT_CARE):
        if v is not None:
            raise DlmsArgsError(path, f"expected null for {TAG_NAMES[tag]}")
        return Data(tag)
    if tag == T.BOOLEAN:
        if isinstance(v, bool):
            return Data(tag, _BOOL_TRUE if v else 0)
        return Data(tag, _int(v, path, T.UNSIGNED))
    if tag in INTEGER_RANGES:
        return Data(tag, _int(v, path, tag))
    if tag == T.BIT_STRING:
        return _bits(v, path)
    if tag in (T.OCTET_STRING, T.FLOAT32, T.FLOAT64):
        return Data(tag, _hex(v, path))
    if tag in (T.VISIBLE_STRING, T.UTF8_STRING):
        if not isinstance(v, str):
            raise DlmsArgsError(path, f"expected text, got {_json_type(v)}")
        return Data(tag, v)
    if tag == T.DATE_TIME:
        return Data(tag, parse_date_time(v, path))
    if tag == T.DATE:
        return Data(tag, parse_date(v, path))
    if tag == T.TIME:
        return Data(tag, parse_time(v, path))
    if tag == T.COMPACT_ARRAY:
        return decode_data_bytes(b"\x13" + _hex(v, path), path)
    raise DlmsArgsError(path, f"unsupported A-XDR type {TAG_NAMES[tag]}")  # pragma: no cover


def _canonical_bits(b: BitString) -> bool:
    """Whether the padding bits are zero, so the 0/1 text is the whole value."""
    return BitString.from_bits(b.bits) == b


def _bits(v: Json, path: str) -> Data:
    if isinstance(v, Mapping) and set(v) == {"length", "octets"}:
        # Non-zero padding bits (never sent by GBCS) are kept in this raw form.
        n = v["length"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise DlmsArgsError(f"{path}.length", f"expected a bit count >= 0, got {n!r}")
        try:
            return Data.bit_string(BitString(n, _hex(v["octets"], f"{path}.octets")))
        except GbcsEncodeError as e:
            raise DlmsArgsError(path, str(e)) from None
    if not isinstance(v, str) or not re.fullmatch(r"[01]*", v):
        raise DlmsArgsError(path, f"expected a bit-string as 0/1 text, got {_got(v)}")
    return Data.bit_string(BitString.from_bits(v))


# --------------------------------------------------------------------------- typed form


def _fits_octets(kind: str, b: bytes) -> bool:
    size = {"date-time": 12, "date": 5, "time": 4, "obis": 6, "eui": 8}.get(kind)
    if size is not None:
        return len(b) == size
    if kind == "text":
        return all(0x20 <= c <= 0x7E for c in b)
    return kind == "opaque"


def _octets_json(kind: str, b: bytes) -> Json:
    if kind == "date-time":
        return date_time_text(DlmsDateTime.from_bytes(b))
    if kind == "date":
        return date_text(DlmsDate.from_bytes(b))
    if kind == "time":
        return time_text(DlmsTime.from_bytes(b))
    if kind == "obis":
        return str(Obis.from_bytes(b))
    if kind == "text":
        return b.decode("ascii")
    return b.hex().upper()  # eui, opaque


def _is_bit_exact(node: _Prim, d: Data) -> bool:
    """Whether ``d`` has exactly the type (and, for octets, the shape) ``node`` gives."""
    if d.tag != node.tag:
        return False
    if d.tag == T.OCTET_STRING:
        return _fits_octets(node.kind, d.value)
    if d.tag == T.BOOLEAN:
        return d.value in (0, _BOOL_TRUE)
    if d.tag == T.BIT_STRING:
        return _canonical_bits(d.value)
    return True


def _explain(node: _Node, d: Data, counter: int) -> Json:
    if isinstance(node, _Prim):
        if not _is_bit_exact(node, d):
            return _tagged(d)
        if d.tag == T.OCTET_STRING:
            return _octets_json(node.kind, d.value)
        if d.tag == T.DOUBLE_LONG_UNSIGNED and node.kind == "utc":
            return _utc_text(d.value)
        if d.tag == T.ENUM and node.names and d.value in node.names:
            return node.names[d.value]
        if d.tag == T.NULL_DATA:
            return None
        return _untyped_value(d)
    if isinstance(node, _Struct):
        if d.tag != T.STRUCTURE or len(d.value) != len(node.fields):
            return _tagged(d)
        if not node.named:
            return [_explain(f.node, x, counter) for f, x in zip(node.fields, d.value, strict=True)]
        out: dict[str, Json] = {}
        for f, x in zip(node.fields, d.value, strict=True):
            if f.default is not None and encode_data(x) == encode_data(_default(f, counter)):
                continue
            out[f.name] = _explain(f.node, x, counter)
        return out
    if isinstance(node, _Arr):
        if d.tag != T.ARRAY:
            return _tagged(d)
        return [_explain(node.element, x, counter) for x in d.value]
    if isinstance(node, _Dependent):
        return _explain(node.of_data(d), d, counter)
    return _tagged(d)


def _default(f: _F, counter: int) -> Data:
    d = f.default
    assert d is not None
    return d if isinstance(d, Data) else d(counter)


def _build(node: _Node, j: Json, path: str, counter: int, leaves: list[Leaf] | None) -> Data:
    if j is None or _is_tagged(j):
        return _build_tagged(j, path, leaves)
    if isinstance(node, _Prim):
        return _build_prim(node, j, path, leaves)
    if isinstance(node, _Struct):
        return _build_struct(node, j, path, counter, leaves)
    if isinstance(node, _Arr):
        if not isinstance(j, list):
            raise DlmsArgsError(path, f"expected a list, got {_json_type(j)}")
        return Data.array(
            *(_build(node.element, x, f"{path}[{i}]", counter, leaves) for i, x in enumerate(j))
        )
    if isinstance(node, _Dependent):
        return _build(node.of_json(j, counter), j, path, counter, leaves)
    return _build_tagged(j, path, leaves)


def _build_struct(
    node: _Struct, j: Json, path: str, counter: int, leaves: list[Leaf] | None
) -> Data:
    if not node.named:
        if not isinstance(j, list) or len(j) != len(node.fields):
            raise DlmsArgsError(
                path, f"expected a list of {len(node.fields)} values, got {_describe(j)}"
            )
        return Data.structure(
            *(
                _build(f.node, x, f"{path}[{i}]", counter, leaves)
                for i, (f, x) in enumerate(zip(node.fields, j, strict=True))
            )
        )
    names = [f.name for f in node.fields]
    if not isinstance(j, Mapping):
        raise DlmsArgsError(
            path, f"expected an object with keys {', '.join(names)}, got {_json_type(j)}"
        )
    unknown = sorted(set(j) - set(names))
    if unknown:
        raise DlmsArgsError(f"{path}.{unknown[0]}", f"unknown field; expected {', '.join(names)}")
    items = []
    for f in node.fields:
        if f.name in j:
            items.append(_build(f.node, j[f.name], f"{path}.{f.name}", counter, leaves))
        elif f.default is not None:
            items.append(_default(f, counter))
        else:
            raise DlmsArgsError(f"{path}.{f.name}", f"missing ({_summary(f.node)})")
    return Data.structure(*items)


def _describe(j: Json) -> str:
    return f"a list of {len(j)}" if isinstance(j, list) else _json_type(j)


def _summary(node: _Node) -> str:
    if isinstance(node, _Prim):
        if node.tag == T.OCTET_STRING:
            return OCTET_KINDS[node.kind]
        return TAG_NAMES[node.tag]
    if isinstance(node, _Struct):
        return "an object" if node.named else f"a list of {len(node.fields)} values"
    if isinstance(node, _Arr):
        return "a list"
    return "a tagged value"


def _build_prim(node: _Prim, j: Json, path: str, leaves: list[Leaf] | None) -> Data:
    tag = node.tag
    kind = node.kind or TAG_NAMES[tag]
    if leaves is not None:
        leaves.append(Leaf(path, kind, j))
    if tag == T.OCTET_STRING:
        return Data.octet_string(_build_octets(node.kind, j, path))
    if tag == T.DOUBLE_LONG_UNSIGNED and node.kind == "utc":
        return Data(tag, _parse_utc(j, path))
    if tag == T.ENUM and node.names:
        if isinstance(j, str):
            for k, name in node.names.items():
                if name == j:
                    return Data.enum(k)
            raise DlmsArgsError(
                path,
                f"unknown name {j!r}; expected one of {', '.join(node.names.values())} or 0..255",
            )
        return Data.enum(_int(j, path, tag))
    if tag == T.BOOLEAN:
        if not isinstance(j, bool):
            raise DlmsArgsError(path, f"expected true or false, got {_json_type(j)}")
        return Data(tag, _BOOL_TRUE if j else 0)
    if tag == T.NULL_DATA:
        if j is not None:
            raise DlmsArgsError(path, f"expected null (null-data), got {_json_type(j)}")
        return Data.null()
    return _build_untyped(tag, j, path, None)


def _build_octets(kind: str, j: Json, path: str) -> bytes:
    try:
        if kind == "date-time":
            return parse_date_time(j, path).to_bytes()
        if kind == "date":
            return parse_date(j, path).to_bytes()
        if kind == "time":
            return parse_time(j, path).to_bytes()
        if kind == "obis":
            if not isinstance(j, str):
                raise DlmsArgsError(path, f"expected an OBIS code A-B:C.D.E.F, got {_json_type(j)}")
            return _obis(j, path).to_bytes()
    except GbcsEncodeError as e:
        raise DlmsArgsError(path, str(e)) from None
    if kind == "eui":
        if not isinstance(j, str) or not re.fullmatch(r"[0-9A-Fa-f]{16}", j):
            raise DlmsArgsError(path, f"expected an EUI-64 as 16 hex digits, got {_got(j)}")
        return bytes.fromhex(j)
    if kind == "text":
        if not isinstance(j, str) or not all(0x20 <= ord(c) <= 0x7E for c in j):
            raise DlmsArgsError(
                path,
                f"expected printable ASCII text, got {_got(j)} (other octets: the tagged "
                'form {"type": "octet-string", "value": "<hex>"})',
            )
        return j.encode("ascii")
    return _hex(j, path)


_OBIS_RE = re.compile(r"(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


def _obis(text: str, path: str) -> Obis:
    m = _OBIS_RE.fullmatch(text)
    if m is None:
        raise DlmsArgsError(
            path, f"expected an OBIS code A-B:C.D.E.F (groups 0..255), got {text!r}"
        )
    groups = [int(g) for g in m.groups()]
    if any(g > 255 for g in groups):
        raise DlmsArgsError(path, f"OBIS groups must be 0..255, got {text!r}")
    return Obis(*groups)


# --------------------------------------------------------------------------- selective access


def _range_object(d: Data) -> Data:
    if d.tag == T.STRUCTURE and len(d.value) == 4:
        return d.value[0]  # type: ignore[no-any-return]
    return _RANGE_DEFAULT_OBJECT


def _range_node(restricting: Data) -> _Node:
    """range_descriptor with from/to typed by the restricting object's value type."""
    bound: _Node = ANY
    try:
        cid, ln, attr = (restricting.value[i].value for i in range(3))
        key = (cid, str(Obis.from_bytes(ln)), attr)
    except (AttributeError, IndexError, TypeError, GbcsEncodeError):
        key = None
    if key == _UTC_OBJECT:
        bound = _Prim(T.DOUBLE_LONG_UNSIGNED, "utc")
    elif key == _CLOCK_OBJECT:
        bound = DT
    return _s(
        _F("restricting_object", CAPTURE_OBJECT, _RANGE_DEFAULT_OBJECT),
        ("from", bound),
        ("to", bound),
        _F("selected_values", _Arr(CAPTURE_OBJECT), Data.array()),
    )


def _range_of_json(j: Json, counter: int) -> _Node:
    obj = j.get("restricting_object") if isinstance(j, Mapping) else None
    if obj is None:
        return _range_node(_RANGE_DEFAULT_OBJECT)
    try:
        restricting = _build(CAPTURE_OBJECT, obj, "", counter, None)
    except DlmsArgsError:
        return _range_node(Data.null())  # the structure's build reports the error with its path
    return _range_node(restricting)


RANGE_DESCRIPTOR = _Dependent(lambda d: _range_node(_range_object(d)), _range_of_json)
_SELECTIONS: dict[tuple[int, int], _Node] = {(7, 1): RANGE_DESCRIPTOR, (7, 2): _ENTRY_DESCRIPTOR}


# --------------------------------------------------------------------------- items

_OPERATIONS: dict[str, type] = {
    "get": GetSpec,
    "get-with-selection": GetWithSelectionSpec,
    "set": SetSpec,
    "set-with-selection": SetWithSelectionSpec,
    "action": ActionSpec,
}
_OPERATION_OF = {v: k for k, v in _OPERATIONS.items()}
_ITEM_KEYS: dict[str, tuple[str, ...]] = {
    "get": ("attribute", "value"),
    "get-with-selection": ("attribute", "selector", "selection", "value"),
    "set": ("attribute", "value"),
    "set-with-selection": ("attribute", "selector", "selection", "value"),
    "action": ("method", "parameter"),
}
_COMMON_KEYS = ("operation", "class_id", "obis", "name")


def _explain_item(s: AccessRequestSpec, d: Data, code: int, counter: int) -> dict[str, Json]:
    op = _OPERATION_OF[type(s)]
    obis = str(s.obis)
    item: dict[str, Json] = {"operation": op, "class_id": s.class_id, "obis": obis}
    name = _object_name(s.class_id, obis, code)
    if name:
        item["name"] = name
    if isinstance(s, ActionSpec):
        item["method"] = s.method
        item["parameter"] = _explain(_CLASS_METHODS.get((s.class_id, s.method), ANY), d, counter)
        return item
    item["attribute"] = s.attribute
    if isinstance(s, GetWithSelectionSpec | SetWithSelectionSpec):
        item["selector"] = s.selector
        sel = _SELECTIONS.get((s.class_id, s.selector), ANY)
        item["selection"] = _explain(sel, s.parameters, counter)
    if isinstance(s, SetSpec | SetWithSelectionSpec):
        item["value"] = _explain(_attribute_node(s.class_id, obis, s.attribute), d, counter)
    elif d.tag != T.NULL_DATA:
        item["value"] = _tagged(d)
    return item


def _member(j: Mapping[str, Any], key: str, path: str) -> int:
    if key not in j:
        raise DlmsArgsError(f"{path}.{key}", "missing (an integer 0..255)")
    return _int(j[key], f"{path}.{key}", T.UNSIGNED)


def _build_item(
    j: Json, path: str, counter: int, leaves: list[Leaf] | None
) -> tuple[AccessRequestSpec, Data]:
    if not isinstance(j, Mapping):
        raise DlmsArgsError(
            path, f"expected an object (one access-request item), got {_json_type(j)}"
        )
    op = j.get("operation")
    if op not in _OPERATIONS:
        raise DlmsArgsError(
            f"{path}.operation",
            f"unknown operation {op!r}; expected one of {', '.join(_OPERATIONS)}",
        )
    allowed = _COMMON_KEYS + _ITEM_KEYS[op]
    unknown = sorted(set(j) - set(allowed))
    if unknown:
        raise DlmsArgsError(
            f"{path}.{unknown[0]}", f"not a key of a {op} item; expected {', '.join(allowed)}"
        )
    if "class_id" not in j:
        raise DlmsArgsError(f"{path}.class_id", "missing (a COSEM class id 0..65535)")
    class_id = _int(j["class_id"], f"{path}.class_id", T.LONG_UNSIGNED)
    if not isinstance(j.get("obis"), str):
        raise DlmsArgsError(
            f"{path}.obis", f"expected an OBIS code A-B:C.D.E.F, got {_json_type(j.get('obis'))}"
        )
    obis = _obis(j["obis"], f"{path}.obis")
    text = str(obis)
    if op == "action":
        method = _member(j, "method", path)
        if "parameter" not in j:
            raise DlmsArgsError(
                f"{path}.parameter", "missing (the method parameter; null for null-data)"
            )
        node = _CLASS_METHODS.get((class_id, method), ANY)
        return ActionSpec(class_id, obis, method), _build(
            node, j["parameter"], f"{path}.parameter", counter, leaves
        )
    attribute = _member(j, "attribute", path)
    value = Data.null()
    if op in ("set", "set-with-selection"):
        if "value" not in j:
            raise DlmsArgsError(f"{path}.value", "missing (the value to set)")
        node = _attribute_node(class_id, text, attribute)
        value = _build(node, j["value"], f"{path}.value", counter, leaves)
    elif "value" in j:
        value = _build_tagged(j["value"], f"{path}.value", leaves)
    if op in ("get", "set"):
        return _OPERATIONS[op](class_id, obis, attribute), value
    selector = _member(j, "selector", path)
    if "selection" not in j:
        raise DlmsArgsError(f"{path}.selection", "missing (the selective-access parameters)")
    sel_node = _SELECTIONS.get((class_id, selector), ANY)
    params = _build(sel_node, j["selection"], f"{path}.selection", counter, leaves)
    return _OPERATIONS[op](class_id, obis, attribute, selector, params), value


# --------------------------------------------------------------------------- public API


def explain_dlms(payload: AccessRequest, message_code: int, counter: int) -> dict[str, Any]:
    """The typed, JSON-able arguments of a DLMS access-request (see the module docstring).

    Raises :class:`DlmsArgsError` for a payload that is not an access-request or whose
    data list does not hold one value per specification (GBCS always does).
    """
    if not isinstance(payload, AccessRequest):
        raise DlmsArgsError("", f"not a DLMS access-request: {type(payload).__name__}")
    if len(payload.data) != len(payload.specs):
        raise DlmsArgsError(
            "items",
            f"{len(payload.specs)} specification(s) but {len(payload.data)} data item(s); "
            "a command carries one value per specification",
        )
    out: dict[str, Any] = {
        "items": [
            _explain_item(s, d, message_code, counter)
            for s, d in zip(payload.specs, payload.data, strict=True)
        ]
    }
    if payload.invoke_id != invoke_id_for_counter(counter):
        out["invoke_id"] = payload.invoke_id
    if payload.date_time is not None:
        out["date_time"] = date_time_text(payload.date_time)
    return out


def _build_request(
    args: Mapping[str, Any], counter: int, leaves: list[Leaf] | None
) -> AccessRequest:
    if not isinstance(args, Mapping):
        raise DlmsArgsError("", f"expected an object with 'items', got {_json_type(args)}")
    unknown = sorted(set(args) - {"items", "invoke_id", "date_time"})
    if unknown:
        raise DlmsArgsError(unknown[0], "unknown key; expected items, invoke_id, date_time")
    items = args.get("items")
    if not isinstance(items, list):
        raise DlmsArgsError(
            "items", f"expected a list of access-request items, got {_json_type(items)}"
        )
    built = [_build_item(x, f"items[{i}]", counter, leaves) for i, x in enumerate(items)]
    invoke = invoke_id_for_counter(counter)
    if "invoke_id" in args:
        invoke = _int(args["invoke_id"], "invoke_id", T.DOUBLE_LONG_UNSIGNED)
    dt = None
    if args.get("date_time") is not None:
        dt = parse_date_time(args["date_time"], "date_time")
    return AccessRequest(invoke, tuple(s for s, _ in built), tuple(d for _, d in built), dt)


def build_dlms(args: Mapping[str, Any], message_code: int, counter: int) -> AccessRequest:
    """The access-request described by ``args`` (the inverse of :func:`explain_dlms`).

    ``message_code`` is accepted for symmetry with the other payload builders (object
    names are informational); ``counter`` gives the invoke id and derived defaults.
    Raises :class:`DlmsArgsError` naming the argument path and what is allowed.
    """
    if not isinstance(counter, int) or not 0 <= counter < 1 << 64:
        raise DlmsArgsError("counter", f"expected an originator counter 0..2^64-1, got {counter!r}")
    return _build_request(args, counter, None)


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar argument: its path, the kind its position gives it and its value.

    Kinds: A-XDR type names for typed scalars (``long-unsigned``, ``boolean``,
    ``bit-string``...), the :data:`OCTET_KINDS` for octet-strings, ``utc`` for range-read
    bounds and ``tagged:<type>`` for values in the tagged (untyped) form.
    """

    path: str
    kind: str
    value: Json

    @property
    def opaque(self) -> bool:
        """Whether the value is written as opaque hex (octets with no known structure)."""
        return self.kind in ("opaque", "tagged:octet-string")


def iter_leaves(args: Mapping[str, Any], message_code: int, counter: int) -> Iterator[Leaf]:
    """Every scalar of ``args`` with its kind (raises :class:`DlmsArgsError` like
    :func:`build_dlms`)."""
    leaves: list[Leaf] = []
    _build_request(args, counter, leaves)
    yield from leaves
