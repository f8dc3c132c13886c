"""The pytest plugin as a user meets it: a bench test file of a few lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCH_TEST = """
from datetime import timedelta

import pytest


@pytest.mark.asyncio
async def test_disconnect_then_read(gbcs_site):
    await gbcs_site.request("ESME", "ECS43")
    reply = await gbcs_site.request("ESME", "ECS45")
    assert reply.values["supply_state"] == "disconnected"
    assert reply.verified == "mac"


@pytest.mark.asyncio
async def test_gas_read_waits_for_the_gsme(gbcs_site):
    gbcs_site.advance(timedelta(hours=2))
    reply = await gbcs_site.request("GSME", "GCS13a")
    assert reply.values["ok"]


def test_clock(gbcs_clock):
    assert gbcs_clock.now().year == 2026


@pytest.mark.asyncio
async def test_described_use_cases_take_named_arguments(gbcs_site):
    await gbcs_site.request(
        "ESME", "ECS34", low_medium_power_threshold=2000, medium_high_power_threshold=5000
    )
    reply = await gbcs_site.request("ESME", "ECS26f")
    assert reply.values["low_medium_power_threshold"] == 2000
    assert reply.values["medium_high_power_threshold_unit"] == "W"
    await gbcs_site.request("GSME", "GCS41", issuer_event_id=7, import_mprn="7654321")
    assert (await gbcs_site.request("GSME", "GCS46")).values["mprn"] == "7654321"
"""


def test_bench_tests_run_with_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_bench.py").write_text(BENCH_TEST)
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # load exactly these plugins, once
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "emulator.pytest_plugin",
            "-p",
            "pytest_asyncio.plugin",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(tmp_path / "test_bench.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "4 passed" in res.stdout
