"""One emulator worker process: ``python -m emulator.runtime.worker '<json options>'``.

``gbcs-emu run --workers K`` starts K of these on one broker; worker ``w`` serves the
sites with ``index % K == w``. A worker stops cleanly on SIGTERM or SIGINT (state is
committed per command, so stopping never loses an acknowledged change).

A worker shares its parent's lock on the state directory (the locked descriptor is
passed down), dies with its parent (``PR_SET_PDEATHSIG`` plus a check of its parent
pid) and, on a fatal error, writes the message to ``worker-<w>.error`` for the parent
to report. The broker password comes through the environment, never the options.

With ``storm_seconds`` a worker cuts the mains at its sites once it is serving
(:meth:`~.server.Emulator.storm`, alerts published while it runs) and then writes
``storm-<w>.json`` (:func:`storm_file`): sites cut, alerts produced and when each chunk
was committed, for ``gbcs-emu storm`` to measure delivery latency per alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from keys.store import KeyStore

from ..signals import stop_on_signals
from ..transport.base import Bus, BusError
from .clock import Clock, parse_clock
from .config import ConfigError, load_config
from .pki import ensure_pki
from .server import Emulator
from .statedir import StateError, acquire_lock, adopt_lock, load_info

__all__ = ["WorkerOptions", "make_bus", "serve", "spawn", "stop_all", "storm_file"]


@dataclass(slots=True)
class WorkerOptions:
    """Everything a worker needs (JSON-able, passed on the command line)."""

    state_dir: str
    broker: str | None = None  # mqtt:// URL
    tcp_port: int | None = None  # serve TCP on this port instead of MQTT
    config: str | None = None
    sites: int | None = None
    clock: str = "real"
    worker: int = 0
    workers: int = 1
    cache_size: int = 2000
    storm_seconds: float | None = None  # run a mains outage this long on every site at start
    consolidate: bool = False  # DP119 alert-storm consolidation on every CHF
    lock_fd: int | None = None  # the parent's locked descriptor of <state>/lock
    parent_pid: int | None = None  # die when this process does
    state_checked: bool = False  # the parent has just run the database integrity scan
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    control: bool = False  # serve the control API (gbcs/<site>/<eui>/control)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerOptions:
        return cls(**json.loads(text))


def spawn(opts: WorkerOptions, *, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one worker process (passing it the lock descriptor, if any)."""
    fds = (opts.lock_fd,) if opts.lock_fd is not None else ()
    return subprocess.Popen(
        [sys.executable, "-m", "emulator.runtime.worker", opts.to_json()], pass_fds=fds, env=env
    )


def error_file(state_dir: Path, worker: int) -> Path:
    """Where worker ``worker`` leaves its fatal error for the parent."""
    return state_dir / f"worker-{worker}.error"


def storm_file(state_dir: Path, worker: int) -> Path:
    """Where worker ``worker`` writes its storm report (once its storm is over)."""
    return state_dir / f"storm-{worker}.json"


def stop_all(procs: list[subprocess.Popen[bytes]], timeout: float = 20.0) -> None:
    """SIGTERM every worker (they flush and exit), then kill what is still running."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()


def make_bus(opts: WorkerOptions) -> Bus:
    """The transport the options name (MQTT by URL, or a TCP server)."""
    if opts.tcp_port is not None:
        from ..transport.tcp import TcpServerBus

        return TcpServerBus("127.0.0.1", opts.tcp_port)
    if not opts.broker:
        raise ValueError("a worker needs a broker URL or a TCP port")
    from ..transport.access import PASSWORD_ENV, BrokerAccess

    info = load_info(Path(opts.state_dir))
    if info is None:
        raise StateError(f"{opts.state_dir}: no state.json (start the worker through run)")
    access = BrokerAccess(
        opts.broker, os.environ.get(PASSWORD_ENV), opts.cafile, opts.certfile, opts.keyfile
    )
    # unique per state directory (its random id), never shared by two emulators
    return access.bus(client_id=f"gbcs-emu-{info.id}-w{opts.worker}", persistent=True)


def build(opts: WorkerOptions, clock: Clock | None = None) -> Emulator:
    state = Path(opts.state_dir)
    config = load_config(Path(opts.config) if opts.config else None, sites=opts.sites)
    if opts.consolidate:
        config.site.options.setdefault("CHF", {})["storm_consolidation"] = True
    keys = KeyStore(ensure_pki(state))
    return Emulator(
        config,
        make_bus(opts),
        clock or parse_clock(opts.clock),
        keys,
        state,
        worker=opts.worker,
        workers=opts.workers,
        cache_size=opts.cache_size,
        verify_state=not opts.state_checked,
        control=opts.control,
    )


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Stop when the parent is gone (re-parented), in case no death signal came."""
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
            return
        await asyncio.sleep(0.2)


async def serve(
    opts: WorkerOptions, stop: asyncio.Event | None = None, *, exiting: bool = False
) -> None:
    """Run one worker until ``stop`` (or SIGTERM/SIGINT, or its parent's death).

    ``exiting``: the process ends when this returns, so late stop signals are ignored
    from then on (see :mod:`emulator.signals`)."""
    stop = stop or asyncio.Event()
    watcher = None
    if opts.parent_pid is not None:
        watcher = asyncio.create_task(_watch_parent(opts.parent_pid, stop))
    try:
        with stop_on_signals(stop, then_ignore=exiting):
            await _serve(opts, stop)
    finally:
        if watcher is not None:
            watcher.cancel()


#: The worker's garbage-collection thresholds (Python's default: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Collect garbage as a long-running worker should: what start-up built (config,
    shared device templates, key stores) is frozen out of every collection, and young
    collections run every 50,000 allocations rather than 700. A worker holds thousands of
    hydrated sites whose objects every collection would otherwise traverse again; the
    default thresholds cost a storm about a third of its CPU (measured in
    ``benchmarks/fleet.py``). Cyclic garbage, which the devices hardly make, is freed a
    little later; nothing else changes."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _serve(opts: WorkerOptions, stop: asyncio.Event) -> None:
    emulator = build(opts)
    tune_gc()
    if opts.storm_seconds is None:
        await emulator.run(stop)
        return
    runner = asyncio.create_task(emulator.run(stop))
    ready = asyncio.create_task(emulator.ready.wait())
    await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not runner.done():
        report = await emulator.storm(range(emulator.config.sites), opts.storm_seconds)
        path = storm_file(Path(opts.state_dir), opts.worker)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(report.to_json()))
        tmp.replace(path)  # readers never see half a report
    ready.cancel()
    await runner


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m emulator.runtime.worker '<json options>'", file=sys.stderr)
        return 2
    try:
        opts = WorkerOptions.from_json(args[0])
    except (ValueError, TypeError) as e:
        print(f"error: bad worker options: {e}", file=sys.stderr)
        return 2
    if opts.parent_pid is not None:
        die_with_parent()
        if os.getppid() != opts.parent_pid:
            return 1  # the parent died before the death signal was armed
    state = Path(opts.state_dir)
    try:
        if opts.lock_fd is not None:
            lock = adopt_lock(state, opts.lock_fd)
        else:
            lock = acquire_lock(state, command=f"worker {opts.worker}")
    except StateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(opts, exiting=True))
    except (StateError, ConfigError, ValueError, OSError, BusError, sqlite3.Error) as e:
        msg = str(e) or type(e).__name__
        print(f"error: worker {opts.worker}: {msg}", file=sys.stderr)
        with contextlib.suppress(OSError):
            error_file(state, opts.worker).write_text(msg + "\n")
        return 1
    finally:
        if opts.lock_fd is None:
            lock.release()
    return 0


def die_with_parent() -> None:
    """Ask the kernel to SIGTERM this process when its parent dies (Linux; elsewhere the
    parent-pid check of :func:`serve` alone stops it)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


if __name__ == "__main__":
    sys.exit(main())
