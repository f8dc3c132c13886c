"""Encryption of sensitive payload parts (``gbcs-wire.md`` §8.5).

A protected part is the blob ``31 00000000 ‖ ciphertext ‖ tag12``: AES-128-GCM with
``IV = originator system title ‖ 00000000``, ``AAD = 31`` (the security control byte) and
the tag truncated to 12 bytes. The key is the §8.2 KDF with mode ``04``.

Which party and counter feed that KDF (see :func:`part_key_inputs`): the key party is
the *supplementary remote party* when the grouping header names one, else the business
recipient; the counter is the *supplementary originator counter* when present, else the
originator counter. The ECDH pair is the device KA key ↔ that party's KA key, and the
party's EUI is also the ``OtherInfo`` recipient; the originator stays the business
originator (the device). The security layer applies this rule; this module only offers it
as a pure function.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gbcs.crypto.gmac import INVOCATION_COUNTER, MAC_LENGTH, check_aes_key, gcm_iv
from gbcs.crypto.kdf import SYSTEM_TITLE_LENGTH, KdfMode, derive_key, shared_secret
from gbcs.errors import GbcsSecurityError

SECURITY_CONTROL = 0x31  # authenticated + encrypted, suite 1
PART_HEADER = bytes((SECURITY_CONTROL,)) + INVOCATION_COUNTER
PART_OVERHEAD = len(PART_HEADER) + MAC_LENGTH  # 17 bytes around the ciphertext
_AAD = bytes((SECURITY_CONTROL,))
_MAX_COUNTER = (1 << 64) - 1


def encrypt_part(key: bytes, originator: bytes, plaintext: bytes) -> bytes:
    """The protected blob ``31 00000000 ‖ ciphertext ‖ tag12`` for ``plaintext``."""
    check_aes_key(key)
    # GCM's truncated tag is the full tag's prefix, so the one-shot AEAD API serves.
    out = AESGCM(bytes(key)).encrypt(gcm_iv(originator), bytes(plaintext), _AAD)
    return PART_HEADER + out[:-16] + out[-16 : -16 + MAC_LENGTH]


def decrypt_part(key: bytes, originator: bytes, blob: bytes) -> bytes:
    """The plaintext of a protected blob.

    Raises :class:`GbcsSecurityError` (and nothing else) for a bad key or originator
    length, a blob shorter than 17 bytes, a security control byte other than ``31``, a
    non-zero invocation counter, or a tag mismatch.
    """
    check_aes_key(key)
    iv = gcm_iv(originator)
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise GbcsSecurityError("encrypted part must be bytes")
    blob = bytes(blob)
    if len(blob) < PART_OVERHEAD:
        raise GbcsSecurityError(
            f"encrypted part is {len(blob)} bytes, shorter than its {PART_OVERHEAD}-byte overhead"
        )
    if blob[0] != SECURITY_CONTROL:
        raise GbcsSecurityError(f"encrypted part security control is {blob[0]:02X}, expected 31")
    if blob[1:5] != INVOCATION_COUNTER:
        raise GbcsSecurityError("encrypted part invocation counter is not 00000000")
    dec = Cipher(
        algorithms.AES(bytes(key)), modes.GCM(iv, blob[-MAC_LENGTH:], min_tag_length=MAC_LENGTH)
    ).decryptor()
    dec.authenticate_additional_data(_AAD)
    pt = dec.update(blob[len(PART_HEADER) : -MAC_LENGTH])
    try:
        return pt + dec.finalize()
    except InvalidTag:
        raise GbcsSecurityError("encrypted part tag mismatch") from None


def part_key(
    private_key: ec.EllipticCurvePrivateKey,
    peer_public_key: ec.EllipticCurvePublicKey,
    originator: bytes,
    counter: int,
    recipient: bytes,
) -> bytes:
    """The 16-byte part-encryption key: KDF over ECDH(``private_key``, ``peer_public_key``)
    with mode ``04``.

    ``recipient`` and ``counter`` are the *key party* and *key counter* of
    :func:`part_key_inputs` (supplementary remote party / supplementary originator counter
    when present), not necessarily the grouping header's recipient and counter. The key
    pair is the device KA key and the key party's KA key, from either side.
    """
    z = shared_secret(private_key, peer_public_key)
    return derive_key(z, originator, KdfMode.ENCRYPTION, counter, recipient)


def part_key_inputs(
    originator: bytes,
    recipient: bytes,
    counter: int,
    srp_id: bytes | None,
    supplementary_originator_counter: int | None,
) -> tuple[bytes, int]:
    """``(party_eui, counter)`` for the part-encryption KDF of a message.

    ``party_eui`` is ``srp_id`` (the supplementary remote party) if given, else
    ``recipient``; ``counter`` is ``supplementary_originator_counter`` if given, else the
    originator ``counter``. ``originator`` is checked but unchanged by the rule: it stays
    the ``OtherInfo`` originator.
    """
    party = recipient if srp_id is None else srp_id
    for name, title in (("originator", originator), ("recipient", recipient), ("srp_id", party)):
        if not isinstance(title, bytes | bytearray) or len(title) != SYSTEM_TITLE_LENGTH:
            raise GbcsSecurityError(f"{name} must be an 8-byte system title")
    if supplementary_originator_counter is not None:
        counter = supplementary_originator_counter
    if not isinstance(counter, int) or not 0 <= counter <= _MAX_COUNTER:
        raise GbcsSecurityError("counter must be an unsigned 64-bit integer")
    return bytes(party), counter
