"""Durable state: device state per site and the outbox, in one sqlite3 file (WAL).

:meth:`StateStore.commit` writes a site's new state and the frames it must send in one
transaction, so a command's effects, its counter and its response
are on disk before the response is published. After a crash (even ``kill -9``) a restart
loads exactly what was acknowledged and resends what had not been confirmed sent:
duplicates are possible (and marked by the ``attempts`` count), losses are not.

**Crash test hook.** ``GBCS_CRASH_AT=<point>`` in the environment (unset by default; for
tests only) makes the process kill itself with ``SIGKILL`` the first time a group commit
of commands (:meth:`StateStore.commit_rows` with ``hook=True``) reaches ``<point>``:

* ``before-commit``: the states are serialised, no transaction has begun;
* ``in-commit``: every row is written inside the transaction, which is not committed;
* ``after-commit``: the transaction is committed, nothing of it has been published.

**Checkpoints off the serving thread.** sqlite's automatic WAL checkpoint runs inside the
commit that crosses its threshold and fsyncs there, stalling the event loop for
milliseconds (12–17 ms measured) every thousand pages. The store turns it off and runs
passive checkpoints from a thread of its own, on its own connection, after commits.
Durability is unchanged: a commit is durable once it is in the WAL (``synchronous`` as
before); a checkpoint only copies committed pages into the database file.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deltas import DeltaError, apply_delta
from .statedir import StateDamaged, StateError, UsedSites

__all__ = [
    "CRASH_POINTS",
    "SCHEMA_VERSION",
    "OutboxEntry",
    "SiteWrite",
    "StateStore",
    "assemble_site",
    "crash_point",
    "open_ledger",
    "parse_template",
]

#: The points :func:`crash_point` knows (see the module's docstring).
CRASH_POINTS = ("before-commit", "in-commit", "after-commit")
_CRASH_AT = os.environ.get("GBCS_CRASH_AT", "")


log = logging.getLogger("gbcs.emulator.store")

#: Seconds the checkpoint thread rests after a checkpoint (it then waits for a commit).
CHECKPOINT_INTERVAL = 0.05
#: WAL frames (pages) past which the writer checkpoints itself, in its commit as sqlite
#: would: a writer that never pauses never lets a concurrent checkpoint complete, and the
#: WAL only starts over after a complete one. Four times sqlite's automatic threshold.
WAL_LIMIT = 4000


def crash_point(point: str) -> None:
    """Test hook: ``SIGKILL`` this process if ``GBCS_CRASH_AT`` names ``point``."""
    if _CRASH_AT and point == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


SCHEMA_VERSION = 3
"""1: sites, devices and outbox (unversioned); 2: adds ``meta`` (worker, state id);
3: adds ``deltas`` (each device's changes since its snapshot, see :mod:`.deltas`) and
``templates`` (factory states that devices without a snapshot start from, by content
hash). An older file is upgraded when it is opened: its rows are snapshots without
deltas."""

_MAGIC = b"SQLite format 3\x00"
_TABLES = {"sites", "devices", "outbox"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sites (
    site TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (site, kind)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    frame BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deltas (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    delta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deltas_by_site ON deltas(site, seq);
CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A frame waiting to be published (``attempts`` > 0: it may already have gone out)."""

    id: int
    topic: str
    frame: bytes
    attempts: int


@dataclass(slots=True)
class SiteWrite:
    """What :meth:`StateStore.commit_rows` writes for one site: its own state as JSON text
    (None: unchanged), new device snapshots as JSON text (by type; a snapshot replaces the
    device's row and drops its deltas), device deltas to append (by type), and the
    ``(topic, frame)`` rows to queue."""

    site: str
    own: str | None = None
    devices: dict[str, str] = field(default_factory=dict)
    outbound: Sequence[tuple[str, bytes]] = ()
    deltas: dict[str, str] = field(default_factory=dict)
    #: Factory templates its deltas start from, by id (kept if already stored).
    templates: dict[str, str] = field(default_factory=dict)


class StateStore:
    """sqlite3 in WAL mode; one writer (the worker that owns these sites)."""

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = False,
        must_exist: bool = False,
        meta: dict[str, str] | None = None,
        verify: bool = True,
    ) -> None:
        """Open (or create) the store, refusing a damaged one.

        ``must_exist``: the state directory says this database was created before, so a
        missing or empty file is damage (:class:`StateDamaged`), never a fresh start.
        ``meta``: values the database must carry (e.g. its worker number); recorded
        when new, compared when not. The file is checked (``PRAGMA quick_check``, schema,
        version) before anything is written to it, so a damaged file is left unchanged;
        ``verify=False`` skips only the integrity scan, for a file the same start-up has
        just checked (a worker whose parent opened it first).
        """
        self.path = Path(path)
        existed = self.path.exists()
        size = self.path.stat().st_size if existed else 0
        if must_exist and size == 0:
            what = "is empty (0 bytes)" if existed else "is missing"
            raise StateDamaged(
                f"{self.path} {what}, but this state directory stored devices in it before; "
                "its security counters would be lost. Restore a backup "
                "('gbcs-emu state restore') or move the state directory away"
            )
        if size:
            with open(self.path, "rb") as f:
                head = f.read(len(_MAGIC))
            if head != _MAGIC:
                raise StateDamaged(
                    f"{self.path} is not an SQLite database (damaged header); it was not "
                    "changed. Restore a backup ('gbcs-emu state restore')"
                )
        else:
            from .statedir import touch_private

            try:
                touch_private(self.path)
            except OSError as e:
                raise StateError(f"{self.path}: cannot create: {e.strerror}") from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StateError(f"{self.path}: cannot open: {e}") from None
        self._lock = threading.Lock()
        self._checkpointer: _Checkpointer | None = None  # started by the first commit
        try:
            if size:
                self._verify(verify)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed transaction survives any crash of this process
            # (kill -9 included); FULL also survives an OS crash or power loss, at an
            # fsync per commit.
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # see _Checkpointer
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            stored = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            for key, value in (meta or {}).items():
                if key not in stored:
                    self._db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
                elif stored[key] != value:
                    self._db.execute("ROLLBACK")
                    raise StateDamaged(
                        f"{self.path} belongs to {key} {stored[key]}, not {value}; "
                        "it was not changed (was it copied or renamed?)"
                    )
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            self._db.close()
            if "readonly" in str(e) or "read-only" in str(e) or "unable to open" in str(e):
                raise StateError(
                    f"{self.path}: cannot write ({e}); check its permissions"
                ) from None
            raise StateDamaged(f"{self.path}: {e}; it was not changed") from None
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StateDamaged(
                f"{self.path} is damaged ({e}); it was not changed. Restore a backup "
                "('gbcs-emu state restore')"
            ) from None

    def _verify(self, integrity: bool = True) -> None:
        """Integrity (unless ``integrity`` is false), schema and version of an existing
        file, read-only."""
        if integrity:
            check = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                first = "; ".join(c.replace("\n", " ") for c in check[:2])
                raise sqlite3.DatabaseError(f"integrity check failed: {first}")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer gbcs-emu (schema {version}; this "
                f"version reads up to {SCHEMA_VERSION})"
            )
        tables = {
            r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        tables.discard("sqlite_sequence")
        if tables and not tables >= _TABLES:
            raise StateDamaged(
                f"{self.path} is not a gbcs-emu state database (tables: "
                f"{', '.join(sorted(tables))}); it was not changed"
            )

    def close(self) -> None:
        """Stop the checkpoint thread and close the database (which checkpoints it)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._lock:
            self._db.close()

    def _committed(self) -> None:
        """A write transaction committed: let the checkpoint thread catch up (or, past
        :data:`WAL_LIMIT`, checkpoint here)."""
        if self._checkpointer is None:
            self._checkpointer = _Checkpointer(self.path)
        if self._checkpointer.wal_frames > WAL_LIMIT:
            self._checkpointer.wal_frames = 0
            with self._lock:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._checkpointer.poke()

    # ------------------------------------------------------------------- sites

    def load_site(self, site: str) -> dict[str, Any] | None:
        """The site's saved state: its own fields plus ``devices`` by type, each its
        snapshot (or its factory template) with its deltas applied (:func:`assemble_site`).
        A device with neither (never changed since it was built) is absent: it is its
        factory state. Damaged rows raise :class:`StateDamaged`.
        """
        with self._lock:
            row = self._db.execute("SELECT state FROM sites WHERE site = ?", (site,)).fetchone()
            devs = self._db.execute(
                "SELECT kind, state FROM devices WHERE site = ?", (site,)
            ).fetchall()
            deltas = self._db.execute(
                "SELECT seq, kind, delta FROM deltas WHERE site = ? ORDER BY seq", (site,)
            ).fetchall()
        if row is None:
            if devs or deltas:
                raise StateDamaged(f"{self.path}: site {site} has device rows but no site row")
            return None
        return assemble_site(self.path, site, row[0], devs, deltas, self.template)

    def site_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT site FROM sites ORDER BY site")]

    def commit(
        self,
        site: str,
        state: dict[str, Any] | None,
        outbound: Iterable[tuple[str, bytes]] = (),
        now: float = 0.0,
    ) -> list[int]:
        """Store a site's state (None: unchanged) and queue frames, atomically.

        ``state["devices"]`` may hold only the devices that changed; the others keep
        their stored rows.
        """
        return self.commit_many([(site, state, outbound)], now)

    def commit_many(
        self,
        entries: Iterable[tuple[str, dict[str, Any] | None, Iterable[tuple[str, bytes]]]],
        now: float = 0.0,
    ) -> list[int]:
        """:meth:`commit` for several sites, ``(site, state, outbound)`` each, in one
        transaction (all or nothing). Returns the outbox ids, in order."""
        writes = []
        for site, state, outbound in entries:
            w = SiteWrite(site, outbound=list(outbound))
            if state is not None:
                own = {k: v for k, v in state.items() if k != "devices"}
                w.own = json.dumps(own, separators=(",", ":"))
                w.devices = {
                    k: json.dumps(v, separators=(",", ":"))
                    for k, v in state.get("devices", {}).items()
                }
            writes.append(w)
        return self.commit_rows(writes, now)

    def commit_rows(
        self, writes: Iterable[SiteWrite], now: float = 0.0, *, hook: bool = False
    ) -> list[int]:
        """Write already serialised site states and queue their frames, in one
        transaction (all or nothing), in order. Returns the outbox ids, in order.

        A site's row is (re)written only with ``own`` text; a device's only when it is
        in ``devices``. ``hook``: this is a group commit of commands, where the crash
        test hook (:func:`crash_point`) may stop the process.
        """
        if hook:
            crash_point("before-commit")
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                ids = []
                for w in writes:
                    if w.own is not None:
                        cur.execute(
                            "INSERT INTO sites(site, state, updated) VALUES (?, ?, ?) "
                            "ON CONFLICT(site) DO UPDATE SET state = excluded.state, "
                            "updated = excluded.updated",
                            (w.site, w.own, now),
                        )
                    if w.devices:
                        cur.executemany(
                            "INSERT INTO devices(site, kind, state) VALUES (?, ?, ?) "
                            "ON CONFLICT(site, kind) DO UPDATE SET state = excluded.state",
                            [(w.site, kind, text) for kind, text in w.devices.items()],
                        )
                        cur.executemany(
                            "DELETE FROM deltas WHERE site = ? AND kind = ?",
                            [(w.site, kind) for kind in w.devices],
                        )
                    if w.templates:
                        cur.executemany(
                            "INSERT OR IGNORE INTO templates(id, state) VALUES (?, ?)",
                            list(w.templates.items()),
                        )
                    if w.deltas:
                        cur.executemany(
                            "INSERT INTO deltas(site, kind, delta) VALUES (?, ?, ?)",
                            [(w.site, kind, text) for kind, text in w.deltas.items()],
                        )
                    for topic, frame in w.outbound:
                        cur.execute(
                            "INSERT INTO outbox(topic, frame) VALUES (?, ?)", (topic, frame)
                        )
                        ids.append(int(cur.lastrowid or 0))
                if hook:
                    crash_point("in-commit")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        self._committed()
        if hook:
            crash_point("after-commit")
        return ids

    # ------------------------------------------------------------------ outbox

    def pending(self, limit: int = 1000) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, frame, attempts FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [OutboxEntry(int(a), str(b), bytes(c), int(d)) for a, b, c, d in rows]

    def pending_after(self, after: int, limit: int) -> list[OutboxEntry]:
        """The first ``limit`` entries whose id is above ``after``, in order (a publisher
        that has handed out everything up to ``after`` takes the next ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, frame, attempts FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [OutboxEntry(int(a), str(b), bytes(c), int(d)) for a, b, c, d in rows]

    def attempt(self, entry_id: int) -> None:
        """Record a publish attempt before it is made (so a crash marks it maybe-sent)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", (entry_id,))

    def sent(self, entry_id: int) -> None:
        """The transport confirmed the frame: forget it."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def attempt_many(self, entry_ids: Sequence[int]) -> None:
        """:meth:`attempt` for several entries, in one transaction."""
        self._many("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", entry_ids)

    def sent_many(self, entry_ids: Sequence[int]) -> None:
        """:meth:`sent` for several entries, in one transaction."""
        self._many("DELETE FROM outbox WHERE id = ?", entry_ids)

    def sent_and_attempt(self, sent: Sequence[int], attempting: Sequence[int]) -> None:
        """:meth:`sent_many` and :meth:`attempt_many` in one transaction (a publisher's
        turn: forget what was acknowledged, mark what it is about to hand over)."""
        if not sent or not attempting:
            self.sent_many(sent)
            self.attempt_many(attempting)
            return
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in sent])
                cur.executemany(
                    "UPDATE outbox SET attempts = attempts + 1 WHERE id = ?",
                    [(i,) for i in attempting],
                )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        self._committed()

    def _many(self, sql: str, entry_ids: Sequence[int]) -> None:
        if not entry_ids:
            return
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany(sql, [(i,) for i in entry_ids])
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        self._committed()

    def outbox_size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # ------------------------------------------------------------------ tools

    def meta(self) -> dict[str, str]:
        """The database's own records (worker, state id)."""
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored device state: ``(site, kind, state)``, deltas applied (for checks
        and migrations; a device without a snapshot shows only what its deltas set)."""
        for site in self.site_ids():
            saved = self.load_site(site)
            if saved is not None:
                for kind, state in saved["devices"].items():
                    yield site, kind, state

    def template(self, template_id: str) -> dict[str, Any]:
        """A stored factory template, freshly parsed (:class:`StateDamaged` when it is
        missing or damaged: the devices that start from it could not be rebuilt)."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM templates WHERE id = ?", (template_id,)
            ).fetchone()
        return parse_template(self.path, template_id, None if row is None else row[0])

    def template_ids(self) -> set[str]:
        """The ids of every stored factory template."""
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM templates")}

    def delta_counts(self, site: str) -> dict[str, int]:
        """How many deltas each device of ``site`` has since its snapshot."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, COUNT(*) FROM deltas WHERE site = ? GROUP BY kind", (site,)
            ).fetchall()
        return {str(k): int(n) for k, n in rows}

    def delta_count(self) -> int:
        """Deltas not yet folded into snapshots."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM deltas").fetchone()[0])

    def copy_site_from(self, other: StateStore, site: str) -> None:
        """Copy one site's rows from ``other`` as they are (a migration moves sites)."""
        with other._lock:
            own = other._db.execute(
                "SELECT state, updated FROM sites WHERE site = ?", (site,)
            ).fetchone()
            devs = other._db.execute(
                "SELECT kind, state FROM devices WHERE site = ?", (site,)
            ).fetchall()
            deltas = other._db.execute(
                "SELECT kind, delta FROM deltas WHERE site = ? ORDER BY seq", (site,)
            ).fetchall()
            templates = other._db.execute("SELECT id, state FROM templates").fetchall()
        if own is None:
            raise KeyError(site)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "INSERT OR REPLACE INTO sites(site, state, updated) VALUES (?, ?, ?)",
                    (site, own[0], own[1]),
                )
                cur.executemany(
                    "INSERT OR REPLACE INTO devices(site, kind, state) VALUES (?, ?, ?)",
                    [(site, k, v) for k, v in devs],
                )
                cur.execute("DELETE FROM deltas WHERE site = ?", (site,))
                cur.executemany(
                    "INSERT INTO deltas(site, kind, delta) VALUES (?, ?, ?)",
                    [(site, k, v) for k, v in deltas],
                )
                cur.executemany(
                    "INSERT OR IGNORE INTO templates(id, state) VALUES (?, ?)", templates
                )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def copy_outbox_from(self, other: StateStore) -> int:
        """Append ``other``'s unsent frames (a migration keeps them); returns how many."""
        entries = other.pending(10**9)
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany(
                "INSERT INTO outbox(topic, frame, attempts) VALUES (?, ?, ?)",
                [(e.topic, e.frame, e.attempts) for e in entries],
            )
            cur.execute("COMMIT")
        return len(entries)

    def backup_to(self, path: Path) -> None:
        """A consistent online copy (sqlite's backup API) at ``path``, mode 0600."""
        from .statedir import touch_private

        touch_private(path)
        dst = sqlite3.connect(path)
        try:
            with self._lock:
                self._db.backup(dst)
        finally:
            dst.close()

    def integrity(self) -> list[str]:
        """``PRAGMA integrity_check`` (the full one): ``["ok"]`` when sound."""
        with self._lock:
            return [r[0] for r in self._db.execute("PRAGMA integrity_check").fetchall()]


class _Checkpointer:
    """A daemon thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection
    after commits, at most every :data:`CHECKPOINT_INTERVAL` seconds. A passive
    checkpoint never blocks the writer; one that fails is retried after the next commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._due = threading.Event()
        self._stop = threading.Event()
        self.wal_frames = 0  # frames in the WAL at the last checkpoint
        self._thread = threading.Thread(
            target=self._run, name=f"checkpoint {path.name}", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        self._due.set()

    def stop(self) -> None:
        self._stop.set()
        self._due.set()
        self._thread.join()

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                self._due.wait()
                self._due.clear()
                if self._stop.is_set():
                    return
                try:
                    if db is None:
                        db = sqlite3.connect(self.path, isolation_level=None, timeout=0)
                    row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.wal_frames = int(row[1]) if row else 0
                except sqlite3.Error as e:  # busy or unwritable: the next commit retries
                    log.debug("checkpoint of %s deferred: %s", self.path, e)
                self._stop.wait(CHECKPOINT_INTERVAL)
        finally:
            if db is not None:
                db.close()


def parse_template(path: Path, template_id: str, text: str | None) -> dict[str, Any]:
    """A stored factory template's JSON ``text`` (None: it is missing), freshly parsed;
    :class:`StateDamaged` when it is missing or damaged (the devices that start from it
    could not be rebuilt)."""
    try:
        if text is None:
            raise ValueError("missing")
        state = json.loads(text)
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise StateDamaged(
            f"{path}: factory template {template_id} is damaged ({e}); "
            "it was not changed. Restore a backup ('gbcs-emu state restore')"
        ) from None
    return state


def assemble_site(
    path: Path,
    site: str,
    own: str,
    devices: Iterable[tuple[str, str]],
    deltas: Iterable[tuple[int, str, str]],
    template: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """A site's state from its rows (see :meth:`StateStore.load_site`): the site row's
    JSON, ``(kind, snapshot)`` rows, ``(seq, kind, delta)`` rows in order, and
    ``template(id)``, a fresh copy of a stored factory template. A device's state is its
    snapshot, else the factory template its site row names (``factory``), with its
    deltas applied. Damage raises :class:`StateDamaged`."""
    try:
        state: dict[str, Any] = json.loads(own)
        if not isinstance(state, dict):
            raise ValueError("the site row is not an object")
        devs: dict[str, Any] = {}
        for kind, text in devices:
            devs[kind] = json.loads(text)
            if not isinstance(devs[kind], dict):
                raise ValueError(f"the {kind} snapshot is not an object")
        factory = state.get("factory", {})
        if not isinstance(factory, dict):
            raise ValueError("its factory templates are not an object")
    except ValueError as e:
        raise StateDamaged(f"{path}: site {site}: {e}; it was not changed") from None
    for seq, kind, text in deltas:
        try:
            if kind not in devs:
                tid = factory.get(kind)
                if not isinstance(tid, str):
                    raise DeltaError("no snapshot and no factory template to start from")
                devs[kind] = template(tid)
            apply_delta(devs[kind], json.loads(text))
        except (ValueError, DeltaError) as e:
            raise StateDamaged(
                f"{path}: site {site} {kind}: delta {seq} is damaged ({e}); it was not changed"
            ) from None
    state["devices"] = devs
    return state


def open_ledger(store: StateStore, path: Path) -> UsedSites:
    """The ledger of the sites ``store`` has ever held, checked against it.

    A site in the ledger but not in the database is damage (its counters would restart
    from zero): :class:`StateError`. A site in the database but not in the ledger was
    stored by a run that crashed before its ledger line: it is added.
    """
    used = UsedSites(path)
    stored = set(store.site_ids())
    lost = sorted(used.sites - stored)
    if lost:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise StateDamaged(
            f"{store.path} has no state for {len(lost)} site(s) it stored before "
            f"({shown}); their security counters would be reset. Restore a backup "
            "('gbcs-emu state restore'); nothing was changed"
        )
    used.add(sorted(stored - used.sites))
    return used
