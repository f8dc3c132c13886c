"""One emulator worker process: ``python -m emulator.runtime.worker '<json options>'``.

``gbcs-emu run --workers K`` starts K of these on one broker; worker ``w`` serves the
sites with ``index % K == w``. A worker stops cleanly on SIGTERM or SIGINT (state is
committed per command, so stopping never loses an acknowledged change).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from keys.store import KeyStore

from ..transport.base import Bus, BusError
from .clock import Clock, parse_clock
from .config import load_config
from .pki import ensure_pki
from .server import Emulator

__all__ = ["WorkerOptions", "make_bus", "serve", "spawn", "stop_all"]


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

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerOptions:
        return cls(**json.loads(text))


def spawn(opts: WorkerOptions) -> subprocess.Popen[bytes]:
    """Start one worker process."""
    return subprocess.Popen([sys.executable, "-m", "emulator.runtime.worker", opts.to_json()])


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
    from ..transport.mqtt import MqttBus

    client_id = f"gbcs-emu-{Path(opts.state_dir).resolve().name}-w{opts.worker}"
    return MqttBus(opts.broker, client_id=client_id, persistent=True)


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
    )


async def serve(opts: WorkerOptions, stop: asyncio.Event | None = None) -> None:
    """Run one worker until ``stop`` (or SIGTERM/SIGINT)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    emulator = build(opts)
    if opts.storm_seconds is None:
        await emulator.run(stop)
        return
    runner = asyncio.create_task(emulator.run(stop))
    ready = asyncio.create_task(emulator.ready.wait())
    await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not runner.done():
        emulator.power_cut(range(emulator.config.sites), opts.storm_seconds)
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
    try:
        asyncio.run(serve(opts))
    except (ValueError, OSError, BusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
