"""The decode speed-ups keep results exact: the per-key-store ECDH cache never answers for
another pair, store or key, the KDF fast path derives the same keys, the struct-read
envelope header fails as the construct one did, and the use-case names read without the
registry agree with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs import security
from gbcs.codec import build, decode
from gbcs.crypto.kdf import KdfMode, derive_key, other_info
from gbcs.envelope import Cra, GroupingHeader, OtherInformation, SignatureForm, _gs_fixed
from gbcs.errors import GbcsDecodeError, GbcsSecurityError
from gbcs.inspect import inspect_message
from gbcs.security import Verdict, apply_mac, check_mac
from gbcs.usecases import all_use_cases, lookup, message_code_name, use_case_name
from gbcs.wire import Reader, parse_fixed
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "messages"
ACB = bytes.fromhex("90B3D51F30000002")
A = bytes.fromhex("00DB1234567890A0")
B = bytes.fromhex("00DB1234567890A1")
C = bytes.fromhex("00DB1234567890A2")


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _z(priv: ec.EllipticCurvePrivateKey, pub: ec.EllipticCurvePublicKey) -> bytes:
    return priv.exchange(ec.ECDH(), pub)


def _store(
    private: dict[bytes, ec.EllipticCurvePrivateKey], public: dict[bytes, ec.EllipticCurvePublicKey]
) -> KeyStore:
    s = KeyStore()
    for eui, k in private.items():
        s.add_entry(build_entry(eui, KeyUsage.KA, private_key=k, public_key=k.public_key()))
    for eui, p in public.items():
        s.add_entry(build_entry(eui, KeyUsage.KA, public_key=p))
    return s


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    security.clear_pair_cache()


def test_each_pair_gets_its_own_secret_on_misses_and_hits() -> None:
    ka, kb, kc = _key(), _key(), _key()
    store = _store({A: ka}, {B: kb.public_key(), C: kc.public_key()})
    for _ in range(2):  # first round fills the cache, second reads it
        assert security._ecdh(store, A, B) == (_z(ka, kb.public_key()), "")
        assert security._ecdh(store, A, C) == (_z(ka, kc.public_key()), "")
        assert security._ecdh(store, B, A) == (_z(ka, kb.public_key()), "")  # either side
    assert security._ecdh(store, A, B)[0] != security._ecdh(store, A, C)[0]


def test_a_changed_store_is_never_answered_from_the_cache() -> None:
    ka, kb, kb2 = _key(), _key(), _key()
    store = _store({A: ka}, {B: kb.public_key()})
    first, _ = security._ecdh(store, A, B)
    store.add_entry(build_entry(B, KeyUsage.KA, public_key=kb2.public_key()))  # B rekeyed
    assert security._ecdh(store, A, B) == (_z(ka, kb2.public_key()), "")
    assert first != _z(ka, kb2.public_key())
    store.remove(B, KeyUsage.KA)
    z, why = security._ecdh(store, A, B)
    assert z is None and B.hex().upper() in why


def test_a_missing_key_added_later_is_found() -> None:
    ka, kb = _key(), _key()
    store = _store({A: ka}, {})
    assert security._ecdh(store, A, B)[0] is None
    assert security._ecdh(store, A, B)[0] is None  # the miss is cached ...
    store.add_entry(build_entry(B, KeyUsage.KA, public_key=kb.public_key()))
    assert security._ecdh(store, A, B)[0] == _z(ka, kb.public_key())  # ... per generation


def test_two_stores_with_the_same_euis_and_generation_do_not_share_secrets() -> None:
    s1 = _store({A: _key()}, {B: _key().public_key()})
    s2 = _store({A: _key()}, {B: _key().public_key()})
    assert s1.generation == s2.generation
    z1, z2 = security._ecdh(s1, A, B)[0], security._ecdh(s2, A, B)[0]
    assert z1 is not None and z2 is not None and z1 != z2
    assert security._ecdh(s1, A, B)[0] == z1 and security._ecdh(s2, A, B)[0] == z2


class _Plain:
    """A key provider without ``generation``: never cached, so changes show at once."""

    def __init__(
        self,
        priv: dict[bytes, ec.EllipticCurvePrivateKey],
        pub: dict[bytes, ec.EllipticCurvePublicKey],
    ) -> None:
        self.priv, self.pub = priv, pub

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        return self.priv.get(eui)

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        return self.pub.get(eui)


def test_providers_without_a_generation_are_not_cached() -> None:
    ka, kb, kb2 = _key(), _key(), _key()
    p = _Plain({A: ka}, {B: kb.public_key()})
    assert security._ecdh(p, A, B)[0] == _z(ka, kb.public_key())
    p.pub[B] = kb2.public_key()  # no generation to tell: must not be cached
    assert security._ecdh(p, A, B)[0] == _z(ka, kb2.public_key())
    assert not security._PAIRS


def test_mac_verdicts_follow_the_store_after_a_cached_check() -> None:
    """A MAC checked once (Z cached) must turn invalid when the recipient's key changes."""
    acb, dev = _key(), _key()
    head_end = _store({ACB: acb}, {B: dev.public_key()})
    header = GroupingHeader(Cra.COMMAND, 7, ACB, B, OtherInformation(0x0054))
    payload = decode(bytes.fromhex(_example("01"))).payload
    msg = apply_mac(build(header, payload, signature_form=SignatureForm.NULL), head_end, ACB)
    wire = decode(msg.encode())
    assert check_mac(wire, head_end, ACB).verdict is Verdict.VALID
    assert check_mac(wire, head_end, ACB).verdict is Verdict.VALID  # from the cache
    head_end.add_entry(build_entry(B, KeyUsage.KA, public_key=_key().public_key()))
    assert check_mac(wire, head_end, ACB).verdict is Verdict.INVALID
    other = _store({ACB: _key()}, {B: dev.public_key()})  # same EUIs, other ACB key
    assert check_mac(wire, other, ACB).verdict is Verdict.INVALID


def _example(prefix: str) -> str:
    (path,) = EXAMPLES.glob(f"{prefix}-*.hex")
    return path.read_text().strip()


@pytest.mark.parametrize("mode", [1, 2, 3, 4, KdfMode.ENCRYPTION])
@pytest.mark.parametrize("counter", [0, 1, 0x0123456789ABCDEF, (1 << 64) - 1])
def test_kdf_fast_path_derives_the_specified_key(mode: int, counter: int) -> None:
    import hashlib

    z = bytes(range(32))
    want = hashlib.sha256(b"\x00\x00\x00\x01" + z + other_info(A, mode, counter, B)).digest()[:16]
    assert derive_key(z, A, mode, counter, B) == want
    assert derive_key(z, bytearray(A), mode, counter, bytearray(B)) == want


@pytest.mark.parametrize(
    ("originator", "mode", "counter", "recipient"),
    [
        (A[:7], 1, 0, B),
        (A, 0, 0, B),
        (A, 5, 0, B),
        (A, 1, -1, B),
        (A, 1, 1 << 64, B),
        (A, 1, 0, b"x"),
    ],
)
def test_kdf_still_refuses_bad_inputs(
    originator: bytes, mode: int, counter: int, recipient: bytes
) -> None:
    with pytest.raises(GbcsSecurityError):
        derive_key(bytes(32), originator, mode, counter, recipient)


def _general_signing(hexa: str) -> bytes:
    raw = bytes.fromhex(hexa)
    return raw[raw.index(b"\xdf\x09") :] if raw[0] == 0xDD else raw


@pytest.mark.parametrize(
    ("pos", "value", "error"),
    [
        (1, 0x08, ("general_signing.grouping_header", 0, "ConstError")),
        (11, 0x07, ("general_signing.grouping_header", 0, "ConstError")),
        (20, 0x09, ("general_signing.grouping_header", 0, "ConstError")),
        (
            2,
            0x05,
            ("general_signing.grouping_header.cra", 2, "CRA flag must be 01, 02 or 03, found 05"),
        ),
    ],
)
def test_a_malformed_grouping_header_fails_as_before(
    pos: int, value: int, error: tuple[object, ...]
) -> None:
    gs = bytearray(_general_signing(_example("01")))
    gs[pos] = value
    with pytest.raises(GbcsDecodeError) as e:
        decode(bytes(gs))
    assert (e.value.path, e.value.offset, e.value.reason) == error


@pytest.mark.parametrize("n", [1, 5, 20, 28])
def test_a_truncated_grouping_header_fails_as_before(n: int) -> None:
    with pytest.raises(GbcsDecodeError) as e:
        decode(_general_signing(_example("01"))[:n])
    assert (e.value.path, e.value.offset) == ("general_signing.grouping_header", 0)
    assert e.value.reason == f"needs 29 byte(s), {n} left"


@pytest.mark.parametrize("prefix", ["01", "02", "03"])
def test_the_struct_read_header_equals_the_construct_one(prefix: str) -> None:
    raw = bytes.fromhex(_example(prefix))
    m = decode(raw)
    start = m.layout.gs_start if m.layout else 0
    fixed = parse_fixed(_gs_fixed(), Reader(raw, start, len(raw), "gs"), 29, "grouping_header")
    h = m.header
    assert (int(h.cra), h.counter, h.originator, h.recipient) == (
        fixed.cra,
        fixed.counter,
        fixed.originator,
        fixed.recipient,
    )
    assert h.encode(len(m.content()))[:29] == raw[start : start + 29]  # struct-built too


def test_use_case_names_without_the_registry_agree_with_it() -> None:
    cases = all_use_cases()
    assert len(cases) > 200
    for uc in cases:
        assert use_case_name(uc.code) == uc.name
        assert message_code_name(uc.code) == uc.label
        assert lookup(uc.code) is uc
    unknown = next(c for c in range(0xFFFF) if lookup(c) is None)
    assert use_case_name(unknown) is None
    assert message_code_name(unknown) == f"unknown message code 0x{unknown:04X}"


def test_batch_inspection_counts_parts_without_decoding_them() -> None:
    """``decode_parts=False`` keeps every verdict and count; only the decoded value goes."""
    raw = bytes.fromhex(_example("03"))
    keys = KeyStore(ROOT / "examples" / "keys")
    acb = bytes.fromhex((ROOT / "examples" / "acb-eui.txt").read_text().strip())
    full = inspect_message(raw, keys, acb=acb)
    lean = inspect_message(raw, keys, acb=acb, decode_parts=False)
    assert full.decrypted_count == lean.decrypted_count == len(lean.parts) >= 1
    assert all(p.decoded is not None for p in full.parts)
    assert all(p.decoded is None and not p.error for p in lean.parts)
    assert [p.part for p in full.parts] == [p.part for p in lean.parts]  # same plaintexts
    assert full.header() == lean.header()
    assert (full.mac, full.signature) == (lean.mac, lean.signature)
    assert full.mac.verdict is Verdict.VALID
    assert full.use_case is not None and full.use_case.name == full.to_json()["use_case"]


class _Expiring(_Plain):
    """A provider whose every key has a certificate that expired on a given day."""

    def __init__(self, not_after: dict[bytes, datetime]) -> None:
        super().__init__({}, {})
        self.not_after = not_after
        self.clock_reads: list[datetime] = []

    def entry(self, eui: bytes, usage: str) -> object:
        outer = self

        class _Entry:
            not_after = self.not_after.get(eui)

            def expired(self, now: datetime) -> bool:
                outer.clock_reads.append(now)
                return self.not_after is not None and now > self.not_after

        return _Entry()


def test_every_expired_key_of_a_message_is_noted() -> None:
    raw = bytes.fromhex(_example("01"))  # signed command: originator DS, ACB and device KA
    m = decode(raw)
    acb = bytes.fromhex((ROOT / "examples" / "acb-eui.txt").read_text().strip())
    day = datetime(2025, 10, 29, tzinfo=UTC)
    keys = _Expiring({m.originator: day, acb: day})
    now = datetime(2026, 1, 1, tzinfo=UTC)
    r = inspect_message(raw, keys, acb=acb, now=now)
    assert r.key_notes == (
        f"{m.originator.hex().upper()} DS certificate expired on 2025-10-29",
        f"{acb.hex().upper()} KA certificate expired on 2025-10-29",
    )
    assert set(keys.clock_reads) == {now}
    keys.clock_reads.clear()
    assert len(inspect_message(raw, keys, acb=acb).key_notes) == 2  # the real clock
    assert len(set(keys.clock_reads)) == 1  # read once per message
