"""The control API from a shell: ``scripts/control-demo.sh`` drives ``gbcs-emu run
--control`` on a real broker with ``mosquitto_pub``/``mosquitto_sub``, verifies alerts
with ``gbcs-emu decode`` and sends the GBCS reads with ``gbcs-emu send``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "control-demo.sh"


def _gbcs_emu() -> str:
    """The gbcs-emu of this interpreter's environment."""
    here = Path(sys.executable).parent / "gbcs-emu"
    return str(here) if here.exists() else "gbcs-emu"


@pytest.fixture
def mosquitto_clients() -> None:
    missing = [t for t in ("mosquitto_pub", "mosquitto_sub") if shutil.which(t) is None]
    if missing:
        if os.environ.get("GBCS_REQUIRE_MOSQUITTO") == "1":
            pytest.fail(f"{', '.join(missing)} required (GBCS_REQUIRE_MOSQUITTO=1)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install mosquitto-clients)")


def test_control_demo_script(mosquitto_clients: None, tmp_path: Path) -> None:
    env = {**os.environ, "GBCS_EMU": _gbcs_emu(), "TIMEOUT": "30"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # hang guard only
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "control-demo: all steps passed" in out
    # 1: the register set over the control API is what GBCS reads back
    assert '"import_mpan": "1234567890123"' in out
    # 2: the AD1 record (JSON) and a verified ECS80 (the script checks its message code)
    assert '"alert": "AD1"' in out
    # 3 and 2: each alert verified: signature valid, no verdict other than valid/absent
    assert out.count("Signature: valid") >= 2
    assert "invalid" not in out and "no key" not in out
    # 4: the held image is running after CS06
    assert '"response_code": "success"' in out
    assert '"firmware_version": "0A0B0C0D"' in out.split("ECS52:")[1]


def test_control_demo_fails_with_one_line_without_the_emulator(
    mosquitto_clients: None, tmp_path: Path
) -> None:
    env = {**os.environ, "GBCS_EMU": str(tmp_path / "no-such-gbcs-emu")}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"control-demo: FAILED: {tmp_path / 'no-such-gbcs-emu'} not found (set GBCS_EMU)"
    ]
