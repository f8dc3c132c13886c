"""One owner per state directory (issue 9 §1, §5): the lock, worker lifetimes, MQTT client
ids, and secrets kept off command lines and out of ``run.json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.runtime.statedir import StateLocked, acquire_lock
from tests.brokers import require_mosquitto
from tests.statekit import ROOT, cli, mode


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "emulator", "run", "--quiet", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _serving(proc: subprocess.Popen[str], state: Path, workers: int = 1) -> dict[str, object]:
    """Wait until every worker serves; the lock record (pid, workers)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "emulator did not start"
        try:
            info = json.loads((state / "lock").read_text())
        except (OSError, ValueError):
            info = {}
        stats = list(state.glob("stats-*.json"))
        if len(info.get("workers", [])) == workers and len(stats) == workers:
            return info
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return out, err


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _free_port() -> int:
    from emulator.transport.broker import free_port

    return free_port()


def test_second_emulator_on_a_locked_state_is_refused_naming_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = _run("--state", str(state), "--tcp", str(_free_port()))
    try:
        info = _serving(first, state)
        second = cli("run", "--state", str(state), "--tcp", str(_free_port()), "--duration", "1")
        assert second.returncode != 0 and "Traceback" not in second.stderr
        assert f"is in use by gbcs-emu run (pid {first.pid}" in second.stderr, second.stderr
        assert str(info["workers"][0]) in second.stderr  # type: ignore[index]
        # hil serve is an emulator too; the state tools that write need the lock as well
        hil = subprocess.run(
            [sys.executable, "-m", "hil", "serve", "--port", "loop://", "--state", str(state),
             "--duration", "1"],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert hil.returncode != 0 and "is in use by" in hil.stderr, hil.stderr
        migrate = cli("state", "migrate", "--state", str(state), "--workers", "2")
        assert migrate.returncode != 0 and "is in use by" in migrate.stderr
        # reading is allowed while it runs: check and an online backup
        assert cli("state", "check", "--state", str(state)).returncode == 0
        backup = cli("state", "backup", "--state", str(state), "--to", str(tmp_path / "b"))
        assert backup.returncode == 0, backup.stderr
    finally:
        _stop(first)
    with pytest.raises(StateLocked):  # the lock is a real flock: a library caller sees it too
        held = acquire_lock(state)
        try:
            acquire_lock(state)
        finally:
            held.release()


def test_kill_9_of_run_takes_its_workers_with_it(tmp_path: Path) -> None:
    """The workers die with their parent, and the lock is free only once they have."""
    require_mosquitto()
    import asyncio

    from emulator.transport.broker import MosquittoBroker

    async def scenario() -> None:
        async with MosquittoBroker() as broker:
            state = tmp_path / "state"
            proc = _run("--state", str(state), "--broker", broker.url, "--workers", "2",
                        "--sites", "2")  # fmt: skip
            info = _serving(proc, state, workers=2)
            workers = list(info["workers"])  # type: ignore[call-overload]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            while True:  # the order of events: lock first free only when no worker runs
                try:
                    lock = acquire_lock(state)
                except StateLocked:
                    await asyncio.sleep(0.01)
                    continue
                assert all(_gone(pid) for pid in workers)
                lock.release()
                break

    asyncio.run(scenario())


def test_a_killed_worker_stops_run_with_a_non_zero_exit(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = _run("--state", str(state), "--tcp", str(_free_port()))
    info = _serving(proc, state)
    worker = info["workers"][0]  # type: ignore[index]
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "worker 0 stopped (signal 9)" in err and "Traceback" not in err + out


def test_a_fatal_worker_error_ends_run_with_its_message(tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = _run("--state", str(state), "--tcp", str(_free_port()), "--duration", "0.5")
    _serving(proc, state)
    _stop(proc)
    # damage the ledger: the parent's checks pass it to the worker, which refuses it
    (state / "used-0.txt").write_bytes(b"site-0\n\x00\x01junk\n")
    r = cli("run", "--state", str(state), "--tcp", str(_free_port()), timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "used-0.txt: line 2 is damaged" in r.stderr


def test_two_emulators_with_the_same_folder_name_share_a_broker(tmp_path: Path) -> None:
    require_mosquitto()
    import asyncio

    from emulator.transport.broker import MosquittoBroker

    async def scenario() -> None:
        async with MosquittoBroker() as broker:
            states = [tmp_path / "a" / "gbcs-state", tmp_path / "b" / "gbcs-state"]
            procs = [_run("--state", str(s), "--broker", broker.url) for s in states]
            try:
                for p, s in zip(procs, states, strict=True):
                    _serving(p, s)
                await asyncio.sleep(6)  # a stolen session shows as reconnects within seconds
                for s in states:
                    gauges = json.loads((s / "stats-0.json").read_text())["gauges"]
                    assert gauges["broker_reconnects"] == 0 and gauges["broker_connected"] == 1
                ids = {json.loads((s / "state.json").read_text())["id"] for s in states}
                assert len(ids) == 2
            finally:
                for p in procs:
                    _stop(p)

    asyncio.run(scenario())


def test_broker_password_never_on_a_command_line_or_in_run_json(tmp_path: Path) -> None:
    require_mosquitto()
    import asyncio

    from emulator.transport.broker import MosquittoBroker

    secret = "s3cret-Pa55"

    async def scenario() -> None:
        async with MosquittoBroker(users={"meter": secret}) as broker:
            state = tmp_path / "state"
            url = broker.url.replace("mqtt://", "mqtt://meter@")
            env = dict(os.environ, GBCS_BROKER_PASSWORD=secret)
            proc = _run("--state", str(state), "--broker", url, env=env)
            try:
                info = _serving(proc, state)
                connected = json.loads((state / "stats-0.json").read_text())["gauges"]
                assert connected["broker_connected"] == 1  # the password did reach mosquitto
                ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
                assert secret not in ps.stdout
                for pid in [proc.pid, *info["workers"]]:  # type: ignore[misc]
                    assert secret.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
                run_json = (state / "run.json").read_text()
                assert secret not in run_json and mode(state / "run.json") == 0o600
            finally:
                out, err = _stop(proc)
            assert secret not in out + err
            # a password file works too; a password in the URL is refused
            pw = tmp_path / "pw"
            pw.write_text(secret + "\n")
            in_url = broker.url.replace("mqtt://", f"mqtt://meter:{secret}@")
            bad = cli("run", "--state", str(tmp_path / "x"), "--broker", in_url, "--check")
            assert bad.returncode != 0 and "GBCS_BROKER_PASSWORD" in bad.stderr
            assert secret not in bad.stderr
            ok = cli("run", "--state", str(tmp_path / "x"), "--broker", url,
                     "--broker-password-file", str(pw), "--check")  # fmt: skip
            assert ok.returncode == 0, ok.stderr

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--cafile", "/nonexistent/ca.pem"], "--cafile"),
        (["--broker-password-file", "/nonexistent/pw"], "--broker-password-file"),
        (["--keyfile", "k.pem"], "--keyfile"),
    ],
)
def test_tls_and_credential_options_are_checked_up_front(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    r = cli("run", "--state", str(tmp_path / "s"), "--broker", "mqtts://127.0.0.1:8883", *args)
    assert r.returncode != 0 and fragment in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s").exists()  # validated before anything was created
