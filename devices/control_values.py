"""JSON forms of COSEM (A-XDR) and ZCL attribute values for the control API.

**A-XDR values** (``get_cosem`` / ``set_cosem``) use the *tagged form*, the same one
``gbcs-emu usecase explain`` prints where a position has no known type::

    {"type": "double-long-unsigned", "value": 5}

``type`` is the A-XDR type name (the :class:`gbcs.axdr.DataType` name in lower case with
``-``), ``value``:

* integers, enums and bcd: a JSON integer (checked against the type's range);
* boolean: ``true`` / ``false`` (any other raw byte as an integer 0..255);
* bit-string: ``"0101…"`` (one character per bit), or ``{"length": n, "octets": hex}``
  when its padding bits are not zero;
* octet-string, float32, float64: upper-case hex of the octets;
* visible-string, utf8-string: text;
* structure, array: a list of tagged values;
* date-time, date, time: hex of their 12 / 5 / 4 octets;
* compact-array: hex of its encoding after the tag (type description and contents);
* null-data: a bare ``null`` (or ``{"type": "null-data"}``); don't-care:
  ``{"type": "dont-care"}``.

Every A-XDR value has exactly one tagged form and ``data_from_json(data_to_json(d)) == d``
for every ``d``. On input, where the attribute already holds a simple value, a bare JSON
value (``12345``, ``true``, ``"00DB…"``) is read as that value's type.

**ZCL values** (``get_zcl`` / ``set_zcl``): an attribute's ZCL data type is fixed by the
device's model, so a value is given as ``{"hex": "<value octets after the type id>"}``
(any type, lossless, e.g. ``"E80300000000"`` for uint48 1000) or as a plain JSON value:
an integer for the numeric types (bitmaps, unsigned and signed integers, enums, UTCTime),
text for character strings, upper-case hex for octet strings and ``null`` for a string's
invalid value (length 0xFF).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gbcs.axdr import (
    INTEGER_RANGES,
    TAG_BY_NAME,
    TAG_NAMES,
    BitString,
    CompactArray,
    Data,
    DataType,
    decode_data_bytes,
    encode_data,
)
from gbcs.cosem_time import DlmsDate, DlmsDateTime, DlmsTime
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.zcl import ZclValue
from gbcs.zcl.names import DATA_TYPE_NAMES

from .zcl_model import ZclModelError, decode_value_hex

__all__ = [
    "ControlError",
    "ValueFormError",
    "data_from_json",
    "data_to_json",
    "json_kind",
    "zcl_from_json",
    "zcl_to_json",
]

T = DataType
_OCTETS = (T.OCTET_STRING, T.FLOAT32, T.FLOAT64)
_TIMES: dict[DataType, Any] = {T.DATE_TIME: DlmsDateTime, T.DATE: DlmsDate, T.TIME: DlmsTime}
_BOOL_TRUE = 0xFF
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")


class ValueFormError(ValueError):
    """A JSON value that does not fit: ``path`` names it, the message says what is allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def json_kind(v: Any) -> str:
    """How a JSON value is described in error messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return f"text {v!r}" if len(v) <= 40 else "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, Mapping):
        return "an object"
    return type(v).__name__


def _hex(v: Any, path: str) -> bytes:
    if not isinstance(v, str) or not _HEX.fullmatch(v):
        raise ValueFormError(
            path, f"expected hex octets (an even number of hex digits), got {json_kind(v)}"
        )
    return bytes.fromhex(v)


def _int(v: Any, path: str, lo: int, hi: int, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueFormError(path, f"expected an integer {lo}..{hi} ({what}), got {json_kind(v)}")
    if not lo <= v <= hi:
        raise ValueFormError(path, f"{v} out of range: expected an integer {lo}..{hi} ({what})")
    return v


# --------------------------------------------------------------------------- A-XDR


def data_to_json(d: Data) -> Any:
    """The tagged form of ``d`` (module docstring); null-data is a bare ``None``."""
    if d.tag == T.NULL_DATA:
        return None
    if d.tag == T.DONT_CARE:
        return {"type": TAG_NAMES[T.DONT_CARE]}
    return {"type": TAG_NAMES[d.tag], "value": _value_json(d)}


def _value_json(d: Data) -> Any:
    tag, v = d.tag, d.value
    if tag in (T.STRUCTURE, T.ARRAY):
        return [data_to_json(x) for x in v]
    if tag == T.BOOLEAN:
        return True if v == _BOOL_TRUE else False if v == 0 else v
    if tag == T.BIT_STRING:
        if BitString.from_bits(v.bits) == v:
            return v.bits
        return {"length": v.length, "octets": v.data.hex().upper()}
    if tag in _OCTETS:
        return v.hex().upper()
    if tag in _TIMES:
        return v.to_bytes().hex().upper()
    if tag == T.COMPACT_ARRAY:
        return encode_data(d)[1:].hex().upper()
    return v  # integers, enums, bcd, text


def data_from_json(j: Any, path: str = "value", like: Data | None = None) -> Data:
    """The A-XDR value a tagged form (or, when ``like`` is a simple value, a bare JSON
    value of ``like``'s type) stands for; raises :class:`ValueFormError` naming ``path``."""
    if j is None:
        return Data.null()
    if isinstance(j, Mapping):
        return _tagged(j, path)
    if like is not None and like.tag not in (T.STRUCTURE, T.ARRAY, T.NULL_DATA, T.DONT_CARE):
        return _build(like.tag, j, path)
    raise ValueFormError(
        path,
        'expected a tagged value {"type": <A-XDR type name>, "value": ...} or null, '
        f"got {json_kind(j)}",
    )


def _tagged(j: Mapping[str, Any], path: str) -> Data:
    name = j.get("type")
    tag = TAG_BY_NAME.get(name) if isinstance(name, str) else None
    if tag is None:
        names = ", ".join(TAG_NAMES.values())
        raise ValueFormError(
            f"{path}.type", f"expected an A-XDR type name ({names}), got {json_kind(name)}"
        )
    extra = set(j) - {"type", "value"}
    if extra:
        raise ValueFormError(
            path, f"unknown key {sorted(extra)[0]!r}: a tagged value has 'type' and 'value'"
        )
    if "value" not in j and tag not in (T.NULL_DATA, T.DONT_CARE):
        raise ValueFormError(path, f"a {name} needs a 'value'")
    return _build(tag, j.get("value"), f"{path}.value")


def _build(tag: DataType, v: Any, path: str) -> Data:
    name = TAG_NAMES[tag]
    try:
        if tag in (T.STRUCTURE, T.ARRAY):
            if not isinstance(v, list):
                raise ValueFormError(
                    path, f"expected a list of tagged values ({name}), got {json_kind(v)}"
                )
            items = tuple(data_from_json(x, f"{path}[{i}]") for i, x in enumerate(v))
            return Data.structure(*items) if tag == T.STRUCTURE else Data.array(*items)
        if tag in (T.NULL_DATA, T.DONT_CARE):
            if v is not None:
                raise ValueFormError(path, f"a {name} has no value (null), got {json_kind(v)}")
            return Data(tag)
        if tag == T.BOOLEAN:
            if isinstance(v, bool):
                return Data(tag, _BOOL_TRUE if v else 0)
            return Data(tag, _int(v, path, 0, 0xFF, "boolean: true, false or a raw byte"))
        if tag in INTEGER_RANGES:
            lo, hi = INTEGER_RANGES[tag]
            return Data(tag, _int(v, path, lo, hi, name))
        if tag == T.BIT_STRING:
            return Data.bit_string(_bits(v, path))
        if tag in _OCTETS:
            raw = _hex(v, path)
            if tag != T.OCTET_STRING and len(raw) != (4 if tag == T.FLOAT32 else 8):
                raise ValueFormError(path, f"a {name} is {4 if tag == T.FLOAT32 else 8} octets")
            return Data(tag, raw)
        if tag in (T.VISIBLE_STRING, T.UTF8_STRING):
            if not isinstance(v, str):
                raise ValueFormError(path, f"expected text ({name}), got {json_kind(v)}")
            if tag == T.VISIBLE_STRING and any(ord(c) > 0xFF for c in v):
                raise ValueFormError(path, "a visible-string holds only characters U+0000..U+00FF")
            return Data(tag, v)
        if tag in _TIMES:
            return Data(tag, _TIMES[tag].from_bytes(_hex(v, path)))
        if tag == T.COMPACT_ARRAY:
            d = decode_data_bytes(b"\x13" + _hex(v, path), path)
            if not isinstance(d.value, CompactArray):  # pragma: no cover - decoder guarantees
                raise ValueFormError(path, "not a compact-array")
            return d
    except (GbcsEncodeError, GbcsDecodeError) as e:
        raise ValueFormError(path, f"not a valid {name}: {e}") from None
    raise ValueFormError(path, f"unsupported A-XDR type {name}")  # pragma: no cover


def _bits(v: Any, path: str) -> BitString:
    if isinstance(v, Mapping):
        if set(v) != {"length", "octets"}:
            raise ValueFormError(path, 'a raw bit-string is {"length": bits, "octets": hex}')
        n = _int(v["length"], f"{path}.length", 0, 0xFFFF, "bit count")
        return BitString(n, _hex(v["octets"], f"{path}.octets"))
    if not isinstance(v, str) or any(c not in "01" for c in v):
        raise ValueFormError(path, f"expected a bit-string as 0/1 text, got {json_kind(v)}")
    return BitString.from_bits(v)


# --------------------------------------------------------------------------- ZCL

_ZCL_SIGNED = range(0x28, 0x30)
_ZCL_NUMERIC = {*range(0x08, 0x28), 0x10, 0x30, 0x31, 0xE2, 0xE8, 0xE9, 0xEA, 0xF0}
_ZCL_OCTET_STRINGS = (0x41, 0x43)
_ZCL_CHAR_STRINGS = (0x42, 0x44)


def zcl_to_json(value: ZclValue) -> dict[str, Any]:
    """``{"type": "0x25", "type_name": ..., "value": <plain JSON>, "hex": ...}``; ``value``
    is left out where the type has no plain form (structures, dates, floats, keys)."""
    t = value.type_id
    out: dict[str, Any] = {"type": f"0x{t:02X}", "type_name": DATA_TYPE_NAMES.get(t, "unknown")}
    v = value.value
    if t in _ZCL_NUMERIC or t in _ZCL_SIGNED:
        out["value"] = v
    elif t in _ZCL_OCTET_STRINGS:
        out["value"] = None if v is None else bytes(v).hex().upper()
    elif t in _ZCL_CHAR_STRINGS:
        out["value"] = None if v is None else bytes(v).decode("latin-1")
    out["hex"] = value.encode()[1:].hex().upper()
    return out


def zcl_from_json(type_id: int, j: Any, path: str = "value") -> Any:
    """The Python value (as :class:`gbcs.zcl.ZclValue` holds it) of a ZCL value of type
    ``type_id`` given as ``{"hex": ...}`` or as a plain JSON value (module docstring)."""
    if isinstance(j, Mapping):
        if set(j) != {"hex"}:
            raise ValueFormError(path, 'expected {"hex": "<value octets>"} or a plain value')
        hex_text = j["hex"]
        _hex(hex_text, f"{path}.hex")
        try:
            return decode_value_hex(type_id, hex_text).value
        except ZclModelError as e:
            raise ValueFormError(f"{path}.hex", f"not one ZCL 0x{type_id:02X} value: {e}") from None
    name = DATA_TYPE_NAMES.get(type_id, f"0x{type_id:02X}")
    if type_id in _ZCL_NUMERIC or type_id in _ZCL_SIGNED:
        size = _zcl_size(type_id)
        if type_id in _ZCL_SIGNED:
            half = 1 << (8 * size - 1)
            lo, hi = -half, half - 1
        else:
            lo, hi = 0, (1 << (8 * size)) - 1
        if isinstance(j, bool) and type_id == 0x10:
            return int(j)
        return _int(j, path, lo, hi, name)
    if type_id in _ZCL_OCTET_STRINGS:
        return None if j is None else _hex(j, path)
    if type_id in _ZCL_CHAR_STRINGS:
        if j is None:
            return None
        if not isinstance(j, str) or any(ord(c) > 0xFF for c in j):
            raise ValueFormError(path, f"expected text (Latin-1) for a {name}, got {json_kind(j)}")
        return j.encode("latin-1")
    raise ValueFormError(path, f'a {name} attribute takes {{"hex": "<value octets>"}}')


def _zcl_size(type_id: int) -> int:
    if 0x08 <= type_id <= 0x2F:
        return (type_id & 0x07) + 1
    return {0x10: 1, 0x30: 1, 0x31: 2, 0xE2: 4, 0xE8: 2, 0xE9: 2, 0xEA: 4, 0xF0: 8}[type_id]


class ControlError(ValueError):
    """A control request that cannot run: ``code`` is a short machine code (``bad_field``,
    ``missing_field``, ``unknown_op`` ...), ``field`` the request field at fault (if any),
    and the message says what is allowed."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.field = field
        super().__init__(message)

    def to_json(self) -> dict[str, Any]:
        """The ``error`` object of a reply."""
        out: dict[str, Any] = {"code": self.code, "message": str(self)}
        if self.field is not None:
            out["field"] = self.field
        return out
