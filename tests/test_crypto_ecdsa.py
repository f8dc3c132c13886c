"""ECDSA P-256/SHA-256 signer variants, verifier and P-256 helpers (gbcs.crypto)."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gbcs.crypto import (
    FixedK,
    SignatureVariant,
    check_signature_encoding,
    gbcs_k,
    p256,
    private_key_from_scalar,
    public_key_from_raw,
    public_key_from_xy,
    raw_public_point,
    rfc6979_k,
    sign,
    verify,
    verify_detail,
)
from gbcs.errors import GbcsSecurityError
from tests.interop import ROOT, interop_dir

N = p256.N
_SHARED = (interop_dir() or ROOT.parent / "shared" / "interop").parent
VECTORS_FILE = _SHARED / "reference" / "ecdsa-vectors.json"

# RFC 6979 A.2.5 key, reused for edge cases.
D_RFC = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
EDGE_MSG = b"leading zeros"
K_R_LEADING_ZERO = 379  # r = 00 55 43 89 ... for D_RFC / EDGE_MSG (found by search)
K_S_LEADING_ZERO = 398  # s = 00 F7 AF 76 ...


def _load_vectors() -> list[dict[str, str]]:
    if not VECTORS_FILE.is_file():
        return []
    return json.loads(VECTORS_FILE.read_text())["vectors"]


VECTORS = _load_vectors()
RFC_VECTORS = [v for v in VECTORS if v["source"].startswith("RFC 6979")]
needs_vectors = pytest.mark.skipif(not VECTORS, reason="reference/ecdsa-vectors.json not found")


def _h(x: str) -> int:
    return int(x, 16)


def _flip(sig: bytes, bit: int) -> bytes:
    b = bytearray(sig)
    b[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(b)


@pytest.fixture(scope="module")
def rfc_key() -> ec.EllipticCurvePrivateKey:
    return private_key_from_scalar(D_RFC)


# ------------------------------------------------------------------- known-answer vectors


@needs_vectors
def test_vector_file_has_the_three_expected_vectors() -> None:
    assert [v["message_ascii"] for v in VECTORS] == [
        "Example of ECDSA with P-256",
        "sample",
        "test",
    ]


@needs_vectors
@pytest.mark.parametrize("idx", range(3))
def test_gbcs_variant_fixed_k_reproduces_r_s(idx: int) -> None:
    v = VECTORS[idx]
    key = private_key_from_scalar(_h(v["d"]))
    msg = v["message_ascii"].encode()
    sig = sign(key, msg, SignatureVariant.GBCS, k_source=FixedK(_h(v["k"])))
    assert sig == bytes.fromhex(v["r"] + v["s"])


@needs_vectors
@pytest.mark.parametrize("idx", range(3))
def test_public_key_from_d_matches_q(idx: int) -> None:
    v = VECTORS[idx]
    d = _h(v["d"])
    q = (_h(v["Qx"]), _h(v["Qy"]))
    assert p256.base_mul(d) == q
    assert p256.point_mul(d, p256.G) == q
    pub = private_key_from_scalar(d).public_key()
    assert p256.public_xy(pub) == q
    assert raw_public_point(pub) == bytes.fromhex("04" + v["Qx"] + v["Qy"])
    assert raw_public_point(public_key_from_xy(*q)) == raw_public_point(pub)


@needs_vectors
@pytest.mark.parametrize("idx", range(3))
def test_vector_verifies_and_every_single_bit_flip_is_rejected(idx: int) -> None:
    v = VECTORS[idx]
    pub = public_key_from_xy(_h(v["Qx"]), _h(v["Qy"]))
    msg = v["message_ascii"].encode()
    sig = bytes.fromhex(v["r"] + v["s"])
    assert verify(pub, msg, sig)
    for bit in (0, 7, 100, 255, 256, 300, 511):
        assert not verify(pub, msg, _flip(sig, bit))
    assert not verify(pub, msg + b".", sig)
    assert verify_detail(pub, msg + b".", sig) == "signature mismatch"


@needs_vectors
@pytest.mark.parametrize("idx", range(2))
def test_rfc6979_k_and_signature_match_rfc(idx: int) -> None:
    v = RFC_VECTORS[idx]
    key = private_key_from_scalar(_h(v["d"]))
    msg = v["message_ascii"].encode()
    assert rfc6979_k(key, msg) == _h(v["k"])
    assert rfc6979_k(_h(v["d"]), msg) == _h(v["k"])
    assert sign(key, msg, SignatureVariant.DETERMINISTIC) == bytes.fromhex(v["r"] + v["s"])
    assert sign(key, msg, "deterministic") == bytes.fromhex(v["r"] + v["s"])


@pytest.mark.parametrize("msg", [b"", b"sample", b"test", bytes(range(256)) * 3])
def test_deterministic_variant_matches_openssl_rfc6979(
    rfc_key: ec.EllipticCurvePrivateKey, msg: bytes
) -> None:
    try:
        der = rfc_key.sign(msg, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    except Exception as exc:  # pragma: no cover - depends on the OpenSSL build
        pytest.skip(f"OpenSSL deterministic signing unavailable: {exc}")
    r, s = decode_dss_signature(der)
    expected = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert sign(rfc_key, msg, SignatureVariant.DETERMINISTIC) == expected


# --------------------------------------------------------------------------- k generation


def test_gbcs_k_draws_320_bits_and_reduces_mod_n_minus_1() -> None:
    asked: list[int] = []

    def source(nbytes: int) -> bytes:
        asked.append(nbytes)
        return b"\xff" * nbytes

    assert gbcs_k(source) == (2**320 - 1) % (N - 1) + 1
    assert asked == [40]
    assert gbcs_k(lambda n: bytes(n)) == 1
    assert gbcs_k(lambda n: (N - 1).to_bytes(n, "big")) == 1  # c = n-1 wraps to k = 1
    assert gbcs_k(lambda n: (N - 2).to_bytes(n, "big")) == N - 1


def test_gbcs_variant_uses_the_injected_source(rfc_key: ec.EllipticCurvePrivateKey) -> None:
    c = bytes(range(1, 41))
    k = int.from_bytes(c, "big") % (N - 1) + 1
    sig = sign(rfc_key, b"msg", SignatureVariant.GBCS, k_source=lambda n: c)
    assert sig == sign(rfc_key, b"msg", "gbcs", k_source=FixedK(k))
    assert int.from_bytes(sig[:32], "big") == p256.base_mul(k)[0] % N


def test_fixed_k_returns_c_with_k_equal_c_mod_n_minus_1_plus_1() -> None:
    assert FixedK(1)(40) == bytes(40)
    assert FixedK(N - 1)(40) == (N - 2).to_bytes(40, "big")
    for bad in (0, N, -1):
        with pytest.raises(GbcsSecurityError, match="fixed k out of range"):
            FixedK(bad)


def test_k_source_errors(rfc_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(GbcsSecurityError, match="must return 40 bytes"):
        sign(rfc_key, b"x", "gbcs", k_source=lambda n: b"\x01" * (n - 1))
    with pytest.raises(GbcsSecurityError, match="only applies to the gbcs"):
        sign(rfc_key, b"x", "cnsa", k_source=FixedK(5))
    with pytest.raises(GbcsSecurityError, match="only applies to the gbcs"):
        sign(rfc_key, b"x", "deterministic", k_source=FixedK(5))
    with pytest.raises(GbcsSecurityError, match="unknown signature variant 'fips'"):
        sign(rfc_key, b"x", "fips")


def test_s_zero_with_fixed_k_is_refused_not_looped() -> None:
    # s = k⁻¹(e + d·r) = 0 when d = -e/r mod n: build such a key for k = 1.
    e = int.from_bytes(hashlib.sha256(b"zero s").digest(), "big")
    r = p256.GX % N
    d = (-e * pow(r, -1, N)) % N
    with pytest.raises(GbcsSecurityError, match="r == 0 or s == 0"):
        sign(private_key_from_scalar(d), b"zero s", "gbcs", k_source=FixedK(1))


def test_sign_rejects_non_p256_keys() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(GbcsSecurityError, match="expected a P-256 key, got curve secp384r1"):
        sign(other, b"x")  # type: ignore[arg-type]
    with pytest.raises(GbcsSecurityError, match="expected a P-256 private key, got bytes"):
        sign(b"\x01" * 32, b"x")  # type: ignore[arg-type]
    with pytest.raises(GbcsSecurityError, match="expected a P-256 public key"):
        verify(other, b"x", bytes(64))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- edge cases


def test_r_with_leading_zero_byte_is_padded_and_verifies(
    rfc_key: ec.EllipticCurvePrivateKey,
) -> None:
    sig = sign(rfc_key, EDGE_MSG, "gbcs", k_source=FixedK(K_R_LEADING_ZERO))
    assert len(sig) == 64
    assert sig[:4].hex() == "00554389"
    assert int.from_bytes(sig[:32], "big") == p256.base_mul(K_R_LEADING_ZERO)[0] % N
    assert verify(rfc_key.public_key(), EDGE_MSG, sig)


def test_s_with_leading_zero_byte_is_padded_and_verifies(
    rfc_key: ec.EllipticCurvePrivateKey,
) -> None:
    sig = sign(rfc_key, EDGE_MSG, "gbcs", k_source=FixedK(K_S_LEADING_ZERO))
    assert len(sig) == 64
    assert sig[32:36].hex() == "00f7af76"
    assert verify(rfc_key.public_key(), EDGE_MSG, sig)


def test_high_and_low_s_both_verify(rfc_key: ec.EllipticCurvePrivateKey) -> None:
    sig = sign(rfc_key, b"malleable", "gbcs", k_source=FixedK(12345))
    r, s = sig[:32], int.from_bytes(sig[32:], "big")
    other = r + (N - s).to_bytes(32, "big")
    high = sig if s > N // 2 else other
    assert int.from_bytes(high[32:], "big") > N // 2
    pub = rfc_key.public_key()
    assert verify(pub, b"malleable", sig)
    assert verify(pub, b"malleable", other)


@pytest.mark.parametrize(
    ("r", "s", "reason"),
    [
        (0, 1, "r out of range"),
        (N, 1, "r out of range"),
        (2**256 - 1, 1, "r out of range"),
        (1, 0, "s out of range"),
        (1, N, "s out of range"),
        (0, 0, "r out of range"),
    ],
)
def test_out_of_range_r_s_rejected(
    rfc_key: ec.EllipticCurvePrivateKey, r: int, s: int, reason: str
) -> None:
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert check_signature_encoding(sig) == reason
    assert verify(rfc_key.public_key(), b"x", sig) is False
    assert verify_detail(rfc_key.public_key(), b"x", sig) == reason


@pytest.mark.parametrize("length", [0, 63, 65, 72])
def test_wrong_length_signatures_rejected(rfc_key: ec.EllipticCurvePrivateKey, length: int) -> None:
    good = sign(rfc_key, b"x", "deterministic")
    sig = (good + b"\x01" * 8)[:length]
    assert check_signature_encoding(sig) == f"length {length}, expected 64"
    assert verify(rfc_key.public_key(), b"x", sig) is False


def test_der_signature_is_not_accepted(rfc_key: ec.EllipticCurvePrivateKey) -> None:
    der = rfc_key.sign(b"x", ec.ECDSA(hashes.SHA256()))
    assert verify(rfc_key.public_key(), b"x", der) is False


def test_check_signature_encoding_accepts_boundaries_and_rejects_non_bytes() -> None:
    assert check_signature_encoding((1).to_bytes(32, "big") * 2) is None
    assert check_signature_encoding((N - 1).to_bytes(32, "big") * 2) is None
    assert check_signature_encoding("00" * 64) == "not bytes (str)"  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", list(SignatureVariant))
def test_every_variant_verifies_with_the_common_verifier(
    rfc_key: ec.EllipticCurvePrivateKey, variant: SignatureVariant
) -> None:
    msg = b"variant-agnostic " + variant.value.encode()
    sig = sign(rfc_key, msg, variant)
    assert len(sig) == 64
    pub = rfc_key.public_key()
    assert verify(pub, msg, sig)
    # ... and with OpenSSL directly (the DER path is what every other party uses)
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, msg, ec.ECDSA(hashes.SHA256()))
    assert not verify(pub, msg + b"!", sig)


def test_random_variants_differ_each_time_deterministic_does_not(
    rfc_key: ec.EllipticCurvePrivateKey,
) -> None:
    assert sign(rfc_key, b"m", "cnsa") != sign(rfc_key, b"m", "cnsa")
    assert sign(rfc_key, b"m", "gbcs") != sign(rfc_key, b"m", "gbcs")
    assert sign(rfc_key, b"m", "deterministic") == sign(rfc_key, b"m", "deterministic")


def test_variant_enum_values() -> None:
    assert [v.value for v in SignatureVariant] == ["cnsa", "gbcs", "deterministic"]
    assert SignatureVariant("gbcs") is SignatureVariant.GBCS
    assert isinstance(SignatureVariant.CNSA, str)


@pytest.mark.parametrize(
    ("usage", "ok"), [(None, True), ("ds", True), ("DS", True), ("ka", False), ("pp-ka", False)]
)
def test_usage_ka_never_verifies(
    rfc_key: ec.EllipticCurvePrivateKey, usage: str | None, ok: bool
) -> None:
    sig = sign(rfc_key, b"u", "deterministic")
    assert verify(rfc_key.public_key(), b"u", sig, usage=usage) is ok
    if not ok:
        assert verify_detail(rfc_key.public_key(), b"u", sig, usage=usage) == (
            f"key usage {usage} cannot verify"
        )


# ---------------------------------------------------------------------------- P-256 helpers


def test_key_helpers_validate_inputs() -> None:
    for bad in (0, N, -5):
        with pytest.raises(GbcsSecurityError, match="private scalar out of range"):
            private_key_from_scalar(bad)
    with pytest.raises(GbcsSecurityError, match="not on P-256"):
        public_key_from_xy(p256.GX, p256.GY + 1)
    with pytest.raises(GbcsSecurityError, match="not on P-256"):
        public_key_from_xy(p256.GX + p256.P, p256.GY)
    raw = raw_public_point(private_key_from_scalar(7))
    assert len(raw) == 65 and raw[0] == 4
    assert raw_public_point(public_key_from_raw(raw)) == raw
    assert raw_public_point(private_key_from_scalar(7).public_key()) == raw
    with pytest.raises(GbcsSecurityError, match="65 bytes starting 04"):
        public_key_from_raw(b"\x02" + raw[1:33])


def test_point_arithmetic_agrees_with_openssl() -> None:
    for d in (1, 2, 3, 15, 16, 17, 2**128 + 1, N - 2, N - 1, 0xDEADBEEF << 200):
        pub = private_key_from_scalar(d).public_key()
        assert p256.base_mul(d) == p256.public_xy(pub)
        assert p256.point_mul(d, p256.G) == p256.public_xy(pub)
    q = p256.base_mul(0x1234)
    assert p256.point_mul(0x5678, q) == p256.base_mul(0x1234 * 0x5678)
    assert p256.point_mul(N, q) is None
    with pytest.raises(GbcsSecurityError, match="scalar out of range"):
        p256.base_mul(0)
