"""The conformance harness as a test: issue 3 acceptance figures and --save output."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.conformance.harness import ConformanceReport, run_conformance
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac, check_signature
from keys.store import KeyStore
from tests.interop import require_interop

REQUIRED = [
    "ECS17a",
    "ECS17b",
    "ECS17c",
    "ECS18a",
    "ECS18b",
    "ECS37",
    "ECS57",
    "ECS23",
    "ECS35a",
    "ECS35b",
    "ECS39a",
    "ECS40",
    "ECS42",
    "ECS43",
    "ECS44",
    "ECS45",
    "ECS52",
    "ECS70",
    "ECS04b",
    "CS06",
    "GCS13a",
    "GCS13b",
    "GCS13c",
    "GCS23",
    "GCS32",
    "GCS38",
    "GCS39",
    "GCS09",
    "CCS01",
    "CCS02",
    "CCS05CCS04",
]


@functools.cache
def _report() -> ConformanceReport:
    d = require_interop()
    return run_conformance(d / "vectors.json", d / "keys")


@pytest.mark.parametrize("use_case", REQUIRED)
def test_required_use_cases_fully_conformant(use_case: str) -> None:
    results = [r for r in _report().results if r.case.rtds_case == use_case]
    assert results, f"no RTDS pair for {use_case}"
    bad = [f"{r.case.id}: {r.status} {r.detail}" for r in results if r.status != "conformant"]
    assert not bad


@pytest.mark.parametrize("device", ["ESME", "GSME", "GPF", "CHF"])
def test_at_least_60_percent_per_device(device: str) -> None:
    assert _report().rate(device) >= 0.6


def test_every_response_is_protected_as_the_use_case_requires() -> None:
    checked = 0
    for r in _report().results:
        if r.status == "conformant":
            assert r.protection in ("signature valid", "MAC valid"), r.case.id
            checked += 1
    assert checked > 200


def test_cli_json_and_save_layout_reverifiable(tmp_path: Path) -> None:
    d = require_interop()
    out = tmp_path / "saved"
    res = CliRunner().invoke(
        main, ["conformance", "--device", "chf", "--json", "--interop", str(d), "--save", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert '"CHF"' in res.output
    responses = sorted((out / "responses").glob("*.hex"))
    assert len(responses) >= 25
    assert len(list((out / "commands").glob("*.hex"))) >= len(responses)
    # anyone can re-verify with the saved device certificates and the public keys
    store = KeyStore(d / "keys", out / "keys")  # ours replace the RTDS device certs
    assert store.certificate(bytes.fromhex("00DB1234567890A2"), "ds") is not None
    for path in responses:
        msg = decode(bytes.fromhex(path.read_text().strip()))
        verdicts = {check_signature(msg, store).verdict, check_mac(msg, store).verdict}
        assert Verdict.VALID in verdicts, path.name


def test_cli_table_and_missing_data(tmp_path: Path) -> None:
    d = require_interop()
    res = CliRunner().invoke(main, ["conformance", "--device", "gpf", "--interop", str(d)])
    assert res.exit_code == 0, res.output
    assert "GPF:" in res.output and "conformant" in res.output
    res = CliRunner().invoke(main, ["conformance", "--interop", str(tmp_path)])
    assert res.exit_code != 0
    assert "no interop data" in res.output
    assert "Traceback" not in res.output
