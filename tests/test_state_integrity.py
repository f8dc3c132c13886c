"""State integrity (issue 9 §2): damaged, foreign or empty databases are refused and left
unchanged; layouts are recorded and enforced; migrate, backup and restore keep every
security counter (or refuse)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from devices.policy import Check
from emulator.runtime.statedir import LEGACY_SEED, StateDamaged, StateError, load_info
from emulator.runtime.store import SCHEMA_VERSION, StateStore
from tests.statekit import Fleet, cli, digest, mode

DEAD_BROKER = "mqtt://127.0.0.1:9"  # never reached: the state is refused first


def _used(tmp_path: Path, sites: int = 1) -> Fleet:
    fleet = Fleet.create(tmp_path / "state", sites=sites)
    fleet.accept(2)
    return fleet


def _damage(db: Path, kind: str) -> None:
    data = db.read_bytes()
    if kind == "half":
        data = data[: len(data) // 2]
    elif kind == "junk-inside":
        # An index page: only the integrity scan reads it (the middle page of a small
        # database may be one every open reads, e.g. the meta table's).
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        (root,) = con.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'index' ORDER BY rootpage"
        ).fetchone()
        con.close()
        page = 4096
        at = (root - 1) * page
        data = data[:at] + bytes(range(256)) * (page // 256) + data[at + page :]
    elif kind == "junk-header":
        data = b"\xde\xad\xbe\xef" * 25 + data[100:]
    elif kind == "empty":
        data = b""
    db.write_bytes(data)


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("half", "is damaged"),
        ("junk-inside", "is damaged (integrity check failed"),
        ("junk-header", "is not an SQLite database"),
        ("empty", "is empty (0 bytes), but this state directory stored devices in it"),
    ],
)
def test_damaged_database_refused_with_a_clear_message_and_left_unchanged(
    tmp_path: Path, kind: str, fragment: str
) -> None:
    fleet = _used(tmp_path)
    db = fleet.state / "state-0.db"
    for extra in ("-wal", "-shm"):
        assert not (fleet.state / f"state-0.db{extra}").exists()  # checkpointed on close
    _damage(db, kind)
    before = digest(db)
    r = cli("run", "--state", str(fleet.state), "--tcp", "1", "--duration", "1", timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stdout + r.stderr
    assert fragment in r.stderr and str(db) in r.stderr, r.stderr
    assert digest(db) == before
    # the operator's check names it too, read-only
    c = cli("state", "check", "--state", str(fleet.state), "--json")
    assert c.returncode == 1
    bad = [f for f in json.loads(c.stdout) if not f["ok"]]
    assert any(f["path"] == str(db) for f in bad)
    assert digest(db) == before


def test_missing_database_of_a_used_directory_is_refused(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    (fleet.state / "state-0.db").unlink()
    with pytest.raises(StateDamaged, match="is missing, but this state directory stored"):
        fleet.emulator()
    assert not (fleet.state / "state-0.db").exists()


def test_foreign_database_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE counters (party BLOB, value INTEGER)")
    con.commit()
    con.close()
    before = digest(db)
    with pytest.raises(StateDamaged, match="not a gbcs-emu state database"):
        StateStore(db)
    assert digest(db) == before


def test_database_of_another_worker_refused(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    with pytest.raises(StateDamaged, match="belongs to worker 0, not 1"):
        StateStore(fleet.state / "state-0.db", meta={"worker": "1"})


def test_used_site_missing_from_its_database_is_refused(tmp_path: Path) -> None:
    fleet = _used(tmp_path, sites=3)
    con = sqlite3.connect(fleet.state / "state-0.db")
    con.execute("DELETE FROM sites WHERE site = 'site-1'")
    con.commit()
    con.close()
    with pytest.raises(StateError, match=r"no state for 1 site\(s\) it stored before \(site-1\)"):
        fleet.emulator()
    r = cli("run", "--state", str(fleet.state), "--sites", "3", "--tcp", "1", timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "site-1" in r.stderr


def test_newer_schema_refused(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    con = sqlite3.connect(fleet.state / "state-0.db")
    con.execute("PRAGMA user_version=99")
    con.close()
    with pytest.raises(StateError, match="written by a newer gbcs-emu"):
        fleet.emulator()


def test_state_written_before_versioning_opens_with_its_counters(tmp_path: Path) -> None:
    """A directory of the previous format (no state.json, no ledger, no meta table,
    schema version 0, the old public seed) opens after a schema migration."""
    state = tmp_path / "state"
    fleet = Fleet.create(state, seed=LEGACY_SEED)
    fleet.accept(2)
    con = sqlite3.connect(state / "state-0.db")
    con.execute("DROP TABLE meta")
    con.execute("PRAGMA user_version=0")
    con.close()
    for name in ("state.json", "used-0.txt", "lock"):
        (state / name).unlink()
    assert fleet.replay_checks() == [Check.REPLAY] * len(fleet.accepted)
    info = load_info(state)
    assert info is not None and info.seed_source == "legacy"
    assert info.seed_bytes == LEGACY_SEED and info.databases == ["state-0.db"]
    con = sqlite3.connect(state / "state-0.db")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


# ------------------------------------------------------------------------- layout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--workers", "2"], "workers here (--workers) 1 -> 2"),
        (["--shard", "1:2"], "first worker (--shard) 0 -> 1"),
        (["--seed", "published"], "seed changed"),
        (["--sites", "5"], "sites 3 -> 5"),
    ],
)
def test_restart_with_another_layout_is_refused(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    fleet = _used(tmp_path, sites=3)
    before = digest(fleet.state / "state-0.db")
    r = cli(
        "run", "--state", str(fleet.state), "--sites", "3", "--broker", DEAD_BROKER, *args,
        timeout=60,
    )  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "another fleet layout" in r.stderr and fragment in r.stderr, r.stderr
    assert "gbcs-emu state migrate" in r.stderr
    assert digest(fleet.state / "state-0.db") == before
    check = cli("run", "--state", str(fleet.state), "--sites", "3", *args, "--check")
    assert check.returncode != 0 and fragment in check.stderr


def test_changed_device_config_is_refused(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    toml = tmp_path / "site.toml"
    toml.write_text('[esme]\nfirmware_profile = "legacy"\n')
    r = cli("run", "--state", str(fleet.state), "--config", str(toml), "--tcp", "1")
    assert r.returncode != 0 and "device configuration changed" in r.stderr


def test_migrate_to_two_workers_keeps_every_counter(tmp_path: Path) -> None:
    fleet = _used(tmp_path, sites=5)
    r = cli("state", "migrate", "--state", str(fleet.state), "--sites", "5", "--workers", "2")
    assert r.returncode == 0, r.stderr
    info = load_info(fleet.state)
    assert info is not None and info.layout is not None
    assert (info.layout.workers, info.layout.count) == (2, 2)
    assert sorted(info.databases) == ["state-0.db", "state-1.db"]
    con = sqlite3.connect(fleet.state / "state-1.db")
    assert sorted(r[0] for r in con.execute("SELECT site FROM sites")) == ["site-1", "site-3"]
    con.close()
    # every earlier command is still a replay, at its new worker
    assert fleet.replay_checks(workers=2) == [Check.REPLAY] * len(fleet.accepted)
    # and the new layout starts (checked), the old one is refused now
    ok = cli("run", "--state", str(fleet.state), "--sites", "5", "--workers", "2", "--check")
    assert ok.returncode == 0, ok.stderr
    old = cli("run", "--state", str(fleet.state), "--sites", "5", "--tcp", "1")
    assert old.returncode != 0 and "workers in the fleet 2 -> 1" in old.stderr


def test_migrate_refuses_to_drop_used_sites(tmp_path: Path) -> None:
    fleet = _used(tmp_path, sites=4)
    r = cli("state", "migrate", "--state", str(fleet.state), "--sites", "2")
    assert r.returncode != 0 and "outside the new fleet" in r.stderr
    assert fleet.replay_checks() == [Check.REPLAY] * len(fleet.accepted)


# ----------------------------------------------------------------- backup/restore


def test_restore_of_an_older_backup_is_refused_without_accept_rollback(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    backup = tmp_path / "backup"
    r = cli("state", "backup", "--state", str(fleet.state), "--to", str(backup))
    assert r.returncode == 0, r.stderr
    assert mode(backup) == 0o700 and mode(backup / "state-0.db") == 0o600
    early = len(fleet.accepted)
    fleet.accept(1)  # after the backup: counters move on
    before = digest(fleet.state / "state-0.db")
    r = cli("state", "restore", "--state", str(fleet.state), "--from", str(backup))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "would roll security counters back" in r.stderr and "--accept-rollback" in r.stderr
    assert digest(fleet.state / "state-0.db") == before
    assert fleet.replay_checks() == [Check.REPLAY] * len(fleet.accepted)
    r = cli(
        "state", "restore", "--state", str(fleet.state), "--from", str(backup), "--accept-rollback"
    )
    assert r.returncode == 0, r.stderr
    assert "rolled back" in r.stderr
    checks = fleet.replay_checks()
    assert checks[:early] == [Check.REPLAY] * early  # older than the backup: still refused
    assert checks[early:] == [None]  # newer: accepted again, as the operator accepted


def test_restore_of_a_current_backup_repairs_a_damaged_database(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    backup = tmp_path / "backup"
    assert cli("state", "backup", "--state", str(fleet.state), "--to", str(backup)).returncode == 0
    _damage(fleet.state / "state-0.db", "junk-header")
    refused = cli("state", "restore", "--state", str(fleet.state), "--from", str(backup))
    assert refused.returncode != 0 and "cannot be read to prove" in refused.stderr
    r = cli(
        "state", "restore", "--state", str(fleet.state), "--from", str(backup), "--accept-rollback"
    )
    assert r.returncode == 0, r.stderr
    aside = list(fleet.state.glob("replaced-*/state-0.db"))
    assert len(aside) == 1 and aside[0].read_bytes()[:4] == b"\xde\xad\xbe\xef"  # kept
    assert fleet.replay_checks() == [Check.REPLAY] * len(fleet.accepted)
    assert cli("state", "check", "--state", str(fleet.state)).returncode == 0


def test_backup_of_a_running_emulator_is_consistent(tmp_path: Path) -> None:
    fleet = _used(tmp_path, sites=2)
    emu = fleet.emulator()  # holds the database open, as a running worker does
    try:
        r = cli("state", "backup", "--state", str(fleet.state), "--to", str(tmp_path / "b"))
        assert r.returncode == 0, r.stderr
    finally:
        emu.close()
    con = sqlite3.connect(tmp_path / "b" / "state-0.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM sites").fetchone()[0] == 2
    con.close()


def test_created_files_are_private(tmp_path: Path) -> None:
    fleet = _used(tmp_path)
    for name in ("state.json", "state-0.db", "used-0.txt", "lock"):
        assert mode(fleet.state / name) == 0o600, name
    assert mode(fleet.state) == 0o700
    for key in (fleet.state / "pki").glob("*.key"):
        assert mode(key) == 0o600
    seed_hex = json.loads((fleet.state / "state.json").read_text())["seed"]
    assert len(bytes.fromhex(seed_hex)) == 32  # random, not the public default
    other = Fleet.create(tmp_path / "other")
    assert load_info(other.state).seed != seed_hex  # type: ignore[union-attr]


def test_state_check_reports_a_healthy_directory(tmp_path: Path) -> None:
    fleet = _used(tmp_path, sites=2)
    r = cli("state", "check", "--state", str(fleet.state), "--json")
    assert r.returncode == 0, r.stdout
    rows = json.loads(r.stdout)
    assert all(f["ok"] for f in rows)
    assert any("2 site(s)" in f["detail"] for f in rows)
    os.chmod(fleet.state / "state.json", 0o644)
    r = cli("state", "check", "--state", str(fleet.state), "--json")
    assert r.returncode == 1 and "should be 600" in r.stdout


def test_verify_false_skips_only_the_integrity_scan(tmp_path: Path) -> None:
    """A worker whose parent has just scanned its database skips the scan (it would double
    the start-up of a large state); every other refusal still holds."""
    fleet = _used(tmp_path)
    db = fleet.state / "state-0.db"
    _damage(db, "junk-inside")
    with pytest.raises(StateDamaged, match="integrity check failed"):
        StateStore(db)
    StateStore(db, verify=False).close()  # no scan: the parent's claim() does it
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE counters (party BLOB, value INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StateDamaged, match="not a gbcs-emu state database"):
        StateStore(foreign, verify=False)
