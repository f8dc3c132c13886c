"""Cross-check against a second, independent decoder: Debian's tshark (Wireshark 4.x).

Every complete vector exported with ``gbcs-emu capture to-pcap`` must dissect with no
malformed frame, and tshark's message code and originator counter must equal ours. A
long message split into GBT blocks (one frame each) must be reassembled by tshark.
Bare pre-commands (no signature field at all) are left out: tshark 4.0 flags them as
malformed because it expects the signature-length byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from gbcs.codec import decode
from gbcs.gbt import split
from tests import interop

pytestmark = [pytest.mark.tshark, pytest.mark.interop]

TSHARK = shutil.which("tshark")


@pytest.fixture(scope="module")
def tshark() -> str:
    if TSHARK is None:
        if os.environ.get("GBCS_REQUIRE_TSHARK") == "1":
            pytest.fail("tshark is required (GBCS_REQUIRE_TSHARK=1) but not installed")
        pytest.skip("tshark not installed")
    return TSHARK


def _fields(tshark: str, pcap: Path, *fields: str) -> list[list[str]]:
    args = [tshark, "-r", str(pcap), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_every_full_vector_dissects_like_ours(tshark: str, tmp_path: Path) -> None:
    vectors = [v for v in interop.vectors() if v["form"] == "full"]
    assert len(vectors) == 544
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{v['id']}\t{v['hex']}\n" for v in vectors))
    pcap = tmp_path / "out.pcap"
    result = CliRunner().invoke(main, ["capture", "to-pcap", str(src), "-o", str(pcap)])
    assert result.exit_code == 0, result.output
    rows = _fields(
        tshark,
        pcap,
        "frame.number",
        "gbcs_message.grouping_header.message_code",
        "gbcs_message.grouping_header.originator_counter",
        "_ws.malformed",
        "_ws.expert.severity",
    )
    assert len(rows) == len(vectors)
    for v, row in zip(vectors, rows, strict=True):
        msg = decode(bytes.fromhex(v["hex"]))
        _, code, counter, malformed, _severity = (row + [""] * 5)[:5]
        assert malformed == "", f"{v['id']} malformed in tshark"
        assert int(code, 0) == msg.message_code, v["id"]
        assert int(counter, 0) == msg.counter, v["id"]


def test_gbt_split_is_reassembled_by_tshark(tshark: str, tmp_path: Path) -> None:
    longest = max(
        (v for v in interop.vectors() if v["form"] == "full"), key=lambda v: len(v["hex"])
    )
    data = bytes.fromhex(longest["hex"])
    blocks = split(data, block_size=200)
    assert len(blocks) >= 5
    src = tmp_path / "in.txt"
    src.write_text(f"{longest['id']}\t{longest['hex']}\n")
    pcap = tmp_path / "gbt.pcap"
    result = CliRunner().invoke(
        main, ["capture", "to-pcap", str(src), "-o", str(pcap), "--gbt-block-size", "200"]
    )
    assert result.exit_code == 0, result.output
    rows = _fields(
        tshark,
        pcap,
        "frame.number",
        "gbcs_message.gbt_header.block_number",
        "gbcs_message.gbt.reassembled.length",
        "gbcs_message.grouping_header.message_code",
        "gbcs_message.grouping_header.originator_counter",
        "_ws.malformed",
    )
    assert len(rows) == len(blocks)
    assert [int(r[1]) for r in rows] == list(range(1, len(blocks) + 1))
    assert all(r[5] == "" for r in rows)
    last = rows[-1]
    msg = decode(data)
    assert int(last[2]) == len(data)
    assert int(last[3], 0) == msg.message_code
    assert int(last[4], 0) == msg.counter
    # Only the last frame carries the reassembled message.
    assert all(r[3] == "" for r in rows[:-1])
