"""``decode --batch --jobs N``, hex parsing and the decode path's look-ups."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from emulator.cli.inputs import parse_hex, read_file_bytes
from gbcs.codec import GbcsMessage
from gbcs.envelope import as_eui
from gbcs.inspect import inspect_message
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MESSAGES = sorted((EXAMPLES / "messages").glob("*.hex"))
ACB = (EXAMPLES / "acb-eui.txt").read_text().strip()


def gbcs_emu(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 lines (more than two chunks per process): the examples, bad hex, odd digits,
    a malformed message, comments and blank lines, with and without ids."""
    hexes = [p.read_text().strip() for p in MESSAGES]
    lines = []
    for i in range(300):
        kind = i % 7
        if kind == 3:
            lines.append(f"bad{i}\tDDG0")
        elif kind == 5:
            lines.append("DF0")  # odd number of digits, no id
        elif kind == 6:
            lines.append(f"short{i}\tDF0901")
        else:
            lines.append(f"m{i}\t{hexes[i % len(hexes)]}")
        if i % 50 == 0:
            lines += ["", "# a comment"]
    path = tmp_path_factory.mktemp("jobs") / "log.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _batch(log: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return gbcs_emu(
        "decode", "--batch", "--file", str(log), "--keys", str(EXAMPLES / "keys"),
        "--acb", ACB, *extra,
    )  # fmt: skip


def test_jobs_output_is_byte_identical_and_in_input_order(log: Path) -> None:
    one = _batch(log, "--jobs", "1")
    assert one.returncode == 0, one.stderr
    recs = [json.loads(line) for line in one.stdout.decode().splitlines()]
    assert len(recs) == 300
    ids = [r["id"] for r in recs]
    assert ids[:4] == ["m0", "m1", "m2", "bad3"]
    assert ids[5] == "8"  # a line without an id is named by its line number (blank and
    # comment lines count)
    verified = [r for r in recs if r.get("signature") == "valid"]
    assert verified and all(r["id"].startswith("m") for r in verified)
    for jobs in ("2", "3", "0"):
        many = _batch(log, "--jobs", jobs)
        assert many.returncode == 0, many.stderr
        assert many.stdout == one.stdout, jobs
        assert many.stderr == one.stderr


def test_bad_lines_are_reported_as_in_one_process(log: Path) -> None:
    recs = [json.loads(x) for x in _batch(log, "--jobs", "2").stdout.decode().splitlines()]
    by_id = {r["id"]: r for r in recs}
    assert by_id["bad3"] == {
        "id": "bad3",
        "error": f"{log} line 6: not hex (found 'G' at digit 3; allowed: 0-9 a-f A-F, "
        "spaces, colons, a leading 0x)",
    }
    assert by_id["8"]["error"] == f"{log} line 8: odd number of hex digits (3)"
    short = by_id["short6"]
    assert short["error_path"] and isinstance(short["error_offset"], int)
    assert "m4" in by_id and by_id["m4"]["mac"] in ("valid", "absent")


def test_undecodable_stdin_is_reported_the_same_way_with_jobs() -> None:
    data = (MESSAGES[0].read_text().strip() + "\n").encode() * 3 + b"\xff\xfe\n"
    one = gbcs_emu("decode", "--batch", "--jobs", "1", stdin=data)
    two = gbcs_emu("decode", "--batch", "--jobs", "2", stdin=data)
    assert (one.returncode, one.stdout, one.stderr) == (two.returncode, two.stdout, two.stderr)
    assert len(two.stdout.splitlines()) == 4 or two.returncode == 1
    assert b"Traceback" not in two.stderr


def test_a_bad_vectors_file_fails_before_any_output_with_jobs(tmp_path: Path) -> None:
    f = tmp_path / "v.json"
    f.write_text("[{")
    r = gbcs_emu("decode", "--batch", "--jobs", "2", "--file", str(f))
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.decode().startswith(f"Error: {f}: invalid JSON (")
    assert b"Traceback" not in r.stderr


def test_jobs_needs_batch_and_a_count() -> None:
    r = gbcs_emu("decode", "--jobs", "2", MESSAGES[0].read_text().strip())
    assert r.returncode == 2
    assert b"--jobs goes with --batch" in r.stderr and b"Traceback" not in r.stderr
    r = gbcs_emu("decode", "--batch", "--jobs", "-1", stdin=b"")
    assert r.returncode == 2
    assert b"--jobs" in r.stderr and b"Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DD00", b"\xdd\x00"),
        ("0xdd00", b"\xdd\x00"),
        ("0XDD00", b"\xdd\x00"),
        (" dd 00:0A\r\n\t0b ", b"\xdd\x00\x0a\x0b"),
    ],
)
def test_parse_hex_accepts(text: str, expected: bytes) -> None:
    assert parse_hex(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DDG0", "where: not hex (found 'G' at digit 3;"),
        ("DD 0 Z", "where: not hex (found 'Z' at digit 4;"),
        ("DD\x00", "where: not hex (found a non-ASCII or binary byte at digit 3;"),
        ("DDé0", "where: not hex (found a non-ASCII or binary byte at digit 3;"),
        ("DD0", "where: odd number of hex digits (3)"),
        ("0x", "where: no hex data"),
        (" \n", "where: no hex data"),
    ],
)
def test_parse_hex_names_the_problem(text: str, message: str) -> None:
    with pytest.raises(click.ClickException) as e:
        parse_hex(text, "where")
    assert e.value.message.startswith(message)
    assert "\n" not in e.value.message


def test_a_hex_file_is_hex_and_anything_else_is_binary(tmp_path: Path) -> None:
    f = tmp_path / "m.hex"
    f.write_bytes(b"0xDD 00:11\r\n")
    assert read_file_bytes(f) == b"\xdd\x00\x11"
    f.write_bytes(b"DD00 not hex\n")
    assert read_file_bytes(f) == b"DD00 not hex\n"
    f.write_bytes(b"\xdd\x00")
    assert read_file_bytes(f) == b"\xdd\x00"


def test_key_look_ups_that_miss_return_none() -> None:
    store = KeyStore(EXAMPLES / "keys")
    acb = as_eui(ACB)
    assert store.public_key(acb, "ka") is not None
    assert store.public_key(bytes(8), "ka") is None
    assert store.private_key(bytes(8), "ds") is None
    assert store.public_key(acb.hex(), "keyAgreement") is not None  # other spellings
    pub_only = KeyStore()
    pub_only.add_entry(build_entry(acb, KeyUsage.KA, public_key=store.public_key(acb, "ka")))
    assert pub_only.public_key(acb, "ka") is not None
    assert pub_only.private_key(acb, "ka") is None
    with pytest.raises(ValueError):
        store.public_key(b"short", "ka")
    with pytest.raises(ValueError):
        store.public_key(acb, "nonsense")


def test_inspection_walks_the_encrypted_parts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = GbcsMessage.encrypted_parts

    def counting(self: GbcsMessage) -> object:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(GbcsMessage, "encrypted_parts", counting)
    data = bytes.fromhex((EXAMPLES / "messages" / "03-ecs17b-response-encrypted.hex").read_text())
    r = inspect_message(data, KeyStore(EXAMPLES / "keys"), acb=as_eui(ACB))
    assert len(calls) == 1
    (part,) = r.parts
    assert part.part.plaintext is not None
    assert data[part.part.part.offset : part.part.part.offset + 1] == b"\x31"
