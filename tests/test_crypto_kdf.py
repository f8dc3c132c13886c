"""ECDH cache, OtherInfo, KDF and GMAC (gbcs.crypto.kdf, gbcs.crypto.gmac); no interop data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from gbcs.crypto import (
    ALGORITHM_ID,
    KdfMode,
    clear_shared_secret_cache,
    compute_mac,
    derive_key,
    gcm_iv,
    mac_key,
    other_info,
    p256,
    private_key_from_scalar,
    shared_secret,
    shared_secret_cache_info,
    verify_mac,
)
from gbcs.errors import GbcsSecurityError

ORIG = bytes.fromhex("123456789ABCDEF0")
RECIP = bytes.fromhex("FFFFFFFFFFFFFFFE")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_shared_secret_cache(4096)
    yield
    clear_shared_secret_cache(4096)


def _pem_roundtrip_private(key: ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    loaded = load_pem_private_key(pem, password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded


def _pem_roundtrip_public(key: ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    loaded = load_pem_public_key(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    return loaded


# ------------------------------------------------------------------------------ OtherInfo


def test_other_info_layout_gbcs_18_4() -> None:
    info = other_info(ORIG, KdfMode.COMMAND, 1, RECIP)
    assert info == bytes.fromhex(
        "60857406080300 123456789ABCDEF0 09 01 0000000000000001 FFFFFFFFFFFFFFFE"
    )
    assert len(info) == 33
    assert info[:7] == ALGORITHM_ID


def test_other_info_mode_and_counter_positions() -> None:
    info = other_info(ORIG, 4, 0x0102030405060708, RECIP)
    assert info[15:17] == b"\x09\x04"
    assert info[17:25] == bytes.fromhex("0102030405060708")
    assert other_info(ORIG, KdfMode.ALERT, 2**64 - 1, RECIP)[16:25] == b"\x03" + b"\xff" * 8


def test_kdf_mode_values() -> None:
    assert [int(m) for m in KdfMode] == [1, 2, 3, 4]
    assert KdfMode.ENCRYPTION == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ORIG[:7], 1, 1, RECIP), "originator must be an 8-byte system title"),
        ((ORIG, 1, 1, RECIP + b"\x00"), "recipient must be an 8-byte system title"),
        (("123456789ABCDEF0", 1, 1, RECIP), "originator must be an 8-byte system title"),
        ((ORIG, 0, 1, RECIP), "KDF mode must be 1, 2, 3 or 4, got 0"),
        ((ORIG, 5, 1, RECIP), "KDF mode must be 1, 2, 3 or 4, got 5"),
        ((ORIG, 1, -1, RECIP), "counter must be an unsigned 64-bit integer"),
        ((ORIG, 1, 2**64, RECIP), "counter must be an unsigned 64-bit integer"),
    ],
)
def test_other_info_validation(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(GbcsSecurityError, match=message):
        other_info(*args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ KDF


def test_derive_key_is_truncated_sha256_of_counter_z_otherinfo() -> None:
    z = bytes(range(32))
    info = other_info(ORIG, 2, 1000, RECIP)
    expected = hashlib.sha256(b"\x00\x00\x00\x01" + z + info).digest()[:16]
    assert derive_key(z, ORIG, 2, 1000, RECIP) == expected
    assert derive_key(z, ORIG, 4, 1000, RECIP) != expected


def test_derive_key_gbcs_18_4_from_z() -> None:
    z = bytes.fromhex("9AACF2E6D51BD5FF8F37BF368019A691CB5B2FCB7B5F030A00063647B20E13FE")
    assert derive_key(z, ORIG, 1, 1, RECIP) == bytes.fromhex("859B846A24E1EA70A168409A1180676B")


@pytest.mark.parametrize("z", [b"", bytes(31), bytes(33)])
def test_derive_key_rejects_bad_z(z: bytes) -> None:
    with pytest.raises(GbcsSecurityError, match="shared secret Z must be 32 bytes"):
        derive_key(z, ORIG, 1, 1, RECIP)


# ------------------------------------------------------------------------ ECDH and cache


def test_shared_secret_is_symmetric_and_equals_x_of_d1_d2_g() -> None:
    a, b = 0x1111_2222_3333, 0xAAAA_BBBB_CCCC_DDDD
    ka, kb = private_key_from_scalar(a), private_key_from_scalar(b)
    z = shared_secret(ka, kb.public_key())
    assert z == shared_secret(kb, ka.public_key())
    assert z == p256.base_mul(a * b % p256.N)[0].to_bytes(32, "big")


def test_shared_secret_keeps_leading_zero_bytes() -> None:
    # Search for a pair whose Z starts with a zero byte; Z must stay 32 bytes.
    a = private_key_from_scalar(3)
    for b in range(2, 2000):
        x = p256.base_mul(3 * b)[0]
        if x < 1 << 248:
            z = shared_secret(a, private_key_from_scalar(b).public_key())
            assert len(z) == 32 and z[0] == 0 and int.from_bytes(z, "big") == x
            return
    pytest.fail("no Z with a leading zero byte found")  # pragma: no cover


def test_cache_hits_for_equal_keys_loaded_separately() -> None:
    priv = private_key_from_scalar(0xC0FFEE)
    peer = private_key_from_scalar(0xBEEF).public_key()
    assert shared_secret_cache_info()[:2] == (0, 0)
    z1 = shared_secret(priv, peer)
    z2 = shared_secret(_pem_roundtrip_private(priv), _pem_roundtrip_public(peer))
    z3 = shared_secret(private_key_from_scalar(0xC0FFEE), peer)
    assert z1 == z2 == z3
    info = shared_secret_cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 1, 1)


def test_cache_distinguishes_direction_and_pairs() -> None:
    ka, kb = private_key_from_scalar(5), private_key_from_scalar(6)
    kc = private_key_from_scalar(7)
    shared_secret(ka, kb.public_key())
    shared_secret(kb, ka.public_key())  # same Z, different key pair: separate entry
    shared_secret(ka, kc.public_key())
    info = shared_secret_cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 3, 3)


def test_cache_is_bounded_lru() -> None:
    clear_shared_secret_cache(2)
    own = private_key_from_scalar(9)
    peers = [private_key_from_scalar(d).public_key() for d in (10, 11, 12)]
    shared_secret(own, peers[0])
    shared_secret(own, peers[1])
    shared_secret(own, peers[0])  # hit; peers[1] is now least recent
    shared_secret(own, peers[2])  # evicts peers[1]
    shared_secret(own, peers[0])  # hit
    shared_secret(own, peers[1])  # miss again
    info = shared_secret_cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (2, 4, 2, 2)


def test_cache_size_zero_disables_caching() -> None:
    clear_shared_secret_cache(0)
    own, peer = private_key_from_scalar(21), private_key_from_scalar(22).public_key()
    assert shared_secret(own, peer) == shared_secret(own, peer)
    info = shared_secret_cache_info()
    assert (info.hits, info.misses, info.currsize) == (0, 2, 0)
    with pytest.raises(GbcsSecurityError, match="cache size must be >= 0"):
        clear_shared_secret_cache(-1)


def test_shared_secret_rejects_wrong_keys() -> None:
    own = private_key_from_scalar(5)
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(GbcsSecurityError, match="expected a P-256 key, got curve secp384r1"):
        shared_secret(own, p384.public_key())  # type: ignore[arg-type]
    with pytest.raises(GbcsSecurityError, match="expected a P-256 public key, got"):
        shared_secret(own, own)  # type: ignore[arg-type]
    with pytest.raises(GbcsSecurityError, match="expected a P-256 private key, got"):
        shared_secret(own.public_key(), own.public_key())  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- GMAC


def test_gcm_iv() -> None:
    assert gcm_iv(ORIG) == bytes.fromhex("123456789ABCDEF000000000")
    with pytest.raises(GbcsSecurityError, match="originator must be an 8-byte system title"):
        gcm_iv(ORIG[:4])


def test_compute_mac_is_truncated_gcm_tag_over_prefixed_aad() -> None:
    key = bytes(range(16))
    gs = bytes.fromhex("DF0901") + bytes(40)
    full = AESGCM(key).encrypt(ORIG + bytes(4), b"", bytes.fromhex("110000000000") + gs)
    assert len(full) == 16
    mac = compute_mac(key, ORIG, gs)
    assert mac == full[:12]
    assert verify_mac(key, ORIG, gs, mac)
    assert not verify_mac(key, ORIG, gs + b"\x00", mac)
    assert not verify_mac(key, ORIG, gs, bytes([mac[0] ^ 1]) + mac[1:])
    assert not verify_mac(key, RECIP, gs, mac)
    assert not verify_mac(key, ORIG, gs, full)  # 16-byte tag: wrong length
    assert not verify_mac(key, ORIG, gs, mac[:11])


@pytest.mark.parametrize("key", [b"", bytes(15), bytes(17), bytes(32)])
def test_mac_rejects_bad_key_length(key: bytes) -> None:
    with pytest.raises(GbcsSecurityError, match="AES key must be 16 bytes"):
        compute_mac(key, ORIG, b"\xdf")
    with pytest.raises(GbcsSecurityError, match="AES key must be 16 bytes"):
        verify_mac(key, ORIG, b"\xdf", bytes(12))


def test_mac_key_combines_ecdh_and_kdf() -> None:
    acb, dev = private_key_from_scalar(0xACB), private_key_from_scalar(0xDE5)
    k1 = mac_key(acb, dev.public_key(), ORIG, 1, 7, RECIP)
    k2 = mac_key(dev, acb.public_key(), ORIG, KdfMode.COMMAND, 7, RECIP)
    assert k1 == k2 == derive_key(shared_secret(acb, dev.public_key()), ORIG, 1, 7, RECIP)
    with pytest.raises(GbcsSecurityError, match="CRA flag must be 1, 2 or 3, got 4"):
        mac_key(acb, dev.public_key(), ORIG, 4, 7, RECIP)
