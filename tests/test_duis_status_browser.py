"""The DUIS service's status page in a real browser: Debian's Chromium, headless.

Opt-in (marker ``browser``): the tests skip unless ``-m browser`` selects them or
``GBCS_BROWSER=1`` is set, and Chromium is installed (``chromium`` on PATH, or
``$GBCS_CHROMIUM``). With ``GBCS_REQUIRE_BROWSER=1`` (``.ci/run`` after installing it) a
missing Chromium fails them instead. ``GBCS_UPDATE_SCREENSHOT=1`` also writes the
screenshot to ``docs/duis-status.png``.

The page is served by the real :class:`~emulator.duis.http.DuisServer` with an emulated
ESME behind it; Chromium loads it, runs its script, and the test reads the DOM the script
built, counts the page's polls (it refreshes itself), and takes a screenshot.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lxml", reason="the DUIS service needs lxml (the duis extra)")
pytest.importorskip("aiohttp", reason="the DUIS service needs aiohttp (the duis extra)")

from aiohttp import ClientSession

from emulator.duis.http import DuisServer
from emulator.duis.status import StatusBoard
from tests import devkit
from tests.duisbench import DISABLE, ESME, FIRMWARE, READ, make_dcc, request
from tests.optin import OptIn
from tests.test_duis_http import Receiver, SiteLink, _post, _serve, critical

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "duis-status.png"
TIMEOUT = 120.0  # a hang guard for one Chromium run, not a measurement

pytestmark = pytest.mark.browser


OPT_IN = OptIn("browser", "GBCS_BROWSER", "GBCS_REQUIRE_BROWSER", "runs headless Chromium")


def _chromium(config: pytest.Config) -> str:
    """Chromium's path; skips unless opted in, and skips (or fails when required)
    without it."""
    OPT_IN.skip_unless_opted_in(config)
    found = os.environ.get("GBCS_CHROMIUM") or shutil.which("chromium")
    if found is None:
        OPT_IN.unavailable("no chromium on PATH (apt install chromium)")
    return found


async def _chromium_run(binary: str, profile: Path, *args: str) -> str:
    """Chromium headless with ``args``; its stdout. Run as a subprocess of the loop, so
    the server keeps answering the page meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


def _counting(snapshot: Callable[[], dict[str, Any]], polls: list[int]) -> Callable[[], Any]:
    def count() -> dict[str, Any]:
        polls.append(1)
        return snapshot()

    return count


@pytest.mark.asyncio
async def test_the_status_page_renders_live_in_chromium(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    chromium = _chromium(pytestconfig)
    receiver = Receiver()
    rx_runner, rx = await _serve(receiver.app())
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    devices = dcc.bench.devices
    board = StatusBoard(
        dcc.inventory,
        read_site=lambda _site: {kind: dev.to_dict() for kind, dev in devices.items()},
        keys=dcc.bench.store,
        acb=devkit.ACB,
    )
    polls: list[int] = []
    board.snapshot = _counting(board.snapshot, polls)  # type: ignore[method-assign]
    server = DuisServer(dcc.service, SiteLink(dcc), board=board)
    runner, base = await _serve(server.app())
    try:
        async with ClientSession() as session:
            await _post(session, base, "serviceS", dcc.sign(request("4.1.1", READ, counter=1)))
            await _post(session, base, "serviceS", dcc.sign(request("11.2", FIRMWARE, counter=2)))
            await critical(session, base, dcc, "7.2", DISABLE, counter=3)
            await _post(session, base, "serviceS", dcc.sign(request("4.1.1", READ, counter=2)))
        await receiver.wait(3)
        dom = await _chromium_run(
            chromium, tmp_path / "profile", "--virtual-time-budget=4000", "--dump-dom",
            f"{base}/status",
        )  # fmt: skip
        # the script built the tables from status.json
        assert f'<td class="code">{ESME}</td>' in dom
        assert "supply disabled" in dom and "firmware " in dom
        updated = re.search(r'<div id="updated">([^<]*)</div>', dom)
        assert updated is not None and "site(s) in the fleet" in updated.group(1)
        assert dom.count('<td class="I99">I99</td>') == 3
        assert '<td class="E">E41</td>' in dom  # the repeated RequestID
        assert "ECS17b 0x" in dom and "ECS43 0x0050 command" in dom
        assert "<details><summary>decoded</summary>" in dom
        assert len(polls) >= 2  # it loaded, then refreshed itself on its timer
        shot = tmp_path / "status.png"
        await _chromium_run(
            chromium, tmp_path / "profile2", "--virtual-time-budget=3000",
            "--window-size=1280,1000", f"--screenshot={shot}", f"{base}/status",
        )  # fmt: skip
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a page, not a blank
        if os.environ.get("GBCS_UPDATE_SCREENSHOT") == "1":
            SCREENSHOT.write_bytes(png)
    finally:
        await runner.cleanup()
        await rx_runner.cleanup()
