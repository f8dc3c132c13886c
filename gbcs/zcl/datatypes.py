"""ZCL data types: UTCTime, ``date``, typed attribute values and their codec."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.zcl.names import DATA_TYPE_NAMES

MAX_DEPTH = 32


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------- time

ZCL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def utc_to_datetime(value: int) -> datetime:
    """ZigBee UTCTime (seconds since 2000-01-01 UTC) as an aware ``datetime``."""
    return ZCL_EPOCH + timedelta(seconds=value)


def utc_from_datetime(dt: datetime) -> int:
    """An aware ``datetime`` as ZigBee UTCTime (seconds since 2000-01-01 UTC)."""
    if dt.tzinfo is None:
        raise GbcsEncodeError("UTCTime needs an aware datetime")
    v = int((dt - ZCL_EPOCH).total_seconds())
    if not 0 <= v <= 0xFFFFFFFF:
        raise GbcsEncodeError(f"{dt.isoformat()} outside the UTCTime range")
    return v


def format_utc(value: int) -> str:
    """Display form of a UTCTime; 0 and 0xFFFFFFFF are ZCL special values."""
    if value == 0:
        return "0x00000000 (now / not set)"
    if value == 0xFFFFFFFF:
        return "0xFFFFFFFF (invalid / undefined)"
    return utc_to_datetime(value).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- small values

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class ZclDate:
    """ZCL ``date``: year-1900, month, day of month, day of week (``0xFF`` = any)."""

    year: int
    month: int
    day: int
    weekday: int

    def encode(self) -> bytes:
        try:
            return bytes((self.year, self.month, self.day, self.weekday))
        except ValueError:
            raise GbcsEncodeError(f"ZCL date component out of range: {self}") from None

    def __str__(self) -> str:
        y = "*" if self.year == 0xFF else str(1900 + self.year)
        m = "*" if self.month == 0xFF else f"{self.month:02d}"
        d = "*" if self.day == 0xFF else f"{self.day:02d}"
        w = (
            ""
            if self.weekday == 0xFF
            else f" ({_WEEKDAYS[self.weekday - 1]})"
            if 1 <= self.weekday <= 7
            else f" (wd {self.weekday})"
        )
        return f"{y}-{m}-{d}{w}"


def _text(b: bytes | None) -> str:
    if b is None:
        return "invalid (length 0xFF)"
    if all(0x20 <= c < 0x7F for c in b):
        return repr(b.decode("ascii"))
    return b.hex().upper()


# --------------------------------------------------------------------------- attribute values


@dataclass(frozen=True, slots=True)
class ZclSequence:
    """Value of a ZCL array / set / bag: element type and items (``None`` = invalid)."""

    element_type: int
    items: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class ZclValue:
    """A typed ZCL attribute value.

    ``value`` is an ``int`` for data/bool/bitmap/uint/int/enum/UTCTime/cluster id/
    attribute id/BACnet OID/IEEE address types (signed for ``int*``), ``bytes`` for
    floats, time of day and keys (kept raw so they round-trip), ``bytes | None`` for
    strings (``None`` = the invalid length ``0xFF``/``0xFFFF``), :class:`ZclDate` for
    dates, :class:`ZclSequence` for array/set/bag, a tuple of :class:`ZclValue` (or
    ``None``) for structures and ``None`` for nodata/unknown.
    """

    type_id: int
    value: Any

    def encode(self) -> bytes:
        """Type id followed by the encoded value."""
        if not 0 <= self.type_id <= 0xFF:
            raise GbcsEncodeError(f"ZCL data type {self.type_id} out of range")
        return bytes((self.type_id,)) + _encode_value(self.type_id, self.value, 0)

    def display(self) -> str:
        return _display_value(self.type_id, self.value)


def _fixed_size(t: int) -> int | None:
    if 0x08 <= t <= 0x2F:
        return (t & 0x07) + 1
    return _FIXED_SIZES.get(t)


_FIXED_SIZES = {
    0x00: 0,
    0x30: 1,
    0x31: 2,
    0x38: 2,
    0x39: 4,
    0x3A: 8,
    0xE0: 4,
    0xE1: 4,
    0xE2: 4,
    0xE8: 2,
    0xE9: 2,
    0xEA: 4,
    0xF0: 8,
    0xF1: 16,
    0xFF: 0,
}
_RAW_TYPES = frozenset((0x38, 0x39, 0x3A, 0xE0, 0xF1))
_STRING_TYPES = frozenset((0x41, 0x42, 0x43, 0x44))


def _decode_value(buf: bytes, pos: int, end: int, t: int, path: str, depth: int) -> tuple[Any, int]:
    size = _fixed_size(t)
    if size is not None:
        if pos + size > end:
            raise GbcsDecodeError(
                path,
                pos,
                f"{DATA_TYPE_NAMES.get(t, hex(t))} needs {size} byte(s), {end - pos} left",
            )
        if size == 0:
            return None, pos
        raw = buf[pos : pos + size]
        if t in _RAW_TYPES:
            return raw, pos + size
        if t == 0xE1:
            return ZclDate(raw[0], raw[1], raw[2], raw[3]), pos + size
        return int.from_bytes(raw, "little", signed=0x28 <= t <= 0x2F), pos + size
    if t in _STRING_TYPES:
        lsize = 1 if t < 0x43 else 2
        if pos + lsize > end:
            raise GbcsDecodeError(
                path, pos, f"string length needs {lsize} byte(s), {end - pos} left"
            )
        n = buf[pos] if lsize == 1 else buf[pos] | buf[pos + 1] << 8
        pos += lsize
        if n == (0xFF if lsize == 1 else 0xFFFF):
            return None, pos
        if pos + n > end:
            raise GbcsDecodeError(
                path, pos - lsize, f"string of {n} byte(s) overruns the payload ({end - pos} left)"
            )
        return buf[pos : pos + n], pos + n
    if depth >= MAX_DEPTH:
        raise GbcsDecodeError(path, pos, f"ZCL values nested deeper than {MAX_DEPTH}")
    if t in (0x48, 0x50, 0x51):
        if pos + 3 > end:
            raise GbcsDecodeError(
                path, pos, f"{DATA_TYPE_NAMES[t]} header needs 3 byte(s), {end - pos} left"
            )
        et = buf[pos]
        n = buf[pos + 1] | buf[pos + 2] << 8
        pos += 3
        if n == 0xFFFF:
            return ZclSequence(et, None), pos
        items = []
        for i in range(n):
            v, pos = _decode_value(buf, pos, end, et, f"{path}[{i}]", depth + 1)
            items.append(v)
        return ZclSequence(et, tuple(items)), pos
    if t == 0x4C:
        if pos + 2 > end:
            raise GbcsDecodeError(path, pos, f"structure count needs 2 byte(s), {end - pos} left")
        n = buf[pos] | buf[pos + 1] << 8
        pos += 2
        if n == 0xFFFF:
            return None, pos
        elems = []
        for i in range(n):
            if pos >= end:
                raise GbcsDecodeError(
                    f"{path}[{i}]", pos, "structure element type needs 1 byte(s), 0 left"
                )
            et = buf[pos]
            v, pos = _decode_value(buf, pos + 1, end, et, f"{path}[{i}]", depth + 1)
            elems.append(ZclValue(et, v))
        return tuple(elems), pos
    raise GbcsDecodeError(path, pos - 1, f"unsupported ZCL data type 0x{t:02X}")


def _encode_value(t: int, v: Any, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise GbcsEncodeError(f"ZCL values nested deeper than {MAX_DEPTH}")
    size = _fixed_size(t)
    try:
        if size is not None:
            if size == 0:
                if v is not None:
                    raise GbcsEncodeError(f"type 0x{t:02X} carries no value")
                return b""
            if t in _RAW_TYPES:
                if not isinstance(v, bytes) or len(v) != size:
                    raise GbcsEncodeError(f"type 0x{t:02X} needs {size} raw byte(s)")
                return v
            if t == 0xE1:
                if not isinstance(v, ZclDate):
                    raise GbcsEncodeError("date value must be a ZclDate")
                return v.encode()
            return int(v).to_bytes(size, "little", signed=0x28 <= t <= 0x2F)
        if t in _STRING_TYPES:
            lsize = 1 if t < 0x43 else 2
            if v is None:
                return b"\xff" * lsize
            if len(v) >= (0xFF if lsize == 1 else 0xFFFF):
                raise GbcsEncodeError(f"string of {len(v)} byte(s) too long for type 0x{t:02X}")
            return len(v).to_bytes(lsize, "little") + bytes(v)
        if t in (0x48, 0x50, 0x51):
            if not isinstance(v, ZclSequence):
                raise GbcsEncodeError(f"{DATA_TYPE_NAMES[t]} value must be a ZclSequence")
            if v.items is None:
                return bytes((v.element_type, 0xFF, 0xFF))
            if len(v.items) >= 0xFFFF:
                raise GbcsEncodeError("too many elements")
            body = b"".join(_encode_value(v.element_type, x, depth + 1) for x in v.items)
            return bytes((v.element_type,)) + len(v.items).to_bytes(2, "little") + body
        if t == 0x4C:
            if v is None:
                return b"\xff\xff"
            if len(v) >= 0xFFFF:
                raise GbcsEncodeError("too many structure elements")
            return len(v).to_bytes(2, "little") + b"".join(
                bytes((e.type_id,)) + _encode_value(e.type_id, e.value, depth + 1) for e in v
            )
    except (OverflowError, TypeError, ValueError) as e:
        raise GbcsEncodeError(f"value {v!r} does not fit ZCL type 0x{t:02X}: {e}") from None
    raise GbcsEncodeError(f"unsupported ZCL data type 0x{t:02X}")


def _display_value(t: int, v: Any) -> str:
    tn = DATA_TYPE_NAMES.get(t, f"0x{t:02X}")
    if v is None:
        return f"{tn}: invalid" if t in _STRING_TYPES or t == 0x4C else tn
    if t in _STRING_TYPES:
        return f"{tn}: {_text(v)}"
    if t == 0xE2:
        return f"{tn}: {format_utc(v)}"
    if 0x18 <= t <= 0x1F or 0x08 <= t <= 0x0F or t in (0xE8, 0xE9, 0xF0):
        return f"{tn}: 0x{v:0{2 * _fixed_size(t)}X}"  # type: ignore[operator]
    if t == 0x39:
        return f"{tn}: {struct.unpack('<f', v)[0]!r}"
    if t == 0x3A:
        return f"{tn}: {struct.unpack('<d', v)[0]!r}"
    if isinstance(v, bytes):
        return f"{tn}: {v.hex().upper()}"
    if isinstance(v, ZclSequence):
        n = "invalid" if v.items is None else f"{len(v.items)} item(s)"
        return f"{tn} of {DATA_TYPE_NAMES.get(v.element_type, hex(v.element_type))}: {n}"
    if isinstance(v, tuple):
        return f"{tn}: {len(v)} element(s)"
    return f"{tn}: {v}"
