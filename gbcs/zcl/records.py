"""Declarative records: the machinery behind the cluster-specific commands.

A cluster module declares each command as a frozen dataclass whose fields carry
their wire kind (:data:`U8`, :data:`UTC_T`, ``_OCT``, ``_list(...)`` …) and registers
it with ``_command``; list entries and sub-payloads use ``_entry``.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field
from gbcs.zcl.datatypes import MAX_DEPTH, ZclDate, _join, _text, format_utc
from gbcs.zcl.foundation import ZclCommand
from gbcs.zcl.names import _REGISTRY, cluster_name

# --------------------------------------------------------------------------- declarative records
#
# Cluster-specific commands are declared as frozen dataclasses whose fields carry their
# wire kind in metadata. A plan compiled once per class groups consecutive fixed-size
# fields into one ``struct.Struct`` so decoding costs one C call per run.


class _Kind:
    """Wire kind of a scalar field."""

    __slots__ = ("conv_in", "conv_out", "fmt", "name", "show", "size")

    def __init__(
        self,
        name: str,
        fmt: str,
        size: int,
        show: Callable[[Any], str],
        conv_in: Callable[[Any], Any] | None = None,
        conv_out: Callable[[Any], Any] | None = None,
    ) -> None:
        self.name = name
        self.fmt = fmt
        self.size = size
        self.show = show
        self.conv_in = conv_in  # wire value (from struct) -> Python value
        self.conv_out = conv_out  # Python value -> struct value


def _hex(n: int) -> Callable[[Any], str]:
    return lambda v: f"0x{v:0{n}X}"


def _u24_in(b: bytes) -> int:
    return int.from_bytes(b, "little")


def _u24_out(v: int) -> bytes:
    return v.to_bytes(3, "little")


def _u48_out(v: int) -> bytes:
    return v.to_bytes(6, "little")


def _days_in(b: bytes) -> tuple[int, ...]:
    return tuple(b)


def _days_out(v: tuple[int, ...]) -> bytes:
    if len(v) != 7:
        raise ValueError("needs exactly 7 day ids (Monday to Sunday)")
    return bytes(v)


def _date_in(b: bytes) -> ZclDate:
    d = _DATE_CACHE.get(b)
    if d is None:
        d = ZclDate(b[0], b[1], b[2], b[3])
        if len(_DATE_CACHE) < 4096:
            _DATE_CACHE[b] = d
    return d


_DATE_CACHE: dict[bytes, ZclDate] = {}


def _date_out(v: ZclDate) -> bytes:
    return v.encode()


U8 = _Kind("uint8", "B", 1, str)
U16 = _Kind("uint16", "H", 2, str)
U24 = _Kind("uint24", "3s", 3, str, _u24_in, _u24_out)
U32 = _Kind("uint32", "I", 4, str)
U48 = _Kind("uint48", "6s", 6, str, _u24_in, _u48_out)
S32 = _Kind("int32", "i", 4, str)
BM8 = _Kind("bitmap8", "B", 1, _hex(2))
BM16 = _Kind("bitmap16", "H", 2, _hex(4))
BM32 = _Kind("bitmap32", "I", 4, _hex(8))
E8 = _Kind("enum8", "B", 1, str)
E16 = _Kind("enum16", "H", 2, str)
UTC_T = _Kind("UTCTime", "I", 4, format_utc)
DATE = _Kind("date", "4s", 4, str, _date_in, _date_out)
DAYS7 = _Kind("7 x uint8", "7s", 7, lambda v: " ".join(str(x) for x in v), _days_in, _days_out)

_EVENT_ID = _Kind("uint16", "H", 2, _hex(4))

_OCT = "oct"  # octet/character string: uint8 length (0xFF = invalid) + bytes
_REST = "rest"  # every remaining byte, raw


@dataclass(frozen=True, slots=True)
class _SubPayload:
    """Every remaining byte, typed by the value of an earlier field when the layout for
    that value is known and parses exactly; raw ``bytes`` otherwise."""

    selector: str
    table: dict[int, Any]


@dataclass(frozen=True, slots=True)
class _ListSpec:
    elem: Any  # a _Kind or a record class
    count: _Kind | None  # count prefix kind; None = until the end of the payload


def _f(kind: Any, title: str | None = None) -> Any:
    return field(metadata={"zcl": kind, "title": title})


def _list(elem: Any, count: _Kind | None = None, title: str | None = None) -> Any:
    return field(metadata={"zcl": _ListSpec(elem, count), "title": title})


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize().replace(" id", " ID")


class _Plan:
    __slots__ = ("fixed_only", "names", "steps", "titles", "trailing")

    def __init__(self, cls: type) -> None:
        self.steps: list[tuple[Any, ...]] = []
        self.names: list[str] = []
        self.titles: dict[str, str] = {}
        self.trailing = False
        run: list[tuple[str, _Kind]] = []
        for f in dataclasses.fields(cls):
            if f.name == "trailing":
                self.trailing = True
                continue
            kind = f.metadata["zcl"]
            self.names.append(f.name)
            self.titles[f.name] = f.metadata.get("title") or _title(f.name)
            if isinstance(kind, _Kind):
                run.append((f.name, kind))
                continue
            self._flush(run)
            run = []
            self.steps.append(("var", f.name, kind))
        self._flush(run)
        # (struct, run, conversions) when the record is one fixed-size block
        self.fixed_only = (
            self.steps[0][1:] if len(self.steps) == 1 and self.steps[0][0] == "fixed" else None
        )

    def _flush(self, run: list[tuple[str, _Kind]]) -> None:
        if not run:
            return
        st = struct.Struct("<" + "".join(k.fmt for _, k in run))
        conv = tuple((i, k.conv_in) for i, (_, k) in enumerate(run) if k.conv_in)
        self.steps.append(("fixed", st, tuple(run), conv))


def _decode_record(
    cls: Any, buf: bytes, pos: int, end: int, path: str, depth: int
) -> tuple[Any, int]:
    """Decode one declarative record at ``pos``; returns it and the end position."""
    plan: _Plan = cls._PLAN
    vals: list[Any] = []
    for step in plan.steps:
        if step[0] == "fixed":
            st = step[1]
            if pos + st.size > end:
                _fail_run(step[2], pos, end, path)
            raw = st.unpack_from(buf, pos)
            if step[3]:
                raw = list(raw)
                for i, fn in step[3]:
                    raw[i] = fn(raw[i])
            vals.extend(raw)
            pos += st.size
            continue
        name, kind = step[1], step[2]
        if kind is _OCT:
            if pos >= end:
                raise GbcsDecodeError(
                    _join(path, name), pos, "string length needs 1 byte(s), 0 left"
                )
            n = buf[pos]
            if n == 0xFF:
                vals.append(None)
                pos += 1
                continue
            if pos + 1 + n > end:
                raise GbcsDecodeError(
                    _join(path, name),
                    pos,
                    f"string of {n} byte(s) overruns the payload ({end - pos - 1} left)",
                )
            vals.append(buf[pos + 1 : pos + 1 + n])
            pos += 1 + n
        elif kind is _REST:
            vals.append(buf[pos:end])
            pos = end
        elif type(kind) is _SubPayload:
            sub = kind.table.get(vals[plan.names.index(kind.selector)])
            v: Any = buf[pos:end]
            if sub is not None:
                try:
                    rec, p = _decode_record(sub, buf, pos, end, _join(path, name), depth + 1)
                except GbcsDecodeError:
                    p = -1
                if p == end:
                    v = rec
            vals.append(v)
            pos = end
        else:
            items, pos = _decode_list(kind, buf, pos, end, _join(path, name), depth)
            vals.append(items)
    if plan.trailing:
        vals.append(buf[pos:end])
        pos = end
    return cls(*vals), pos


def _fail_run(run: tuple[tuple[str, _Kind], ...], pos: int, end: int, path: str) -> None:
    p = pos
    for name, k in run:
        if p + k.size > end:
            raise GbcsDecodeError(
                _join(path, name), p, f"{k.name} needs {k.size} byte(s), {end - p} left"
            )
        p += k.size


def _decode_list(
    spec: _ListSpec, buf: bytes, pos: int, end: int, path: str, depth: int
) -> tuple[tuple[Any, ...], int]:
    if depth >= MAX_DEPTH:
        raise GbcsDecodeError(path, pos, f"records nested deeper than {MAX_DEPTH}")
    elem = spec.elem
    n = -1  # -1: until the end of the payload
    if spec.count is not None:
        c = spec.count
        if pos + c.size > end:
            raise GbcsDecodeError(
                _join(path, "count"), pos, f"{c.name} needs {c.size} byte(s), {end - pos} left"
            )
        n = int.from_bytes(buf[pos : pos + c.size], "little")
        pos += c.size
    if isinstance(elem, _Kind):
        return _decode_scalars(elem, n, buf, pos, end, path)
    fixed = elem._PLAN.fixed_only
    if fixed is not None:
        st, run, conv = fixed
        size = st.size
        k = (end - pos) // size if n < 0 else n
        stop = pos + k * size
        if stop > end or (n < 0 and stop != end):
            k = (end - pos) // size
            _fail_run(run, pos + k * size, end, f"{path}[{k}]")
        chunk = buf[pos:stop]
        if conv:
            items = []
            for vals in st.iter_unpack(chunk):
                lv = list(vals)
                for i, fn in conv:
                    lv[i] = fn(lv[i])
                items.append(elem(*lv))
            return tuple(items), stop
        return tuple([elem(*vals) for vals in st.iter_unpack(chunk)]), stop
    items = []
    i = 0
    try:
        while (pos < end) if n < 0 else (i < n):
            item, pos = _decode_record(elem, buf, pos, end, "", depth + 1)
            items.append(item)
            i += 1
    except GbcsDecodeError as e:
        raise e.nested(f"{path}[{i}]") from None
    return tuple(items), pos


def _decode_scalars(
    elem: _Kind, n: int, buf: bytes, pos: int, end: int, path: str
) -> tuple[tuple[Any, ...], int]:
    size = elem.size
    k = (end - pos) // size if n < 0 else n
    stop = pos + k * size
    if stop > end or (n < 0 and stop != end):
        k = (end - pos) // size
        raise GbcsDecodeError(
            f"{path}[{k}]",
            pos + k * size,
            f"{elem.name} needs {size} byte(s), {end - pos - k * size} left",
        )
    if elem.conv_in is None:
        return struct.unpack_from(f"<{k}{elem.fmt}", buf, pos), stop
    fn = elem.conv_in
    return tuple([fn(buf[p : p + size]) for p in range(pos, stop, size)]), stop


def _encode_record(rec: Any) -> bytes:
    plan: _Plan = type(rec)._PLAN
    out = bytearray()
    for step in plan.steps:
        if step[0] == "fixed":
            vals = []
            for name, k in step[2]:
                v = getattr(rec, name)
                vals.append(k.conv_out(v) if k.conv_out else v)
            out += step[1].pack(*vals)
            continue
        name, kind = step[1], step[2]
        v = getattr(rec, name)
        if kind is _OCT:
            if v is None:
                out.append(0xFF)
            else:
                if len(v) >= 0xFF:
                    raise ValueError(f"{name}: string of {len(v)} byte(s) exceeds 254")
                out.append(len(v))
                out += v
        elif kind is _REST:
            out += v
        elif type(kind) is _SubPayload:
            if isinstance(v, bytes):
                out += v
            else:
                if kind.table.get(getattr(rec, kind.selector)) is not type(v):
                    raise ValueError(f"{name}: {type(v).__name__} does not match {kind.selector}")
                out += _encode_record(v)
        else:
            out += _encode_list(kind, v, name)
    if plan.trailing:
        out += rec.trailing
    return bytes(out)


def _encode_list(spec: _ListSpec, items: tuple[Any, ...], name: str) -> bytes:
    out = bytearray()
    if spec.count is not None:
        if len(items) >= 1 << (8 * spec.count.size):
            raise ValueError(f"{name}: {len(items)} items do not fit a {spec.count.name} count")
        out += len(items).to_bytes(spec.count.size, "little")
    elem = spec.elem
    for it in items:
        if isinstance(elem, _Kind):
            out += struct.pack("<" + elem.fmt, elem.conv_out(it) if elem.conv_out else it)
        else:
            out += _encode_record(it)
    return bytes(out)


def _record_encode(rec: Any) -> bytes:
    try:
        return _encode_record(rec)
    except GbcsEncodeError:
        raise
    except (struct.error, OverflowError, ValueError, TypeError, AttributeError) as e:
        raise GbcsEncodeError(f"{type(rec).__name__}: {e}") from None


def _record_fields(rec: Any, base: int) -> tuple[Field, ...]:
    plan: _Plan = type(rec)._PLAN
    out: list[Field] = []
    p = base
    for step in plan.steps:
        if step[0] == "fixed":
            for name, k in step[2]:
                v = getattr(rec, name)
                raw = struct.pack("<" + k.fmt, k.conv_out(v) if k.conv_out else v)
                out.append(Field(plan.titles[name], p, raw, k.show(v)))
                p += len(raw)
            continue
        name, kind = step[1], step[2]
        v = getattr(rec, name)
        if kind is _OCT:
            raw = b"\xff" if v is None else bytes((len(v),)) + v
            out.append(Field(plan.titles[name], p, raw, _text(v)))
        elif kind is _REST or (type(kind) is _SubPayload and isinstance(v, bytes)):
            raw = v
            out.append(Field(plan.titles[name], p, raw, v.hex().upper() if v else "(empty)"))
        elif type(kind) is _SubPayload:
            raw = _encode_record(v)
            title = getattr(type(v), "TITLE", type(v).__name__)
            out.append(Field(plan.titles[name], p, raw, title, _record_fields(v, p)))
        else:
            raw = _encode_list(kind, v, name)
            kids: list[Field] = []
            q = p
            if kind.count is not None:
                kids.append(Field("Count", q, raw[: kind.count.size], str(len(v))))
                q += kind.count.size
            for i, it in enumerate(v):
                if isinstance(kind.elem, _Kind):
                    r = struct.pack(
                        "<" + kind.elem.fmt, kind.elem.conv_out(it) if kind.elem.conv_out else it
                    )
                    kids.append(Field(f"[{i}]", q, r, kind.elem.show(it)))
                else:
                    r = _encode_record(it)
                    kids.append(Field(f"[{i}]", q, r, None, _record_fields(it, q)))
                q += len(r)
            out.append(Field(plan.titles[name], p, raw, f"{len(v)} item(s)", tuple(kids)))
        p += len(raw)
    if plan.trailing and rec.trailing:
        out.append(
            Field("Trailing bytes (not modelled)", p, rec.trailing, rec.trailing.hex().upper())
        )
    return tuple(out)


def _entry(cls: type) -> type:
    """Compile the plan of a list-entry record."""
    cls._PLAN = _Plan(cls)  # type: ignore[attr-defined]
    return cls


_Decoder = Callable[[bytes, int, int, str], Any]
_CLUSTER_DECODERS: dict[int, _Decoder] = {}


def _dispatch_key(cluster: int, server_to_client: bool, command_id: int) -> int:
    return (0x1000000 if server_to_client else 0) | cluster << 8 | command_id


def _make_decoder(cls: Any) -> _Decoder:
    """A decoder specialised for ``cls``: one ``unpack_from`` for all-fixed records."""
    plan: _Plan = cls._PLAN
    if (
        plan.trailing
        and len(plan.steps) == 1
        and plan.steps[0][0] == "fixed"
        and not plan.steps[0][3]
    ):
        _, st, run, _ = plan.steps[0]
        size = st.size
        unpack = st.unpack_from

        def dec_fixed(buf: bytes, pos: int, end: int, path: str) -> Any:
            if pos + size > end:
                _fail_run(run, pos, end, path)
            return cls(*unpack(buf, pos), buf[pos + size : end])

        return dec_fixed

    def dec(buf: bytes, pos: int, end: int, path: str) -> Any:
        return _decode_record(cls, buf, pos, end, path, 0)[0]

    return dec


def _command(
    cluster: int, server_to_client: bool, command_id: int, name: str
) -> Callable[[type], type]:
    """Register a cluster-specific command record and compile its plan."""

    def deco(cls: type) -> type:
        cls._PLAN = _Plan(cls)  # type: ignore[attr-defined]
        way = "server to client" if server_to_client else "client to server"
        doc = f"ZSE {name}: {cluster_name(cluster)} command 0x{command_id:02X}, {way}."
        own = cls.__doc__ or ""
        # dataclass fills a missing docstring with the signature; keep only real ones
        cls.__doc__ = doc if own.startswith(cls.__name__ + "(") else f"{doc}\n\n{own}"
        cls.NAME = name  # type: ignore[attr-defined]
        cls.CLUSTER = cluster  # type: ignore[attr-defined]
        cls.SERVER_TO_CLIENT = server_to_client  # type: ignore[attr-defined]
        cls.COMMAND_ID = command_id  # type: ignore[attr-defined]
        key = (cluster, server_to_client, command_id)
        assert key not in _REGISTRY, key
        _REGISTRY[key] = cls
        _CLUSTER_DECODERS[_dispatch_key(cluster, server_to_client, command_id)] = _make_decoder(cls)
        return cls

    return deco


class _Record(ZclCommand):
    """Base of the declarative cluster-specific records."""

    __slots__ = ()

    CLUSTER: ClassVar[int]
    SERVER_TO_CLIENT: ClassVar[bool]
    COMMAND_ID: ClassVar[int]

    def encode(self) -> bytes:
        return _record_encode(self)

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        return _record_fields(self, base)
