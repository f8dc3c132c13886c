"""Operator tools for a state directory: check, backup, restore and migrate.

* :func:`check` reads everything (read-only) and lists what is wrong.
* :func:`backup` copies a running or stopped emulator's state consistently (sqlite's
  online backup API, the ledgers first so that a restored database never lacks a site
  its ledger names), with ``state.json`` and the PKI, all mode 0600 in a 0700 folder.
* :func:`restore` puts a backup back under the directory's lock. It refuses when any
  security counter of any device would go back (or a used site would vanish), unless
  ``accept_rollback``: a rolled-back counter lets every command since be replayed. The
  files it replaces are moved aside, never deleted.
* :func:`migrate` moves every site, with its counters, to the databases of a new layout
  (workers, shard, sites, seed or configuration), keeping the old files aside.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import FleetConfig
from .launch import fleet_layout
from .statedir import (
    INFO_NAME,
    StateDamaged,
    StateError,
    StateInfo,
    UsedSites,
    acquire_lock,
    ensure_dir,
    load_info,
    private_write,
    touch_private,
    write_info,
)
from .store import StateStore, assemble_site, parse_template

__all__ = [
    "Finding",
    "backup",
    "check",
    "counters_of",
    "migrate",
    "restore",
    "site_device_states",
]

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of :func:`check`: ``ok`` or a problem, with the file it concerns."""

    path: str
    ok: bool
    detail: str


def _databases(state: Path, info: StateInfo | None) -> list[str]:
    names = set(info.databases if info else ()) | {p.name for p in state.glob("state-*.db")}
    return sorted(names)


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _worker_of(db: str) -> int:
    return int(db.removeprefix("state-").removesuffix(".db"))


def check(state: Path) -> list[Finding]:
    """Everything :class:`~.store.StateStore` and the emulator would refuse, read-only."""
    out: list[Finding] = []
    if not state.is_dir():
        return [Finding(str(state), False, "not a directory")]
    try:
        info = load_info(state)
    except StateError as e:
        info = None
        out.append(Finding(str(state / INFO_NAME), False, str(e)))
    else:
        if info is None:
            out.append(Finding(str(state / INFO_NAME), False, "missing (never started?)"))
        else:
            layout = info.layout
            shape = (
                f"{layout.sites} site(s), workers {layout.first}..{layout.first + layout.count - 1}"
                f" of {layout.workers}"
                if layout
                else "no layout yet"
            )
            out.append(
                Finding(
                    str(state / INFO_NAME), True, f"id {info.id}, {shape}, seed {info.seed_source}"
                )
            )
    for db in _databases(state, info):
        path = state / db
        expected = info is not None and db in info.databases
        if not path.exists() or path.stat().st_size == 0:
            what = "missing" if not path.exists() else "empty (0 bytes)"
            out.append(
                Finding(str(path), not expected, what + (" but used before" if expected else ""))
            )
            continue
        bad = [f for f in check_db(path) if not f.ok]
        if bad:
            out.extend(bad)
            continue
        try:
            con = _ro(path)
            try:
                sites = {r[0] for r in con.execute("SELECT site FROM sites")}
                outbox = con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
                deltas = (
                    con.execute("SELECT COUNT(*) FROM deltas").fetchone()[0]
                    if "deltas" in tables
                    else 0
                )
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            out.append(Finding(str(path), False, f"damaged: {e}"))
            continue
        try:
            for _ in device_states(path):  # every snapshot and delta reads and applies
                pass
        except (StateDamaged, sqlite3.DatabaseError) as e:
            out.append(Finding(str(path), False, f"damaged: {e}"))
            continue
        ledger_path = state / f"used-{_worker_of(db)}.txt"
        try:
            used = UsedSites(ledger_path).sites
        except StateDamaged as e:
            out.append(Finding(str(ledger_path), False, str(e)))
            used = set()
        lost = sorted(used - sites)
        if lost:
            out.append(
                Finding(str(path), False, f"{len(lost)} used site(s) have no state: {lost[:5]}")
            )
        else:
            out.append(
                Finding(
                    str(path),
                    True,
                    f"{len(sites)} site(s), {outbox} frame(s) queued, "
                    f"{deltas} delta(s) not yet in snapshots",
                )
            )
    for p in [state / INFO_NAME, state / "run.json", *state.glob("state-*.db")]:
        if p.exists() and p.stat().st_mode & 0o077:
            out.append(Finding(str(p), False, f"mode {p.stat().st_mode & 0o777:o}: should be 600"))
    return out


# ---------------------------------------------------------------------- counters


def counters_of(path: Path) -> dict[tuple[str, str], dict[str, int]]:
    """Every device's security counters in a database: ``(site, type) -> {name: value}``.

    ``own`` is the device's own originator counter; ``from:<eui>`` the last counter
    accepted from each remote party. Deltas count (a device without a snapshot shows what
    its deltas set: a factory device has accepted nothing); a damaged row raises
    :class:`StateDamaged`.
    """
    out: dict[tuple[str, str], dict[str, int]] = {}
    for site, kind, state in device_states(path):
        c = {f"from:{k}": int(v) for k, v in state.get("counters", {}).items()}
        c["own"] = int(state.get("own_counter", 0))
        out[(site, kind)] = c
    return out


def device_states(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(site, type, state)`` for every device stored in a database (read-only), each
    its snapshot (or factory template) with its deltas applied; databases of every
    schema version. Damage raises :class:`StateDamaged`."""
    con = _ro(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        sites = con.execute("SELECT site, state FROM sites ORDER BY site").fetchall()
        devs: dict[str, list[tuple[str, str]]] = {}
        for site, kind, text in con.execute("SELECT site, kind, state FROM devices"):
            devs.setdefault(site, []).append((kind, text))
        deltas: dict[str, list[tuple[int, str, str]]] = {}
        templates: dict[str, str] = {}
        if "deltas" in tables:
            for seq, site, kind, text in con.execute(
                "SELECT seq, site, kind, delta FROM deltas ORDER BY seq"
            ):
                deltas.setdefault(site, []).append((seq, kind, text))
        if "templates" in tables:
            templates = dict(con.execute("SELECT id, state FROM templates").fetchall())
    finally:
        con.close()

    def template(tid: str) -> dict[str, Any]:
        return parse_template(path, tid, templates.get(tid))

    for site, own in sites:
        state = assemble_site(path, site, own, devs.get(site, ()), deltas.get(site, ()), template)
        for kind, dev in state["devices"].items():
            yield site, kind, dev


def site_device_states(state: Path, site: str) -> dict[str, dict[str, Any]]:
    """The stored state of each device of ``site`` (type -> state; empty for a site never
    written: its devices are still as the factory made them), read-only, from whichever
    worker database holds it. Damage raises :class:`StateDamaged`."""
    for path in sorted(state.glob("state-*.db")):
        con = _ro(path)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            row = con.execute("SELECT state FROM sites WHERE site = ?", (site,)).fetchone()
            if row is None:
                continue
            devs = con.execute("SELECT kind, state FROM devices WHERE site = ?", (site,)).fetchall()
            deltas: list[tuple[int, str, str]] = []
            if "deltas" in tables:
                deltas = con.execute(
                    "SELECT seq, kind, delta FROM deltas WHERE site = ? ORDER BY seq", (site,)
                ).fetchall()
            templates: dict[str, str] = {}
            if "templates" in tables:
                templates = dict(con.execute("SELECT id, state FROM templates").fetchall())
        finally:
            con.close()

        def template(tid: str, path: Path = path, templates: dict[str, str] = templates) -> Any:
            return parse_template(path, tid, templates.get(tid))

        assembled = assemble_site(path, site, row[0], devs, deltas, template)
        return dict(assembled["devices"])
    return {}


def _rollbacks(current: Path, candidate: Path) -> Iterator[str]:
    """Where ``candidate`` holds a lower counter, or lacks a device, than ``current``."""
    now, then = counters_of(current), counters_of(candidate)
    for key, counters in sorted(now.items()):
        old = then.get(key)
        if old is None:
            yield f"{key[0]} {key[1]}: missing from the backup"
            continue
        for name, value in counters.items():
            if old.get(name, 0) < value:
                yield f"{key[0]} {key[1]} {name}: {value} -> {old.get(name, 0)}"


# ------------------------------------------------------------------------ backup


def backup(state: Path, dest: Path, progress: Progress | None = None) -> list[Path]:
    """Copy ``state`` into the new folder ``dest`` (online, consistent); returns the files."""
    info = load_info(state)
    if info is None:
        raise StateError(f"{state}: no state.json: nothing to back up")
    if dest.exists() and any(dest.iterdir()):
        raise StateError(f"backup folder {dest} exists and is not empty")
    try:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(dest, 0o700)
    except OSError as e:
        raise StateError(f"backup folder {dest}: {e.strerror}") from None
    written: list[Path] = []
    for ledger in sorted(state.glob("used-*.txt")):  # before the databases: see above
        private_write(dest / ledger.name, ledger.read_bytes())
        written.append(dest / ledger.name)
    for db in info.databases:
        if progress:
            progress(f"backing up {db}")
        bad = [f for f in check_db(state / db) if not f.ok]
        if bad:
            raise StateDamaged(f"cannot back up {state / db}: {bad[0].detail}")
        touch_private(dest / db)
        src, dst = _ro(state / db), sqlite3.connect(dest / db)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        written.append(dest / db)
    write_info(dest, info)
    written.append(dest / INFO_NAME)
    if (state / "pki").is_dir():
        shutil.copytree(state / "pki", dest / "pki")
        written.append(dest / "pki")
    private_write(
        dest / "backup.json", json.dumps({"from": str(state.resolve()), "at": time.time()})
    )
    return written


# ----------------------------------------------------------------------- restore


def restore(
    state: Path, source: Path, *, accept_rollback: bool = False, progress: Progress | None = None
) -> list[str]:
    """Put the backup ``source`` back into ``state`` (which must not be in use).

    Returns what was rolled back (empty unless ``accept_rollback``). Replaced files go
    to ``state/replaced-<time>/``.
    """
    binfo = load_info(source)
    if binfo is None:
        raise StateError(f"{source} is not a backup (no state.json)")
    for db in binfo.databases:
        findings = [f for f in check_db(source / db) if not f.ok]
        if findings:
            raise StateDamaged(f"backup {source / db}: {findings[0].detail}")
    ensure_dir(state)
    lock = acquire_lock(state, command="gbcs-emu state restore")
    try:
        rolled: list[str] = []
        unreadable: list[str] = []
        for db in binfo.databases:
            current = state / db
            if not current.exists() or current.stat().st_size == 0:
                continue
            bad = [f for f in check_db(current) if not f.ok]
            if bad:
                unreadable.append(f"{current}: {bad[0].detail}")
                continue
            rolled.extend(_rollbacks(current, source / db))
        info = load_info_or_none(state)
        if info is not None:
            for db in info.databases:
                if db not in binfo.databases:
                    rolled.append(f"{db}: not in the backup")
        if (unreadable or rolled) and not accept_rollback:
            why = []
            if rolled:
                shown = "; ".join(rolled[:5])
                more = f" and {len(rolled) - 5} more" if len(rolled) > 5 else ""
                why.append(f"it would roll security counters back ({shown}{more})")
            if unreadable:
                why.append(
                    "the current state cannot be read to prove it would not roll counters "
                    f"back ({unreadable[0]})"
                )
            raise StateError(
                f"restore refused: {' and '.join(why)}; every command since could be "
                "replayed. Pass --accept-rollback to restore anyway"
            )
        aside = state / f"replaced-{time.strftime('%Y%m%dT%H%M%S')}"
        aside.mkdir(mode=0o700)
        names = [INFO_NAME, *binfo.databases, *(p.name for p in source.glob("used-*.txt"))]
        for name in names:
            for suffix in ("", "-wal", "-shm"):
                p = state / (name + suffix)
                if p.exists():
                    p.rename(aside / p.name)
        for name in names:
            if progress:
                progress(f"restoring {name}")
            private_write(state / name, (source / name).read_bytes())
        if (source / "pki").is_dir() and not (state / "pki").exists():
            shutil.copytree(source / "pki", state / "pki")
        return rolled if accept_rollback else []
    finally:
        lock.release()


def load_info_or_none(state: Path) -> StateInfo | None:
    try:
        return load_info(state)
    except StateError:
        return None


def check_db(path: Path) -> list[Finding]:
    """The checks of :func:`check` for one database file."""
    if not path.exists() or path.stat().st_size == 0:
        return [Finding(str(path), False, "missing or empty")]
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            return [Finding(str(path), False, "not an SQLite database (damaged header)")]
    try:
        con = _ro(path)
        try:
            result = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        return [Finding(str(path), False, f"damaged: {e}")]
    if result != ["ok"]:
        return [Finding(str(path), False, "integrity: " + "; ".join(result[:2]))]
    if not {"sites", "devices", "outbox"} <= tables:
        return [Finding(str(path), False, "not a gbcs-emu state database")]
    return [Finding(str(path), True, "ok")]


# ----------------------------------------------------------------------- migrate


def migrate(
    state: Path,
    config: FleetConfig,
    *,
    first: int,
    count: int,
    total: int,
    seed: bytes | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Move every stored site to the databases of the new layout, counters and all.

    Sites outside the new fleet would be lost: refused. The old databases and ledgers
    are moved to ``state/pre-migrate-<time>/``.
    """
    if not (state / INFO_NAME).is_file():
        raise StateError(f"{state}: no state.json: nothing to migrate")
    lock = acquire_lock(state, command="gbcs-emu state migrate")
    try:
        info = load_info(state)
        if info is None:
            raise StateError(f"{state}: no state.json: nothing to migrate")
        new_seed = seed if seed is not None else (config.seed or info.seed_bytes)
        config.seed = new_seed
        layout = fleet_layout(config, new_seed, first, count, total)
        sources: dict[str, StateStore] = {}
        try:
            for db in info.databases:
                sources[db] = StateStore(state / db, must_exist=True)
            where: dict[str, str] = {}
            for db, store in sources.items():
                for site in store.site_ids():
                    where[site] = db
            index_of = {config.site_config(i).site_id: i for i in _indices(config, where)}
            outside = sorted(s for s in where if s not in index_of)
            if outside:
                raise StateError(
                    f"{len(outside)} stored site(s) are outside the new fleet ({outside[:5]}): "
                    "they would be lost with their counters; keep --sites at least as large"
                )
            mine = [w for w in range(first, first + count)]
            foreign = sorted(s for s, i in index_of.items() if s in where and i % total not in mine)
            if foreign:
                raise StateError(
                    f"{len(foreign)} stored site(s) belong to workers outside "
                    f"{first}..{first + count - 1} in the new layout ({foreign[:5]}); "
                    "migrate into a shard that covers them"
                )
            tmp = state / f".migrate-{os.getpid()}"
            tmp.mkdir(mode=0o700)
            targets = {
                w: StateStore(tmp / f"state-{w}.db", meta={"worker": str(w), "state": info.id})
                for w in mine
            }
            ledgers = {w: UsedSites(tmp / f"used-{w}.txt") for w in mine}
            for moved, (site, db) in enumerate(sorted(where.items()), 1):
                w = index_of[site] % total
                targets[w].copy_site_from(sources[db], site)
                ledgers[w].add((site,))
                if progress and moved % 1000 == 0:
                    progress(f"moved {moved} of {len(where)} sites")
            queued = 0
            for store in sources.values():  # unsent frames go out from the first worker
                queued += targets[mine[0]].copy_outbox_from(store)
            for t in targets.values():
                t.close()
            for led in ledgers.values():
                led.close()
        finally:
            for s in sources.values():
                s.close()
        aside = state / f"pre-migrate-{time.strftime('%Y%m%dT%H%M%S')}"
        aside.mkdir(mode=0o700)
        for db in info.databases:
            for suffix in ("", "-wal", "-shm"):
                p = state / (db + suffix)
                if p.exists():
                    p.rename(aside / p.name)
        for p in state.glob("used-*.txt"):
            p.rename(aside / p.name)
        private_write(aside / INFO_NAME, info.to_json())
        for p in tmp.iterdir():
            p.rename(state / p.name)
        tmp.rmdir()
        new_info = replace(
            info,
            layout=layout,
            databases=[f"state-{w}.db" for w in mine],
            seed=new_seed.hex(),
            seed_source="option" if seed is not None else info.seed_source,
        )
        write_info(state, new_info)
        return {"sites": len(where), "frames": queued, "aside": str(aside), "layout": layout}
    finally:
        lock.release()


def _indices(config: FleetConfig, stored: dict[str, str]) -> Iterator[int]:
    """Fleet indices worth mapping: those of the stored site ids within the new fleet."""
    for site in stored:
        if config.sites == 1:
            if site == config.site_config(0).site_id:
                yield 0
            continue
        try:
            i = int(site.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            continue
        if 0 <= i < config.sites and config.site_config(i).site_id == site:
            yield i
