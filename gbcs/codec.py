"""Whole GBCS messages: decode bytes to a typed :class:`GbcsMessage` and encode it back.

``encode(decode(b)) == b`` holds for every valid message: :meth:`GbcsMessage.encode`
rebuilds the bytes from the typed header and payload, it never returns the input.
Decoding any byte string either succeeds or raises :class:`~gbcs.errors.GbcsDecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from gbcs.cosem_time import DlmsDateTime
from gbcs.envelope import (
    MAC_HEADER_PREFIX,
    MAC_LENGTH,
    SECURITY_HEADER,
    Cra,
    Envelope,
    EnvelopeLayout,
    GroupingHeader,
    SignatureForm,
    decode_envelope,
    encode_general_ciphering,
    encode_general_signing,
    envelope_fields,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.payload import EncryptedPart, OpaquePayload, Payload, PayloadKind
from gbcs.tree import Field
from gbcs.wire import ber_length_size

_DLMS_TAGS = frozenset((0xD9, 0xDA, 0x0F))
_GBZ_PROFILE = b"\x01\x09"
# A DLMS protected blob (``gbcs.dlms._is_protected_blob``) is an octet-string of at least
# 17 bytes whose first byte is 31: on the wire ``09``, a BER length of at least 0x11, then
# ``31``. Content without that sequence has no part, so its data need not be walked.
_DLMS_BLOB = re.compile(rb"\x09(?:[\x11-\x7f]|\x81.|\x82..|\x83...)\x31", re.DOTALL)

# The payload decoders are imported on first use: a process that only sees DLMS never
# loads the GBZ/ZCL or ASN.1 modules (a third of the CLI's start-up).
_DECODERS: dict[str, Callable[..., Any]] = {}


def _decoder(kind: str) -> Callable[..., Any]:
    dec = _DECODERS.get(kind)
    if dec is None:
        if kind == "dlms":
            from gbcs.dlms import decode_dlms as dec
        elif kind == "gbz":
            from gbcs.gbz import decode_gbz as dec
        else:
            from gbcs.asn1 import decode_asn1 as dec
        _DECODERS[kind] = dec
    return dec


@dataclass(frozen=True, slots=True)
class GbcsMessage:
    """A GBCS Remote Party message: header, payload, signature field and MAC.

    Messages built from typed values have ``raw=None``; decoded ones keep the exact
    received bytes in ``raw`` (MACs and signatures are always checked over those).
    """

    header: GroupingHeader
    payload: Payload
    envelope: Envelope = Envelope.GENERAL_CIPHERING
    signature_form: SignatureForm = SignatureForm.NULL
    signature: bytes = b""
    mac: bytes | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    layout: EnvelopeLayout | None = field(default=None, compare=False, repr=False)

    @property
    def cra(self) -> Cra:
        return self.header.cra

    @property
    def counter(self) -> int:
        return self.header.counter

    @property
    def originator(self) -> bytes:
        return self.header.originator

    @property
    def recipient(self) -> bytes:
        return self.header.recipient

    @property
    def message_code(self) -> int:
        return self.header.other.message_code

    @property
    def date_time(self) -> DlmsDateTime | None:
        return self.header.date_time

    def content(self) -> bytes:
        """The payload bytes (exact received slice when decoded)."""
        if self.raw is not None and self.layout is not None:
            return self.raw[self.layout.content_start : self.layout.content_end]
        return self.payload.encode()

    def gs_apdu(self) -> bytes:
        """The General-Signing APDU from ``DF`` through the signature field."""
        if self.raw is not None and self.layout is not None:
            return self.raw[self.layout.gs_start : self.layout.gs_end]
        return encode_general_signing(
            self.header, self.payload.encode(), self.signature_form, self.signature
        )

    def signed_data(self) -> bytes:
        """The bytes an ECDSA signature covers (GS APDU after ``DF`` to the end of content)."""
        if self.raw is not None and self.layout is not None:
            return self.raw[self.layout.gs_start + 1 : self.layout.content_end]
        gs = encode_general_signing(self.header, self.payload.encode(), SignatureForm.ABSENT)
        return gs[1:]

    def content_offset(self) -> int:
        """Absolute offset of the content in :meth:`encode`'s output."""
        if self.layout is not None:
            return self.layout.content_start
        content_len = len(self.payload.encode())
        gs_prefix = len(self.header.encode(content_len))
        if self.envelope is Envelope.GENERAL_SIGNING:
            return gs_prefix
        sig_len = {SignatureForm.ABSENT: 0, SignatureForm.NULL: 1}.get(self.signature_form, 65)
        ciphered = len(SECURITY_HEADER) + gs_prefix + content_len + sig_len + MAC_LENGTH
        return len(MAC_HEADER_PREFIX) + ber_length_size(ciphered) + len(SECURITY_HEADER) + gs_prefix

    def encode(self) -> bytes:
        """Rebuild the message bytes from the typed values."""
        content = self.payload.encode()
        check_payload_fits(self.header, self.payload, content)
        gs = encode_general_signing(self.header, content, self.signature_form, self.signature)
        if self.envelope is Envelope.GENERAL_SIGNING:
            if self.mac is not None:
                raise GbcsEncodeError("a general-signing message carries no MAC")
            return gs
        if self.mac is None:
            raise GbcsEncodeError(
                "a general-ciphering message needs its MAC (see gbcs.security.apply_mac)"
            )
        return encode_general_ciphering(gs, self.mac)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        """Encrypted parts with offsets made absolute in the message bytes."""
        lay = self.layout
        if (
            lay is not None
            and self.raw is not None
            and lay.content_start < lay.content_end
            and self.raw[lay.content_start] in _DLMS_TAGS
            and _DLMS_BLOB.search(self.raw, lay.content_start, lay.content_end) is None
        ):
            return ()
        parts = self.payload.encrypted_parts()
        if not parts:
            return ()
        base = self.content_offset()
        return tuple(
            EncryptedPart(
                p.index,
                p.path,
                p.offset + base,
                p.blob,
                p.context,
                p.cluster,
                p.command,
                p.frame_control,
            )
            for p in parts
        )

    def fields(self) -> tuple[Field, ...]:
        """Display tree of the whole message (header, payload, signature, MAC)."""
        if self.layout is None:
            return decode(self.encode()).fields()
        assert self.raw is not None
        head, tail = envelope_fields(self.raw, self.layout, self.header, self.signature_form)
        payload = Field(
            "Payload",
            self.layout.content_start,
            self.content(),
            self.payload.kind.value,
            self.payload.fields(self.layout.content_start),
        )
        return (*head, payload, *tail)


def check_payload_fits(header: GroupingHeader, payload: Payload, content: bytes) -> None:
    """Refuse a payload that :func:`decode_payload` would not read back as itself.

    Dispatch is by the content's first bytes and the CRA flag, so a GBZ alert header
    needs CRA 3 (and CRA 3 needs one), DER content must not begin like DLMS or GBZ, and a
    typed ASN.1 model needs its own message code.
    """
    kind = payload.kind
    if not content:
        raise GbcsEncodeError("empty content")
    if kind is PayloadKind.GBZ:
        has_alert = getattr(payload, "alert", None) is not None
        if has_alert != (header.cra is Cra.ALERT):
            raise GbcsEncodeError(
                "a GBZ alert header goes with CRA 3 (alert) and only there, "
                f"not with CRA {int(header.cra)}"
            )
    elif kind is PayloadKind.ASN1:
        if content[0] in _DLMS_TAGS or content[:2] == _GBZ_PROFILE:
            raise GbcsEncodeError(
                f"DER content starting {content[:2].hex().upper()} would be read as DLMS or GBZ"
            )
        from gbcs.asn1 import TYPED_MESSAGE_CODES

        if getattr(payload, "typed", None) is not None and (
            header.message_code not in TYPED_MESSAGE_CODES
        ):
            raise GbcsEncodeError(
                f"a typed ASN.1 model needs one of the message codes "
                f"{sorted(f'0x{c:04X}' for c in TYPED_MESSAGE_CODES)}, "
                f"not 0x{header.message_code:04X}"
            )


def decode_payload(buf: bytes, start: int, end: int, cra: Cra, message_code: int) -> Payload:
    """Decode content ``buf[start:end]`` by its first bytes (``gbcs-wire.md`` §4.1)."""
    if start >= end:
        raise GbcsDecodeError("payload", start, "empty content")
    first = buf[start]
    if first in _DLMS_TAGS:
        return _decoder("dlms")(buf, start, end, "payload")
    if buf[start : start + 2] == _GBZ_PROFILE:
        return _decoder("gbz")(buf, start, end, "payload", alert=cra is Cra.ALERT)
    return _decoder("asn1")(buf, start, end, "payload", message_code, cra=int(cra))


def decode(data: bytes, *, lenient_payload: bool = False) -> GbcsMessage:
    """Decode one complete GBCS message.

    With ``lenient_payload`` a malformed payload does not fail the whole message: the
    content is kept as an :class:`OpaquePayload` whose note holds the error, so a user
    still sees the header and the MAC/signature verdicts.
    """
    buf = data if type(data) is bytes else bytes(data)
    try:
        env = decode_envelope(buf)
        lay = env.layout
        try:
            payload = decode_payload(
                buf, lay.content_start, lay.content_end, env.header.cra, env.header.message_code
            )
        except GbcsDecodeError as e:
            if not lenient_payload:
                raise
            payload = OpaquePayload(buf[lay.content_start : lay.content_end], f"undecoded: {e}")
    except GbcsDecodeError:
        raise
    except RecursionError:
        raise GbcsDecodeError("<internal>", 0, "nesting too deep") from None
    except Exception as e:  # safety net: only GbcsDecodeError may escape (fuzz-tested)
        raise GbcsDecodeError("<internal>", 0, f"decoder bug ({type(e).__name__}: {e})") from e
    # GbcsMessage(...) without the frozen dataclass's __init__: the same object, with its
    # fields set through their slots (decoding is the CLI's hot path).
    m = object.__new__(GbcsMessage)
    s_header, s_payload, s_env, s_form, s_sig, s_mac, s_raw, s_lay = _SET_MESSAGE
    s_header(m, env.header)
    s_payload(m, payload)
    s_env(m, env.envelope)
    s_form(m, env.signature_form)
    s_sig(m, env.signature)
    s_mac(m, env.mac)
    s_raw(m, buf)
    s_lay(m, lay)
    return m


# In field order; a field added to GbcsMessage makes the unpacking in decode() fail loudly.
_SET_MESSAGE = tuple(GbcsMessage.__dict__[f.name].__set__ for f in fields(GbcsMessage))


def build(
    header: GroupingHeader,
    payload: Payload,
    *,
    envelope: Envelope = Envelope.GENERAL_CIPHERING,
    signature_form: SignatureForm = SignatureForm.NULL,
) -> GbcsMessage:
    """A message from typed values, not yet signed or MAC'd (see :mod:`gbcs.security`)."""
    return GbcsMessage(header, payload, envelope, signature_form, b"", None)
