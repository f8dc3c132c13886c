"""The critical round trip of the DUIS transform: CV4 gives the pre-command, the user signs
it as the DCC Boxed clients do, and CV5-7 turn the signed pre-command into the command
the device gets (MAC'd by the ACB over exactly the bytes the user signed)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.transform import Refusal, Transformed
from gbcs.codec import decode
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import DEFAULT_ACB, Verdict, check_mac, check_signature
from keys.roles import KeyUsage
from keys.store import KeyStore

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _request(variant: str, body: Body, cv: int, counter: int = 77) -> Request:
    rid = RequestId.parse(f"{USER}:{ESME}:{counter}")
    return Request(RequestHeader(rid, cv, ".".join(variant.split(".")[:2]), variant), body)


def _body(name: str, inner: str = "") -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def _signed_body(gbcs: bytes) -> Body:
    payload = base64.b64encode(gbcs).decode()
    return _body("SignedPreCommand", f"<sr:GBCSPayload>{payload}</sr:GBCSPayload>")


def _sign_like_the_clients(pre_command: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The DCC Boxed client's recipe: ECDSA P-256/SHA-256 over all but the leading DF,
    then 0x40 and r||s appended (independent of the codec under test)."""
    assert pre_command[0] == 0xDF
    r, s = decode_dss_signature(key.sign(pre_command[1:], ec.ECDSA(hashes.SHA256())))
    return pre_command + b"\x40" + r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.fixture
def user_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys(user_key: ec.EllipticCurvePrivateKey) -> KeyStore:
    """The DCC's view: the ACB's KA key, the device's KA key, the user's DS public key."""
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(ESME.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    store.add(bytes.fromhex(USER.replace("-", "")), KeyUsage.DS, public_key=user_key.public_key())
    return store


def _pre_command(variant: str, body: Body, keys: KeyStore, counter: int = 77) -> bytes:
    result = transform.transform(
        _request(variant, body, cv=4, counter=counter), target_type="ESME", keys=keys, now=NOW
    )
    assert isinstance(result, Transformed) and result.pre_command, result
    assert result.delivery == "user"
    return result.gbcs


@pytest.mark.parametrize(("cv", "delivery"), [(5, "wan"), (6, "local"), (7, "wan+local")])
def test_the_signed_pre_command_becomes_the_command_the_device_checks(
    keys: KeyStore, user_key: ec.EllipticCurvePrivateKey, cv: int, delivery: str
) -> None:
    pre = _pre_command("7.2", _body("DisableSupply"), keys)
    signed = _sign_like_the_clients(pre, user_key)
    result = transform.transform(
        _request("7.2", _signed_body(signed), cv=cv),
        target_type="ESME",
        keys=keys,
        pre_command=pre,
    )
    assert isinstance(result, Transformed), result
    assert (result.use_case, result.message_code, result.counter) == ("ECS43", 0x0050, 77)
    assert not result.pre_command and result.delivery == delivery
    msg = decode(result.gbcs)
    assert msg.envelope is Envelope.GENERAL_CIPHERING
    assert msg.signature_form is SignatureForm.PRESENT
    # the user's bytes, untouched, inside the ACB's MAC
    assert msg.gs_apdu() == signed
    assert check_signature(msg, keys).verdict is Verdict.VALID
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


def _refusal(
    keys: KeyStore, signed: bytes, *, counter: int = 77, variant: str = "7.2", **kw: object
) -> Refusal:
    result = transform.transform(
        _request(variant, _signed_body(signed), cv=5, counter=counter),
        target_type="ESME",
        keys=keys,
        **kw,  # type: ignore[arg-type]
    )
    assert isinstance(result, Refusal), result
    assert "\n" not in result.reason
    return result


def test_a_signature_that_does_not_verify_is_refused(
    keys: KeyStore, user_key: ec.EllipticCurvePrivateKey
) -> None:
    pre = _pre_command("7.2", _body("DisableSupply"), keys)
    other = ec.generate_private_key(ec.SECP256R1())
    assert "signature is invalid" in _refusal(keys, _sign_like_the_clients(pre, other)).reason
    signed = bytearray(_sign_like_the_clients(pre, user_key))
    signed[-70] ^= 0x01  # a payload byte changed after signing
    assert "signature is invalid" in _refusal(keys, bytes(signed)).reason


def test_the_header_must_be_the_request_ids(
    keys: KeyStore, user_key: ec.EllipticCurvePrivateKey
) -> None:
    signed = _sign_like_the_clients(_pre_command("7.2", _body("DisableSupply"), keys), user_key)
    assert "counter differ from the RequestID" in _refusal(keys, signed, counter=78).reason


def test_it_must_be_the_pre_command_the_dcc_returned(
    keys: KeyStore, user_key: ec.EllipticCurvePrivateKey
) -> None:
    returned = _pre_command("7.2", _body("DisableSupply"), keys)
    # a pre-command for the same header, built by the user rather than returned by the DCC
    forged = _pre_command("7.2", _body("DisableSupply"), keys)[:-1] + b"\x01"
    signed = _sign_like_the_clients(forged, user_key)
    reason = _refusal(keys, signed, pre_command=returned).reason
    assert "not the pre-command the DCC returned" in reason


def test_a_use_case_of_another_srv_is_refused(
    keys: KeyStore, user_key: ec.EllipticCurvePrivateKey
) -> None:
    enable = _pre_command("7.1", _body("EnableSupply"), keys)
    reason = _refusal(keys, _sign_like_the_clients(enable, user_key), variant="7.2").reason
    assert "ECS42, not a use case of the SRV" in reason


def test_unsigned_or_garbage_payloads_are_refused(keys: KeyStore) -> None:
    pre = _pre_command("7.2", _body("DisableSupply"), keys)
    assert "not a signed General-Signing APDU" in _refusal(keys, pre).reason
    assert "is not GBCS" in _refusal(keys, b"\xde\xad\xbe\xef").reason
    wrong_body = transform.transform(
        _request("7.2", _body("DisableSupply"), cv=5), target_type="ESME", keys=keys
    )
    assert isinstance(wrong_body, Refusal) and "needs a SignedPreCommand body" in wrong_body.reason


def test_without_the_users_key_the_device_is_left_to_check_it(
    user_key: ec.EllipticCurvePrivateKey,
) -> None:
    """The DCC may not hold the user's DS certificate: the command still goes, signed; the
    device verifies it (and the ACB's MAC is still needed)."""
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(ESME.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    pre = _pre_command("7.2", _body("DisableSupply"), store)
    result = transform.transform(
        _request("7.2", _signed_body(_sign_like_the_clients(pre, user_key)), cv=5),
        target_type="ESME",
        keys=store,
    )
    assert isinstance(result, Transformed), result
    assert check_mac(decode(result.gbcs), store, DEFAULT_ACB).verdict is Verdict.VALID
    no_mac = transform.transform(
        _request("7.2", _signed_body(_sign_like_the_clients(pre, user_key)), cv=5),
        target_type="ESME",
        keys=KeyStore(),
    )
    assert isinstance(no_mac, Refusal) and "cannot MAC" in no_mac.reason


def test_a_non_critical_srv_takes_no_signed_pre_command(keys: KeyStore) -> None:
    result = transform.transform(
        _request("4.1.1", _signed_body(b"\xdf"), cv=5), target_type="ESME", keys=keys
    )
    assert isinstance(result, Refusal) and result.response_code == "E12"
