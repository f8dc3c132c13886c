"""Message-level security: MAC and signature verdicts, sealing, part encryption.

Who keys what (``gbcs-wire.md`` §8.1): a Command's MAC is keyed ACB KA ↔ recipient KA
(the ACB applies it even when a supplier originated the command); a Response's or
Alert's MAC is keyed originator (device) KA ↔ recipient KA. Either side's private key
with the other side's public key gives the same ECDH secret, so verification works
from the device side or the remote-party side.

Sensitive payload parts are keyed device KA ↔ KA of the supplementary remote party if
present, else the recipient, with the supplementary originator counter if present,
else the originator counter, and KDF mode ``04`` (§8.5).

Keys come from any object with ``public_key(eui, usage)`` and ``private_key(eui,
usage)`` (``keys.KeyStore`` is one); usage is ``"ka"`` or ``"ds"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.axdr import decode_data
from gbcs.codec import GbcsMessage, check_payload_fits
from gbcs.crypto import ecdsa
from gbcs.crypto.gmac import compute_mac, verify_mac
from gbcs.crypto.kdf import derive_key, shared_secret
from gbcs.crypto.part_cipher import decrypt_part, encrypt_part, part_key_inputs
from gbcs.envelope import (
    Cra,
    Envelope,
    GroupingHeader,
    SignatureForm,
    as_eui,
    encode_general_ciphering,
    encode_general_signing,
)
from gbcs.errors import GbcsSecurityError
from gbcs.payload import EncryptedPart, PartContext, Payload
from gbcs.wire import Reader
from gbcs.zcl import decode_zcl_payload

DEFAULT_ACB = bytes.fromhex("90B3D51F30000002")
ENCRYPTION_MODE = 4


class KeyProvider(Protocol):
    """Where the security layer finds keys (``keys.KeyStore`` satisfies it)."""

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None: ...

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None: ...


class Verdict(StrEnum):
    """Outcome of a MAC or signature check."""

    VALID = "valid"
    INVALID = "invalid"
    NO_KEY = "no key"
    ABSENT = "absent"  # no MAC (general-signing) / no signature field (pre-command)
    NULL = "null"  # null signature (length 00)


@dataclass(frozen=True, slots=True)
class Check:
    """A verdict with the reason a user needs to act on it."""

    verdict: Verdict
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DecryptedPart:
    """An encrypted part and, when a key was found and the tag matched, its plaintext."""

    part: EncryptedPart
    plaintext: bytes | None
    detail: str = ""


def mac_parties(msg: GbcsMessage, acb: bytes = DEFAULT_ACB) -> tuple[bytes, bytes]:
    """The two EUIs whose KA keys key this message's MAC."""
    if msg.cra is Cra.COMMAND:
        return as_eui(acb), msg.recipient
    return msg.originator, msg.recipient


def _ecdh(keys: KeyProvider, a: bytes, b: bytes) -> tuple[bytes | None, str]:
    """ECDH secret between a and b's KA keys, from whichever private key is available."""
    for mine, theirs in ((a, b), (b, a)):
        priv = keys.private_key(mine, "ka")
        if priv is None:
            continue
        pub = keys.public_key(theirs, "ka")
        if pub is None:
            continue
        return shared_secret(priv, pub), ""
    return (
        None,
        f"needs the KA private key of {a.hex().upper()} or {b.hex().upper()}"
        " and the other's KA public key",
    )


def _mac_key(msg: GbcsMessage, keys: KeyProvider, acb: bytes) -> tuple[bytes | None, str]:
    a, b = mac_parties(msg, acb)
    z, why = _ecdh(keys, a, b)
    if z is None:
        return None, why
    return derive_key(z, msg.originator, int(msg.cra), msg.counter, msg.recipient), ""


def check_mac(msg: GbcsMessage, keys: KeyProvider, acb: bytes = DEFAULT_ACB) -> Check:
    """Verify the MAC over the exact General-Signing bytes."""
    if msg.envelope is Envelope.GENERAL_SIGNING or msg.mac is None:
        return Check(Verdict.ABSENT, "general-signing only")
    key, why = _mac_key(msg, keys, acb)
    if key is None:
        return Check(Verdict.NO_KEY, why)
    if verify_mac(key, msg.originator, msg.gs_apdu(), msg.mac):
        return Check(Verdict.VALID)
    return Check(Verdict.INVALID, "MAC does not match")


def check_signature(msg: GbcsMessage, keys: KeyProvider) -> Check:
    """Verify the originator's ECDSA signature (only a DS key is ever used)."""
    if msg.signature_form is SignatureForm.ABSENT:
        return Check(Verdict.ABSENT, "no signature field")
    if msg.signature_form is SignatureForm.NULL:
        return Check(Verdict.NULL, "null signature")
    problem = ecdsa.check_signature_encoding(msg.signature)
    if problem:
        return Check(Verdict.INVALID, problem)
    pub = keys.public_key(msg.originator, "ds")
    if pub is None:
        return Check(Verdict.NO_KEY, f"needs the DS public key of {msg.originator.hex().upper()}")
    if ecdsa.verify(pub, msg.signed_data(), msg.signature):
        return Check(Verdict.VALID)
    return Check(Verdict.INVALID, "signature does not verify")


def _part_key(header: GroupingHeader, keys: KeyProvider) -> tuple[bytes | None, str]:
    oi = header.other
    party, counter = part_key_inputs(
        header.originator,
        header.recipient,
        header.counter,
        oi.srp_id,
        oi.supplementary_originator_counter,
    )
    device = header.originator if header.cra is not Cra.COMMAND else header.recipient
    z, why = _ecdh(keys, device, party)
    if z is None:
        return None, why
    return derive_key(z, header.originator, ENCRYPTION_MODE, counter, party), ""


def decrypt_parts(
    msg: GbcsMessage,
    keys: KeyProvider,
    parts: tuple[EncryptedPart, ...] | None = None,
) -> tuple[DecryptedPart, ...]:
    """Decrypt every encrypted part the payload carries (failures are reported, not raised).

    ``parts`` is ``msg.encrypted_parts()`` when the caller has already listed them.
    """
    if parts is None:
        parts = msg.encrypted_parts()
    if not parts:
        return ()
    key, why = _part_key(msg.header, keys)
    out = []
    for p in parts:
        if key is None:
            out.append(DecryptedPart(p, None, why))
            continue
        try:
            out.append(DecryptedPart(p, decrypt_part(key, msg.originator, p.blob)))
        except GbcsSecurityError as e:
            out.append(DecryptedPart(p, None, str(e)))
    return tuple(out)


def decode_plaintext(part: DecryptedPart) -> object:
    """Decode a decrypted part: A-XDR Data (DLMS) or the component's ZCL payload (GBZ)."""
    if part.plaintext is None:
        raise GbcsSecurityError("part was not decrypted")
    pt = part.plaintext
    if part.part.context is PartContext.DLMS:
        r = Reader(pt, 0, len(pt), "plaintext")
        value = decode_data(r, "data")
        r.done("data")
        return value
    return decode_zcl_payload(
        part.part.cluster or 0,
        part.part.frame_control or 0,
        part.part.command or 0,
        pt,
        "plaintext",
        0,
    )


def part_key_for(header: GroupingHeader, keys: KeyProvider) -> bytes:
    """The key of the sensitive parts of a message with this header (to build one)."""
    key, why = _part_key(header, keys)
    if key is None:
        raise GbcsSecurityError(why)
    return key


def seal_part(key: bytes, originator: bytes, plaintext: bytes) -> bytes:
    """Encrypt one sensitive part into its ``31 00000000 ‖ ct ‖ tag`` blob."""
    return encrypt_part(key, as_eui(originator), plaintext)


def sign(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    variant: ecdsa.SignatureVariant = ecdsa.SignatureVariant.CNSA,
    **kwargs: object,
) -> GbcsMessage:
    """``msg`` with a fresh 64-byte r‖s signature over its signed bytes."""
    unsigned = replace(
        msg, signature_form=SignatureForm.ABSENT, signature=b"", mac=None, raw=None, layout=None
    )
    sig = ecdsa.sign(private_key, unsigned.signed_data(), variant, **kwargs)  # type: ignore[arg-type]
    return replace(unsigned, signature_form=SignatureForm.PRESENT, signature=sig, mac=None)


def apply_mac(msg: GbcsMessage, keys: KeyProvider, acb: bytes = DEFAULT_ACB) -> GbcsMessage:
    """``msg`` in General-Ciphering form with its MAC computed from ``keys``."""
    plain = replace(msg, envelope=Envelope.GENERAL_SIGNING, mac=None, raw=None, layout=None)
    key, why = _mac_key(plain, keys, acb)
    if key is None:
        raise GbcsSecurityError(f"cannot MAC: {why}")
    mac = compute_mac(key, msg.originator, plain.gs_apdu())
    return replace(plain, envelope=Envelope.GENERAL_CIPHERING, mac=mac)


def protect(
    header: GroupingHeader,
    payload: Payload,
    keys: KeyProvider,
    *,
    sign_key: ec.EllipticCurvePrivateKey | None = None,
    mac: bool = True,
    acb: bytes = DEFAULT_ACB,
    variant: ecdsa.SignatureVariant = ecdsa.SignatureVariant.CNSA,
) -> bytes:
    """Encode, sign (when ``sign_key``) and MAC (when ``mac``) a message in one pass.

    The payload is encoded once and the MAC computed over exactly the bytes sent; the
    result equals ``apply_mac(sign(build(...)))`` (or the signed General-Signing form
    alone when ``mac`` is false), without re-encoding.
    """
    content = payload.encode()
    check_payload_fits(header, payload, content)
    if sign_key is not None:
        unsigned = encode_general_signing(header, content, SignatureForm.ABSENT)
        sig = ecdsa.sign(sign_key, unsigned[1:], variant)
        gs = encode_general_signing(header, content, SignatureForm.PRESENT, sig)
    else:
        gs = encode_general_signing(header, content, SignatureForm.NULL)
    if not mac:
        return gs
    a, b = (
        (as_eui(acb), header.recipient)
        if header.cra is Cra.COMMAND
        else (
            header.originator,
            header.recipient,
        )
    )
    z, why = _ecdh(keys, a, b)
    if z is None:
        raise GbcsSecurityError(f"cannot MAC: {why}")
    key = derive_key(z, header.originator, int(header.cra), header.counter, header.recipient)
    return encode_general_ciphering(gs, compute_mac(key, header.originator, gs))
