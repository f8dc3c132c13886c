"""Lossless, typed, JSON-able arguments for GBZ payloads (GSME/GPF use cases).

:func:`explain_gbz` turns a :class:`~gbcs.gbz.GbzPayload` into plain JSON values and
:func:`build_gbz` turns them back, so that for every payload ``p`` the codec decodes::

    build_gbz(explain_gbz(p, code), code).encode() == p.encode()

The arguments are typed, never byte templates. They are read off the declarative
records of :mod:`gbcs.zcl` (dataclass fields carrying their ZCL wire kind), so a record
added there is explained and built without a change here. Shape::

    {"components": [
        {"cluster": "price",                        # name, or the number
         "command": "Publish Tariff Information",   # gbcs.zcl's name, or the number
         "from_date_time": "2014-12-01T00:00:00Z",  # future-dated components only
         "body": {"provider_id": 1, "tariff_label": "Standard", ...}}],
     "count": 3,                                    # only when not the computed count
     "alert": {...}}                                # alerts only

Only what cannot be derived is written: the ZCL frame control follows from the
command (cluster-specific commands know their direction; general commands are client to
server unless ``"direction": "server_to_client"``), the transaction sequence number
defaults to the component's index (what every RTDS command carries), and the GBZ
control byte, lengths, counts and frame counters are computed unless a value that
differs from the computed one is given (``control``, ``length``, ``count``,
``frame_counter``). ``disable_default_response``, ``manufacturer_code`` and, for frame
controls the flags cannot express (reserved bits or frame types), ``frame_control``
appear when needed.

Values: integers for numbers, enumerations and bitmaps (gbcs.zcl names none of their
values; ZCL statuses, data types, clusters, commands and attributes are written by
name); UTCTime as ISO 8601 UTC text (``"2024-01-31T00:00:00Z"``); ZCL dates as
``"2024-01-31"`` with ``*`` for a wildcard octet and the day of week in brackets when it
is not a wildcard (``"*-12-25 (Thursday)"``, ``"2024-*-* (wd 9)"``); strings as text
(``null`` for the invalid length 0xFF; ``{"hex": "..."}`` for the rare string that is not
printable UTF-8); lists of records as lists of objects. Upper-case hex appears only in
the opaque places listed in :data:`OPAQUE_KEYS` and :data:`OPAQUE_DATA_TYPES`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import struct
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, NoReturn

from gbcs.errors import GbcsEncodeError
from gbcs.gbz import (
    FirmwareImageHash,
    FutureDatedOutcome,
    GbzAlertHeader,
    GbzCiphered,
    GbzComponent,
    GbzPayload,
    IntegrityWarning,
    RawAlertData,
)
from gbcs.zcl import (
    CLUSTER_NAMES,
    DATA_TYPE_NAMES,
    STATUS_NAMES,
    ZCL_EPOCH,
    AttributeReadRecord,
    AttributeStatusRecord,
    AttributeWriteRecord,
    DefaultResponse,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    WriteAttributes,
    WriteAttributesResponse,
    ZclDate,
    ZclHeader,
    ZclPayload,
    ZclSequence,
    ZclValue,
    attribute_name,
    command_name,
    general_commands,
    typed_commands,
    utc_to_datetime,
)
from gbcs.zcl.records import _OCT, _REST, _Kind, _ListSpec, _SubPayload

__all__ = [
    "CLUSTER_KEYS",
    "OPAQUE_DATA_TYPES",
    "OPAQUE_KEYS",
    "OPAQUE_OCTET_FIELDS",
    "TEXT_ATTRIBUTES",
    "TEXT_OCTET_FIELDS",
    "GbzArgsError",
    "build_gbz",
    "cluster_key",
    "explain_gbz",
]


class GbzArgsError(ValueError):
    """Arguments that do not make a GBZ payload; ``path`` names the argument
    (``"components[1].body.tariff_label"``), the message says what is allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


# ----------------------------------------------------------------------------- opacity

#: ZSE octet-string fields that GBCS fills with text (labels, names, ids, messages).
TEXT_OCTET_FIELDS: frozenset[str] = frozenset(
    {
        "calendar_name",
        "customer_id_number",
        "debt_label",
        "message",
        "password",
        "proposed_provider_contact_details",
        "proposed_provider_name",
        "rate_label",
        "site_id",
        "tariff_label",
    }
)

#: ZSE octet-string fields that GBCS fills with opaque octets: the UTRN of a top-up
#: (``top_up_code``) and an event's data. Written as upper-case hex.
OPAQUE_OCTET_FIELDS: frozenset[str] = frozenset({"top_up_code", "event_data"})

#: Every JSON key whose value is opaque upper-case hex: the opaque octet strings, bytes a
#: record does not model (``trailing``, a raw snapshot payload), payloads gbcs.zcl does
#: not model (``{"raw": ...}``), ciphertext and firmware image hashes.
OPAQUE_KEYS: frozenset[str] = OPAQUE_OCTET_FIELDS | {
    "raw",
    "trailing",
    "snapshot_payload",
    "ciphered",
    "image_hash",
}

#: ZCL data types whose attribute values are opaque octets (written as hex), unless the
#: attribute is one of :data:`TEXT_ATTRIBUTES`: octet strings and security keys.
OPAQUE_DATA_TYPES: frozenset[int] = frozenset({0x41, 0x43, 0xF1})

#: Attributes of octet-string type that hold text: (cluster, attribute id).
TEXT_ATTRIBUTES: frozenset[tuple[int, int]] = frozenset(
    {
        (0x0700, 0x0610),  # Tariff Label
        (0x0702, 0x0307),  # Site ID
        (0x0702, 0x0308),  # Meter Serial Number
        (0x0705, 0x0210),  # Debt Label 1..3
        (0x0705, 0x0220),
        (0x0705, 0x0230),
    }
)

_TEXT_TYPES = frozenset({0x42, 0x44})
_STRING_TYPES = frozenset({0x41, 0x42, 0x43, 0x44})
_FLOAT_FORMATS = {0x38: "<e", 0x39: "<f", 0x3A: "<d"}
_SEQUENCE_TYPES = frozenset({0x48, 0x50, 0x51})
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ----------------------------------------------------------------------------- small helpers


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _show(v: Any) -> str:
    text = repr(v)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "text",
        list: "list",
        dict: "object",
    }.get(type(v), type(v).__name__)
    return "null" if v is None else f"{kind} {text}"


def _fail(path: str, reason: str) -> NoReturn:
    raise GbzArgsError(path, reason)


def _int(v: Any, path: str, lo: int, hi: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(path, f"expected an integer {lo}..{hi} ({what}), got {_show(v)}")
    if not lo <= v <= hi:
        _fail(path, f"{v} out of range for {what} ({lo}..{hi})")
    return v


def _obj(v: Any, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        _fail(path, f"expected an object ({what}), got {_show(v)}")
    return v


def _keys(d: Mapping[str, Any], path: str, allowed: tuple[str, ...], what: str) -> None:
    for k in d:
        if k not in allowed:
            _fail(_join(path, str(k)), f"unknown key of {what}; allowed: {', '.join(allowed)}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _hex_out(b: bytes) -> str:
    return b.hex().upper()


def _hex_in(v: Any, path: str, what: str = "opaque octets") -> bytes:
    if not isinstance(v, str):
        _fail(path, f"expected hex text ({what}), got {_show(v)}")
    try:
        return bytes.fromhex(v)
    except ValueError:
        _fail(path, f"expected hex text ({what}): an even number of hex digits, got {_show(v)}")


def _named(table: Mapping[str, int], v: Any, path: str, lo: int, hi: int, what: str) -> int:
    """A value given by name (case and separators ignored) or by number; ``table`` maps
    the names as written to their numbers."""
    if isinstance(v, str):
        norm = _normalised(table)
        got = norm.get(_norm(v))
        if got is None:
            _fail(path, f"unknown {what} {v!r}; {_choices(table, v)}; or a number {lo}..{hi}")
        return got
    return _int(v, path, lo, hi, what)


_NORMALISED: dict[int, tuple[Mapping[str, int], dict[str, int]]] = {}


def _normalised(table: Mapping[str, int]) -> dict[str, int]:
    hit = _NORMALISED.get(id(table))
    if hit is None or hit[0] is not table:
        hit = (table, {_norm(k): n for k, n in table.items()})
        _NORMALISED[id(table)] = hit
    return hit[1]


def _choices(names: Mapping[str, Any], given: str) -> str:
    """All the names when they are few, else the closest ones."""
    if len(names) <= 20:
        return "names: " + ", ".join(names)
    by_norm = {_norm(n): n for n in names}
    close = difflib.get_close_matches(_norm(given), list(by_norm), n=5, cutoff=0.5)
    hint = f"did you mean: {', '.join(by_norm[c] for c in close)}; " if close else ""
    return f"{hint}{len(names)} names known"


# ----------------------------------------------------------------------------- times and dates


def _utc_out(v: int) -> str:
    return utc_to_datetime(v).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_in(v: Any, path: str) -> int:
    hint = "ISO 8601 UTC time such as '2024-01-31T00:00:00Z'"
    if not isinstance(v, str):
        _fail(path, f"expected {hint}, got {_show(v)}")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        _fail(path, f"expected {hint}, got {_show(v)}")
    if dt.tzinfo is None:
        _fail(path, f"{v!r} has no UTC offset; expected {hint}")
    if dt.microsecond:
        _fail(path, f"{v!r}: UTCTime counts whole seconds")
    secs = int((dt.astimezone(UTC) - ZCL_EPOCH).total_seconds())
    if not 0 <= secs <= 0xFFFFFFFF:
        _fail(path, f"{v!r} outside UTCTime (2000-01-01T00:00:00Z..2136-02-07T06:28:15Z)")
    return secs


def _part(n: int, width: int) -> str:
    return "*" if n == 0xFF else f"{n:0{width}d}"


def _date_out(d: ZclDate) -> str:
    y = "*" if d.year == 0xFF else str(1900 + d.year)
    text = f"{y}-{_part(d.month, 2)}-{_part(d.day, 2)}"
    if d.weekday == 0xFF:
        return text
    if 1 <= d.weekday <= 7:
        return f"{text} ({_WEEKDAYS[d.weekday - 1]})"
    return f"{text} (wd {d.weekday})"


_DATE_RE = re.compile(r"(\*|\d{4})-(\*|\d{1,3})-(\*|\d{1,3})(?: \((?:([A-Za-z]+)|wd (\d{1,3}))\))?")


def _date_in(v: Any, path: str) -> ZclDate:
    hint = "ZCL date 'YYYY-MM-DD' ('*' for any year/month/day, ' (Monday)' for a day of week)"
    m = _DATE_RE.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        _fail(path, f"expected {hint}, got {_show(v)}")
    ys, ms, ds, wname, wnum = m.groups()
    year = 0xFF if ys == "*" else int(ys) - 1900
    if ys != "*" and not 0 <= year <= 0xFE:
        _fail(path, f"year {ys} outside the ZCL date range (1900..2154 or '*')")
    parts = []
    for text, what in ((ms, "month"), (ds, "day")):
        n = 0xFF if text == "*" else int(text)
        if text != "*" and n > 0xFE:
            _fail(path, f"{what} {text} out of range (0..254 or '*')")
        parts.append(n)
    if wname is not None:
        names = {w.lower(): i + 1 for i, w in enumerate(_WEEKDAYS)}
        wd = names.get(wname.lower())
        if wd is None:
            _fail(path, f"unknown day of week {wname!r}; allowed: {', '.join(_WEEKDAYS)}")
    elif wnum is not None:
        wd = int(wnum)
        if wd > 0xFE:
            _fail(path, f"day of week {wd} out of range (0..254)")
    else:
        wd = 0xFF
    return ZclDate(year, parts[0], parts[1], wd)


_TOD_RE = re.compile(r"(\*|\d{1,3}):(\*|\d{1,3}):(\*|\d{1,3})\.(\*|\d{1,3})")


def _tod_out(raw: bytes) -> str:
    h, m, s, c = raw
    return f"{_part(h, 2)}:{_part(m, 2)}:{_part(s, 2)}.{_part(c, 2)}"


def _tod_in(v: Any, path: str) -> bytes:
    m = _TOD_RE.fullmatch(v) if isinstance(v, str) else None
    if m is None:
        _fail(path, f"expected a time of day 'HH:MM:SS.hh' ('*' for any part), got {_show(v)}")
    parts = [0xFF if p == "*" else int(p) for p in m.groups()]
    if any(p != "*" and n > 0xFE for p, n in zip(m.groups(), parts, strict=True)):
        _fail(path, f"time of day {v!r}: each part 0..254 or '*'")
    return bytes(parts)


def _eui_out(v: int) -> str:
    return ":".join(f"{v:016X}"[i : i + 2] for i in range(0, 16, 2))


def _eui_in(v: Any, path: str) -> int:
    digits = v.replace(":", "").replace("-", "") if isinstance(v, str) else ""
    if len(digits) != 16 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        _fail(path, f"expected an IEEE address such as '00:DB:12:34:56:78:90:A0', got {_show(v)}")
    return int(digits, 16)


# ----------------------------------------------------------------------------- strings


def _is_text(b: bytes) -> bool:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\n\r" for c in s)


def _text_out(b: bytes | None) -> Any:
    if b is None:
        return None
    return b.decode("utf-8") if _is_text(b) else {"hex": _hex_out(b)}


def _text_in(v: Any, path: str, limit: int) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, str):
        b = v.encode("utf-8")
    elif isinstance(v, Mapping) and set(v) == {"hex"}:
        b = _hex_in(v["hex"], _join(path, "hex"))
    else:
        _fail(path, f"expected text, {{'hex': HEX}} or null (invalid), got {_show(v)}")
    if len(b) > limit:
        _fail(path, f"{len(b)} octet(s) of text; at most {limit}")
    return b


def _octets_in(v: Any, path: str, limit: int) -> bytes | None:
    if v is None:
        return None
    b = _hex_in(v, path, "opaque octets, or null for invalid")
    if len(b) > limit:
        _fail(path, f"{len(b)} octet(s); at most {limit}")
    return b


# ----------------------------------------------------------------------------- clusters


#: JSON names of the clusters gbcs.zcl names: ``{0x0700: "price", …}``.
CLUSTER_KEYS: dict[int, str] = {cid: _norm(name) for cid, name in CLUSTER_NAMES.items()}
_CLUSTER_BY_KEY: dict[str, int] = {v: k for k, v in CLUSTER_KEYS.items()}


def cluster_key(cluster: int) -> str | int:
    """A cluster's JSON form: ``"price"``, ``"metering"`` … or its number if unnamed."""
    return CLUSTER_KEYS.get(cluster, cluster)


def _cluster_in(v: Any, path: str) -> int:
    if isinstance(v, str) and re.fullmatch(r"0[xX][0-9a-fA-F]{1,4}", v):
        return int(v, 16)
    return _named(_CLUSTER_BY_KEY, v, path, 0, 0xFFFF, "cluster")


# ----------------------------------------------------------------------------- commands

# A command's identity: (frame type, server to client or None for general, command id).
_CommandKey = tuple[int, bool | None, int]


@cache
def _commands(cluster: int) -> dict[str, tuple[_CommandKey, ...]]:
    """Normalised command name -> the command(s) of ``cluster`` with that name."""
    out: dict[str, list[_CommandKey]] = {}
    for cid in range(256):
        name = command_name(cluster, 0x00, cid)
        if name:
            out.setdefault(_norm(name), []).append((0, None, cid))
        for s2c in (False, True):
            name = command_name(cluster, 0x09 if s2c else 0x01, cid)
            if name:
                out.setdefault(_norm(name), []).append((1, s2c, cid))
    return {k: tuple(v) for k, v in out.items()}


@cache
def _attributes(cluster: int) -> dict[str, int]:
    """Attribute name -> attribute id, for ``cluster``."""
    out: dict[str, int] = {}
    for aid in range(0x10000):
        name = attribute_name(cluster, aid)
        if name:
            out[name] = aid
    return out


_STATUS_BY_NAME = {n: s for s, n in STATUS_NAMES.items()}
_TYPE_BY_NAME = {n: t for t, n in DATA_TYPE_NAMES.items()}
_DIRECTIONS = ("client_to_server", "server_to_client")
_FRAME_TYPES = ("general", "cluster_specific")

_COMPONENT_KEYS = (
    "cluster",
    "command",
    "direction",
    "frame_type",
    "disable_default_response",
    "manufacturer_code",
    "frame_control",
    "sequence",
    "from_date_time",
    "control",
    "length",
    "frame_counter",
    "additional_header_control",
    "ciphered",
    "body",
)


def _header_out(cluster: int, h: ZclHeader, index: int) -> dict[str, Any]:
    """The header fields the builder cannot derive (checked by rebuilding them)."""
    out = _header_guess(cluster, h)
    if h.sequence != index:
        out["sequence"] = h.sequence
    try:
        same = _header_in(out, cluster, index, "") == h
    except GbzArgsError:
        same = False
    if same:
        return out
    out = {"command": h.command_id, "frame_control": h.frame_control}
    if h.manufacturer_code is not None:
        out["manufacturer_code"] = h.manufacturer_code
    if h.sequence != index:
        out["sequence"] = h.sequence
    return out


def _header_guess(cluster: int, h: ZclHeader) -> dict[str, Any]:
    fc = h.frame_control
    out: dict[str, Any] = {}
    name = command_name(cluster, fc, h.command_id)
    if fc & 0xE0 or fc & 0x03 > 1:
        out["command"] = name or h.command_id
        out["frame_control"] = fc
    else:
        general = fc & 0x03 == 0
        s2c = bool(fc & 0x08)
        if name:
            out["command"] = name
            if general and s2c:
                out["direction"] = "server_to_client"
        else:
            out["command"] = h.command_id
            if general:
                out["frame_type"] = "general"
            out["direction"] = _DIRECTIONS[s2c]
        if fc & 0x10:
            out["disable_default_response"] = True
    if h.manufacturer_code is not None:
        out["manufacturer_code"] = h.manufacturer_code
    return out


def _header_in(d: Mapping[str, Any], cluster: int, index: int, path: str) -> ZclHeader:
    seq = _int(d.get("sequence", index), _join(path, "sequence"), 0, 0xFF, "uint8")
    mfr = d.get("manufacturer_code")
    if mfr is not None:
        mfr = _int(mfr, _join(path, "manufacturer_code"), 0, 0xFFFF, "uint16")
    cmd = d.get("command")
    if cmd is None:
        _fail(_join(path, "command"), "missing: a command name of the cluster or its number")
    cpath = _join(path, "command")
    if "frame_control" in d:
        for k in ("direction", "frame_type", "disable_default_response"):
            if k in d:
                _fail(_join(path, k), "not allowed with frame_control (which gives it)")
        fc = _int(d["frame_control"], _join(path, "frame_control"), 0, 0xFF, "bitmap8")
        if bool(fc & 0x04) != (mfr is not None):
            _fail(
                _join(path, "manufacturer_code"),
                "needed exactly when frame_control has the manufacturer-specific bit (0x04)",
            )
        if isinstance(cmd, str):
            keys = _command_keys(cluster, cmd, cpath)
            cid = keys[0][2]
        else:
            cid = _int(cmd, cpath, 0, 0xFF, "command id")
        return ZclHeader(fc, seq, cid, mfr)
    direction = d.get("direction")
    if direction is not None and direction not in _DIRECTIONS:
        _fail(_join(path, "direction"), f"expected one of {', '.join(_DIRECTIONS)}")
    frame_type = d.get("frame_type")
    if frame_type is not None and frame_type not in _FRAME_TYPES:
        _fail(_join(path, "frame_type"), f"expected one of {', '.join(_FRAME_TYPES)}")
    ddr = d.get("disable_default_response", False)
    if not isinstance(ddr, bool):
        _fail(_join(path, "disable_default_response"), f"expected true or false, got {_show(ddr)}")
    if isinstance(cmd, str):
        keys = _command_keys(cluster, cmd, cpath)
        if frame_type is not None:
            keys = tuple(k for k in keys if k[0] == _FRAME_TYPES.index(frame_type))
        if direction is not None:
            s2c_want = direction == "server_to_client"
            keys = tuple(k for k in keys if k[1] is None or k[1] == s2c_want)
        if len(keys) != 1:
            why = "travels the other way" if not keys else "is ambiguous: give direction"
            _fail(cpath, f"{cmd!r} {why}")
        ft, s2c_own, cid = keys[0]
        s2c = s2c_own if s2c_own is not None else direction == "server_to_client"
    else:
        cid = _int(cmd, cpath, 0, 0xFF, "command id")
        ft = 0 if frame_type == "general" else 1
        if direction is not None:
            s2c = direction == "server_to_client"
        elif ft == 0:
            s2c = False
        else:
            known = {k[1] for ks in _commands(cluster).values() for k in ks if k[::2] == (1, cid)}
            if len(known) != 1:
                _fail(
                    _join(path, "direction"), f"needed for command {cid}: {', '.join(_DIRECTIONS)}"
                )
            s2c = bool(known.pop())
    return ZclHeader.make(
        cid,
        seq,
        cluster_specific=ft == 1,
        server_to_client=s2c,
        disable_default_response=ddr,
        manufacturer_code=mfr,
    )


def _command_keys(cluster: int, cmd: str, path: str) -> tuple[_CommandKey, ...]:
    keys = _commands(cluster).get(_norm(cmd))
    if not keys:
        names = {
            command_name(cluster, k[0] | (0x08 if k[1] else 0), k[2]) or "": k
            for ks in _commands(cluster).values()
            for k in ks
        }
        _fail(
            path,
            f"unknown command {cmd!r} of cluster {cluster_key(cluster)}; "
            f"{_choices(names, cmd)}; or a number 0..255",
        )
    return keys


def _body_class(cluster: int, h: ZclHeader) -> type[ZclPayload] | None:
    """The record gbcs.zcl decodes this command into (as :mod:`gbcs.zcl.dispatch` does)."""
    fc = h.frame_control
    if fc & 0x07 == 0x01:
        return typed_commands().get((cluster, bool(fc & 0x08), h.command_id))
    if fc & 0x03 == 0:
        return general_commands().get(h.command_id)
    return None


# ----------------------------------------------------------------------------- record fields

_INT_KINDS = {
    "uint8",
    "uint16",
    "uint24",
    "uint32",
    "uint48",
    "int32",
    "bitmap8",
    "bitmap16",
    "bitmap32",
    "enum8",
    "enum16",
}


def _kind_range(kind: _Kind) -> tuple[int, int]:
    bits = 8 * kind.size
    if kind.name.startswith("int"):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _scalar_out(kind: _Kind, v: Any) -> Any:
    if kind.name in _INT_KINDS:
        return v
    if kind.name == "UTCTime":
        return _utc_out(v)
    if kind.name == "date":
        return _date_out(v)
    if kind.name == "7 x uint8":
        return list(v)
    raise TypeError(f"ZCL wire kind {kind.name!r} not handled")


def _scalar_in(kind: _Kind, v: Any, path: str) -> Any:
    if kind.name in _INT_KINDS:
        lo, hi = _kind_range(kind)
        return _int(v, path, lo, hi, kind.name)
    if kind.name == "UTCTime":
        return _utc_in(v, path)
    if kind.name == "date":
        return _date_in(v, path)
    if kind.name == "7 x uint8":
        if not isinstance(v, list) or len(v) != 7:
            _fail(path, f"expected a list of 7 day ids (Monday to Sunday), got {_show(v)}")
        return tuple(_int(x, f"{path}[{i}]", 0, 0xFF, "uint8") for i, x in enumerate(v))
    raise TypeError(f"ZCL wire kind {kind.name!r} not handled")


def _field_out(kind: Any, name: str, v: Any) -> Any:
    if isinstance(kind, _Kind):
        return _scalar_out(kind, v)
    if kind is _OCT:
        if name in TEXT_OCTET_FIELDS:
            return _text_out(v)
        return None if v is None else _hex_out(v)
    if kind is _REST:
        return _hex_out(v)
    if isinstance(kind, _SubPayload):
        return _hex_out(v) if isinstance(v, bytes) else _record_out(v)
    if isinstance(kind, _ListSpec):
        if isinstance(kind.elem, _Kind):
            return [_scalar_out(kind.elem, x) for x in v]
        return [_record_out(x) for x in v]
    raise TypeError(f"ZCL field kind {kind!r} not handled")


def _field_in(kind: Any, name: str, v: Any, path: str, done: Mapping[str, Any]) -> Any:
    if isinstance(kind, _Kind):
        return _scalar_in(kind, v, path)
    if kind is _OCT:
        if name in TEXT_OCTET_FIELDS:
            return _text_in(v, path, 254)
        return _octets_in(v, path, 254)
    if kind is _REST:
        return _hex_in(v, path)
    if isinstance(kind, _SubPayload):
        if isinstance(v, str):
            return _hex_in(v, path, "raw payload octets, or an object of its typed fields")
        sel = done[kind.selector]
        cls = kind.table.get(sel)
        if cls is None:
            typed = ", ".join(str(k) for k in sorted(kind.table))
            _fail(path, f"{kind.selector} {sel} has no typed layout ({typed} have): give hex")
        return _record_in(cls, v, path)
    if isinstance(kind, _ListSpec):
        if not isinstance(v, list):
            _fail(path, f"expected a list, got {_show(v)}")
        if kind.count is not None and len(v) >= 1 << (8 * kind.count.size):
            _fail(path, f"{len(v)} items do not fit a {kind.count.name} count")
        if isinstance(kind.elem, _Kind):
            return tuple(_scalar_in(kind.elem, x, f"{path}[{i}]") for i, x in enumerate(v))
        return tuple(_record_in(kind.elem, x, f"{path}[{i}]") for i, x in enumerate(v))
    raise TypeError(f"ZCL field kind {kind!r} not handled")


def _record_out(rec: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if f.name == "trailing":
            if v:
                out["trailing"] = _hex_out(v)
            continue
        out[f.name] = _field_out(f.metadata["zcl"], f.name, v)
    return out


def _record_title(cls: type) -> str:
    return getattr(cls, "NAME", None) or getattr(cls, "TITLE", None) or cls.__name__


def _record_in(cls: type, v: Any, path: str) -> Any:
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    title = _record_title(cls)
    d = _obj(v, path, f"the fields of {title}: {', '.join(names)}")
    _keys(d, path, names, title)
    kwargs: dict[str, Any] = {}
    for f in fields:
        fp = _join(path, f.name)
        if f.name == "trailing":
            kwargs["trailing"] = _hex_in(d.get("trailing", ""), fp, "octets not modelled")
            continue
        if f.name not in d:
            _fail(fp, f"missing (fields of {title}: {', '.join(names)})")
        kwargs[f.name] = _field_in(f.metadata["zcl"], f.name, d[f.name], fp, kwargs)
    return cls(**kwargs)


# ----------------------------------------------------------------------------- ZCL values


def _type_out(t: int) -> str | int:
    return DATA_TYPE_NAMES.get(t, t)


def _type_in(v: Any, path: str) -> int:
    return _named(_TYPE_BY_NAME, v, path, 0, 0xFF, "ZCL data type")


def _zcl_value_out(zv: ZclValue, text: bool = False) -> dict[str, Any]:
    return {"type": _type_out(zv.type_id), "value": _value_out(zv.type_id, zv.value, text)}


def _value_out(t: int, v: Any, text: bool = False) -> Any:
    """JSON form of a value of ZCL type ``t`` (``text``: an octet string holding text)."""
    if t in (0x00, 0xFF):
        return None
    if t == 0x10:
        return bool(v) if v in (0, 1) else v
    if t in _STRING_TYPES:
        if t in _TEXT_TYPES or text:
            return _text_out(v)
        return None if v is None else _hex_out(v)
    if t == 0xE2:
        return _utc_out(v)
    if t == 0xE1:
        return _date_out(v)
    if t == 0xE0:
        return _tod_out(v)
    if t == 0xF0:
        return _eui_out(v)
    if t == 0xF1:
        return _hex_out(v)
    if t in _FLOAT_FORMATS:
        x = struct.unpack(_FLOAT_FORMATS[t], v)[0]
        if math.isfinite(x) and struct.pack(_FLOAT_FORMATS[t], x) == v:
            return x
        return {"bits": int.from_bytes(v, "little")}
    if t in _SEQUENCE_TYPES:
        assert isinstance(v, ZclSequence)
        items = None if v.items is None else [_value_out(v.element_type, x) for x in v.items]
        return {"element_type": _type_out(v.element_type), "items": items}
    if t == 0x4C:
        return None if v is None else [_zcl_value_out(e) for e in v]
    return v


def _value_size(t: int) -> int | None:
    if 0x08 <= t <= 0x2F:
        return (t & 0x07) + 1
    return {0x30: 1, 0x31: 2, 0xE8: 2, 0xE9: 2, 0xEA: 4}.get(t)


def _zcl_value_in(v: Any, path: str, text: bool = False) -> ZclValue:
    d = _obj(v, path, "a ZCL value: type and value")
    _keys(d, path, ("type", "value"), "a ZCL value")
    if "type" not in d:
        _fail(_join(path, "type"), "missing: a ZCL data type name (e.g. 'uint32') or number")
    t = _type_in(d["type"], _join(path, "type"))
    return ZclValue(t, _value_in(t, d.get("value"), _join(path, "value"), text))


def _value_in(t: int, v: Any, path: str, text: bool = False) -> Any:
    tn = DATA_TYPE_NAMES.get(t, f"0x{t:02X}")
    if t in (0x00, 0xFF):
        if v is not None:
            _fail(path, f"{tn} carries no value: give null")
        return None
    if t == 0x10:
        return (
            int(v) if isinstance(v, bool) else _int(v, path, 0, 0xFF, "bool (true/false or 0..255)")
        )
    if t in _STRING_TYPES:
        limit = 0xFE if t < 0x43 else 0xFFFE
        if t in _TEXT_TYPES or text:
            return _text_in(v, path, limit)
        return _octets_in(v, path, limit)
    if t == 0xE2:
        return _utc_in(v, path)
    if t == 0xE1:
        return _date_in(v, path)
    if t == 0xE0:
        return _tod_in(v, path)
    if t == 0xF0:
        return _eui_in(v, path)
    if t == 0xF1:
        b = _hex_in(v, path, "128-bit key")
        if len(b) != 16:
            _fail(path, f"a 128-bit security key is 16 octets, got {len(b)}")
        return b
    if t in _FLOAT_FORMATS:
        fmt = _FLOAT_FORMATS[t]
        size = struct.calcsize(fmt)
        if isinstance(v, Mapping) and set(v) == {"bits"}:
            n = _int(v["bits"], _join(path, "bits"), 0, (1 << (8 * size)) - 1, f"{tn} bits")
            return n.to_bytes(size, "little")
        if isinstance(v, bool) or not isinstance(v, int | float):
            _fail(path, f"expected a number or {{'bits': N}} ({tn}), got {_show(v)}")
        try:
            raw = struct.pack(fmt, v)
        except (OverflowError, struct.error):
            _fail(path, f"{v} does not fit {tn}")
        if math.isfinite(v) and struct.unpack(fmt, raw)[0] != v:
            _fail(path, f"{v} is not exactly representable as {tn}")
        return raw
    if t in _SEQUENCE_TYPES:
        d = _obj(v, path, f"{tn}: element_type and items")
        _keys(d, path, ("element_type", "items"), tn)
        et = _type_in(d.get("element_type"), _join(path, "element_type"))
        items = d.get("items")
        if items is None:
            return ZclSequence(et, None)
        if not isinstance(items, list):
            _fail(_join(path, "items"), f"expected a list or null, got {_show(items)}")
        ip = _join(path, "items")
        return ZclSequence(et, tuple(_value_in(et, x, f"{ip}[{i}]") for i, x in enumerate(items)))
    if t == 0x4C:
        if v is None:
            return None
        if not isinstance(v, list):
            _fail(path, f"expected a list of ZCL values or null, got {_show(v)}")
        return tuple(_zcl_value_in(x, f"{path}[{i}]") for i, x in enumerate(v))
    size = _value_size(t)
    if size is None:
        _fail(path, f"ZCL data type {tn} is not supported")
    signed = 0x28 <= t <= 0x2F
    bits = 8 * size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return _int(v, path, lo, hi, tn)


# ----------------------------------------------------------------------------- bodies


def _status_out(s: int) -> str | int:
    return STATUS_NAMES.get(s, s)


def _status_in(v: Any, path: str) -> int:
    return _named(_STATUS_BY_NAME, v, path, 0, 0xFF, "ZCL status")


def _attr_out(cluster: int, aid: int) -> str | int:
    return attribute_name(cluster, aid) or aid


def _attr_in(cluster: int, v: Any, path: str) -> int:
    return _named(_attributes(cluster), v, path, 0, 0xFFFF, "attribute")


def _body_out(cluster: int, body: ZclPayload) -> dict[str, Any]:
    if isinstance(body, ReadAttributes):
        return {"attribute_ids": [_attr_out(cluster, a) for a in body.attribute_ids]}
    if isinstance(body, ReadAttributesResponse):
        recs = []
        for r in body.records:
            rec: dict[str, Any] = {
                "attribute_id": _attr_out(cluster, r.attribute_id),
                "status": _status_out(r.status),
            }
            if r.value is not None:
                rec["value"] = _zcl_value_out(r.value, (cluster, r.attribute_id) in TEXT_ATTRIBUTES)
            recs.append(rec)
        return {"records": recs}
    if isinstance(body, WriteAttributes):
        return {
            "records": [
                {
                    "attribute_id": _attr_out(cluster, r.attribute_id),
                    "value": _zcl_value_out(r.value, (cluster, r.attribute_id) in TEXT_ATTRIBUTES),
                }
                for r in body.records
            ]
        }
    if isinstance(body, WriteAttributesResponse):
        out = []
        for r in body.records:
            rec = {"status": _status_out(r.status)}
            if r.attribute_id is not None:
                rec["attribute_id"] = _attr_out(cluster, r.attribute_id)
            out.append(rec)
        return {"records": out}
    if isinstance(body, DefaultResponse):
        return {"command_id": body.command_id, "status": _status_out(body.status)}
    if dataclasses.is_dataclass(body) and hasattr(type(body), "_PLAN"):
        return _record_out(body)
    return {"raw": _hex_out(body.encode())}


def _records_list(d: Mapping[str, Any], path: str) -> list[Any]:
    recs = d.get("records")
    if not isinstance(recs, list):
        _fail(_join(path, "records"), f"expected a list of attribute records, got {_show(recs)}")
    return recs


def _body_in(cls: type[ZclPayload], cluster: int, v: Any, path: str) -> ZclPayload:
    if cls is ReadAttributes:
        d = _obj(v, path, "attribute_ids")
        _keys(d, path, ("attribute_ids",), "Read Attributes")
        ids = d.get("attribute_ids")
        ip = _join(path, "attribute_ids")
        if not isinstance(ids, list):
            _fail(ip, f"expected a list of attribute names or numbers, got {_show(ids)}")
        return ReadAttributes(tuple(_attr_in(cluster, a, f"{ip}[{i}]") for i, a in enumerate(ids)))
    if cls is ReadAttributesResponse:
        d = _obj(v, path, "records")
        _keys(d, path, ("records",), "Read Attributes Response")
        out = []
        for i, r in enumerate(_records_list(d, path)):
            rp = f"{path}.records[{i}]"
            rd = _obj(r, rp, "attribute_id, status, value")
            _keys(rd, rp, ("attribute_id", "status", "value"), "a read attribute record")
            aid = _attr_in(cluster, rd.get("attribute_id"), _join(rp, "attribute_id"))
            st = _status_in(rd.get("status", 0), _join(rp, "status"))
            val = None
            if st == 0:
                val = _zcl_value_in(
                    rd.get("value"), _join(rp, "value"), (cluster, aid) in TEXT_ATTRIBUTES
                )
            elif "value" in rd:
                _fail(_join(rp, "value"), "only a successful read (status Success) has a value")
            out.append(AttributeReadRecord(aid, st, val))
        return ReadAttributesResponse(tuple(out))
    if cls is WriteAttributes:
        d = _obj(v, path, "records")
        _keys(d, path, ("records",), "Write Attributes")
        out_w = []
        for i, r in enumerate(_records_list(d, path)):
            rp = f"{path}.records[{i}]"
            rd = _obj(r, rp, "attribute_id, value")
            _keys(rd, rp, ("attribute_id", "value"), "a write attribute record")
            aid = _attr_in(cluster, rd.get("attribute_id"), _join(rp, "attribute_id"))
            val = _zcl_value_in(
                rd.get("value"), _join(rp, "value"), (cluster, aid) in TEXT_ATTRIBUTES
            )
            out_w.append(AttributeWriteRecord(aid, val))
        return WriteAttributes(tuple(out_w))
    if cls is WriteAttributesResponse:
        d = _obj(v, path, "records")
        _keys(d, path, ("records",), "Write Attributes Response")
        out_s = []
        recs = _records_list(d, path)
        for i, r in enumerate(recs):
            rp = f"{path}.records[{i}]"
            rd = _obj(r, rp, "status, attribute_id")
            _keys(rd, rp, ("status", "attribute_id"), "a write attribute status record")
            st = _status_in(rd.get("status"), _join(rp, "status"))
            aid = rd.get("attribute_id")
            if aid is None and len(recs) != 1:
                _fail(_join(rp, "attribute_id"), "missing (only a lone status may omit it)")
            if aid is not None:
                aid = _attr_in(cluster, aid, _join(rp, "attribute_id"))
            out_s.append(AttributeStatusRecord(st, aid))
        return WriteAttributesResponse(tuple(out_s))
    if cls is DefaultResponse:
        d = _obj(v, path, "command_id, status")
        _keys(d, path, ("command_id", "status"), "Default Response")
        cid = _int(d.get("command_id"), _join(path, "command_id"), 0, 0xFF, "command id")
        return DefaultResponse(cid, _status_in(d.get("status"), _join(path, "status")))
    return _record_in(cls, v, path)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- components


def _component_out(c: GbzComponent, index: int, enc_index: int, last: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster": cluster_key(c.cluster)}
    out.update(_header_out(c.cluster, c.zcl, index))
    if c.from_date_time is not None:
        out["from_date_time"] = _utc_out(c.from_date_time)
    if c.control is not None or c.length is not None:
        plain = dataclasses.replace(c, control=None, length=None)
        raw = plain.encode(last=last, encrypted_index=enc_index)
        if c.control is not None and c.control != raw[0]:
            out["control"] = c.control
        if c.length is not None and c.length != int.from_bytes(raw[3:5], "big"):
            out["length"] = c.length
    if c.ciphered is not None:
        ci = c.ciphered
        if ci.frame_counter is not None and ci.frame_counter != enc_index:
            out["frame_counter"] = ci.frame_counter
        if ci.additional_header_control:
            out["additional_header_control"] = ci.additional_header_control
        out["ciphered"] = _hex_out(ci.blob)
    elif c.body is not None:
        out["body"] = _body_out(c.cluster, c.body)
    return out


def _component_in(v: Any, index: int, path: str) -> GbzComponent:
    d = _obj(v, path, "a GBZ component: cluster, command, body …")
    _keys(d, path, _COMPONENT_KEYS, "a GBZ component")
    if "cluster" not in d:
        _fail(_join(path, "cluster"), "missing: a cluster name (e.g. 'price') or number")
    cluster = _cluster_in(d["cluster"], _join(path, "cluster"))
    hdr = _header_in(d, cluster, index, path)
    fdt = d.get("from_date_time")
    if fdt is not None:
        fdt = _utc_in(fdt, _join(path, "from_date_time"))
    control = d.get("control")
    if control is not None:
        control = _int(control, _join(path, "control"), 0, 0xFF, "bitmap8")
    length = d.get("length")
    if length is not None:
        length = _int(length, _join(path, "length"), 0, 0xFFFF, "uint16")
    if "ciphered" in d:
        if "body" in d:
            _fail(_join(path, "body"), "a component has either a clear body or ciphered octets")
        fcn = d.get("frame_counter")
        if fcn is not None:
            fcn = _int(fcn, _join(path, "frame_counter"), 0, 0xFF, "uint8")
        ahc = _int(
            d.get("additional_header_control", 0),
            _join(path, "additional_header_control"),
            0,
            0xFF,
            "uint8",
        )
        blob = _hex_in(d["ciphered"], _join(path, "ciphered"), "31 00000000 ‖ ciphertext ‖ tag")
        return GbzComponent(cluster, hdr, None, GbzCiphered(blob, fcn, ahc), fdt, control, length)
    for k in ("frame_counter", "additional_header_control"):
        if k in d:
            _fail(_join(path, k), "only for a ciphered component")
    bp = _join(path, "body")
    if "body" not in d:
        _fail(bp, "missing: the command's fields, or {'raw': HEX}")
    raw = d["body"]
    if isinstance(raw, Mapping) and set(raw) == {"raw"}:
        body: ZclPayload = RawZclPayload(_hex_in(raw["raw"], _join(bp, "raw"), "ZCL payload"))
    else:
        cls = _body_class(cluster, hdr)
        if cls is None:
            _fail(bp, "this command is not modelled by gbcs.zcl: give {'raw': HEX}")
        body = _body_in(cls, cluster, raw, bp)
    return GbzComponent(cluster, hdr, body, None, fdt, control, length)


# ----------------------------------------------------------------------------- alerts


def _alert_out(a: GbzAlertHeader) -> dict[str, Any]:
    out: dict[str, Any] = {"code": a.alert_code, "timestamp": _utc_out(a.timestamp)}
    sp = a.specific
    if isinstance(sp, FutureDatedOutcome):
        out["future_dated"] = {
            "message_code": sp.message_code,
            "originator_counter": sp.originator_counter,
            "cluster": cluster_key(sp.cluster),
            "frame_control": sp.frame_control,
            "command_id": sp.command_id,
        }
    elif isinstance(sp, FirmwareImageHash):
        out["image_hash"] = _hex_out(sp.image_hash)
    elif isinstance(sp, IntegrityWarning):
        out["other_information"] = sp.other_information
    elif isinstance(sp, RawAlertData):
        out["raw"] = _hex_out(sp.data)
    return out


_ALERT_KEYS = ("code", "timestamp", "future_dated", "image_hash", "other_information", "raw")
_FUTURE_KEYS = ("message_code", "originator_counter", "cluster", "frame_control", "command_id")


def _alert_in(v: Any, path: str) -> GbzAlertHeader:
    d = _obj(v, path, "an alert header: code, timestamp and its alert-specific data")
    _keys(d, path, _ALERT_KEYS, "an alert header")
    code = _int(d.get("code"), _join(path, "code"), 0, 0xFFFF, "alert code")
    ts = _utc_in(d.get("timestamp"), _join(path, "timestamp"))
    given = [k for k in _ALERT_KEYS[2:] if k in d]
    if len(given) > 1:
        _fail(_join(path, given[1]), f"only one alert-specific datum; {given[0]} is given")
    sp: Any = None
    if "future_dated" in d:
        fp = _join(path, "future_dated")
        f = _obj(d["future_dated"], fp, ", ".join(_FUTURE_KEYS))
        _keys(f, fp, _FUTURE_KEYS, "a future-dated outcome")
        sp = FutureDatedOutcome(
            _int(f.get("message_code"), _join(fp, "message_code"), 0, 0xFFFF, "message code"),
            _int(
                f.get("originator_counter"),
                _join(fp, "originator_counter"),
                0,
                (1 << 64) - 1,
                "uint64",
            ),
            _cluster_in(f.get("cluster"), _join(fp, "cluster")),
            _int(f.get("frame_control"), _join(fp, "frame_control"), 0, 0xFF, "bitmap8"),
            _int(f.get("command_id"), _join(fp, "command_id"), 0, 0xFF, "command id"),
        )
    elif "image_hash" in d:
        h = _hex_in(d["image_hash"], _join(path, "image_hash"), "image hash")
        if len(h) >= 0x80:
            _fail(_join(path, "image_hash"), f"{len(h)} octets; at most 127")
        sp = FirmwareImageHash(h)
    elif "other_information" in d:
        oi = _int(d["other_information"], _join(path, "other_information"), 0, 0xFFFF, "uint16")
        sp = IntegrityWarning(oi)
    elif "raw" in d:
        sp = RawAlertData(_hex_in(d["raw"], _join(path, "raw"), "alert-specific octets"))
    return GbzAlertHeader(code, ts, sp)


# ----------------------------------------------------------------------------- entry points


def explain_gbz(payload: GbzPayload, message_code: int) -> dict[str, Any]:
    """The typed, JSON-able arguments of a GBZ payload (see the module docstring).

    ``message_code`` is the use case's; the GBZ rules applied here do not depend on it,
    it is taken so that every payload kind of the catalogue has the same signature.
    """
    del message_code
    comps = []
    last = len(payload.components) - 1
    enc = 0
    for i, c in enumerate(payload.components):
        comps.append(_component_out(c, i, enc, i == last))
        if c.ciphered is not None:
            enc += 1
    out: dict[str, Any] = {"components": comps}
    if payload.alert is not None:
        out["alert"] = _alert_out(payload.alert)
    if payload.count is not None:
        computed = dataclasses.replace(payload, count=None).component_count
        if payload.count != computed:
            out["count"] = payload.count
    return out


def build_gbz(args: Mapping[str, Any], message_code: int) -> GbzPayload:
    """The GBZ payload that typed arguments (as :func:`explain_gbz` writes them) describe.

    Raises :class:`GbzArgsError` naming the argument path and what is allowed; every
    component is encoded here, so the payload returned encodes.
    """
    del message_code
    d = _obj(args, "", "GBZ arguments: components, and count or alert when needed")
    _keys(d, "", ("components", "count", "alert"), "GBZ arguments")
    comps_in = d.get("components")
    if not isinstance(comps_in, list):
        _fail("components", f"expected a list of components, got {_show(comps_in)}")
    comps = tuple(_component_in(c, i, f"components[{i}]") for i, c in enumerate(comps_in))
    alert = _alert_in(d["alert"], "alert") if "alert" in d else None
    count = d.get("count")
    if count is not None:
        count = _int(count, "count", 0, 0xFF, "uint8")
    payload = GbzPayload(comps, alert, count)
    _check_encodes(payload)
    return payload


def _check_encodes(payload: GbzPayload) -> None:
    last = len(payload.components) - 1
    enc = 0
    for i, c in enumerate(payload.components):
        _encode_or_fail(
            f"components[{i}]", lambda c=c, i=i, e=enc: c.encode(last=i == last, encrypted_index=e)
        )
        if c.ciphered is not None:
            enc += 1
    _encode_or_fail("alert" if payload.alert is not None else "components", payload.encode)


def _encode_or_fail(path: str, fn: Callable[[], bytes]) -> None:
    try:
        fn()
    except GbcsEncodeError as e:
        _fail(path, str(e))
