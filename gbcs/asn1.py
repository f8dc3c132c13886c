"""ASN.1 DER payloads (``gbcs-wire.md`` §4.4).

Every GBCS content that is neither DLMS (``D9``/``DA``/``0F``) nor GBZ (``01 09``) is
DER: security credentials (CS02x), join/unjoin (CS03/CS04), firmware (CS06, CCS08,
CS08/CS09), device logs (CS07, GCS59, GCS62), set clock (GCS28)…

Two layers:

* a generic DER tree (:class:`DerNode`) that round-trips byte-exactly, in
  :mod:`gbcs.der` (re-exported here);
* typed models selected by message code (CS06 in :mod:`gbcs.firmware`, GCS28 set time
  here). They hold plain values, re-encode byte-exactly, and name the display-tree
  fields. Typed models accept only the shortest length forms.

:func:`decode_asn1` is the payload decoder the envelope calls; it returns an
:class:`Asn1Payload` (a :class:`gbcs.payload.Payload`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from gbcs.der import (
    MAX_DEPTH,
    MAX_LENGTH_OCTETS,
    MAX_TAG_OCTETS,
    Asn1Model,
    DerCursor,
    DerNode,
    TagClass,
    UniversalTag,
    _build,
    check_minimal,
    decode_der,
    decode_der_node,
    der_bit_string,
    der_boolean,
    der_enumerated,
    der_generalized_time,
    der_integer,
    der_null,
    der_octet_string,
    der_oid,
    der_sequence,
    der_set,
    der_tagged,
    iter_children,
    named,
    oid_to_str,
    read_enum,
    read_generalized_time,
    read_octets,
    read_uint,
    time_text,
    type_name,
    validate_der,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.firmware import (
    ActivateFirmwareAlert,
    ActivateFirmwareCommand,
    ActivateFirmwareResponse,
)
from gbcs.payload import EncryptedPart, PayloadKind
from gbcs.tree import Field

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH_OCTETS",
    "MAX_TAG_OCTETS",
    "TYPED_MESSAGE_CODES",
    "Asn1Model",
    "Asn1Payload",
    "DerCursor",
    "DerNode",
    "DeviceTimeStatus",
    "SetTimeCommand",
    "SetTimeResponse",
    "TagClass",
    "TypedDecoder",
    "UniversalTag",
    "check_minimal",
    "decode_asn1",
    "decode_der",
    "decode_der_node",
    "der_bit_string",
    "der_boolean",
    "der_enumerated",
    "der_generalized_time",
    "der_integer",
    "der_null",
    "der_octet_string",
    "der_oid",
    "der_sequence",
    "der_set",
    "der_tagged",
    "iter_children",
    "named",
    "oid_to_str",
    "read_enum",
    "read_generalized_time",
    "read_octets",
    "read_uint",
    "time_text",
    "type_name",
    "validate_der",
]

# --------------------------------------------------------------------------- GCS28 set time


class DeviceTimeStatus(IntEnum):
    """GCS28 response: quality of the device clock after the command."""

    RELIABLE = 0
    INVALID = 1
    UNRELIABLE = 2

    @property
    def label(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True, slots=True)
class SetTimeCommand:
    """GCS28 Set Clock on GSME command (0x007F): the validity interval of the time."""

    validity_interval_start: datetime
    validity_interval_end: datetime

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "set_time_command"
    ) -> SetTimeCommand:
        """From a decoded SEQUENCE placed at ``offset``."""
        _expect_sequence(node, offset, path)
        c = DerCursor(node, offset, path)
        start = read_generalized_time(
            *c.universal("validity_interval_start", UniversalTag.GENERALIZED_TIME)
        )
        end = read_generalized_time(
            *c.universal("validity_interval_end", UniversalTag.GENERALIZED_TIME)
        )
        c.done()
        return cls(start, end)

    @classmethod
    def decode(cls, data: bytes) -> SetTimeCommand:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "set_time_command"), 0)

    def to_der(self) -> DerNode:
        return der_sequence(
            der_generalized_time(self.validity_interval_start),
            der_generalized_time(self.validity_interval_end),
        )

    def encode(self) -> bytes:
        return self.to_der().encode()

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        node = self.to_der()
        (a, ao), (b, bo) = iter_children(node, base)
        return (
            named(
                "Set Time Command",
                node,
                base,
                children=(
                    named(
                        "Validity Interval Start", a, ao, time_text(self.validity_interval_start)
                    ),
                    named("Validity Interval End", b, bo, time_text(self.validity_interval_end)),
                ),
            ),
        )


@dataclass(frozen=True, slots=True)
class SetTimeResponse:
    """GCS28 response (0x007F): the device time and its status."""

    device_time: datetime
    device_time_status: DeviceTimeStatus

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "set_time_response"
    ) -> SetTimeResponse:
        """From a decoded SEQUENCE placed at ``offset``."""
        _expect_sequence(node, offset, path)
        c = DerCursor(node, offset, path)
        t = read_generalized_time(*c.universal("device_time", UniversalTag.GENERALIZED_TIME))
        status = read_enum(
            *c.universal("device_time_status", UniversalTag.INTEGER), DeviceTimeStatus
        )
        c.done()
        return cls(t, status)

    @classmethod
    def decode(cls, data: bytes) -> SetTimeResponse:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "set_time_response"), 0)

    def to_der(self) -> DerNode:
        return der_sequence(
            der_generalized_time(self.device_time), der_integer(self.device_time_status)
        )

    def encode(self) -> bytes:
        return self.to_der().encode()

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        node = self.to_der()
        (a, ao), (b, bo) = iter_children(node, base)
        return (
            named(
                "Set Time Response",
                node,
                base,
                children=(
                    named("Device Time", a, ao, time_text(self.device_time)),
                    named("Device Time Status", b, bo, self.device_time_status.label),
                ),
            ),
        )


def _expect_sequence(node: DerNode, offset: int, path: str) -> None:
    if not (node.constructed and node.is_universal(UniversalTag.SEQUENCE)):
        raise GbcsDecodeError(path, offset, f"expected SEQUENCE, found {node.type_name()}")


# --------------------------------------------------------------------------- the payload


@dataclass(frozen=True, slots=True)
class Asn1Payload:
    """DER content of a GBCS message.

    ``raw`` is the content: one or more validated DER TLVs (one in every known use
    case); :attr:`nodes` is its tree, built on demand. ``typed`` is the typed model
    chosen by message code and CRA flag when one exists (CS06, GCS28); ``raw`` is then
    exactly ``typed.encode()`` and the display tree uses its field names. Build payloads
    with :func:`decode_asn1`, :meth:`from_nodes` or :meth:`from_typed`.
    """

    raw: bytes
    typed: Any = None

    @classmethod
    def from_nodes(cls, *nodes: DerNode) -> Asn1Payload:
        """A payload of generic DER nodes."""
        if not nodes:
            raise GbcsEncodeError("an ASN.1 payload needs at least one TLV")
        return cls(b"".join(n.encode() for n in nodes))

    @classmethod
    def from_typed(cls, model: Asn1Model) -> Asn1Payload:
        """A payload carrying a typed model."""
        return cls(model.encode(), model)

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.ASN1

    @property
    def nodes(self) -> tuple[DerNode, ...]:
        """The top-level DER nodes (built from ``raw`` on each access)."""
        return _build(self.raw, 0, len(self.raw))

    def encode(self) -> bytes:
        """The exact content bytes."""
        return self.raw

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        """Typed field names when a model applies, else the generic DER tree."""
        if self.typed is not None:
            out: tuple[Field, ...] = self.typed.fields(base)
            return out
        result = []
        pos = base
        for n in self.nodes:
            result.append(n.field(pos))
            pos += n.size()
        return tuple(result)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        """ASN.1 payloads carry no encrypted parts."""
        return ()


# (message code, CRA flag) -> decoder(node, offset, path). CRA None: chosen by shape.
TypedDecoder = Callable[[DerNode, int, str], Any]

_TYPED_DECODERS: dict[tuple[int, int], TypedDecoder] = {
    (0x0012, 1): ActivateFirmwareCommand.from_der,
    (0x0012, 2): ActivateFirmwareResponse.from_der,
    (0x00CA, 3): ActivateFirmwareAlert.from_der,
    (0x007F, 1): SetTimeCommand.from_der,
    (0x007F, 2): SetTimeResponse.from_der,
}


def _guess_cra(code: int, node: DerNode) -> int | None:
    """The CRA flag implied by a payload's shape, for callers that do not pass it."""
    if code == 0x00CA:
        return 3
    kids = node.children
    if code == 0x0012:
        if kids and kids[0].is_universal(UniversalTag.OCTET_STRING):
            return 1
        return 2
    if code == 0x007F:
        if len(kids) == 2 and kids[1].is_universal(UniversalTag.INTEGER):
            return 2
        return 1
    return None


TYPED_MESSAGE_CODES = frozenset({0x0012, 0x00CA, 0x007F})
"""Message codes whose ASN.1 payload :func:`decode_asn1` maps to a typed model."""


def decode_asn1(
    buf: bytes,
    start: int,
    end: int,
    path: str = "payload",
    message_code: int | None = None,
    *,
    cra: int | None = None,
) -> Asn1Payload:
    """Decode DER content ``buf[start:end]`` (one or more TLVs).

    With a ``message_code`` that has a typed model (:data:`TYPED_MESSAGE_CODES`), the
    content must be one TLV matching it and the payload carries it as ``typed``;
    ``cra`` (the CRA flag: 1 command, 2 response, 3 alert) selects the command or
    response model, and is inferred from the shape when omitted.
    """
    count = validate_der(buf, start, end, path)
    raw = buf[start:end]
    if message_code is None or message_code not in TYPED_MESSAGE_CODES:
        return Asn1Payload(raw)
    nodes = _build(raw, 0, len(raw))
    if count != 1:
        raise GbcsDecodeError(
            path, start + nodes[0].size(), "unexpected bytes after the payload TLV"
        )
    node = nodes[0]
    flag = cra if cra is not None else _guess_cra(message_code, node)
    decoder = _TYPED_DECODERS.get((message_code, flag or 0))
    if decoder is None:
        raise GbcsDecodeError(
            path,
            start,
            f"no ASN.1 payload for message code 0x{message_code:04X} with CRA flag {flag}",
        )
    return Asn1Payload(raw, decoder(node, start, path))
