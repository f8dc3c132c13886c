"""ECDSA P-256 / SHA-256 with GBCS's raw 64-byte ``r ‖ s`` signature encoding.

Three signing variants differ only in how the per-message secret ``k`` is produced
(``gbcs-wire.md`` §8.7, ``domain-rules.md`` §3.2); their signatures are indistinguishable
on the wire and :func:`verify` accepts all of them:

* ``cnsa``: OpenSSL's FIPS 186-4 signer with random ``k`` (the ``cryptography`` package).
* ``gbcs``: ``k`` from FIPS 186-4 Appendix B.5.1 / the NSA *Suite B Implementer's Guide to
  FIPS 186-3* ("per-message secret number generation using extra random bits"): draw
  320 bits ``c`` from an injectable source and use ``k = (c mod (n-1)) + 1``; the
  signature is then computed here with plain integer arithmetic. :class:`FixedK` turns a
  chosen ``k`` into such a source for known-answer tests.
* ``deterministic``: RFC 6979 ``k`` (HMAC-DRBG over SHA-256), same integer signer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from gbcs.crypto.p256 import (
    SCALAR_BYTES,
    N,
    base_mul,
    check_private_key,
    check_public_key,
    private_scalar,
)
from gbcs.crypto.sigform import SIGNATURE_LENGTH as SIGNATURE_LENGTH
from gbcs.crypto.sigform import check_signature_encoding as check_signature_encoding
from gbcs.errors import GbcsSecurityError

KSource = Callable[[int], bytes]
"""A source of random bytes for the ``gbcs`` variant: ``source(nbytes) -> nbytes bytes``."""

GBCS_K_BYTES = (256 + 64) // 8  # N + 64 bits of entropy for k (FIPS 186-4 B.5.1)
_MAX_ATTEMPTS = 16  # r == 0 or s == 0 has probability ~2^-255; a loop means a broken source
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_P256_NAME = ec.SECP256R1.name
# The concrete key classes of the ``cryptography`` backend: a key of exactly this type on
# P-256 needs no further check (anything else goes through check_*_key, as before).
_ONE = ec.derive_private_key(1, ec.SECP256R1())
_PRIVATE_TYPE: type = type(_ONE)
_PUBLIC_TYPE: type = type(_ONE.public_key())
del _ONE


class SignatureVariant(StrEnum):
    """How :func:`sign` generates the per-message secret ``k``."""

    CNSA = "cnsa"
    GBCS = "gbcs"
    DETERMINISTIC = "deterministic"


@dataclass(frozen=True, slots=True)
class FixedK:
    """A ``k`` source that makes the ``gbcs`` variant use exactly ``k`` (tests only).

    Called with ``nbytes`` it returns ``c = k - 1`` so that ``(c mod (n-1)) + 1 == k``.
    """

    k: int

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or not 0 < self.k < N:
            raise GbcsSecurityError("fixed k out of range [1, n-1]")

    def __call__(self, nbytes: int) -> bytes:
        return (self.k - 1).to_bytes(nbytes, "big")


def _hash_int(data: bytes) -> int:
    # e = leftmost 256 bits of SHA-256(data): the whole digest, since n has 256 bits.
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


def _sign_with_k(d: int, e: int, k: int) -> tuple[int, int] | None:
    x, _ = base_mul(k)
    r = x % N
    if r == 0:
        return None
    s = pow(k, -1, N) * (e + d * r) % N
    if s == 0:
        return None
    return r, s


def _encode(r: int, s: int) -> bytes:
    return r.to_bytes(SCALAR_BYTES, "big") + s.to_bytes(SCALAR_BYTES, "big")


_N_BYTES = N.to_bytes(SCALAR_BYTES, "big")
_ZERO = bytes(SCALAR_BYTES)


def _raw_from_der(der: bytes) -> bytes:
    """``r ‖ s`` (32 bytes each) of OpenSSL's DER ``SEQUENCE{INTEGER r, INTEGER s}``.

    Byte-identical to ``_encode(*decode_dss_signature(der))`` for P-256 signatures (r and
    s in [1, n-1], so the sequence is short and each integer at most 33 bytes); anything
    else takes that general path.
    """
    if len(der) > 8 and der[0] == 0x30 and der[1] == len(der) - 2 and der[2] == 0x02:
        lr = der[3]
        if 0 < lr <= SCALAR_BYTES + 1 and len(der) > 5 + lr and der[4 + lr] == 0x02:
            ls = der[5 + lr]
            if 0 < ls <= SCALAR_BYTES + 1 and len(der) == 6 + lr + ls:
                r = der[4 : 4 + lr]
                s = der[6 + lr :]
                # positive INTEGERs only (a 33rd byte is the 00 before a high bit)
                if (r[0] == 0 if lr > SCALAR_BYTES else not r[0] & 0x80) and (
                    s[0] == 0 if ls > SCALAR_BYTES else not s[0] & 0x80
                ):
                    return r[-SCALAR_BYTES:].rjust(SCALAR_BYTES, b"\0") + s[-SCALAR_BYTES:].rjust(
                        SCALAR_BYTES, b"\0"
                    )
    return _encode(*decode_dss_signature(der))


def _der_from_raw(signature: bytes) -> bytes:
    """The DER form OpenSSL verifies of a 64-byte ``r ‖ s`` whose r and s are in [1, n-1]:
    byte-identical to ``encode_dss_signature(r, s)`` (minimal INTEGERs, a 00 before a
    high bit)."""
    r = signature[:SCALAR_BYTES].lstrip(b"\0")
    s = signature[SCALAR_BYTES:].lstrip(b"\0")
    if r[0] & 0x80:
        r = b"\0" + r
    if s[0] & 0x80:
        s = b"\0" + s
    return b"".join((bytes((0x30, 4 + len(r) + len(s), 0x02, len(r))), r, bytes((0x02, len(s))), s))


def gbcs_k(k_source: KSource = os.urandom) -> int:
    """One per-message secret per FIPS 186-4 B.5.1: ``k = (c mod (n-1)) + 1``, ``c`` 320 bits."""
    c = k_source(GBCS_K_BYTES)
    if not isinstance(c, bytes | bytearray) or len(c) != GBCS_K_BYTES:
        raise GbcsSecurityError(f"k source must return {GBCS_K_BYTES} bytes")
    return int.from_bytes(c, "big") % (N - 1) + 1


def rfc6979_nonces(d: int, data: bytes) -> Iterator[int]:
    """RFC 6979 §3.2 candidate ``k`` values (HMAC-SHA-256) for key ``d`` and message ``data``.

    The first value is the ``k`` of a normal signature; later ones are only used when
    ``r`` or ``s`` comes out zero.
    """
    x = d.to_bytes(SCALAR_BYTES, "big")
    h = (_hash_int(data) % N).to_bytes(SCALAR_BYTES, "big")  # bits2octets(H(m))
    v = b"\x01" * 32
    key = b"\x00" * 32
    key = hmac.digest(key, v + b"\x00" + x + h, "sha256")
    v = hmac.digest(key, v, "sha256")
    key = hmac.digest(key, v + b"\x01" + x + h, "sha256")
    v = hmac.digest(key, v, "sha256")
    while True:
        v = hmac.digest(key, v, "sha256")
        k = int.from_bytes(v, "big")
        if 0 < k < N:
            yield k
        key = hmac.digest(key, v + b"\x00", "sha256")
        v = hmac.digest(key, v, "sha256")


def rfc6979_k(private_key: ec.EllipticCurvePrivateKey | int, data: bytes) -> int:
    """The RFC 6979 ``k`` that the ``deterministic`` variant uses for this key and message."""
    d = private_key if isinstance(private_key, int) else private_scalar(private_key)
    return next(rfc6979_nonces(d, data))


def sign(
    private_key: ec.EllipticCurvePrivateKey,
    data: bytes,
    variant: SignatureVariant | str = SignatureVariant.CNSA,
    *,
    k_source: KSource | None = None,
) -> bytes:
    """ECDSA P-256/SHA-256 signature of ``data`` as 64 bytes ``r ‖ s`` (each 32 bytes, big-endian,
    left-padded with zeros).

    ``k_source`` (``gbcs`` variant only) replaces ``os.urandom`` as the source of the 320
    random bits; pass :class:`FixedK` to force a given ``k``. Raises
    :class:`GbcsSecurityError` for an unusable key, an unknown variant, a ``k_source`` with
    another variant, or a source that keeps producing ``r == 0`` / ``s == 0``.
    """
    if variant is not SignatureVariant.CNSA:
        try:
            variant = SignatureVariant(variant)
        except ValueError:
            raise GbcsSecurityError(f"unknown signature variant {variant!r}") from None
    if k_source is not None and variant is not SignatureVariant.GBCS:
        raise GbcsSecurityError("k_source only applies to the gbcs signature variant")
    if variant is SignatureVariant.CNSA:
        # OpenSSL draws k itself: the scalar (private_numbers(), ~6 us) is not needed.
        if type(private_key) is not _PRIVATE_TYPE or private_key.curve.name != _P256_NAME:
            check_private_key(private_key)
        if type(data) is not bytes:
            data = bytes(data)
        return _raw_from_der(private_key.sign(data, _ECDSA_SHA256))
    d = private_scalar(private_key)
    e = _hash_int(data)
    nonces: Iterator[int]
    if variant is SignatureVariant.GBCS:
        source = os.urandom if k_source is None else k_source
        nonces = (gbcs_k(source) for _ in range(_MAX_ATTEMPTS))
    else:
        nonces = rfc6979_nonces(d, data)
    for _, k in zip(range(_MAX_ATTEMPTS), nonces, strict=False):
        rs = _sign_with_k(d, e, k)
        if rs is not None:
            return _encode(*rs)
    raise GbcsSecurityError("k source produced r == 0 or s == 0 repeatedly")


def verify_detail(
    public_key: ec.EllipticCurvePublicKey,
    data: bytes,
    signature: bytes,
    *,
    usage: str | None = None,
) -> str | None:
    """``None`` if ``signature`` is valid for ``data``, else the reason it is not.

    Reasons are those of :func:`check_signature_encoding`, ``"key usage ka cannot verify"``
    (any usage other than ``None``/``"ds"``) and ``"signature mismatch"``. Raises
    :class:`GbcsSecurityError` only when ``public_key`` is not a P-256 public key.
    """
    if type(public_key) is _PUBLIC_TYPE and public_key.curve.name == _P256_NAME:
        key = public_key  # the common case, without the ABC isinstance checks
    else:
        key = check_public_key(public_key)
    if usage is not None and usage.lower() != "ds":
        return f"key usage {usage.lower()} cannot verify"
    if type(signature) is bytes and len(signature) == SIGNATURE_LENGTH:
        # check_signature_encoding's range checks on the big-endian bytes themselves
        # (equal lengths compare as the integers do)
        r_raw, s_raw = signature[:SCALAR_BYTES], signature[SCALAR_BYTES:]
        if r_raw == _ZERO or r_raw >= _N_BYTES:
            return "r out of range"
        if s_raw == _ZERO or s_raw >= _N_BYTES:
            return "s out of range"
        der = _der_from_raw(signature)
    else:
        reason = check_signature_encoding(signature)
        if reason is not None:
            return reason
        r = int.from_bytes(signature[:SCALAR_BYTES], "big")
        s = int.from_bytes(signature[SCALAR_BYTES:], "big")
        der = encode_dss_signature(r, s)
    try:
        key.verify(der, data if type(data) is bytes else bytes(data), _ECDSA_SHA256)
    except InvalidSignature:
        return "signature mismatch"
    return None


def verify(
    public_key: ec.EllipticCurvePublicKey,
    data: bytes,
    signature: bytes,
    *,
    usage: str | None = None,
) -> bool:
    """True if ``signature`` (64-byte ``r ‖ s``) is a valid ECDSA P-256/SHA-256 signature.

    Variant-agnostic: any valid signature is accepted, high ``s`` included. Returns False
    (never raises) for a wrong length, ``r`` or ``s`` outside ``[1, n-1]``, or a mismatch.
    ``usage`` is the key's declared usage when the caller knows it: ``None`` or ``"ds"``
    verify normally; anything else (``"ka"``, ``"pp-ka"``) returns False, since a
    key-agreement key must never verify a signature. Raises :class:`GbcsSecurityError`
    only when ``public_key`` is not a P-256 public key.
    """
    return verify_detail(public_key, data, signature, usage=usage) is None
