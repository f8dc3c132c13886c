"""The benchmark scripts run end to end on their smallest sizes and print their JSON.

Figures are only checked for presence and sign: no timed assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.devkit import load_devices_benchmark

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    # the benchmarks build their own frames: prove they need no shared test data
    env["GBCS_INTEROP_DIR"] = str(ROOT / "no-such-interop-dir")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stdout.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stdout  # one JSON object, nothing else on stdout
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


def _positive(out: dict[str, Any], keys: list[str]) -> None:
    missing = [k for k in keys if k not in out]
    assert not missing, f"missing keys {missing} in {sorted(out)}"
    for k in keys:
        assert isinstance(out[k], int | float) and not isinstance(out[k], bool), (k, out[k])
        assert out[k] > 0, (k, out[k])


def test_devices_benchmark_json() -> None:
    out = _run(
        "devices.py", "--seconds", "0.3", "--commands", "60", "--baseline-seconds", "1",
        timeout=300,
    )  # fmt: skip
    _positive(
        out,
        [
            "ecs17b_cmds_per_s",
            "ecs42_cmds_per_s",
            "gcs13a_cmds_per_s",
            "ecdsa_sign_per_s",
            "ecdsa_verify_per_s",
            "critical_floor_cmds_per_s",
            "ecs42_vs_floor",
            "cryptography_sign_per_s",
            "cryptography_verify_per_s",
            "cryptography_floor_vs_floor",
            "ecs42_codec_crypto_cmds_per_s",
            "ecs42_codec_crypto_vs_floor",
        ],
    )
    assert out["frames"] == "built"
    assert out["ecdsa_source"] in ("openssl speed", "cryptography")
    floor = 1 / (1 / out["ecdsa_sign_per_s"] + 1 / out["ecdsa_verify_per_s"])
    assert out["critical_floor_cmds_per_s"] == pytest.approx(floor, rel=1e-3)
    assert out["ecs42_vs_floor"] == pytest.approx(
        out["ecs42_cmds_per_s"] / out["critical_floor_cmds_per_s"], rel=1e-2
    )
    assert out["ecs42_codec_crypto_vs_floor"] == pytest.approx(
        out["ecs42_codec_crypto_cmds_per_s"] / out["critical_floor_cmds_per_s"], rel=1e-2
    )
    own = 1 / (1 / out["cryptography_sign_per_s"] + 1 / out["cryptography_verify_per_s"])
    assert out["cryptography_floor_vs_floor"] == pytest.approx(
        own / out["critical_floor_cmds_per_s"], rel=1e-2
    )
    for key in ("ecs17b", "ecs42", "gcs13a"):
        runs = out[f"{key}_runs_cmds_per_s"]
        assert len(runs) == 3 and max(runs) == out[f"{key}_cmds_per_s"]
        # every timed command was a fresh one and was answered (the script checks each)
        assert out[f"{key}_commands_timed"] >= 3


def test_devices_benchmark_rtds_needs_interop_in_one_line() -> None:
    env = dict(os.environ, GBCS_INTEROP_DIR=str(ROOT / "no-such-interop-dir"))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "devices.py"), "--rtds", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-interop-dir" in lines[0] and "GBCS_INTEROP_DIR" in lines[0]


def test_fleet_bad_hydrate_size_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fleet.py"), "--quick", "--hydrate", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--hydrate 10" in proc.stderr and "at least 200" in proc.stderr


def test_fleet_benchmark_quick_json() -> None:
    out = _run(
        "fleet.py", "--quick", "--sites", "500", "--hydrate", "200", "--commands", "100",
        "--paced-seconds", "0.3", "--storm-sites", "10",
        timeout=600,
    )  # fmt: skip
    _positive(
        out,
        [
            "device_core_cmds_per_s",
            "inprocess_cmds_per_s",
            "inprocess_vs_core",
            "inprocess_batch_cmds_per_s",
            "inprocess_batch_vs_core",
            "mqtt_cmds_per_s",
            "mqtt_p99_ms_at_1000",
            "hydrated_site_kib",
            "hydration_ms",
            "used_site_kib",
            "storm_alerts_per_s_1w",
            "storm_alerts_per_s_2w",
            "storm_p50_s",
            "storm_cpu_s_per_alert_1w",
            "storm_cpu_s_per_alert_2w",
        ],
    )
    assert out["storm_lost"] == 0
    assert out["load_avg"] >= 0
    assert out["hydrated_sites"] == 200
    assert out["inprocess_vs_core"] == pytest.approx(
        out["inprocess_cmds_per_s"] / out["device_core_cmds_per_s"], rel=1e-2
    )


def test_devices_benchmark_refuses_to_time_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    bench, common = load_devices_benchmark(monkeypatch)
    with bench.built_workloads() as workloads:
        ecs42 = next(w for w in workloads if w.key == "ecs42")
        measured = bench.measure(ecs42, 0.1, 5)
        assert len(measured.runs) == 3 and measured.commands >= 3
        # the same frame again and again: the old best-of-3 timed these rejections
        frame = ecs42.frames(1)[0]
        replays = bench.Workload("ecs42", ecs42.device, lambda n: [frame] * n, ecs42.now)
        with pytest.raises(common.BenchmarkError, match="not answered"):
            bench.measure(replays, 0.1, 5)


def test_the_ecs42_ceiling_answers_as_the_device_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from gbcs.codec import decode
    from gbcs.crypto.ecdsa import verify

    bench, common = load_devices_benchmark(monkeypatch)
    with bench.built_workloads() as workloads:
        ecs42 = next(w for w in workloads if w.key == "ecs42")
        ceiling = bench.codec_crypto_only(ecs42)
        device = ecs42.device
        counters = dict(device.counters)
        mine = ecs42.frames(1)[0]
        [out] = ceiling.device.receive(mine, ecs42.now)
        assert device.counters == counters  # the ceiling runs no replay bookkeeping
        theirs = ecs42.frames(1)[0]
        answers = device.receive(theirs, ecs42.now)
        [real] = [o for o in answers if o.kind is out.kind]
        a, b = decode(out.frame), decode(real.frame)
        # the same signed response the device sends, to its own command
        assert (a.header.cra, a.originator, a.recipient, a.message_code) == (
            b.header.cra,
            b.originator,
            b.recipient,
            b.message_code,
        )
        assert a.counter == decode(mine).counter and b.counter == decode(theirs).counter
        assert a.payload.invoke_id == decode(mine).payload.invoke_id
        assert a.payload.results == b.payload.results and a.payload.data == b.payload.data
        assert a.mac is None and b.mac is None  # a critical response is signed only
        ds = device.own.ds.public_key()
        assert verify(ds, a.signed_data(), a.signature)
        assert verify(ds, b.signed_data(), b.signature)
        # a command whose MAC fails is refused, and a run of such frames is never timed
        bad = bytearray(ecs42.frames(1)[0])
        bad[-1] ^= 1
        assert ceiling.device.receive(bytes(bad), ecs42.now) == []
        assert "MAC invalid" in str(ceiling.device.last_rejection)
        refused = bench.Workload("ecs42", ceiling.device, lambda n: [bytes(bad)] * n, ecs42.now)
        with pytest.raises(common.BenchmarkError, match="not answered"):
            bench.measure(refused, 0.1, 5)


def test_codec_benchmark_json() -> None:
    out = _run(
        "codec.py", "--repeat", "1", "--copies", "1", "--runs", "10", "--verify-seconds", "1",
        timeout=300,
    )  # fmt: skip
    _positive(
        out,
        [
            "envelope_us",
            "full_decode_us",
            "batch_us_no_keys",
            "batch_us_keys",
            "batch_us_keys_pipe",
            "verify_us",
            "verify_floor_us_keys",
            "verify_only_us_keys",
            "batch_us_keys_least",
            "python_pass_s",
            "decode_s",
        ],
    )
    assert out["mix"]["signed"] > 0 and out["mix"]["mac"] > 0 and out["mix"]["encrypted_parts"] > 0
    assert out["batch_us_keys_least"] == pytest.approx(
        out["batch_us_no_keys"] + out["verify_only_us_keys"]
    )
    assert out["batch_us_keys_checks"] == pytest.approx(
        out["batch_us_keys"] - out["batch_us_keys_least"]
    )
    for name in ("startup_s", "batch_us_no_keys", "batch_us_keys"):
        target, met = out["targets"][name]
        assert target > 0 and isinstance(met, bool)
