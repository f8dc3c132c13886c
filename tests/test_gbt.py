"""GBT segmentation: block codec, split, sans-IO reassembly, tshark interop."""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.gbt import (
    GbtBlock,
    IncompleteMessage,
    Reassembler,
    RoutingHeader,
    decode_block,
    segment,
    split,
)
from gbcs.pcap import PcapRecord, write_pcap
from tests.interop import by_id, interop_dir

ECS01A = "RTDS-4.5.0/1.1.1_ECS01a/ECS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_COMMAND"
CS02B_RECOVERY = (
    "RTDS-4.5.0/NA_CS02bAnyExceptAbnormalRootByRecovery/"
    "CS02bAnyExceptAbnormalRootByRecovery_NA_SUCCESS_COMMAND"
)
CS02B_PRECOMMAND = (
    "RTDS-4.5.0/6.15.1_CS02bSupplierBySupplier/"
    "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_PRECOMMAND"
)
CS02B_RESPONSE = (
    "RTDS-4.5.0/6.15.1_CS02bSupplierBySupplier/"
    "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_RESPONSE"
)
LONG_VECTORS = [ECS01A, CS02B_RECOVERY, CS02B_PRECOMMAND, CS02B_RESPONSE]

ORIG = bytes.fromhex("90B3D51F30010000")
RECIP = bytes.fromhex("00DB1234567890A0")
WHAT = "message 0x0019 from 90B3D51F30010000 counter 1006"


def vector(vector_id: str) -> bytes:
    return bytes.fromhex(by_id(vector_id)["hex"])


def gs_message(counter: int, tail: bytes, code: int = 0x0019, cra: int = 1) -> bytes:
    """A general-signing message: valid header, arbitrary content."""
    return (
        b"\xdf\x09"
        + bytes((cra,))
        + counter.to_bytes(8, "big")
        + b"\x08"
        + ORIG
        + b"\x08"
        + RECIP
        + b"\x00\x02"
        + code.to_bytes(2, "big")
        + tail
    )


@pytest.fixture
def ecs01a() -> bytes:
    if interop_dir() is None:
        pytest.skip("interop vectors not found")
    msg = vector(ECS01A)
    assert len(msg) == 1426
    return msg


def err(e: pytest.ExceptionInfo[GbcsDecodeError]) -> tuple[str, int, str]:
    return (e.value.path, e.value.offset, e.value.reason)


# --------------------------------------------------------------------------- block codec


def test_first_and_last_block_bytes(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    assert [len(b) for b in blocks] == [249] * 7 + [73]
    assert (
        blocks[0]
        == bytes.fromhex(
            "DD 09 01 00000000000003EE 08 90B3D51F30010000 08 00DB1234567890A0 00 02 0019 00"
            "81D5 11 00000000 E0 01 0001 0000 81C8"
        )
        + ecs01a[:200]
    )
    assert (
        blocks[7]
        == bytes.fromhex(
            "DD 09 01 00000000000003EE 08 90B3D51F30010000 08 00DB1234567890A0 00 02 0019 00"
            "26 11 00000000 E0 81 0008 0000 1A"
        )
        + ecs01a[1400:]
    )
    first = decode_block(blocks[0])
    assert first == GbtBlock(
        RoutingHeader(1, 1006, ORIG, RECIP, 0x0019), 1, ecs01a[:200], last=False, window=1
    )
    assert first.key == (ORIG, 1006) and not first.is_ack and first.block_control == 0x01
    assert decode_block(blocks[7]).last is True


def test_routing_header_from_both_envelopes(ecs01a: bytes) -> None:
    gc = RoutingHeader.from_message(ecs01a)
    assert gc == RoutingHeader(1, 1006, ORIG, RECIP, 0x0019)
    gs = RoutingHeader.from_message(ecs01a[15:-12])  # the DF APDU inside
    assert gs == gc
    dated = gs_message(5, b"")[:29] + b"\x0c" + bytes(12) + b"\x82\x00\x02\x00\x12"
    assert RoutingHeader.from_message(dated).message_code == 0x0012


@pytest.mark.parametrize(
    ("message", "path", "offset", "reason"),
    [
        (b"\x00", "message.general_signing", 0, "expected DF, found 00"),
        (
            b"\xdd\x00\x00\x00\x00\x00\x01",
            "message.general_ciphering",
            0,
            "expected DD000000000000, found DD000000000001",
        ),
        (
            b"\xdd\x00\x00\x00\x00\x00\x00\x05\x11",
            "message.ciphered_service_length",
            7,
            "length 5 but 1 byte(s) follow",
        ),
        (gs_message(1, b"")[:2] + b"\x04", "message.cra_flag", 2, "invalid CRA flag 0x04"),
        (
            gs_message(1, b"")[:29] + b"\x05",
            "message.date_time.length",
            29,
            "date-time length 5 is neither 0 nor 12",
        ),
        (
            gs_message(1, b"")[:29] + b"\x00\x01\x00",
            "message.other_information.length",
            30,
            "other-information shorter than a message code",
        ),
        (
            gs_message(1, b"")[:32],
            "message.other_information.message_code",
            31,
            "needs 2 byte(s), 1 left",
        ),
    ],
)
def test_split_rejects_malformed_message(
    message: bytes, path: str, offset: int, reason: str
) -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        split(message)
    assert err(ei) == (path, offset, reason)


def _block(data: bytes = b"\xdf" * 10, **kw: object) -> bytes:
    routing = RoutingHeader(1, 1006, ORIG, RECIP, 0x0019)
    return GbtBlock(routing, **{"block_number": 1, "data": data, **kw}).encode()  # type: ignore[arg-type]


def _patch(raw: bytes, at: int, value: bytes) -> bytes:
    return raw[:at] + value + raw[at + len(value) :]


B = _block()  # 10 data bytes: ciphered-content length 0x16, block number at 42


@pytest.mark.parametrize(
    ("raw", "path", "offset", "reason"),
    [
        (b"", "gbt.routing_header", 0, "needs 34 byte(s), 0 left"),
        (B[:20], "gbt.routing_header", 0, "needs 34 byte(s), 20 left"),
        (B[:34], "gbt.routing_header.ciphered_content_length", 34, "needs 1 byte(s), 0 left"),
        (_patch(B, 0, b"\xde"), "gbt.routing_header.general_ciphering", 0, "expected DD, found DE"),
        (
            _patch(B, 1, b"\x08"),
            "gbt.routing_header.transaction_id.length",
            1,
            "expected 09, found 08",
        ),
        (_patch(B, 2, b"\x00"), "gbt.routing_header.cra_flag", 2, "invalid CRA flag 0x00"),
        (
            _patch(B, 11, b"\x07"),
            "gbt.routing_header.originator_system_title.length",
            11,
            "expected 08, found 07",
        ),
        (
            _patch(B, 20, b"\x09"),
            "gbt.routing_header.recipient_system_title.length",
            20,
            "expected 08, found 09",
        ),
        (_patch(B, 29, b"\x0c"), "gbt.routing_header.date_time", 29, "expected 00, found 0C"),
        (
            _patch(B, 30, b"\x0a"),
            "gbt.routing_header.other_information.length",
            30,
            "expected 02, found 0A",
        ),
        (_patch(B, 33, b"\x01"), "gbt.routing_header.key_info", 33, "expected 00, found 01"),
        (
            _patch(B, 34, b"\x17"),
            "gbt.routing_header.ciphered_content_length",
            34,
            "length 23 but 22 byte(s) follow",
        ),
        (
            B + b"\x00",
            "gbt.routing_header.ciphered_content_length",
            34,
            "length 22 but 23 byte(s) follow",
        ),
        (
            B[:34] + b"\x81\x16" + B[35:],
            "gbt.routing_header.ciphered_content_length",
            34,
            "non-minimal length",
        ),
        (
            B[:34] + b"\x80" + B[35:],
            "gbt.routing_header.ciphered_content_length",
            34,
            "unsupported BER length form 0x80",
        ),
        (
            _patch(B, 35, b"\x31"),
            "gbt.routing_header.security_control",
            35,
            "expected 11, found 31",
        ),
        (
            _patch(B, 36, b"\x01"),
            "gbt.routing_header.invocation_counter",
            36,
            "expected 00000000, found 01000000",
        ),
        (_patch(B, 40, b"\xe6"), "gbt.gbt_header.tag", 40, "expected E0, found E6"),
        (_patch(B, 42, b"\x00\x00"), "gbt.gbt_header.block_number", 42, "block numbers start at 1"),
        (
            _patch(B, 46, b"\x09"),
            "gbt.gbt_header.block_data_length",
            46,
            "length 9 but 10 byte(s) follow",
        ),
        (
            B[:35] + B[35:46],
            "gbt.routing_header.ciphered_content_length",
            34,
            "length 22 but 11 byte(s) follow",
        ),
    ],
)
def test_decode_block_malformed(raw: bytes, path: str, offset: int, reason: str) -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_block(raw)
    assert err(ei) == (path, offset, reason)


def test_block_data_length_non_minimal() -> None:
    raw = B[:34] + b"\x17" + B[35:46] + b"\x81\x0a" + B[47:]
    with pytest.raises(GbcsDecodeError) as ei:
        decode_block(raw)
    assert err(ei) == ("gbt.gbt_header.block_data_length", 46, "non-minimal length")


def test_block_round_trip_and_flags() -> None:
    routing = RoutingHeader(3, 2**64 - 1, RECIP, ORIG, 0xFFFF)
    for blk in [
        GbtBlock(
            routing, 65535, bytes(300), last=True, streaming=True, window=63, block_number_ack=65535
        ),
        GbtBlock(routing, 1, b"\x00", streaming=True, window=0),
        GbtBlock(routing, 0, b"", block_number_ack=7),  # ACK-only
        GbtBlock(routing, 2, bytes(70000)),
    ]:
        raw = blk.encode()
        assert decode_block(raw) == blk
        assert GbtBlock.decode(raw).encode() == raw
    assert GbtBlock(routing, 1, b"x", last=True, streaming=True, window=5).block_control == 0xC5
    for bad in [
        {"block_number": 65536},
        {"block_number": 0},
        {"window": 64},
        {"block_number_ack": -1},
    ]:
        with pytest.raises(GbcsEncodeError):
            GbtBlock(routing, **{"block_number": 1, "data": b"x", **bad})  # type: ignore[arg-type]
    with pytest.raises(GbcsEncodeError):
        RoutingHeader(4, 1, ORIG, RECIP, 1)
    with pytest.raises(GbcsEncodeError):
        RoutingHeader(1, 1, ORIG[:7], RECIP, 1)


def test_block_fields() -> None:
    blk = decode_block(B)
    routing, gbt, data = blk.fields(100)
    assert (routing.name, routing.offset, routing.raw) == ("Routing Header", 100, B[:40])
    assert [(f.name, f.offset, f.value) for f in routing.children] == [
        ("General Ciphering", 100, None),
        ("Transaction Id Length", 101, "9"),
        ("CRA Flag", 102, "Command"),
        ("Originator Counter", 103, "1006"),
        ("Originator System Title", 111, "90B3D51F30010000"),
        ("Recipient System Title", 120, "00DB1234567890A0"),
        ("Date Time", 129, None),
        ("Other Information Length", 130, "2"),
        ("Message Code", 131, "0x0019"),
        ("Key Info", 133, None),
        ("Ciphered Content Length", 134, "22"),
        ("Security Header", 135, None),
    ]
    assert [(f.name, f.offset, f.raw.hex(), f.value) for f in gbt.children] == [
        ("General Block Transfer", 140, "e0", None),
        ("Block Control", 141, "01", "last=0 streaming=0 window=1"),
        ("Block Number", 142, "0001", "1"),
        ("Block Number Ack", 144, "0000", "0"),
        ("Block Data Length", 146, "0a", "10"),
    ]
    assert (data.name, data.offset, data.raw) == ("Block Data", 147, b"\xdf" * 10)


# --------------------------------------------------------------------------- split


def test_block_size_edge_cases(ecs01a: bytes) -> None:
    exact = segment(ecs01a, block_size=31)  # 1426 = 46 * 31
    assert len(exact) == 46 and {len(b.data) for b in exact} == {31}
    assert [b.last for b in exact] == [False] * 45 + [True]
    assert [b.block_number for b in exact] == list(range(1, 47))
    single = split(ecs01a, block_size=1426)
    assert len(single) == 1 and decode_block(single[0]).last
    assert len(split(ecs01a, block_size=65535)) == 1
    assert len(split(ecs01a, block_size=1425)) == 2
    tiny = gs_message(9, b"\x01\x02")
    ones = segment(tiny, block_size=1)
    assert len(ones) == len(tiny) and b"".join(b.data for b in ones) == tiny
    for size in (0, 65536):
        with pytest.raises(GbcsEncodeError, match="block size"):
            split(ecs01a, block_size=size)
    with pytest.raises(GbcsEncodeError, match="more than 65535"):
        split(gs_message(1, bytes(65536)), block_size=1)
    with pytest.raises(GbcsEncodeError, match="nothing to segment"):
        split(b"")
    r = Reassembler()
    assert [r.feed(b) for b in exact][-1] == ecs01a


def test_streaming_and_window(ecs01a: bytes) -> None:
    blocks = [decode_block(b) for b in split(ecs01a, window=5, streaming=True, block_number_ack=3)]
    assert [b.block_control for b in blocks] == [0x45] * 7 + [0x85]
    assert {b.block_number_ack for b in blocks} == {3}
    assert [b.block_control for b in segment(ecs01a)] == [0x01] * 7 + [0x81]


# --------------------------------------------------------------------------- reassembly


@pytest.mark.interop
@pytest.mark.parametrize("vector_id", LONG_VECTORS)
@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
@pytest.mark.parametrize("block_size", [200, 64, 997])
def test_split_reassemble_real_vectors(vector_id: str, order: str, block_size: int) -> None:
    msg = vector(vector_id)
    blocks = split(msg, block_size=block_size)
    assert len(blocks) == -(-len(msg) // block_size)
    if order == "reversed":
        blocks.reverse()
    elif order == "shuffled":
        random.Random(len(msg) + block_size).shuffle(blocks)
    r = Reassembler()
    results = [r.feed(b) for b in blocks]
    assert results[-1] == msg
    assert results[:-1] == [None] * (len(blocks) - 1)
    assert r.incomplete() == ()


@pytest.mark.interop
def test_interleaved_messages() -> None:
    a, b = vector(ECS01A), vector(CS02B_RECOVERY)
    c = gs_message(1006, bytes(range(256)) * 3)  # same counter, other originator below
    c = c[:12] + RECIP + c[20:21] + ORIG + c[29:]
    streams = [split(a), split(b, block_size=100), split(c, block_size=50)]
    mixed = [
        blk
        for group in zip(*[s[: min(map(len, streams))] for s in streams], strict=True)
        for blk in group
    ]
    for s in streams:
        mixed += s[min(map(len, streams)) :]
    random.Random(7).shuffle(mixed)
    r = Reassembler()
    done = [m for m in (r.feed(x) for x in mixed) if m is not None]
    assert sorted(done, key=len) == sorted([a, b, c], key=len)
    assert r.incomplete() == ()


def test_identical_duplicates_ignored(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    r = Reassembler()
    assert r.feed(blocks[0]) is None
    assert r.feed(blocks[0]) is None
    assert r.feed(blocks[3]) is None
    assert r.feed(blocks[3]) is None
    out = [r.feed(b) for b in blocks[1:]]
    assert out[-1] == ecs01a


def test_conflicting_duplicate_drops_only_that_message(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    other = split(gs_message(77, bytes(500)), block_size=200)
    r = Reassembler()
    r.feed(other[0])
    r.feed(blocks[0])
    r.feed(blocks[1])
    forged = decode_block(blocks[1])
    forged = replace(forged, data=b"\x00" + forged.data[1:])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(forged.encode())
    assert err(ei) == (
        "gbt.block_data",
        49,
        f"block 2 of {WHAT} differs from the copy already received",
    )
    assert [m.key for m in r.incomplete()] == [(ORIG, 77)]
    assert r.feed(other[1]) is None
    assert r.feed(other[2]) == gs_message(77, bytes(500))
    # a retransmission of the rejected message starts afresh and completes
    assert [r.feed(b) for b in blocks][-1] == ecs01a


def test_last_flag_conflict_in_duplicate(ecs01a: bytes) -> None:
    blocks = segment(ecs01a)
    r = Reassembler()
    r.feed(blocks[2])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(replace(blocks[2], last=True))
    assert err(ei) == (
        "gbt.block_data",
        49,
        f"block 3 of {WHAT} differs from the copy already received",
    )


@pytest.mark.parametrize(
    ("change", "path", "offset", "attr"),
    [
        ({"recipient": ORIG}, "gbt.routing_header.recipient_system_title", 21, "recipient"),
        (
            {"message_code": 0x001A},
            "gbt.routing_header.other_information.message_code",
            31,
            "message_code",
        ),
        ({"cra_flag": 2}, "gbt.routing_header.cra_flag", 2, "cra_flag"),
    ],
)
def test_routing_header_disagreement(
    ecs01a: bytes, change: dict[str, object], path: str, offset: int, attr: str
) -> None:
    blocks = segment(ecs01a)
    r = Reassembler()
    r.feed(blocks[0])
    odd = replace(blocks[1], routing=replace(blocks[1].routing, **change))
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(odd.encode())
    assert err(ei) == (path, offset, f"{attr} of block 2 disagrees with earlier blocks of {WHAT}")
    assert r.incomplete() == ()


def test_oversize_and_block_limit(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    r = Reassembler(max_message_size=1000)
    for b in blocks[:5]:
        assert r.feed(b) is None
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(blocks[5])
    assert err(ei) == ("gbt.block_data", 49, f"{WHAT} exceeds 1000 bytes")
    assert r.incomplete() == ()
    r = Reassembler(max_blocks=7)
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(blocks[7])
    assert err(ei) == ("gbt.gbt_header.block_number", 42, "block number 8 over the limit of 7")


def test_block_after_completion(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    r = Reassembler()
    assert [r.feed(b) for b in blocks][-1] == ecs01a
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(blocks[2])
    assert err(ei) == (
        "gbt.gbt_header.block_number",
        43,
        f"block 3 of {WHAT} after it was reassembled",
    )
    small = Reassembler(completed_memory=1)
    small.feed(split(gs_message(1, b"x"))[0])
    small.feed(split(gs_message(2, b"x"))[0])
    assert small.feed(split(gs_message(1, b"x"))[0]) == gs_message(1, b"x")  # forgotten


def test_last_block_rules(ecs01a: bytes) -> None:
    blocks = segment(ecs01a)
    r = Reassembler()
    r.feed(blocks[7])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(replace(blocks[4], last=True))
    assert err(ei) == (
        "gbt.gbt_header.block_control",
        42,
        f"block 5 of {WHAT} marked last, but block 8 already was",
    )
    r.feed(blocks[7])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(replace(blocks[4], block_number=9))
    assert err(ei) == (
        "gbt.gbt_header.block_number",
        43,
        f"block 9 of {WHAT} follows the last block 8",
    )
    r.feed(blocks[6])
    r.feed(blocks[5])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(replace(blocks[3], last=True))
    assert err(ei) == (
        "gbt.gbt_header.block_control",
        42,
        f"block 4 of {WHAT} marked last, but block(s) 6-7 follow it",
    )


def test_gaps_reported_when_abandoned(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    r = Reassembler()
    for i in (0, 1, 3, 5, 6, 7):
        assert r.feed(blocks[i], now=10.0 + i) is None
    (inc,) = r.incomplete()
    assert inc == IncompleteMessage(
        RoutingHeader(1, 1006, ORIG, RECIP, 0x0019),
        received=(1, 2, 4, 6, 7, 8),
        last_block=8,
        missing=(3, 5),
        size=1026,
        first_seen=10.0,
        last_seen=17.0,
    )
    gap = r.drop(inc.key)
    assert gap is not None
    assert (gap.path, gap.offset, gap.reason) == (
        "gbt",
        0,
        f"{WHAT} incomplete: missing block(s) 3, 5 of 8",
    )
    assert r.incomplete() == () and r.drop(inc.key) is None
    # the last block has not arrived: the tail is unknown
    for i in (0, 1, 3):
        r.feed(blocks[i])
    (inc,) = r.incomplete()
    assert inc.missing == (3,) and inc.last_block is None
    assert (
        inc.describe()
        == f"{WHAT} incomplete: missing block(s) 3, last block not received (have 1-2, 4)"
    )
    r.drop(inc.key)
    r.feed(blocks[0])
    assert r.incomplete()[0].describe() == f"{WHAT} incomplete: last block not received (have 1)"


def test_expire(ecs01a: bytes) -> None:
    r = Reassembler()
    r.feed(split(ecs01a)[0], now=100.0)
    other = split(gs_message(5, bytes(300)))
    r.feed(other[0], now=200.0)
    errors = r.expire(before=150.0)
    assert [(e.path, e.reason) for e in errors] == [
        ("gbt", f"{WHAT} incomplete: last block not received (have 1)")
    ]
    assert [m.key for m in r.incomplete()] == [(ORIG, 5)]
    assert r.expire(before=200.0) == ()
    assert r.feed(other[1], now=300.0) == gs_message(5, bytes(300))


def test_in_order_mode_reports_gap_immediately(ecs01a: bytes) -> None:
    blocks = split(ecs01a)
    r = Reassembler(in_order=True)
    r.feed(blocks[0])
    r.feed(blocks[0])  # identical duplicate still ignored
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(blocks[3])
    assert err(ei) == (
        "gbt.gbt_header.block_number",
        43,
        f"block 4 of {WHAT} out of order: missing block(s) 2-3",
    )
    assert r.incomplete() == ()
    assert [r.feed(b) for b in blocks][-1] == ecs01a


def test_pending_limit() -> None:
    r = Reassembler(max_pending=1)
    r.feed(split(gs_message(1, bytes(300)))[0])
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(split(gs_message(2, bytes(300)))[0])
    assert err(ei) == ("gbt", 0, "1 message(s) already being reassembled")
    assert len(r.incomplete()) == 1


def test_reassembled_header_must_match_routing(ecs01a: bytes) -> None:
    blocks = segment(ecs01a)
    lying = replace(blocks[0].routing, originator_counter=1007)
    r = Reassembler()
    for b in blocks[:-1]:
        assert r.feed(replace(b, routing=lying)) is None
    with pytest.raises(GbcsDecodeError) as ei:
        r.feed(replace(blocks[-1], routing=lying))
    assert err(ei) == (
        "gbt.reassembled.originator_counter",
        18,
        "reassembled message has originator_counter 1006, its routing header 1007",
    )
    assert r.incomplete() == ()
    msg = gs_message(3, b"abc", code=0x0012)
    routing = replace(RoutingHeader.from_message(msg), message_code=0x0013)
    with pytest.raises(GbcsDecodeError) as ei:
        Reassembler().feed(GbtBlock(routing, 1, msg, last=True))
    assert err(ei) == (
        "gbt.reassembled.other_information.message_code",
        31,
        "reassembled message has message_code 0x0012, its routing header 0x0013",
    )
    with pytest.raises(GbcsDecodeError) as ei:
        Reassembler().feed(GbtBlock(routing, 1, b"\x01\x02", last=True))
    assert err(ei) == ("gbt.reassembled.general_signing", 0, "expected DF, found 01")


def test_ack_only_blocks_ignored() -> None:
    routing = RoutingHeader(2, 9, RECIP, ORIG, 0x0019)
    r = Reassembler()
    assert r.feed(GbtBlock(routing, 0, b"", block_number_ack=4).encode()) is None
    assert r.feed(GbtBlock(routing, 3, b"", last=True)) is None
    assert r.incomplete() == ()


# --------------------------------------------------------------------------- properties

GS_MESSAGES = st.builds(
    gs_message,
    st.integers(0, 2**64 - 1),
    st.binary(min_size=0, max_size=3000),
    st.integers(0, 0xFFFF),
    st.sampled_from([1, 2, 3]),
)


@settings(max_examples=150, deadline=None)
@given(GS_MESSAGES, st.integers(1, 700), st.randoms(use_true_random=False), st.booleans())
def test_property_split_reassemble(
    message: bytes, block_size: int, rnd: random.Random, streaming: bool
) -> None:
    blocks = split(message, block_size=block_size, streaming=streaming)
    rnd.shuffle(blocks)
    r = Reassembler()
    out = [r.feed(b) for b in blocks]
    assert out[-1] == message and out.count(None) == len(blocks) - 1
    assert all(decode_block(b).encode() == b for b in blocks)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_property_decode_block_fails_cleanly(data: bytes) -> None:
    try:
        blk = decode_block(data)
    except GbcsDecodeError as e:
        assert e.path.startswith("gbt") and 0 <= e.offset <= len(data)
    else:
        assert blk.encode() == data


@settings(max_examples=100, deadline=None)
@given(GS_MESSAGES, GS_MESSAGES, st.integers(20, 400), st.randoms(use_true_random=False))
def test_property_interleaved(a: bytes, b: bytes, block_size: int, rnd: random.Random) -> None:
    b = b[:3] + (int.from_bytes(a[3:11], "big") ^ 1).to_bytes(8, "big") + b[11:]  # distinct keys
    blocks = split(a, block_size=block_size) + split(b, block_size=block_size)
    rnd.shuffle(blocks)
    r = Reassembler()
    done = [m for m in (r.feed(x) for x in blocks) if m is not None]
    assert sorted(done) == sorted([a, b])


# --------------------------------------------------------------------------- tshark


def _pcap(frames: list[bytes], path: Path) -> None:
    """Link type 252 (exported PDU) records naming the ``gbcs_message`` dissector."""
    path.write_bytes(write_pcap(PcapRecord(f, float(i)) for i, f in enumerate(frames)))


@pytest.mark.tshark
@pytest.mark.interop
def test_tshark_reassembles(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    msg = vector(ECS01A)
    blocks = split(msg)
    cap = tmp_path / "gbt.pcap"
    _pcap(blocks, cap)
    out = subprocess.run(
        ["tshark", "-r", str(cap), "-x", "-Y", f"frame.number=={len(blocks)}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    lines = out.splitlines()
    start = lines.index(f"Reassembled GBT ({len(msg)} bytes):")
    data = bytearray()
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        data += bytes.fromhex(line[6:54])
    assert bytes(data) == msg
    fields = subprocess.run(
        [
            "tshark",
            "-r",
            str(cap),
            "-T",
            "fields",
            "-e",
            "gbcs_message.grouping_header.message_code",
            "-e",
            "gbcs_message.mac",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert fields[:-1] == ["\t"] * (len(blocks) - 1)
    assert fields[-1] == f"0x0019\t{msg[-12:].hex()}"
