"""HIL over pty pairs: `hil serve` in one process, `hil drive` on the other end.

A pair of linked serial ports comes from socat where installed, else from two
``os.openpty()`` pairs whose masters this test relays to each other.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "examples" / "bench.toml"


@contextmanager
def linked_ports(tmp: Path) -> Iterator[tuple[str, str]]:
    """Two serial port paths wired to each other."""
    socat = shutil.which("socat")
    if socat:
        a, b = tmp / "ttyA", tmp / "ttyB"
        proc = subprocess.Popen(
            [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (a.exists() and b.exists()):
            assert time.monotonic() < deadline, "socat did not create the ptys"
            time.sleep(0.05)
        try:
            yield str(a), str(b)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        return
    m1, s1 = os.openpty()
    m2, s2 = os.openpty()
    stop = threading.Event()

    def relay() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([m1, m2], [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                os.write(m2 if fd == m1 else m1, data)

    t = threading.Thread(target=relay, daemon=True)
    t.start()
    try:
        yield os.ttyname(s1), os.ttyname(s2)
    finally:
        stop.set()
        t.join(timeout=5)
        for fd in (m1, s1, m2, s2):
            os.close(fd)


def _hil(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hil", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@contextmanager
def served(port: str, state: Path, *options: str) -> Iterator[None]:
    """`hil serve` on `port` with extra command-line `options`, until the block ends."""
    log = state.parent / f"serve-{state.name}.log"
    args = [sys.executable, "-m", "hil", "serve", "--port", port, "--state", str(state)]
    with log.open("w") as out:
        proc = subprocess.Popen([*args, *options], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while not (state / "hil-ready").exists():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "hil serve did not start"
                time.sleep(0.05)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=30)


SITE = ("--device", "site")


@pytest.mark.parametrize("framing", ["binary", "gfi", "raw"])
def test_drive_the_bench_against_served_site(tmp_path: Path, framing: str) -> None:
    state = tmp_path / "state"
    junit, pcap = tmp_path / "bench.xml", tmp_path / "bench.pcap"
    with linked_ports(tmp_path) as (a, b), served(a, state, *SITE, "--framing", framing):
        res = _hil(
            "drive",
            "--port",
            b,
            "--framing",
            framing,
            "--script",
            str(BENCH),
            "--state",
            str(state),
            "--junit",
            str(junit),
            "--pcap",
            str(pcap),
            "--json",
        )
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["passed"], report
    names = [s["name"] for s in report["steps"]]
    assert len(names) == 11
    verified = {s["verified"] for s in report["steps"]}
    assert {"signature", "mac"} <= verified
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("11", "0")
    data = pcap.read_bytes()
    assert data[:4] == bytes.fromhex("d4c3b2a1")  # pcap, little-endian
    assert report["link"]["frames_out"] == report["link"]["frames_in"] >= 9
    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(pcap)], capture_output=True, text=True, timeout=120
        ).stdout
        assert out.count("\n") >= 18  # every command and response dissected


def test_drive_reports_failures_and_exits_nonzero(tmp_path: Path) -> None:
    state = tmp_path / "state"
    bench = tmp_path / "wrong.toml"
    bench.write_text(
        BENCH.read_text().replace('supply_state = "connected"', 'supply_state = "armed"', 1)
    )
    with linked_ports(tmp_path) as (a, b), served(a, state, *SITE, "--framing", "binary"):
        res = _hil("drive", "--port", b, "--script", str(bench), "--state", str(state), "--json")
    assert res.returncode == 1
    steps = json.loads(res.stdout)["steps"]
    failed = [s for s in steps if not s["passed"]]
    assert [s["name"] for s in failed] == ["supply state before"]
    assert "expected 'armed'" in failed[0]["detail"]


def test_bad_port_and_script_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    res = _hil(
        "drive", "--port", "/dev/does-not-exist", "--script", str(BENCH), "--keys", str(tmp_path)
    )
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "cannot open /dev/does-not-exist" in res.stderr
    res = _hil(
        "drive", "--port", "/dev/does-not-exist", "--script", str(BENCH), "--state", str(tmp_path)
    )
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "no state.json" in res.stderr  # keys of a state never served: said first
    bad = tmp_path / "bad.toml"
    bad.write_text("[[step]]\nname = 'x'\n")
    res = _hil("drive", "--port", "loop://", "--script", str(bad), "--state", str(tmp_path))
    assert res.returncode != 0 and "use_case or wait_alert" in res.stderr


DIFF_BENCH = """
[bench]
timeout = 10
retries = 1
ignore = ["active_import", "reactive_import"]

[[step]]
name = "supply state"
use_case = "ECS45"
to = "00DB1234567890A0"
expect = { ok = true }

[[step]]
name = "max demand window"
use_case = "ECS18b"
to = "00DB1234567890A0"
expect = { ok = true }

[[step]]
name = "gas via the GPF"
use_case = "GCS13a"
to = "00DB1234567890A3"
expect = { ok = true }
"""


@pytest.mark.parametrize("deviate", [False, True])
def test_diff_reports_exactly_the_deliberate_deviation(tmp_path: Path, deviate: bool) -> None:
    bench = tmp_path / "diff.toml"
    bench.write_text(DIFF_BENCH)
    options: list[str] = []
    if deviate:  # the "meter" on the port keeps another max-demand window
        config = tmp_path / "meter.toml"
        config.write_text('[esme]\nmd_window_start = "15:00:00.00"\n')
        options = ["--config", str(config)]
    state = tmp_path / "state"
    with linked_ports(tmp_path) as (a, b), served(a, state, *options):
        res = _hil("diff", "--port", b, "--script", str(bench), "--state", str(state), "--json")
    diffs = json.loads(res.stdout)
    if not deviate:
        assert res.returncode == 0 and diffs == [], diffs
        return
    assert res.returncode == 1
    assert {d["step"] for d in diffs} == {"max demand window"}, diffs
    starts = [d for d in diffs if d["field"] == "window_start"]
    assert starts == [
        {
            "step": "max demand window",
            "field": "window_start",
            "device": "15:00",
            "emulator": "16:00",
        }
    ]
    # the schedule the window comes from, and nothing else
    assert {d["field"] for d in diffs} == {"window_start", "schedule"}, diffs


FAULT_BENCH = """
[bench]
timeout = 10
retries = 3

[[step]]
name = "supply state"
use_case = "ECS45"
to = "00DB1234567890A0"
expect = { ok = true }

[[step]]
name = "open the load switch (signed)"
use_case = "ECS43"
to = "00DB1234567890A0"
expect = { ok = true }

[[step]]
name = "supply state after"
use_case = "ECS45"
to = "00DB1234567890A0"
expect = { ok = true, values = { supply_state = "disconnected" } }
"""


def test_session_completes_over_a_lossy_link(tmp_path: Path) -> None:
    """1 % corrupted and 1 % dropped bytes in both directions: link-level resends get every
    frame through intact (each response verified), and the statistics show the faults."""
    bench = tmp_path / "faults.toml"
    bench.write_text(FAULT_BENCH)
    state = tmp_path / "state"
    faults = ["--faults", "corrupt=0.01,drop_byte=0.01,seed=11", "--reliable"]
    serve_faults = ["--faults", "corrupt=0.01,drop_byte=0.01,seed=12", "--reliable"]
    with linked_ports(tmp_path) as (a, b), served(a, state, *serve_faults):
        res = _hil(
            "drive",
            "--port",
            b,
            "--script",
            str(bench),
            "--state",
            str(state),
            "--json",
            *faults,
            timeout=240,
        )
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["passed"]
    assert all(s["verified"] in ("mac", "signature") for s in report["steps"])
    link = report["link"]
    assert link["decoder"]["crc_errors"] > 0 and link["link_retransmits"] > 0
    assert link["faults_out"]["stats"]["corrupted"] > 0
    assert link["faults_out"]["stats"]["dropped_bytes"] > 0
    served_stats = json.loads((state / "link-stats.json").read_text())
    assert served_stats["decoder"]["crc_errors"] > 0


def test_sleepy_gsme_over_the_link(tmp_path: Path) -> None:
    """A GSME command waits at the CHF until the GSME's wake-up, then comes back."""
    config = tmp_path / "site.toml"
    config.write_text("[gsme]\nwake_interval_seconds = 2\n")
    bench = tmp_path / "gsme.toml"
    bench.write_text(
        '[bench]\ntimeout = 15\nretries = 0\n\n[[step]]\nname = "gas from the GSME"\n'
        'use_case = "GCS13a"\nto = "00DB1234567890A1"\nexpect = { ok = true }\n'
    )
    state = tmp_path / "state"
    with linked_ports(tmp_path) as (a, b), served(a, state, "--config", str(config)):
        res = _hil("drive", "--port", b, "--script", str(bench), "--state", str(state), "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    step = json.loads(res.stdout)["steps"][0]
    assert step["passed"] and step["verified"] == "mac" and step["attempts"] == 1


@pytest.mark.asyncio
async def test_bridge_joins_a_serial_device_to_the_mqtt_topics(tmp_path: Path) -> None:
    """A device on a serial port (here `hil serve`) answers a head-end on MQTT."""
    import asyncio

    from emulator.headend.client import HeadEnd
    from emulator.headend.identity import MemoryCounterStore, parties_from_store
    from emulator.runtime.config import load_config
    from emulator.runtime.pki import add_device_public_keys
    from emulator.transport.mqtt import MqttBus
    from keys.store import KeyStore
    from tests.brokers import running_broker

    state = tmp_path / "state"
    async with running_broker() as broker:
        with linked_ports(tmp_path) as (a, b), served(a, state):
            bridge = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "hil",
                "bridge",
                "--port",
                b,
                "--broker",
                broker.url,
                "--eui",
                "00DB1234567890A0",
                "--duration",
                "60",
                cwd=ROOT,
            )
            try:
                await asyncio.sleep(2.0)  # the bridge subscribes to the device's topic
                keys = KeyStore(state / "pki")
                add_device_public_keys(keys, load_config(None), range(1), state)
                he = HeadEnd(
                    MqttBus(broker.url),
                    keys,
                    parties=parties_from_store(keys),
                    counters=MemoryCounterStore(first=5000),
                )
                async with he:
                    reply = await he.request(
                        "site-0", bytes.fromhex("00DB1234567890A0"), "ECS45", timeout=30
                    )
            finally:
                bridge.terminate()
                await bridge.wait()
    assert reply.verified == "mac"
    assert reply.values["supply_state"] == "connected"
