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

import importlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from gbcs.axdr import decode_data
from gbcs.codec import GbcsMessage, check_payload_fits
from gbcs.crypto.sigform import check_signature_encoding
from gbcs.envelope import (
    SIGNATURE_LENGTH,
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

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from gbcs.crypto.ecdsa import SignatureVariant

DEFAULT_ACB = bytes.fromhex("90B3D51F30000002")
ENCRYPTION_MODE = 4

# The crypto modules load ``cryptography`` (a tenth of the CLI's start-up); they are
# imported the first time a key is actually used, so a decode without keys skips them.
_CRYPTO: dict[str, Any] = {}


def _c(name: str) -> Any:
    """The ``gbcs.crypto`` submodule ``name``, imported on first use."""
    mod = _CRYPTO.get(name)
    if mod is None:
        mod = _CRYPTO[name] = importlib.import_module(f"gbcs.crypto.{name}")
    return mod


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
    h = msg.header
    if h.cra is Cra.COMMAND:
        return (acb if type(acb) is bytes and len(acb) == 8 else as_eui(acb)), h.recipient
    return h.originator, h.recipient


# ECDH results per (key provider, its generation, EUI a, EUI b): a batch of messages
# between the same parties looks the keys up and checks the cache of Z once, not per
# message. Only providers with an integer ``generation`` that changes whenever a key is
# added, replaced or removed (``keys.KeyStore``) are cached, and an entry answers only
# for the very provider object it was made with (it holds it, so its id() stays unique).
_PAIRS: OrderedDict[tuple[int, int, bytes, bytes], tuple[object, bytes | None, str]] = OrderedDict()
_PAIRS_SIZE = 4096
_PAIRS_LOCK = threading.Lock()


def clear_pair_cache() -> None:
    """Forget every cached ECDH result of :func:`check_mac` and the part decryption."""
    with _PAIRS_LOCK:
        _PAIRS.clear()


def _ecdh(keys: KeyProvider, a: bytes, b: bytes) -> tuple[bytes | None, str]:
    """ECDH secret between a and b's KA keys, from whichever private key is available."""
    own_cache = getattr(keys, "ecdh_secret", None)  # a provider that caches Z itself
    if own_cache is not None:
        z = own_cache(a, b)
        return (z, "") if z is not None else (None, _no_pair(a, b))
    gen = getattr(keys, "generation", None)
    ck = None
    if type(gen) is int and type(a) is bytes and type(b) is bytes:
        ck = (id(keys), gen, a, b)
        hit = _PAIRS.get(ck)
        if hit is not None and hit[0] is keys:
            return hit[1], hit[2]
    z = _ecdh_uncached(keys, a, b)
    why = "" if z is not None else _no_pair(a, b)
    if ck is not None:
        with _PAIRS_LOCK:
            _PAIRS[ck] = (keys, z, why)
            if len(_PAIRS) > _PAIRS_SIZE:
                _PAIRS.popitem(last=False)
    return z, why


def _ecdh_uncached(keys: KeyProvider, a: bytes, b: bytes) -> bytes | None:
    for mine, theirs in ((a, b), (b, a)):
        priv = keys.private_key(mine, "ka")
        if priv is None:
            continue
        pub = keys.public_key(theirs, "ka")
        if pub is None:
            continue
        return _c("kdf").shared_secret(priv, pub)  # type: ignore[no-any-return]
    return None


def _no_pair(a: bytes, b: bytes) -> str:
    return (
        f"needs the KA private key of {a.hex().upper()} or {b.hex().upper()}"
        " and the other's KA public key"
    )


def _mac_key(msg: GbcsMessage, keys: KeyProvider, acb: bytes) -> tuple[bytes | None, str]:
    a, b = mac_parties(msg, acb)
    z, why = _ecdh(keys, a, b)
    if z is None:
        return None, why
    h = msg.header
    return _c("kdf").derive_key(z, h.originator, h.cra._value_, h.counter, h.recipient), ""


# Checks are immutable: the verdicts that carry a fixed detail are made once.
_MAC_ABSENT = Check(Verdict.ABSENT, "general-signing only")
_MAC_VALID = Check(Verdict.VALID)
_MAC_INVALID = Check(Verdict.INVALID, "MAC does not match")
_SIG_ABSENT = Check(Verdict.ABSENT, "no signature field")
_SIG_NULL = Check(Verdict.NULL, "null signature")
_SIG_VALID = Check(Verdict.VALID)
_SIG_INVALID = Check(Verdict.INVALID, "signature does not verify")


# "No key" verdicts name the missing keys' EUIs: one instance per text, up to a bound.
_NO_KEY_CHECKS: dict[str, Check] = {}
_NO_KEY_CHECKS_SIZE = 4096


def _no_key(why: str) -> Check:
    check = _NO_KEY_CHECKS.get(why)
    if check is None:
        if len(_NO_KEY_CHECKS) >= _NO_KEY_CHECKS_SIZE:
            _NO_KEY_CHECKS.clear()
        check = _NO_KEY_CHECKS[why] = Check(Verdict.NO_KEY, why)
    return check


def check_mac(msg: GbcsMessage, keys: KeyProvider, acb: bytes = DEFAULT_ACB) -> Check:
    """Verify the MAC over the exact General-Signing bytes."""
    if msg.envelope is Envelope.GENERAL_SIGNING or msg.mac is None:
        return _MAC_ABSENT
    key, why = _mac_key(msg, keys, acb)
    if key is None:
        return _no_key(why)
    if _c("gmac").verify_mac(key, msg.originator, msg.gs_apdu(), msg.mac):
        return _MAC_VALID
    return _MAC_INVALID


def check_signature(msg: GbcsMessage, keys: KeyProvider) -> Check:
    """Verify the originator's ECDSA signature (only a DS key is ever used)."""
    form = msg.signature_form
    if form is SignatureForm.ABSENT:
        return _SIG_ABSENT
    if form is SignatureForm.NULL:
        return _SIG_NULL
    problem = check_signature_encoding(msg.signature)
    if problem:
        return Check(Verdict.INVALID, problem)
    originator = msg.header.originator
    pub = keys.public_key(originator, "ds")
    if pub is None:
        return _no_key(f"needs the DS public key of {originator.hex().upper()}")
    if _c("ecdsa").verify(pub, msg.signed_data(), msg.signature):
        return _SIG_VALID
    return _SIG_INVALID


def _part_key(header: GroupingHeader, keys: KeyProvider) -> tuple[bytes | None, str]:
    oi = header.other
    device = header.originator if header.cra is not Cra.COMMAND else header.recipient
    # The party is the supplementary remote party if any, else the recipient (as
    # part_key_inputs says, which also checks the inputs once a key is there to use).
    z, why = _ecdh(keys, device, header.recipient if oi.srp_id is None else oi.srp_id)
    if z is None:
        return None, why
    party, counter = _c("part_cipher").part_key_inputs(
        header.originator,
        header.recipient,
        header.counter,
        oi.srp_id,
        oi.supplementary_originator_counter,
    )
    return _c("kdf").derive_key(z, header.originator, ENCRYPTION_MODE, counter, party), ""


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
            out.append(
                DecryptedPart(p, _c("part_cipher").decrypt_part(key, msg.originator, p.blob))
            )
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
    from gbcs.zcl import decode_zcl_payload  # GBZ only: DLMS-only use never loads ZCL

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
    return _c("part_cipher").encrypt_part(key, as_eui(originator), plaintext)


def sign(
    msg: GbcsMessage,
    private_key: ec.EllipticCurvePrivateKey,
    variant: SignatureVariant | str = "cnsa",
    **kwargs: object,
) -> GbcsMessage:
    """``msg`` with a fresh 64-byte r‖s signature over its signed bytes."""
    unsigned = replace(
        msg, signature_form=SignatureForm.ABSENT, signature=b"", mac=None, raw=None, layout=None
    )
    sig = _c("ecdsa").sign(private_key, unsigned.signed_data(), variant, **kwargs)
    return replace(unsigned, signature_form=SignatureForm.PRESENT, signature=sig, mac=None)


def apply_mac(msg: GbcsMessage, keys: KeyProvider, acb: bytes = DEFAULT_ACB) -> GbcsMessage:
    """``msg`` in General-Ciphering form with its MAC computed from ``keys``."""
    plain = replace(msg, envelope=Envelope.GENERAL_SIGNING, mac=None, raw=None, layout=None)
    key, why = _mac_key(plain, keys, acb)
    if key is None:
        raise GbcsSecurityError(f"cannot MAC: {why}")
    mac = _c("gmac").compute_mac(key, msg.originator, plain.gs_apdu())
    return replace(plain, envelope=Envelope.GENERAL_CIPHERING, mac=mac)


def mac_exact(msg: GbcsMessage, keys: KeyProvider, acb: bytes = DEFAULT_ACB) -> bytes:
    """The General-Ciphering bytes of ``msg`` MAC'd over exactly its General-Signing bytes
    as received (a decoded message is not re-encoded): how the DCC wraps a user's signed
    pre-command, whose signature covers those bytes."""
    key, why = _mac_key(msg, keys, acb)
    if key is None:
        raise GbcsSecurityError(f"cannot MAC: {why}")
    gs = msg.gs_apdu()
    return encode_general_ciphering(gs, _c("gmac").compute_mac(key, msg.originator, gs))


def protect(
    header: GroupingHeader,
    payload: Payload,
    keys: KeyProvider,
    *,
    sign_key: ec.EllipticCurvePrivateKey | None = None,
    mac: bool = True,
    acb: bytes = DEFAULT_ACB,
    variant: SignatureVariant | str = "cnsa",
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
        sig = _c("ecdsa").sign(sign_key, unsigned[1:], variant)
        if len(sig) == SIGNATURE_LENGTH:  # the signed form, without encoding the header again
            gs = unsigned + b"\x40" + sig
        else:
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
    key = _c("kdf").derive_key(
        z, header.originator, int(header.cra), header.counter, header.recipient
    )
    return encode_general_ciphering(gs, _c("gmac").compute_mac(key, header.originator, gs))
