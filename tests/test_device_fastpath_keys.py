"""The device core's key and signature fast paths keep behaviour exact (issue 13, ECS42).

* :meth:`devices.trust.DeviceKeys.ecdh_secret` remembers Z per pair of key objects in
  use: it equals the uncached ECDH, never outlives a replaced or reassigned cell, and
  every command's MAC is still checked against it (a tampered MAC, a replay and a key
  that changed are all refused).
* Responses are byte-identical with and without the cache.
* :func:`gbcs.crypto.ecdsa.verify_detail` and :func:`~gbcs.crypto.ecdsa.sign` skip
  the generic key checks only for P-256 keys of the backend's own classes; every other
  input gets the same verdicts and errors as before. The hand-written DER conversions
  between ``r ‖ s`` and OpenSSL's form are byte-identical to the ASN.1 library's.
* The register collection read (ECS17b) rebuilds only the path to its first register,
  with the value the full walk gives; the use-case role table is memoised per use case.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from devices.esme import _fill_first_register, _first_register_path, _replace_at
from devices.outbound import OutboundKind
from devices.pipeline import _allowed_roles_memo, allowed_roles
from devices.trust import _SECRETS_LIMIT, AnchorCell, DeviceKeys
from emulator.headend import usecases
from emulator.headend.usecases import BuildContext
from gbcs.axdr import Data
from gbcs.crypto import ecdsa, kdf
from gbcs.crypto.sigform import N, check_signature_encoding
from gbcs.dlms import ActionSpec, Obis
from gbcs.errors import GbcsSecurityError
from gbcs.usecases import DeviceType, all_use_cases
from keys.roles import KeyUsage
from tests.devkit import ACB, EUIS, SUPPLIER, R, bench, dlms_command

SUPPLY = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)


class PlainKeys:
    """The same keys without ``ecdh_secret``: gbcs.security takes its generic path."""

    def __init__(self, inner: DeviceKeys) -> None:
        self.inner = inner
        self.own = inner.own
        self.anchors = inner.anchors

    def public_key(self, eui: bytes, usage: str) -> Any:
        return self.inner.public_key(eui, usage)

    def private_key(self, eui: bytes, usage: str) -> Any:
        return self.inner.private_key(eui, usage)

    def with_extra(self, eui: bytes, ka: Any) -> PlainKeys:
        return PlainKeys(self.inner.with_extra(eui, ka))


def _read_frames(b: Any, n: int) -> list[bytes]:
    """``n`` ECS17b commands (protected register read, encrypted answer) with new counters."""
    entry = usecases.get("ECS17b")
    parsed = entry.parse_args({})
    role = entry.role_for("ESME")
    out = []
    for _ in range(n):
        c = b.builder.next_counter(SUPPLIER)
        payload = entry.build_parsed(parsed, BuildContext(c, SUPPLIER, EUIS["ESME"], role, b.now))
        out.append(
            b.builder.command(SUPPLIER, EUIS["ESME"], entry.message_code, payload, counter=c)
        )
    return out


def _response(out: list[Any]) -> bytes:
    (rsp,) = [o.frame for o in out if o.kind is OutboundKind.RESPONSE]
    return rsp


# ------------------------------------------------------------------ the ECDH cache


def test_the_cached_secret_is_the_ecdh_of_the_keys_in_use_in_either_order() -> None:
    b = bench()
    d = b.device("ESME")
    keys = d.keys
    for cell in d.anchors.cells.values():
        assert cell.ka is not None
        want = kdf.shared_secret(d.own.ka, cell.ka)
        assert keys.ecdh_secret(cell.eui, d.eui) == want
        assert keys.ecdh_secret(d.eui, cell.eui) == want
        assert keys.ecdh_secret(cell.eui, d.eui) == want  # from the cache
    # Neither side mine, or the other side unknown: no pair, as the generic path says.
    assert keys.ecdh_secret(SUPPLIER, ACB) is None
    assert keys.ecdh_secret(d.eui, bytes(8)) is None


def test_a_cell_reassigned_in_place_or_replaced_never_gets_the_old_secret() -> None:
    b = bench()
    d = b.device("ESME")
    acb = d.anchors.cell(R.ACCESS_CONTROL_BROKER)
    assert acb is not None and acb.ka is not None
    old = d.keys.ecdh_secret(ACB, d.eui)
    new_key = ec.generate_private_key(ec.SECP256R1())
    acb.ka = new_key.public_key()  # credential replacement reassigns fields in place
    assert d.keys.ecdh_secret(ACB, d.eui) == kdf.shared_secret(d.own.ka, acb.ka) != old
    newer = ec.generate_private_key(ec.SECP256R1()).public_key()
    d.anchors.replace(AnchorCell(R.ACCESS_CONTROL_BROKER, ACB, newer, acb.ds))
    assert d.keys.ecdh_secret(ACB, d.eui) == kdf.shared_secret(d.own.ka, newer)


def test_a_command_macd_with_a_replaced_acb_key_is_refused_after_a_cached_success() -> None:
    """The cache never lets a MAC through that the keys in the cells would refuse."""
    b = bench()
    d = b.device("ESME")
    sent = dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),))
    d.receive(sent, b.now)
    assert d.last_rejection is None  # Z for ACB <-> ESME now cached
    acb = d.anchors.cell(R.ACCESS_CONTROL_BROKER)
    assert acb is not None
    acb.ka = ec.generate_private_key(ec.SECP256R1()).public_key()
    d.receive(dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),)), b.now)
    assert d.last_rejection is not None and d.last_rejection.check.value == "mac"


def test_every_mac_and_counter_is_still_checked_with_the_cache_warm() -> None:
    b = bench()
    d = b.device("ESME")
    # ECS42 (critical, replay-protected): MAC, counter and signature on every command.
    first, second, third = (
        dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),)) for _ in range(3)
    )
    d.receive(first, b.now)
    assert d.last_rejection is None
    tampered = second[:-1] + bytes([second[-1] ^ 1])  # the last MAC byte
    d.receive(tampered, b.now)
    assert d.last_rejection is not None and d.last_rejection.check.value == "mac"
    d.receive(first, b.now)  # a replay of an accepted command
    assert d.last_rejection is not None and d.last_rejection.check.value == "replay"
    forged = third[:-30] + bytes([third[-30] ^ 1]) + third[-29:]  # in the signature
    d.receive(forged, b.now)
    assert d.last_rejection is not None and d.last_rejection.check.value in ("mac", "signature")
    d.receive(third, b.now)
    assert d.last_rejection is None


def test_the_cache_is_bounded_and_shared_safely_with_per_message_copies() -> None:
    b = bench()
    d = b.device("ESME")
    keys = d.keys
    for _ in range(_SECRETS_LIMIT + 5):
        party = ec.generate_private_key(ec.SECP256R1()).public_key()
        extra = keys.with_extra(bytes(7) + b"\x09", party)
        assert extra.ecdh_secret(d.eui, bytes(7) + b"\x09") == kdf.shared_secret(d.own.ka, party)
        assert keys.ecdh_secret(d.eui, bytes(7) + b"\x09") is None  # not in the base keys
    assert len(keys._secrets) <= _SECRETS_LIMIT


def test_the_security_layer_computes_ecdh_once_per_pair_for_a_device(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = bench()
    d = b.device("ESME")
    calls: list[int] = []
    real = kdf.shared_secret

    def counting(priv: Any, pub: Any) -> bytes:
        calls.append(1)
        return real(priv, pub)

    frames = _read_frames(b, 5)  # the head-end's own ECDH is not counted
    monkeypatch.setattr(kdf, "shared_secret", counting)
    for f in frames:
        d.receive(f, b.now)
        assert d.last_rejection is None
    # ACB <-> ESME for the command MAC, supplier <-> ESME for the encrypted part and the
    # response MAC: two pairs, however many commands.
    assert len(calls) == 2


def test_responses_are_byte_identical_with_and_without_the_cache() -> None:
    b1, b2 = bench(), bench()
    cached, plain = b1.device("ESME"), b2.device("ESME")
    plain.keys = PlainKeys(plain.keys)  # type: ignore[assignment]
    for i, (f1, f2) in enumerate(zip(_read_frames(b1, 6), _read_frames(b2, 6), strict=True)):
        now = b1.now + timedelta(minutes=7 * i)
        assert f1 == f2
        r1, r2 = _response(cached.receive(f1, now)), _response(plain.receive(f2, now))
        assert cached.last_rejection is None and plain.last_rejection is None
        assert r1 == r2


# ------------------------------------------------------------------ ECDSA fast checks


@pytest.mark.parametrize(
    "sig",
    [
        bytes(64),
        b"\x01" * 63,
        b"\x01" * 65,
        N.to_bytes(32, "big") + b"\x01" * 32,
        b"\x01" * 32 + N.to_bytes(32, "big"),
        b"\x01" * 32 + bytes(32),
        b"\xff" * 64,
    ],
)
def test_verify_gives_the_encoding_reasons_of_the_generic_check(sig: bytes) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    want = check_signature_encoding(sig)
    assert want is not None
    assert ecdsa.verify_detail(key, b"data", sig) == want
    assert ecdsa.verify_detail(key, b"data", bytearray(sig)) == want


def test_verify_and_sign_accept_any_byte_like_input_and_still_refuse_other_curves() -> None:
    priv = ec.generate_private_key(ec.SECP256R1())
    sig = ecdsa.sign(priv, bytearray(b"message"))
    assert ecdsa.verify(priv.public_key(), memoryview(b"message"), bytearray(sig))
    assert ecdsa.verify_detail(priv.public_key(), b"other", sig) == "signature mismatch"
    assert ecdsa.verify_detail(priv.public_key(), b"message", sig, usage="ka") is not None
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(GbcsSecurityError, match="P-256"):
        ecdsa.verify(p384.public_key(), b"message", sig)
    with pytest.raises(GbcsSecurityError, match="P-256"):
        ecdsa.sign(p384, b"message")
    with pytest.raises(GbcsSecurityError):
        ecdsa.verify("not a key", b"message", sig)  # type: ignore[arg-type]


def _scalars() -> list[int]:
    """Scalars of every byte length, high bit set or not, and the range's edges."""
    rnd = random.Random(13)
    out = [1, 2, 0x7F, 0x80, 0xFF, 0x100, 2**247, 2**248 - 1, 2**255 - 1, 2**255, N - 2, N - 1]
    out += [rnd.randrange(1, N) >> rnd.randrange(256) for _ in range(600)]
    return [v for v in out if 0 < v < N]


def test_the_der_fast_paths_are_byte_identical_to_the_asn1_ones() -> None:
    scalars = _scalars()
    rnd = random.Random(7)
    for r in scalars:
        for s in (rnd.choice(scalars), 1, N - 1, 0x80):
            raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            der = encode_dss_signature(r, s)
            assert ecdsa._der_from_raw(raw) == der
            assert ecdsa._raw_from_der(der) == raw
    key = ec.generate_private_key(ec.SECP256R1())
    for i in range(300):  # OpenSSL's own output, as the CNSA signer gets it
        der = key.sign(i.to_bytes(4, "big"), ecdsa._ECDSA_SHA256)
        r, s = decode_dss_signature(der)
        assert ecdsa._raw_from_der(der) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_a_der_signature_of_another_shape_takes_the_general_path() -> None:
    # a negative INTEGER (high bit without its 00) is no P-256 signature: the ASN.1
    # decoder's verdict stands, whatever it is
    der = bytes((0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01))
    with pytest.raises((ValueError, OverflowError)):
        ecdsa._raw_from_der(der)


# ------------------------------------------------------------------ ESME and pipeline


def _templates() -> list[Data]:
    dlu = Data.double_long_unsigned
    s, a = Data.structure, Data.array
    return [
        dlu(5),
        Data.long_unsigned(3),
        s(),
        s(Data.long_unsigned(1), s(Data.enum(2), dlu(7), dlu(8)), dlu(9)),
        a(s(Data.octet_string(b"x"), s()), s(dlu(1)), dlu(2)),
        s(s(s(s(Data.enum(1)))), a(a(Data.long_unsigned(4), dlu(0)))),
        s(Data.octet_string(b"no register"), Data.long(-3)),
    ]


@pytest.mark.parametrize("template", _templates())
def test_the_register_path_gives_the_full_walks_value(template: Data) -> None:
    path = _first_register_path(template)
    for v in (0, 1, 123456, 0xFFFFFFFF):
        value = Data.double_long_unsigned(v)
        assert _replace_at(template, path, value) == _fill_first_register(template, value)


def test_the_profiles_register_collection_reads_as_the_full_walk() -> None:
    b = bench()
    d = b.device("ESME")
    obj = d.model.find(1, Obis.parse("0-0:94.44.34.10"))
    assert obj is not None
    template = obj.attributes[2]  # the profile's value; reads go through the binding
    assert _first_register_path(template) is not None
    for wh in (0, 5, 70_000):
        d.load._import_wh = wh
        _, got = obj.get(2)
        assert got == _fill_first_register(template, Data.double_long_unsigned(wh))
        assert got != template or wh == 0


def test_the_role_table_memo_answers_as_the_registry_for_every_use_case() -> None:
    for uc in all_use_cases():
        for t in DeviceType:
            assert _allowed_roles_memo(uc, t) == allowed_roles(uc, t)
            assert _allowed_roles_memo(uc, t) == allowed_roles(uc, t)  # from the memo


def test_the_devices_public_keys_answer_as_before() -> None:
    b = bench()
    d = b.device("ESME")
    keys = d.keys
    for cell in d.anchors.cells.values():
        assert keys._ka_public(cell.eui) is keys.public_key(cell.eui, KeyUsage.KA)
    assert keys._ka_public(d.eui) is keys.public_key(d.eui, "ka")
    assert keys._ka_public(bytes(8)) is None
