"""The form of a GBCS ECDSA signature (64 bytes ``r ‖ s``, each in ``[1, n-1]``).

Checked without loading the ``cryptography`` package, so a decode without keys never
imports it; :mod:`gbcs.crypto.ecdsa` and :mod:`gbcs.crypto.p256` use these constants.
"""

from __future__ import annotations

SCALAR_BYTES = 32
SIGNATURE_LENGTH = 2 * SCALAR_BYTES
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""The order of the P-256 base point."""


def check_signature_encoding(signature: bytes) -> str | None:
    """Why ``signature`` cannot be a valid GBCS ECDSA signature, or ``None`` if its form is fine.

    Reasons: ``"length N, expected 64"``, ``"r out of range"``, ``"s out of range"``
    (``r`` and ``s`` must both lie in ``[1, n-1]``).
    """
    if not isinstance(signature, bytes | bytearray | memoryview):
        return f"not bytes ({type(signature).__name__})"
    if len(signature) != SIGNATURE_LENGTH:
        return f"length {len(signature)}, expected {SIGNATURE_LENGTH}"
    r = int.from_bytes(signature[:SCALAR_BYTES], "big")
    s = int.from_bytes(signature[SCALAR_BYTES:], "big")
    if not 0 < r < N:
        return "r out of range"
    if not 0 < s < N:
        return "s out of range"
    return None
