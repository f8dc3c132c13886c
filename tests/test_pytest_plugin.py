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
    assert "3 passed" in res.stdout
