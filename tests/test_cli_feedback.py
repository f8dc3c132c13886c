"""Operator feedback of ``send``, ``demo``, ``storm``, ``decode``, ``capture`` and ``keys
init`` (issue 9, items 4 and 8): every mistake a user can make is one clear line and a
non-zero exit, never a traceback; long commands say what they are doing on stderr, and
nothing with ``--json``.

Each bad-input case runs the CLI as a user does, in a child process.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from emulator.cli.progress import Feedback
from emulator.runtime.pki import ensure_pki
from emulator.runtime.statedir import open_info
from emulator.transport.broker import free_port
from tests.readonly import make_read_only, undo_read_only

# the module (the package re-exports the click command under the same name)
send_cmd = importlib.import_module("emulator.cli.send_cmd")

ROOT = Path(__file__).resolve().parent.parent
ESME = "00DB1234567890A0"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
READ_ONLY_OK = False  # set by the files fixture


def gbcs_emu(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "80", **(env or {})}
    r = subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env=full_env,
    )
    return subprocess.CompletedProcess(
        r.args, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    )


# ------------------------------------------------------------------ the material


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("feedback")
    a_file = d / "a-file"
    a_file.write_text("not a directory\n")
    good = d / "good.txt"
    good.write_text("DF09" + "00" * 40 + "\n")
    bad_hex = d / "bad.txt"
    bad_hex.write_text("DF09ZZ\n")
    binary = d / "binary.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    empty = d / "empty.txt"
    empty.write_text("")
    bad_json = d / "bad.json"
    bad_json.write_text('[{"hex": "DF09"')
    read_only = d / "read-only"
    read_only.mkdir()
    global READ_ONLY_OK
    READ_ONLY_OK = make_read_only(read_only)
    yield {
        "dir": d,
        "a_file": a_file,
        "good": good,
        "bad_hex": bad_hex,
        "binary": binary,
        "empty": empty,
        "bad_json": bad_json,
        "read_only": read_only,
    }
    undo_read_only(read_only)


def _state(root: Path, name: str, run_json: str | None) -> Path:
    """A state directory as ``gbcs-emu run`` leaves it (PKI, state.json, run.json)."""
    state = root / name
    state.mkdir()
    ensure_pki(state)
    open_info(state)
    if run_json is not None:
        (state / "run.json").write_text(run_json)
    return state


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("states")
    dead_port = free_port()
    alive_pid = os.getpid()  # this test process: alive for as long as the cases run
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)  # exited: no such process any more
    info = {"broker": f"mqtt://127.0.0.1:{dead_port}", "clock": "real", "sites": 1, "config": None}
    return {
        "dead_broker": _state(d, "dead-broker", json.dumps({**info, "pid": alive_pid})),
        "stale": _state(d, "stale", json.dumps({**info, "pid": dead_pid})),
        "damaged": _state(d, "damaged", '{"broker": '),
        "none": d / "no-such-state",
    }


# --------------------------------------------------------------- the bad-input table


@dataclass(frozen=True)
class Case:
    """One mistake: the arguments (built from the fixtures) and what the line must say."""

    name: str
    args: Callable[[dict[str, Path], dict[str, Path]], list[str]]
    expect: tuple[str, ...]
    stdin: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    needs_non_root: bool = False


def _send(*extra: str) -> Callable[[dict[str, Path], dict[str, Path]], list[str]]:
    return lambda f, s: ["send", "--state", str(s["dead_broker"]), *extra]


CASES = [
    # send: the use case and its arguments, checked before anything is contacted
    Case("send without --to", lambda f, s: ["send", "ECS17b"], ("ECS17b needs --to EUI",)),
    Case(
        "send to a bad EUI",
        _send("--to", "ZZZ", "ECS17b"),
        ("--to", "EUI-64 'ZZZ' is not 16 hex digits"),
    ),
    Case(
        "send an unknown use case",
        _send("--to", ESME, "NOPE"),
        ("unknown use case 'NOPE'", "ECS17b"),
    ),
    Case(
        "send without a required argument",
        _send("--to", ESME, "ECS37", "end=22:00"),
        ("ECS37 needs start", "HH:MM"),
    ),
    Case(
        "send with a bad argument value",
        _send("--to", ESME, "ECS37", "start=25:00", "end=22:00"),
        ("ECS37 start", "out of range 0..23"),
    ),
    Case(
        "send with an argument that is not key=value",
        _send("--to", ESME, "ECS37", "seventeen"),
        ("ECS37 argument 'seventeen'", "key=value", "start=<time>"),
    ),
    Case(
        "send with an unknown argument",
        _send("--to", ESME, "ECS17b", "colour=red"),
        ("ECS17b does not take 'colour'", "no arguments"),
    ),
    Case(
        "send as an unknown role",
        _send("--to", ESME, "ECS17b", "--as", "landlord"),
        ("unknown remote-party role 'landlord'", "supplier"),
    ),
    Case("send with --timeout 0", _send("--to", ESME, "ECS17b", "--timeout", "0"), ("--timeout",)),
    Case(
        "send with a bad broker URL",
        _send("--to", ESME, "ECS17b", "--broker", "http://x"),
        ("--broker", "scheme must be mqtt://"),
    ),
    Case(
        "send to a device outside the fleet",
        _send("--to", "00DB1234567890FF", "ECS17b"),
        ("00DB1234567890FF is not a device of this emulator's fleet", "00DB1234567890A0"),
    ),
    # send: the state directory and the emulator it names
    Case(
        "send with no emulator",
        lambda f, s: ["send", "--state", str(s["none"]), "--to", ESME, "ECS17b"],
        ("no running emulator found in", "gbcs-emu run --state"),
    ),
    Case(
        "send with --state a file",
        lambda f, s: ["send", "--state", str(f["a_file"]), "--to", ESME, "ECS17b"],
        ("is a file, not a state directory",),
    ),
    Case(
        "send with a stale run.json",
        lambda f, s: ["send", "--state", str(s["stale"]), "--to", ESME, "ECS17b"],
        ("run.json (pid", ") is not running", "gbcs-emu run --state"),
    ),
    Case(
        "send with a damaged run.json",
        lambda f, s: ["send", "--state", str(s["damaged"]), "--to", ESME, "ECS17b"],
        ("run.json is damaged",),
    ),
    Case(
        "send to a dead broker",
        _send("--to", ESME, "ECS17b", "--timeout", "1"),
        ("cannot reach broker mqtt://127.0.0.1:", "is gbcs-emu run running with --state"),
    ),
    # capture: unwritable output, missing or unusable input
    Case(
        "capture to a missing directory",
        lambda f, s: ["capture", "to-pcap", str(f["good"]), "-o", "/nonexistent/x.pcap"],
        ("cannot write /nonexistent/x.pcap", "directory /nonexistent does not exist"),
    ),
    Case(
        "capture to a path under a file",
        lambda f, s: ["capture", "to-pcap", str(f["good"]), "-o", str(f["a_file"] / "x.pcap")],
        ("is not a directory", "-o/--output needs a file in an existing, writable directory"),
    ),
    Case(
        "capture to a read-only directory",
        lambda f, s: ["capture", "to-pcap", str(f["good"]), "-o", str(f["read_only"] / "x")],
        ("cannot write", "read-only"),
        needs_non_root=True,
    ),
    Case(
        "capture from a missing file",
        lambda f, s: ["capture", "to-pcap", "/nonexistent/in.txt", "-o", str(f["dir"] / "o")],
        ("input file /nonexistent/in.txt: no such file",),
    ),
    Case(
        "capture from bad hex",
        lambda f, s: ["capture", "to-pcap", str(f["bad_hex"]), "-o", str(f["dir"] / "o")],
        ("nothing written", "none of the 1 message(s)", "not hex (found 'Z'"),
    ),
    Case(
        "capture from an empty file",
        lambda f, s: ["capture", "to-pcap", str(f["empty"]), "-o", str(f["dir"] / "o")],
        ("holds no message",),
    ),
    Case(
        "capture from invalid JSON",
        lambda f, s: ["capture", "to-pcap", str(f["bad_json"]), "-o", str(f["dir"] / "o")],
        ("bad.json: invalid JSON",),
    ),
    Case(
        "capture with a negative interval",
        lambda f, s: ["capture", "to-pcap", str(f["good"]), "-o", "x", "--interval", "-1"],
        ("--interval",),
    ),
    # decode: input that is not hex or not text
    Case("decode bad hex", lambda f, s: ["decode", "DF09ZZ"], ("not hex (found 'Z' at digit 5",)),
    Case(
        "decode binary standard input",
        lambda f, s: ["decode", "-"],
        ("stdin: not text", "0xFF"),
        stdin=b"\xff\xfe\n",
        env={"PYTHONIOENCODING": "utf-8:strict"},
    ),
    Case(
        "decode with a missing key directory",
        lambda f, s: ["decode", "DF09", "--keys", "/nonexistent/keys"],
        ("--keys", "/nonexistent/keys"),
    ),
    # keys init: where the PKI cannot be written
    Case(
        "keys init into a file",
        lambda f, s: ["keys", "init", str(f["a_file"])],
        ("cannot write keys to", "a-file"),
    ),
    Case(
        "keys init under a file",
        lambda f, s: ["keys", "init", str(f["a_file"] / "pki")],
        ("cannot write keys to", "a-file/pki"),
    ),
    Case(
        "keys init into a read-only directory",
        lambda f, s: ["keys", "init", str(f["read_only"] / "pki")],
        ("cannot write keys to", "read-only/pki"),
        needs_non_root=True,
    ),
    Case(
        "keys init with a bad device EUI",
        lambda f, s: ["keys", "init", str(f["dir"] / "pki"), "--device", "XYZ"],
        ("--device", "'XYZ'"),
    ),
    # storm: numbers and broker checked before anything starts
    Case("storm with no sites", lambda f, s: ["storm", "--sites", "0"], ("'--sites'", "x>=1")),
    Case(
        "storm with more workers than sites",
        lambda f, s: ["storm", "--sites", "2", "--workers", "3"],
        ("--workers", "at most one worker per site"),
    ),
    Case(
        "storm with a negative outage",
        lambda f, s: ["storm", "--outage-seconds", "-5"],
        ("'--outage-seconds'", "x>0"),
    ),
    Case("storm with --timeout 0", lambda f, s: ["storm", "--timeout", "0"], ("'--timeout'",)),
    Case(
        "storm with a bad broker URL",
        lambda f, s: ["storm", "--broker", "http://x"],
        ("--broker", "scheme must be mqtt://"),
    ),
    Case(
        "storm on a dead broker",
        lambda f, s: ["storm", "--sites", "2", "--broker", f"mqtt://127.0.0.1:{free_port()}"],
        ("cannot reach broker mqtt://127.0.0.1:",),
    ),
    # demo
    Case("demo with an unknown option", lambda f, s: ["demo", "--fast"], ("--fast",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_mistake_is_one_clear_line(
    case: Case, files: dict[str, Path], states: dict[str, Path]
) -> None:
    if case.needs_non_root and not READ_ONLY_OK:
        pytest.skip("no way to make a directory read-only here (chattr +i failed)")
    r = gbcs_emu(*case.args(files, states), stdin=case.stdin, env=case.env)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, r.stderr
    for fragment in case.expect:
        assert fragment in errors[0], r.stderr


def test_capture_leaves_no_file_when_nothing_could_be_read(files: dict[str, Path]) -> None:
    out = files["dir"] / "untouched.pcap"
    out.write_bytes(b"before")
    r = gbcs_emu("capture", "to-pcap", str(files["bad_hex"]), "-o", str(out))
    assert r.returncode == 1
    assert out.read_bytes() == b"before"


# ---------------------------------------------------------------------- send


def test_send_without_arguments_lists_the_use_cases() -> None:
    r = gbcs_emu("send")
    assert r.returncode == 0, r.stderr
    for name in ("ECS17b", "ECS37", "GCS13a", "CS06", "CCS01"):
        assert f"  {name} " in r.stdout
    assert "start=<time> end=<time>" in r.stdout  # the arguments of ECS37
    assert "Missing option" not in r.stdout + r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_send_with_only_a_target_lists_the_use_cases() -> None:
    r = gbcs_emu("send", "--to", ESME)
    assert r.returncode == 0, r.stderr
    assert "ECS17b Read ESME Energy Registers" in r.stdout


def test_send_help_still_shows_the_options() -> None:
    r = gbcs_emu("send", "--help")
    assert r.returncode == 0
    assert "--timeout" in r.stdout and "--to EUI" in r.stdout


def test_the_connect_is_bounded_by_the_timeout() -> None:
    mqtt = send_cmd._bus("mqtt://127.0.0.1:1883", 2.5)
    assert getattr(mqtt, "connect_timeout", None) == 2.5
    tcp = send_cmd._bus("tcp://127.0.0.1:9", 2.5)
    assert getattr(tcp, "timeout", None) == 2.5


def test_a_dead_broker_is_unreachable_not_a_request_timeout(tmp_path: Path) -> None:
    """What the whole exchange does against a dead broker: it gives up connecting (with
    the reason) rather than sending; the bound is the caller's timeout."""
    from emulator.headend.identity import MemoryCounterStore
    from keys.store import KeyStore

    keys = KeyStore(ensure_pki(tmp_path))
    bus = send_cmd._bus(f"mqtt://127.0.0.1:{free_port()}", 0.5)
    with pytest.raises(send_cmd._Unreachable, match="refused"):
        asyncio.run(
            send_cmd._send(
                bus,
                keys,
                MemoryCounterStore(first=1),  # type: ignore[arg-type]
                "site-0",
                bytes.fromhex(ESME),
                "ECS17b",
                None,
                None,
                0.5,
                {},
            )
        )


def test_bad_arguments_are_refused_before_the_state_is_read(tmp_path: Path) -> None:
    """Nothing is created in the state directory for a command that cannot be built."""
    r = gbcs_emu("send", "--state", str(tmp_path / "s"), "--to", ESME, "ECS37", "start=1")
    assert r.returncode == 1
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------- storm


def test_storm_json_is_one_object_and_no_progress() -> None:
    r = gbcs_emu("storm", "--sites", "3", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["complete"] is True and doc["delivered"] == doc["produced"] == 6, doc
    assert "storm:" not in r.stderr, r.stderr


def test_storm_prints_a_line_per_phase_and_an_80_column_table() -> None:
    r = gbcs_emu("storm", "--sites", "3")
    assert r.returncode == 0, r.stderr
    phases = [line for line in r.stderr.splitlines() if line.startswith("storm: ")]
    steps = [p.split(" ")[1] for p in phases[:4]]
    assert steps == ["starting", "connecting", "starting", "mains"], r.stderr
    assert any("6/6 alerts delivered" in p for p in phases), r.stderr
    assert "alerts delivered" in r.stdout, r.stdout
    assert "…" not in r.stdout, r.stdout  # nothing cut at 80 columns
    assert max(len(line) for line in r.stdout.splitlines()) <= 80, r.stdout


# ----------------------------------------------------------------------- demo


def _failing_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's scenario replaced by one that passes a step, then fails in the next."""
    demo = importlib.import_module("emulator.cli.demo_cmd")

    async def scenario(
        state: Path,
        use_mqtt: bool,
        feedback: Feedback,
        rows: list[tuple[str, str, str]],
        about: dict[str, str],
    ) -> list[tuple[str, str, str]]:
        about.update(site="site-0", bus="in-process bus", clock_start="2026-01-05 00:00Z")
        feedback.phase("[1/2] ECS17b read energy registers")
        rows.append(("ECS17b read energy registers", "active_import=0", "mac"))
        feedback.phase("[2/2] ECS43 open the load switch (signed)")
        raise RuntimeError("the device did not answer")

    monkeypatch.setattr(demo, "run_demo", scenario)


def test_a_failed_demo_shows_the_steps_done_and_names_the_failed_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from emulator.cli import demo_cmd

    _failing_demo(monkeypatch)
    r = CliRunner().invoke(demo_cmd, [])
    assert r.exit_code == 1
    assert "ECS17b read energy registers" in r.stdout and "active_import=0" in r.stdout
    assert (
        "demo failed at [2/2] ECS43 open the load switch (signed): RuntimeError: the device "
        "did not answer" in r.stderr
    )
    assert r.exc_info is None or r.exc_info[0] is SystemExit  # no traceback


def test_a_failed_demo_with_json_is_still_one_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from emulator.cli import demo_cmd

    _failing_demo(monkeypatch)
    r = CliRunner().invoke(demo_cmd, ["--json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["steps"][0]["verified"] == "mac"
    assert "ECS43" in doc["error"]
    assert r.stderr.count("\n") == 1  # the error line only: no progress with --json


# ------------------------------------------------------------------- progress


def _run_phases(fb: Feedback) -> None:
    with fb:
        fb.phase("one")
        fb.count(5, 10, "things")
        fb.phase("two")
        fb.done("all done")


def test_feedback_lines_mode_is_a_line_per_phase() -> None:
    out = io.StringIO()
    _run_phases(Feedback(stream=out, prefix="x: "))  # a StringIO is not a terminal
    assert out.getvalue().splitlines() == ["x: one", "x: two", "x: two: all done"]


def test_feedback_is_silent_with_json() -> None:
    out = io.StringIO()
    fb = Feedback(quiet=True, stream=out)
    _run_phases(fb)
    assert fb.mode == "off" and out.getvalue() == ""
    assert fb.phases == ["one", "two"]


def test_feedback_live_mode_shows_phases_counters_and_ticks() -> None:
    out = io.StringIO()
    with Feedback(stream=out, mode="live") as fb:
        fb.phase("loading sites")
        fb.count(5, 10, "sites loaded")
        fb.phase("cutting mains")
    text = out.getvalue()
    assert "loading sites" in text and "5/10 sites loaded" in text
    assert "cutting mains" in text and "✓" in text


def test_a_failed_phase_is_marked() -> None:
    out = io.StringIO()
    with pytest.raises(click.ClickException), Feedback(stream=out, mode="live") as fb:
        fb.phase("connecting")
        raise click.ClickException("no broker")
    assert "connecting" in out.getvalue() and "(failed)" in out.getvalue()
