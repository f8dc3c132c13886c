"""A state directory and its owner: the lock, ``state.json``, the fleet layout, the
ledger of used sites, and files created private (mode 0600).

One emulator owns a state directory at a time. :func:`acquire_lock` takes an exclusive
``fcntl.flock`` on ``<state>/lock``; ``gbcs-emu run`` passes the locked descriptor to its
workers, so the lock is held until the parent *and* every worker have exited: a second
emulator can never run beside a worker whose parent was killed.

``state.json`` (mode 0600) is written on first start and names the directory's random id
(the MQTT client ids derive from it), the fleet seed (random unless the config or
``--seed`` sets one: whoever has the seed can derive every device key of the fleet), the
layout the sites were spread with (sites, workers, shard, seed and config hashes) and the
databases created so far. A start with another layout is refused until
``gbcs-emu state migrate`` has moved the sites; a database that ``state.json`` says was
created but is missing or empty is refused, never recreated.

Each worker keeps a ledger of the sites it has ever stored (``used-<w>.txt``): a used
site with no row in its database is damage, never a factory-fresh site whose counters
could be replayed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..processes import pid_alive

__all__ = [
    "FORMAT",
    "LEGACY_SEED",
    "Layout",
    "LayoutMismatch",
    "StateDamaged",
    "StateError",
    "StateInfo",
    "StateLock",
    "StateLocked",
    "UsedSites",
    "acquire_lock",
    "load_info",
    "open_info",
    "private_write",
    "secret_file_problem",
    "write_info",
]

FORMAT = 1
LOCK_NAME = "lock"
INFO_NAME = "state.json"
LEGACY_SEED = b"gbcs-emulator test fleet"
"""The seed every state directory used before seeds were random (public: test only)."""


class StateError(Exception):
    """A state directory cannot be used as asked; the message says why and what to do."""


class StateLocked(StateError):
    """Another emulator holds the state directory's lock."""


class StateDamaged(StateError):
    """A state file is damaged, truncated, foreign or missing: refused, never replaced."""


class LayoutMismatch(StateError):
    """The fleet layout asked for differs from the one the state was written with."""


# ---------------------------------------------------------------------------- files


def private_write(path: Path, data: bytes | str) -> None:
    """Write ``path`` atomically with mode 0600 (a temporary file renamed over it)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def touch_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (files sqlite opens)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def ensure_dir(path: Path) -> None:
    """Create the state directory (mode 0700) or check that it is a writable directory."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise StateError(f"state directory {path}: exists and is not a directory") from None
    except OSError as e:
        raise StateError(f"state directory {path}: cannot create it: {e.strerror}") from None
    if not path.is_dir():
        raise StateError(f"state directory {path}: not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateError(f"state directory {path}: not writable (permission denied)")


# ----------------------------------------------------------------------------- lock


@dataclass(slots=True)
class StateLock:
    """A held lock on a state directory (the open, flocked descriptor)."""

    path: Path
    fd: int

    def describe(self, **extra: Any) -> None:
        """Record who holds the lock (pid, command, workers) for a refused second start."""
        info = {"pid": os.getpid(), "started": time.time(), **extra}
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(info).encode(), 0)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = -1


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    pids = [info.get("pid"), *info.get("workers", [])]
    alive = [p for p in pids if isinstance(p, int) and pid_alive(p)]
    what = info.get("command", "an emulator")
    if not pids or pids[0] is None:
        return "another process (no pid recorded yet)"
    if alive:
        return f"{what} (pid {', '.join(map(str, alive))})"
    return f"{what} (pid {pids[0]}, exiting)"


def acquire_lock(state: Path, *, command: str = "gbcs-emu") -> StateLock:
    """Take the exclusive lock on ``state`` or raise :class:`StateLocked` naming its holder."""
    ensure_dir(state)
    path = state / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise StateError(f"state directory {state}: cannot open {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise StateLocked(
                f"state directory {state} is in use by {_holder(path)}; "
                "stop it first, or give another --state"
            ) from None
        raise StateError(f"state directory {state}: cannot lock {path}: {e.strerror}") from None
    lock = StateLock(path, fd)
    lock.describe(command=command)
    return lock


def adopt_lock(state: Path, fd: int) -> StateLock:
    """A worker's view of the lock its parent passed down (checked to be that lock)."""
    path = state / LOCK_NAME
    try:
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise StateError(f"descriptor {fd} is not the lock of {state}")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours already: same description
    except OSError as e:
        raise StateLocked(f"state directory {state}: lock not held ({e.strerror})") from None
    return StateLock(path, fd)


# ----------------------------------------------------------------------- state.json


@dataclass(frozen=True, slots=True)
class Layout:
    """How a fleet's sites are spread over workers (what a restart must repeat)."""

    sites: int
    workers: int  # workers fleet-wide (TOTAL of --shard)
    first: int = 0  # this directory's first worker
    count: int = 1  # workers served from this directory
    seed_sha256: str = ""
    config_sha256: str = ""

    def differences(self, other: Layout) -> list[str]:
        """Human-readable differences ``self`` (recorded) -> ``other`` (asked)."""
        names = {
            "sites": "sites",
            "workers": "workers in the fleet",
            "first": "first worker (--shard)",
            "count": "workers here (--workers)",
            "seed_sha256": "seed",
            "config_sha256": "device configuration",
        }
        out = []
        for key, label in names.items():
            a, b = getattr(self, key), getattr(other, key)
            if a != b:
                if key.endswith("sha256"):
                    out.append(f"{label} changed")
                else:
                    out.append(f"{label} {a} -> {b}")
        return out

    def worker_ids(self) -> range:
        return range(self.first, self.first + self.count)


def config_digest(doc: Any) -> str:
    """SHA-256 of a JSON-able description of the device configuration."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()


def seed_digest(seed: bytes) -> str:
    return hashlib.sha256(b"gbcs-emu seed\x00" + seed).hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.hex()
    if hasattr(v, "value"):
        return v.value
    if isinstance(v, set | frozenset | tuple):
        return list(v)
    return str(v)


@dataclass(slots=True)
class StateInfo:
    """The contents of ``state.json``."""

    id: str
    seed: str  # hex
    seed_source: str  # random, config, option or legacy
    created: float
    format: int = FORMAT
    layout: Layout | None = None
    databases: list[str] = field(default_factory=list)

    @property
    def seed_bytes(self) -> bytes:
        return bytes.fromhex(self.seed)

    def to_json(self) -> str:
        d = asdict(self)
        d["layout"] = asdict(self.layout) if self.layout else None
        return json.dumps(d, indent=1)


def load_info(state: Path) -> StateInfo | None:
    """``state.json`` if present; :class:`StateDamaged` if it is unreadable."""
    path = state / INFO_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateDamaged(f"{path}: cannot read: {e.strerror}") from None
    try:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        if d.get("format") != FORMAT:
            raise ValueError(f"format {d.get('format')!r}, this version reads {FORMAT}")
        layout = Layout(**d["layout"]) if d.get("layout") else None
        info = StateInfo(
            id=str(d["id"]),
            seed=str(d["seed"]),
            seed_source=str(d["seed_source"]),
            created=float(d["created"]),
            layout=layout,
            databases=[str(x) for x in d.get("databases", [])],
        )
        bytes.fromhex(info.seed)
    except (ValueError, KeyError, TypeError) as e:
        raise StateDamaged(
            f"{path} is damaged ({e}); restore it with 'gbcs-emu state restore', it was not changed"
        ) from None
    return info


def write_info(state: Path, info: StateInfo) -> None:
    private_write(state / INFO_NAME, info.to_json())


def _legacy_databases(state: Path) -> list[str]:
    return sorted(p.name for p in state.glob("state-*.db"))


def open_info(state: Path, *, seed: bytes | None = None, seed_source: str = "config") -> StateInfo:
    """``state.json``, created on first use (random id; random seed unless ``seed``).

    A directory written before ``state.json`` existed (databases, no ``state.json``) is
    adopted with the seed it was created with (the old public default unless the config
    names one), so its devices keep their keys and counters.
    """
    info = load_info(state)
    if info is not None:
        return info
    legacy = _legacy_databases(state)
    if seed is None:
        seed, seed_source = (
            (LEGACY_SEED, "legacy") if legacy else (secrets.token_bytes(32), "random")
        )
    info = StateInfo(
        id=secrets.token_hex(8),
        seed=seed.hex(),
        seed_source=seed_source,
        created=time.time(),
        databases=legacy,
    )
    write_info(state, info)
    return info


# --------------------------------------------------------------------------- ledger


class UsedSites:
    """Append-only ledger of the sites a worker has stored (``used-<w>.txt``, 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sites: set[str] = set()
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        except OSError as e:
            raise StateDamaged(f"{path}: cannot read: {e.strerror}") from None
        lines = text.split("\n")
        # a last line without its newline was cut by a crash mid-append: its site is
        # re-added from the database, which is committed first
        self._cut = lines.pop() != ""
        for n, line in enumerate(lines, 1):
            if not line or not line.isprintable() or len(line) > 200:
                raise StateDamaged(f"{path}: line {n} is damaged; it was not changed")
            self.sites.add(line)
        self._fd = -1

    def add(self, sites: Iterable[str]) -> None:
        """Record sites (only the new ones are appended)."""
        new = [s for s in sites if s not in self.sites]
        if not new:
            return
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        text = "".join(f"{s}\n" for s in new)
        if self._cut:
            text, self._cut = "\n" + text, False
        os.write(self._fd, text.encode())
        self.sites.update(new)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def secret_file_problem(path: Path, what: str) -> str | None:
    """Why ``path``, a file holding a secret (``what``), is unsafe: missing, a symbolic
    link, or open to other users (anything beyond 0600); None when it is safe."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return f"{path}: missing ({what})"
    except OSError as e:
        return f"{path}: cannot read ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return f"{path}: a symbolic link; allowed: a regular file ({what})"
    if st.st_mode & 0o077:
        return (
            f"{path}: mode {stat.S_IMODE(st.st_mode):04o} lets other users at the {what}; "
            f"allowed: 0600 (chmod 600 {path})"
        )
    return None
