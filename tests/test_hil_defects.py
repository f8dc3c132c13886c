"""Issue 9, small defects: the ``raw`` framing after a stray DD/DF byte, ``gfi`` line
numbers, and the Other Information length that ``gbcs-emu decode`` prints."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from emulator.cli import main as gbcs_emu
from gbcs.envelope import (
    Cra,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
    encode_general_ciphering,
    encode_general_signing,
)
from gbcs.gbt import split
from hil.framing import GfiFraming, RawFraming, get_framing

# --------------------------------------------------------------------------- raw

STRAYS = (b"\xdd", b"\xdf", b"\xdd\xdd", b"\xdf\xdf", b"\xdd\xdf", b"\xdf\xdd")


def _header(rng: random.Random, cra: Cra) -> GroupingHeader:
    return GroupingHeader(
        cra,
        rng.randrange(1 << 64),
        rng.randbytes(8),
        rng.randbytes(8),
        OtherInformation(rng.randrange(1 << 16)),
    )


def every_kind(rng: random.Random) -> list[tuple[str, bytes]]:
    """One frame of every kind the raw framing delimits, random headers and contents."""
    out: list[tuple[str, bytes]] = []
    for cra in Cra:
        content = rng.randbytes(rng.randrange(1, 200))
        for form in SignatureForm:
            sig = rng.randbytes(64) if form is SignatureForm.PRESENT else b""
            gs = encode_general_signing(_header(rng, cra), content, form, sig)
            out.append((f"gs-{cra.name}-{form.name}", gs))
        gc = encode_general_ciphering(out[-1][1], rng.randbytes(12))
        out.append((f"gc-{cra.name}", gc))
        for k, block in enumerate(split(gc, block_size=rng.randrange(20, 80))):
            out.append((f"gbt-{cra.name}-{k}", block))
    return out


def test_raw_stray_byte_then_a_signatureless_precommand_that_ends_the_burst() -> None:
    """The case of the issue: stray DD/DF, a pre-command without signature, silence."""
    header = GroupingHeader(Cra.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, OtherInformation(0x62))
    absent = encode_general_signing(header, b"\x01\x02\x03", SignatureForm.ABSENT)
    for stray in STRAYS:
        dec = RawFraming().decoder()
        assert dec.feed(stray + absent, 0.0) == []  # a signature field may still follow
        assert dec.flush(1.0) == [absent], stray.hex()
        assert dec.stats.garbage_bytes == len(stray) and dec.stats.frames == 1
        assert dec.pending == 0


@pytest.mark.parametrize("seed", range(4))
def test_raw_generated_stream_of_stray_bytes_before_every_kind_of_frame(seed: int) -> None:
    """Every kind of frame behind stray DD/DF bytes; the line goes quiet after some of
    them (always after a signature-less message, whose end only silence shows when a
    stray byte does not follow it). Every frame arrives intact; only strays are garbage."""
    rng = random.Random(seed)
    dec = RawFraming().decoder()
    sent: list[bytes] = []
    got: list[bytes] = []
    strays = 0
    now = 0.0
    for _ in range(6):
        kinds = every_kind(rng)
        rng.shuffle(kinds)
        for kind, frame in kinds:
            stray = rng.choice(STRAYS)
            strays += len(stray)
            data = stray + frame
            cut = rng.randrange(1, len(data) + 1)  # any chunking
            got += dec.feed(data[:cut], now)
            got += dec.feed(data[cut:], now)
            sent.append(frame)
            if kind.endswith("-ABSENT") or rng.random() < 0.3:
                now += 1.0
                got += dec.flush(now)
    got += dec.flush(now + 1.0)
    assert len(got) == len(sent)
    assert got == sent
    assert dec.stats.garbage_bytes == strays
    assert dec.stats.frames == len(sent) and dec.pending == 0


def test_raw_signatureless_precommands_back_to_back_with_strays_between() -> None:
    """A stray DD/DF right behind a signature-less message ends it (its signature field
    is absent), then costs only itself before the next message."""
    rng = random.Random(9)
    frames = [
        encode_general_signing(_header(rng, Cra.COMMAND), rng.randbytes(30), SignatureForm.ABSENT)
        for _ in range(50)
    ]
    stream = b"".join(rng.choice(STRAYS) + f for f in frames)
    dec = RawFraming().decoder()
    out = dec.feed(stream, 0.0) + dec.flush(1.0)
    assert out == frames


def test_raw_noise_that_is_no_message_still_arrives_as_carried() -> None:
    """Rule 3 is unchanged where no message is in the burst: delivered as carried."""
    dec = RawFraming().decoder()
    for burst in (b"\xdd\x01\x02\x03", b"\xdf\xdd\x00\x00", b"\xdd"):
        assert dec.feed(burst, 0.0) == []
        assert dec.flush(1.0) == [burst]


def test_raw_cut_short_message_before_a_complete_one_is_garbage() -> None:
    header = GroupingHeader(Cra.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, OtherInformation(0x62))
    absent = encode_general_signing(header, b"\x01\x02\x03", SignatureForm.ABSENT)
    dec = RawFraming().decoder()
    assert dec.feed(absent[:15] + absent, 0.0) == []
    assert dec.flush(1.0) == [absent]
    assert dec.stats.garbage_bytes == 15


# --------------------------------------------------------------------------- gfi


def test_gfi_writes_zero_by_default_like_the_public_implementation() -> None:
    f = GfiFraming()
    lines = [f.encode(bytes([i])) for i in range(1, 4)]
    assert lines == [b"GBCS:DATA#0:1:01\r\n", b"GBCS:DATA#0:1:02\r\n", b"GBCS:DATA#0:1:03\r\n"]
    assert get_framing("gfi").encode(b"\xdf\x09\x00") == b"GBCS:DATA#0:3:DF0900\r\n"


def test_gfi_sequence_numbering_is_an_option() -> None:
    f = get_framing("gfi", numbering="sequence")
    assert [f.encode(b"\x01")[:12] for _ in range(3)] == [
        b"GBCS:DATA#0:",
        b"GBCS:DATA#1:",
        b"GBCS:DATA#2:",
    ]
    g = GfiFraming(numbering="sequence", first_number=7)
    assert g.encode(b"\x01") == b"GBCS:DATA#7:1:01\r\n"
    with pytest.raises(ValueError, match="numbering must be one of zero, sequence"):
        GfiFraming(numbering="random")
    with pytest.raises(ValueError, match="first_number applies only to numbering='sequence'"):
        GfiFraming(first_number=3)


def test_gfi_accepts_any_line_number() -> None:
    dec = GfiFraming().decoder()
    numbers = ["0", "1", "00", "42", "4294967295", "9999999999"]
    stream = b"".join(b"GBCS:DATA#%s:2:ABCD\r\n" % n.encode() for n in numbers)
    assert dec.feed(stream, 0.0) == [b"\xab\xcd"] * len(numbers)
    assert dec.stats.garbage_bytes == 0


def test_hil_cli_has_the_gfi_numbering_option() -> None:
    from hil.cli import hil_group

    res = CliRunner().invoke(hil_group, ["drive", "--help"])
    assert res.exit_code == 0
    assert "--gfi-numbering [zero|sequence]" in res.output


# --------------------------------------------------------------------------- decode


def _other_information_node(frame: bytes) -> dict[str, str]:
    res = CliRunner().invoke(gbcs_emu, ["decode", frame.hex(), "--json", "--lenient"])
    assert res.exit_code in (0, 1), res.output
    tree = json.loads(res.output)["tree"]
    nodes = [n for n in tree if n["name"] == "Other Information"]
    assert len(nodes) == 1, tree
    return nodes[0]


CERT = b"\x30\x82\x01\x00" + bytes(256)  # one DER SEQUENCE of 260 bytes


@pytest.mark.parametrize(
    ("oi", "length"),
    [
        (OtherInformation(0x004F), 2),
        (OtherInformation(0x004F, b"\x90" * 8), 10),
        (OtherInformation(0x004F, b"\x90" * 8, 5), 18),
        (OtherInformation(0x004F, b"\x90" * 8, 5, 6), 26),
        (OtherInformation(0x004F, b"\x90" * 8, 5, None, CERT), 18 + len(CERT)),
    ],
)
def test_decode_prints_the_other_information_length(oi: OtherInformation, length: int) -> None:
    header = GroupingHeader(Cra.COMMAND, 7, b"\x01" * 8, b"\x02" * 8, oi)
    frame = encode_general_signing(header, b"\x01\x02\x03", SignatureForm.NULL)
    node = _other_information_node(frame)
    assert node["value"] == f"length {length}"
    assert len(bytes.fromhex(node["hex"])) == length + (1 if length < 128 else 3)
