"""NIST P-256 (secp256r1): curve constants, plain-integer point arithmetic and key helpers.

The integer arithmetic (Jacobian coordinates, ``a = -3`` formulas) exists so the GBCS and
RFC 6979 ECDSA signers can take an injected per-message secret ``k``; ECDH and signature
verification go through the ``cryptography`` package (OpenSSL). Nothing here is
constant-time: it is meant for an emulator and test rig, not for protecting real keys.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gbcs.crypto.sigform import SCALAR_BYTES as SCALAR_BYTES
from gbcs.crypto.sigform import N as N
from gbcs.errors import GbcsSecurityError

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5
G = (GX, GY)

CURVE = ec.SECP256R1()
RAW_POINT_LENGTH = 65  # 04 ‖ X(32) ‖ Y(32)

Point = tuple[int, int]  # affine (x, y); the point at infinity is never handed out
_Jac = tuple[int, int, int]  # Jacobian (X, Y, Z) with x = X/Z², y = Y/Z³; Z == 0 is infinity

_INF: _Jac = (1, 1, 0)


def is_on_curve(pt: Point) -> bool:
    """True if ``pt`` is an affine point of P-256 with coordinates in ``[0, p)``."""
    x, y = pt
    if not (0 <= x < P and 0 <= y < P):
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def _double(pt: _Jac) -> _Jac:
    # dbl-2001-b (a = -3)
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return _INF
    delta = z1 * z1 % P
    gamma = y1 * y1 % P
    beta = x1 * gamma % P
    alpha = 3 * (x1 - delta) * (x1 + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y1 + z1) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return x3, y3, z3


def _add(p1: _Jac, p2: _Jac) -> _Jac:
    # add-2007-bl
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - u1) % P
    r = 2 * (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else _INF
    i = 4 * h * h % P
    j = h * i % P
    v = u1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * s1 * j) % P
    z3 = ((z1 + z2) ** 2 - z1z1 - z2z2) * h % P
    return x3, y3, z3


def _add_affine(p1: _Jac, x2: int, y2: int) -> _Jac:
    # madd-2007-bl: Jacobian + affine
    x1, y1, z1 = p1
    if z1 == 0:
        return x2, y2, 1
    z1z1 = z1 * z1 % P
    u2 = x2 * z1z1 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = 2 * (s2 - y1) % P
    if h == 0:
        return _double(p1) if r == 0 else _INF
    hh = h * h % P
    i = 4 * hh
    j = h * i % P
    v = x1 * i % P
    x3 = (r * r - j - 2 * v) % P
    y3 = (r * (v - x3) - 2 * y1 * j) % P
    z3 = ((z1 + h) ** 2 - z1z1 - hh) % P
    return x3, y3, z3


def _to_affine(pt: _Jac) -> Point | None:
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _batch_to_affine(points: list[_Jac]) -> list[Point]:
    """Montgomery's trick: one modular inversion for the whole list (no infinities)."""
    acc = [1] * len(points)
    run = 1
    for i, (_, _, z) in enumerate(points):
        acc[i] = run
        run = run * z % P
    inv = pow(run, -1, P)
    out: list[Point] = [(0, 0)] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        zi = inv * acc[i] % P
        inv = inv * z % P
        zi2 = zi * zi % P
        out[i] = (x * zi2 % P, y * zi2 * zi % P)
    return out


# Fixed-base table for k·G: _BASE_TABLE[i][d - 1] = d · 16^i · G (affine), so k·G is a sum
# of 64 table entries with no doublings (~0.3 ms instead of ~2 ms per signature).
_WINDOW_BITS = 4
_WINDOWS = 256 // _WINDOW_BITS
_BASE_TABLE: list[list[Point]] | None = None
_TABLE_LOCK = threading.Lock()


def _base_table() -> list[list[Point]]:
    global _BASE_TABLE
    table = _BASE_TABLE
    if table is not None:
        return table
    with _TABLE_LOCK:
        if _BASE_TABLE is None:
            rows: list[_Jac] = []
            base: _Jac = (GX, GY, 1)
            per_row = (1 << _WINDOW_BITS) - 1
            for _ in range(_WINDOWS):
                acc = base
                rows.append(acc)
                for _ in range(per_row - 1):
                    acc = _add(acc, base)
                    rows.append(acc)
                base = _add(acc, base)  # 16 · base
            flat = _batch_to_affine(rows)
            _BASE_TABLE = [flat[i * per_row : (i + 1) * per_row] for i in range(_WINDOWS)]
        return _BASE_TABLE


def base_mul(k: int) -> Point:
    """``k·G`` in affine coordinates; ``k`` must be in ``[1, n-1]``."""
    if not 0 < k < N:
        raise GbcsSecurityError("scalar out of range [1, n-1]")
    table = _base_table()
    acc: _Jac = _INF
    i = 0
    while k:
        d = k & 0xF
        if d:
            x, y = table[i][d - 1]
            acc = _add_affine(acc, x, y)
        k >>= _WINDOW_BITS
        i += 1
    pt = _to_affine(acc)
    if pt is None:  # unreachable for 0 < k < n (G has prime order n)
        raise GbcsSecurityError("k·G is the point at infinity")
    return pt


def point_mul(k: int, pt: Point) -> Point | None:
    """``k·pt`` for an arbitrary curve point (4-bit window); ``None`` for infinity."""
    if not is_on_curve(pt):
        raise GbcsSecurityError("point is not on P-256")
    k %= N
    if k == 0:
        return None
    small: list[_Jac] = [(pt[0], pt[1], 1)]
    for _ in range(14):
        small.append(_add(small[-1], small[0]))
    acc: _Jac = _INF
    for shift in range((k.bit_length() + 3) // 4 * 4 - 4, -4, -4):
        acc = _double(_double(_double(_double(acc))))
        d = (k >> shift) & 0xF
        if d:
            acc = _add(acc, small[d - 1])
    return _to_affine(acc)


# ---------------------------------------------------------------- cryptography key helpers


def private_key_from_scalar(d: int) -> ec.EllipticCurvePrivateKey:
    """A ``cryptography`` P-256 private key with scalar ``d`` (``1 <= d < n``)."""
    if not isinstance(d, int) or not 0 < d < N:
        raise GbcsSecurityError("private scalar out of range [1, n-1]")
    return ec.derive_private_key(d, CURVE)


def public_key_from_xy(x: int, y: int) -> ec.EllipticCurvePublicKey:
    """A ``cryptography`` P-256 public key from affine coordinates (checked on the curve)."""
    if not is_on_curve((x, y)):
        raise GbcsSecurityError("public point is not on P-256")
    return ec.EllipticCurvePublicNumbers(x, y, CURVE).public_key()


def public_key_from_raw(raw: bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from its 65-byte uncompressed encoding ``04 ‖ X ‖ Y``."""
    if len(raw) != RAW_POINT_LENGTH or raw[0] != 0x04:
        raise GbcsSecurityError("raw public point must be 65 bytes starting 04")
    return public_key_from_xy(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"))


def check_public_key(key: object) -> ec.EllipticCurvePublicKey:
    """``key`` itself if it is a P-256 public key, else :class:`GbcsSecurityError`."""
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise GbcsSecurityError(f"expected a P-256 public key, got {type(key).__name__}")
    if not isinstance(key.curve, ec.SECP256R1):
        raise GbcsSecurityError(f"expected a P-256 key, got curve {key.curve.name}")
    return key


def check_private_key(key: object) -> ec.EllipticCurvePrivateKey:
    """``key`` itself if it is a P-256 private key, else :class:`GbcsSecurityError`."""
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise GbcsSecurityError(f"expected a P-256 private key, got {type(key).__name__}")
    if not isinstance(key.curve, ec.SECP256R1):
        raise GbcsSecurityError(f"expected a P-256 key, got curve {key.curve.name}")
    return key


def raw_public_point(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed point ``04 ‖ X ‖ Y`` of a public key (or of a private key's
    public half)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = check_private_key(key).public_key()
    return check_public_key(key).public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def public_xy(key: ec.EllipticCurvePublicKey) -> Point:
    """Affine coordinates of a P-256 public key."""
    numbers = check_public_key(key).public_numbers()
    return numbers.x, numbers.y


def private_scalar(key: ec.EllipticCurvePrivateKey) -> int:
    """The secret scalar ``d`` of a P-256 private key."""
    return check_private_key(key).private_numbers().private_value
