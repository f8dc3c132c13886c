"""GBCS cryptographic primitives (``gbcs-wire.md`` §8): P-256 ECDH + KDF, the 12-byte GMAC,
payload-part encryption and ECDSA with raw ``r ‖ s`` signatures.

These are stateless building blocks (apart from the ECDH cache); which keys, titles and
counters to feed them is the security layer's business.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Attributes load their submodule on first use: importing the package (as every
# ``gbcs.crypto.x`` import does) must not load ``cryptography`` for code that only
# checks a signature's form (:mod:`gbcs.crypto.sigform`).
_LAZY: dict[str, str] = {
    "SIGNATURE_LENGTH": "ecdsa",
    "FixedK": "ecdsa",
    "KSource": "ecdsa",
    "SignatureVariant": "ecdsa",
    "check_signature_encoding": "ecdsa",
    "gbcs_k": "ecdsa",
    "rfc6979_k": "ecdsa",
    "sign": "ecdsa",
    "verify": "ecdsa",
    "verify_detail": "ecdsa",
    "MAC_LENGTH": "gmac",
    "compute_mac": "gmac",
    "gcm_iv": "gmac",
    "mac_key": "gmac",
    "verify_mac": "gmac",
    "ALGORITHM_ID": "kdf",
    "CacheInfo": "kdf",
    "KdfMode": "kdf",
    "clear_shared_secret_cache": "kdf",
    "derive_key": "kdf",
    "other_info": "kdf",
    "shared_secret": "kdf",
    "shared_secret_cache_info": "kdf",
    "private_key_from_scalar": "p256",
    "public_key_from_raw": "p256",
    "public_key_from_xy": "p256",
    "raw_public_point": "p256",
    "decrypt_part": "part_cipher",
    "encrypt_part": "part_cipher",
    "part_key": "part_cipher",
    "part_key_inputs": "part_cipher",
}

if TYPE_CHECKING:
    from gbcs.crypto.ecdsa import (
        SIGNATURE_LENGTH,
        FixedK,
        KSource,
        SignatureVariant,
        check_signature_encoding,
        gbcs_k,
        rfc6979_k,
        sign,
        verify,
        verify_detail,
    )
    from gbcs.crypto.gmac import (
        MAC_LENGTH,
        compute_mac,
        gcm_iv,
        mac_key,
        verify_mac,
    )
    from gbcs.crypto.kdf import (
        ALGORITHM_ID,
        CacheInfo,
        KdfMode,
        clear_shared_secret_cache,
        derive_key,
        other_info,
        shared_secret,
        shared_secret_cache_info,
    )
    from gbcs.crypto.p256 import (
        private_key_from_scalar,
        public_key_from_raw,
        public_key_from_xy,
        raw_public_point,
    )
    from gbcs.crypto.part_cipher import (
        decrypt_part,
        encrypt_part,
        part_key,
        part_key_inputs,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ALGORITHM_ID",
    "MAC_LENGTH",
    "SIGNATURE_LENGTH",
    "CacheInfo",
    "FixedK",
    "KSource",
    "KdfMode",
    "SignatureVariant",
    "check_signature_encoding",
    "clear_shared_secret_cache",
    "compute_mac",
    "decrypt_part",
    "derive_key",
    "encrypt_part",
    "gbcs_k",
    "gcm_iv",
    "mac_key",
    "other_info",
    "part_key",
    "part_key_inputs",
    "private_key_from_scalar",
    "public_key_from_raw",
    "public_key_from_xy",
    "raw_public_point",
    "rfc6979_k",
    "shared_secret",
    "shared_secret_cache_info",
    "sign",
    "verify",
    "verify_detail",
    "verify_mac",
]
