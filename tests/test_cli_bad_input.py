"""Every user mistake is one clear line (issue 9 §4): ``run``, ``stats``, ``state``,
``conformance`` and ``keys``, table-driven, one subprocess per case.

Each case: a non-zero exit, no traceback anywhere, exactly one ``Error`` line, and
fragments naming the file, key, option or path and what is allowed. (``send``,
``decode``, ``capture``, ``storm``, ``demo`` and ``keys init`` have their table in
tests/test_cli_feedback.py; ``hil`` in tests/test_hil_cli.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readonly import make_read_only, undo_read_only
from tests.statekit import Fleet, cli

FILES = {
    "typo.toml": '[esme]\nfirmware_profil = "legacy"\n',
    "type.toml": '[fleet]\nsites = "ten"\n',
    "mp102.toml": '[esme]\nfirmware_profile = "compliant"\nfirmware_ch_cut_seconds = 200\n',
    "range.toml": "[gsme]\nwake_interval_seconds = 0\n",
    "table.toml": "[esmee]\neui = '00DB1234567890A0'\n",
    "eui.toml": "[esme]\neui = '00DB12'\n",
    "party.toml": "[parties]\nsuplier = '90B3D51F30FE0002'\n",
    "broken.toml": "not = [toml\n",
    "afile": "",
}

CASES: list[tuple[str, list[str], list[str]]] = [
    # run: configuration (names the file, the [table] key and what is allowed)
    ("run-key-typo", ["run", "--config", "{typo.toml}", "--check"],
     ["typo.toml", "[esme] firmware_profil", "did you mean firmware_profile", "allowed"]),
    ("run-wrong-type", ["run", "--config", "{type.toml}", "--check"],
     ["type.toml", "[fleet] sites", "allowed: an integer from 1"]),
    ("run-mp102", ["run", "--config", "{mp102.toml}", "--check"],
     ["mp102.toml", "firmware_ch_cut_seconds", "MP102", "allowed: less than 180 s"]),
    ("run-out-of-range", ["run", "--config", "{range.toml}", "--check"],
     ["range.toml", "[gsme] wake_interval_seconds", "allowed"]),
    ("run-unknown-table", ["run", "--config", "{table.toml}", "--check"],
     ["table.toml", "[esmee]", "did you mean [esme]"]),
    ("run-bad-eui", ["run", "--config", "{eui.toml}", "--check"],
     ["eui.toml", "[esme] eui", "16 hex digits"]),
    ("run-unknown-party", ["run", "--config", "{party.toml}", "--check"],
     ["party.toml", "[parties] suplier", "supplier"]),
    ("run-broken-toml", ["run", "--config", "{broken.toml}", "--check"],
     ["broken.toml", "line 1"]),
    ("run-missing-config", ["run", "--config", "{missing.toml}", "--check"],
     ["missing.toml", "No such file"]),
    # run: options
    ("run-clock", ["run", "--clock", "fast", "--check"], ["--clock", "real", "xN", "'fast'"]),
    ("run-shard", ["run", "--shard", "3:2", "--check"], ["--shard", "FIRST:TOTAL"]),
    ("run-workers", ["run", "--workers", "0", "--check"], ["--workers", "x>=1"]),
    ("run-tcp-and-broker", ["run", "--tcp", "5000", "--broker", "mqtt://h", "--check"],
     ["--tcp", "not both"]),
    ("run-broker-scheme", ["run", "--broker", "http://x", "--check"],
     ["--broker", "mqtt:// or mqtts://"]),
    ("run-port-range", ["run", "--tcp", "70000", "--check"], ["--tcp", "1<=x<=65535"]),
    ("run-duration", ["run", "--duration", "-1", "--check"], ["--duration", "positive"]),
    ("run-password-in-url", ["run", "--broker", "mqtt://u:pw@h", "--check"],
     ["--broker", "GBCS_BROKER_PASSWORD", "--broker-password-file"]),
    ("run-cafile", ["run", "--broker", "mqtts://h", "--cafile", "{missing.pem}", "--check"],
     ["--cafile", "missing.pem", "no such file"]),
    ("run-tls-without-mqtts", ["run", "--broker", "mqtt://h", "--cafile", "{afile}", "--check"],
     ["mqtts://"]),
    ("run-state-is-a-file", ["run", "--state", "{afile}", "--tcp", "5000"],
     ["--state", "afile", "is a file"]),
    ("run-state-under-a-file", ["run", "--state", "{afile}/st", "--tcp", "5000"],
     ["state directory", "afile/st", "Not a directory"]),
    ("run-state-read-only", ["run", "--state", "{ro}", "--sites", "3", "--tcp", "5000"],
     ["state directory", "ro", "not writable"]),
    ("run-state-under-read-only", ["run", "--state", "{ro}/st", "--tcp", "5000"],
     ["state directory", "ro/st", "cannot create it"]),
    ("run-layout", ["run", "--state", "{used}", "--workers", "2", "--broker", "mqtt://h:1"],
     ["another fleet layout", "workers here (--workers) 1 -> 2", "gbcs-emu state migrate"]),
    ("run-metrics-busy", ["run", "--state", "{fresh}", "--tcp", "{port}", "--metrics-port",
                          "{busy}", "--duration", "30"],
     ["--metrics-port", "cannot listen"]),
    ("run-tcp-workers", ["run", "--tcp", "5000", "--workers", "2", "--check"],
     ["--workers", "TCP serves one worker"]),
    ("run-duis-users-missing", ["run", "--duis-users", "{missing.toml}", "--check"],
     ["--duis-users", "missing.toml", "cannot read"]),
    ("run-duis-users-broken", ["run", "--duis-users", "{broken.toml}", "--check"],
     ["--duis-users", "broken.toml"]),
    ("run-duis-with-tcp", ["run", "--duis-users", "{broken.toml}", "--tcp", "5000", "--check"],
     ["--duis-users", "needs a broker, not --tcp"]),
    ("duis-serve-without-users", ["duis", "serve", "--check"], ["--duis-users FILE is required"]),
    # stats, state, conformance, keys
    ("stats-nothing", ["stats", "--state", "{missing}"], ["no statistics in", "missing"]),
    ("state-backup-nothing", ["state", "backup", "--state", "{missing}", "--to", "{b}"],
     ["missing", "no state.json"]),
    ("state-backup-exists", ["state", "backup", "--state", "{used}", "--to", "{used}"],
     ["backup folder", "not empty"]),
    ("state-restore-nowhere", ["state", "restore", "--from", "{missing}"],
     ["--from", "missing", "no such folder"]),
    ("state-restore-not-backup", ["state", "restore", "--state", "{fresh}", "--from", "{b0}"],
     ["b0", "is not a backup"]),
    ("state-migrate-nothing", ["state", "migrate", "--state", "{missing}"],
     ["missing", "nothing to migrate"]),
    ("state-migrate-shard", ["state", "migrate", "--state", "{used}", "--shard", "x"],
     ["--shard", "FIRST:TOTAL"]),
    ("state-migrate-drop", ["state", "migrate", "--state", "{used}", "--sites", "1"],
     ["outside the new fleet", "--sites"]),
    ("conformance-interop", ["conformance", "--interop", "{missing}"],
     ["--interop", "missing", "no such directory"]),
    ("keys-inspect-nowhere", ["keys", "inspect", "{missing}"], ["missing", "no such directory"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("bad-input")
    for name, text in FILES.items():
        (d / name).write_text(text)
    fleet = Fleet.create(d / "used", sites=3)
    fleet.accept(1)
    (d / "b0").mkdir()
    ro = Fleet.create(d / "ro", sites=3)  # a used state directory nobody may write
    ro.accept(1)
    READ_ONLY.append(make_read_only(ro.state))
    yield d
    undo_read_only(ro.state)


READ_ONLY: list[bool] = []  # whether the fixture could make "ro" read-only


def _fill(arg: str, d: Path, ports: dict[str, str]) -> str:
    if arg in ("{port}", "{busy}"):
        return ports[arg]
    if arg.startswith("{"):
        name, _, rest = arg[1:].partition("}")
        return str(d / name) + rest
    return arg


@pytest.mark.parametrize(("name", "args", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(
    workdir: Path, name: str, args: list[str], fragments: list[str]
) -> None:
    import socket

    from emulator.transport.broker import free_port

    if "read-only" in name and not all(READ_ONLY):
        pytest.skip("no way to make a directory read-only here (chattr +i failed)")

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {"{port}": str(free_port()), "{busy}": str(busy.getsockname()[1])}
        argv = [_fill(a, workdir, ports) for a in args]
        if name == "run-metrics-busy":
            argv[2] = str(workdir / f"fresh-{name}")
        r = cli(*argv, timeout=90)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "Traceback" not in out
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, out
    for f in fragments:
        assert f in r.stderr, (f, out)


def test_the_table_is_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
