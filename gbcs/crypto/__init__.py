"""GBCS cryptographic primitives (``gbcs-wire.md`` §8): P-256 ECDH + KDF, the 12-byte GMAC,
payload-part encryption and ECDSA with raw ``r ‖ s`` signatures.

These are stateless building blocks (apart from the ECDH cache); which keys, titles and
counters to feed them is the security layer's business.
"""

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
from gbcs.crypto.gmac import MAC_LENGTH, compute_mac, gcm_iv, mac_key, verify_mac
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
from gbcs.crypto.part_cipher import decrypt_part, encrypt_part, part_key, part_key_inputs

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
