"""The 12-byte GBCS message MAC (``gbcs-wire.md`` §8.3–8.4).

AES-128-GCM with an empty plaintext, ``IV = originator system title ‖ 00000000`` and
``AAD = 11 00 00 00 00 00 ‖ General-Signing APDU`` (from ``DF`` through the last signature
byte); the MAC is the first 12 bytes of the 16-byte tag.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gbcs.crypto.kdf import KEY_LENGTH, SYSTEM_TITLE_LENGTH, KdfMode, derive_key, shared_secret
from gbcs.errors import GbcsSecurityError

MAC_LENGTH = 12
AAD_PREFIX = bytes.fromhex("110000000000")
INVOCATION_COUNTER = b"\x00\x00\x00\x00"


def gcm_iv(originator: bytes) -> bytes:
    """The 12-byte GCM IV: ``originator system title ‖ 00000000``."""
    if not isinstance(originator, bytes | bytearray) or len(originator) != SYSTEM_TITLE_LENGTH:
        raise GbcsSecurityError("originator must be an 8-byte system title")
    return bytes(originator) + INVOCATION_COUNTER


def check_aes_key(key: bytes) -> None:
    """Raise :class:`GbcsSecurityError` unless ``key`` is a 16-byte AES-128 key."""
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
        raise GbcsSecurityError(f"AES key must be {KEY_LENGTH} bytes")


def compute_mac(key: bytes, originator: bytes, gs_apdu: bytes) -> bytes:
    """The 12-byte MAC of a General-Signing APDU (``DF`` … signature field, exact bytes)."""
    check_aes_key(key)
    iv = gcm_iv(originator)
    return AESGCM(bytes(key)).encrypt(iv, b"", AAD_PREFIX + bytes(gs_apdu))[:MAC_LENGTH]


def verify_mac(key: bytes, originator: bytes, gs_apdu: bytes, mac: bytes) -> bool:
    """True if ``mac`` is the 12-byte MAC of ``gs_apdu`` (constant-time comparison).

    A ``mac`` of the wrong length yields False; a bad key or originator length raises
    :class:`GbcsSecurityError`.
    """
    expected = compute_mac(key, originator, gs_apdu)
    if not isinstance(mac, bytes | bytearray | memoryview) or len(mac) != MAC_LENGTH:
        return False
    return hmac.compare_digest(expected, bytes(mac))


def mac_key(
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: ec.EllipticCurvePublicKey,
    originator: bytes,
    cra: int,
    counter: int,
    recipient: bytes,
) -> bytes:
    """The 16-byte MAC key of a message: KDF over ECDH(``private_key``, ``peer_public_key``)
    with ``mode = cra`` (1 command, 2 response, 3 alert), the grouping header's originator
    counter and its business originator/recipient titles.

    The ECDH pair is not always originator↔recipient: a command is keyed ACB KA ↔ device
    KA even when a supplier is the business originator (``gbcs-wire.md`` §8.1).
    """
    if cra not in (KdfMode.COMMAND, KdfMode.RESPONSE, KdfMode.ALERT):
        raise GbcsSecurityError(f"CRA flag must be 1, 2 or 3, got {cra!r}")
    z = shared_secret(private_key, peer_public_key)
    return derive_key(z, originator, cra, counter, recipient)
