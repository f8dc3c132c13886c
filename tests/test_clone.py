"""A clone of the repository is a complete product (issue 9, item 7).

* Interop tests skip with a reason without the public interop data, and fail instead
  when ``GBCS_REQUIRE_INTEROP=1`` (``.ci/run`` sets it only where ``CI=true``).
* ``scripts/run.sh`` installs every extra the README tour uses; the pytest plugin's
  dependencies have their own extra, and without pytest-asyncio the plugin says so
  instead of breaking.
* Docs and ``--help`` texts point only at files in the repository or public sources.
* ``keys --help`` promises ``inspect``: it exists and lists a key directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from emulator.cli import main
from keys.pki import init_pki

ROOT = Path(__file__).resolve().parent.parent


def _pytest(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **env},
    )


# ------------------------------------------------------------------ interop tests


def test_interop_tests_skip_with_a_reason_without_the_data(tmp_path: Path) -> None:
    env = {"GBCS_INTEROP_DIR": str(tmp_path), "GBCS_REQUIRE_INTEROP": "0"}
    res = _pytest(["-m", "interop", "-rs", "tests/test_cli.py", "tests/test_gbz.py"], env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert re.search(r"^\d+ skipped, \d+ deselected", res.stdout.splitlines()[-1])
    assert f"interop vectors not found: no vectors.json in {tmp_path}" in res.stdout
    assert "passed" not in res.stdout.splitlines()[-1]


def test_interop_tests_fail_when_the_data_is_required(tmp_path: Path) -> None:
    env = {"GBCS_INTEROP_DIR": str(tmp_path), "GBCS_REQUIRE_INTEROP": "1"}
    res = _pytest(["-m", "interop", "tests/test_cli.py"], env)
    assert res.returncode == 1
    # failed in set-up, before any fixture reads the data: pytest counts them as errors
    last = res.stdout.splitlines()[-1]
    assert re.search(r"\b\d+ errors?\b", last) and "passed" not in last, res.stdout[-2000:]
    assert f"no vectors.json in {tmp_path}" in res.stdout


def _ci_block() -> str:
    """The lines of ``.ci/run`` that decide GBCS_REQUIRE_INTEROP."""
    text = (ROOT / ".ci" / "run").read_text()
    start = text.index('if [ "${CI:-}" = true ]')
    return text[start : text.index("\nfi\n", start) + 4]


@pytest.mark.parametrize(("ci", "required"), [("true", "1"), ("", ""), ("false", "")])
def test_ci_requires_the_interop_data_only_where_ci_is_true(ci: str, required: str) -> None:
    script = _ci_block() + 'printf "%s" "${GBCS_REQUIRE_INTEROP:-}"\n'
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GBCS_REQUIRE_INTEROP")}
    if ci:
        env["CI"] = ci
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == required
    assert "exec ./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


# ------------------------------------------------------------------ install extras


def test_run_sh_installs_every_extra_the_tour_uses() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["all"] == ["gbcs-emulator[broker,serial,pytest,duis]"]
    assert {"broker", "serial", "pytest", "duis"} <= set(extras)
    assert any(r.startswith("lxml") for r in extras["duis"])
    assert "gbcs-emulator[all]" in extras["dev"]
    assert any(r.startswith("pytest-asyncio") for r in extras["pytest"])
    assert any(r.startswith("pyserial") for r in extras["serial"])
    assert "-e '.[all]'" in (ROOT / "scripts" / "run.sh").read_text()
    assert "-e '.[dev]'" in (ROOT / "scripts" / "test.sh").read_text()


PLUGIN_USER_TESTS = """
import pytest


def test_plain():
    assert True


def test_clock(gbcs_clock):
    assert gbcs_clock.now().year == 2026


async def test_site(gbcs_site):
    pass
"""


def test_plugin_without_pytest_asyncio_says_what_to_install(tmp_path: Path) -> None:
    """A shadow ``pytest_asyncio`` that fails to import stands for the missing package."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pytest_asyncio.py").write_text("raise ImportError('not installed')\n")
    (tmp_path / "test_user.py").write_text(PLUGIN_USER_TESTS)
    env = {
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": os.pathsep.join((str(shadow), str(ROOT))),
    }
    res = _pytest(["-p", "emulator.pytest_plugin", "test_user.py"], env, cwd=tmp_path)
    out = res.stdout
    assert res.returncode == 1, out
    assert re.search(r"^2 passed, 1 error", out.splitlines()[-1]), out[-2000:]
    assert "gbcs_site and gbcs_headend fixtures need pytest-asyncio" in out
    assert "pip install 'gbcs-emulator[pytest]'" in out
    assert "Traceback" not in out


# ------------------------------------------------------------------ docs and help texts

SHARED = re.compile(r"(?<![\w-])(\.\./)?shared/")


def _help_texts() -> dict[str, str]:
    """``--help`` of every command and sub-command."""
    out: dict[str, str] = {}
    runner = CliRunner()

    def walk(cmd: click.Command, path: list[str]) -> None:
        res = runner.invoke(main, [*path, "--help"])
        assert res.exit_code == 0, (path, res.output)
        out[" ".join(path) or "gbcs-emu"] = res.output
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(main, [])
    return out


def test_docs_and_help_refer_to_no_file_outside_the_repository() -> None:
    docs = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}
    assert docs
    texts = {**docs, **_help_texts()}
    bad = {name: SHARED.findall(text) for name, text in texts.items() if SHARED.search(text)}
    assert bad == {}
    assert "GBCS_INTEROP_DIR" in texts["conformance"]


# ------------------------------------------------------------------ keys inspect


def test_keys_help_promises_only_commands_that_exist() -> None:
    res = CliRunner().invoke(main, ["keys", "--help"])
    assert "inspect" in res.output
    res = CliRunner().invoke(main, ["keys", "inspect", "--help"])
    assert res.exit_code == 0
    assert "EUI, role, usage, kind" in res.output


def test_keys_inspect_lists_every_file(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    init_pki(pki, device_euis=["00DB1234567890A0"])
    (pki / "junk-ka.pem").write_text("not a key")
    (pki / "00db1234567890b0-ka.pem").write_text("-----BEGIN CERTIFICATE-----\nAA\n")
    res = CliRunner().invoke(main, ["keys", "inspect", str(pki), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    by_file = {r["file"]: r for r in rows}
    key_files = {
        p.name for p in pki.iterdir() if p.suffix in (".pem", ".key") and p.name[:3] != "ca-"
    } - {"junk-ka.pem", "00db1234567890b0-ka.pem"}
    ca_files = {p.name for p in pki.glob("ca-*.pem")}
    assert set(by_file) == key_files | ca_files
    dev = by_file["00db1234567890a0-ds.pem"]
    assert (dev["eui"], dev["role"], dev["usage"], dev["kind"]) == (
        "00db1234567890a0",
        "device",
        "ds",
        "cert",
    )
    assert dev["expires"].startswith("9999-12-31")
    pp = by_file["90b3d51f30fe0002-pp-ka.key"]
    assert (pp["role"], pp["usage"], pp["kind"], pp["expires"]) == (
        "Supplier",
        "pp-ka",
        "private",
        None,
    )
    acb = by_file["90b3d51f30fe0004-ka.pem"]
    assert acb["role"] == "Access Control Broker"
    assert acb["expires"] is not None and not acb["expires"].startswith("9999")
    assert {by_file[f]["kind"] for f in ca_files} == {"ca"}
    # the files that cannot be used are named, with the reason
    assert "junk-ka.pem: ignored: name is not <eui>[-pp]-<ka|ds>.<pem|key>" in res.stderr
    assert "00db1234567890b0-ka.pem: skipped" in res.stderr


def test_keys_inspect_table_fits_80_columns_and_marks_expiry(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    pki = tmp_path / "pki"
    init_pki(pki, now=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30)
    res = CliRunner().invoke(main, ["keys", "inspect", str(pki)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    table = lines[: lines.index(next(ln for ln in lines if ln.startswith(str(pki))))]
    assert max(len(ln.rstrip()) for ln in table) <= 80
    supplier = next(ln for ln in table if ln.rstrip().endswith("90b3d51f30fe0002-pp-ka.pem"))
    fields = supplier.split()
    assert fields[:4] + fields[5:] == [
        "90b3d51f30fe0002",
        "Supplier",
        "pp-ka",
        "cert",
        "90b3d51f30fe0002-pp-ka.pem",
    ]
    assert re.fullmatch(r"2020-01-3[01]!", fields[4])  # expired: reported with "!"
    assert "expired (!: reported, never enforced)" in res.stdout


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}/none", "Error: key directory {tmp}/none: no such directory"),
        ("{tmp}/file", "Error: key directory {tmp}/file: not a directory"),
    ],
)
def test_keys_inspect_missing_directory_is_one_clear_line(
    tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "file").write_text("x")
    res = CliRunner().invoke(main, ["keys", "inspect", target.replace("{tmp}", str(tmp_path))])
    assert res.exit_code == 1
    assert res.stderr.strip() == message.replace("{tmp}", str(tmp_path))


def test_keys_init_into_an_unwritable_place_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for target, message in (
        (tmp_path / "file", f"Error: cannot write keys to {tmp_path / 'file'}: not a directory"),
        (tmp_path / "file" / "pki", f"Error: cannot write keys to {tmp_path / 'file' / 'pki'}"),
    ):
        res = CliRunner().invoke(main, ["keys", "init", str(target)])
        assert res.exit_code == 1
        assert res.stderr.startswith(message), res.stderr
        assert "Traceback" not in res.output
    assert (tmp_path / "file").read_text() == "x"
