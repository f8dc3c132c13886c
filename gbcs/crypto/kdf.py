"""Static-static ECDH and the GBCS single-step key derivation (``gbcs-wire.md`` §8.2).

``Z`` is the x-coordinate of ECDH between a party's KA private key and the peer's KA
public key; a message key is ``SHA-256(00000001 ‖ Z ‖ OtherInfo)[:16]`` with the 33-byte
``OtherInfo = 60 85 74 06 08 03 00 ‖ originator ‖ 09 ‖ mode ‖ counter ‖ recipient``
(NIST SP 800-56A concatenation KDF, one round).

Static-static ECDH between the same two keys always yields the same ``Z``, so
:func:`shared_secret` keeps a bounded LRU cache keyed on the two public points. A
private key's public point identifies it (``d ↦ d·G`` is one-to-one), so the same pair
loaded twice from disk hits the cache. The encoded point of each key object is memoised
too (up to 1,024 objects, kept alive while listed), so a hit costs a few microseconds.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from enum import IntEnum
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.crypto.p256 import check_private_key, check_public_key, raw_public_point
from gbcs.errors import GbcsSecurityError

ALGORITHM_ID = bytes.fromhex("60857406080300")
OTHER_INFO_LENGTH = 33
SECRET_LENGTH = 32
KEY_LENGTH = 16
SYSTEM_TITLE_LENGTH = 8
_MAX_COUNTER = (1 << 64) - 1


class KdfMode(IntEnum):
    """The mode byte of ``OtherInfo``: the CRA flag for MAC keys, 4 for payload encryption."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3
    ENCRYPTION = 4


class CacheInfo(NamedTuple):
    """Statistics of the ECDH cache; ``misses`` is the number of ECDH computations."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class _SecretCache:
    """Bounded LRU of ``Z`` keyed by (own public point, peer public point)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[tuple[bytes, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, bytes]) -> bytes | None:
        with self._lock:
            z = self._data.get(key)
            if z is None:
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return z

    def put(self, key: tuple[bytes, bytes], z: bytes) -> None:
        with self._lock:
            self.misses += 1
            if not self.maxsize:
                return
            self._data[key] = z
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, self.maxsize, len(self._data))

    def clear(self, maxsize: int | None = None) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0
            if maxsize is not None:
                self.maxsize = maxsize


_CACHE = _SecretCache(4096)

# Encoding a key's public point costs ~6-8 µs, more than a cache hit itself; memoise it per
# key object. Entries hold the object, so its id() cannot be reused while it is listed.
_POINT_MEMO: OrderedDict[int, tuple[object, bytes]] = OrderedDict()
_POINT_MEMO_SIZE = 1024
_POINT_LOCK = threading.Lock()


def _point_of(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    with _POINT_LOCK:
        entry = _POINT_MEMO.get(id(key))
        if entry is not None and entry[0] is key:
            return entry[1]
    raw = raw_public_point(key)
    with _POINT_LOCK:
        _POINT_MEMO[id(key)] = (key, raw)
        if len(_POINT_MEMO) > _POINT_MEMO_SIZE:
            _POINT_MEMO.popitem(last=False)
    return raw


def shared_secret_cache_info() -> CacheInfo:
    """Hits, misses (= ECDH computations), size limit and current size of the ECDH cache."""
    return _CACHE.info()


def clear_shared_secret_cache(maxsize: int | None = None) -> None:
    """Empty the ECDH cache (and the per-key-object point memo) and reset its statistics;
    optionally change its size limit (``0`` disables caching)."""
    if maxsize is not None and maxsize < 0:
        raise GbcsSecurityError("cache size must be >= 0")
    _CACHE.clear(maxsize)
    with _POINT_LOCK:
        _POINT_MEMO.clear()


def shared_secret(
    private_key: ec.EllipticCurvePrivateKey, public_key: ec.EllipticCurvePublicKey
) -> bytes:
    """``Z``: the 32-byte x-coordinate of static-static ECDH P-256 (cached per key pair).

    Raises :class:`GbcsSecurityError` if either key is not P-256 or the exchange fails.
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        check_private_key(private_key)  # raises with a clear message
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        check_public_key(public_key)
    cache_key = (_point_of(private_key), _point_of(public_key))  # also checks the curve
    z = _CACHE.get(cache_key)
    if z is not None:
        return z
    try:
        z = private_key.exchange(ec.ECDH(), public_key)
    except ValueError as exc:
        raise GbcsSecurityError(f"ECDH failed: {exc}") from exc
    if len(z) != SECRET_LENGTH:  # cryptography always pads Z to the field size
        raise GbcsSecurityError(f"ECDH returned {len(z)} bytes, expected {SECRET_LENGTH}")
    _CACHE.put(cache_key, z)
    return z


def _check_title(value: bytes, name: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != SYSTEM_TITLE_LENGTH:
        raise GbcsSecurityError(f"{name} must be an 8-byte system title")


def _check_mode(mode: int) -> None:
    if not isinstance(mode, int) or mode not in KdfMode._value2member_map_:
        raise GbcsSecurityError(f"KDF mode must be 1, 2, 3 or 4, got {mode!r}")


def _check_counter(counter: int) -> None:
    if not isinstance(counter, int) or not 0 <= counter <= _MAX_COUNTER:
        raise GbcsSecurityError("counter must be an unsigned 64-bit integer")


def other_info(originator: bytes, mode: int, counter: int, recipient: bytes) -> bytes:
    """The 33-byte KDF ``OtherInfo``:
    ``60 85 74 06 08 03 00 ‖ originator(8) ‖ 09 ‖ mode ‖ counter(8, BE) ‖ recipient(8)``."""
    _check_title(originator, "originator")
    _check_title(recipient, "recipient")
    _check_mode(mode)
    _check_counter(counter)
    return b"".join(
        (
            ALGORITHM_ID,
            originator,
            bytes((0x09, mode)),
            counter.to_bytes(8, "big"),
            recipient,
        )
    )


def derive_key(z: bytes, originator: bytes, mode: int, counter: int, recipient: bytes) -> bytes:
    """The 16-byte AES key ``SHA-256(00000001 ‖ Z ‖ OtherInfo)[:16]``."""
    if not isinstance(z, bytes | bytearray) or len(z) != SECRET_LENGTH:
        raise GbcsSecurityError(f"shared secret Z must be {SECRET_LENGTH} bytes")
    if (  # the decode path's arguments: skip the general checks, same bytes
        type(originator) is bytes
        and type(recipient) is bytes
        and len(originator) == len(recipient) == SYSTEM_TITLE_LENGTH
        and type(mode) is int
        and 1 <= mode <= 4
        and type(counter) is int
        and 0 <= counter <= _MAX_COUNTER
    ):
        info = b"".join(
            (ALGORITHM_ID, originator, _MODE_BYTES[mode], counter.to_bytes(8, "big"), recipient)
        )
    else:
        info = other_info(originator, mode, counter, recipient)
    return hashlib.sha256(b"\x00\x00\x00\x01" + z + info).digest()[:KEY_LENGTH]


_MODE_BYTES = {m: bytes((0x09, m)) for m in (1, 2, 3, 4)}
