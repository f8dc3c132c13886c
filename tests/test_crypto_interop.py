"""gbcs.crypto against real messages: GBCS 18.4 and RTDS ECS17b worked values (gbcs-wire.md
§8.8), then every MAC, signature and encrypted part of the interop vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.crypto import (
    KdfMode,
    clear_shared_secret_cache,
    compute_mac,
    decrypt_part,
    derive_key,
    encrypt_part,
    gcm_iv,
    mac_key,
    other_info,
    part_key,
    part_key_inputs,
    shared_secret,
    shared_secret_cache_info,
    sign,
    verify,
    verify_detail,
    verify_mac,
)
from tests import interop

pytestmark = pytest.mark.interop


@cache
def _key(name: str) -> Any:
    data = (interop.keys_dir() / name).read_bytes()
    if name.endswith(".key"):
        return serialization.load_pem_private_key(data, password=None)
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def _pub(name: str) -> ec.EllipticCurvePublicKey:
    key = _key(name)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _priv(name: str) -> ec.EllipticCurvePrivateKey:
    key = _key(name)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _split(msg: bytes) -> tuple[bytes, bytes | None]:
    """(General-Signing APDU, MAC or None): just enough envelope parsing for these tests."""
    if msg[0] == 0xDF:
        return msg, None
    assert msg[:7] == bytes.fromhex("DD000000000000")
    first = msg[7]
    n = 1 if first < 0x80 else 1 + (first & 0x7F)
    length = int.from_bytes(msg[8 : 7 + n], "big") if n > 1 else first
    start = 7 + n
    assert msg[start : start + 5] == bytes.fromhex("1100000000")
    assert len(msg) == start + length
    return msg[start + 5 : -12], msg[-12:]


def _signed_part(gs: bytes) -> tuple[bytes, bytes]:
    """(signed bytes = GS[1:] up to the end of the content, 64-byte signature)."""
    assert gs[-65] == 0x40
    return gs[1:-65], gs[-64:]


def _title(hex16: str) -> bytes:
    return bytes.fromhex(hex16)


def _vector_18_4() -> dict[str, Any]:
    found = [
        v
        for v in interop.vectors()
        if "GBCS 18.4" in (v.get("device_type") or "")
        and v["signed"]
        and v["message_code"] == "0x00B3"
    ]
    assert len(found) == 1
    return found[0]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_shared_secret_cache()
    yield


# --------------------------------------------------------------------------- GBCS 18.4


def test_gbcs_18_4_mac_and_signature_worked_values() -> None:
    vec = _vector_18_4()
    msg = bytes.fromhex(vec["hex"])
    gs, mac = _split(msg)
    assert len(gs) == 152 and mac is not None
    assert gs[:3] == bytes.fromhex("DF0901")
    counter = int.from_bytes(gs[3:11], "big")
    originator, recipient = gs[12:20], gs[21:29]
    assert (counter, originator.hex().upper(), recipient.hex().upper()) == (
        1,
        "123456789ABCDEF0",
        "FFFFFFFFFFFFFFFE",
    )

    acb = _priv("abababababababab-ka.key")
    device_a = _pub("fffffffffffffffe-ka.pem")
    z = shared_secret(acb, device_a)
    assert z.hex().upper() == "9AACF2E6D51BD5FF8F37BF368019A691CB5B2FCB7B5F030A00063647B20E13FE"
    assert other_info(originator, KdfMode.COMMAND, counter, recipient) == bytes.fromhex(
        "60857406080300 123456789ABCDEF0 09 01 0000000000000001 FFFFFFFFFFFFFFFE"
    )
    key = derive_key(z, originator, KdfMode.COMMAND, counter, recipient)
    assert key.hex().upper() == "859B846A24E1EA70A168409A1180676B"
    assert mac_key(acb, device_a, originator, 1, counter, recipient) == key
    assert gcm_iv(originator).hex().upper() == "123456789ABCDEF000000000"
    assert compute_mac(key, originator, gs).hex().upper() == "5D832D15B57A56D620F198B3"
    assert mac.hex().upper() == "5D832D15B57A56D620F198B3"
    assert verify_mac(key, originator, gs, mac)

    signed, sig = _signed_part(gs)
    assert len(signed) == 86 and signed[:2] == bytes.fromhex("0901")
    assert hashlib.sha256(signed).hexdigest().upper() == (
        "930589363B347647C0373D13F8AF75636A745793EFA3BDF75F1D8BBCD632E012"
    )
    assert sig.hex().upper() == (
        "59045AB0F554622B0360340B9D87B5A23ED5723B41DE3F206E58CDD10F915B9F"
        "E2E12E2DA3632478A8DF678E418895869AC1E55318CCE04D120D2D6B44DC167B"
    )
    supplier_ds = _pub("123456789abcdef0-ds.pem")
    assert verify(supplier_ds, signed, sig)
    assert verify(supplier_ds, signed, sig, usage="ds")
    assert not verify(supplier_ds, signed, sig, usage="ka")
    assert verify_detail(supplier_ds, signed[:-1], sig) == "signature mismatch"


@pytest.mark.parametrize("variant", ["cnsa", "gbcs", "deterministic"])
def test_gbcs_18_4_resign_with_supplier_a_key_verifies(variant: str) -> None:
    gs, _ = _split(bytes.fromhex(_vector_18_4()["hex"]))
    signed, _ = _signed_part(gs)
    priv = _priv("123456789abcdef0-ds.key")
    sig = sign(priv, signed, variant)
    assert verify(_pub("123456789abcdef0-ds.pem"), signed, sig)


# ------------------------------------------------------------------ RTDS ECS17b response

ECS17B = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE"


def test_rtds_ecs17b_response_mac_and_encrypted_part() -> None:
    msg = bytes.fromhex(interop.by_id(ECS17B)["hex"])
    gs, mac = _split(msg)
    assert mac is not None
    counter = int.from_bytes(gs[3:11], "big")
    originator, recipient = gs[12:20], gs[21:29]
    assert counter == 0x3E8
    assert originator == _title("00DB1234567890A0") and recipient == _title("90B3D51F30010000")

    device = _priv("00db1234567890a0-ka.key")
    supplier_pub = _pub("90b3d51f30010000-ka.pem")
    z = shared_secret(device, supplier_pub)
    assert z.hex().upper().startswith("42DA8FAD") and z.hex().upper().endswith("6D253E0F")
    # the supplier side (its private key, the device's certificate) agrees
    assert shared_secret(_priv("90b3d51f30010000-ka.key"), _pub("00db1234567890a0-ka.pem")) == z

    assert other_info(originator, 2, counter, recipient) == bytes.fromhex(
        "60857406080300 00DB1234567890A0 09 02 00000000000003E8 90B3D51F30010000"
    )
    key = mac_key(device, supplier_pub, originator, KdfMode.RESPONSE, counter, recipient)
    assert key.hex().upper() == "D288091F13F120DA8D2649C3AA543058"
    assert gcm_iv(originator).hex().upper() == "00DB1234567890A000000000"
    assert compute_mac(key, originator, gs) == mac == bytes.fromhex("486AF3DF46ACBC45A5217E08")

    party, key_counter = part_key_inputs(originator, recipient, counter, None, None)
    assert (party, key_counter) == (recipient, 0x3E8)
    enc_key = part_key(device, supplier_pub, originator, key_counter, party)
    assert enc_key.hex().upper() == "12CB821C471EC2144C68E12A5657F9FD"
    assert other_info(originator, 4, counter, recipient)[15:17] == b"\x09\x04"

    blob = bytes.fromhex(
        "31 00000000 E3035372DDD0648ADEDB866DFF001F09450DEBD034C36C6101DC 1D3CB50D35311B344436F883"
    )
    assert msg.count(b"\x09\x2b" + blob) == 1  # the blob really is in the message (09 2B len)
    plain = bytes.fromhex("02 01 02 04 06 0000000A 02 02 0F 00 16 1E 06 0000000A 02 02 0F 00 16 20")
    assert decrypt_part(enc_key, originator, blob) == plain
    assert encrypt_part(enc_key, originator, plain) == blob
    # the emulated ESME can rebuild the MAC'd response exactly
    assert compute_mac(key, originator, gs) == msg[-12:]


# --------------------------------------------------------------------- every vector sweep


def _mac_cases() -> list[str]:
    ids = []
    for v in interop.vectors():
        if "mac" in v["keys"] and v["expected"].get("mac") in ("valid", "invalid"):
            ids.append(v["id"])
    return ids


def _sig_cases() -> list[str]:
    ids = []
    for v in interop.vectors():
        if "signature_verify" in v["keys"] and v["expected"].get("signature") in (
            "valid",
            "invalid",
        ):
            ids.append(v["id"])
    return ids


def test_every_vector_mac_verdict_matches() -> None:
    ids = _mac_cases()
    assert len(ids) >= 400
    checked = 0
    for vid in ids:
        v = interop.by_id(vid)
        exp = v["expected"]
        gs, mac = _split(bytes.fromhex(v["hex"]))
        assert mac is not None
        priv_name, pub_name = v["keys"]["mac"]
        originator, recipient = _title(exp["originator"]), _title(exp["recipient"])
        counter = int(exp["originator_counter_hex"], 16)
        key = mac_key(
            _priv(priv_name), _pub(pub_name), originator, exp["cra_flag"], counter, recipient
        )
        assert verify_mac(key, originator, gs, mac) is (exp["mac"] == "valid"), vid
        checked += 1
    info = shared_secret_cache_info()
    # a handful of key pairs serve hundreds of messages: ECDH ran once per distinct pair
    assert info.misses == len({tuple(interop.by_id(i)["keys"]["mac"]) for i in ids})
    assert info.hits == checked - info.misses


def test_every_vector_signature_verdict_matches() -> None:
    ids = _sig_cases()
    assert len(ids) >= 190
    for vid in ids:
        v = interop.by_id(vid)
        gs, _ = _split(bytes.fromhex(v["hex"]))
        signed, sig = _signed_part(gs)
        (pub_name,) = v["keys"]["signature_verify"]
        assert verify(_pub(pub_name), signed, sig) is (v["expected"]["signature"] == "valid"), vid


def _encrypted_parts(vid: str) -> list[bytes]:
    rec = interop.parsed(vid)
    out: list[bytes] = []

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        sh = node.get("Security Header")
        if isinstance(sh, dict) and sh.get("hex") == "31 00 00 00 00":
            keys = list(node)
            i = keys.index("Security Header")
            parts = [node[k]["hex"] for k in keys[i : i + 3]]
            assert keys[i + 2] == "AE MAC"
            out.append(bytes.fromhex("".join(parts)))
        for child in node.values():
            walk(child)

    walk(rec["parsed"])
    return out


def test_every_encrypted_part_decrypts_and_re_encrypts_exactly() -> None:
    vecs = [v for v in interop.vectors() if "decrypt" in v["keys"]]
    assert len(vecs) >= 26
    total = 0
    for v in vecs:
        exp = v["expected"]
        msg = bytes.fromhex(v["hex"])
        originator, recipient = _title(exp["originator"]), _title(exp["recipient"])
        srp = exp.get("supplementary_remote_party_id")
        soc = exp.get("supplementary_originator_counter")
        party, counter = part_key_inputs(
            originator,
            recipient,
            int(exp["originator_counter_hex"], 16),
            _title(srp) if srp else None,
            int(soc) if soc else None,
        )
        priv_name, pub_name = v["keys"]["decrypt"]
        assert party.hex() == priv_name[:16], v["id"]  # the key party owns the private key
        key = part_key(_priv(priv_name), _pub(pub_name), originator, counter, party)
        blobs = _encrypted_parts(v["id"])
        assert len(blobs) == exp["encrypted_parts"], v["id"]
        for blob in blobs:
            assert blob in msg
            plain = decrypt_part(key, originator, blob)
            assert encrypt_part(key, originator, plain) == blob
            total += 1
    assert total == sum(v["expected"]["encrypted_parts"] for v in vecs)


def test_parsed_tree_plaintext_matches_for_dlms_parts() -> None:
    # cross-check one plaintext with the independent parser's decrypted tree
    rec = interop.parsed(ECS17B)["parsed"]["Decrypted Payload 0"]
    leaves: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        for val in node.values():
            if isinstance(val, dict):
                leaves.append(val["hex"])
                if "children" in val:
                    walk(val["children"])

    walk(rec)
    flat = bytes.fromhex("".join(leaves))
    assert flat == bytes.fromhex(
        "02 01 02 04 06 0000000A 02 02 0F 00 16 1E 06 0000000A 02 02 0F 00 16 20"
    )
