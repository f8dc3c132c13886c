"""A directory nobody can write, root included (tests run as root in CI).

``chmod`` does not stop root; the immutable attribute (``chattr +i``) does. Where it
cannot be set (no chattr, a filesystem without it, no capability), the caller skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["make_read_only", "undo_read_only"]


def make_read_only(path: Path) -> bool:
    """Make the directory ``path`` unwritable; False when that is not possible here."""
    path.chmod(0o555)
    if os.geteuid() != 0:
        return True
    chattr = shutil.which("chattr")
    if chattr is None:
        return False
    r = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
    if r.returncode != 0:
        return False
    probe = path / ".probe"
    try:
        probe.touch()
    except OSError:
        return True
    probe.unlink()
    return False


def undo_read_only(path: Path) -> None:
    """Writable again (so the test's temporary files can be removed)."""
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
    path.chmod(0o755)
