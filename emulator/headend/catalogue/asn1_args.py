"""Typed, JSON-able, lossless arguments of ASN.1 (DER) command payloads.

:func:`explain_asn1` turns the DER payload of a command into a JSON-able ``dict`` of
named, typed arguments; :func:`build_asn1` turns such a ``dict`` back into the payload,
byte for byte: ``build_asn1(explain_asn1(p, code), code).encode() == p.encode()`` for
any DER payload ``p``.

**Typed form.** Every ASN.1 command message code GBCS defines (:data:`TYPED_CODES`: CS02a–g,
CS03A1/A2/B/C, CS04AC/B, CS06, CS07, CS08, GCS28, GCS59) has a schema here, written
from the GBCS ASN.1 as the RTDS 4.5.0 commands carry it and the public ``gbcs-parser``
names its fields. Field names are the ASN.1 identifiers in snake case
(``authorising_remote_party_seq_number``). Values:

* INTEGER / ENUMERATED: ``int``, or the **name** (lower snake case) where GBCS gives the
  values names (remote-party roles, join methods, device types, replacement modes, cell
  usages…). A value without a name stays an ``int``; a builder accepts a name (any case,
  ``-``/space for ``_``) or an ``int``;
* key usage (BIT STRING of X.509 named bits): the bit name (``"digital_signature"``), or
  a list of names when not exactly one bit is set;
* GeneralizedTime: ISO 8601 text in UTC, ``2015-01-01T00:30:00Z``, fractional seconds kept
  as encoded (``…:00.25Z``); builders also take any ISO 8601 time with an offset;
* EUI-64: 16 upper-case hex digits (an identifier, not opaque octets);
* optional fields: ``None`` when absent (DEFAULT fields: ``None`` means the default);
  builders treat a missing optional key as ``None``. A few fields have a default fixed by
  the message code (the replacement mode of CS02b/CS02g, the join method of CS03x).

**Opaque rule.** Upper-case hex appears in the typed form only where GBCS itself carries
opaque octets (:data:`OPAQUE_GBCS_TYPES`): X.509 certificates (the whole DER TLV),
the CS06 manufacturer image hash, and key material (the CS02b plaintext symmetric key).
:func:`iter_leaves` walks arguments with the schema and says which leaves are opaque;
the tests assert the rule.

**Generic form.** A payload the typed schema does not fit exactly (another message
code, a response or alert payload, a non-minimal DER length, a value outside a field's
range…) is explained as its DER tree: ``{"der": [node, …]}`` where a node is
``{"tag": "SEQUENCE", "children": [...]}`` or a primitive ``{"tag": "INTEGER",
"value": 5}`` (INTEGER, ENUMERATED, BOOLEAN, NULL, OBJECT IDENTIFIER, times and text
strings) or ``{"tag": "OCTET STRING", "hex": "00DB…"}`` (any other content), plus
``"length_octets"`` for a non-minimal length form kept as received. Tags are written as
:func:`gbcs.der.type_name` writes them (``[3]``, ``[APPLICATION 1]``). :func:`asn1_form`
says which form arguments have.

The typed explanation is checked by building it again: if that does not reproduce the
payload exactly, the generic form is used, so explanations are lossless by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Literal

from devices.credentials import MODE_BY_CODE, CellUsage, ReplacementMode
from devices.han_joins import HanDeviceType, JoinMethod
from gbcs.asn1 import Asn1Payload, decode_asn1
from gbcs.der import (
    DerNode,
    TagClass,
    UniversalTag,
    decode_der,
    decode_der_node,
    der_integer,
    der_oid,
    oid_to_str,
    type_name,
    validate_der,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from keys.roles import RemotePartyRole

__all__ = [
    "GENERIC_KEY",
    "OPAQUE_GBCS_TYPES",
    "TYPED_CODES",
    "Asn1ArgsError",
    "Leaf",
    "asn1_form",
    "build_asn1",
    "describe_asn1",
    "explain_asn1",
    "iter_leaves",
]

Json = Any
"""A JSON-able value: dict, list, str, int, bool or None."""

GENERIC_KEY = "der"
"""The only key of generic (DER tree) arguments."""

OPAQUE_GBCS_TYPES: Mapping[str, str] = {
    "Certificate": "an X.509 certificate, the whole DER TLV",
    "ImageHash": "the SHA-256 manufacturer image hash of CS06 (32 octets)",
    "KeyMaterial": "the plaintext symmetric key of CS02b (key material)",
}
"""The GBCS types whose octets are opaque, the only ones written as hex in typed form."""

_UINT64 = (0, (1 << 64) - 1)
_SMALL = (0, 0xFFFF)


class Asn1ArgsError(ValueError):
    """Arguments that do not fit the payload: ``path`` names the argument
    (``args.replacements[0].certificate``), ``reason`` says what is allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class _NoFit(Exception):
    """The DER does not fit the typed schema (explain falls back to the generic form)."""


_MISSING: Any = object()


# --------------------------------------------------------------------------- value helpers


def _norm_name(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip()).lower()


def _hex(value: Json, path: str, size: int | None = None, what: str = "hex") -> bytes:
    if not isinstance(value, str):
        raise Asn1ArgsError(path, f"expected {what} text, got {_json_type(value)}")
    text = re.sub(r"\s+", "", value)
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", text):
        raise Asn1ArgsError(path, f"expected {what} text (pairs of hex digits), got {value!r}")
    data = bytes.fromhex(text)
    if size is not None and len(data) != size:
        raise Asn1ArgsError(path, f"must be {size} octets ({2 * size} hex digits), got {len(data)}")
    return data


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _int(value: Json, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Asn1ArgsError(path, f"expected an integer {lo}..{hi}, got {_json_type(value)}")
    if not lo <= value <= hi:
        raise Asn1ArgsError(path, f"{value} is outside {lo}..{hi}")
    return value


_ISO_Z = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d*[1-9])?Z\Z")


def _time_to_iso(text: str) -> str:
    """GeneralizedTime text ``YYYYMMDDHHMMSS[.f]Z`` to ISO 8601 (UTC, fraction kept)."""
    frac = text[14:-1]
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}{frac}Z"


def _iso_to_time(value: Json, path: str) -> bytes:
    """ISO 8601 text to GeneralizedTime content (``Z`` forms kept digit for digit)."""
    if not isinstance(value, str):
        raise Asn1ArgsError(path, f"expected an ISO 8601 date-time text, got {_json_type(value)}")
    m = _ISO_Z.match(value)
    if m:
        try:
            datetime(*(int(g) for g in m.groups()[:6]), tzinfo=UTC)
        except ValueError as e:
            raise Asn1ArgsError(path, f"invalid date-time {value!r}: {e}") from None
        return ("".join(m.groups()[:6]) + (m.group(7) or "") + "Z").encode()
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Asn1ArgsError(
            path, f"expected an ISO 8601 date-time such as 2015-01-01T00:30:00Z, got {value!r}"
        ) from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise Asn1ArgsError(path, f"{value!r} needs a time zone (Z or an offset such as +01:00)")
    u = t.astimezone(UTC)
    frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
    return (u.strftime("%Y%m%d%H%M%S") + frac + "Z").encode()


_KEY_USAGE_BITS = (
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _bits_of(content: bytes) -> list[int]:
    unused = content[0]
    data = content[1:]
    total = 8 * len(data) - unused
    return [i for i in range(total) if data[i // 8] & (0x80 >> (i % 8))]


def _named_bits(bits: Sequence[int]) -> bytes:
    """DER named-bit BIT STRING contents: trailing zero bits removed."""
    if not bits:
        return b"\x00"
    last = max(bits)
    data = bytearray(last // 8 + 1)
    for b in bits:
        data[b // 8] |= 0x80 >> (b % 8)
    return bytes((7 - last % 8,)) + bytes(data)


# --------------------------------------------------------------------------- schema types


@dataclass(frozen=True, slots=True)
class _Tag:
    cls: TagClass
    constructed: bool
    number: int

    def matches(self, node: DerNode) -> bool:
        return (
            node.tag_class is self.cls
            and node.constructed == self.constructed
            and node.tag_number == self.number
        )

    @property
    def text(self) -> str:
        return type_name(self.cls, self.number)


def _u(number: int) -> _Tag:
    return _Tag(TagClass.UNIVERSAL, number in (16, 17), number)


def _ctx(number: int, constructed: bool = False) -> _Tag:
    return _Tag(TagClass.CONTEXT, constructed, number)


class _Type:
    """One ASN.1 type of a schema: reads DER into JSON, builds DER from JSON.

    ``kind`` classifies the JSON value (the opaque rule keys on it); ``gbcs_type`` names
    the GBCS type for opaque octets.
    """

    tag: _Tag
    kind: str = ""
    gbcs_type: str | None = None

    def node(self, node: DerNode) -> Json:
        """The JSON value of ``node`` (raises :class:`_NoFit`)."""
        if not self.tag.matches(node) or node.length_octets:
            raise _NoFit
        return self.read(node)

    def read(self, node: DerNode) -> Json:
        raise NotImplementedError

    def make(self, value: Json, path: str) -> DerNode:
        raise NotImplementedError

    def describe(self) -> dict[str, Json]:
        raise NotImplementedError

    def _prim(self, content: bytes) -> DerNode:
        return DerNode(self.tag.cls, False, self.tag.number, content)


class _Int(_Type):
    kind = "integer"

    def __init__(
        self,
        names: Mapping[int, str] | None = None,
        tag: _Tag | None = None,
        bounds: tuple[int, int] = _UINT64,
    ) -> None:
        self.tag = tag or _u(UniversalTag.INTEGER)
        self.names = dict(names or {})
        self.by_name = {v: k for k, v in self.names.items()}
        self.lo, self.hi = bounds
        if self.names:
            self.kind = "enum"

    def read(self, node: DerNode) -> Json:
        content = node.content
        if not content:
            raise _NoFit
        v = int.from_bytes(content, "big", signed=True)
        if not self.lo <= v <= self.hi:
            raise _NoFit
        return self.names.get(v, v)

    def make(self, value: Json, path: str) -> DerNode:
        if isinstance(value, str) and self.names:
            v = self.by_name.get(_norm_name(value))
            if v is None:
                raise Asn1ArgsError(
                    path,
                    f"unknown value {value!r} (allowed: {', '.join(self.by_name)}, "
                    f"or an integer {self.lo}..{self.hi})",
                )
        elif self.names and (isinstance(value, bool) or not isinstance(value, int)):
            raise Asn1ArgsError(
                path,
                f"expected one of {', '.join(self.by_name)} or an integer "
                f"{self.lo}..{self.hi}, got {_json_type(value)}",
            )
        else:
            v = _int(value, path, self.lo, self.hi)
        return self._prim(der_integer(v).content)

    def describe(self) -> dict[str, Json]:
        out: dict[str, Json] = {"type": self.kind, "range": [self.lo, self.hi]}
        if self.names:
            out["values"] = dict(self.by_name)
        return out


class _KeyUsage(_Type):
    kind = "key_usage"
    tag = _u(UniversalTag.BIT_STRING)

    def read(self, node: DerNode) -> Json:
        content = node.content
        if not content or _named_bits(_bits_of(content)) != content:
            raise _NoFit
        bits = _bits_of(content)
        if any(b >= len(_KEY_USAGE_BITS) for b in bits):
            raise _NoFit
        names = [_KEY_USAGE_BITS[b] for b in bits]
        return names[0] if len(names) == 1 else names

    def make(self, value: Json, path: str) -> DerNode:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise Asn1ArgsError(
                path, f"expected a key usage name or a list of them, got {_json_type(value)}"
            )
        bits = []
        for i, name in enumerate(items):
            p = path if isinstance(value, str) else f"{path}[{i}]"
            n = _norm_name(name) if isinstance(name, str) else None
            if n not in _KEY_USAGE_BITS:
                raise Asn1ArgsError(
                    p, f"unknown key usage {name!r} (allowed: {', '.join(_KEY_USAGE_BITS)})"
                )
            bits.append(_KEY_USAGE_BITS.index(n))
        if len(set(bits)) != len(bits):
            raise Asn1ArgsError(path, "a key usage is named twice")
        return self._prim(_named_bits(bits))

    def describe(self) -> dict[str, Json]:
        return {"type": self.kind, "values": list(_KEY_USAGE_BITS)}


class _Time(_Type):
    kind = "time"
    tag = _u(UniversalTag.GENERALIZED_TIME)

    def read(self, node: DerNode) -> Json:
        return _time_to_iso(node.content.decode("ascii"))

    def make(self, value: Json, path: str) -> DerNode:
        return self._prim(_iso_to_time(value, path))

    def describe(self) -> dict[str, Json]:
        return {"type": self.kind, "format": "ISO 8601, e.g. 2015-01-01T00:30:00Z"}


class _Octets(_Type):
    """OCTET STRING content: an EUI-64 (``kind="eui"``) or opaque octets."""

    def __init__(
        self,
        kind: str,
        size: int | None = None,
        gbcs_type: str | None = None,
        tag: _Tag | None = None,
    ) -> None:
        self.kind = kind
        self.size = size
        self.gbcs_type = gbcs_type
        self.tag = tag or _u(UniversalTag.OCTET_STRING)

    def read(self, node: DerNode) -> Json:
        content = node.content
        if self.size is not None and len(content) != self.size:
            raise _NoFit
        return content.hex().upper()

    def make(self, value: Json, path: str) -> DerNode:
        what = "EUI-64 (16 hex digits)" if self.kind == "eui" else "hex"
        if self.kind == "eui" and isinstance(value, str):
            value = re.sub(r"[:\-]", "", value)
        return self._prim(_hex(value, path, self.size, what))

    def describe(self) -> dict[str, Json]:
        out: dict[str, Json] = {"type": self.kind}
        if self.size is not None:
            out["octets"] = self.size
        if self.gbcs_type:
            out["gbcs_type"] = self.gbcs_type
        return out


class _Certificate(_Type):
    """A whole X.509 certificate TLV, opaque."""

    kind = "opaque"
    gbcs_type = "Certificate"
    tag = _u(UniversalTag.SEQUENCE)

    def node(self, node: DerNode) -> Json:
        if not self.tag.matches(node):
            raise _NoFit
        return node.encode().hex().upper()

    def make(self, value: Json, path: str) -> DerNode:
        data = _hex(value, path, what="certificate hex (DER)")
        try:
            node = decode_der_node(data, "certificate")
        except GbcsDecodeError as e:
            raise Asn1ArgsError(path, f"not one DER value: {e}") from None
        if not self.tag.matches(node):
            raise Asn1ArgsError(path, f"a certificate is a SEQUENCE, found {node.type_name()}")
        return node

    def describe(self) -> dict[str, Json]:
        return {"type": self.kind, "gbcs_type": self.gbcs_type}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: _Type
    help: str
    optional: bool = False
    default: Json = _MISSING


class _Record(_Type):
    """SEQUENCE (or an implicitly tagged one) of named fields."""

    kind = "record"

    def __init__(self, fields: Sequence[_Field], tag: _Tag | None = None) -> None:
        self.fields = tuple(fields)
        self.tag = tag or _u(UniversalTag.SEQUENCE)

    def read(self, node: DerNode) -> Json:
        kids = node.children
        i = 0
        out: dict[str, Json] = {}
        for f in self.fields:
            if i < len(kids) and f.type.tag.matches(kids[i]):
                out[f.name] = f.type.node(kids[i])
                i += 1
            elif f.optional:
                out[f.name] = None
            else:
                raise _NoFit
        if i != len(kids):
            raise _NoFit
        return out

    def values(self, value: Json, path: str) -> list[DerNode]:
        if not isinstance(value, Mapping):
            names = ", ".join(f.name for f in self.fields)
            raise Asn1ArgsError(
                path, f"expected an object with {names or 'no fields'}, got {_json_type(value)}"
            )
        known = {f.name for f in self.fields}
        extra = [k for k in value if k not in known]
        if extra:
            allowed = ", ".join(f.name for f in self.fields) or "none"
            raise Asn1ArgsError(f"{path}.{extra[0]}", f"unknown argument (allowed here: {allowed})")
        kids = []
        for f in self.fields:
            p = f"{path}.{f.name}"
            v = value.get(f.name, _MISSING)
            if v is _MISSING:
                v = f.default if f.default is not _MISSING else None
            if v is None:
                if f.optional:
                    continue
                raise Asn1ArgsError(p, f"required: {_summary(f.type)}")
            kids.append(f.type.make(v, p))
        return kids

    def make(self, value: Json, path: str) -> DerNode:
        return DerNode(self.tag.cls, True, self.tag.number, tuple(self.values(value, path)))

    def describe(self) -> dict[str, Json]:
        return {"type": self.kind, "fields": [_describe_field(f) for f in self.fields]}


class _List(_Type):
    """SEQUENCE OF (or an implicitly tagged one)."""

    kind = "list"

    def __init__(self, item: _Type, tag: _Tag | None = None) -> None:
        self.item = item
        self.tag = tag or _u(UniversalTag.SEQUENCE)

    def read(self, node: DerNode) -> Json:
        return [self.item.node(k) for k in node.children]

    def make(self, value: Json, path: str) -> DerNode:
        if not isinstance(value, list | tuple):
            raise Asn1ArgsError(path, f"expected a list, got {_json_type(value)}")
        kids = tuple(self.item.make(v, f"{path}[{i}]") for i, v in enumerate(value))
        return DerNode(self.tag.cls, True, self.tag.number, kids)

    def describe(self) -> dict[str, Json]:
        return {"type": self.kind, "items": self.item.describe()}


def _summary(t: _Type) -> str:
    d = t.describe()
    if "values" in d and isinstance(d["values"], Mapping):
        return f"one of {', '.join(d['values'])}"
    return str(d["type"])


def _describe_field(f: _Field) -> dict[str, Json]:
    out: dict[str, Json] = {"name": f.name, "help": f.help, "optional": f.optional}
    if f.default is not _MISSING:
        out["default"] = f.default
    out.update(f.type.describe())
    return out


# --------------------------------------------------------------------------- payload shapes


@dataclass(frozen=True)
class _Schema:
    """How a command payload's single TLV maps onto the arguments ``dict``.

    ``shape`` ``record``: the TLV is the record itself; ``single``: the TLV is one value
    named ``fields[0]``; ``null``: the TLV is NULL and the arguments are ``{}``.
    """

    use_case: str
    title: str
    shape: Literal["record", "single", "null"]
    record: _Record = field(default_factory=lambda: _Record(()))

    def read(self, node: DerNode) -> dict[str, Json]:
        if self.shape == "null":
            if not node.is_universal(UniversalTag.NULL) or node.constructed or node.content:
                raise _NoFit
            if node.length_octets:
                raise _NoFit
            return {}
        if self.shape == "single":
            f = self.record.fields[0]
            if not f.type.tag.matches(node):
                raise _NoFit
            return {f.name: f.type.node(node)}
        out = self.record.node(node)
        assert isinstance(out, dict)
        return out

    def build(self, args: Mapping[str, Json]) -> DerNode:
        if self.shape == "null":
            self.record.values(args, "args")
            return DerNode(TagClass.UNIVERSAL, False, UniversalTag.NULL, b"")
        if self.shape == "single":
            (kid,) = self.record.values(args, "args")
            return kid
        return self.record.make(args, "args")

    def describe(self) -> dict[str, Json]:
        return {
            "use_case": self.use_case,
            "title": self.title,
            "fields": [_describe_field(f) for f in self.record.fields],
        }


def _names(enum: type[IntEnum], only: Sequence[int] | None = None) -> dict[int, str]:
    return {int(m): m.name.lower() for m in enum if only is None or int(m) in only}


_ROLE_NAMES = _names(RemotePartyRole, (0, 1, 2, 3, 4, 5, 6, 7, 8, 127))
_ROLE = _Int(_ROLE_NAMES, bounds=_SMALL)
_CELL_USAGE = _Int(_names(CellUsage), bounds=_SMALL)
_SEQ_USAGE = _Int({0: "prepayment_top_up"}, bounds=_SMALL)
_DEVICE_TYPE = _Int(_names(HanDeviceType), bounds=_SMALL)
_EUI = _Octets("eui", 8)


def _ta_cell(tag: _Tag | None = None) -> _Record:
    return _Record(
        (
            _Field("remote_party_role", _ROLE, "remote-party role of the cell"),
            _Field("key_usage", _KeyUsage(), "key usage of the cell"),
            _Field(
                "cell_usage",
                _CELL_USAGE,
                "cell usage; null: the DEFAULT (management)",
                optional=True,
            ),
        ),
        tag,
    )


def _specialists(tag: _Tag | None = None) -> _List:
    return _List(
        _Record(
            (
                _Field("seq_number_usage", _SEQ_USAGE, "what the sequence number is for"),
                _Field("seq_number", _Int(), "the sequence number"),
            )
        ),
        tag,
    )


def _details(code: int) -> _Schema:
    uc = "CS02a" if code == 0x0008 else "CS02f"
    return _Schema(
        uc,
        "Provide Security Credential Details",
        "record",
        _Record(
            (
                _Field(
                    "authorising_remote_party_ta_cell_identifier",
                    _ta_cell(),
                    "trust-anchor cell of the authorising remote party",
                ),
                _Field(
                    "remote_party_roles_credentials_required",
                    _List(_ROLE),
                    "remote-party roles whose credentials are asked for",
                ),
            )
        ),
    )


def _update(code: int) -> _Schema:
    mode = MODE_BY_CODE[code]
    control = _Record(
        (
            _Field(
                "credentials_replacement_mode",
                _Int(_names(ReplacementMode), bounds=_SMALL),
                "credentials replacement mode; the message code fixes it",
                default=mode.name.lower(),
            ),
            _Field(
                "plaintext_symmetric_key",
                _Octets("opaque", gbcs_type="KeyMaterial", tag=_ctx(0)),
                "[0] plaintext symmetric key",
                optional=True,
            ),
            _Field(
                "apply_time_based_cpv_checks",
                _Int({0: "apply", 1: "disapply"}, _ctx(1), _SMALL),
                "[1] time-based certification-path checks; null: not sent (apply)",
                optional=True,
            ),
            _Field(
                "authorising_remote_party_ta_cell_identifier",
                _ta_cell(_ctx(2, True)),
                "[2] trust-anchor cell of the authorising party",
                optional=True,
            ),
            _Field(
                "authorising_remote_party_seq_number",
                _Int(tag=_ctx(3)),
                "[3] sequence number of the authorising party",
            ),
            _Field(
                "new_remote_party_floor_seq_number",
                _Int(tag=_ctx(4)),
                "[4] new floor sequence number of the authorising party",
                optional=True,
            ),
            _Field(
                "new_remote_party_specialist_floor_seq_number",
                _specialists(_ctx(5, True)),
                "[5] new specialist floor sequence numbers",
                optional=True,
            ),
            _Field(
                "other_remote_party_seq_number_changes",
                _List(
                    _Record(
                        (
                            _Field("remote_party_role", _ROLE, "remote-party role"),
                            _Field("floor_seq_number", _Int(), "new floor sequence number"),
                            _Field(
                                "specialist_floor_seq_number",
                                _specialists(),
                                "new specialist floor sequence numbers",
                                optional=True,
                            ),
                        )
                    ),
                    _ctx(6, True),
                ),
                "[6] floor changes of other remote parties",
                optional=True,
            ),
        )
    )
    replacement = _Record(
        (
            _Field("certificate", _Certificate(), "the new certificate (DER)"),
            _Field("target_trust_anchor_cell", _ta_cell(), "the cell it replaces"),
        )
    )
    uc = "CS02g" if code in (0x0125, 0x0126) else "CS02b"
    return _Schema(
        uc,
        f"Update Security Credentials ({mode.name.lower()})",
        "record",
        _Record(
            (
                _Field("authorising_remote_party_control", control, "who authorises, and counters"),
                _Field("replacements", _List(replacement), "trust-anchor replacements"),
                _Field(
                    "certification_path_certificates",
                    _List(_Certificate()),
                    "certification path of the new certificates (DER)",
                ),
                _Field(
                    "execution_date_time",
                    _Time(),
                    "future execution time; null: execute now",
                    optional=True,
                ),
            )
        ),
    )


def _key_usage_command(use_case: str, title: str) -> _Schema:
    return _Schema(
        use_case,
        title,
        "record",
        _Record((_Field("key_usage", _KeyUsage(), "key usage of the key pair"),)),
    )


_JOIN_CODES = {
    0x000D: ("CS03A1", "Method A Join (Meter)", JoinMethod.METHOD_A_INITIATOR),
    0x000E: ("CS03B", "Method B Join", JoinMethod.METHOD_B),
    0x00AB: ("CS03A2", "Method A Join (non Meter)", JoinMethod.METHOD_A_RESPONDER),
    0x00AF: ("CS03C", "Method C Join", JoinMethod.METHOD_C),
}


def _join(code: int) -> _Schema:
    uc, title, method = _JOIN_CODES[code]
    return _Schema(
        uc,
        title,
        "record",
        _Record(
            (
                _Field(
                    "join_method_and_role",
                    _Int(_names(JoinMethod), bounds=_SMALL),
                    "join method and role; the message code sets the default",
                    default=method.name.lower(),
                ),
                _Field("entity_id", _EUI, "EUI-64 of the device to join"),
                _Field("device_type", _DEVICE_TYPE, "GBCS device type of that device"),
                _Field(
                    "certificate",
                    _Certificate(),
                    "its KA certificate (DER; Method C)",
                    optional=True,
                ),
            )
        ),
    )


def _unjoin(code: int) -> _Schema:
    uc = "CS04AC" if code == 0x000F else "CS04B"
    title = "Method A or C Unjoin" if code == 0x000F else "Method B Unjoin"
    return _Schema(
        uc, title, "single", _Record((_Field("entity_id", _EUI, "EUI-64 of the device"),))
    )


def _schemas() -> dict[int, _Schema]:
    out: dict[int, _Schema] = {
        0x0008: _details(0x0008),
        0x011B: _details(0x011B),
        0x000A: _key_usage_command("CS02c", "Issue Security Credentials"),
        0x000B: _Schema(
            "CS02d",
            "Update Device Certificate on Device",
            "single",
            _Record((_Field("certificate", _Certificate(), "the device certificate (DER)"),)),
        ),
        0x000C: _key_usage_command("CS02e", "Provide Device Certificate from Device"),
        0x0012: _Schema(
            "CS06",
            "Activate Firmware",
            "record",
            _Record(
                (
                    _Field(
                        "manufacturer_image_hash",
                        _Octets("opaque", 32, "ImageHash"),
                        "SHA-256 hash of the image to activate",
                    ),
                    _Field("originator_counter", _Int(), "counter of the command's originator"),
                    _Field(
                        "execution_date_time",
                        _Time(),
                        "future activation time; null: activate now",
                        optional=True,
                    ),
                )
            ),
        ),
        0x0013: _Schema("CS07", "Read Device Join Details", "null"),
        0x007F: _Schema(
            "GCS28",
            "Set Clock on GSME",
            "record",
            _Record(
                (
                    _Field("validity_interval_start", _Time(), "start of the validity interval"),
                    _Field("validity_interval_end", _Time(), "end of the validity interval"),
                )
            ),
        ),
        0x008C: _Schema(
            "GCS59",
            "Restore GPF Device Log",
            "record",
            _Record(
                (
                    _Field(
                        "device_log_entries",
                        _List(
                            _Record(
                                (
                                    _Field("device_id", _EUI, "EUI-64 of the device"),
                                    _Field("device_type", _DEVICE_TYPE, "GBCS device type"),
                                )
                            )
                        ),
                        "entries to restore",
                    ),
                )
            ),
        ),
        0x0129: _Schema("CS08", "Read PPMID/HCALCS Firmware Version", "null"),
    }
    for code in _JOIN_CODES:
        out[code] = _join(code)
    for code in (0x000F, 0x0010):
        out[code] = _unjoin(code)
    for code in MODE_BY_CODE:
        out[code] = _update(code)
    return out


_SCHEMAS = _schemas()

TYPED_CODES: frozenset[int] = frozenset(_SCHEMAS)
"""Command message codes whose ASN.1 payload has a typed argument schema."""


# --------------------------------------------------------------------------- generic form

_UNIVERSAL_BY_NAME = {type_name(TagClass.UNIVERSAL, t.value): t.value for t in UniversalTag}
_TAG_RE = re.compile(r"\[(?:(APPLICATION|PRIVATE|UNIVERSAL|CONTEXT)\s+)?(\d+)\]\Z")
_TEXT_TAGS = {
    UniversalTag.UTF8_STRING: "utf-8",
    UniversalTag.NUMERIC_STRING: "ascii",
    UniversalTag.PRINTABLE_STRING: "ascii",
    UniversalTag.IA5_STRING: "ascii",
    UniversalTag.VISIBLE_STRING: "ascii",
}


def _generic_value(node: DerNode) -> Json:
    """The ``value`` rendering of a universal primitive, or _MISSING for ``hex``."""
    if node.tag_class is not TagClass.UNIVERSAL:
        return _MISSING
    num = node.tag_number
    v = node.content
    try:
        if num in (UniversalTag.INTEGER, UniversalTag.ENUMERATED):
            return int.from_bytes(v, "big", signed=True)
        if num == UniversalTag.BOOLEAN:
            return v == b"\xff"
        if num == UniversalTag.NULL:
            return None
        if num == UniversalTag.OBJECT_IDENTIFIER:
            return oid_to_str(v)
        if num == UniversalTag.GENERALIZED_TIME:
            return _time_to_iso(v.decode("ascii"))
        if num == UniversalTag.UTC_TIME:
            yy = int(v[0:2])
            return _time_to_iso(f"{1900 + yy if yy >= 50 else 2000 + yy}{v[2:].decode('ascii')}")
        if num in _TEXT_TAGS:
            return v.decode(_TEXT_TAGS[UniversalTag(num)])
    except (UnicodeDecodeError, ValueError):
        return _MISSING
    return _MISSING


def _generic_node(node: DerNode) -> dict[str, Json]:
    out: dict[str, Json] = {"tag": node.type_name()}
    if node.constructed:
        out["children"] = [_generic_node(c) for c in node.children]
    else:
        value = _generic_value(node)
        if value is not _MISSING:
            try:
                same = _value_content(node.tag_number, value, "") == node.content
            except Asn1ArgsError:
                same = False
            if not same:
                value = _MISSING
        if value is _MISSING:
            out["hex"] = node.content.hex().upper()
        else:
            out["value"] = value
    if node.length_octets:
        out["length_octets"] = node.length_octets
    return out


def _parse_tag(text: Json, path: str) -> tuple[TagClass, int]:
    if not isinstance(text, str):
        raise Asn1ArgsError(path, f"expected a tag name, got {_json_type(text)}")
    t = text.strip()
    if t.upper() in _UNIVERSAL_BY_NAME:
        return TagClass.UNIVERSAL, _UNIVERSAL_BY_NAME[t.upper()]
    for name, num in _UNIVERSAL_BY_NAME.items():
        if name.lower() == t.lower():
            return TagClass.UNIVERSAL, num
    m = _TAG_RE.match(t.upper())
    if m is None:
        raise Asn1ArgsError(
            path,
            f"unknown tag {text!r} (allowed: a universal type name such as SEQUENCE or "
            "INTEGER, or [n], [APPLICATION n], [PRIVATE n], [UNIVERSAL n])",
        )
    cls = {
        None: TagClass.CONTEXT,
        "CONTEXT": TagClass.CONTEXT,
        "APPLICATION": TagClass.APPLICATION,
        "PRIVATE": TagClass.PRIVATE,
        "UNIVERSAL": TagClass.UNIVERSAL,
    }[m.group(1)]
    return cls, int(m.group(2))


def _value_content(num: int, value: Json, path: str) -> bytes:
    """Content octets of universal type ``num`` from its ``value`` rendering."""
    if num in (UniversalTag.INTEGER, UniversalTag.ENUMERATED):
        if isinstance(value, bool) or not isinstance(value, int):
            raise Asn1ArgsError(path, f"expected an integer, got {_json_type(value)}")
        return der_integer(value).content
    if num == UniversalTag.BOOLEAN:
        if not isinstance(value, bool):
            raise Asn1ArgsError(path, f"expected true or false, got {_json_type(value)}")
        return b"\xff" if value else b"\x00"
    if num == UniversalTag.NULL:
        if value is not None:
            raise Asn1ArgsError(path, f"a NULL has the value null, got {_json_type(value)}")
        return b""
    if num == UniversalTag.OBJECT_IDENTIFIER:
        if not isinstance(value, str):
            raise Asn1ArgsError(path, f"expected a dotted OID, got {_json_type(value)}")
        try:
            return der_oid(value).content
        except GbcsEncodeError:
            raise Asn1ArgsError(path, f"invalid OID {value!r} (dotted form: 1.2.840…)") from None
    if num == UniversalTag.GENERALIZED_TIME:
        return _iso_to_time(value, path)
    if num == UniversalTag.UTC_TIME:
        text = _iso_to_time(value, path)
        year = int(text[0:4])
        if not 1950 <= year <= 2049 or len(text) != 15:
            raise Asn1ArgsError(path, "a UTCTime holds whole seconds of 1950..2049")
        return text[2:]
    if num in _TEXT_TAGS:
        if not isinstance(value, str):
            raise Asn1ArgsError(path, f"expected text, got {_json_type(value)}")
        try:
            return value.encode(_TEXT_TAGS[UniversalTag(num)])
        except UnicodeEncodeError:
            name = type_name(TagClass.UNIVERSAL, num)
            raise Asn1ArgsError(path, f"text not encodable as {name}") from None
    raise Asn1ArgsError(
        path, f"{type_name(TagClass.UNIVERSAL, num)} has no value form: give its content as hex"
    )


def _build_generic_node(value: Json, path: str) -> DerNode:
    if not isinstance(value, Mapping):
        raise Asn1ArgsError(path, f"expected a DER node object, got {_json_type(value)}")
    extra = [k for k in value if k not in ("tag", "children", "value", "hex", "length_octets")]
    if extra:
        raise Asn1ArgsError(
            f"{path}.{extra[0]}",
            "unknown key (allowed: tag, and one of children/value/hex, length_octets)",
        )
    if "tag" not in value:
        raise Asn1ArgsError(f"{path}.tag", "required")
    cls, num = _parse_tag(value["tag"], f"{path}.tag")
    forms = [k for k in ("children", "value", "hex") if k in value]
    if len(forms) != 1:
        raise Asn1ArgsError(path, "give exactly one of children (constructed), value or hex")
    lo = value.get("length_octets", 0)
    lo = _int(lo, f"{path}.length_octets", 0, 4)
    form = forms[0]
    content: bytes | tuple[DerNode, ...]
    if form == "children":
        kids = value["children"]
        if not isinstance(kids, list | tuple):
            raise Asn1ArgsError(f"{path}.children", f"expected a list, got {_json_type(kids)}")
        content = tuple(_build_generic_node(k, f"{path}.children[{i}]") for i, k in enumerate(kids))
    elif form == "hex":
        content = _hex(value["hex"], f"{path}.hex")
    else:
        if cls is not TagClass.UNIVERSAL:
            raise Asn1ArgsError(f"{path}.value", "a tagged value is given as hex")
        content = _value_content(num, value["value"], f"{path}.value")
    node = DerNode(cls, form == "children", num, content, lo)
    if lo:
        try:
            node.encode()
        except GbcsEncodeError as e:
            raise Asn1ArgsError(f"{path}.length_octets", str(e)) from None
    return node


def _args_path(decode_path: str) -> str:
    """``payload[0][2].value`` (a DER validation path) → ``args.der[0].children[2].hex``."""
    rest = decode_path.removeprefix("payload")
    parts = re.findall(r"\[(\d+)\]", rest)
    tail = rest[rest.rfind("]") + 1 :] if "]" in rest else rest
    out = f"args.{GENERIC_KEY}"
    for i, p in enumerate(parts):
        out += f"[{p}]" if i == 0 else f".children[{p}]"
    if tail == ".value":
        tail = ".hex"
    return out + tail


# --------------------------------------------------------------------------- entry points


def explain_asn1(payload: Asn1Payload, message_code: int) -> dict[str, Any]:
    """The arguments of an ASN.1 command payload (typed form, or the generic DER tree).

    Always lossless: :func:`build_asn1` of the result re-creates ``payload`` exactly.
    Raises :class:`~gbcs.errors.GbcsDecodeError` when ``payload.raw`` is not DER (only
    possible for an :class:`Asn1Payload` made by hand from bytes).
    """
    raw = payload.encode()
    nodes = decode_der(raw, path="payload")
    schema = _SCHEMAS.get(message_code)
    if schema is not None and len(nodes) == 1:
        try:
            args = schema.read(nodes[0])
        except _NoFit:
            pass
        else:
            try:
                if schema.build(args).encode() == raw:
                    return args
            except (Asn1ArgsError, GbcsEncodeError):
                pass
    return {GENERIC_KEY: [_generic_node(n) for n in nodes]}


def build_asn1(args: Mapping[str, Any], message_code: int, *, cra: int = 1) -> Asn1Payload:
    """The ASN.1 command payload for ``args`` (typed for ``message_code``, or generic).

    The payload is decoded as the codec would with CRA flag ``cra`` (1: command), so a
    CS06 / GCS28 payload carries its :mod:`gbcs` typed model; generic arguments of a
    response or alert of those codes need their ``cra``. Raises :class:`Asn1ArgsError`
    naming the argument path and what it allows.
    """
    if not isinstance(args, Mapping):
        raise Asn1ArgsError("args", f"expected an object, got {_json_type(args)}")
    if asn1_form(args) == "generic":
        items = args[GENERIC_KEY]
        if not isinstance(items, list | tuple) or not items:
            raise Asn1ArgsError(f"args.{GENERIC_KEY}", "expected a non-empty list of DER nodes")
        nodes = [_build_generic_node(n, f"args.{GENERIC_KEY}[{i}]") for i, n in enumerate(items)]
    else:
        schema = _SCHEMAS.get(message_code)
        if schema is None:
            raise Asn1ArgsError(
                "args",
                f"message code 0x{message_code:04X} has no typed ASN.1 arguments: "
                f"give the DER tree as {{{GENERIC_KEY!r}: [...]}}",
            )
        nodes = [schema.build(args)]
    try:
        raw = b"".join(n.encode() for n in nodes)
    except GbcsEncodeError as e:
        raise Asn1ArgsError("args", str(e)) from None
    try:
        validate_der(raw, path="payload")
    except GbcsDecodeError as e:
        where = _args_path(e.path) if asn1_form(args) == "generic" else "args"
        raise Asn1ArgsError(where, e.reason) from None
    try:
        return decode_asn1(raw, 0, len(raw), "payload", message_code, cra=cra)
    except GbcsDecodeError as e:
        raise Asn1ArgsError("args", f"not a valid payload for 0x{message_code:04X}: {e}") from None


def asn1_form(args: Mapping[str, Any]) -> Literal["typed", "generic"]:
    """``generic`` for a DER tree (``{"der": [...]}``), ``typed`` otherwise."""
    return "generic" if list(args) == [GENERIC_KEY] else "typed"


def describe_asn1(message_code: int) -> dict[str, Any] | None:
    """The typed argument schema of a command (JSON-able: names, types, help, defaults,
    value names, opaque GBCS types), or None when only the generic form exists."""
    schema = _SCHEMAS.get(message_code)
    return None if schema is None else schema.describe()


@dataclass(frozen=True, slots=True)
class Leaf:
    """One scalar argument: its path, schema kind, GBCS type (opaque ones) and value."""

    path: str
    kind: str
    gbcs_type: str | None
    value: Json


def iter_leaves(args: Mapping[str, Any], message_code: int) -> Iterator[Leaf]:
    """Every scalar of typed ``args`` with the kind its schema gives it.

    Kinds: ``integer``, ``enum``, ``key_usage``, ``time``, ``eui``, ``opaque`` (with its
    GBCS type, one of :data:`OPAQUE_GBCS_TYPES`). Generic arguments yield leaves of kind
    ``der-hex`` (content given as hex) and ``der-value``.
    """
    if asn1_form(args) == "generic":
        yield from _generic_leaves(args[GENERIC_KEY], f"args.{GENERIC_KEY}", top=True)
        return
    schema = _SCHEMAS.get(message_code)
    if schema is None:
        return
    yield from _record_leaves(schema.record, args, "args")


def _record_leaves(rec: _Record, value: Json, path: str) -> Iterator[Leaf]:
    for f in rec.fields:
        v = value.get(f.name) if isinstance(value, Mapping) else None
        if v is not None:
            yield from _type_leaves(f.type, v, f"{path}.{f.name}")


def _type_leaves(t: _Type, value: Json, path: str) -> Iterator[Leaf]:
    if isinstance(t, _Record):
        yield from _record_leaves(t, value, path)
    elif isinstance(t, _List):
        for i, v in enumerate(value if isinstance(value, list) else ()):
            yield from _type_leaves(t.item, v, f"{path}[{i}]")
    else:
        yield Leaf(path, t.kind, t.gbcs_type, value)


def _generic_leaves(nodes: Json, path: str, top: bool = False) -> Iterator[Leaf]:
    for i, n in enumerate(nodes if isinstance(nodes, list) else ()):
        p = f"{path}[{i}]" if top else f"{path}.children[{i}]"
        if not isinstance(n, Mapping):
            continue
        if "children" in n:
            yield from _generic_leaves(n["children"], p)
        elif "hex" in n:
            yield Leaf(f"{p}.hex", "der-hex", None, n["hex"])
        else:
            yield Leaf(f"{p}.value", "der-value", None, n.get("value"))
