"""Compare two GBCS messages on shape, not on values.

An emulated device's answer to an RTDS command cannot equal RTDS's byte for byte:
register values, times, keys, signatures and MACs differ. What must agree is the
*shape*: :func:`shape_of` describes a message as a JSON-able nested ``dict`` and
:func:`compare` lists where two descriptions differ (:class:`Difference`).

What the shape holds (and so what is compared):

* ``envelope`` (general-ciphering / general-signing) and ``signature`` (absent / null /
  present);
* ``header``: CRA, message code, originator counter (a response echoes the command's),
  originator and recipient EUI-64 (hex), date-time present or not, and which
  supplementary other-information fields are present;
* ``payload.kind`` and, per kind:

  - DLMS (``payload.dlms``): the invoke id of access-requests/-responses (it tracks the
    counter), date-time presence, the request specifications (class id, OBIS,
    attribute/method, selector), the access-response results (``get``/``set``/``action``
    and the data-access-result / action-result code) and the A-XDR type tree of every
    data item. Tree leaves are type names (``"double-long-unsigned"``); octet-strings
    and bit-strings carry their length (``"octet-string(12)"``, ``"bit-string(16)"``,
    bits); visible/UTF-8 strings do not (text length is a value). Containers are
    ``{"structure": [...]}`` / ``{"array": [...]}``. A data-notification adds its alert
    code.
  - GBZ (``payload.gbz``): alert code and alert-specific data class when present; per
    component the cluster, command id (with name), frame type, direction,
    manufacturer-specific and disable-default-response flags, the ZCL transaction
    sequence number (RTDS responses echo the command's), from-date-time presence,
    encryption, and the body: Read Attributes Response attribute ids, statuses and ZCL
    data types; Write Attributes (Response) ids/statuses/types; Default Response
    command answered and status; other typed commands their name and field names (a
    field holding a typed sub-record, such as a snapshot payload, names its class) plus
    the count of unmodelled trailing bytes; raw payloads their length.
  - ASN.1 (``payload.asn1``): the typed model's class when one applies, and the DER tag
    tree: constructed nodes are ``{tag: [children]}``, primitive nodes their tag name.
    A primitive's length is kept only where it is structural: OCTET STRING and BIT
    STRING of at most 16 content octets (EUI-64s, certificate serials, key-usage bits,
    short identifiers: fixed by the use case) as ``"OCTET STRING(8)"``; longer ones
    (keys, DER signatures, extensions) and every INTEGER, ENUMERATED, string and time
    vary with the value and show the tag only. OBJECT IDENTIFIERs show their dotted
    value (an algorithm or attribute identifier is structure, not data).

Encrypted parts (DLMS protected attributes, ciphered GBZ components) are shown as
``{"decrypted": <plaintext shape>}`` when the plaintext is known, else as
``"encrypted(N bytes)"`` (N = ciphertext length). Plaintexts are keyed by
:attr:`gbcs.payload.EncryptedPart.index`, the part's position among the message's
encrypted parts (the same index :func:`gbcs.security.decrypt_parts` reports), so a
mapping stays valid whatever the offsets. :func:`compare` decrypts each side with its
own keys and shows a part decrypted only when *both* sides could decrypt it, so a
missing key never shows up as a shape difference.

Not compared: register values, times, octet-string contents, MAC, signature bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gbcs import zcl
from gbcs.asn1 import DerNode, TagClass, UniversalTag, oid_to_str
from gbcs.axdr import Data, DataType, decode_data_bytes
from gbcs.codec import GbcsMessage
from gbcs.dlms import (
    AccessRequest,
    AccessRequestSpec,
    AccessResponse,
    AccessResponseSpec,
    ActionResult,
    ActionResultCode,
    ActionSpec,
    DataAccessResult,
    DataNotification,
    GetWithSelectionSpec,
    SetWithSelectionSpec,
)
from gbcs.errors import GbcsError
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.payload import Payload, PayloadKind
from gbcs.security import KeyProvider, decrypt_parts
from gbcs.usecases import lookup

__all__ = [
    "DEFAULT_LIMIT",
    "Difference",
    "compare",
    "diff_shapes",
    "plaintexts_of",
    "shape_of",
    "summarise",
]

Shape = Any
"""A JSON-able value: ``dict``/``list``/``str``/``int``."""

DEFAULT_LIMIT = 20
"""Differences listed before the rest is summed up in one ``"... N more"`` entry."""

MORE = "..."
"""``Difference.where`` of the closing entry that counts the differences left off."""

_BLOB_OVERHEAD = 17  # 31 ‖ invocation counter(4) ‖ ... ‖ tag(12)
_SECURITY_CONTROL = 0x31  # first byte of every protected blob
_SHORT_DER = 16  # longest OCTET/BIT STRING whose length counts as structure

# Keys that say what a dict *is*: when one differs, comparing the rest is noise.
_DISCRIMINATORS = ("kind", "cluster", "command", "record")


# --------------------------------------------------------------------------- differences


@dataclass(frozen=True, slots=True)
class Difference:
    """One place where two shapes differ.

    ``where`` is a readable path (``"payload.dlms.results[2].result"``,
    ``"header.date_time"``); ``ours``/``theirs`` say what each side has there
    (``"(missing)"`` when a side has nothing). The closing entry of a capped list has
    ``where == "..."`` and ``ours`` = how many more differences were found.
    """

    where: str
    ours: str
    theirs: str

    def __str__(self) -> str:
        if self.where == MORE:
            return f"... {self.ours} more"
        return f"{self.where}: ours {self.ours}, theirs {self.theirs}"


def _presence(v: object) -> str:
    return "absent" if v is None else "present"


def _yes(flag: object) -> str:
    return "yes" if flag else "no"


# --------------------------------------------------------------------------- A-XDR data

_AXDR_NAMES: dict[int, str] = {int(t): t.name.lower().replace("_", "-") for t in DataType}
_STRUCTURE = DataType.STRUCTURE
_ARRAY = DataType.ARRAY
_OCTET_STRING = DataType.OCTET_STRING
_BIT_STRING = DataType.BIT_STRING
_COMPACT_ARRAY = DataType.COMPACT_ARRAY


class _Blobs:
    """Shapes of a DLMS payload's encrypted octet-strings, worked out on first need.

    Listing a payload's encrypted parts walks and sizes the whole A-XDR tree (the
    dominant cost on big log reads), so it is only done once an octet-string that can
    be a protected blob (``31 ...``, at least 17 bytes) has been met.
    """

    __slots__ = ("_map", "payload", "plaintexts")

    def __init__(self, payload: Payload, plaintexts: Mapping[int, bytes]) -> None:
        self.payload = payload
        self.plaintexts = plaintexts
        self._map: dict[bytes, Shape] | None = None

    def get(self, blob: bytes) -> Shape | None:
        if self._map is None:
            self._map = {}
            for p in self.payload.encrypted_parts():
                pt = self.plaintexts.get(p.index)
                self._map[p.blob] = _encrypted(len(p.blob)) if pt is None else _dlms_plain(pt)
        return self._map.get(blob)


def _data_shape(d: Data, blobs: _Blobs | None) -> Shape:
    """Type tree of one A-XDR value; encrypted octet-strings are looked up in ``blobs``."""
    tag = d.tag
    if tag == _STRUCTURE:
        return {"structure": [_data_shape(x, blobs) for x in d.value]}
    if tag == _ARRAY:
        return {"array": [_data_shape(x, blobs) for x in d.value]}
    if tag == _OCTET_STRING:
        v = d.value
        if blobs is not None and _maybe_blob(v):
            s = blobs.get(v)
            if s is not None:
                return s
        return f"octet-string({len(v)})"
    if tag == _BIT_STRING:
        return f"bit-string({d.value.length})"
    if tag == _COMPACT_ARRAY:
        return f"compact-array({d.value.type_description})"
    return _AXDR_NAMES.get(tag) or f"type-{int(tag)}"


def _maybe_blob(v: bytes) -> bool:
    return len(v) >= _BLOB_OVERHEAD and v[0] == _SECURITY_CONTROL


def _has_blob(d: Data) -> bool:
    tag = d.tag
    if tag in (_STRUCTURE, _ARRAY):
        return any(_has_blob(x) for x in d.value)
    return tag == _OCTET_STRING and _maybe_blob(d.value)


def _encrypted(blob_len: int) -> str:
    return f"encrypted({max(blob_len - _BLOB_OVERHEAD, 0)} bytes)"


def _undecodable(pt: bytes) -> str:
    return f"undecodable plaintext({len(pt)} bytes)"


def _dlms_plain(pt: bytes) -> Shape:
    try:
        return {"decrypted": _data_shape(decode_data_bytes(pt, "plaintext"), None)}
    except GbcsError:
        return _undecodable(pt)


def _result_text(enum: type[DataAccessResult] | type[ActionResultCode], code: int) -> str:
    try:
        return f"{code} ({enum(code).name.lower().replace('_', '-')})"
    except ValueError:
        return str(code)


_RESULT_TYPES = {1: "get", 2: "set", 3: "action"}


def _result_shape(r: AccessResponseSpec) -> Shape:
    enum = ActionResultCode if isinstance(r, ActionResult) else DataAccessResult
    return {"type": _RESULT_TYPES[r.CHOICE], "result": _result_text(enum, r.result)}


_SPEC_TYPES = {1: "get", 2: "set", 3: "action", 4: "get-with-selection", 5: "set-with-selection"}


def _spec_shape(s: AccessRequestSpec) -> Shape:
    out: dict[str, Shape] = {
        "type": _SPEC_TYPES[s.CHOICE],
        "class_id": s.class_id,
        "obis": str(s.obis),
    }
    if isinstance(s, ActionSpec):
        out["method"] = s.method
    else:
        out["attribute"] = s.attribute
    if isinstance(s, GetWithSelectionSpec | SetWithSelectionSpec):
        out["selector"] = s.selector
        out["parameters"] = _data_shape(s.parameters, None)
    return out


def _dlms_shape(p: Payload, plaintexts: Mapping[int, bytes]) -> Shape:
    blobs = _Blobs(p, plaintexts)
    if isinstance(p, AccessResponse):
        return {
            "invoke_id": f"0x{p.invoke_id:08X}",
            "date_time": _presence(p.date_time),
            "request_specs": (
                "absent" if p.request_specs is None else [_spec_shape(s) for s in p.request_specs]
            ),
            "results": [_result_shape(r) for r in p.results],
            "data": [_data_shape(d, blobs) for d in p.data],
        }
    if isinstance(p, AccessRequest):
        return {
            "invoke_id": f"0x{p.invoke_id:08X}",
            "date_time": _presence(p.date_time),
            "specs": [_spec_shape(s) for s in p.specs],
            "data": [_data_shape(d, blobs) for d in p.data],
        }
    if not isinstance(p, DataNotification):
        return {"class": type(p).__name__}  # a payload object this module does not know
    code = p.alert_code
    return {
        "date_time": _presence(p.date_time),
        "alert_code": "none" if code is None else f"0x{code:04X}",
        "body": _data_shape(p.body, blobs),
    }


# --------------------------------------------------------------------------- GBZ / ZCL

_FRAME_TYPES = ("general", "cluster-specific", "reserved 2", "reserved 3")


def _attr(cluster: int, attribute_id: int) -> str:
    name = zcl.attribute_name(cluster, attribute_id)
    return f"0x{attribute_id:04X} ({name})" if name else f"0x{attribute_id:04X}"


def _status(status: int) -> str:
    name = zcl.STATUS_NAMES.get(status)
    return f"0x{status:02X} ({name})" if name else f"0x{status:02X}"


def _zcl_type(v: zcl.ZclValue) -> str:
    t = v.type_id
    name = zcl.DATA_TYPE_NAMES.get(t, f"0x{t:02X}")
    val = v.value
    if isinstance(val, zcl.ZclSequence):
        et = val.element_type
        return f"{name} of {zcl.DATA_TYPE_NAMES.get(et, f'0x{et:02X}')}"
    if t == 0x4C and isinstance(val, tuple):
        return "structure{" + ", ".join(_zcl_type(e) for e in val) + "}"
    return name


@functools.cache
def _record_fields(cls: type) -> tuple[tuple[str, ...], bool]:
    if not dataclasses.is_dataclass(cls):
        return (), False
    names = tuple(f.name for f in dataclasses.fields(cls))
    return tuple(n for n in names if n != "trailing"), "trailing" in names


def _zcl_body(cluster: int, body: zcl.ZclCommand) -> Shape:
    if isinstance(body, zcl.ReadAttributesResponse):
        return {
            "record": body.NAME,
            "records": [
                {
                    "attribute": _attr(cluster, r.attribute_id),
                    "status": _status(r.status),
                    "type": "absent" if r.value is None else _zcl_type(r.value),
                }
                for r in body.records
            ],
        }
    if isinstance(body, zcl.DefaultResponse):
        return {
            "record": body.NAME,
            "answers": f"0x{body.command_id:02X}",
            "status": _status(body.status),
        }
    if isinstance(body, zcl.ReadAttributes):
        return {"record": body.NAME, "attributes": [_attr(cluster, a) for a in body.attribute_ids]}
    if isinstance(body, zcl.WriteAttributes):
        return {
            "record": body.NAME,
            "records": [
                {"attribute": _attr(cluster, r.attribute_id), "type": _zcl_type(r.value)}
                for r in body.records
            ],
        }
    if isinstance(body, zcl.WriteAttributesResponse):
        return {
            "record": body.NAME,
            "records": [
                {
                    "status": _status(r.status),
                    "attribute": "all"
                    if r.attribute_id is None
                    else _attr(cluster, r.attribute_id),
                }
                for r in body.records
            ],
        }
    if isinstance(body, zcl.RawZclPayload):
        return {"record": "raw", "length": len(body.data)}
    names, trailing = _record_fields(type(body))
    fields = []
    for n in names:
        v = getattr(body, n)
        # A typed sub-payload (e.g. a snapshot's DebtCreditStatus) is structure: name it.
        if dataclasses.is_dataclass(v) and not isinstance(v, zcl.ZclDate):
            fields.append(f"{n}: {type(v).__name__}")
        else:
            fields.append(n)
    out: dict[str, Shape] = {"record": body.NAME or type(body).__name__, "fields": fields}
    if trailing:
        out["trailing"] = f"{len(body.trailing)} bytes"  # type: ignore[attr-defined]
    return out


def _component_shape(c: GbzComponent, enc_index: int, plaintexts: Mapping[int, bytes]) -> Shape:
    z = c.zcl
    fc = z.frame_control
    name = zcl.command_name(c.cluster, fc, z.command_id)
    body: Shape
    if c.ciphered is not None:
        pt = plaintexts.get(enc_index)
        if pt is None:
            body = _encrypted(len(c.ciphered.blob))
        else:
            try:
                plain = zcl.decode_zcl_payload(c.cluster, fc, z.command_id, pt, "plaintext")
                body = {"decrypted": _zcl_body(c.cluster, plain)}
            except GbcsError:
                body = _undecodable(pt)
    elif c.body is not None:
        body = _zcl_body(c.cluster, c.body)
    else:
        body = "absent"
    return {
        "cluster": zcl.cluster_name(c.cluster),
        "command": f"0x{z.command_id:02X}" + (f" ({name})" if name else ""),
        "frame_type": _FRAME_TYPES[fc & 3],
        "direction": "server to client" if fc & 0x08 else "client to server",
        "manufacturer_specific": _yes(fc & 0x04),
        "disable_default_response": _yes(fc & 0x10),
        "sequence": z.sequence,
        "from_date_time": _presence(c.from_date_time),
        "encrypted": _yes(c.ciphered is not None),
        "body": body,
    }


def _gbz_shape(p: GbzPayload, plaintexts: Mapping[int, bytes]) -> Shape:
    a = p.alert
    alert: Shape = "absent"
    if a is not None:
        alert = {
            "code": f"0x{a.alert_code:04X}",
            "specific": "absent" if a.specific is None else type(a.specific).__name__,
        }
    comps = []
    enc = 0
    for c in p.components:
        comps.append(_component_shape(c, enc, plaintexts))
        if c.ciphered is not None:
            enc += 1
    return {"alert": alert, "components": comps}


# --------------------------------------------------------------------------- ASN.1


def _der_shape(n: DerNode) -> Shape:
    name = n.type_name()
    if n.constructed:
        return {name: [_der_shape(c) for c in n.children]}
    if n.tag_class is TagClass.UNIVERSAL:
        num = n.tag_number
        if num in (UniversalTag.OCTET_STRING, UniversalTag.BIT_STRING):
            size = len(n.value)  # type: ignore[arg-type]
            return f"{name}({size})" if size <= _SHORT_DER else name
        if num == UniversalTag.OBJECT_IDENTIFIER:
            return f"{name} {oid_to_str(n.value)}"  # type: ignore[arg-type]
    return name


def _asn1_shape(p: Payload) -> Shape:
    typed = getattr(p, "typed", None)
    nodes = getattr(p, "nodes", ())
    return {
        "model": "generic" if typed is None else type(typed).__name__,
        "der": [_der_shape(n) for n in nodes],
    }


# --------------------------------------------------------------------------- the message


def _header_shape(msg: GbcsMessage) -> Shape:
    h = msg.header
    oi = h.other
    code = oi.message_code
    uc = lookup(code)
    return {
        "cra": h.cra.name.lower(),
        "message_code": f"0x{code:04X}" + (f" ({uc.name})" if uc else ""),
        "counter": h.counter,
        "originator": h.originator.hex().upper(),
        "recipient": h.recipient.hex().upper(),
        "date_time": _presence(h.date_time),
        "other_information": {
            "srp_id": _presence(oi.srp_id),
            "srp_counter": _presence(oi.srp_counter),
            "supplementary_originator_counter": _presence(oi.supplementary_originator_counter),
            "certificate": _presence(oi.certificate),
        },
    }


def _payload_shape(p: Payload, plaintexts: Mapping[int, bytes]) -> Shape:
    kind = p.kind
    out: dict[str, Shape] = {"kind": kind.value}
    if isinstance(p, GbzPayload):
        out["gbz"] = _gbz_shape(p, plaintexts)
    elif kind is PayloadKind.ASN1:
        out["asn1"] = _asn1_shape(p)
    elif kind is PayloadKind.OPAQUE:
        out["opaque"] = {"length": len(p.encode())}
    else:
        out["dlms"] = _dlms_shape(p, plaintexts)
    return out


def shape_of(msg: GbcsMessage, plaintexts: Mapping[int, bytes] | None = None) -> dict[str, Any]:
    """A JSON-able description of ``msg``'s shape (see the module docstring).

    ``plaintexts`` maps an encrypted part's index (:attr:`EncryptedPart.index`, as
    reported by :func:`gbcs.security.decrypt_parts`) to its plaintext; parts without
    one are described as ``"encrypted(N bytes)"``.
    """
    pts: Mapping[int, bytes] = plaintexts or {}
    return {
        "envelope": msg.envelope.value,
        "signature": msg.signature_form.value,
        "header": _header_shape(msg),
        "payload": _payload_shape(msg.payload, pts),
    }


def plaintexts_of(msg: GbcsMessage, keys: KeyProvider | None) -> dict[int, bytes]:
    """The plaintexts of ``msg``'s encrypted parts that ``keys`` can decrypt, by index.

    Parts that cannot be decrypted (no key, tag mismatch) are left out; no key at all
    (``keys`` ``None``) gives an empty mapping.
    """
    if keys is None or not _may_have_parts(msg.payload):
        return {}
    try:
        parts = decrypt_parts(msg, keys)
    except GbcsError:
        return {}
    return {d.part.index: d.plaintext for d in parts if d.plaintext is not None}


def _may_have_parts(p: Payload) -> bool:
    """Cheap pre-check before the (costly for big DLMS trees) encrypted-part listing."""
    if isinstance(p, AccessResponse | AccessRequest):
        return any(_has_blob(d) for d in p.data)
    if isinstance(p, DataNotification):
        return _has_blob(p.body)
    return bool(p.encrypted_parts())


# --------------------------------------------------------------------------- comparison

_MISSING = object()


def _brief(v: Shape) -> str:
    """One short text for a shape value (what a :class:`Difference` shows)."""
    if v is _MISSING:
        return "(missing)"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return f"{len(v)} item(s)"
    if isinstance(v, dict):
        if "cluster" in v and "command" in v:
            return f"{v['cluster']} {v['command']}"
        for k in _DISCRIMINATORS:
            if k in v:
                return str(v[k])
        if len(v) == 1:
            ((k, inner),) = v.items()
            if isinstance(inner, list):
                return f"{k} of {len(inner)}"
            return f"{k}: {_brief(inner)}"
        text = json.dumps(v, separators=(",", ":"))
        return text if len(text) <= 80 else text[:77] + "..."
    return str(v)


class _Collector:
    __slots__ = ("array_lengths", "extra", "limit", "out")

    def __init__(self, limit: int, array_lengths: bool) -> None:
        self.out: list[Difference] = []
        self.extra = 0
        self.limit = limit
        self.array_lengths = array_lengths

    def add(self, where: str, ours: Shape, theirs: Shape) -> None:
        if len(self.out) < self.limit:
            self.out.append(Difference(where or "(root)", _brief(ours), _brief(theirs)))
        else:
            self.extra += 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(a: Shape, b: Shape, path: str, c: _Collector) -> None:
    if a == b:
        return
    if type(a) is dict and type(b) is dict:
        disc = [k for k in _DISCRIMINATORS if k in a and k in b and a[k] != b[k]]
        if disc:
            for k in disc:
                c.add(_join(path, k), a[k], b[k])
            return
        if len(a) == 1 and len(b) == 1 and a.keys() != b.keys():
            c.add(path, a, b)  # e.g. a structure where an array should be
            return
        for k, v in a.items():
            _walk(v, b.get(k, _MISSING), _join(path, k), c)
        for k, v in b.items():
            if k not in a:
                c.add(_join(path, k), _MISSING, v)
        return
    if type(a) is list and type(b) is list:
        if len(a) != len(b) and (c.array_lengths or not path.endswith("array")):
            c.add(path, a, b)
        for i in range(min(len(a), len(b))):
            _walk(a[i], b[i], f"{path}[{i}]", c)
        return
    c.add(path, a, b)


def diff_shapes(
    ours: Shape,
    theirs: Shape,
    *,
    limit: int = DEFAULT_LIMIT,
    array_lengths: bool = True,
) -> list[Difference]:
    """Differences between two shapes (e.g. from :func:`shape_of`), in walk order.

    Inside a dict, a differing ``kind``/``cluster``/``command``/``record`` is reported
    alone (the rest would be noise). Lists of different lengths give one entry for the
    length and are then compared element by element up to the shorter; with
    ``array_lengths=False`` the length of A-XDR arrays (log and profile reads, whose
    entry count depends on the device's history) is not reported. At most ``limit``
    entries are listed, then one ``"... N more"`` entry.
    """
    c = _Collector(max(limit, 0), array_lengths)
    _walk(ours, theirs, "", c)
    if c.extra:
        c.out.append(Difference(MORE, str(c.extra), ""))
    return c.out


def compare(
    ours: GbcsMessage,
    theirs: GbcsMessage,
    *,
    our_keys: KeyProvider | None = None,
    their_keys: KeyProvider | None = None,
    limit: int = DEFAULT_LIMIT,
    array_lengths: bool = True,
) -> list[Difference]:
    """Where ``ours`` differs in shape from ``theirs`` (empty list: conformant).

    Encrypted parts are decrypted with each side's keys (a part is shown decrypted only
    when both sides decrypted it; otherwise both show ``"encrypted(N bytes)"``). See
    :func:`diff_shapes` for ``limit`` and ``array_lengths``.
    """
    pa = plaintexts_of(ours, our_keys)
    pb = plaintexts_of(theirs, their_keys)
    if pa.keys() != pb.keys():
        both = pa.keys() & pb.keys()
        pa = {i: pa[i] for i in both}
        pb = {i: pb[i] for i in both}
    return diff_shapes(
        shape_of(ours, pa), shape_of(theirs, pb), limit=limit, array_lengths=array_lengths
    )


def summarise(diffs: Sequence[Difference]) -> str:
    """One line for people: ``"conformant"`` or the count and the first differences."""
    if not diffs:
        return "conformant (no shape differences)"
    shown = [d for d in diffs if d.where != MORE]
    total = len(shown) + sum(int(d.ours) for d in diffs if d.where == MORE)
    head = "; ".join(str(d) for d in shown[:3])
    more = "; ..." if total > 3 else ""
    return f"{total} shape difference(s): {head}{more}"
