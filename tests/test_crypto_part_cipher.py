"""Encrypted payload parts (gbcs.crypto.part_cipher), without interop data."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs.crypto import (
    KdfMode,
    decrypt_part,
    derive_key,
    encrypt_part,
    part_key,
    part_key_inputs,
    private_key_from_scalar,
    shared_secret,
)
from gbcs.errors import GbcsSecurityError

KEY = bytes.fromhex("12CB821C471EC2144C68E12A5657F9FD")
DEVICE = bytes.fromhex("00DB1234567890A0")
SUPPLIER = bytes.fromhex("90B3D51F30010000")
ACB = bytes.fromhex("90B3D51F30000002")
PLAIN = bytes.fromhex("02 01 02 04 06 0000000A 02 02 0F 00 16 1E 06 0000000A 02 02 0F 00 16 20")
BLOB = bytes.fromhex(
    "31 00000000 E3035372DDD0648ADEDB866DFF001F09450DEBD034C36C6101DC 1D3CB50D35311B344436F883"
)


def test_encrypt_reproduces_rtds_ecs17b_blob() -> None:
    assert encrypt_part(KEY, DEVICE, PLAIN) == BLOB


def test_decrypt_rtds_ecs17b_blob() -> None:
    assert decrypt_part(KEY, DEVICE, BLOB) == PLAIN
    assert decrypt_part(KEY, DEVICE, bytearray(BLOB)) == PLAIN
    assert decrypt_part(KEY, DEVICE, memoryview(BLOB)) == PLAIN


def test_blob_is_gcm_with_aad_31_and_truncated_tag() -> None:
    full = AESGCM(KEY).encrypt(DEVICE + bytes(4), PLAIN, b"\x31")
    assert b"\x31\x00\x00\x00\x00" + full[:-4] == BLOB


def test_empty_plaintext() -> None:
    blob = encrypt_part(KEY, DEVICE, b"")
    assert len(blob) == 17 and blob[:5] == bytes.fromhex("3100000000")
    assert decrypt_part(KEY, DEVICE, blob) == b""


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300), st.binary(min_size=16, max_size=16))
def test_round_trip(plaintext: bytes, key: bytes) -> None:
    blob = encrypt_part(key, DEVICE, plaintext)
    assert len(blob) == len(plaintext) + 17
    assert decrypt_part(key, DEVICE, blob) == plaintext


@pytest.mark.parametrize("pos", [5, 10, 30, len(BLOB) - 12, len(BLOB) - 1])
def test_tampered_ciphertext_or_tag_raises_security_error(pos: int) -> None:
    bad = bytearray(BLOB)
    bad[pos] ^= 0x01
    with pytest.raises(GbcsSecurityError, match="encrypted part tag mismatch"):
        decrypt_part(KEY, DEVICE, bytes(bad))


def test_wrong_key_or_originator_raises_security_error() -> None:
    with pytest.raises(GbcsSecurityError, match="tag mismatch"):
        decrypt_part(bytes(16), DEVICE, BLOB)
    with pytest.raises(GbcsSecurityError, match="tag mismatch"):
        decrypt_part(KEY, SUPPLIER, BLOB)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "encrypted part is 0 bytes, shorter than its 17-byte overhead"),
        (BLOB[:16], "encrypted part is 16 bytes, shorter than its 17-byte overhead"),
        (b"\x30" + BLOB[1:], "encrypted part security control is 30, expected 31"),
        (b"\x11" + BLOB[1:], "encrypted part security control is 11, expected 31"),
        (BLOB[:4] + b"\x01" + BLOB[5:], "invocation counter is not 00000000"),
        ("31000000", "encrypted part must be bytes"),
    ],
)
def test_malformed_blob_raises_security_error(blob: bytes, message: str) -> None:
    with pytest.raises(GbcsSecurityError, match=message):
        decrypt_part(KEY, DEVICE, blob)


def test_bad_key_and_originator_lengths() -> None:
    with pytest.raises(GbcsSecurityError, match="AES key must be 16 bytes"):
        decrypt_part(KEY[:15], DEVICE, BLOB)
    with pytest.raises(GbcsSecurityError, match="AES key must be 16 bytes"):
        encrypt_part(KEY + KEY, DEVICE, PLAIN)
    with pytest.raises(GbcsSecurityError, match="originator must be an 8-byte system title"):
        decrypt_part(KEY, DEVICE[:7], BLOB)


def test_part_key_uses_mode_4_from_either_side() -> None:
    dev, party = private_key_from_scalar(0xD1), private_key_from_scalar(0x5A)
    k = part_key(dev, party.public_key(), DEVICE, 1000, SUPPLIER)
    assert k == part_key(party, dev.public_key(), DEVICE, 1000, SUPPLIER)
    z = shared_secret(dev, party.public_key())
    assert k == derive_key(z, DEVICE, KdfMode.ENCRYPTION, 1000, SUPPLIER)
    assert k != derive_key(z, DEVICE, KdfMode.RESPONSE, 1000, SUPPLIER)


def test_part_key_inputs_rule() -> None:
    # no supplementary remote party: recipient and originator counter
    assert part_key_inputs(DEVICE, SUPPLIER, 1000, None, None) == (SUPPLIER, 1000)
    # URP response via the ACB: SRP and supplementary originator counter (RTDS ECS21b URP)
    assert part_key_inputs(DEVICE, ACB, 0x516, SUPPLIER, 2002) == (SUPPLIER, 2002)
    # each substitution applies on its own
    assert part_key_inputs(DEVICE, ACB, 0x516, SUPPLIER, None) == (SUPPLIER, 0x516)
    assert part_key_inputs(DEVICE, ACB, 0x516, None, 2002) == (ACB, 2002)
    assert part_key_inputs(DEVICE, bytearray(ACB), 1, None, None) == (ACB, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((DEVICE[:7], SUPPLIER, 1, None, None), "originator must be an 8-byte"),
        ((DEVICE, SUPPLIER[:7], 1, None, None), "recipient must be an 8-byte"),
        ((DEVICE, ACB, 1, SUPPLIER + b"\x00", None), "srp_id must be an 8-byte"),
        ((DEVICE, ACB, -1, None, None), "counter must be an unsigned 64-bit"),
        ((DEVICE, ACB, 1, SUPPLIER, 2**64), "counter must be an unsigned 64-bit"),
    ],
)
def test_part_key_inputs_validation(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(GbcsSecurityError, match=message):
        part_key_inputs(*args)  # type: ignore[arg-type]
