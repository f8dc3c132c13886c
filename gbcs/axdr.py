"""A-XDR encoded DLMS/COSEM ``Data`` (the values carried by GBCS DLMS payloads).

One immutable class, :class:`Data`, holds any value as ``(tag, value)``; the Python type
of ``value`` depends on the tag:

=========================================  ===========================================
tag                                        ``value``
=========================================  ===========================================
null-data (0), don't-care (255)            ``None``
array (1), structure (2)                   ``tuple[Data, ...]``
boolean (3)                                ``int`` raw byte (0 = false, else true;
                                           ``Data.boolean(True)`` encodes ``0xFF``)
bit-string (4)                             :class:`BitString`
integer/long/double-long/long64 (15/16/5/20),
unsigned/long-unsigned/double-long-unsigned/
long64-unsigned (17/18/6/21), enum (22),
bcd (13, one byte)                         ``int``
octet-string (9)                           ``bytes``
visible-string (10)                        ``str`` (bytes mapped 1:1 through Latin-1)
utf8-string (12)                           ``str`` (invalid bytes kept as surrogate escapes)
float32 (23), float64 (24)                 ``bytes`` (4/8 raw bytes; exact NaN payloads),
                                           see :meth:`Data.as_float`
date-time (25), date (26), time (27)       :class:`~gbcs.cosem_time.DlmsDateTime` /
                                           ``DlmsDate`` / ``DlmsTime``
compact-array (19)                         :class:`CompactArray`
=========================================  ===========================================

Every representation is lossless, so ``encode_data(decode_data(b)) == b`` for every
valid input. Element counts and string lengths use the BER length form; a non-minimal
length form is rejected as malformed. Nesting is bounded by :data:`MAX_DEPTH`.

Speed notes (decoding is on the hot path of every DLMS message): fixed layouts use
pre-compiled :mod:`struct` formats, not ``construct`` (a compiled construct parse costs
~3 µs); common leaves are decoded inline in :func:`_items`; decoded objects are built
without re-running validation; and immutable small leaves are shared (one-byte values
always, fixed-size integers and octet-strings of at most 16 bytes through bounded caches
that are simply cleared when full).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NoReturn

from gbcs.cosem_time import DlmsDate, DlmsDateTime, DlmsTime
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field
from gbcs.wire import Reader, ber_length_size, encode_ber_length

MAX_DEPTH = 32
"""Maximum nesting of arrays/structures (and compact-array type descriptions)."""
MAX_TYPE_NODES = 4096
"""Maximum number of values one compact-array element may describe."""


class DataType(IntEnum):
    """A-XDR ``Data`` CHOICE tags (DLMS Blue Book)."""

    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27
    DONT_CARE = 255


TAG_NAMES: dict[DataType, str] = {t: t.name.lower().replace("_", "-") for t in DataType}
"""Each type's name in the tagged JSON forms (``{"type": "long-unsigned", ...}``) that
``usecase explain`` and the control API write."""
TAG_BY_NAME: dict[str, DataType] = {v: k for k, v in TAG_NAMES.items()}
INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INTEGER: (-0x80, 0x7F),
    DataType.LONG: (-0x8000, 0x7FFF),
    DataType.DOUBLE_LONG: (-(1 << 31), (1 << 31) - 1),
    DataType.LONG64: (-(1 << 63), (1 << 63) - 1),
    DataType.UNSIGNED: (0, 0xFF),
    DataType.LONG_UNSIGNED: (0, 0xFFFF),
    DataType.DOUBLE_LONG_UNSIGNED: (0, 0xFFFFFFFF),
    DataType.LONG64_UNSIGNED: (0, (1 << 64) - 1),
    DataType.ENUM: (0, 0xFF),
    DataType.BCD: (0, 0xFF),
}
"""The value range of each integer-valued type."""

TYPE_NAMES: dict[int, str] = {
    DataType.NULL_DATA: "Null",
    DataType.ARRAY: "Array",
    DataType.STRUCTURE: "Structure",
    DataType.BOOLEAN: "Boolean",
    DataType.BIT_STRING: "Bit String",
    DataType.DOUBLE_LONG: "Double Long",
    DataType.DOUBLE_LONG_UNSIGNED: "Double Long Unsigned",
    DataType.OCTET_STRING: "Octet String",
    DataType.VISIBLE_STRING: "Visible String",
    DataType.UTF8_STRING: "UTF8 String",
    DataType.BCD: "BCD",
    DataType.INTEGER: "Integer",
    DataType.LONG: "Long",
    DataType.UNSIGNED: "Unsigned",
    DataType.LONG_UNSIGNED: "Long Unsigned",
    DataType.COMPACT_ARRAY: "Compact Array",
    DataType.LONG64: "Long64",
    DataType.LONG64_UNSIGNED: "Long64 Unsigned",
    DataType.ENUM: "Enum",
    DataType.FLOAT32: "Float32",
    DataType.FLOAT64: "Float64",
    DataType.DATE_TIME: "Date Time",
    DataType.DATE: "Date",
    DataType.TIME: "Time",
    DataType.DONT_CARE: "Don't Care",
}
"""Display names (as used by the reference parser's trees)."""

# Module-level aliases: enum attribute access is slow on 3.11 and these sit in hot paths.
_ARRAY = DataType.ARRAY
_BCD = DataType.BCD
_BIT_STRING = DataType.BIT_STRING
_BOOLEAN = DataType.BOOLEAN
_COMPACT_ARRAY = DataType.COMPACT_ARRAY
_DATE = DataType.DATE
_DATE_TIME = DataType.DATE_TIME
_DONT_CARE = DataType.DONT_CARE
_DOUBLE_LONG = DataType.DOUBLE_LONG
_DOUBLE_LONG_UNSIGNED = DataType.DOUBLE_LONG_UNSIGNED
_ENUM = DataType.ENUM
_FLOAT32 = DataType.FLOAT32
_FLOAT64 = DataType.FLOAT64
_INTEGER = DataType.INTEGER
_LONG = DataType.LONG
_LONG64 = DataType.LONG64
_LONG64_UNSIGNED = DataType.LONG64_UNSIGNED
_LONG_UNSIGNED = DataType.LONG_UNSIGNED
_NULL_DATA = DataType.NULL_DATA
_OCTET_STRING = DataType.OCTET_STRING
_STRUCTURE = DataType.STRUCTURE
_TIME = DataType.TIME
_UNSIGNED = DataType.UNSIGNED
_UTF8_STRING = DataType.UTF8_STRING
_VISIBLE_STRING = DataType.VISIBLE_STRING
_TAG_OF: list[DataType | None] = [None] * 256
for _t in DataType:
    _TAG_OF[_t] = _t

# Fixed-size integer types: tag -> struct format.
_INT_FORMATS: dict[int, str] = {
    _DOUBLE_LONG: ">i",
    _DOUBLE_LONG_UNSIGNED: ">I",
    _BCD: ">B",
    _INTEGER: ">b",
    _LONG: ">h",
    _UNSIGNED: ">B",
    _LONG_UNSIGNED: ">H",
    _LONG64: ">q",
    _LONG64_UNSIGNED: ">Q",
    _ENUM: ">B",
    _BOOLEAN: ">B",
}
_INT_STRUCTS = {tag: struct.Struct(fmt) for tag, fmt in _INT_FORMATS.items()}
_INT_RANGES = {
    tag: (
        (-(1 << (8 * s.size - 1)), (1 << (8 * s.size - 1)) - 1)
        if s.format[-1].islower()
        else (0, (1 << (8 * s.size)) - 1)
    )
    for tag, s in _INT_STRUCTS.items()
}
_FIXED_SIZE: dict[int, int] = {tag: s.size for tag, s in _INT_STRUCTS.items()}
_FIXED_SIZE.update(
    {
        _NULL_DATA: 0,
        _DONT_CARE: 0,
        _FLOAT32: 4,
        _FLOAT64: 8,
        _DATE_TIME: 12,
        _DATE: 5,
        _TIME: 4,
    }
)


# ---------------------------------------------------------------------------------------
# value types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BitString:
    """A bit-string: ``length`` bits, first bit = MSB of ``data[0]``; padding kept as is."""

    length: int
    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.length, int) or self.length < 0:
            raise GbcsEncodeError(f"bit-string length must be a non-negative int: {self.length!r}")
        if not isinstance(self.data, bytes) or len(self.data) != (self.length + 7) // 8:
            raise GbcsEncodeError(
                f"bit-string of {self.length} bits needs {(self.length + 7) // 8} byte(s)"
            )

    @classmethod
    def from_bits(cls, bits: str) -> BitString:
        """From a string of ``0``/``1`` characters (padding bits are zero)."""
        if any(c not in "01" for c in bits):
            raise GbcsEncodeError(f"bit-string literal must be 0/1 characters: {bits!r}")
        n = len(bits)
        padded = bits + "0" * (-n % 8)
        data = int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b""
        return cls(n, data)

    @property
    def bits(self) -> str:
        """The ``length`` significant bits as a ``0``/``1`` string."""
        if not self.length:
            return ""
        return format(int.from_bytes(self.data, "big"), f"0{len(self.data) * 8}b")[: self.length]

    def __getitem__(self, index: int) -> bool:
        if not 0 <= index < self.length:
            raise IndexError(index)
        return bool(self.data[index >> 3] & (0x80 >> (index & 7)))

    def __str__(self) -> str:
        return self.bits


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """Compact-array element type: a simple tag, ``array`` (count + element) or ``structure``."""

    tag: DataType
    count: int = 0
    children: tuple[TypeDescription, ...] = ()

    def __post_init__(self) -> None:
        if _TAG_OF[self.tag] is None or self.tag == _COMPACT_ARRAY:
            raise GbcsEncodeError(f"type {self.tag!r} not allowed in a type description")
        if self.tag == _ARRAY:
            if len(self.children) != 1 or not 0 <= self.count <= 0xFFFF:
                raise GbcsEncodeError("array type description needs one child and count 0..65535")
        elif self.tag == _STRUCTURE:
            if self.count != len(self.children):
                raise GbcsEncodeError("structure type description: count must equal len(children)")
        elif self.count or self.children:
            raise GbcsEncodeError("simple type description takes no count/children")

    @classmethod
    def simple(cls, tag: DataType) -> TypeDescription:
        return cls(tag)

    @classmethod
    def array(cls, count: int, element: TypeDescription) -> TypeDescription:
        return cls(_ARRAY, count, (element,))

    @classmethod
    def structure(cls, *children: TypeDescription) -> TypeDescription:
        return cls(_STRUCTURE, len(children), tuple(children))

    def encode(self) -> bytes:
        """Wire form: ``tag`` / ``01 count(2) element`` / ``02 BER(n) children``."""
        if self.tag == _ARRAY:
            return bytes((1, self.count >> 8, self.count & 0xFF)) + self.children[0].encode()
        if self.tag == _STRUCTURE:
            return (
                bytes((2,))
                + encode_ber_length(self.count)
                + b"".join(c.encode() for c in self.children)
            )
        return bytes((self.tag,))

    def __str__(self) -> str:
        if self.tag == _ARRAY:
            return f"array[{self.count}] of {self.children[0]}"
        if self.tag == _STRUCTURE:
            return "structure{" + ", ".join(str(c) for c in self.children) + "}"
        return TYPE_NAMES[self.tag].lower()


@dataclass(frozen=True, slots=True)
class CompactArray:
    """A compact-array: element type description plus the raw (tag-less) element bytes.

    ``contents`` is validated against ``type_description`` on construction; use
    :meth:`elements` for the decoded values and :meth:`from_elements` to build one.
    """

    type_description: TypeDescription
    contents: bytes

    def __post_init__(self) -> None:
        try:
            _check_type_nodes(self.type_description)
            _validate_contents(self.type_description, self.contents, 0, len(self.contents))
        except _Err as e:
            raise GbcsEncodeError(f"compact-array contents: {e.reason}") from None

    @classmethod
    def from_elements(cls, td: TypeDescription, elements: Iterable[Data]) -> CompactArray:
        """Pack ``elements`` (each must match ``td``) into a compact-array."""
        out = bytearray()
        for i, e in enumerate(elements):
            _encode_compact(td, e, out, f"[{i}]")
        return cls(td, bytes(out))

    def elements(self) -> tuple[Data, ...]:
        """The decoded elements (as ``Data`` of the described types)."""
        return _compact_elements(self.type_description, self.contents, 0, len(self.contents))


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


def _bad(msg: str) -> NoReturn:
    raise GbcsEncodeError(msg)


@dataclass(frozen=True, slots=True)
class Data:
    """One A-XDR ``Data`` value; see the module docstring for ``value`` per tag.

    Build values with the class-method constructors (``Data.structure(...)``,
    ``Data.long_unsigned(1)``...); direct construction is validated too.
    """

    tag: DataType
    value: Any = None
    #: Cached nesting depth of a container (computed once, on first need).
    nesting: int = field(default=-1, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _validate(self)

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def null(cls) -> Data:
        return NULL

    @classmethod
    def dont_care(cls) -> Data:
        return cls(_DONT_CARE)

    @classmethod
    def array(cls, *items: Data) -> Data:
        return _container(_ARRAY, items)

    @classmethod
    def structure(cls, *items: Data) -> Data:
        return _container(_STRUCTURE, items)

    @classmethod
    def boolean(cls, value: bool | int) -> Data:
        """``True`` encodes as ``0xFF`` (the GBCS form); an int gives the raw byte."""
        if isinstance(value, bool):
            return cls(_BOOLEAN, 0xFF if value else 0)
        return cls(_BOOLEAN, value)

    @classmethod
    def bit_string(cls, bits: BitString | str) -> Data:
        return cls(_BIT_STRING, BitString.from_bits(bits) if isinstance(bits, str) else bits)

    @classmethod
    def double_long(cls, v: int) -> Data:
        return cls(_DOUBLE_LONG, v)

    @classmethod
    def double_long_unsigned(cls, v: int) -> Data:
        return cls(_DOUBLE_LONG_UNSIGNED, v)

    @classmethod
    def octet_string(cls, v: bytes) -> Data:
        if type(v) is bytes:  # the common case, validated by construction
            return _mk(_OCTET_STRING, v)
        return cls(_OCTET_STRING, bytes(v))

    @classmethod
    def visible_string(cls, v: str) -> Data:
        return cls(_VISIBLE_STRING, v)

    @classmethod
    def utf8_string(cls, v: str) -> Data:
        return cls(_UTF8_STRING, v)

    @classmethod
    def bcd(cls, v: int) -> Data:
        return cls(_BCD, v)

    @classmethod
    def integer(cls, v: int) -> Data:
        return cls(_INTEGER, v)

    @classmethod
    def long(cls, v: int) -> Data:
        return cls(_LONG, v)

    @classmethod
    def unsigned(cls, v: int) -> Data:
        return cls(_UNSIGNED, v)

    @classmethod
    def long_unsigned(cls, v: int) -> Data:
        return cls(_LONG_UNSIGNED, v)

    @classmethod
    def long64(cls, v: int) -> Data:
        return cls(_LONG64, v)

    @classmethod
    def long64_unsigned(cls, v: int) -> Data:
        return cls(_LONG64_UNSIGNED, v)

    @classmethod
    def enum(cls, v: int) -> Data:
        return cls(_ENUM, v)

    @classmethod
    def float32(cls, v: float) -> Data:
        return cls(_FLOAT32, struct.pack(">f", v))

    @classmethod
    def float64(cls, v: float) -> Data:
        return cls(_FLOAT64, struct.pack(">d", v))

    @classmethod
    def date_time(cls, v: DlmsDateTime) -> Data:
        return cls(_DATE_TIME, v)

    @classmethod
    def date(cls, v: DlmsDate) -> Data:
        return cls(_DATE, v)

    @classmethod
    def time(cls, v: DlmsTime) -> Data:
        return cls(_TIME, v)

    @classmethod
    def compact_array(cls, v: CompactArray) -> Data:
        return cls(_COMPACT_ARRAY, v)

    # -- accessors ---------------------------------------------------------------------

    @property
    def is_container(self) -> bool:
        return self.tag == _ARRAY or self.tag == _STRUCTURE

    @property
    def items(self) -> tuple[Data, ...]:
        """Elements of an array/structure (``TypeError`` for other types)."""
        if self.tag != _ARRAY and self.tag != _STRUCTURE:
            raise TypeError(f"{TYPE_NAMES[self.tag]} has no items")
        return self.value  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Data:
        return self.items[index]

    def as_float(self) -> float:
        """The value of a float32/float64."""
        if self.tag == _FLOAT32:
            return float(struct.unpack(">f", self.value)[0])
        if self.tag == _FLOAT64:
            return float(struct.unpack(">d", self.value)[0])
        raise TypeError(f"{TYPE_NAMES[self.tag]} is not a float")

    def encode(self) -> bytes:
        """The A-XDR bytes (same as :func:`encode_data`)."""
        return encode_data(self)

    def __str__(self) -> str:
        return value_str(self)


def _validate(d: Data) -> None:
    tag, v = d.tag, d.value
    t = _TAG_OF[tag] if isinstance(tag, int) and 0 <= tag <= 255 else None
    if t is None:
        _bad(f"unknown A-XDR data type {tag!r}")
    if t is not tag:
        object.__setattr__(d, "tag", t)  # normalise a plain int to the enum member
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            _bad(f"{TYPE_NAMES[t]} value must be an int {lo}..{hi}, got {v!r}")
    elif t in (_ARRAY, _STRUCTURE):
        if not isinstance(v, tuple) or not all(isinstance(x, Data) for x in v):
            _bad(f"{TYPE_NAMES[t]} value must be a tuple of Data")
        if len(v) > 0xFFFFFF:
            _bad(f"{TYPE_NAMES[t]} has too many elements")
        if _depth(d) > MAX_DEPTH:
            _bad(f"nesting deeper than {MAX_DEPTH} levels")
    elif t in (_NULL_DATA, _DONT_CARE):
        if v is not None:
            _bad(f"{TYPE_NAMES[t]} takes no value")
    elif t == _OCTET_STRING:
        if not isinstance(v, bytes):
            _bad("octet-string value must be bytes")
    elif t == _VISIBLE_STRING:
        if not isinstance(v, str):
            _bad("visible-string value must be str")
        try:
            v.encode("latin-1")
        except UnicodeEncodeError:
            _bad("visible-string characters must be U+0000..U+00FF")
    elif t == _UTF8_STRING:
        if not isinstance(v, str):
            _bad("utf8-string value must be str")
        try:
            v.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            _bad("utf8-string is not encodable")
    elif t == _BIT_STRING:
        if not isinstance(v, BitString):
            _bad("bit-string value must be a BitString")
    elif t in (_FLOAT32, _FLOAT64):
        if not isinstance(v, bytes) or len(v) != _FIXED_SIZE[t]:
            _bad(f"{TYPE_NAMES[t]} value must be {_FIXED_SIZE[t]} raw bytes (use Data.{t.name})")
    elif t == _DATE_TIME:
        if not isinstance(v, DlmsDateTime):
            _bad("date-time value must be a DlmsDateTime")
    elif t == _DATE:
        if not isinstance(v, DlmsDate):
            _bad("date value must be a DlmsDate")
    elif t == _TIME:
        if not isinstance(v, DlmsTime):
            _bad("time value must be a DlmsTime")
    elif t == _COMPACT_ARRAY and not isinstance(v, CompactArray):
        _bad("compact-array value must be a CompactArray")


def _depth(d: Data) -> int:
    if d.tag != _ARRAY and d.tag != _STRUCTURE:
        return 0
    n: int = getattr(d, "nesting", -1)  # unset on decoder-made values
    if n < 0:
        n = 1 + max((_depth(x) for x in d.value), default=0)
        object.__setattr__(d, "nesting", n)
    return n


_new = object.__new__
_set_tag = Data.__dict__["tag"].__set__
_set_value = Data.__dict__["value"].__set__


def _mk(tag: DataType, value: Any) -> Data:
    """Construct without validation (decoder only: values are in range by construction)."""
    d = _new(Data)
    _set_tag(d, tag)
    _set_value(d, value)
    return d


def _container(tag: DataType, items: tuple[Data, ...]) -> Data:
    """A validated array/structure built without re-walking its (validated) children."""
    depth = 0
    for x in items:
        if type(x) is not Data:
            return Data(tag, tuple(items))  # the validating path raises the clear error
        if x.tag == _ARRAY or x.tag == _STRUCTURE:
            depth = max(depth, _depth(x))
    if depth + 1 > MAX_DEPTH or len(items) > 0xFFFFFF:
        return Data(tag, tuple(items))
    d = _mk(tag, tuple(items))
    object.__setattr__(d, "nesting", depth + 1)
    return d


NULL = _mk(_NULL_DATA, None)
"""The null-data value."""

# Interned values of the one-byte types (immutable, so safe to share).
_BYTE_VALUES: list[tuple[Data, ...] | None] = [None] * 256
for _t in (_BOOLEAN, _UNSIGNED, _ENUM, _BCD):
    _BYTE_VALUES[_t] = tuple(_mk(_t, b) for b in range(256))
_BYTE_VALUES[_INTEGER] = tuple(_mk(_INTEGER, b - 256 if b > 127 else b) for b in range(256))

_UNPACK: list[Callable[..., tuple[Any, ...]] | None] = [None] * 256
_SIZE_OF: list[int] = [0] * 256
for _t in (
    _DOUBLE_LONG,
    _DOUBLE_LONG_UNSIGNED,
    _LONG,
    _LONG_UNSIGNED,
    _LONG64,
    _LONG64_UNSIGNED,
):
    _UNPACK[_t] = _INT_STRUCTS[_t].unpack_from
    _SIZE_OF[_t] = _INT_STRUCTS[_t].size


# ---------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------


class _Err(Exception):
    """Internal decode failure; the element index chain is collected while unwinding."""

    def __init__(self, field: str, offset: int, reason: str) -> None:
        self.parts: list[str] = []
        self.field = field
        self.offset = offset
        self.reason = reason

    def to_public(self, path: str) -> GbcsDecodeError:
        p = path + "".join(reversed(self.parts))
        if self.field:
            p = f"{p}.{self.field}" if p else self.field
        return GbcsDecodeError(p, self.offset, self.reason)


def _need(n: int, left: int) -> str:
    return f"needs {n} byte(s), {max(left, 0)} left"


def _ber(buf: bytes, pos: int, end: int, field: str = "length") -> tuple[int, int]:
    if pos >= end:
        raise _Err(field, pos, _need(1, 0))
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n == 0 or n > 3:
        raise _Err(field, pos, f"unsupported BER length form 0x{first:02X}")
    if pos + 1 + n > end:
        raise _Err(field, pos, _need(1 + n, end - pos))
    v = int.from_bytes(buf[pos + 1 : pos + 1 + n], "big")
    if v < (0x80 if n == 1 else 1 << (8 * (n - 1))):
        raise _Err(field, pos, f"non-minimal length form for {v}")
    return v, pos + 1 + n


_set_bits_len = BitString.__dict__["length"].__set__
_set_bits_data = BitString.__dict__["data"].__set__

# Per-tag dispatch for the inline leaf decoding in :func:`_items`.
_K_OTHER, _K_BYTE, _K_INT, _K_OCTET, _K_NULL, _K_CONTAINER, _K_BITS = range(7)
_KIND = [_K_OTHER] * 256
_OCTET_CACHE: dict[bytes, Data] = {}
_LEAF: list[tuple[Callable[..., tuple[Any, ...]], int, DataType, dict[int, Data]] | None] = [
    None
] * 256
for _t in range(256):
    if _BYTE_VALUES[_t] is not None:
        _KIND[_t] = _K_BYTE
    elif _UNPACK[_t] is not None:
        _KIND[_t] = _K_INT
        _LEAF[_t] = (_UNPACK[_t], _SIZE_OF[_t], _TAG_OF[_t], {})  # type: ignore[assignment]
_KIND[_OCTET_STRING] = _K_OCTET
_KIND[_NULL_DATA] = _K_NULL
_KIND[_ARRAY] = _KIND[_STRUCTURE] = _K_CONTAINER
_KIND[_BIT_STRING] = _K_BITS


def _items(
    buf: bytes,
    p: int,
    end: int,
    n: int,
    depth: int,
    _kind: list[int] = _KIND,
    _bytev: list[tuple[Data, ...] | None] = _BYTE_VALUES,
    _leaf: list[Any] = _LEAF,
    _new: Callable[[type], Any] = _new,
    _st: Callable[[Any, Any], None] = _set_tag,
    _sv: Callable[[Any, Any], None] = _set_value,
    _D: type = Data,
    _OCT: DataType = _OCTET_STRING,
    _NUL: Data = NULL,
    _tags: list[DataType | None] = _TAG_OF,
    _MAX: int = MAX_DEPTH,
    _oc: dict[bytes, Data] = _OCTET_CACHE,
    _BS: type = BitString,
    _BIT: DataType = _BIT_STRING,
    _sbl: Callable[[Any, Any], None] = _set_bits_len,
    _sbd: Callable[[Any, Any], None] = _set_bits_data,
) -> tuple[list[Data], int]:
    """Decode ``n`` consecutive Data values at ``p`` (``depth`` = their nesting level).

    Common leaves are decoded inline: this loop is the decoder's hot path.
    """
    items: list[Data] = []
    append = items.append
    i = 0
    try:
        for i in range(n):  # noqa: B007 - i is read in the handler
            if p < end:
                t = buf[p]
                k = _kind[t]
                # k: _K_OCTET 3, _K_CONTAINER 5, _K_INT 2, _K_BYTE 1, _K_NULL 4, _K_BITS 6
                if k == 3:  # octet-string, short form
                    ln = buf[p + 1] if p + 1 < end else 0x80
                    q = p + 2 + ln
                    if ln < 0x80 and q <= end:
                        raw = buf[p + 2 : q]
                        d = _oc.get(raw) if ln <= 16 else None
                        if d is None:
                            d = _new(_D)
                            _st(d, _OCT)
                            _sv(d, raw)
                            if ln <= 16:
                                if len(_oc) >= 4096:
                                    _oc.clear()
                                _oc[raw] = d
                        append(d)
                        p = q
                        continue
                elif k == 5 and depth < _MAX and p + 1 < end:  # array/structure, short count
                    m = buf[p + 1]
                    if m < 0x80 and m <= end - p - 2:
                        sub, p = _items(buf, p + 2, end, m, depth + 1)
                        d = _new(_D)
                        _st(d, _tags[t])
                        _sv(d, tuple(sub))
                        append(d)
                        continue
                elif k == 1:  # one-byte types (interned)
                    if p + 1 < end:
                        append(_bytev[t][buf[p + 1]])  # type: ignore[index]
                        p += 2
                        continue
                elif k == 2:  # fixed-size integers
                    unpack, size, member, cache = _leaf[t]
                    q = p + 1 + size
                    if q <= end:
                        v = unpack(buf, p + 1)[0]
                        d = cache.get(v)
                        if d is None:
                            d = _new(_D)
                            _st(d, member)
                            _sv(d, v)
                            if len(cache) >= 4096:
                                cache.clear()
                            cache[v] = d
                        append(d)
                        p = q
                        continue
                elif k == 4:
                    append(_NUL)
                    p += 1
                    continue
                elif k == 6 and p + 1 < end:  # bit-string, short bit count
                    bits = buf[p + 1]
                    q = p + 2 + ((bits + 7) >> 3)
                    if bits < 0x80 and q <= end:
                        bs = _new(_BS)
                        _sbl(bs, bits)
                        _sbd(bs, buf[p + 2 : q])
                        d = _new(_D)
                        _st(d, _BIT)
                        _sv(d, bs)
                        append(d)
                        p = q
                        continue
            d, p = _dec(buf, p, end, depth)
            append(d)
    except _Err as e:
        e.parts.append(f"[{i}]")
        raise
    return items, p


def _dec(buf: bytes, pos: int, end: int, depth: int) -> tuple[Data, int]:
    """Decode one Data at ``pos`` (nesting level ``depth``); returns it and the end position."""
    if pos >= end:
        raise _Err("tag", pos, _need(1, 0))
    tag = buf[pos]
    p = pos + 1
    if tag == 2 or tag == 1:
        if depth >= MAX_DEPTH:
            raise _Err("tag", pos, f"nesting deeper than {MAX_DEPTH} levels")
        if p < end and buf[p] < 0x80:
            n = buf[p]
            p += 1
        else:
            n, p = _ber(buf, p, end)
        if n > end - p:
            raise _Err("length", pos + 1, f"{n} element(s) cannot fit in {end - p} byte(s)")
        items, p = _items(buf, p, end, n, depth + 1)
        d = _new(Data)
        _set_tag(d, _TAG_OF[tag])
        _set_value(d, tuple(items))
        return d, p
    cache = _BYTE_VALUES[tag]
    if cache is not None:
        if p >= end:
            raise _Err("value", p, _need(1, 0))
        return cache[buf[p]], p + 1
    unpack = _UNPACK[tag]
    if unpack is not None:
        size = _SIZE_OF[tag]
        if p + size > end:
            raise _Err("value", p, _need(size, end - p))
        return _mk(_TAG_OF[tag], unpack(buf, p)[0]), p + size  # type: ignore[arg-type]
    if tag == 9 or tag == 10 or tag == 12:
        n, p = _ber(buf, p, end)
        if p + n > end:
            raise _Err("value", p, _need(n, end - p))
        raw = buf[p : p + n]
        if tag == 9:
            return _mk(_OCTET_STRING, raw), p + n
        if tag == 10:
            return _mk(_VISIBLE_STRING, raw.decode("latin-1")), p + n
        return _mk(_UTF8_STRING, raw.decode("utf-8", "surrogateescape")), p + n
    if tag == 0:
        return NULL, p
    if tag == 4:
        bits, p = _ber(buf, p, end)
        n = (bits + 7) >> 3
        if p + n > end:
            raise _Err("value", p, _need(n, end - p))
        return _mk(_BIT_STRING, _make_bits(bits, buf[p : p + n])), p + n
    if tag == 255:
        return _DONT_CARE_DATA, p
    if tag == 19:
        return _dec_compact(buf, pos, end, depth)
    size = _FIXED_SIZE.get(tag)
    if size is not None:  # float32/64, date-time, date, time
        if p + size > end:
            raise _Err("value", p, _need(size, end - p))
        raw = buf[p : p + size]
        t = _TAG_OF[tag]
        if t == _DATE_TIME:
            return _mk(_DATE_TIME, DlmsDateTime.from_bytes(raw)), p + size
        if t == _DATE:
            return _mk(_DATE, DlmsDate.from_bytes(raw)), p + size
        if t == _TIME:
            return _mk(_TIME, DlmsTime.from_bytes(raw)), p + size
        return _mk(t, raw), p + size  # type: ignore[arg-type]
    raise _Err("tag", pos, f"unknown A-XDR data type {tag}")


_DONT_CARE_DATA = _mk(_DONT_CARE, None)


def _make_bits(length: int, data: bytes) -> BitString:
    b = _new(BitString)
    _set_bits_len(b, length)
    _set_bits_data(b, data)
    return b


def _dec_type(buf: bytes, pos: int, end: int, depth: int) -> tuple[TypeDescription, int]:
    if pos >= end:
        raise _Err("type_description", pos, _need(1, 0))
    tag = buf[pos]
    t = _TAG_OF[tag]
    if t is None or t == _COMPACT_ARRAY:
        raise _Err("type_description", pos, f"type {tag} not allowed in a type description")
    if t in (_ARRAY, _STRUCTURE):
        if depth >= MAX_DEPTH:
            raise _Err("type_description", pos, f"nesting deeper than {MAX_DEPTH} levels")
        if t == _ARRAY:
            if pos + 3 > end:
                raise _Err("type_description", pos + 1, _need(2, end - pos - 1))
            count = (buf[pos + 1] << 8) | buf[pos + 2]
            child, p = _dec_type(buf, pos + 3, end, depth + 1)
            return TypeDescription(t, count, (child,)), p
        n, p = _ber(buf, pos + 1, end, "type_description")
        if n > end - p:
            raise _Err("type_description", pos + 1, f"{n} element(s) cannot fit")
        children = []
        for _ in range(n):
            c, p = _dec_type(buf, p, end, depth + 1)
            children.append(c)
        return TypeDescription(t, n, tuple(children)), p
    return TypeDescription(t), pos + 1


def _fixed_size(td: TypeDescription) -> int | None:
    """Bytes per element of ``td`` in compact form, or ``None`` when variable."""
    t = td.tag
    if t == _ARRAY:
        s = _fixed_size(td.children[0])
        return None if s is None else s * td.count
    if t == _STRUCTURE:
        total = 0
        for c in td.children:
            s = _fixed_size(c)
            if s is None:
                return None
            total += s
        return total
    return _FIXED_SIZE.get(t)


def _type_nodes(td: TypeDescription) -> int:
    if td.tag == _ARRAY:
        return 1 + td.count * _type_nodes(td.children[0])
    if td.tag == _STRUCTURE:
        return 1 + sum(_type_nodes(c) for c in td.children)
    return 1


def _check_type_nodes(td: TypeDescription, offset: int = 0) -> None:
    if _type_nodes(td) > MAX_TYPE_NODES:
        raise _Err("type_description", offset, f"describes more than {MAX_TYPE_NODES} values")
    if _fixed_size(td) == 0:
        raise _Err("type_description", offset, "element type has zero size")


def _skip_compact(td: TypeDescription, buf: bytes, pos: int, end: int) -> int:
    """Position after one compact element of type ``td`` starting at ``pos``."""
    s = _fixed_size(td)
    if s is not None:
        if pos + s > end:
            raise _Err("contents", pos, _need(s, end - pos))
        return pos + s
    t = td.tag
    if t == _ARRAY:
        for _ in range(td.count):
            pos = _skip_compact(td.children[0], buf, pos, end)
        return pos
    if t == _STRUCTURE:
        for c in td.children:
            pos = _skip_compact(c, buf, pos, end)
        return pos
    if t == _BIT_STRING:
        bits, p = _ber(buf, pos, end, "contents")
        n = (bits + 7) >> 3
    else:  # octet/visible/utf8 string
        n, p = _ber(buf, pos, end, "contents")
    if p + n > end:
        raise _Err("contents", p, _need(n, end - p))
    return p + n


def _validate_contents(td: TypeDescription, buf: bytes, pos: int, end: int) -> None:
    s = _fixed_size(td)
    if s is not None:
        if (end - pos) % s:
            raise _Err(
                "contents", pos, f"{end - pos} byte(s) is not a multiple of element size {s}"
            )
        return
    while pos < end:
        pos = _skip_compact(td, buf, pos, end)


def _dec_compact(buf: bytes, pos: int, end: int, depth: int) -> tuple[Data, int]:
    td_start = pos + 1
    td, p = _dec_type(buf, td_start, end, depth + 1)
    _check_type_nodes(td, td_start)
    n, p = _ber(buf, p, end, "contents")
    if p + n > end:
        raise _Err("contents", p, _need(n, end - p))
    _validate_contents(td, buf, p, p + n)
    ca = _new(CompactArray)
    CompactArray.__dict__["type_description"].__set__(ca, td)
    CompactArray.__dict__["contents"].__set__(ca, buf[p : p + n])
    return _mk(_COMPACT_ARRAY, ca), p + n


def _dec_compact_one(td: TypeDescription, buf: bytes, pos: int, end: int) -> tuple[Data, int]:
    t = td.tag
    if t in (_ARRAY, _STRUCTURE):
        kids = td.children * td.count if t == _ARRAY else td.children
        items = []
        for c in kids:
            d, pos = _dec_compact_one(c, buf, pos, end)
            items.append(d)
        return _mk(t, tuple(items)), pos
    # A tag-less element decodes exactly like a tagged one: reuse the tagged decoder.
    tmp = bytes((t,)) + buf[pos : _skip_compact(td, buf, pos, end)]
    d, q = _dec(tmp, 0, len(tmp), MAX_DEPTH)
    return d, pos + q - 1


def _compact_elements(td: TypeDescription, buf: bytes, pos: int, end: int) -> tuple[Data, ...]:
    out = []
    while pos < end:
        d, pos = _dec_compact_one(td, buf, pos, end)
        out.append(d)
    return tuple(out)


def decode_data(reader: Reader, path: str | None = None) -> Data:
    """Decode one ``Data`` at ``reader.pos`` (advancing it).

    Errors name ``path`` (default: ``reader.path``) plus the element chain, e.g.
    ``payload.data[0][3].value``, and the absolute offset.
    """
    buf = reader.buf if type(reader.buf) is bytes else bytes(reader.buf)  # values must be immutable
    end = min(reader.end, len(buf))
    try:
        d, reader.pos = _dec(buf, reader.pos, end, 0)
    except _Err as e:
        raise e.to_public(reader.path if path is None else path) from None
    return d


def decode_data_bytes(data: bytes, path: str = "data") -> Data:
    """Decode ``data`` as exactly one ``Data`` (trailing bytes are an error)."""
    r = Reader(data, 0, len(data), path)
    d = decode_data(r, path)
    if r.pos != r.end:
        raise GbcsDecodeError(path, r.pos, f"{r.end - r.pos} unexpected trailing byte(s)")
    return d


# ---------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------


def _enc(d: Data, out: bytearray) -> None:
    tag = d.tag
    v = d.value
    out.append(tag)
    s = _INT_STRUCTS.get(tag)
    if s is not None:
        out += s.pack(v)
    elif tag in (_ARRAY, _STRUCTURE):
        out += encode_ber_length(len(v))
        for x in v:
            _enc(x, out)
    elif tag == _OCTET_STRING:
        out += encode_ber_length(len(v))
        out += v
    elif tag in (_VISIBLE_STRING, _UTF8_STRING):
        raw = (
            v.encode("latin-1") if tag == _VISIBLE_STRING else v.encode("utf-8", "surrogateescape")
        )
        out += encode_ber_length(len(raw))
        out += raw
    elif tag == _BIT_STRING:
        out += encode_ber_length(v.length)
        out += v.data
    elif tag in (_FLOAT32, _FLOAT64):
        out += v
    elif tag in (_DATE_TIME, _DATE, _TIME):
        out += v.to_bytes()
    elif tag == _COMPACT_ARRAY:
        out += v.type_description.encode()
        out += encode_ber_length(len(v.contents))
        out += v.contents
    # null-data / don't-care: the tag alone


def encode_data(d: Data) -> bytes:
    """The A-XDR encoding of ``d`` (shortest length forms)."""
    out = bytearray()
    _enc(d, out)
    return bytes(out)


def encode_data_into(d: Data, out: bytearray) -> None:
    """Append the encoding of ``d`` to ``out``."""
    _enc(d, out)


def encoded_size(d: Data) -> int:
    """``len(encode_data(d))`` without building the bytes."""
    tag = d.tag
    v = d.value
    if tag in (_ARRAY, _STRUCTURE):
        return 1 + ber_length_size(len(v)) + sum(encoded_size(x) for x in v)
    if tag == _OCTET_STRING:
        return 1 + ber_length_size(len(v)) + len(v)
    if tag in (_VISIBLE_STRING, _UTF8_STRING, _COMPACT_ARRAY):
        return len(encode_data(d))
    if tag == _BIT_STRING:
        return 1 + ber_length_size(v.length) + len(v.data)
    return 1 + _FIXED_SIZE[tag]


def _encode_compact(td: TypeDescription, d: Data, out: bytearray, where: str) -> None:
    if d.tag != td.tag:
        raise GbcsEncodeError(
            f"compact-array element {where}: expected {td}, got {TYPE_NAMES[d.tag]}"
        )
    if td.tag == _ARRAY or td.tag == _STRUCTURE:
        kids = td.children * td.count if td.tag == _ARRAY else td.children
        if len(d.value) != len(kids):
            raise GbcsEncodeError(
                f"compact-array element {where}: expected {len(kids)} items, got {len(d.value)}"
            )
        for i, (c, x) in enumerate(zip(kids, d.value, strict=True)):
            _encode_compact(c, x, out, f"{where}[{i}]")
        return
    out += encode_data(d)[1:]


# ---------------------------------------------------------------------------------------
# display
# ---------------------------------------------------------------------------------------


def _printable(b: bytes) -> bool:
    return bool(b) and all(0x20 <= c < 0x7F for c in b)


def _plausible_date(v: bytes) -> bool:
    month, day, weekday = v[2], v[3], v[4]
    return (
        (1 <= month <= 12 or month >= 0xFD)
        and (1 <= day <= 31 or day >= 0xFD)
        and (1 <= weekday <= 7 or weekday == 0xFF)
    )


def _plausible_time(v: bytes) -> bool:
    h, m, s, c = v[0], v[1], v[2], v[3]
    return (
        (h < 24 or h == 0xFF)
        and (m < 60 or m == 0xFF)
        and (s < 60 or s == 0xFF)
        and (c < 100 or c == 0xFF)
    )


def octet_string_str(v: bytes) -> str:
    """Hex plus a best-effort reading of common COSEM shapes.

    12 bytes that look like a date-time, 5 like a date, 4 like a time, 6 as an OBIS code,
    printable ASCII as text. Only a hint: the octet-string itself carries no type.
    """
    h = v.hex().upper()
    hint = None
    n = len(v)
    if n == 12 and _plausible_date(v[:5]) and _plausible_time(v[5:9]):
        hint = str(DlmsDateTime.from_bytes(v))
    elif n == 5 and _plausible_date(v):
        hint = str(DlmsDate.from_bytes(v))
    elif n == 4 and _plausible_time(v):
        hint = str(DlmsTime.from_bytes(v))
    elif n == 6:
        hint = "{}-{}:{}.{}.{}.{}".format(*v)
    elif _printable(v):
        hint = repr(v.decode("ascii"))
    return f"{h} ({hint})" if hint else (h or "empty")


def value_str(d: Data) -> str:
    """A short human-readable rendering of ``d``'s value."""
    t, v = d.tag, d.value
    if t in (_ARRAY, _STRUCTURE):
        return f"{len(v)} element{'s' if len(v) != 1 else ''}"
    if t in (_NULL_DATA, _DONT_CARE):
        return TYPE_NAMES[t].lower()
    if t == _BIT_STRING:
        return v.bits if v.length else "empty"
    if t == _BOOLEAN:
        return ("TRUE" if v else "FALSE") + ("" if v in (0, 0xFF) else f" (0x{v:02X})")
    if t == _OCTET_STRING:
        return octet_string_str(v)
    if t in (_VISIBLE_STRING, _UTF8_STRING):
        return repr(v)
    if t == _BCD:
        return f"0x{v:02X}"
    if t in (_FLOAT32, _FLOAT64):
        return repr(d.as_float())
    if t == _COMPACT_ARRAY:
        return f"{v.type_description}, {len(v.contents)} byte(s)"
    return str(v)


DisplayHook = Callable[[Data, str, bytes, int, int], "tuple[Field, int] | None"]
"""``hook(d, name, buf, pos, base)``: a custom node for ``d`` or ``None`` for the default."""


def data_field(
    d: Data,
    name: str,
    buf: bytes,
    pos: int,
    base: int,
    hook: DisplayHook | None = None,
) -> tuple[Field, int]:
    """Display node for ``d`` encoded at ``buf[pos:]``; returns it and the end position.

    ``base`` is the absolute offset of ``buf[0]``. Children are named ``[i] <Type>``.
    """
    if hook is not None:
        custom = hook(d, name, buf, pos, base)
        if custom is not None:
            return custom
    t = d.tag
    if t in (_ARRAY, _STRUCTURE):
        p = pos + 1 + ber_length_size(len(d.value))
        kids = []
        for i, x in enumerate(d.value):
            f, p = data_field(x, f"[{i}] {TYPE_NAMES[x.tag]}", buf, p, base, hook)
            kids.append(f)
        return Field(name, base + pos, bytes(buf[pos:p]), value_str(d), tuple(kids)), p
    if t == _COMPACT_ARRAY:
        return _compact_field(d.value, name, buf, pos, base), pos + encoded_size(d)
    end = pos + encoded_size(d)
    return Field(name, base + pos, bytes(buf[pos:end]), value_str(d)), end


def _compact_element_field(
    td: TypeDescription, el: Data, name: str, buf: bytes, p: int, base: int
) -> tuple[Field, int]:
    if td.tag in (_ARRAY, _STRUCTURE):
        kids_td = td.children * td.count if td.tag == _ARRAY else td.children
        start = p
        kids = []
        for i, (ctd, x) in enumerate(zip(kids_td, el.value, strict=True)):
            f, p = _compact_element_field(ctd, x, f"[{i}] {TYPE_NAMES[x.tag]}", buf, p, base)
            kids.append(f)
        return Field(name, base + start, bytes(buf[start:p]), value_str(el), tuple(kids)), p
    q = _skip_compact(td, buf, p, len(buf))
    return Field(name, base + p, bytes(buf[p:q]), value_str(el)), q


def _compact_field(ca: CompactArray, name: str, buf: bytes, pos: int, base: int) -> Field:
    td_raw = ca.type_description.encode()
    p = pos + 1
    td_field = Field("Type Description", base + p, td_raw, str(ca.type_description))
    p += len(td_raw)
    c_start = p
    p += ber_length_size(len(ca.contents))
    kids = []
    for i, el in enumerate(ca.elements()):
        f, p = _compact_element_field(
            ca.type_description, el, f"[{i}] {TYPE_NAMES[el.tag]}", buf, p, base
        )
        kids.append(f)
    contents = Field(
        "Contents", base + c_start, bytes(buf[c_start:p]), f"{len(kids)} element(s)", tuple(kids)
    )
    return Field(
        name,
        base + pos,
        bytes(buf[pos:p]),
        value_str(_mk(_COMPACT_ARRAY, ca)),
        (td_field, contents),
    )
