"""Property tests over whole GBCS messages (envelope + payload + security + GBT).

Messages are built from typed values (``tests/strategies.py``), encoded, decoded and
compared field by field; MACs, signatures and encrypted parts are produced with the
public interop keys and verified; long messages are split into GBT blocks and
reassembled in random order.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gbcs import security
from gbcs.axdr import Data, DataType, encode_data
from gbcs.codec import GbcsMessage, decode
from gbcs.cosem_time import DlmsDateTime
from gbcs.crypto import SignatureVariant, decrypt_part, part_key
from gbcs.crypto.part_cipher import PART_HEADER
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    DataNotification,
    ProtectedAttributes,
    ProtectionParameters,
)
from gbcs.envelope import (
    MAC_HEADER_PREFIX,
    MAC_LENGTH,
    SECURITY_HEADER,
    Cra,
    Envelope,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError, GbcsSecurityError
from gbcs.gbt import Reassembler, decode_block, split
from gbcs.gbz import GbzCiphered, GbzComponent, GbzPayload
from gbcs.payload import PartContext
from gbcs.security import Verdict
from gbcs.tree import Field
from gbcs.wire import encode_ber_length
from tests import strategies as gs
from tests.interop import keys_dir
from tests.test_gbz import _CLUSTER_RECORDS

# Hypothesis' too_slow check trips on this shared 2-core machine for the larger trees.
_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@functools.cache
def _load_store(directory: str) -> Any:
    from keys.store import KeyStore

    return KeyStore(directory)


def _store() -> Any:
    """The public interop key store (skips, or fails under GBCS_REQUIRE_INTEROP=1, if absent)."""
    return _load_store(str(keys_dir()))


@pytest.fixture(scope="module")
def needs_keys() -> None:
    _store()


# --------------------------------------------------------------------------- helpers


def _walk(fields: tuple[Field, ...]) -> list[Field]:
    out: list[Field] = []
    for f in fields:
        out.extend(f.walk())
    return out


def _assert_same_header(got: GroupingHeader, want: GroupingHeader) -> None:
    assert got.cra is want.cra
    assert got.counter == want.counter
    assert got.originator == want.originator
    assert got.recipient == want.recipient
    assert got.date_time == want.date_time
    assert got.message_code == want.message_code
    assert got.other.srp_id == want.other.srp_id
    assert got.other.srp_counter == want.other.srp_counter
    assert got.other.supplementary_originator_counter == (
        want.other.supplementary_originator_counter
    )
    assert got.other.certificate == want.other.certificate


def _protected_blobs(apdu: AccessRequest | AccessResponse | DataNotification) -> list[bytes]:
    out: list[bytes] = []

    def walk(d: Data) -> None:
        pa = ProtectedAttributes.from_data(d)
        if pa is not None:
            out.append(pa.blob)
        elif d.tag in (DataType.STRUCTURE, DataType.ARRAY):
            for x in d.value:
                walk(x)

    items = (apdu.body,) if isinstance(apdu, DataNotification) else apdu.data
    for d in items:
        walk(d)
    return out


def canonical(m: GbcsMessage) -> GbcsMessage:
    """``m`` with every GBZ ciphered frame counter left at its default (None) made explicit.

    ``GbzCiphered.frame_counter=None`` means "the component's index among the encrypted
    components" and encodes as that index; the decoder always returns the explicit wire
    byte (``gbz._decode_extended``). So a payload built with the default decodes to
    equal bytes but an unequal value; this is the only normalisation the codec applies,
    and the comparison below still covers every other field exactly.
    """
    p = m.payload
    if not isinstance(p, GbzPayload):
        return m
    comps, enc = [], 0
    for c in p.components:
        if c.ciphered is not None:
            if c.ciphered.frame_counter is None:
                c = replace(c, ciphered=replace(c.ciphered, frame_counter=enc))
            enc += 1
        comps.append(c)
    return replace(m, payload=replace(p, components=tuple(comps)))


def _check_round_trip(m: GbcsMessage) -> tuple[bytes, GbcsMessage]:
    """Every whole-message property that holds for a message built from typed values."""
    b = m.encode()
    d = decode(b)
    assert d.encode() == b
    # Dataclass equality covers header, payload (typed, incl. DLMS Data, GBZ records and
    # ASN.1 models), envelope, signature form/bytes and MAC; raw/layout are excluded.
    assert canonical(m).encode() == b
    assert d == canonical(m)
    assert d.raw == b and d.layout is not None
    assert decode(b, lenient_payload=True) == d
    # a mutable buffer decodes to the same value and is not aliased by it
    buf = bytearray(b)
    from_buf = decode(buf)
    buf[:] = bytes(len(buf))
    assert from_buf == d and from_buf.raw == b and from_buf.encode() == b
    _assert_same_header(d.header, m.header)
    assert d.payload.kind is m.payload.kind

    # signed bytes, GS APDU and content placement agree between built and decoded forms
    assert d.signed_data() == m.signed_data()
    assert d.gs_apdu() == m.gs_apdu()
    if m.envelope is Envelope.GENERAL_SIGNING:
        assert d.gs_apdu() == b and d.mac is None
    else:
        assert b.startswith(MAC_HEADER_PREFIX)
        assert b.endswith(d.gs_apdu() + m.mac)  # type: ignore[operator]
        assert b[-MAC_LENGTH - len(d.gs_apdu()) - 5 :].startswith(SECURITY_HEADER)
    assert d.gs_apdu()[1:].startswith(d.signed_data())
    assert d.signed_data().endswith(m.payload.encode())

    content = m.payload.encode()
    offset = m.content_offset()
    assert d.content_offset() == offset
    assert b[offset : offset + len(content)] == content
    assert d.content() == m.content() == content

    lay = d.layout
    oi = m.header.other.encode()
    assert b[lay.other_info_start : lay.content_length_start] == encode_ber_length(len(oi)) + oi
    assert b[lay.content_length_start : lay.content_start] == encode_ber_length(len(content))

    # encrypted parts: same list from both forms, each offset at the 31 byte of its blob
    parts = m.encrypted_parts()
    assert d.encrypted_parts() == parts
    for p in parts:
        assert b[p.offset] == 0x31
        assert b[p.offset : p.offset + len(p.blob)] == p.blob
        assert p.blob[:5] == PART_HEADER
    if isinstance(m.payload, GbzPayload):
        assert len(parts) == sum(c.ciphered is not None for c in m.payload.components)
        assert all(p.context is PartContext.GBZ for p in parts)
    if isinstance(m.payload, AccessRequest | AccessResponse | DataNotification):
        # every get-protected-attributes value, at any depth, is listed as a part
        embedded = _protected_blobs(m.payload)
        assert len(parts) >= len(embedded)
        assert all(p.context is PartContext.DLMS for p in parts)
        assert set(embedded) <= {p.blob for p in parts}

    # the display tree describes the exact bytes at the offsets it names
    tree = _walk(d.fields())
    assert tree
    for f in tree:
        assert b[f.offset : f.offset + len(f.raw)] == f.raw, f.name
    return b, d


# --------------------------------------------------------------------------- codec


@pytest.mark.parametrize("kind", gs.PAYLOAD_KINDS)
@settings(max_examples=60, **_SETTINGS)
@given(data=st.data())
def test_whole_message_round_trip(kind: str, data: st.DataObject) -> None:
    _check_round_trip(data.draw(gs.messages(kind)))


@settings(max_examples=100, **_SETTINGS)
@given(gs.sized_messages())
def test_ber_length_boundaries(sample: tuple[GbcsMessage, str, int]) -> None:
    m, what, target = sample
    b, d = _check_round_trip(m)
    lay = d.layout
    assert lay is not None
    if what == "ciphered":
        field = encode_ber_length(target)
        assert b[7 : 7 + len(field)] == field
        assert len(b) == 7 + len(field) + target
    else:
        assert lay.content_end - lay.content_start == target
        assert b[lay.content_length_start : lay.content_start] == encode_ber_length(target)


def test_ber_boundaries_are_all_reached() -> None:
    """The sizing strategy really lands on each boundary for both length fields."""
    header = GroupingHeader(Cra.RESPONSE, 1, gs.ESME, gs.SUPPLIER, OtherInformation(0x0019))
    for target in (*gs.BOUNDARIES, 0xFFFF, 0x10000):
        payload = gs.padded_payload("data-notification", target, None, 1)
        assert len(payload.encode()) == target
        m = GbcsMessage(header, payload, Envelope.GENERAL_SIGNING, SignatureForm.NULL)
        _check_round_trip(m)
    # ciphered length = 5 + GS APDU + 12; GS APDU = 33-byte header, content length field,
    # content and the null signature byte
    for target, content_field in ((127, 1), (128, 1), (255, 2), (256, 2)):
        content = target - 17 - 33 - content_field - 1
        payload = gs.padded_payload("access-response", content, None, 7)
        m = GbcsMessage(header, payload, mac=bytes(range(12)))
        b, _ = _check_round_trip(m)
        want = {127: b"\x7f", 128: b"\x81\x80", 255: b"\x81\xff", 256: b"\x82\x01\x00"}[target]
        assert b[7 : 7 + len(want)] == want and len(b) == 7 + len(want) + target


@settings(max_examples=60, **_SETTINGS)
@given(gs.messages(), st.integers(1, 6))
def test_truncated_message_fails_with_decode_error(m: GbcsMessage, cut: int) -> None:
    b = m.encode()
    short = b[: len(b) - cut]
    sig_field = {SignatureForm.ABSENT: 0, SignatureForm.NULL: 1, SignatureForm.PRESENT: 65}
    if m.envelope is Envelope.GENERAL_SIGNING and cut == sig_field[m.signature_form]:
        # dropping the whole signature field of a general-signing message leaves a valid
        # message without one (the DUIS pre-command form)
        bare = replace(m, signature_form=SignatureForm.ABSENT, signature=b"")
        assert decode(short) == canonical(bare) and bare.encode() == short
        return
    with pytest.raises(GbcsDecodeError) as ei:
        decode(short)
    assert 0 <= ei.value.offset <= len(short)


# --------------------------------------------------------------------------- MAC


def _mac_parties() -> st.SearchStrategy[tuple[Cra, bytes, bytes]]:
    """(CRA, originator, recipient) whose MAC key the interop store can derive."""
    command = st.tuples(st.just(Cra.COMMAND), gs.euis, st.sampled_from(gs.KA_PUBLIC))
    device = st.tuples(
        st.sampled_from((Cra.RESPONSE, Cra.ALERT)),
        st.sampled_from(gs.KA_PRIVATE),
        st.sampled_from(gs.KA_PUBLIC),
        st.booleans(),
    ).map(lambda t: (t[0], t[1], t[2]) if t[3] else (t[0], t[2], t[1]))
    return st.one_of(command, device)


# Payload kinds that may travel with any CRA flag (the others fix it).
_ANY_CRA_KINDS = ("access-request", "access-response", "data-notification", "asn1")


@st.composite
def _macable(draw: st.DrawFn) -> GbcsMessage:
    cra, orig, recip = draw(_mac_parties())
    header, payload = draw(gs.payload_with_header(draw(st.sampled_from(_ANY_CRA_KINDS))))
    header = replace(header, cra=cra, originator=orig, recipient=recip)
    form, sig = draw(gs.signature_fields())
    return GbcsMessage(header, payload, Envelope.GENERAL_SIGNING, form, sig)


def _assert_flips_never_verify(
    b: bytes,
    data: st.DataObject,
    check: Callable[[GbcsMessage], security.Check],
    no_key_region: range,
) -> None:
    """Four random single-byte flips of ``b``: each fails to decode or fails ``check``.

    A verdict is never VALID; it is INVALID, or NO_KEY only when the flip landed in
    ``no_key_region`` (bytes that select which party's key is looked up).
    """
    for _ in range(4):
        pos = data.draw(st.integers(0, len(b) - 1), label="pos")
        flip = data.draw(st.integers(1, 255), label="xor")
        bad = bytearray(b)
        bad[pos] ^= flip
        try:
            got = decode(bytes(bad), lenient_payload=True)
        except GbcsDecodeError:
            continue
        verdict = check(got).verdict
        assert verdict is not Verdict.VALID, (pos, flip)
        assert verdict is Verdict.INVALID or (verdict is Verdict.NO_KEY and pos in no_key_region), (
            pos,
            flip,
            verdict,
        )


def _identity_region(d: GbcsMessage) -> range:
    """CRA flag through recipient title: flips there may select keys the store lacks."""
    g = len(d.raw or b"") - len(d.gs_apdu()) - (MAC_LENGTH if d.mac is not None else 0)
    return range(g + 2, g + 29)


@pytest.mark.usefixtures("needs_keys")
@settings(max_examples=60, **_SETTINGS)
@given(_macable(), st.data())
def test_mac_round_trip_and_single_byte_flips(m: GbcsMessage, data: st.DataObject) -> None:
    ks = _store()
    mac_d = security.apply_mac(m, ks)
    assert mac_d.envelope is Envelope.GENERAL_CIPHERING and len(mac_d.mac or b"") == 12
    assert security.check_mac(mac_d, ks).verdict is Verdict.VALID
    b, d = _check_round_trip(mac_d)
    assert security.check_mac(d, ks).verdict is Verdict.VALID
    # MAC'ing is deterministic and the general-signing part is untouched
    assert security.apply_mac(m, ks).mac == mac_d.mac
    assert d.gs_apdu() == m.encode()

    identity = _identity_region(d)
    _assert_flips_never_verify(b, data, lambda got: security.check_mac(got, ks), identity)


# --------------------------------------------------------------------------- signatures


@st.composite
def _signable(draw: st.DrawFn) -> GbcsMessage:
    header, payload = draw(gs.payload_with_header())
    header = replace(header, originator=draw(st.sampled_from(gs.DS_PRIVATE)))
    return GbcsMessage(header, payload, Envelope.GENERAL_SIGNING, SignatureForm.NULL)


def _header_mutations(h: GroupingHeader) -> list[GroupingHeader]:
    other_orig = next(e for e in gs.DS_PRIVATE if e != h.originator)
    dt = None if h.date_time is not None else DlmsDateTime.not_specified()
    return [
        replace(h, counter=h.counter ^ 1),
        replace(h, recipient=bytes(b ^ 0x01 for b in h.recipient)),
        replace(h, originator=other_orig),
        replace(h, other=replace(h.other, message_code=h.other.message_code ^ 0x8000)),
        replace(h, date_time=dt),
        replace(h, cra=Cra.COMMAND if h.cra is not Cra.COMMAND else Cra.RESPONSE),
    ]


@pytest.mark.usefixtures("needs_keys")
@settings(max_examples=40, **_SETTINGS)
@given(_signable(), st.sampled_from(SignatureVariant))
def test_sign_then_verify(m: GbcsMessage, variant: SignatureVariant) -> None:
    ks = _store()
    key = ks.private_key(m.originator, "ds")
    assert key is not None
    signed = security.sign(m, key, variant)
    assert signed.signature_form is SignatureForm.PRESENT and len(signed.signature) == 64
    assert security.check_signature(signed, ks).verdict is Verdict.VALID
    # the signature covers what the unsigned message would sign
    assert signed.signed_data() == m.signed_data()
    b, d = _check_round_trip(signed)
    assert security.check_signature(d, ks).verdict is Verdict.VALID

    again = security.sign(m, key, variant)
    if variant is SignatureVariant.DETERMINISTIC:
        assert again.encode() == b
    else:
        assert again.signature != signed.signature  # a fresh k each time
        assert security.check_signature(again, ks).verdict is Verdict.VALID

    # a signature moved onto a different header no longer verifies
    for h in _header_mutations(m.header):
        moved = replace(signed, header=h)
        assert security.check_signature(moved, ks).verdict is Verdict.INVALID, h
        # A changed CRA flag or message code may no longer fit the payload (a GBZ alert
        # header outside CRA 3, a typed ASN.1 model under another code): encode refuses
        # such a message outright, which is stronger than emitting it.
        try:
            wire = moved.encode()
        except GbcsEncodeError:
            continue
        back = decode(wire, lenient_payload=True)
        assert security.check_signature(back, ks).verdict is Verdict.INVALID


@pytest.mark.usefixtures("needs_keys")
@settings(max_examples=40, **_SETTINGS)
@given(_signable(), st.data())
def test_signed_byte_flips_never_verify(m: GbcsMessage, data: st.DataObject) -> None:
    ks = _store()
    key = ks.private_key(m.originator, "ds")
    signed = security.sign(m, key, SignatureVariant.DETERMINISTIC)
    b = signed.encode()
    # a flipped originator may name a party without a DS key
    _assert_flips_never_verify(
        b, data, lambda got: security.check_signature(got, ks), range(12, 20)
    )


# --------------------------------------------------------------------------- encrypted parts

_SRP_PARTIES = st.sampled_from(tuple(e for e in gs.KA_PUBLIC if e != gs.ESME))


@st.composite
def _esme_response_headers(draw: st.DrawFn) -> GroupingHeader:
    """ESME 00DB1234567890A0 → supplier 90B3D51F30010000, every other-information variant."""
    code = draw(gs.message_codes)
    variant = draw(st.sampled_from(("code", "srp", "srp_counter", "supp_counter", "cert")))
    srp = draw(_SRP_PARTIES)
    other = {
        "code": OtherInformation(code),
        "srp": OtherInformation(code, srp),
        "srp_counter": OtherInformation(code, srp, draw(gs.counters)),
        "supp_counter": OtherInformation(code, srp, draw(gs.counters), draw(gs.counters)),
        "cert": OtherInformation(
            code, srp, draw(gs.counters), certificate=draw(gs.der_certificates())
        ),
    }[variant]
    cra = draw(st.sampled_from((Cra.RESPONSE, Cra.ALERT)))
    return GroupingHeader(cra, draw(gs.counters), gs.ESME, gs.SUPPLIER, other, draw(gs.date_times))


def _expected_part_key(h: GroupingHeader) -> tuple[bytes, bytes, int]:
    """(key, party, counter) computed from the §8.5 rule independently of security.py."""
    ks = _store()
    party = h.other.srp_id if h.other.srp_id is not None else h.recipient
    counter = h.other.supplementary_originator_counter
    counter = h.counter if counter is None else counter
    key = part_key(
        ks.private_key(gs.ESME, "ka"), ks.public_key(party, "ka"), gs.ESME, counter, party
    )
    return key, party, counter


@pytest.mark.usefixtures("needs_keys")
@settings(max_examples=50, **_SETTINGS)
@given(
    _esme_response_headers(),
    gs.data_values,
    st.lists(gs.simple_data, max_size=2),
    st.integers(0, 2),
    st.booleans(),
)
def test_dlms_part_encryption_round_trip(
    h: GroupingHeader, value: Data, others: list[Data], where: int, mac: bool
) -> None:
    ks = _store()
    key = security.part_key_for(h, ks)
    want_key, party, counter = _expected_part_key(h)
    assert key == want_key
    plaintext = encode_data(value)
    blob = security.seal_part(key, gs.ESME, plaintext)
    assert blob[:5] == PART_HEADER and len(blob) == len(plaintext) + 17

    protected = ProtectedAttributes.single(
        ProtectionParameters.gbcs(h.counter, gs.ESME, gs.SUPPLIER), blob
    ).to_data()
    items = list(others)
    items.insert(min(where, len(items)), protected)
    payload = AccessResponse(0x20000000 | (h.counter & 0xFFFFFF), tuple(items), ())
    m = GbcsMessage(h, payload, Envelope.GENERAL_SIGNING, SignatureForm.NULL)
    if mac:
        m = security.apply_mac(m, ks)
    b, d = _check_round_trip(m)
    if mac:
        assert security.check_mac(d, ks).verdict is Verdict.VALID

    (part,) = security.decrypt_parts(d, ks)
    assert part.plaintext == plaintext, part.detail
    assert part.part.blob == blob and b[part.part.offset] == 0x31
    assert security.decode_plaintext(part) == value

    # the key really depends on the supplementary party / counter when they are present
    if (party, counter) != (h.recipient, h.counter):
        plain_key = part_key(
            ks.private_key(gs.ESME, "ka"),
            ks.public_key(h.recipient, "ka"),
            gs.ESME,
            h.counter,
            h.recipient,
        )
        assert plain_key != key
        with pytest.raises(GbcsSecurityError):
            decrypt_part(plain_key, gs.ESME, blob)


@pytest.mark.usefixtures("needs_keys")
@settings(max_examples=30, **_SETTINGS)
@given(_esme_response_headers(), _CLUSTER_RECORDS, st.integers(0, 255))
def test_gbz_part_encryption_round_trip(h: GroupingHeader, body: Any, seq: int) -> None:
    ks = _store()
    h = replace(h, cra=Cra.RESPONSE)
    key = security.part_key_for(h, ks)
    clear = GbzComponent.command(body.CLUSTER, body, seq)
    blob = security.seal_part(key, gs.ESME, body.encode())
    comp = GbzComponent(clear.cluster, clear.zcl, ciphered=GbzCiphered(blob))
    m = GbcsMessage(h, GbzPayload((clear, comp)), Envelope.GENERAL_SIGNING)
    _, d = _check_round_trip(m)
    (part,) = security.decrypt_parts(d, ks)
    assert part.plaintext == body.encode(), part.detail
    assert part.part.cluster == body.CLUSTER and part.part.command == clear.command_id
    assert security.decode_plaintext(part) == body


# --------------------------------------------------------------------------- GBT


def _block_sizes(n: int) -> st.SearchStrategy[int]:
    """Block sizes giving 1..1024 blocks for an ``n``-byte message (the default limit)."""
    lo = max(1, -(-n // 1024))
    return st.one_of(st.integers(lo, max(lo, n // 3)), st.integers(lo, n + 20))


@settings(max_examples=60, **_SETTINGS)
@given(gs.messages(), st.data(), st.randoms(use_true_random=False), st.booleans())
def test_gbt_split_and_reassemble_in_any_order(
    m: GbcsMessage, data: st.DataObject, rnd: random.Random, streaming: bool
) -> None:
    b = m.encode()
    k = data.draw(_block_sizes(len(b)), label="block_size")
    window = data.draw(st.integers(1, 63), label="window")
    ack = data.draw(st.integers(0, 0xFFFF), label="block_number_ack")
    blocks = split(b, block_size=k, streaming=streaming, window=window, block_number_ack=ack)
    assert len(blocks) == -(-len(b) // k)
    assert b"".join(decode_block(x).data for x in blocks) == b
    rnd.shuffle(blocks)
    # identical retransmissions before the message completes are ignored
    for _ in range(data.draw(st.integers(0, 3), label="duplicates")):
        if len(blocks) > 1:
            dup = blocks[rnd.randrange(len(blocks) - 1)]
            blocks.insert(rnd.randrange(len(blocks) - 1), dup)
    r = Reassembler()
    out = [r.feed(x) for x in blocks]
    assert out[-1] == b and out.count(None) == len(blocks) - 1
    assert r.incomplete() == ()
    assert decode(out[-1]) == canonical(m)


@settings(max_examples=40, **_SETTINGS)
@given(gs.messages(), gs.messages(), st.data(), st.randoms(use_true_random=False))
def test_gbt_interleaved_messages(
    a: GbcsMessage, c: GbcsMessage, data: st.DataObject, rnd: random.Random
) -> None:
    assume((a.originator, a.counter) != (c.originator, c.counter))
    ba, bc = a.encode(), c.encode()
    blocks = split(ba, block_size=data.draw(_block_sizes(len(ba)), label="ka")) + split(
        bc, block_size=data.draw(_block_sizes(len(bc)), label="kc")
    )
    rnd.shuffle(blocks)
    r = Reassembler()
    done = [x for x in (r.feed(blk) for blk in blocks) if x is not None]
    assert sorted(done) == sorted([ba, bc])
    assert {decode(x).counter for x in done} == {a.counter, c.counter}


def test_encoders_refuse_what_the_decoder_would_read_differently() -> None:
    """Ambiguities found by these properties are refused at build time, not emitted."""
    from gbcs.codec import GbcsMessage
    from gbcs.envelope import Cra, GroupingHeader, OtherInformation
    from gbcs.errors import GbcsEncodeError
    from gbcs.gbz import GbzAlertHeader, IntegrityWarning, RawAlertData

    with pytest.raises(GbcsEncodeError, match="carries FutureDatedOutcome"):
        GbzPayload(alert=GbzAlertHeader(0x8F66, 0, IntegrityWarning(1))).encode()
    with pytest.raises(GbcsEncodeError, match="must not be empty"):
        GbzPayload(alert=GbzAlertHeader(0x8F30, 0, RawAlertData(b""))).encode()
    alert = GbzPayload(alert=GbzAlertHeader(0x8F30, 0))
    for cra in (Cra.COMMAND, Cra.RESPONSE):
        header = GroupingHeader(cra, 1, bytes(8), bytes(8), OtherInformation(0x0074))
        with pytest.raises(GbcsEncodeError, match="CRA 3"):
            GbcsMessage(header, alert, mac=bytes(12)).encode()
    header = GroupingHeader(Cra.ALERT, 1, bytes(8), bytes(8), OtherInformation(0x0074))
    assert decode(GbcsMessage(header, alert, mac=bytes(12)).encode()).payload == alert
