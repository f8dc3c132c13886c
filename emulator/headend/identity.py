"""Who the head-end speaks as, and the originator counters it has used.

A head-end acts for one or more GBCS remote parties (:class:`RemoteParty`: a role and
its EUI-64). Its :class:`~keys.store.KeyStore` holds, for each party, the DS private key
(to sign critical commands) and the KA private key (to read MAC'd responses and to
decrypt sensitive parts sent to it); the Access Control Broker's KA private key (every
command is MAC'd ACB KA ↔ device KA); and the devices' certificates or public keys (to
verify their signatures and MACs).

Originator counters must be strictly increasing per originator for as long as a device
remembers the last one it accepted, so :class:`CounterStore` keeps them in a sqlite3
file (WAL): a counter is committed before :meth:`CounterStore.next` returns it, that is
before the command carrying it can leave. :class:`MemoryCounterStore` is the same store
without a file, for tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from gbcs.envelope import as_eui, eui_hex
from gbcs.errors import GbcsError
from keys.pki import GBCS_ORGANISATION_ROLES
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import EuiLike, KeyStore

__all__ = [
    "PARTY_ROLES",
    "CounterError",
    "CounterStore",
    "HeadEndError",
    "IdentityError",
    "MemoryCounterStore",
    "RemoteParty",
    "check_parties",
    "parse_eui",
    "parse_parties",
    "parse_role",
    "parties_from_store",
]

#: Roles a head-end can send GBCS commands as (recovery, supplier, network operator,
#: access control broker, transitional CoS, WAN provider, load controller).
PARTY_ROLES: tuple[RemotePartyRole, ...] = GBCS_ORGANISATION_ROLES

_MAX_COUNTER = (1 << 64) - 1


class HeadEndError(Exception):
    """Base of every error the head-end client raises on purpose."""


class IdentityError(HeadEndError, ValueError):
    """An unknown role, an unusable EUI or a party whose keys are missing."""


class CounterError(HeadEndError):
    """The counter store cannot hand out a counter (file unusable, counter exhausted)."""


def parse_role(role: str | int | RemotePartyRole) -> RemotePartyRole:
    """A remote-party role from a friendly name (``supplier``, ``network-operator``,
    ``acb``, ``tcos``, ``wan-provider``, ``recovery``, ``load-controller``...), its number
    or the enum; :class:`IdentityError` for anything else or a non-GBCS role."""
    try:
        parsed = RemotePartyRole.parse(role)
    except ValueError as e:
        raise IdentityError(f"{e}") from None
    if parsed not in PARTY_ROLES:
        names = ", ".join(r.cli_name for r in PARTY_ROLES)
        raise IdentityError(
            f"{parsed.cli_name} is not a role a head-end sends GBCS commands as; "
            f"expected one of: {names}"
        )
    return parsed


def parse_eui(value: EuiLike, what: str = "EUI-64") -> bytes:
    """8 bytes from bytes, hex text (``00DB1234567890A0``, ``00-DB-...``) or an int."""
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if not isinstance(value, bytes | str | int) or isinstance(value, bool):
        raise IdentityError(f"{what} must be 8 bytes or 16 hex digits, not {value!r}")
    try:
        return as_eui(value)
    except GbcsError as e:
        raise IdentityError(f"{what} {value!r}: {e}") from None


@dataclass(frozen=True, slots=True)
class RemoteParty:
    """One identity of the head-end: a role and the EUI-64 its certificates name."""

    role: RemotePartyRole
    eui: bytes

    @classmethod
    def parse(cls, role: str | int | RemotePartyRole, eui: EuiLike) -> RemoteParty:
        """From a friendly role name and an EUI in any accepted spelling."""
        return cls(parse_role(role), parse_eui(eui, f"EUI of the {role}"))

    def missing_keys(self, store: KeyStore, *, sign: bool = True) -> list[str]:
        """What ``store`` lacks for this party to send commands and read the answers.

        The KA private key always (MAC'd responses, encrypted parts); the DS private key
        when ``sign`` (critical commands).
        """
        out = []
        usages = (KeyUsage.KA, KeyUsage.DS) if sign else (KeyUsage.KA,)
        for usage in usages:
            if store.private_key(self.eui, usage) is None:
                out.append(f"the {usage.value.upper()} private key of {self}")
        return out

    def require_keys(self, store: KeyStore, *, sign: bool = True) -> None:
        """Raise :class:`IdentityError` naming every key :meth:`missing_keys` finds."""
        missing = self.missing_keys(store, sign=sign)
        if missing:
            raise IdentityError("the key store lacks " + " and ".join(missing))

    def __str__(self) -> str:
        return f"{self.role.cli_name} {eui_hex(self.eui)}"


def parse_parties(
    parties: Mapping[str | int | RemotePartyRole, EuiLike],
) -> dict[RemotePartyRole, bytes]:
    """``{"supplier": "90B3...", "acb": b"...", ...}`` as ``{RemotePartyRole: eui}``."""
    if not isinstance(parties, Mapping):
        raise IdentityError(f"parties must map roles to EUIs, not {type(parties).__name__}")
    out: dict[RemotePartyRole, bytes] = {}
    for role, eui in parties.items():
        p = RemoteParty.parse(role, eui)
        if p.role in out and out[p.role] != p.eui:
            raise IdentityError(f"two EUIs for the {p.role.cli_name} role")
        out[p.role] = p.eui
    return out


def parties_from_store(store: KeyStore) -> dict[RemotePartyRole, bytes]:
    """The parties the store can act as: organisation certificates with a private key.

    A role held by several EUIs maps to the lowest EUI whose DS and KA private keys are
    both loaded (else the lowest with any private key); pass ``parties`` explicitly to
    choose another.
    """
    found: dict[RemotePartyRole, list[bytes]] = {}
    for entry in store.entries(private=True):
        role = store.role_of(entry.eui)
        if role in PARTY_ROLES:
            found.setdefault(role, [])
            if entry.eui not in found[role]:
                found[role].append(entry.eui)
    out: dict[RemotePartyRole, bytes] = {}
    for role, euis in found.items():
        euis.sort()
        full = [
            e
            for e in euis
            if store.private_key(e, KeyUsage.DS) is not None
            and store.private_key(e, KeyUsage.KA) is not None
        ]
        out[role] = (full or euis)[0]
    return dict(sorted(out.items()))


def check_parties(store: KeyStore, parties: Mapping[RemotePartyRole, bytes]) -> list[str]:
    """Human-readable problems with ``parties`` and ``store`` (empty when all is well).

    Every party needs its KA private key; the ACB's KA private key is needed to MAC
    any command. DS private keys are only needed for critical commands and are not
    reported here.
    """
    problems: list[str] = []
    for role, eui in parties.items():
        problems += RemoteParty(role, eui).missing_keys(store, sign=False)
    acb = parties.get(RemotePartyRole.ACCESS_CONTROL_BROKER)
    if acb is None:
        problems.append("no EUI for the access-control-broker role (needed to MAC commands)")
    return problems


# ------------------------------------------------------------------------- counters


def _lock_file(path: Path, timeout: float) -> int:
    """An exclusive ``flock`` on ``path``, waiting up to ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise CounterError(f"counter store lock {path}: {e.strerror}") from None
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise CounterError(
                    f"head-end counters {str(path).removesuffix('.lock')} are in use by "
                    f"pid {holder} (waited {timeout:g} s)"
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    originator TEXT PRIMARY KEY,
    reserved   INTEGER NOT NULL
)
"""


class CounterStore:
    """Durable originator counters in a sqlite3 file (WAL, ``synchronous=FULL``).

    :meth:`next` returns a value strictly greater than every value it returned for that
    originator before, in this process or an earlier one, and commits it first.
    ``first`` is the lowest value handed out (raise it to move past counters used by
    another tool). With ``block > 1`` a whole block is reserved per commit and values
    come from memory until it is used up: faster, and gaps after a restart are allowed
    (counters only need to increase). Several processes may share one file only with
    ``block=1``: each value is then read and written under one immediate transaction.

    The file (mode 0600) is a head-end's own, apart from any emulator's state, and is
    held under its own lock (``<file>.lock``, ``fcntl.flock``) while open: a second
    head-end on the same file waits up to ``lock_timeout`` seconds, then gets a
    :class:`CounterError` naming the holder. ``lock_timeout=None`` takes no lock (for
    several processes sharing one file with ``block=1``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        first: int = 1,
        block: int = 1,
        lock_timeout: float | None = 10.0,
    ) -> None:
        if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= _MAX_COUNTER:
            raise CounterError(f"first counter must be an int in 0..2**64-1, not {first!r}")
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise CounterError(f"block must be a positive int, not {block!r}")
        self.path = str(path)
        self.first = first
        self.block = block
        self._lock = threading.Lock()
        self._next: dict[bytes, int] = {}
        self._limit: dict[bytes, int] = {}
        self._lock_fd = -1
        on_disk = self.path != ":memory:" and not self.path.startswith("file:")
        if lock_timeout is not None and on_disk:
            self._lock_fd = _lock_file(Path(self.path + ".lock"), lock_timeout)
        try:
            if on_disk:
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as e:
            self._unlock()
            raise CounterError(f"counter store {self.path}: {e}") from None

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the file (idempotent). Unused reserved values are simply skipped later."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._unlock()

    def __enter__(self) -> CounterStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise CounterError(f"counter store {self.path} is closed")
        return self._db

    # ----------------------------------------------------------------- values

    def next(self, originator: EuiLike) -> int:
        """The next counter for ``originator``, committed before it is returned."""
        eui = parse_eui(originator, "originator")
        with self._lock:
            value = self._next.get(eui)
            if value is not None and value <= self._limit[eui]:
                self._next[eui] = value + 1
                return value
            return self._reserve(eui, 0)

    def _reserve(self, eui: bytes, above: int) -> int:
        """Reserve a block after max(stored, in-memory, ``above``); return its first value."""
        db = self._conn()
        key = eui_hex(eui)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT reserved FROM counters WHERE originator = ?", (key,)
                ).fetchone()
                stored = -1 if row is None else int(row[0])
                value = max(stored + 1, self.first, self._next.get(eui, 0), above + 1)
                limit = value + self.block - 1
                if limit > _MAX_COUNTER:
                    if value > _MAX_COUNTER:
                        raise CounterError(f"originator counter of {key} is exhausted")
                    limit = _MAX_COUNTER
                db.execute(
                    "INSERT INTO counters (originator, reserved) VALUES (?, ?) "
                    "ON CONFLICT(originator) DO UPDATE SET reserved = excluded.reserved",
                    (key, limit),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise CounterError(f"counter store {self.path}: {e}") from None
        self._next[eui] = value + 1
        self._limit[eui] = limit
        return value

    def last(self, originator: EuiLike) -> int | None:
        """The highest value reserved for ``originator`` (None if it never had one).

        With ``block > 1`` this may be above the last value actually sent.
        """
        eui = parse_eui(originator, "originator")
        with self._lock:
            try:
                row = (
                    self._conn()
                    .execute("SELECT reserved FROM counters WHERE originator = ?", (eui_hex(eui),))
                    .fetchone()
                )
            except sqlite3.Error as e:
                raise CounterError(f"counter store {self.path}: {e}") from None
        return None if row is None else int(row[0])

    def ensure_above(self, originator: EuiLike, value: int) -> None:
        """Make every later counter of ``originator`` greater than ``value`` (e.g. after a
        device refused a replay because another tool used higher counters)."""
        eui = parse_eui(originator, "originator")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CounterError(f"counter must be a non-negative int, not {value!r}")
        with self._lock:
            current = self._next.get(eui)
            if current is not None and current > value:
                return
            self._next.pop(eui, None)
            self._limit.pop(eui, None)
            first = self._reserve(eui, value)
            # The reserved value was not handed out: give it to the next caller.
            self._next[eui] = first

    def originators(self) -> tuple[bytes, ...]:
        """Every originator with a stored counter, sorted."""
        with self._lock:
            try:
                rows = self._conn().execute("SELECT originator FROM counters").fetchall()
            except sqlite3.Error as e:
                raise CounterError(f"counter store {self.path}: {e}") from None
        return tuple(sorted(bytes.fromhex(r[0]) for r in rows))

    def snapshot(self) -> dict[str, int]:
        """``{originator hex: highest reserved}`` (for status output and tests)."""
        return {eui_hex(e): v for e in self.originators() if (v := self.last(e)) is not None}


class MemoryCounterStore(CounterStore):
    """A :class:`CounterStore` without a file (tests, one-off runs): nothing survives it."""

    def __init__(self, *, first: int = 1, block: int = 1) -> None:
        super().__init__(":memory:", first=first, block=block)
