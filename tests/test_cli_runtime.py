"""`gbcs-emu run` + `send` + `stats` as a user runs them (real processes, embedded broker)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=timeout
    )


def test_run_send_stats_and_clean_stop(tmp_path: Path) -> None:
    state = tmp_path / "state"
    from emulator.transport.broker import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "run",
            "--state",
            str(state),
            "--quiet",
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (state / "stats-0.json").exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.1)
        esme = "00DB1234567890A0"
        r = _cli("send", "--state", str(state), "--to", esme, "ECS43", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["verified"] == "signature"
        r = _cli("send", "--state", str(state), "--to", esme, "ECS45", "--json")
        assert json.loads(r.stdout)["values"]["supply_state"] == "disconnected"
        r = _cli("send", "--state", str(state), "--to", "00DB1234567890A3", "GCS13a", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["values"]["ok"], r.stdout + r.stderr
        bad = _cli("send", "--state", str(state), "--to", esme, "ECS37", "start=99:00", "end=1")
        assert bad.returncode != 0 and "Traceback" not in bad.stderr
        time.sleep(1.5)  # the stats snapshot is written every second
        r = _cli("stats", "--state", str(state), "--json")
        counters = json.loads(r.stdout)[0]["counters"]
        assert counters["commands"] == 3 and counters["out.response"] == 3
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        assert "gbcs_commands_total 3" in text
        assert "gbcs_command_latency_seconds_count 3" in text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "state flushed" in out
    # the state outlives the process: the disconnect is still there after a restart
    assert (state / "state-0.db").exists()


def test_run_over_tcp_and_send(tmp_path: Path) -> None:
    from emulator.transport.broker import free_port

    state, port = tmp_path / "state", free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "run",
            "--state",
            str(state),
            "--quiet",
            "--tcp",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (state / "stats-0.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        r = _cli("send", "--state", str(state), "--to", "00DB1234567890A0", "ECS42", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout)["verified"] == "signature"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
