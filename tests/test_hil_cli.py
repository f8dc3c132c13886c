"""Issue 9 on the serial side: bench scenarios validated at load, `--check`, clear
one-line errors for every mistake (table-driven, a subprocess per case), what `hil serve`
prints, output files that cannot be written, and tables at 80 columns."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from hil.bench import ScenarioError, Step, StepResult, load_scenario
from hil.cli import diff_table, link_summary, results_table
from hil.diffing import Difference
from tests.test_hil import ROOT, linked_ports, served

BENCH = ROOT / "examples" / "bench.toml"
EUI = "00DB1234567890A0"
ONE_STEP = f"""
[bench]
timeout = 10
retries = 1

[[step]]
name = "supply state"
use_case = "ECS45"
to = "{EUI}"
expect = {{ ok = true }}
"""


def _hil(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hil", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def _clean_failure(res: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Non-zero exit, no traceback anywhere, one error line naming what is wrong."""
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "Traceback" not in out, out
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error")]
    assert errors, out
    for f in fragments:
        assert f in res.stderr, (f, out)


# --------------------------------------------------------------------- bench validation

STEP = f'[[step]]\nname = "s"\nuse_case = "ECS45"\nto = "{EUI}"\n'

BAD_SCENARIOS: list[tuple[str, str, list[str]]] = [
    (
        "timeout-text",
        '[bench]\ntimeout = "ten"\n' + STEP,
        ["[bench]", "key 'timeout'", "positive number of seconds", "'ten'"],
    ),
    ("timeout-zero", "[bench]\ntimeout = 0\n" + STEP, ["key 'timeout'", "got 0"]),
    ("timeout-bool", "[bench]\ntimeout = true\n" + STEP, ["key 'timeout'", "got True"]),
    ("retries-float", "[bench]\nretries = 1.5\n" + STEP, ["key 'retries'", "0..100"]),
    ("retries-big", "[bench]\nretries = 1000\n" + STEP, ["key 'retries'", "0..100"]),
    ("ignore-type", '[bench]\nignore = "x"\n' + STEP, ["key 'ignore'", "list"]),
    ("site-slash", '[bench]\nsite = "a/b"\n' + STEP, ["key 'site'", "without '/'"]),
    (
        "bench-key",
        "[bench]\ntimout = 3\n" + STEP,
        ["[bench]", "key 'timout'", "did you mean 'timeout'", "allowed: site, timeout"],
    ),
    ("top-key", "[bnech]\n" + STEP, ["top level", "key 'bnech'", "did you mean 'bench'"]),
    (
        "step-key",
        STEP + "expct = { ok = true }\n",
        ["step 1 ('s')", "key 'expct'", "did you mean 'expect'", "allowed: name, use_case"],
    ),
    ("step-timeout", STEP + 'timeout = "ten"\n', ["step 1 ('s')", "key 'timeout'", "'ten'"]),
    (
        "use-case",
        STEP.replace("ECS45", "ECS45x"),
        ["step 1 ('s')", "key 'use_case'", "'ECS45x'", "did you mean 'ECS45'", "builds: ECS17a"],
    ),
    ("use-case-type", STEP.replace('"ECS45"', "45"), ["key 'use_case'", "got 45"]),
    (
        "arg-name",
        STEP.replace("ECS45", "ECS37") + 'args = { strat = "17:00", end = "18:00" }\n',
        ["key 'args.strat'", "did you mean 'start'", "allowed: start, end, current, read_back"],
    ),
    (
        "arg-value",
        STEP.replace("ECS45", "ECS37") + 'args = { start = "25:00", end = "18:00" }\n',
        ["key 'args.start'", "ECS37 start", "HH:MM"],
    ),
    (
        "arg-missing",
        STEP.replace("ECS45", "ECS37"),
        ["key 'args'", "ECS37 needs start"],
    ),
    ("arg-to-none", STEP + "args = { x = 1 }\n", ["key 'args.x'", "it takes no arguments"]),
    ("args-type", STEP + "args = 3\n", ["key 'args'", "must be a table"]),
    (
        "role",
        STEP + 'as = "suplier"\n',
        ["key 'as'", "'suplier'", "did you mean 'supplier'", "expected one of"],
    ),
    ("target-type", STEP + 'target_type = "XX"\n', ["key 'target_type'", "ESME, GSME"]),
    ("to-short", STEP.replace(EUI, "00DB12"), ["key 'to'", "16 hex digits"]),
    ("to-int", STEP.replace(f'"{EUI}"', "12"), ["key 'to'", "16 hex digits"]),
    ("to-missing", '[[step]]\nname = "s"\nuse_case = "ECS45"\n', ["key 'to'", "missing"]),
    ("expect-key", STEP + "expect = { okay = true }\n", ["key 'expect.okay'", "'ok'"]),
    ("expect-ok", STEP + 'expect = { ok = "yes" }\n', ["key 'expect.ok'", "true or false"]),
    ("neither", '[[step]]\nname = "s"\n', ["step 1 ('s')", "use_case or wait_alert"]),
    (
        "both",
        STEP + 'wait_alert = { code = "0x8F30" }\n',
        ["step 1 ('s')", "use_case or wait_alert"],
    ),
    (
        "alert-code",
        '[[step]]\nname = "a"\nwait_alert = { code = "zz" }\n',
        ["key 'wait_alert.code'", "0x0000..0xFFFF"],
    ),
    (
        "alert-code-range",
        '[[step]]\nname = "a"\nwait_alert = { code = 70000 }\n',
        ["key 'wait_alert.code'"],
    ),
    (
        "alert-within",
        '[[step]]\nname = "a"\nwait_alert = { code = "0x8F30", within = -1 }\n',
        ["key 'wait_alert.within'", "positive"],
    ),
    (
        "alert-key",
        '[[step]]\nname = "a"\nwait_alert = { code = "0x8F30", whithin = 1 }\n',
        ["key 'wait_alert.whithin'", "did you mean 'within'"],
    ),
    (
        "alert-to",
        f'[[step]]\nname = "a"\nwait_alert = {{ code = "0x8F30" }}\nto = "{EUI}"\n',
        ["key 'to'", "not to wait_alert"],
    ),
    ("second-step", STEP + STEP.replace('"s"', '"t"').replace(EUI, "zz"), ["step 2 ('t')"]),
    ("no-steps", "[bench]\ntimeout = 3\n", ["no [[step]]"]),
    ("step-not-array", "step = 3\n", ["key 'step'", "[[step]]"]),
    ("bad-toml", "[[step]\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_SCENARIOS], ids=[c[0] for c in BAD_SCENARIOS]
)
def test_scenario_validated_at_load(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path)
    msg = str(e.value)
    assert msg.startswith(str(path)) or msg.startswith(f"cannot read {path}"), msg
    for f in fragments:
        assert f in msg, (f, msg)
    assert "\n" not in msg


def test_the_example_bench_loads_with_typed_values() -> None:
    sc = load_scenario(BENCH)
    assert (sc.site, sc.timeout, sc.retries, len(sc.steps)) == ("site-0", 10.0, 2, 11)
    ecs37 = next(s for s in sc.steps if s.use_case == "ECS37")
    assert ecs37.args == {"start": "17:00", "end": "22:00", "read_back": True}
    assert sc.steps[-1].wait_alert == {"code": 0x8F30, "within": 10.0}
    assert load_scenario(BENCH).steps[0].use_case == "ECS17b"


def test_unreadable_scenario(tmp_path: Path) -> None:
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not a text"):
        load_scenario(binary)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


# --------------------------------------------------------------------- a served state


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory `hil serve` created (PKI, state.json), the server stopped."""
    tmp = tmp_path_factory.mktemp("served")
    st = tmp / "state"
    with linked_ports(tmp) as (a, _b), served(a, st):
        pass
    return st


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    p = tmp_path / "one.toml"
    p.write_text(ONE_STEP)
    return p


# --------------------------------------------------------------------- --check


def test_drive_check_validates_without_opening_the_port(state: Path, tmp_path: Path) -> None:
    res = _hil(
        "drive",
        "--port",
        "/dev/does-not-exist",
        "--script",
        str(BENCH),
        "--state",
        str(state),
        "--junit",
        str(tmp_path / "out.xml"),
        "--pcap",
        str(tmp_path / "out.pcap"),
        "--check",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "11 step(s)" in res.stdout and "not opened" in res.stdout
    assert not (tmp_path / "out.xml").exists() and not (tmp_path / "out.pcap").exists()


def test_diff_check_validates_without_opening_the_port(state: Path) -> None:
    res = _hil(
        "diff", "--port", "/dev/does-not-exist", "--script", str(BENCH), "--state", str(state),
        "--check",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "not opened" in res.stdout


# --------------------------------------------------------------------- bad input, one line


def _write_inputs(tmp: Path) -> None:
    """The bad files the cases name."""
    (tmp / "ten.toml").write_text('[bench]\ntimeout = "ten"\n' + STEP)
    (tmp / "uc.toml").write_text(STEP.replace("ECS45", "ECS99"))
    (tmp / "arg.toml").write_text(
        STEP.replace("ECS45", "ECS37") + 'args = { start = "9", end = "x" }\n'
    )
    (tmp / "a-file").write_text("x")
    (tmp / "site.toml").write_text("[esme]\nmd_window_strat = 3\n")


def _cases(tmp: Path, state: Path, scenario: Path) -> list[tuple[str, list[str], list[str]]]:
    """(id, hil arguments, fragments the error must contain)."""
    bad_timeout, bad_uc, bad_arg = tmp / "ten.toml", tmp / "uc.toml", tmp / "arg.toml"
    a_file, bad_config = tmp / "a-file", tmp / "site.toml"
    nowhere = tmp / "no-such-dir"
    drive = ["drive", "--port", "/dev/does-not-exist", "--state", str(state)]
    check = [*drive, "--script", str(scenario), "--check"]
    serve = ["serve", "--duration", "1"]
    return [
        ("drive-timeout-ten", [*drive, "--script", str(bad_timeout)], ["ten.toml", "'timeout'"]),
        ("drive-unknown-use-case", [*drive, "--script", str(bad_uc)], ["uc.toml", "'ECS99'"]),
        ("drive-bad-argument", [*drive, "--script", str(bad_arg)], ["arg.toml", "args.start"]),
        ("drive-missing-script", [*drive, "--script", str(tmp / "nope.toml")], ["nope.toml"]),
        (
            "drive-missing-port",
            [
                "drive",
                "--port",
                "/dev/does-not-exist",
                "--script",
                str(scenario),
                "--state",
                str(state),
            ],
            ["cannot open /dev/does-not-exist"],
        ),
        ("drive-junit-dir", [*check, "--junit", str(nowhere / "x.xml")], ["--junit", "no-such"]),
        ("drive-pcap-dir", [*check, "--pcap", str(nowhere / "x.pcap")], ["--pcap", "no-such"]),
        ("drive-junit-under-file", [*check, "--junit", str(a_file / "x")], ["--junit", "a-file"]),
        ("drive-junit-is-dir", [*check, "--junit", str(tmp)], [str(tmp)]),
        ("drive-faults", [*check, "--faults", "corupt=0.1"], ["--faults", "corupt"]),
        ("drive-baud", [*check, "--baud", "0"], ["--baud", "0"]),
        ("drive-no-keys", ["drive", "--port", "x", "--script", str(scenario)], ["--state"]),
        ("drive-state-unserved", [*check[:4], str(tmp), *check[5:]], ["pki does not exist"]),
        ("drive-keys-missing", [*check[:3], "--keys", str(nowhere), *check[5:]], ["no-such-dir"]),
        (
            "diff-timeout-ten",
            ["diff", "--port", "x", "--script", str(bad_timeout), "--state", str(state)],
            ["ten.toml", "'timeout'"],
        ),
        (
            "diff-bad-config",
            [
                "diff",
                "--port",
                "x",
                "--script",
                str(scenario),
                "--state",
                str(state),
                "--config",
                str(bad_config),
            ],
            ["site.toml", "md_window_strat"],
        ),
        (
            "serve-state-under-file",
            [*serve, "--port", "/dev/does-not-exist", "--state", str(a_file / "st")],
            ["state directory", "a-file", "Not a directory"],
        ),
        (
            "serve-state-is-file",
            [*serve, "--port", "/dev/does-not-exist", "--state", str(a_file)],
            ["a-file"],
        ),
        (
            "serve-missing-port",
            [*serve, "--port", "/dev/does-not-exist", "--state", str(tmp / "s1")],
            ["cannot open /dev/does-not-exist"],
        ),
        (
            "serve-bad-config",
            [*serve, "--port", "x", "--state", str(tmp / "s2"), "--config", str(bad_config)],
            ["md_window_strat"],
        ),
        (
            "serve-stats-interval",
            [*serve, "--port", "x", "--stats-interval", "-1"],
            ["--stats-interval"],
        ),
        (
            "serve-gfi-numbering",
            [*serve, "--port", "x", "--framing", "gfi", "--gfi-numbering", "odd"],
            ["--gfi-numbering"],
        ),
    ]


CASE_IDS = [
    c[0] for c in _cases(Path("/t"), Path("/s"), Path("/sc"))
]  # ids only; the real paths come per test


@pytest.mark.parametrize("case", CASE_IDS)
def test_cli_errors_are_one_clear_line(
    case: str, state: Path, scenario: Path, tmp_path: Path
) -> None:
    _write_inputs(tmp_path)
    args, fragments = next((a, f) for i, a, f in _cases(tmp_path, state, scenario) if i == case)
    res = _hil(*args)
    _clean_failure(res, *fragments)


def test_read_only_state_is_a_clear_error(tmp_path: Path) -> None:
    from tests.readonly import make_read_only, undo_read_only

    ro = tmp_path / "ro"
    ro.mkdir()
    if not make_read_only(ro):
        undo_read_only(ro)
        pytest.skip("no way to make a directory read-only here (chattr +i failed)")
    try:
        res = _hil("serve", "--port", "/dev/does-not-exist", "--state", str(ro / "st"))
        _clean_failure(res, "state directory", "ro/st", "cannot create it")
        res = _hil(
            "drive", "--port", "x", "--script", str(BENCH), "--keys", str(tmp_path),
            "--junit", str(ro / "x.xml"), "--check",
        )  # fmt: skip
        _clean_failure(res, "--junit", "not writable")
    finally:
        undo_read_only(ro)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    """A port another program holds (flock, as pyserial's exclusive mode takes it)."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    fd = os.open(name, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        res = _hil("serve", "--port", name, "--state", str(tmp_path / "st"), "--duration", "5")
        _clean_failure(res, f"cannot open {name}", "another program has the port open")
    finally:
        for f in (fd, slave, master):
            os.close(f)


# --------------------------------------------------------------------- serve output, junit


@pytest.fixture
def served_log(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """`hil serve` on one end of a pty pair, link summary every 0.2 s: (its port, the
    other end, state, log)."""
    st = tmp_path / "state"
    with (
        linked_ports(tmp_path) as (a, b),
        served(a, st, "--framing", "gfi", "--stats-interval", "0.2", "--gfi-numbering", "zero"),
    ):
        yield a, b, st, tmp_path / "serve-state.log"


def test_serve_reports_what_it_serves_and_drive_keeps_results_when_outputs_fail(
    served_log: tuple[str, str, Path, Path], scenario: Path, tmp_path: Path
) -> None:
    serve_port, port, st, log = served_log
    junit = tmp_path / "no-such-dir" / "bench.xml"
    pcap = tmp_path / "no-such-dir" / "bench.pcap"
    res = _hil(
        "drive", "--port", port, "--framing", "gfi", "--script", str(scenario),
        "--state", str(st), "--junit", str(junit), "--pcap", str(pcap),
        env={"COLUMNS": "80"},
    )  # fmt: skip
    # The results table first, then one line per output that could not be written.
    assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr, res.stderr
    assert re.search(r"supply state\s*│\s*pass", res.stdout), res.stdout
    header = next(ln for ln in res.stdout.splitlines() if "step" in ln and "result" in ln)
    for h in ("step", "result", "verified", "tries", "detail"):
        assert h in header, header
    assert "…" not in header
    assert max(len(ln) for ln in res.stdout.splitlines()) <= 80
    link = next(ln for ln in res.stdout.splitlines() if ln.startswith("link:"))
    assert "frames in 1 out 1" in link and "{" not in link, link
    assert f"Error: --junit {junit}: cannot write" in res.stderr
    assert f"Error: --pcap {pcap}: cannot write" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 2
    # What `hil serve` printed: the banner, then periodic one-line link summaries.
    deadline = time.monotonic() + 30
    while "link: frames in 1 out 1" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    text = log.read_text()
    banner = f"hil serve: site-0 on {serve_port}, framing gfi (#n: zero), 115200 baud 8N1"
    assert banner + ", flow none, reliable off" in text, text
    for kind, last in (("ESME", "A0"), ("GSME", "A1"), ("CHF", "A2"), ("GPF", "A3")):
        assert re.search(rf"^  {kind}\s+00DB1234567890{last}$", text, re.M), text
    assert "link summary every 0.2 s" in text


def test_serve_prints_a_final_summary_on_stop(tmp_path: Path, scenario: Path) -> None:
    st = tmp_path / "state"
    log = tmp_path / "serve-state.log"
    with linked_ports(tmp_path) as (a, b), served(a, st, "--stats-interval", "0"):
        res = _hil("drive", "--port", b, "--script", str(scenario), "--state", str(st), "--json")
        assert res.returncode == 0, res.stdout + res.stderr
    text = log.read_text()
    assert "link summary at the end" in text
    final = [ln for ln in text.splitlines() if ln.startswith("stopped after")]
    assert len(final) == 1 and "link: frames in 1 out 1" in final[0], text
    assert not [ln for ln in text.splitlines() if re.match(r"\d\d:\d\d:\d\d link:", ln)]
    assert json.loads((st / "link-stats.json").read_text())["frames_in"] == 1


# --------------------------------------------------------------------- 80 columns


def _render(table: object) -> str:
    buf = io.StringIO()
    Console(width=80, file=buf, force_terminal=False, color_system=None).print(table)
    return buf.getvalue()


def test_results_table_is_readable_at_80_columns() -> None:
    step = Step("a rather long step name about the Network Operator's window", "ECS37",
                None, None, {}, {}, None, None)  # fmt: skip
    results = [
        StepResult(
            step,
            False,
            "window_start = '15:00', expected '16:00'; " * 4,
            1.0,
            verified="signature",
            attempts=3,
        ),
        StepResult(step, True, "as expected", 1.0, verified="mac"),
    ]
    out = _render(results_table("bench examples/bench.toml on /dev/ttyUSB0 (binary)", results))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(ln for ln in lines if "result" in ln)
    for h in ("step", "result", "verified", "tries", "detail"):
        assert re.search(rf"\b{h}\b", header), header
    assert "…" not in out  # nothing cut: long text folds onto more lines
    assert "FAIL" in out and "signature" in out and "16:00" in out


def test_diff_table_is_readable_at_80_columns() -> None:
    diffs = [Difference("max demand window", "schedule", "x" * 90, "y" * 90)]
    out = _render(diff_table("/dev/ttyUSB0 vs the emulator: 1 difference(s)", diffs))
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(ln for ln in lines if "emulator" in ln and "field" in ln)
    for h in ("step", "field", "device", "emulator"):
        assert re.search(rf"\b{h}\b", header), header
    assert "…" not in out
    assert out.count("x") >= 90 and out.count("y") >= 90


def test_link_summary_is_one_readable_line() -> None:
    report = {
        "frames_in": 1200,
        "frames_out": 3,
        "bytes_in": 10,
        "bytes_out": 20,
        "undecodable": 0,
        "link_retransmits": 4,
        "decoder": {"garbage_bytes": 5, "resyncs": 1, "crc_errors": 2, "truncated": 0},
        "faults_out": {"stats": {"corrupted": 7, "dropped_bytes": 0}},
    }
    line = link_summary(report)
    assert line == (
        "frames in 1,200 out 3; bytes in 10 out 20; undecodable 0; garbage 5 B; resyncs 1; "
        "CRC errors 2; resent 4; faults out: corrupted 7"
    )
