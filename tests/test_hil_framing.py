"""Serial framings (hil.framing): round trips through noise and chunking, resync rules,
timeouts, and decoding under injected link faults."""

from __future__ import annotations

import json
import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gbcs.envelope import Cra as CraFlag
from gbcs.envelope import (
    Envelope,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
    decode_envelope,
    encode_general_ciphering,
    encode_general_signing,
)
from gbcs.gbt import split
from hil.faults import LinkFaults
from hil.framing import (
    BINARY_OVERHEAD,
    DEFAULT_MAX_FRAME,
    FRAMINGS,
    BinaryFraming,
    FrameDecoder,
    GfiFraming,
    RawFraming,
    get_framing,
)
from tests import interop
from tests.strategies import grouping_headers, messages

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

frames_st = st.lists(st.binary(min_size=1, max_size=300), max_size=8)


def feed_in_chunks(
    dec: FrameDecoder, stream: bytes, sizes: list[int], now: float = 0.0
) -> list[bytes]:
    """Feed ``stream`` cut into pieces of the given sizes (cycled), all at ``now``."""
    out: list[bytes] = []
    pos = 0
    k = 0
    while pos < len(stream):
        n = sizes[k % len(sizes)] if sizes else len(stream)
        out += dec.feed(stream[pos : pos + n], now)
        pos += n
        k += 1
    return out


def build(
    encoded: list[bytes], garbage: list[bytes]
) -> tuple[bytes, int, int]:  # stream, garbage bytes, non-empty garbage runs
    """garbage[0] + encoded[0] + garbage[1] + … + encoded[-1] + garbage[-1]."""
    parts = [garbage[0]]
    for i, e in enumerate(encoded):
        parts += [e, garbage[i + 1]]
    return b"".join(parts), sum(map(len, garbage)), sum(1 for g in garbage if g)


@st.composite
def garbage_for(draw: st.DrawFn, n: int, alphabet: bytes | None = None) -> list[bytes]:
    """``n`` gaps of noise, mostly empty, up to 40 bytes each."""
    if alphabet is None:
        noise = st.binary(max_size=40)
    else:
        noise = st.lists(st.sampled_from(alphabet), max_size=40).map(bytes)
    return [draw(st.one_of(st.just(b""), noise)) for _ in range(n)]


chunk_sizes = st.lists(st.integers(1, 64), min_size=1, max_size=12)


def test_framings_registry() -> None:
    assert FRAMINGS == ("gfi", "binary", "raw")
    for name in FRAMINGS:
        f = get_framing(name)
        assert f.name == name
        assert f.decoder().stats.to_dict()["frames"] == 0
    with pytest.raises(ValueError, match="unknown framing 'hdlc'"):
        get_framing("hdlc")
    with pytest.raises(ValueError, match="has no option 'idle_timeout'"):
        get_framing("binary", idle_timeout=0.1)
    with pytest.raises(ValueError, match="max_frame must be at most 65535"):
        get_framing("binary", max_frame=70000)
    with pytest.raises(ValueError, match="idle_timeout must be a positive"):
        get_framing("raw", idle_timeout=0)
    with pytest.raises(ValueError, match="'abc' is not a float"):
        get_framing("gfi", frame_timeout="abc")
    raw = get_framing("raw", idle_timeout="0.2", max_frame="100")
    assert isinstance(raw, RawFraming)
    assert (raw.idle_timeout, raw.max_frame) == (0.2, 100)
    for name in FRAMINGS:
        f = get_framing(name, max_frame=10)
        with pytest.raises(ValueError, match=r"1\.\.10 bytes"):
            f.encode(bytes(11))
        with pytest.raises(ValueError, match="got 0"):
            f.encode(b"")


def test_stats_are_json() -> None:
    dec = get_framing("binary").decoder()
    dec.feed(b"noise", 0.0)
    d = json.loads(json.dumps(dec.stats.to_dict()))
    assert d["garbage_bytes"] == 5 and d["resyncs"] == 1 and d["bytes_received"] == 5
    assert set(d) >= {"frames", "garbage_bytes", "crc_errors", "truncated", "resyncs", "oversize"}


# --------------------------------------------------------------------------- binary


def test_binary_layout() -> None:
    enc = BinaryFraming().encode(b"\xdf\x09\x00")
    assert enc[:4] == b"\x7e\x01\x00\x03"
    assert enc[4:7] == b"\xdf\x09\x00"
    assert enc[7:] == zlib.crc32(b"\x01\x00\x03\xdf\x09\x00").to_bytes(4, "big")
    assert len(enc) == 3 + BINARY_OVERHEAD
    assert zlib.crc32(b"123456789") == 0xCBF43926  # the documented check value


@FAST
@given(frames_st, st.data(), chunk_sizes)
def test_binary_round_trip_through_noise(
    frames: list[bytes], data: st.DataObject, sizes: list[int]
) -> None:
    framing = BinaryFraming()
    garbage = data.draw(garbage_for(len(frames) + 1))
    stream, noise, runs = build([framing.encode(f) for f in frames], garbage)
    dec = framing.decoder()
    out = feed_in_chunks(dec, stream, sizes) + dec.flush(1e9)
    assert out == frames
    assert dec.stats.frames == len(frames)
    assert dec.stats.garbage_bytes == noise
    assert dec.stats.resyncs == runs
    assert dec.pending == 0 and dec.next_deadline() is None


def assert_sent_in_order(out: list[bytes], frames: list[bytes], must: list[bool]) -> None:
    """Each delivered frame equals a sent one, in order, and no frame marked ``must``
    is skipped."""
    k = 0
    for f in out:
        while k < len(frames) and frames[k] != f:
            assert not must[k], f"frame {k} was not delivered"
            k += 1
        assert k < len(frames), "a delivered frame matches no frame that was sent"
        k += 1
    assert not any(must[k:]), "a frame at the end was not delivered"


def _three() -> tuple[list[bytes], list[bytes]]:
    frames = [bytes([i]) * 5 + bytes(range(40)) for i in (1, 2, 3)]
    return frames, [BinaryFraming().encode(f) for f in frames]


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF, 0x7E ^ 0x01])
def test_binary_every_corrupted_byte_is_caught(mask: int) -> None:
    frames, enc = _three()
    for p in range(len(enc[1])):
        bad = bytearray(enc[1])
        bad[p] ^= mask
        dec = BinaryFraming().decoder()
        out = dec.feed(enc[0] + bytes(bad) + enc[2], 0.0) + dec.flush(1.0)
        assert out == [frames[0], frames[2]], p
        assert dec.stats.crc_errors + dec.stats.oversize + dec.stats.truncated >= (p > 1), p
        assert dec.stats.garbage_bytes == len(bad)


def test_binary_every_truncation_is_skipped() -> None:
    frames, enc = _three()
    for cut in range(len(enc[1])):
        dec = BinaryFraming().decoder()
        out = dec.feed(enc[0] + enc[1][:cut] + enc[2], 0.0) + dec.flush(1.0)
        assert out == [frames[0], frames[2]], cut
        assert dec.stats.garbage_bytes == cut


@FAST
@given(
    st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=6, unique=True),
    st.data(),
    chunk_sizes,
)
def test_binary_damage_never_yields_a_wrong_frame(
    frames: list[bytes], data: st.DataObject, sizes: list[int]
) -> None:
    framing = BinaryFraming()
    enc = [framing.encode(f) for f in frames]
    stream = bytearray(b"".join(enc))
    starts = [sum(map(len, enc[:i])) for i in range(len(enc) + 1)]
    hit = data.draw(st.integers(0, len(stream) - 1))
    if data.draw(st.booleans()):
        stream[hit] ^= data.draw(st.integers(1, 255))
        stop = hit + 1
    else:
        stop = min(len(stream), hit + data.draw(st.integers(1, 20)))
        del stream[hit:stop]
    dec = framing.decoder()
    out = feed_in_chunks(dec, bytes(stream), sizes) + dec.flush(1e9)
    intact = [starts[i + 1] <= hit or starts[i] >= stop for i in range(len(frames))]
    # Splicing can rebuild a sent frame exactly (two equal frames, the middle cut out);
    # anything else damaged must vanish.
    assert_sent_in_order(out, frames, intact)


def test_binary_corrupted_length_does_not_swallow_good_frames() -> None:
    frames, enc = _three()
    bad = bytearray(enc[0])
    bad[2:4] = (4000).to_bytes(2, "big")  # claims 4000 bytes: frames 2 and 3 are inside
    dec = BinaryFraming().decoder()
    assert dec.feed(bytes(bad) + enc[1] + enc[2], 5.0) == []
    assert dec.next_deadline() == 5.5
    assert dec.flush(5.4) == []
    assert dec.flush(5.5) == [frames[1], frames[2]]
    assert dec.stats.truncated == 1
    # The same damage with traffic behind it: the CRC fails once 4008 bytes are in.
    dec = BinaryFraming().decoder()
    filler = [BinaryFraming().encode(bytes([i % 256]) * 100) for i in range(40)]
    out = dec.feed(bytes(bad) + enc[1] + enc[2] + b"".join(filler), 0.0)
    assert out[:2] == [frames[1], frames[2]] and len(out) == 42
    assert dec.stats.crc_errors == 1


def test_binary_length_bounds() -> None:
    framing = BinaryFraming(max_frame=64)
    dec = framing.decoder()
    good = framing.encode(b"x" * 64)
    zero = b"\x7e\x01\x00\x00" + zlib.crc32(b"\x01\x00\x00").to_bytes(4, "big")
    big = BinaryFraming().encode(b"y" * 65)
    assert dec.feed(zero + big + good, 0.0) == [b"x" * 64]
    assert dec.stats.oversize == 2
    assert dec.stats.garbage_bytes == len(zero) + len(big)


# --------------------------------------------------------------------------- gfi


def test_gfi_accepts_the_tool_example() -> None:
    dec = GfiFraming().decoder()
    assert dec.feed(b"GBCS:DATA#1:3:DF0900\r\n", 0.0) == [b"\xdf\x09\x00"]
    assert dec.stats.frames == 1 and dec.stats.garbage_bytes == 0


def test_gfi_encode() -> None:
    f = GfiFraming(numbering="sequence", first_number=1)
    assert f.encode(b"\xdf\x09\x00") == b"GBCS:DATA#1:3:DF0900\r\n"
    assert f.encode(b"\xab\xcd") == b"GBCS:DATA#2:2:ABCD\r\n"
    assert GfiFraming().encode(b"\x01") == b"GBCS:DATA#0:1:01\r\n"
    wrap = GfiFraming(numbering="sequence", first_number=2**32 - 1)
    assert wrap.encode(b"\x01").startswith(b"GBCS:DATA#4294967295:")
    assert wrap.encode(b"\x01").startswith(b"GBCS:DATA#0:")
    with pytest.raises(ValueError, match="first_number"):
        GfiFraming(first_number=-1)


def test_gfi_tolerance_and_rejections() -> None:
    dec = GfiFraming(max_frame=4).decoder()
    stream = (
        b"GBCS:DATA#7:2:abCD\n"  # lower-case hex, bare \n: accepted
        b"GBCS:DATA#8:3:ABCD\r\n"  # count disagrees: truncated
        b"GBCS:DATA#9:2:AB"  # end of line lost, next marker follows: truncated
        b"GBCS:DATA#10:1:0G\r\n"  # not hex: garbage
        b"GBCS:DATA#11:5:0102030405\r\n"  # longer than max_frame: oversize
        b"GBCS:DATA#12:0:\r\n"  # empty: garbage
        b"GBCS:STATUS:OK\r\n"  # not a data line: garbage
        b"GBCS:DATA#13:1:7E\r\n"
    )
    assert dec.feed(stream, 0.0) == [b"\xab\xcd", b"\x7e"]
    s = dec.stats
    assert (s.frames, s.truncated, s.oversize, s.resyncs) == (2, 2, 1, 1)
    assert s.garbage_bytes == len(stream) - len(b"GBCS:DATA#7:2:abCD\n") - 19


def test_gfi_line_without_end_is_bounded() -> None:
    dec = GfiFraming(max_frame=16).decoder()
    dec.feed(b"GBCS:DATA#1:16:" + b"A" * 1000, 0.0)
    assert dec.pending == 0 and dec.stats.oversize == 1
    assert dec.feed(GfiFraming().encode(b"ok"), 0.0) == [b"ok"]


def test_gfi_stuck_line_times_out() -> None:
    dec = GfiFraming().decoder()
    assert dec.feed(b"GBCS:DATA#1:2:AB", 1.0) == []
    assert dec.next_deadline() == 1.5
    assert dec.flush(1.49) == []
    assert dec.flush(1.5) == []
    assert dec.stats.truncated == 1 and dec.pending == 0
    # A late timer: the stale half line is dropped before the new bytes are read.
    dec.feed(b"GBCS:DATA#2:2:AB", 2.0)
    assert dec.feed(b"CD\r\n", 9.0) == []
    assert dec.stats.truncated == 2


@FAST
@given(frames_st, st.data(), chunk_sizes)
def test_gfi_round_trip_through_noise(
    frames: list[bytes], data: st.DataObject, sizes: list[int]
) -> None:
    framing = GfiFraming()
    garbage = data.draw(garbage_for(len(frames) + 1))
    stream, noise, runs = build([framing.encode(f) for f in frames], garbage)
    dec = framing.decoder()
    out = feed_in_chunks(dec, stream, sizes) + dec.flush(1e9)
    assert out == frames
    assert dec.stats.garbage_bytes == noise
    assert dec.stats.resyncs == runs
    assert dec.pending == 0


@FAST
@given(frames_st, st.data(), chunk_sizes)
def test_gfi_round_trip_through_text_noise(
    frames: list[bytes], data: st.DataObject, sizes: list[int]
) -> None:
    """Noise made of the line's own characters (markers, digits, colons, newlines)."""
    framing = GfiFraming()
    alphabet = b"GBCS:DATA#0123456789abcdefABCDEF\r\n"
    garbage = data.draw(garbage_for(len(frames) + 1, alphabet))
    stream, noise, runs = build([framing.encode(f) for f in frames], garbage)
    if b"GBCS:DATA#" in b"".join(garbage):
        return  # noise that may spell a whole valid line proves nothing
    dec = framing.decoder()
    out = feed_in_chunks(dec, stream, sizes) + dec.flush(1e9)
    assert out == frames
    assert dec.stats.garbage_bytes == noise
    assert dec.stats.resyncs == runs


# --------------------------------------------------------------------------- raw


@st.composite
def gbcs_messages(draw: st.DrawFn) -> bytes:
    """GS or GC envelopes with every signature form, or one GBT block of a message."""
    header = draw(grouping_headers())
    content = draw(st.binary(max_size=300))
    form = draw(st.sampled_from(SignatureForm))
    sig = draw(st.binary(min_size=64, max_size=64)) if form is SignatureForm.PRESENT else b""
    gs = encode_general_signing(header, content, form, sig)
    kind = draw(st.sampled_from(["gs", "gc", "gbt"]))
    if kind == "gs":
        return gs
    gc = encode_general_ciphering(gs, draw(st.binary(min_size=12, max_size=12)))
    if kind == "gc":
        return gc
    blocks = split(gc, block_size=draw(st.integers(20, 200)))
    return blocks[draw(st.integers(0, len(blocks) - 1))]


# Noise that starts no envelope and cannot pass for a GS signature field.
RAW_NOISE = bytes(b for b in range(256) if b not in (0x00, 0x40, 0xDD, 0xDF))


@FAST
@given(st.lists(gbcs_messages(), max_size=6), st.data(), chunk_sizes)
def test_raw_round_trip_through_noise(
    msgs: list[bytes], data: st.DataObject, sizes: list[int]
) -> None:
    garbage = data.draw(garbage_for(len(msgs) + 1, RAW_NOISE))
    gaps = data.draw(st.lists(st.booleans(), min_size=len(msgs) + 1, max_size=len(msgs) + 1))
    dec = RawFraming().decoder()
    out: list[bytes] = []
    now = 0.0
    segments = [garbage[0], *(m + g for m, g in zip(msgs, garbage[1:], strict=True))]
    for seg, gap in zip(segments, gaps, strict=True):
        if gap:  # the line goes quiet between two frames
            now += 1.0
            if data.draw(st.booleans()):
                out += dec.flush(now)  # a timer that fires on time …
        out += feed_in_chunks(dec, seg, sizes, now)  # … or a late one (feed flushes first)
    out += dec.flush(now + 1.0)
    assert out == msgs
    assert dec.stats.garbage_bytes == sum(map(len, garbage))


def test_raw_emits_a_complete_envelope_at_once() -> None:
    header = GroupingHeader(CraFlag.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, OtherInformation(0x62))
    null = encode_general_signing(header, b"\x01\x02\x03", SignatureForm.NULL)
    signed = encode_general_signing(header, b"\x04", SignatureForm.PRESENT, b"\x55" * 64)
    gc = encode_general_ciphering(null, b"\xaa" * 12)
    dec = RawFraming().decoder()
    assert dec.feed(b"\x01\x02" + null, 0.0) == [null]
    assert dec.stats.garbage_bytes == 2 and dec.next_deadline() is None
    assert dec.feed(signed + gc + null[:10], 0.0) == [signed, gc]
    assert dec.feed(null[10:], 0.01) == [null]
    for block in split(gc, block_size=20):
        assert dec.feed(block, 0.02) == [block]


def test_raw_ends_a_frame_on_idle_timeout() -> None:
    header = GroupingHeader(CraFlag.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, OtherInformation(0x62))
    absent = encode_general_signing(header, b"\x01\x02\x03", SignatureForm.ABSENT)
    dec = RawFraming().decoder()
    assert dec.feed(absent, 10.0) == []  # a signature field may still follow
    assert dec.next_deadline() == pytest.approx(10.05)
    assert dec.flush(10.04) == []
    assert dec.flush(10.05) == [absent]
    assert dec.next_deadline() is None
    # What follows an absent signature decides: another message ends it at once.
    assert dec.feed(absent + absent, 11.0) == [absent]
    assert dec.flush(12.0) == [absent]
    # Bytes that are no envelope still make a frame when the line goes quiet …
    assert dec.feed(b"\xdd\x01\x02\x03", 13.0) == []
    assert dec.flush(13.1) == [b"\xdd\x01\x02\x03"]
    # … unless a complete envelope follows them in the same burst: then they are noise.
    assert dec.feed(b"\xdf\x55\xdd" + absent + absent, 14.0) == [absent]
    assert dec.stats.garbage_bytes == 3
    # A message cut short is delivered as the line carried it (the device judges it).
    assert dec.flush(14.1) == [absent]
    assert dec.feed(absent[:20], 15.0) == []
    assert dec.flush(15.1) == [absent[:20]]


def test_raw_oversize_is_bounded() -> None:
    dec = RawFraming(max_frame=100).decoder()
    header = GroupingHeader(CraFlag.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, OtherInformation(0x62))
    big = encode_general_signing(header, bytes(200), SignatureForm.NULL)
    small = encode_general_signing(header, bytes(5), SignatureForm.NULL)
    assert dec.feed(big + small, 0.0) == [small]
    assert dec.stats.oversize == 1
    noise = b"\xdd\x01" * 200  # opaque, no envelope anywhere: dropped past max_frame
    dec.feed(noise, 1.0)
    assert dec.pending <= 100 and dec.stats.oversize >= 2


def test_raw_agrees_with_the_envelope_decoder_on_interop_vectors() -> None:
    vectors = interop.vectors()
    framing = RawFraming()
    for v in vectors:
        m = bytes.fromhex(v["hex"])
        try:
            env = decode_envelope(m)
        except Exception:
            continue  # the deliberately broken vectors
        whole = framing.decoder()
        at_once = whole.feed(m, 0.0)
        ambiguous = env.envelope is Envelope.GENERAL_SIGNING and (
            env.signature_form is SignatureForm.ABSENT
        )
        assert at_once == ([] if ambiguous else [m]), v["id"]
        assert at_once + whole.flush(1.0) == [m]
        # Byte by byte: nothing comes out early.
        dec = framing.decoder()
        out = [f for b in m[:-1] for f in dec.feed(bytes([b]), 0.0)]
        assert out == [], v["id"]


@FAST
@given(messages())
def test_raw_frames_every_generated_message(msg: object) -> None:
    m = msg.encode()  # type: ignore[attr-defined]
    dec = RawFraming(max_frame=1 << 20).decoder()
    ambiguous = m[0] == 0xDF and msg.signature_form is SignatureForm.ABSENT  # type: ignore[attr-defined]
    assert dec.feed(m, 0.0) == ([] if ambiguous else [m])
    # A second copy right behind it ends an absent signature field too.
    assert dec.feed(m, 0.0) == [m]


# --------------------------------------------------------------------------- all


@FAST
@given(
    st.sampled_from(FRAMINGS),
    st.lists(
        st.tuples(
            st.one_of(st.binary(max_size=80), st.sampled_from([b"\x7e\x01", b"GBCS:", b"\xdd"])),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        max_size=20,
    ),
)
def test_decoders_never_raise_and_stay_bounded(name: str, feeds: list[tuple[bytes, float]]) -> None:
    dec = get_framing(name, max_frame=64).decoder()
    delivered = 0
    for data, now in feeds:
        delivered += len(dec.feed(data, now))
        delivered += len(dec.flush(now))
        assert dec.pending <= 64 + 200
    assert dec.stats.frames == delivered
    assert dec.stats.bytes_received == sum(len(d) for d, _ in feeds)


def test_decoders_bounded_on_a_megabyte_of_noise() -> None:
    rng = random.Random(1)
    noise = rng.randbytes(1 << 20)
    for name in FRAMINGS:
        dec = get_framing(name).decoder()
        for i in range(0, len(noise), 4096):
            dec.feed(noise[i : i + 4096], 0.0)
            assert dec.pending <= 2 * DEFAULT_MAX_FRAME + 64, name
        s = dec.stats
        assert s.garbage_bytes + dec.pending + s.frames > 0


# --------------------------------------------------------------------------- faults


def _faulty_stream(
    framing_name: str, faults: LinkFaults, n: int = 2000
) -> tuple[list[bytes], list[bool], bytes]:
    """Frames, whether each crossed untouched, and the damaged stream."""
    rng = random.Random(7)
    framing = get_framing(framing_name)
    frames = [rng.randbytes(rng.randint(20, 200)) for _ in range(n)]
    clean: list[bool] = []
    parts: list[bytes] = []
    for f in frames:
        enc = framing.encode(f)
        chunks = faults.apply(enc)
        clean.append(chunks == [(0.0, enc)])
        parts += [c for _, c in chunks]
    return frames, clean, b"".join(parts)


def _decode(framing_name: str, stream: bytes) -> tuple[list[bytes], FrameDecoder]:
    dec = get_framing(framing_name).decoder()
    rng = random.Random(3)
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        n = rng.randint(1, 600)
        out += dec.feed(stream[pos : pos + n], 0.0)
        pos += n
    return out + dec.flush(1e9), dec


def test_binary_under_link_faults_delivers_exactly_the_undamaged_frames() -> None:
    faults = LinkFaults(corrupt=0.01, drop_byte=0.01, seed=11)
    frames, clean, stream = _faulty_stream("binary", faults)
    out, dec = _decode("binary", stream)
    assert out == [f for f, ok in zip(frames, clean, strict=True) if ok]
    lost = clean.count(False)
    assert 0 < lost < len(frames)
    assert faults.stats.corrupted > 0 and faults.stats.dropped_bytes > 0
    s = dec.stats
    assert s.frames == len(out) and s.crc_errors > 0
    # Every byte not in a delivered frame is garbage, and each run of damaged frames
    # between two delivered ones is one resync.
    assert s.garbage_bytes == len(stream) - sum(len(f) + BINARY_OVERHEAD for f in out)
    runs = sum(1 for i, ok in enumerate(clean) if not ok and (i == 0 or clean[i - 1]))
    assert s.resyncs == runs


def test_gfi_under_dropped_bytes_delivers_only_identical_frames() -> None:
    faults = LinkFaults(drop_byte=0.01, seed=12)
    frames, clean, stream = _faulty_stream("gfi", faults)
    out, dec = _decode("gfi", stream)
    assert_sent_in_order(out, frames, clean)
    assert dec.stats.truncated > 0 and dec.stats.garbage_bytes > 0


def test_gfi_under_link_faults() -> None:
    """1 % corrupted + 1 % dropped bytes. GFI lines carry no checksum, so a hex digit
    corrupted into another hex digit gets through as a wrong byte; everything else is
    caught. Every undamaged frame comes out intact, in order; a damaged one comes out
    only with its length intact and a few substituted bytes."""
    faults = LinkFaults(corrupt=0.01, drop_byte=0.01, seed=13)
    frames, clean, stream = _faulty_stream("gfi", faults)
    out, dec = _decode("gfi", stream)
    k = 0
    wrong = 0
    for f in out:
        while True:
            assert k < len(frames), "a delivered frame matches no frame that was sent"
            sent = frames[k]
            k += 1
            if f == sent:
                break
            assert not clean[k - 1], "an undamaged frame went missing"
            if len(f) == len(sent) and sum(a != b for a, b in zip(f, sent, strict=True)) <= 3:
                wrong += 1
                break
    assert all(not ok for ok in clean[k:])
    assert wrong < faults.stats.corrupted // 5
    s = dec.stats
    assert s.truncated > 0 and s.garbage_bytes > 0 and s.resyncs > 0
