"""``gbcs-emu storm``: a mains outage across N sites, alerts counted at the broker."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from emulator.runtime.pki import ensure_pki
from emulator.runtime.worker import WorkerOptions, spawn, stop_all
from emulator.transport.base import BusError


async def run_storm(
    sites: int,
    workers: int,
    broker_url: str | None,
    outage: float,
    consolidate: bool,
    timeout: float,
) -> dict[str, Any]:
    """Start a broker (unless given) and K workers, cut every site's mains, count alerts."""
    from emulator.transport.broker import best_available_broker
    from emulator.transport.mqtt import MqttBus

    broker = None
    if broker_url is None:
        broker = best_available_broker()
        await broker.start()
        broker_url = broker.url
    state = Path(tempfile.mkdtemp(prefix="gbcs-storm-"))
    sub = MqttBus(broker_url, client_id=f"storm-{state.name}", persistent=True)
    await sub.start()
    await sub.subscribe("gbcs/+/+/alert")
    seen: dict[tuple[str, bytes], float] = {}
    dups = 0
    t0 = time.monotonic()

    async def watch() -> None:
        nonlocal dups
        async for m in sub.messages():
            key = (m.topic, m.frame)
            if key in seen:
                dups += 1
            else:
                seen[key] = time.monotonic()

    watcher = asyncio.create_task(watch())
    ensure_pki(state)  # before the workers, which would race to create it
    procs = []
    for w in range(workers):
        opts = WorkerOptions(
            str(state),
            broker_url,
            sites=sites,
            worker=w,
            workers=workers,
            cache_size=sites,
            storm_seconds=outage,
            consolidate=consolidate,
        )
        procs.append(spawn(opts))
    produced = 0
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            stats = [json.loads(p.read_text()) for p in state.glob("stats-*.json")]
            produced = sum(int(s.get("counters", {}).get("storm_alerts", 0)) for s in stats)
            outbox = sum(s.get("gauges", {}).get("outbox", 0) for s in stats)
            done = len(stats) == workers and produced > 0 and outbox == 0
            if done and len(seen) >= produced:
                break
            if any(p.poll() is not None for p in procs):
                break
    finally:
        stop_all(procs, 20)
        watcher.cancel()
        await sub.close()
        if broker is not None:
            await broker.aclose()
    times = sorted(t - t0 for t in seen.values())
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {
        "sites": sites,
        "workers": workers,
        "produced": produced,
        "delivered": len(seen),
        "lost": max(produced - len(seen), 0),
        "duplicates": dups,
        "alerts_per_s": round(len(seen) / span, 1) if span else None,
        # from the start of the run (workers booting and hydrating sites included)
        "end_to_end_alerts_per_s": round(len(seen) / times[-1], 1) if times else None,
        "latency_p50_s": round(times[len(times) // 2], 3) if times else None,
        "latency_p99_s": round(times[int(len(times) * 0.99)], 3) if times else None,
        "broker": "given" if broker_url and broker is None else "started",
    }


@click.command("storm")
@click.option("--sites", type=int, default=1000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--broker", help="mqtt:// URL (default: start mosquitto, else amqtt).")
@click.option("--outage-seconds", type=float, default=240.0, show_default=True)
@click.option("--consolidate", is_flag=True, help="Turn DP119 consolidation on at every CHF.")
@click.option("--timeout", type=float, default=600.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def storm_cmd(
    sites: int,
    workers: int,
    broker: str | None,
    outage_seconds: float,
    consolidate: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Cut mains at N sites at once and report alerts produced, delivered and lost,
    alerts/s and delivery latency (seconds from the start of the run)."""
    if sites < 1 or workers < 1:
        raise click.BadParameter("--sites and --workers must be at least 1")
    try:
        result = asyncio.run(
            run_storm(sites, workers, broker, outage_seconds, consolidate, timeout)
        )
    except (BusError, OSError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(result))
        return
    t = Table(title="alert storm")
    for k in result:
        t.add_column(k)
    t.add_row(*(str(v) for v in result.values()))
    Console().print(t)
    if result["lost"]:
        raise SystemExit(1)
