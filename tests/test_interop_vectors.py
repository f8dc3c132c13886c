"""Acceptance over the 615 public GBCS messages in shared/interop/vectors.json.

Every message decodes, re-encodes byte-identical, yields the header fields the
reference parser reports, and gets the same MAC/signature verdicts and the same number
of decrypted parts; the malformed negatives raise GbcsDecodeError.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from gbcs.codec import decode
from gbcs.errors import GbcsDecodeError
from gbcs.inspect import inspect_message
from gbcs.security import Verdict
from keys.store import KeyStore
from tests import interop

MAC_VERDICTS = {
    "valid": Verdict.VALID,
    "invalid": Verdict.INVALID,
    "unknown": Verdict.NO_KEY,
    "absent (general-signing only)": Verdict.ABSENT,
}
SIGNATURE_VERDICTS = {
    "valid": Verdict.VALID,
    "null (length 0)": Verdict.NULL,
    "absent (no signature field)": Verdict.ABSENT,
}
HEADER_KEYS = (
    "envelope",
    "cra_flag",
    "cra",
    "originator_counter",
    "originator_counter_hex",
    "originator",
    "recipient",
    "date_time_hex",
    "date_time",
    "message_code",
    "content_length",
    "supplementary_remote_party_id",
    "supplementary_remote_party_counter",
    "supplementary_originator_counter",
)

pytestmark = pytest.mark.interop


@functools.cache
def _store() -> KeyStore:
    store = KeyStore()
    store.load_directory(interop.keys_dir())
    return store


def _vector(vid: str) -> dict[str, Any]:
    return interop.by_id(vid)


def test_vector_set_is_complete() -> None:
    vs = interop.vectors()
    assert len(vs) == 615
    assert sum(1 for v in vs if v["form"] == "malformed") == 2


@pytest.mark.parametrize("vid", interop.vector_ids())
def test_vector(vid: str) -> None:
    v = _vector(vid)
    data = bytes.fromhex(v["hex"])
    exp = v["expected"]
    if v["form"] == "malformed":
        with pytest.raises(GbcsDecodeError):
            decode(data)
        return
    msg = decode(data)
    assert msg.encode() == data
    r = inspect_message(data, _store(), acb=bytes.fromhex(v["acb"]))
    header = r.header()
    for key in HEADER_KEYS:
        if key in exp:
            assert header.get(key) == exp[key], key
        else:
            assert key not in header or key.startswith(("date_time",)), key
    if exp.get("message_code_name"):
        assert header["message_code_name"] == exp["message_code_name"]
    assert r.mac.verdict is MAC_VERDICTS[exp["mac"]], r.mac
    assert r.signature.verdict is SIGNATURE_VERDICTS[exp["signature"]], r.signature
    assert r.decrypted_count == exp["decrypted_parts"]
    if "encrypted_parts" in exp:
        assert len(r.parts) == exp["encrypted_parts"]
    else:
        assert len(r.parts) == exp["decrypted_parts"]
    for p in r.parts:
        assert not p.error, p.error


def test_every_payload_is_typed() -> None:
    """No vector falls back to an opaque payload."""
    kinds = {
        decode(bytes.fromhex(v["hex"])).payload.kind.value
        for v in interop.vectors()
        if v["form"] != "malformed"
    }
    assert "opaque" not in kinds
    assert {
        "dlms-access-request",
        "dlms-access-response",
        "dlms-data-notification",
        "gbz",
        "asn1",
    } <= kinds
