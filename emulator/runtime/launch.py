"""Claiming a state directory for an emulator and starting its workers.

:func:`claim` is what every emulator shell does before serving devices (``run``,
``storm``, ``hil serve``): take the directory's lock, resolve the fleet seed, check the
layout against the one recorded (refusing a different one), open or create each worker's
database (refusing a damaged one) and make the PKI. Only then are workers started, with
the locked descriptor passed down (:func:`start_workers`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .config import FleetConfig
from .pki import ensure_pki
from .statedir import (
    Layout,
    LayoutMismatch,
    StateError,
    StateInfo,
    StateLock,
    acquire_lock,
    config_digest,
    open_info,
    seed_digest,
    write_info,
)
from .store import StateStore
from .worker import WorkerOptions, error_file, spawn

__all__ = ["Claim", "check_layout", "claim", "fleet_layout", "start_workers"]


@dataclass(slots=True)
class Claim:
    """A state directory held by this process: its lock, ``state.json`` and layout."""

    state: Path
    lock: StateLock
    info: StateInfo
    layout: Layout

    def release(self) -> None:
        self.lock.release()


def fleet_layout(config: FleetConfig, seed: bytes, first: int, count: int, total: int) -> Layout:
    """The layout of ``config`` served by workers ``first..first+count-1`` of ``total``."""
    device_config = {
        "site": {
            "id": config.site.site_id,
            "euis": {k: v.hex() for k, v in sorted(config.site.euis.items())},
            "options": config.site.options,
            "devices": list(config.site.devices),
        },
        "base_eui": config.base_eui.hex(),
        "parties": {r.name: e.hex() for r, e in sorted(config.parties.items())},
    }
    return Layout(
        sites=config.sites,
        workers=total,
        first=first,
        count=count,
        seed_sha256=seed_digest(seed),
        config_sha256=config_digest(device_config),
    )


def check_layout(state: Path, recorded: Layout, asked: Layout) -> None:
    """:class:`LayoutMismatch` naming what differs, unless ``asked`` is ``recorded``."""
    if recorded != asked:
        raise LayoutMismatch(
            f"state directory {state} was written for another fleet layout ("
            + "; ".join(recorded.differences(asked))
            + "): its sites would map to other databases or start factory-fresh, "
            "their counters reset. Start with the recorded layout, or move the sites "
            f"first: gbcs-emu state migrate --state {state} (with the new options)"
        )


def claim(
    state: Path,
    config: FleetConfig,
    *,
    first: int = 0,
    count: int = 1,
    total: int = 1,
    seed: bytes | None = None,
    command: str = "gbcs-emu run",
    bind: Callable[[Path], None] | None = None,
) -> Claim:
    """Lock ``state`` and make it ready for workers ``first..first+count-1`` of ``total``.

    ``seed`` (``--seed``) overrides the config's. Raises a
    :class:`~.statedir.StateError` (locked, damaged, other layout) with nothing changed
    but, on a first start, the new ``state.json``, databases and PKI. ``bind`` runs
    first under the lock (``run --fleet`` imports or checks the fleet definition there).
    """
    lock = acquire_lock(state, command=command)
    try:
        if bind is not None:
            bind(state)
        check_parties(ensure_pki(state), config)  # before a layout is recorded
        wanted = seed if seed is not None else config.seed
        info = open_info(state, seed=wanted, seed_source="option" if seed is not None else "config")
        config.seed = info.seed_bytes if wanted is None else wanted
        layout = fleet_layout(config, config.seed, first, count, total)
        if info.layout is None:
            info.layout = layout
        else:
            check_layout(state, info.layout, layout)
        for w in layout.worker_ids():
            db = f"state-{w}.db"
            StateStore(
                state / db,
                must_exist=db in info.databases,
                meta={"worker": str(w), "state": info.id},
            ).close()
            if db not in info.databases:
                info.databases.append(db)
        write_info(state, info)
        for w in layout.worker_ids():
            error_file(state, w).unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return Claim(state, lock, info, layout)


def check_parties(pki: Path, config: FleetConfig) -> None:
    """Every device type finds its trust anchors in ``pki``: where the state's PKI holds
    several organisations of one role, the site configuration must name the one the
    devices trust (``[parties]``). Raises :class:`StateError` saying which, before a
    worker starts, rather than every command failing in the workers."""
    from devices.trust import TrustAnchors, default_anchor_roles
    from gbcs.errors import GbcsSecurityError
    from keys.store import KeyStore

    store = KeyStore(pki)
    for kind in ("ESME", "GSME", "CHF", "GPF"):
        try:
            TrustAnchors.from_store(store, default_anchor_roles(kind), config.parties)
        except GbcsSecurityError as e:
            raise StateError(f"{pki}: {e} with [parties] in the site configuration") from None


def start_workers(
    held: Claim, template: WorkerOptions, env: dict[str, str] | None = None
) -> list[subprocess.Popen[bytes]]:
    """Start the claimed workers, each sharing the lock and dying with this process."""
    procs = []
    for w in held.layout.worker_ids():
        opts = replace(
            template,
            state_dir=str(held.state),
            worker=w,
            workers=held.layout.workers,
            lock_fd=held.lock.fd,
            parent_pid=os.getpid(),
            state_checked=True,  # claim() has just scanned each database
        )
        procs.append(spawn(opts, env=env))
    held.lock.describe(command="gbcs-emu run", workers=[p.pid for p in procs])
    return procs


def worker_failure(state: Path, worker: int, proc: subprocess.Popen[bytes]) -> str:
    """Why a worker exited: its own message, else its exit status."""
    try:
        msg = error_file(state, worker).read_text().strip()
    except OSError:
        msg = ""
    code = proc.returncode
    how = f"exit status {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
    return f"worker {worker} stopped ({how})" + (f": {msg}" if msg else "")
