"""The RTDS as DCC distributes it: a folder tree of ``*_GBCS.HEX`` files.

The tree is generated from ``vectors.json`` (each vector's id is the file's path, as its
``source`` shows), written in the untidy ways real files come: lower case, wrapped lines,
CRLF, a BOM. Read back, it must give the same cases and the same conformance results as
``vectors.json``. The ``conformance`` command's operator feedback is tested here too.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.conformance.cases import (
    ConformanceDataError,
    load_cases,
    load_rtds_tree,
    read_hex_file,
)
from emulator.conformance.harness import preparation_commands, run_cases, run_conformance
from tests.interop import require_interop

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "RTDS-4.5.0/"


def _styles(hex_text: str, i: int) -> str:
    """Four ways a hex file may be written; every fourth file is tidy upper case."""
    style = i % 4
    if style == 1:
        return hex_text.lower()
    if style == 2:
        return "\r\n".join(hex_text[j : j + 64] for j in range(0, len(hex_text), 64)) + "\r\n"
    if style == 3:
        return "\ufeff  " + " ".join(hex_text[j : j + 2] for j in range(0, len(hex_text), 2))
    return hex_text


def _write_tree(dest: Path) -> Path:
    """``dest/RTDS-4.5.0/<use-case folder>/<name>_GBCS.HEX`` for every RTDS vector."""
    d = require_interop()
    root = dest / "RTDS-4.5.0"
    vectors = json.loads((d / "vectors.json").read_text())
    written = 0
    for i, v in enumerate(v for v in vectors if v["id"].startswith(PREFIX)):
        path = root / (v["id"][len(PREFIX) :] + "_GBCS.HEX")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_styles(v["hex"], i), encoding="utf-8", newline="")
        written += 1
    assert written > 500  # commands, responses, pre-commands and alerts
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_tree(tmp_path_factory.mktemp("rtds"))


def _outcomes(results: list) -> list[tuple[str, str, str, bool, str]]:
    return [(r.case.id, r.status, r.detail, r.fault_injected, r.protection) for r in results]


# ------------------------------------------------------------------ the tree and vectors


@pytest.mark.interop
def test_tree_gives_the_same_cases_as_vectors_json(tree: Path) -> None:
    vectors = require_interop() / "vectors.json"
    read = load_rtds_tree(tree)
    assert read.problems == ()
    assert read.cases == load_cases(vectors)
    assert len(read.cases) > 200
    for device in ("ESME", "GSME", "GPF", "CHF"):
        assert load_rtds_tree(tree, device).cases == load_cases(vectors, device)


@pytest.mark.interop
def test_tree_gives_the_same_conformance_results(tree: Path) -> None:
    d = require_interop()
    expected = run_conformance(d / "vectors.json", d / "keys")
    cases = load_rtds_tree(tree).cases
    got = run_cases(cases, d / "keys", prepared=preparation_commands(cases))
    assert _outcomes(got.results) == _outcomes(expected.results)
    assert {k: dict(v) for k, v in got.by_device().items()} == {
        k: dict(v) for k, v in expected.by_device().items()
    }


@pytest.mark.interop
def test_cli_rtds_json_matches_interop_json(tree: Path) -> None:
    d = require_interop()
    runner = CliRunner()
    by_tree = runner.invoke(
        main, ["conformance", "--rtds", str(tree), "--keys", str(d / "keys"), "--json"]
    )
    by_vectors = runner.invoke(main, ["conformance", "--interop", str(d), "--json"])
    assert by_tree.exit_code == 0, by_tree.output
    assert by_vectors.exit_code == 0, by_vectors.output
    tree_report, vec_report = json.loads(by_tree.output), json.loads(by_vectors.output)
    assert tree_report.pop("unreadable_files") == []
    assert tree_report == vec_report


@pytest.mark.interop
def test_unreadable_file_is_named_and_the_rest_still_runs(tmp_path: Path) -> None:
    d = require_interop()
    root = _write_tree(tmp_path)
    bad = next(root.glob("*_ECS37/*_SUCCESS_RESPONSE_GBCS.HEX"))
    bad.write_text("DF09 02ZZ 00\n")
    read = load_rtds_tree(root)
    assert len(read.problems) == 1
    assert str(bad) in read.problems[0] and "'Z'" in read.problems[0]
    lost = bad.name.replace("_RESPONSE_GBCS.HEX", "")
    assert all(not c.id.endswith(lost) for c in read.cases)
    assert len(read.cases) == len(load_cases(d / "vectors.json")) - 1
    res = CliRunner().invoke(
        main, ["conformance", "--rtds", str(root), "--keys", str(d / "keys"), "--device", "esme"]
    )
    assert res.exit_code == 1
    assert "ESME:" in res.stdout  # the results are still shown
    assert f"unreadable RTDS file {bad}" in res.stderr
    assert "Traceback" not in res.output


@pytest.mark.interop
def test_keys_default_to_the_tree_then_the_interop_directory(tree: Path, tmp_path: Path) -> None:
    d = require_interop()
    env = {"GBCS_INTEROP_DIR": str(d)}
    res = CliRunner().invoke(
        main, ["conformance", "--rtds", str(tree), "--device", "gpf", "--json"], env=env
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["summary"]["GPF"]["total"] > 5
    res = CliRunner().invoke(
        main,
        ["conformance", "--rtds", str(tree), "--device", "gpf"],
        env={"GBCS_INTEROP_DIR": str(tmp_path / "missing")},
    )
    assert res.exit_code == 1
    assert "no key directory: pass --keys DIR" in res.output


@pytest.mark.interop
def test_wrong_keys_are_a_failure_not_a_report_of_zero(tree: Path) -> None:
    wrong = ROOT / "examples" / "keys"  # another PKI: nothing the tree holds verifies
    res = CliRunner().invoke(
        main, ["conformance", "--rtds", str(tree), "--device", "gpf", "--keys", str(wrong)]
    )
    assert res.exit_code == 1, res.output
    assert "none of the" in res.output and "are --keys the keys" in res.output


# ------------------------------------------------------------------ files, without data


def test_hex_files_tolerate_case_whitespace_and_bom(tmp_path: Path) -> None:
    f = tmp_path / "A_1_COMMAND_GBCS.HEX"
    f.write_bytes(b"\xef\xbb\xbf  df 09\r\n0aBc\n\t00 ")
    assert read_hex_file(f) == bytes.fromhex("DF090ABC00")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"DF09XX", "not hexadecimal: 'X' at digit 5 (allowed: 0-9, A-F, a-f and whitespace)"),
        (b"DF0", "odd number of hex digits (3)"),
        (b"  \n", "empty file"),
        (b"\xff\xfe\x00\x01", "not hex text (binary content)"),
    ],
)
def test_unreadable_hex_files_are_named(tmp_path: Path, content: bytes, reason: str) -> None:
    f = tmp_path / "6.18.1_ECS37" / "ECS37_6.18.1_SUCCESS_COMMAND_GBCS.HEX"
    f.parent.mkdir()
    f.write_bytes(content)
    with pytest.raises(ConformanceDataError) as err:
        read_hex_file(f)
    assert str(err.value) == f"{f}: {reason}"
    tree = load_rtds_tree(tmp_path)
    assert tree.cases == ()
    assert tree.problems == (f"{f}: {reason}",)
    assert tree.files == 1


def test_cli_names_every_unreadable_file_without_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "tree" / "6.18.1_ECS37"
    folder.mkdir(parents=True)
    (folder / "ECS37_6.18.1_SUCCESS_COMMAND_GBCS.HEX").write_text("nothex")
    (folder / "ECS37_6.18.1_SUCCESS_RESPONSE_GBCS.HEX").write_bytes(b"\x00\xff")
    keys = tmp_path / "keys"
    keys.mkdir()
    res = CliRunner().invoke(
        main, ["conformance", "--rtds", str(tmp_path / "tree"), "--keys", str(keys)]
    )
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert "ECS37_6.18.1_SUCCESS_COMMAND_GBCS.HEX: not hexadecimal: 'n'" in res.stderr
    assert "ECS37_6.18.1_SUCCESS_RESPONSE_GBCS.HEX: not hex text" in res.stderr
    assert "no command/response pair for an emulated device among 2 *_GBCS.HEX" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rtds", "{tmp}/none"], "--rtds {tmp}/none: no such directory"),
        (["--rtds", "{tmp}/file"], "--rtds {tmp}/file: not a directory"),
        (["--interop", "{tmp}/none"], "--interop {tmp}/none: no such directory"),
        (["--interop", "{tmp}"], "no interop data: {tmp} holds no vectors.json"),
        (["--rtds", "{tmp}", "--keys", "{tmp}/none"], "--keys {tmp}/none: no such directory"),
        (["--rtds", "{tmp}"], "no key directory: pass --keys DIR"),
        ([], "no interop data: pass --interop DIR"),
    ],
)
def test_cli_missing_inputs_are_one_clear_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = CliRunner().invoke(main, ["conformance", *argv], env={"GBCS_INTEROP_DIR": ""})
    assert res.exit_code == 1
    assert res.stderr.startswith("Error: " + message.replace("{tmp}", str(tmp_path)))
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_cli_stale_interop_variable_is_named(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main, ["conformance"], env={"GBCS_INTEROP_DIR": str(tmp_path / "gone")}
    )
    assert res.exit_code == 1
    assert res.stderr.strip() == f"Error: GBCS_INTEROP_DIR={tmp_path / 'gone'}: no such directory"


@pytest.mark.interop
@pytest.mark.parametrize(
    ("save", "message"),
    [
        ("{tmp}/file", "cannot write to --save {tmp}/file: it is not a directory"),
        (
            "{tmp}/file/sub/out",
            "cannot write to --save {tmp}/file/sub/out: it is under {tmp}/file,"
            " which is not a directory",
        ),
    ],
)
def test_cli_unwritable_save_is_refused_before_the_run(
    tmp_path: Path, save: str, message: str
) -> None:
    d = require_interop()
    (tmp_path / "file").write_text("x")
    target = save.replace("{tmp}", str(tmp_path))
    res = CliRunner().invoke(main, ["conformance", "--interop", str(d), "--save", target])
    assert res.exit_code == 1
    assert res.stderr.strip() == "Error: " + message.replace("{tmp}", str(tmp_path))
    assert res.stdout == ""  # refused before the run
    assert (tmp_path / "file").read_text() == "x"


# ------------------------------------------------------------------ progress on a terminal


def _run_with_tty_stderr(args: list[str]) -> tuple[int, str, str]:
    """Run ``gbcs-emu`` with stderr on a pseudo-terminal; stdout is a pipe."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    err = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            err += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read() if proc.stdout else b""
    rc = proc.wait()
    os.close(master)
    return rc, out.decode(), err.decode(errors="replace")


@pytest.mark.interop
def test_progress_on_a_terminal_and_none_with_json() -> None:
    d = require_interop()
    rc, out, err = _run_with_tty_stderr(["conformance", "--interop", str(d), "--device", "chf"])
    assert rc == 0, err
    assert "conformance" in err and "RTDS cases" in err  # the progress bar
    assert "CHF:" in out
    rc, out, err = _run_with_tty_stderr(
        ["conformance", "--interop", str(d), "--device", "chf", "--json"]
    )
    assert rc == 0, err
    assert err == ""
    assert json.loads(out)["summary"]["CHF"]["total"] > 20


@pytest.mark.interop
def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    d = require_interop()
    res = CliRunner().invoke(main, ["conformance", "--interop", str(d), "--device", "gpf"])
    assert res.exit_code == 0
    assert res.stderr == ""


@pytest.mark.interop
def test_tables_fit_80_columns() -> None:
    d = require_interop()
    for extra in ([], ["-v"]):
        res = CliRunner().invoke(
            main, ["conformance", "--interop", str(d), *extra], env={"COLUMNS": "80"}
        )
        assert res.exit_code == 0
        table = [ln for ln in res.stdout.splitlines() if ln[:1] in "┏┃┡│└"]
        assert len(table) > 40
        assert max(len(ln) for ln in table) <= 80
        # one line per row: every body row names its device in the first column
        body = [ln for ln in table if ln.startswith("│")]
        assert all(ln.split("│")[1].strip() in {"ESME", "GSME", "GPF", "CHF"} for ln in body)
        # the differences are not lost to the narrow table: listed in full below it
        assert "Not conformant:" in res.stdout
        assert "payload.dlms.data" in res.stdout
