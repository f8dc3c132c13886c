"""The control API from a shell, as a bench in any language would drive it:
``scripts/control-demo.sh`` runs ``gbcs-emu run --control`` on a real broker and puts
every message on it with ``mosquitto_pub``/``mosquitto_sub`` (control requests and
replies, GBCS commands on ``.../in``, responses on ``.../out``, alerts). Of gbcs-emu it
uses only ``usecase build`` (to make the MAC'd and signed command frames) and
``decode`` (to verify responses and alerts and read their values)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gbcs.codec import decode
from gbcs.envelope import SignatureForm

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "control-demo.sh"
ESME = "00DB1234567890A0"


def _gbcs_emu() -> str:
    """The gbcs-emu of this interpreter's environment."""
    here = Path(sys.executable).parent / "gbcs-emu"
    return str(here) if here.exists() else "gbcs-emu"


@pytest.fixture
def shell_tools() -> None:
    """mosquitto_pub/sub, jq and openssl, which the script needs besides gbcs-emu."""
    missing = [
        t for t in ("mosquitto_pub", "mosquitto_sub", "jq", "openssl") if shutil.which(t) is None
    ]
    if missing:
        if os.environ.get("GBCS_REQUIRE_MOSQUITTO") == "1":
            pytest.fail(f"{', '.join(missing)} required (GBCS_REQUIRE_MOSQUITTO=1)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install mosquitto-clients jq)")


def _recording_shim(tmp_path: Path) -> tuple[Path, Path]:
    """A gbcs-emu that logs each call's subcommand, then runs the real one."""
    log = tmp_path / "gbcs-emu-calls.log"
    shim = tmp_path / "gbcs-emu"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f"printf '%s %s\\n' \"$1\" \"$2\" >>'{log}'\n"
        f"exec '{_gbcs_emu()}' \"$@\"\n"
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return shim, log


def test_control_demo_script(shell_tools: None, tmp_path: Path) -> None:
    shim, calls_log = _recording_shim(tmp_path)
    work = tmp_path / "work"
    env = {**os.environ, "GBCS_EMU": str(shim), "TIMEOUT": "30"}
    done = subprocess.run(
        ["bash", str(SCRIPT), str(work)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # hang guard only
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "control-demo: all steps passed" in out

    # Of gbcs-emu, only the emulator itself, usecase build and decode ran: no head-end.
    words = [line.split() for line in calls_log.read_text().splitlines()]
    calls = {" ".join(w[:2]) if w[0] == "usecase" else w[0] for w in words}
    assert calls == {"run", "usecase build", "decode"}, calls

    # 1: the register set over the control API is what ECS40 reads back over GBCS
    assert "ECS40 import MPAN: 31323334353637383930313233 ('1234567890123')" in out
    # 2: the AD1 record (JSON) and a verified ECS80 (message code 0x0067)
    assert '"alert": "AD1"' in out
    assert "the ECS80 alert: MAC absent, signature valid" in out
    assert "alert message code: 0x0067" in out
    # 3: the injected alert verified, carrying its code
    assert "the injected alert: MAC absent, signature valid" in out
    assert "alert code: 0x8F3F" in out
    # 4: CS06 (signed) activated the held image, and ECS52 reads it running
    assert "CS06 response code: Success" in out
    assert "ECS52 running version: 0A0B0C0D" in out
    assert "invalid" not in out and "no key" not in out

    # Each command: the object the script wrote, the binary frame it published, and the
    # verified response that echoes the command's counter.
    commands = sorted(work.glob("cmd-*.json"), key=lambda p: int(p.name.split("-")[1]))
    commands = [p for p in commands if p.name.count(".") == 1]
    assert [json.loads(p.read_text())["use_case"] for p in commands] == ["ECS40", "CS06", "ECS52"]
    counters = []
    for obj_file in commands:
        obj = json.loads(obj_file.read_text())
        counter = obj["header"]["counter"]
        counters.append(counter)
        assert obj["header"]["recipient"] == ESME and "named" in obj
        frame = decode(obj_file.with_suffix(".bin").read_bytes())  # binary, not hex text
        assert frame.counter == counter and frame.recipient.hex().upper() == ESME
        assert frame.mac is not None  # the ACB's MAC
        response = json.loads(obj_file.with_suffix(".response.json").read_text())
        assert response["header"]["originator_counter"] == str(counter)
        assert response["use_case"] == obj["use_case"]
        assert "valid" in (response["mac"]["verdict"], response["signature"]["verdict"])
        assert f"{obj['use_case']} response (counter {counter})" in out
    assert counters == sorted(set(counters))  # fresh and rising
    cs06 = decode((work / f"cmd-{counters[1]}-CS06.bin").read_bytes())
    assert cs06.signature_form is SignatureForm.PRESENT and len(cs06.signature) == 64


def test_control_demo_fails_with_one_line_without_the_emulator(
    shell_tools: None, tmp_path: Path
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
