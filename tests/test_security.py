"""Message-level security rules not covered by the interop verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.codec import decode
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.security import Verdict, check_signature, sign
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import interop

pytestmark = pytest.mark.interop


def _esme_ka() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    d = interop.keys_dir()
    key = serialization.load_pem_private_key((d / "00db1234567890a0-ka.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((d / "00db1234567890a0-ka.pem").read_bytes())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key, cert


def _signed_by_esme_ka() -> bytes:
    """A device response signed with the ESME's KA key (which must never verify)."""
    v = next(
        x
        for x in interop.vectors()
        if x["device_type"] == "ESME"
        and x["direction"] == "response"
        and x["expected"].get("signature") == "valid"
    )
    key, _ = _esme_ka()
    return sign(decode(bytes.fromhex(v["hex"])), key, SignatureVariant.DETERMINISTIC).encode()


def test_ka_key_is_never_used_to_verify(tmp_path: Path) -> None:
    data = _signed_by_esme_ka()
    _, cert = _esme_ka()
    ka_only = KeyStore()
    ka_only.add(bytes.fromhex("00DB1234567890A0"), KeyUsage.KA, certificate=cert)
    check = check_signature(decode(data), ka_only)
    assert check.verdict is Verdict.NO_KEY
    # A KA certificate filed as a DS key is refused: in memory at once...
    with pytest.raises(ValueError, match="Key Agreement"):
        KeyStore().add(bytes.fromhex("00DB1234567890A0"), KeyUsage.DS, certificate=cert)
    # ...and on disk it loads for inspection but never serves a verification.
    (tmp_path / "00db1234567890a0-ds.pem").write_bytes(
        (interop.keys_dir() / "00db1234567890a0-ka.pem").read_bytes()
    )
    misfiled = KeyStore(tmp_path)
    assert misfiled.entry(bytes.fromhex("00DB1234567890A0"), KeyUsage.DS) is not None
    assert check_signature(decode(data), misfiled).verdict is Verdict.NO_KEY
    # The real DS certificate rejects it as invalid: it was not signed with the DS key.
    store = KeyStore(interop.keys_dir())
    assert check_signature(decode(data), store).verdict is Verdict.INVALID


def test_signature_encoding_problems_are_reported() -> None:
    data = bytearray(_signed_by_esme_ka())
    msg = decode(bytes(data))
    sig_at = msg.layout.content_end + 1 if msg.layout else 0
    data[sig_at : sig_at + 32] = b"\x00" * 32  # r = 0
    check = check_signature(decode(bytes(data)), KeyStore(interop.keys_dir()))
    assert check.verdict is Verdict.INVALID
    assert "r" in check.detail and "range" in check.detail
