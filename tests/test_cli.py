"""The ``gbcs-emu`` command line, run as a user runs it (a child process)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests import interop

ECS17B = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE"


def gbcs_emu(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )


@pytest.mark.interop
def test_decode_tree_shows_names_verdicts_and_plaintext() -> None:
    v = interop.by_id(ECS17B)
    r = gbcs_emu("decode", v["hex"], "--keys", str(interop.keys_dir()))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "ECS17b Read ESME Energy Registers (Import Energy)" in out
    assert "Originator Counter 00 00 00 00 00 00 03 E8  1000" in out
    assert "MAC: valid" in out
    assert "Signature: null" in out
    assert "Encrypted parts: 1, decrypted: 1" in out
    assert "Plaintext 02 01 02 04 06 00 00 00 0A" in out


@pytest.mark.interop
def test_decode_json_and_stdin() -> None:
    v = interop.by_id(ECS17B)
    r = gbcs_emu("decode", "-", "--json", "--keys", str(interop.keys_dir()), stdin=v["hex"] + "\n")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["header"]["message_code"] == "0x0027"
    assert doc["header"]["originator"] == "00DB1234567890A0"
    assert doc["mac"]["verdict"] == "valid"
    assert doc["decrypted_parts"] == 1
    assert doc["parts"][0]["plaintext"].startswith("0201020406")
    names = [n["name"] for n in doc["tree"]]
    assert names[0] == "General Ciphering" and names[-1] == "Encrypted Part [0]"


@pytest.mark.interop
def test_decode_without_keys_says_no_key() -> None:
    v = interop.by_id(ECS17B)
    r = gbcs_emu("decode", v["hex"], "--json")
    doc = json.loads(r.stdout)
    assert doc["mac"]["verdict"] == "no key"
    assert "00DB1234567890A0" in doc["mac"]["detail"]
    assert doc["parts"][0]["decrypted"] is False


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("DF0901", "grouping_header at byte 0: needs 29 byte(s), 3 left"),
        ("AB", "envelope.tag at byte 0: expected DD (general-ciphering) or DF"),
        ("DF09XY", "not hex"),
        ("DF0", "odd number of hex digits"),
    ],
)
def test_bad_input_is_one_clear_line(arg: str, message: str) -> None:
    r = gbcs_emu("decode", arg)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.interop
def test_batch_decodes_a_log_in_one_process(tmp_path: Path) -> None:
    vs = interop.vectors()[:40]
    lines = [f"{v['id']}\t{v['hex']}" for v in vs] + ["bad-one\tDF0901", "nothex\tZZ", ""]
    log = tmp_path / "log.txt"
    log.write_text("\n".join(lines))
    r = gbcs_emu("decode", "--batch", "--file", str(log), "--keys", str(interop.keys_dir()))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(recs) == 42
    for v, rec in zip(vs, recs, strict=False):
        assert rec["id"] == v["id"]
        if v["form"] == "malformed":
            assert "error" in rec
            continue
        assert rec["message_code"] == v["expected"]["message_code"]
        assert rec["originator_counter"] == v["expected"]["originator_counter"]
        assert rec["signature"] in ("valid", "null", "absent")
    assert recs[40]["id"] == "bad-one" and recs[40]["error_offset"] == 0
    assert recs[41]["id"] == "nothex" and "not hex" in recs[41]["error"]


def test_batch_reads_plain_hex_lines_from_stdin() -> None:
    r = gbcs_emu("decode", "--batch", stdin="DF0901\n\nAB\n")
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["id"] for rec in recs] == ["1", "3"]
    assert all("error" in rec for rec in recs)


def test_keys_init_writes_a_loadable_pki(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    r = gbcs_emu("keys", "init", str(d), "--device", "00DB1234567890B0")
    assert r.returncode == 0, r.stderr
    for name in ("00db1234567890b0-ds.key", "00db1234567890b0-ka.pem"):
        assert (d / name).is_file()
    for key in d.glob("*.key"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    again = gbcs_emu("keys", "init", str(d))
    assert again.returncode == 1
    assert "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    bad = gbcs_emu("keys", "init", str(tmp_path / "x"), "--device", "123")
    assert bad.returncode == 2
    assert "EUI-64" in bad.stderr


@pytest.mark.interop
def test_capture_to_pcap_from_vectors_json(tmp_path: Path) -> None:
    src = tmp_path / "v.json"
    vs = [v for v in interop.vectors() if v["form"] == "full"][:5]
    src.write_text(json.dumps(vs))
    out = tmp_path / "o.pcap"
    r = gbcs_emu("capture", "to-pcap", str(src), "-o", str(out))
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:4] == bytes.fromhex("D4C3B2A1")  # little-endian pcap magic
    assert int.from_bytes(data[20:24], "little") == 252
    for v in vs:
        assert bytes.fromhex(v["hex"]) in data
    assert data.count(b"gbcs_message") == 5


@pytest.mark.interop
def test_expired_certificate_is_reported_not_enforced() -> None:
    v = interop.by_id("RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND")
    r = gbcs_emu("decode", v["hex"], "--json", "--keys", str(interop.keys_dir()))
    doc = json.loads(r.stdout)
    assert doc["mac"]["verdict"] == "valid"
    assert doc["key_notes"] == ["90B3D51F30000002 KA certificate expired on 2025-10-29"]
