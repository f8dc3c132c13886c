"""Generic ASN.1 DER (``gbcs-wire.md`` §4.4): a tree that round-trips byte-exactly,
value builders, and the toolkit typed payload models decode with.

* :class:`DerNode` trees: any tag class and tag number (high-tag-number form included),
  definite lengths only, constructed values decoded recursively (depth bounded),
  primitive contents checked where DER fixes their form (BOOLEAN, INTEGER, ENUMERATED,
  NULL, BIT STRING, OBJECT IDENTIFIER, times). DER requires the shortest length form, but
  real RTDS device responses (CS02a/CS02b/CS02f/CS02g, alert 0x00CB/0x0124) use
  ``82 00 xx`` for lengths below 256: such a non-minimal form is accepted, kept in
  :attr:`DerNode.length_octets` and re-emitted as received; the display tree reports it.
  Nodes built from values use the shortest form.
* builders (:func:`der_integer`, :func:`der_sequence` …) and, for typed models
  (:mod:`gbcs.firmware`, the GCS28 models of :mod:`gbcs.asn1`), :class:`DerCursor`, the
  ``read_*`` helpers and :func:`named`. Typed models accept only the shortest length
  forms.

:mod:`gbcs.asn1` builds the message payload on this module and re-exports its names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Protocol, TypeVar

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field

_E = TypeVar("_E", bound=IntEnum)

MAX_DEPTH = 32
"""Deepest nesting of constructed values :func:`decode_der` accepts."""

MAX_TAG_OCTETS = 4  # high-tag-number form: up to 28-bit tag numbers
MAX_LENGTH_OCTETS = 4  # long length form: up to 0x84 (4 GiB, far beyond any buffer)


class TagClass(IntEnum):
    """The two class bits of an identifier octet."""

    UNIVERSAL = 0
    APPLICATION = 1
    CONTEXT = 2
    PRIVATE = 3


class UniversalTag(IntEnum):
    """Universal tag numbers (X.680) that appear in GBCS payloads and certificates."""

    BOOLEAN = 1
    INTEGER = 2
    BIT_STRING = 3
    OCTET_STRING = 4
    NULL = 5
    OBJECT_IDENTIFIER = 6
    OBJECT_DESCRIPTOR = 7
    EXTERNAL = 8
    REAL = 9
    ENUMERATED = 10
    EMBEDDED_PDV = 11
    UTF8_STRING = 12
    RELATIVE_OID = 13
    SEQUENCE = 16
    SET = 17
    NUMERIC_STRING = 18
    PRINTABLE_STRING = 19
    T61_STRING = 20
    VIDEOTEX_STRING = 21
    IA5_STRING = 22
    UTC_TIME = 23
    GENERALIZED_TIME = 24
    GRAPHIC_STRING = 25
    VISIBLE_STRING = 26
    GENERAL_STRING = 27
    UNIVERSAL_STRING = 28
    BMP_STRING = 30


_CLASSES = (TagClass.UNIVERSAL, TagClass.APPLICATION, TagClass.CONTEXT, TagClass.PRIVATE)
_UNIVERSAL_NAMES = {t.value: t.name.replace("_", " ") for t in UniversalTag}
_UNIVERSAL_NAMES[UniversalTag.UTF8_STRING] = "UTF8String"
_UNIVERSAL_NAMES[UniversalTag.NUMERIC_STRING] = "NumericString"
_UNIVERSAL_NAMES[UniversalTag.PRINTABLE_STRING] = "PrintableString"
_UNIVERSAL_NAMES[UniversalTag.T61_STRING] = "T61String"
_UNIVERSAL_NAMES[UniversalTag.VIDEOTEX_STRING] = "VideotexString"
_UNIVERSAL_NAMES[UniversalTag.IA5_STRING] = "IA5String"
_UNIVERSAL_NAMES[UniversalTag.UTC_TIME] = "UTCTime"
_UNIVERSAL_NAMES[UniversalTag.GENERALIZED_TIME] = "GeneralizedTime"
_UNIVERSAL_NAMES[UniversalTag.GRAPHIC_STRING] = "GraphicString"
_UNIVERSAL_NAMES[UniversalTag.VISIBLE_STRING] = "VisibleString"
_UNIVERSAL_NAMES[UniversalTag.GENERAL_STRING] = "GeneralString"
_UNIVERSAL_NAMES[UniversalTag.UNIVERSAL_STRING] = "UniversalString"
_UNIVERSAL_NAMES[UniversalTag.BMP_STRING] = "BMPString"

_STRING_TAGS = frozenset({12, 18, 19, 20, 21, 22, 25, 26, 27})
# Universal types DER requires in primitive form; SEQUENCE/SET must be constructed.
_PRIMITIVE_ONLY = frozenset({1, 2, 3, 4, 5, 6, 9, 10, 13, 23, 24} | _STRING_TAGS | {28, 30})
_CONSTRUCTED_ONLY = frozenset({8, 11, 16, 17})
_UTC_TIME_RE = re.compile(rb"\d{12}Z\Z")
_GENERALIZED_TIME_RE = re.compile(rb"\d{14}(\.\d*[1-9])?Z\Z")


# --------------------------------------------------------------------------- DER node


class _SizeMemo:
    """Holds a node's memoised content size outside the dataclass fields (not compared)."""

    __slots__ = ("_content_size",)


_set_content_size = _SizeMemo._content_size.__set__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DerNode(_SizeMemo):
    """One DER TLV.

    ``value`` is the content bytes of a primitive node or the child nodes of a
    constructed one. ``length_octets`` is 0 for the shortest (DER) length form, or the
    number of length octets of a non-minimal long form kept from the received bytes
    (``82 00 83`` → 2), which :meth:`encode` reproduces.
    """

    tag_class: TagClass
    constructed: bool
    tag_number: int
    value: bytes | tuple[DerNode, ...]
    length_octets: int = 0

    def __post_init__(self) -> None:
        # Decoding builds nodes without __init__; this guards nodes built by hand.
        if self.constructed != isinstance(self.value, tuple):
            raise GbcsEncodeError("a constructed node holds child nodes, a primitive one bytes")
        if self.tag_number < 0 or not 0 <= self.length_octets <= MAX_LENGTH_OCTETS:
            raise GbcsEncodeError("tag number or length-octet count out of range")

    @property
    def children(self) -> tuple[DerNode, ...]:
        """Child nodes (empty for a primitive node)."""
        v = self.value
        return v if isinstance(v, tuple) else ()

    @property
    def content(self) -> bytes:
        """The content octets (children re-encoded for a constructed node)."""
        v = self.value
        return v if isinstance(v, bytes) else b"".join(c.encode() for c in v)

    def is_universal(self, number: int) -> bool:
        """True for the universal type ``number`` (e.g. ``UniversalTag.INTEGER``)."""
        return self.tag_class is TagClass.UNIVERSAL and self.tag_number == number

    def tag_bytes(self) -> bytes:
        """The identifier octets."""
        return _encode_tag(self.tag_class, self.constructed, self.tag_number)

    def encode(self) -> bytes:
        """The exact TLV bytes."""
        content = self.content
        return self.tag_bytes() + _encode_length(len(content), self.length_octets) + content

    def content_size(self) -> int:
        """Number of content octets."""
        try:
            return self._content_size
        except AttributeError:
            pass
        v = self.value
        n = len(v) if isinstance(v, bytes) else sum(c.size() for c in v)
        _set_content_size(self, n)  # immutable node: the size never changes
        return n

    def header_size(self) -> int:
        """Bytes of identifier plus length octets."""
        lo = self.length_octets or _length_octets_needed(self.content_size())
        tag = 1 if self.tag_number < 31 else 1 + _base128_size(self.tag_number)
        return tag + (1 if lo == 0 else 1 + lo)

    def size(self) -> int:
        """Bytes of the whole TLV."""
        return self.header_size() + self.content_size()

    def type_name(self) -> str:
        """``SEQUENCE``, ``INTEGER``, ``[0]``, ``[APPLICATION 3]``…"""
        return type_name(self.tag_class, self.tag_number)

    def display_value(self) -> str | None:
        """A readable rendering of a primitive value (None for constructed nodes)."""
        if self.constructed:
            if self.length_octets:
                return _nonminimal_note(self)
            return None
        text = _render_primitive(self)
        if self.length_octets:
            note = _nonminimal_note(self)
            return note if text is None else f"{text} ({note})"
        return text

    def field(self, offset: int = 0, name: str | None = None) -> Field:
        """Display-tree node for this TLV placed at ``offset``; children laid out below."""
        kids: tuple[Field, ...] = ()
        if self.constructed:
            kids = tuple(c.field(o) for c, o in iter_children(self, offset))
        return Field(name or self.type_name(), offset, self.encode(), self.display_value(), kids)


def type_name(tag_class: TagClass, number: int) -> str:
    """Display name of a tag: ``SEQUENCE``, ``INTEGER``, ``[0]``, ``[APPLICATION 3]``…"""
    if tag_class is TagClass.UNIVERSAL:
        return _UNIVERSAL_NAMES.get(number, f"[UNIVERSAL {number}]")
    if tag_class is TagClass.CONTEXT:
        return f"[{number}]"
    return f"[{tag_class.name} {number}]"


def _nonminimal_note(node: DerNode) -> str:
    return f"non-minimal length form ({node.length_octets} length octets) kept as received"


def _base128_size(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def _encode_base128(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _encode_tag(tag_class: TagClass, constructed: bool, number: int) -> bytes:
    first = (int(tag_class) << 6) | (0x20 if constructed else 0)
    if number < 0:
        raise GbcsEncodeError(f"negative tag number {number}")
    if number < 31:
        return bytes((first | number,))
    if number >= 1 << (7 * MAX_TAG_OCTETS):
        raise GbcsEncodeError(f"tag number {number} too large")
    return bytes((first | 0x1F,)) + _encode_base128(number)


def _length_octets_needed(n: int) -> int:
    """0 for the short form, else the number of octets of the shortest long form."""
    return 0 if n < 0x80 else (n.bit_length() + 7) // 8


def _encode_length(n: int, length_octets: int = 0) -> bytes:
    if length_octets == 0:
        if n < 0x80:
            return bytes((n,))
        length_octets = (n.bit_length() + 7) // 8
    if length_octets > MAX_LENGTH_OCTETS or n >= 1 << (8 * length_octets):
        raise GbcsEncodeError(f"length {n} does not fit {length_octets} length octet(s)")
    return bytes((0x80 | length_octets,)) + n.to_bytes(length_octets, "big")


def iter_children(node: DerNode, offset: int) -> Iterator[tuple[DerNode, int]]:
    """``(child, absolute offset)`` pairs of a constructed ``node`` placed at ``offset``."""
    pos = offset + node.header_size()
    for c in node.children:
        yield c, pos
        pos += c.size()


# --------------------------------------------------------------------------- decoding
#
# Decoding is two passes: a validating walk that allocates nothing (fast enough to run
# on every message: the big CS02b commands carry several certificates, hundreds of
# TLVs), and a builder that turns validated bytes into DerNode objects, run only when a
# caller asks for the tree (typed models, display, ``Asn1Payload.nodes``).

# An OBJECT IDENTIFIER (or RELATIVE-OID) body: sub-identifiers in minimal base 128.
_OID_RE = re.compile(rb"(?:[\x00-\x7f]|[\x81-\xff][\x80-\xff]*[\x00-\x7f])+\Z")
_CHECKED_PRIMITIVES = frozenset({1, 2, 3, 5, 6, 10, 13, 23, 24})


def _fail(path: str, offset: int, reason: str) -> GbcsDecodeError:
    return GbcsDecodeError(path, offset, reason)


def _check_primitive(num: int, buf: bytes, pos: int, n: int) -> None:
    """DER content rules of universal primitive types; raises with a relative path."""
    if num == 2 or num == 10:  # INTEGER / ENUMERATED
        if n == 0:
            raise _fail(".value", pos, f"empty {_UNIVERSAL_NAMES[num]}")
        if n > 1:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if (b0 == 0 and b1 < 0x80) or (b0 == 0xFF and b1 >= 0x80):
                raise _fail(".value", pos, f"non-minimal {_UNIVERSAL_NAMES[num]} encoding")
    elif num == 1:
        if n != 1 or buf[pos] not in (0x00, 0xFF):
            raise _fail(".value", pos, "BOOLEAN must be one byte 00 or FF")
    elif num == 5:
        if n:
            raise _fail(".value", pos, f"NULL with {n} content byte(s)")
    elif num == 3:
        if n == 0:
            raise _fail(".value", pos, "BIT STRING without its unused-bits byte")
        unused = buf[pos]
        if unused > 7 or (n == 1 and unused):
            raise _fail(".value", pos, f"BIT STRING with {unused} unused bits")
        if unused and buf[pos + n - 1] & ((1 << unused) - 1):
            raise _fail(".value", pos + n - 1, "BIT STRING unused bits not zero")
    elif num == 6 or num == 13:
        if (n or num == 6) and not _OID_RE.match(buf, pos, pos + n):
            raise _fail(".value", pos, f"malformed {_UNIVERSAL_NAMES[num]}")
    elif num == 23:
        if not _UTC_TIME_RE.match(buf, pos, pos + n):
            raise _fail(".value", pos, "UTCTime must be YYMMDDHHMMSSZ")
    elif num == 24 and not _GENERALIZED_TIME_RE.match(buf, pos, pos + n):
        raise _fail(".value", pos, "GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z")


def _long_tag(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """High-tag-number form after the first identifier octet: ``(number, new pos)``."""
    start = pos
    num = 0
    while True:
        if pos >= end:
            raise _fail(".tag", pos, "needs 1 byte(s), 0 left")
        b = buf[pos]
        if pos == start and b == 0x80:
            raise _fail(".tag", pos, "non-minimal tag number encoding")
        pos += 1
        num = (num << 7) | (b & 0x7F)
        if not b & 0x80:
            break
        if pos - start >= MAX_TAG_OCTETS:
            raise _fail(".tag", start, "tag number too large")
    if num < 31:
        raise _fail(".tag", start - 1, f"high-tag-number form for tag {num}")
    return num, pos


def _tag_kind(t: int) -> int:
    """What the validator does after identifier octet ``t`` (see ``_TAG_KIND``)."""
    num = t & 0x1F
    universal = t < 0x40
    if num == 0x1F or t == 0:
        return _K_SLOW
    if t & 0x20:
        return _K_SLOW if universal and num in _PRIMITIVE_ONLY else _K_CONSTRUCTED
    if universal and num in _CONSTRUCTED_ONLY:
        return _K_SLOW
    return _K_CHECKED if universal and num in _CHECKED_PRIMITIVES else _K_PLAIN


_K_PLAIN, _K_CONSTRUCTED, _K_CHECKED, _K_SLOW = range(4)
# One lookup per TLV instead of several tests: the validator's hot path.
_TAG_KIND = tuple(_tag_kind(t) for t in range(256))


def _slow_tag(t: int, buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Identifier octets the table does not settle: ``(kind, new pos)``."""
    num = t & 0x1F
    if t == 0:
        raise _fail(".tag", pos - 1, "end-of-contents octets are not allowed in DER")
    if num == 0x1F:
        _, pos = _long_tag(buf, pos, end)  # universal types >= 31 are not checked
        return (_K_CONSTRUCTED if t & 0x20 else _K_PLAIN), pos
    form = "constructed" if t & 0x20 else "primitive"
    raise _fail(".tag", pos - 1, f"{form} {_UNIVERSAL_NAMES[num]} not allowed in DER")


def _validate(buf: bytes, pos: int, end: int, depth: int) -> int:
    """Check every TLV in ``buf[pos:end]``; returns how many there are.

    Errors carry a path relative to this level (``[2].length``), prefixed by callers.
    """
    kinds = _TAG_KIND
    idx = 0
    while pos < end:
        try:
            tstart = pos
            t = buf[pos]
            kind = kinds[t]
            pos += 1
            if kind == _K_SLOW:
                kind, pos = _slow_tag(t, buf, pos, end)
            if pos >= end:
                raise _fail(".length", pos, "needs 1 byte(s), 0 left")
            f = buf[pos]
            pos += 1
            if f < 0x80:
                n = f
            else:
                k = f & 0x7F
                if k == 0:
                    raise _fail(".length", pos - 1, "indefinite length is not allowed in DER")
                if k > MAX_LENGTH_OCTETS:
                    raise _fail(".length", pos - 1, f"unsupported length form 0x{f:02X}")
                if pos + k > end:
                    raise _fail(".length", pos, f"needs {k} byte(s), {end - pos} left")
                n = int.from_bytes(buf[pos : pos + k], "big")
                pos += k
            if n > end - pos:
                raise _fail(".value", pos, f"needs {n} byte(s), {end - pos} left")
            if kind == _K_CONSTRUCTED:
                if depth >= MAX_DEPTH:
                    raise _fail("", tstart, f"nesting deeper than {MAX_DEPTH} levels")
                _validate(buf, pos, pos + n, depth + 1)
            elif kind == _K_CHECKED:
                _check_primitive(t, buf, pos, n)
            pos += n
        except GbcsDecodeError as e:
            raise GbcsDecodeError(f"[{idx}]{e.path}", e.offset, e.reason) from None
        idx += 1
    return idx


_new = object.__new__
_set_class = DerNode.tag_class.__set__  # type: ignore[attr-defined]
_set_constructed = DerNode.constructed.__set__  # type: ignore[attr-defined]
_set_number = DerNode.tag_number.__set__  # type: ignore[attr-defined]
_set_value = DerNode.value.__set__  # type: ignore[attr-defined]
_set_lo = DerNode.length_octets.__set__  # type: ignore[attr-defined]


def _build(buf: bytes, pos: int, end: int) -> tuple[DerNode, ...]:
    """Nodes of already validated TLVs (no checks; fills the slots directly for speed)."""
    out = []
    while pos < end:
        t = buf[pos]
        pos += 1
        num = t & 0x1F
        if num == 0x1F:
            num = 0
            while True:
                b = buf[pos]
                pos += 1
                num = (num << 7) | (b & 0x7F)
                if not b & 0x80:
                    break
        f = buf[pos]
        pos += 1
        lo = 0
        if f < 0x80:
            n = f
        else:
            k = f & 0x7F
            n = int.from_bytes(buf[pos : pos + k], "big")
            if n < 0x80 or buf[pos] == 0:
                lo = k  # non-minimal form seen in RTDS device responses: keep it
            pos += k
        node = _new(DerNode)
        _set_class(node, _CLASSES[t >> 6])
        if t & 0x20:
            _set_constructed(node, True)
            _set_value(node, _build(buf, pos, pos + n))
        else:
            _set_constructed(node, False)
            _set_value(node, buf[pos : pos + n])
        _set_number(node, num)
        _set_lo(node, lo)
        _set_content_size(node, n)
        out.append(node)
        pos += n
    return tuple(out)


def validate_der(buf: bytes, start: int = 0, end: int | None = None, path: str = "der") -> int:
    """Check that ``buf[start:end]`` is one or more DER TLVs; returns how many.

    Errors name ``path`` followed by the node's position (``der[0][2].length``) and
    the absolute offset in ``buf``.
    """
    stop = len(buf) if end is None else end
    if start >= stop:
        raise GbcsDecodeError(path, start, "empty DER content")
    try:
        return _validate(buf, start, stop, 0)
    except GbcsDecodeError as e:
        raise GbcsDecodeError(f"{path}{e.path}", e.offset, e.reason) from None


def decode_der(
    buf: bytes, start: int = 0, end: int | None = None, path: str = "der"
) -> tuple[DerNode, ...]:
    """All top-level TLVs of ``buf[start:end]`` (at least one), validated as in
    :func:`validate_der`."""
    stop = len(buf) if end is None else end
    validate_der(buf, start, stop, path)
    return _build(buf, start, stop)


def decode_der_node(buf: bytes, path: str = "der") -> DerNode:
    """Exactly one TLV filling ``buf``."""
    nodes = decode_der(buf, 0, len(buf), path)
    if len(nodes) != 1:
        raise GbcsDecodeError(path, nodes[0].size(), "unexpected bytes after the TLV")
    return nodes[0]


# --------------------------------------------------------------------------- display values


def oid_to_str(content: bytes) -> str:
    """Dotted form of OBJECT IDENTIFIER contents (assumed valid)."""
    arcs: list[int] = []
    v = 0
    for b in content:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            if not arcs:
                first = 0 if v < 40 else 1 if v < 80 else 2
                arcs.extend((first, v - 40 * first))
            else:
                arcs.append(v)
            v = 0
    return ".".join(map(str, arcs))


def _time_text(num: int, s: str) -> str:
    if num == UniversalTag.UTC_TIME:
        yy = int(s[0:2])
        s = f"{1900 + yy if yy >= 50 else 2000 + yy}{s[2:]}"
    frac = s[14:-1]
    return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}{frac}Z"


def _render_primitive(node: DerNode) -> str | None:
    v = node.value
    assert isinstance(v, bytes)
    if node.tag_class is not TagClass.UNIVERSAL:
        return v.hex().upper() if v else None
    num = node.tag_number
    if num in (2, 10):
        return str(int.from_bytes(v, "big", signed=True))
    if num == 1:
        return "TRUE" if v == b"\xff" else "FALSE"
    if num == 5:
        return None
    if num == 3:
        unused = v[0]
        bits = "".join(f"{b:08b}" for b in v[1:])
        return bits[: len(bits) - unused] if unused else bits
    if num == 6:
        return oid_to_str(v)
    if num in (23, 24):
        return _time_text(num, v.decode("ascii"))
    if num in _STRING_TAGS:
        return v.decode("utf-8" if num == 12 else "latin-1", errors="replace")
    if num == 30:
        return v.decode("utf-16-be", errors="replace")
    if num == 28:
        return v.decode("utf-32-be", errors="replace")
    return v.hex().upper() if v else None


# --------------------------------------------------------------------------- builders


def der_integer(value: int) -> DerNode:
    """INTEGER in minimal two's complement."""
    return DerNode(TagClass.UNIVERSAL, False, 2, _int_bytes(value))


def der_enumerated(value: int) -> DerNode:
    """ENUMERATED in minimal two's complement."""
    return DerNode(TagClass.UNIVERSAL, False, 10, _int_bytes(value))


def _int_bytes(value: int) -> bytes:
    # minimal two's complement: -128 is 80, not FF 80 (a negative value needs the bits
    # of its complement plus the sign bit)
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def der_boolean(value: bool) -> DerNode:
    """BOOLEAN (``FF`` for true)."""
    return DerNode(TagClass.UNIVERSAL, False, 1, b"\xff" if value else b"\x00")


def der_null() -> DerNode:
    """NULL."""
    return DerNode(TagClass.UNIVERSAL, False, 5, b"")


def der_octet_string(value: bytes) -> DerNode:
    """OCTET STRING."""
    return DerNode(TagClass.UNIVERSAL, False, 4, bytes(value))


def der_bit_string(data: bytes, unused_bits: int = 0) -> DerNode:
    """BIT STRING with ``unused_bits`` (0–7) trailing bits of ``data`` unused (and zero)."""
    if not 0 <= unused_bits <= 7 or (unused_bits and not data):
        raise GbcsEncodeError(f"invalid unused-bits count {unused_bits}")
    if unused_bits and data[-1] & ((1 << unused_bits) - 1):
        raise GbcsEncodeError("unused bits of a BIT STRING must be zero")
    return DerNode(TagClass.UNIVERSAL, False, 3, bytes((unused_bits,)) + bytes(data))


def der_oid(dotted: str) -> DerNode:
    """OBJECT IDENTIFIER from its dotted form."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise GbcsEncodeError(f"invalid OID {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise GbcsEncodeError(f"invalid OID {dotted!r}")
    body = _encode_base128(40 * arcs[0] + arcs[1]) + b"".join(_encode_base128(a) for a in arcs[2:])
    return DerNode(TagClass.UNIVERSAL, False, 6, body)


def der_generalized_time(value: datetime) -> DerNode:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` (timezone-aware, whole seconds)."""
    return DerNode(TagClass.UNIVERSAL, False, 24, _gt_text(value))


def der_sequence(*children: DerNode) -> DerNode:
    """SEQUENCE of ``children``."""
    return DerNode(TagClass.UNIVERSAL, True, 16, tuple(children))


def der_set(*children: DerNode) -> DerNode:
    """SET of ``children`` (kept in the given order)."""
    return DerNode(TagClass.UNIVERSAL, True, 17, tuple(children))


def der_tagged(
    number: int, value: bytes | tuple[DerNode, ...], cls: TagClass = TagClass.CONTEXT
) -> DerNode:
    """A tagged node: primitive when ``value`` is bytes, constructed when it is nodes."""
    return DerNode(cls, isinstance(value, tuple), number, value)


def _gt_text(value: datetime) -> bytes:
    if value.tzinfo is None or value.utcoffset() is None:
        raise GbcsEncodeError("GeneralizedTime needs a timezone-aware datetime")
    if value.microsecond:
        raise GbcsEncodeError("GeneralizedTime in GBCS carries whole seconds only")
    u = value.astimezone(UTC)
    return f"{u.year:04d}{u.month:02d}{u.day:02d}{u.hour:02d}{u.minute:02d}{u.second:02d}Z".encode()


# --------------------------------------------------------------------------- typed helpers


class Asn1Model(Protocol):
    """What typed ASN.1 payload models offer (CS06, GCS28…)."""

    def to_der(self) -> DerNode:
        """The DER tree of the value."""
        ...

    def encode(self) -> bytes:
        """The exact DER bytes."""
        ...

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        """Display tree with the model's field names, laid out from ``base``."""
        ...


class DerCursor:
    """Walks the children of a constructed node for a typed decoder.

    Offsets are absolute (the node's own offset is given), paths are ``path.field``.
    """

    __slots__ = ("_i", "_kids", "_pos", "offset", "path")

    def __init__(self, node: DerNode, offset: int, path: str) -> None:
        check_minimal(node, offset, path)
        self._kids = node.children
        self._i = 0
        self._pos = offset + node.header_size()
        self.offset = offset
        self.path = path

    def peek(self) -> DerNode | None:
        """The next child, or None at the end."""
        return self._kids[self._i] if self._i < len(self._kids) else None

    @property
    def position(self) -> int:
        """Absolute offset of the next child (or of the end of the node)."""
        return self._pos

    def take(
        self, field: str, tag_class: TagClass, number: int, constructed: bool
    ) -> tuple[DerNode, int, str]:
        """The next child, which must carry the given tag: ``(node, offset, path)``."""
        p = f"{self.path}.{field}"
        if self._i >= len(self._kids):
            raise GbcsDecodeError(p, self._pos, "missing")
        node = self._kids[self._i]
        if (
            node.tag_class is not tag_class
            or node.tag_number != number
            or node.constructed != constructed
        ):
            want = type_name(tag_class, number)
            raise GbcsDecodeError(p, self._pos, f"expected {want}, found {node.type_name()}")
        off = self._pos
        check_minimal(node, off, p)
        self._i += 1
        self._pos += node.size()
        return node, off, p

    def universal(self, field: str, number: int) -> tuple[DerNode, int, str]:
        """The next child as universal type ``number`` (SEQUENCE/SET constructed)."""
        return self.take(field, TagClass.UNIVERSAL, number, number in _CONSTRUCTED_ONLY)

    def done(self) -> None:
        """Fail if children are left over."""
        if self._i < len(self._kids):
            extra = self._kids[self._i]
            raise GbcsDecodeError(
                self.path, self._pos, f"unexpected {extra.type_name()} after the last field"
            )


def check_minimal(node: DerNode, offset: int, path: str) -> None:
    """Typed models re-encode with the shortest length form: refuse any other."""
    if node.length_octets:
        raise GbcsDecodeError(
            path, offset + 1, "non-minimal length form not supported by this typed model"
        )


def read_uint(node: DerNode, offset: int, path: str, bits: int = 64) -> int:
    """An INTEGER that must lie in ``0 .. 2**bits - 1``."""
    v = int.from_bytes(node.content, "big", signed=True)
    if v < 0 or v.bit_length() > bits:
        raise GbcsDecodeError(path, offset, f"INTEGER {v} outside 0..2^{bits}-1")
    return v


def read_enum(node: DerNode, offset: int, path: str, enum: type[_E]) -> _E:
    """An INTEGER or ENUMERATED whose value must be a member of ``enum``."""
    v = int.from_bytes(node.content, "big", signed=True)
    try:
        return enum(v)
    except ValueError:
        raise GbcsDecodeError(path, offset, f"unknown {enum.__name__} value {v}") from None


def read_octets(node: DerNode, offset: int, path: str, size: int | None = None) -> bytes:
    """OCTET STRING contents, optionally of an exact size."""
    v = node.content
    if size is not None and len(v) != size:
        raise GbcsDecodeError(path, offset, f"must be {size} bytes, found {len(v)}")
    return v


def read_generalized_time(node: DerNode, offset: int, path: str) -> datetime:
    """A GeneralizedTime of the GBCS form ``YYYYMMDDHHMMSSZ`` as an aware UTC datetime."""
    s = node.content
    if len(s) != 15:
        raise GbcsDecodeError(path, offset, "GeneralizedTime must be YYYYMMDDHHMMSSZ")
    try:
        return datetime(
            int(s[0:4]),
            int(s[4:6]),
            int(s[6:8]),
            int(s[8:10]),
            int(s[10:12]),
            int(s[12:14]),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise GbcsDecodeError(path, offset, f"invalid date-time {s.decode('ascii')}: {e}") from None


def time_text(value: datetime) -> str:
    """Display form of a GeneralizedTime value (``2030-01-15T09:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def named(
    name: str,
    node: DerNode,
    offset: int,
    value: object = None,
    children: tuple[Field, ...] = (),
) -> Field:
    """A display node with a typed model's field name over ``node`` at ``offset``."""
    return Field(name, offset, node.encode(), None if value is None else str(value), children)
