"""What every payload codec (DLMS, GBZ, ASN.1) offers the envelope layer.

A payload decoder has the signature ``decode_x(buf, start, end, path) -> X``
where ``buf`` is the whole message and ``[start, end)`` the content slice; offsets in its
errors are absolute. Decoded objects keep no absolute offsets: ``fields(base)`` lays the
display tree out from ``base`` and ``encrypted_parts()`` reports offsets relative to the
content start, so objects built from typed values behave exactly like decoded ones.
Every payload object satisfies :class:`Payload`: it re-encodes to the exact bytes it was
decoded from, describes itself as a display tree and lists its encrypted parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from gbcs.tree import Field


class PayloadKind(StrEnum):
    """The payload families of GBCS content (``gbcs-wire.md`` §4.1)."""

    DLMS_ACCESS_REQUEST = "dlms-access-request"
    DLMS_ACCESS_RESPONSE = "dlms-access-response"
    DLMS_DATA_NOTIFICATION = "dlms-data-notification"
    GBZ = "gbz"
    ASN1 = "asn1"
    OPAQUE = "opaque"


class PartContext(StrEnum):
    """Where an encrypted part sits, which decides how its plaintext is decoded."""

    DLMS = "dlms"  # plaintext is A-XDR Data
    GBZ = "gbz"  # plaintext is the ZCL payload of the component's command


@dataclass(frozen=True, slots=True)
class EncryptedPart:
    """One protected blob ``31 00000000 ‖ ciphertext ‖ tag12`` inside a payload.

    ``offset`` is the offset of the ``31`` byte relative to the content start (the
    envelope layer adds the content's own offset). For GBZ parts ``cluster`` and
    ``command`` (with ``frame_control``) say how to decode the plaintext; ``index`` is the
    part's position among the payload's encrypted parts.
    """

    index: int
    path: str
    offset: int
    blob: bytes
    context: PartContext
    cluster: int | None = None
    command: int | None = None
    frame_control: int | None = None

    @property
    def ciphertext(self) -> bytes:
        return self.blob[5:-12]

    @property
    def tag(self) -> bytes:
        return self.blob[-12:]


@runtime_checkable
class Payload(Protocol):
    """The common face of decoded GBCS content."""

    @property
    def kind(self) -> PayloadKind: ...

    def encode(self) -> bytes:
        """The exact content bytes (``encode(decode(b)) == b``)."""
        ...

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        """Display tree; offsets are absolute when ``base`` is the content's offset."""
        ...

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        """Every encrypted blob the payload carries, in wire order."""
        ...


@dataclass(frozen=True, slots=True)
class OpaquePayload:
    """Content kept as raw bytes (unknown shape, or decoded leniently after an error)."""

    raw: bytes
    note: str = ""

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.OPAQUE

    def encode(self) -> bytes:
        return self.raw

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        return (Field("Opaque payload", base, self.raw, self.note or None),)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        return ()
