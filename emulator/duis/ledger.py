"""The DUIS service's memory of requests (issue 16): never the same RequestID twice.

A :class:`RequestLedger` is an SQLite file in the state folder (created 0600). Before the
service acts on a request it asks :meth:`RequestLedger.admit`, which decides and records
in one transaction:

* a ``RequestID`` seen before is :attr:`Admit.REPEATED`: never executed twice, even across
  a restart;
* a counter not above the last one accepted from the same user (the RequestID's
  originator) is :attr:`Admit.STALE`. The rule is per user, as the DCC Boxed signing tool
  keeps it (a strictly rising millisecond time per user);
* a signed pre-command (command variants 5-7) reuses the RequestID of its critical
  request (variant 4): it is admitted once, and only after that request's pre-command
  was returned (:meth:`record_pre_command`). Without one it is
  :attr:`Admit.NO_PRE_COMMAND`; a second one is :attr:`Admit.REPEATED`.

It also keeps the callback outbox: the signed responses and alerts for users' callback
URLs, until each is taken (:meth:`enqueue`, :meth:`due`, :meth:`delivered`, :meth:`retry`).

Durability: WAL with ``synchronous=NORMAL``. A request admitted (its transaction
committed) survives any crash of the process, ``kill -9`` included; an OS crash or power
loss can lose the last commits, as in the emulator's own state store. A damaged file is
refused, never replaced.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from emulator.duis.model import RequestId
from emulator.runtime.statedir import StateDamaged, StateError, touch_private

__all__ = ["Admit", "Admitted", "RequestLedger"]

SCHEMA_VERSION = 1
_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    originator TEXT NOT NULL,
    counter INTEGER NOT NULL,
    command_variant INTEGER NOT NULL,
    srv TEXT NOT NULL,
    stage TEXT NOT NULL,
    pre_command BLOB,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    originator TEXT PRIMARY KEY,
    counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due TEXT NOT NULL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS dcc_counter (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS statuses (
    device TEXT PRIMARY KEY,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sent (
    device TEXT NOT NULL,
    originator TEXT NOT NULL,
    counter INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, originator, counter)
)
"""
_SIGNED_CVS = (5, 6, 7)


class Admit(StrEnum):
    """What the ledger decided for a request."""

    NEW = "new"
    REPEATED = "repeated"
    STALE = "stale"
    NO_PRE_COMMAND = "no-pre-command"


@dataclass(frozen=True, slots=True)
class Admitted:
    """The decision, and for an admitted signed pre-command the pre-command that was
    returned for its RequestID (the signed one must be it)."""

    verdict: Admit
    reason: str = ""
    pre_command: bytes | None = None

    @property
    def ok(self) -> bool:
        """True: act on the request."""
        return self.verdict is Admit.NEW


class RequestLedger:
    """The request ledger at ``path`` (made 0600 on first use; a damaged file refused)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            with path.open("rb") as f:
                if f.read(len(_MAGIC)) != _MAGIC:
                    raise StateDamaged(f"{path} is not an SQLite database; it was not changed")
        else:
            try:
                touch_private(path)
            except OSError as e:
                raise StateError(f"{path}: cannot create: {e.strerror}") from None
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StateError(f"{path}: cannot open: {e}") from None
        try:
            if exists:
                self._check()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StateDamaged(f"{path} is damaged ({e}); it was not changed") from None

    def _check(self) -> None:
        (result,) = self._db.execute("PRAGMA integrity_check").fetchone()
        if result != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {result}")
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the file (every admitted request is already on disk)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> RequestLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def admit(self, rid: RequestId, command_variant: int, srv: str, now: datetime) -> Admitted:
        """Decide on a request and, if it is admitted, record it (one transaction)."""
        key = rid.format()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                decision = self._decide(key, rid, command_variant, srv, now)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return decision

    def _decide(self, key: str, rid: RequestId, cv: int, srv: str, now: datetime) -> Admitted:
        row = self._db.execute(
            "SELECT stage, pre_command FROM requests WHERE request_id = ?", (key,)
        ).fetchone()
        if cv in _SIGNED_CVS:
            if row is None or row[0] == "received":
                return Admitted(
                    Admit.NO_PRE_COMMAND,
                    f"{key}: no pre-command was returned for this RequestID (command variant "
                    "4 first)",
                )
            if row[0] != "pre-command":
                return Admitted(Admit.REPEATED, f"{key}: its signed pre-command was taken")
            self._db.execute(
                "UPDATE requests SET stage = 'signed', at = ? WHERE request_id = ?",
                (now.isoformat(), key),
            )
            return Admitted(Admit.NEW, pre_command=row[1])
        if row is not None:
            return Admitted(Admit.REPEATED, f"{key}: this RequestID was received before")
        originator = rid.originator_eui.hex().upper()
        last = self._db.execute(
            "SELECT counter FROM counters WHERE originator = ?", (originator,)
        ).fetchone()
        if last is not None and rid.counter <= last[0]:
            return Admitted(
                Admit.STALE,
                f"{key}: counter {rid.counter} is not above {last[0]}, the last from "
                f"{rid.originator}",
            )
        self._db.execute(
            "INSERT INTO requests(request_id, originator, counter, command_variant, srv, stage,"
            " at) VALUES (?, ?, ?, ?, ?, 'received', ?)",
            (key, originator, rid.counter, cv, srv, now.isoformat()),
        )
        self._db.execute(
            "INSERT INTO counters(originator, counter) VALUES (?, ?) ON CONFLICT(originator) "
            "DO UPDATE SET counter = excluded.counter",
            (originator, rid.counter),
        )
        return Admitted(Admit.NEW)

    def record_pre_command(self, rid: RequestId, pre_command: bytes) -> None:
        """The pre-command returned for the critical request ``rid`` (admitted before):
        its signed form may now come back once (command variants 5-7)."""
        key = rid.format()
        with self._lock:
            changed = self._db.execute(
                "UPDATE requests SET stage = 'pre-command', pre_command = ? "
                "WHERE request_id = ? AND stage = 'received'",
                (pre_command, key),
            ).rowcount
        if changed != 1:
            raise ValueError(f"{key}: not a request waiting for its pre-command")

    def next_dcc_counter(self, now: datetime) -> int:
        """The DCC's own next counter, for GBCS it originates: the time in milliseconds
        since 1970, or one more than the last given if that is not below it; kept, so
        it rises across restarts whatever the clock does."""
        wanted = int(now.timestamp() * 1000)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT counter FROM dcc_counter WHERE one = 1").fetchone()
            counter = wanted if row is None else max(wanted, int(row[0]) + 1)
            self._db.execute(
                "INSERT INTO dcc_counter(one, counter) VALUES (1, ?) "
                "ON CONFLICT(one) DO UPDATE SET counter = excluded.counter",
                (counter,),
            )
            self._db.execute("COMMIT")
        return counter

    def pre_command(self, rid: RequestId) -> bytes | None:
        """The pre-command returned for ``rid`` and not yet taken (None otherwise)."""
        with self._lock:
            row = self._db.execute(
                "SELECT pre_command FROM requests WHERE request_id = ? AND stage = 'pre-command'",
                (rid.format(),),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def record_sent(self, rid: RequestId, device: bytes, originator: bytes, counter: int) -> None:
        """The GBCS of request ``rid`` goes to ``device`` from ``originator`` with
        ``counter`` (the user's, or the DCC's own): its response is matched by them."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sent(device, originator, counter, request_id) "
                "VALUES (?, ?, ?, ?)",
                (device.hex().upper(), originator.hex().upper(), counter, rid.format()),
            )

    def match_response(self, device: bytes, originator: bytes, counter: int) -> RequestId | None:
        """The request a device's response answers (its grouping header's device,
        requester and counter), the first time only; None for an unknown or repeated
        one."""
        key = (device.hex().upper(), originator.hex().upper(), counter)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT request_id FROM sent WHERE device = ? AND originator = ? "
                "AND counter = ? AND answered = 0",
                key,
            ).fetchone()
            if row is not None:
                self._db.execute(
                    "UPDATE sent SET answered = 1 WHERE device = ? AND originator = ? "
                    "AND counter = ?",
                    key,
                )
            self._db.execute("COMMIT")
        return None if row is None else RequestId.parse(row[0])

    def srv_of(self, rid: RequestId) -> str | None:
        """The SRV variant request ``rid`` was admitted for (None: not admitted)."""
        with self._lock:
            row = self._db.execute(
                "SELECT srv FROM requests WHERE request_id = ?", (rid.format(),)
            ).fetchone()
        return None if row is None else str(row[0])

    # --- the callback outbox: what is POSTed to users, until they take it ------------

    def enqueue(self, url: str, body: bytes, now: datetime) -> int:
        """Keep ``body`` for ``url`` until :meth:`delivered` (survives a restart)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO outbox(url, body, due) VALUES (?, ?, ?)", (url, body, _iso(now))
            )
        return int(cursor.lastrowid or 0)

    def due(self, now: datetime, limit: int = 32) -> list[tuple[int, str, bytes, int]]:
        """Callbacks due by ``now``: (id, url, body, attempts so far), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, body, attempts FROM outbox WHERE due <= ? ORDER BY id LIMIT ?",
                (_iso(now), limit),
            ).fetchall()
        return [(int(i), str(u), bytes(b), int(a)) for i, u, b, a in rows]

    def delivered(self, item: int) -> None:
        """The user took callback ``item``: drop it."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (item,))

    def retry(self, item: int, when: datetime, error: str) -> None:
        """Callback ``item`` failed (``error``, one line): try again at ``when``."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, due = ?, last_error = ? WHERE id = ?",
                (_iso(when), error, item),
            )

    def pending(self) -> int:
        """How many callbacks wait to be taken."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(n)

    # --- inventory statuses other than Commissioned (MP105's Suspended) -------------

    def statuses(self) -> dict[bytes, str]:
        """The inventory statuses kept (device EUI -> status)."""
        with self._lock:
            rows = self._db.execute("SELECT device, status FROM statuses").fetchall()
        return {bytes.fromhex(d): str(s) for d, s in rows}

    def save_statuses(self, statuses: Mapping[bytes, str]) -> None:
        """Keep exactly ``statuses`` (the inventory's, after a change)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM statuses")
            self._db.executemany(
                "INSERT INTO statuses(device, status) VALUES (?, ?)",
                [(d.hex().upper(), s) for d, s in statuses.items()],
            )
            self._db.execute("COMMIT")

    def answered(self, rid: RequestId) -> bool:
        """Whether a device's response to request ``rid`` has arrived."""
        with self._lock:
            row = self._db.execute(
                "SELECT answered FROM sent WHERE request_id = ?", (rid.format(),)
            ).fetchone()
        return bool(row and row[0])

    def last_counter(self, originator: bytes) -> int | None:
        """The last counter admitted from the user ``originator`` (None: none yet)."""
        with self._lock:
            row = self._db.execute(
                "SELECT counter FROM counters WHERE originator = ?", (originator.hex().upper(),)
            ).fetchone()
        return None if row is None else int(row[0])


def _iso(when: datetime) -> str:
    """A UTC time in one fixed form, so that times compare as text."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")
