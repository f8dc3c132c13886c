"""A state PKI with two organisations of one role: the run must be told which one the
devices trust (``[parties]``) and says so before anything runs, in one line, instead of
every command failing in the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from emulator.runtime.pki import ensure_pki
from keys.pki import issue_organisation_keys, load_authorities, write_keys
from keys.roles import RemotePartyRole

ROOT = Path(__file__).resolve().parent.parent
SECOND_SUPPLIER = "90B3D51F30010000"


def _run(state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "emulator", "run", "--sites", "1", "--quiet",
        "--state", str(state), "--duration", "1", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def test_two_suppliers_without_parties_are_refused_before_the_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pki = ensure_pki(state)
    ca = load_authorities(pki)
    write_keys(pki, issue_organisation_keys(ca, RemotePartyRole.SUPPLIER, SECOND_SUPPLIER))
    refused = _run(state)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    assert "several Supplier organisations" in out and "[parties]" in out
    assert SECOND_SUPPLIER.lower() in out.lower() and "Traceback" not in out
    assert "serving" not in out
    config = tmp_path / "site.toml"
    config.write_text(f'[parties]\nsupplier = "{SECOND_SUPPLIER}"\n')
    named = _run(state, "--config", str(config))
    assert named.returncode == 0, named.stdout + named.stderr
