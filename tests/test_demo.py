"""`gbcs-emu demo` runs end to end and exits 0 (the README's main-job command)."""

from __future__ import annotations

import subprocess
import sys


def test_demo_exits_zero_with_every_step_verified() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "emulator", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "Traceback" not in out + res.stderr
    for needle in ("ECS18b", "signature", "0x8F36", "2000/2000 alerts delivered"):
        assert needle in out, out
    assert "import_md=2400" in out  # the evening peak, averaged over a half hour
