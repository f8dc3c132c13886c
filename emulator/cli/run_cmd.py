"""``gbcs-emu run`` and ``gbcs-emu stats``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from emulator.runtime.config import ConfigError, load_config
from emulator.runtime.pki import ensure_pki
from emulator.runtime.worker import WorkerOptions, spawn, stop_all

DEFAULT_STATE = Path("gbcs-state")


def read_stats(state: Path) -> list[dict[str, Any]]:
    """Every worker's latest metrics snapshot."""
    out = []
    for p in sorted(state.glob("stats-*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(p.read_text()))
    return out


def _sum(stats: list[dict[str, Any]], key: str, gauge: bool = False) -> float:
    part = "gauges" if gauge else "counters"
    return sum(float(s.get(part, {}).get(key, 0)) for s in stats)


def stats_table(state: Path, info: dict[str, Any], rates: dict[str, float]) -> Table:
    stats = read_stats(state)
    t = Table(title=f"gbcs-emu  {info.get('broker', '')}  clock {info.get('clock', '')}")
    for col in (
        "sites",
        "workers",
        "hydrated",
        "commands",
        "cmd/s",
        "alerts",
        "alerts/s",
        "rejections",
        "outbox",
        "broker",
    ):
        t.add_column(col, justify="right")
    rejections = sum(
        v for s in stats for k, v in s.get("counters", {}).items() if k.startswith("rejected.")
    )
    connected = all(s.get("gauges", {}).get("broker_connected", 1) for s in stats)
    sites = info.get("sites")
    t.add_row(
        str(sites if sites is not None else "?"),
        str(4 * sites) if isinstance(sites, int) else "?",
        str(len(stats)),
        f"{_sum(stats, 'sites_hydrated', True):.0f}",
        f"{_sum(stats, 'commands'):.0f}",
        f"{rates.get('commands', 0):.1f}",
        f"{_sum(stats, 'out.alert'):.0f}",
        f"{rates.get('alerts', 0):.1f}",
        f"{rejections:.0f}",
        f"{_sum(stats, 'outbox', True):.0f}",
        "up" if connected else "down",
    )
    return t


@click.command("run")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Site TOML.")
@click.option("--sites", type=int, help="Number of sites (overrides the config).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--broker", help="mqtt://host:port of a broker (default: embedded amqtt).")
@click.option("--tcp", "tcp_port", type=int, help="Serve length-prefixed TCP on this port.")
@click.option("--clock", default="real", show_default=True, help="real, xN (e.g. x60).")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="State directory (sqlite, PKI, stats).",
)
@click.option("--metrics-port", type=int, help="Serve Prometheus metrics on this port.")
@click.option(
    "--shard",
    metavar="FIRST:TOTAL",
    help="Multi-host: this host's workers are FIRST.. of TOTAL workers fleet-wide.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--quiet", is_flag=True, help="No live table.")
def run_cmd(
    config: Path | None,
    sites: int | None,
    workers: int,
    broker: str | None,
    tcp_port: int | None,
    clock: str,
    state: Path,
    metrics_port: int | None,
    shard: str | None,
    duration: float | None,
    quiet: bool,
) -> None:
    """Serve emulated sites until Ctrl-C, with a live table; state is flushed on exit."""
    try:
        cfg = load_config(config, sites=sites)
        from emulator.runtime.clock import parse_clock

        parse_clock(clock)
    except (ConfigError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if workers < 1:
        raise click.BadParameter("at least one worker", param_hint="--workers")
    first, total = 0, workers
    if shard is not None:
        try:
            first, total = (int(x) for x in shard.split(":"))
            if not (first >= 0 and first + workers <= total):
                raise ValueError
        except ValueError:
            raise click.BadParameter(
                "FIRST:TOTAL with FIRST + --workers <= TOTAL", param_hint="--shard"
            ) from None
    if tcp_port is not None and workers > 1:
        raise click.BadParameter("TCP serves one worker; use MQTT for several", "--workers")
    state.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        _run(
            cfg.sites,
            config,
            (first, workers, total),
            broker,
            tcp_port,
            clock,
            state,
            metrics_port,
            duration,
            quiet,
        )
    )


async def _run(
    sites: int,
    config: Path | None,
    shard: tuple[int, int, int],
    broker: str | None,
    tcp_port: int | None,
    clock: str,
    state: Path,
    metrics_port: int | None,
    duration: float | None,
    quiet: bool,
) -> None:
    console = Console()
    embedded = None
    if broker is None and tcp_port is None:
        from emulator.transport.broker import EmbeddedBroker

        embedded = EmbeddedBroker()
        await embedded.start()
        broker = embedded.url
    where = broker or f"tcp://127.0.0.1:{tcp_port}"
    info = {"broker": where, "clock": clock, "sites": sites}
    (state / "run.json").write_text(
        json.dumps({**info, "config": str(config) if config else None, "pid": os.getpid()})
    )
    for old in state.glob("stats-*.json"):
        old.unlink()
    ensure_pki(state)  # before the workers, which would race to create it
    first, workers, total = shard
    procs = []
    for w in range(first, first + workers):
        opts = WorkerOptions(
            str(state), broker, tcp_port, str(config) if config else None, sites, clock, w, total
        )
        procs.append(spawn(opts))
    console.print(f"serving {sites} site(s) on {where} with {workers} worker(s); Ctrl-C stops")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    metrics_server = None
    if metrics_port is not None:
        metrics_server = await _serve_metrics(state, metrics_port)
    started = time.monotonic()
    last = {"commands": 0.0, "alerts": 0.0, "t": time.monotonic()}
    rates: dict[str, float] = {}

    def refresh() -> Table:
        stats = read_stats(state)
        now = time.monotonic()
        dt = max(now - last["t"], 1e-6)
        for key, counter in (("commands", "commands"), ("alerts", "out.alert")):
            v = _sum(stats, counter)
            rates[key] = (v - last[key]) / dt
            last[key] = v
        last["t"] = now
        return stats_table(state, info, rates)

    live = None if quiet else Live(refresh(), console=console, refresh_per_second=2)
    try:
        if live is not None:
            live.start()
        while not stop.is_set():
            if duration is not None and time.monotonic() - started >= duration:
                break
            if any(p.poll() is not None for p in procs):
                console.print("[red]a worker exited; stopping[/red]")
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if live is not None:
                live.update(refresh())
    finally:
        if live is not None:
            live.stop()
        stop_all(procs, 15)
        if metrics_server is not None:
            metrics_server.close()
        if embedded is not None:
            await embedded.stop()
        console.print(stats_table(state, info, rates))
        console.print("stopped; state flushed in " + str(state))


async def _serve_metrics(state: Path, port: int) -> asyncio.AbstractServer:
    """A minimal HTTP endpoint serving the workers' metrics in the Prometheus format."""
    from emulator.runtime.metrics import Metrics

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            m = Metrics()
            for s in read_stats(state):
                m.merge(s)
            body = m.prometheus().encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


@click.command("stats")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
def stats_cmd(state: Path, as_json: bool) -> None:
    """Counters of a running (or stopped) emulator from its state directory."""
    stats = read_stats(state)
    if not stats:
        raise click.ClickException(f"no statistics in {state} (is gbcs-emu run using it?)")
    if as_json:
        click.echo(json.dumps(stats, indent=1))
        return
    info = {}
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((state / "run.json").read_text())
    Console().print(stats_table(state, info, {}))
    totals: dict[str, float] = {}
    for s in stats:
        for k, v in s.get("counters", {}).items():
            totals[k] = totals.get(k, 0) + v
    t = Table(title="counters")
    t.add_column("name")
    t.add_column("value", justify="right")
    for k, v in sorted(totals.items()):
        t.add_row(k, f"{v:.0f}")
    Console().print(t)
