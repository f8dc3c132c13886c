"""Durable state: device state per site and the outbox, in one sqlite3 file (WAL).

:meth:`StateStore.commit` writes a site's new state and the frames it must send in one
transaction, so a command's effects, its counter and its response
are on disk before the response is published. After a crash (even ``kill -9``) a restart
loads exactly what was acknowledged and resends what had not been confirmed sent:
duplicates are possible (and marked by the ``attempts`` count), losses are not.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OutboxEntry", "StateStore"]

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
"""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A frame waiting to be published (``attempts`` > 0: it may already have gone out)."""

    id: int
    topic: str
    frame: bytes
    attempts: int


class StateStore:
    """sqlite3 in WAL mode; one writer (the worker that owns these sites)."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed transaction survives any crash of this process
        # (kill -9 included); FULL also survives an OS crash or power loss, at an fsync
        # per commit.
        self._db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------- sites

    def load_site(self, site: str) -> dict[str, Any] | None:
        """The site's saved state: its own fields plus ``devices`` by type."""
        with self._lock:
            row = self._db.execute("SELECT state FROM sites WHERE site = ?", (site,)).fetchone()
            devs = self._db.execute(
                "SELECT kind, state FROM devices WHERE site = ?", (site,)
            ).fetchall()
        if row is None:
            return None
        state: dict[str, Any] = json.loads(row[0])
        state["devices"] = {k: json.loads(v) for k, v in devs}
        return state

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
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if state is not None:
                    own = {k: v for k, v in state.items() if k != "devices"}
                    cur.execute(
                        "INSERT INTO sites(site, state, updated) VALUES (?, ?, ?) "
                        "ON CONFLICT(site) DO UPDATE SET state = excluded.state, "
                        "updated = excluded.updated",
                        (site, json.dumps(own, separators=(",", ":")), now),
                    )
                    for kind, dev in state.get("devices", {}).items():
                        cur.execute(
                            "INSERT INTO devices(site, kind, state) VALUES (?, ?, ?) "
                            "ON CONFLICT(site, kind) DO UPDATE SET state = excluded.state",
                            (site, kind, json.dumps(dev, separators=(",", ":"))),
                        )
                ids = []
                for topic, frame in outbound:
                    cur.execute("INSERT INTO outbox(topic, frame) VALUES (?, ?)", (topic, frame))
                    ids.append(int(cur.lastrowid or 0))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return ids

    # ------------------------------------------------------------------ outbox

    def pending(self, limit: int = 1000) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, frame, attempts FROM outbox ORDER BY id LIMIT ?", (limit,)
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

    def outbox_size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
