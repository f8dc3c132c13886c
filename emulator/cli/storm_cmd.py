"""``gbcs-emu storm``: a mains outage across N sites, alerts counted at the broker.

Progress goes to stderr (live on a terminal, a line per phase otherwise, none with
``--json``): starting the broker, the workers loading their sites, then the alerts
delivered against those produced and the sites cut so far.

The workers cut the mains in chunks of sites and publish each chunk's alerts while they
cut the next (:meth:`~emulator.runtime.server.Emulator.storm`). An alert's latency is
measured from the commit of its chunk (when the emulated meters raised it) to its arrival
at this command's subscriber; both are read from the wall clock of this host.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from emulator.cli.progress import Feedback
from emulator.runtime.config import ConfigError, load_config
from emulator.runtime.launch import claim, start_workers, worker_failure
from emulator.runtime.statedir import StateError
from emulator.runtime.worker import WorkerOptions, stop_all
from emulator.transport.access import BrokerAccess, broker_access_options, optional_from_cli
from emulator.transport.base import BusError

#: Labels of the result's keys, in the order the table shows them.
ROWS = (
    ("sites", "sites"),
    ("workers", "workers"),
    ("produced", "alerts produced"),
    ("delivered", "alerts delivered"),
    ("lost", "alerts lost"),
    ("duplicates", "duplicates"),
    ("alerts_per_s", "alerts/s (first to last)"),
    ("end_to_end_alerts_per_s", "alerts/s (from the start)"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p99_s", "latency p99 (s)"),
    ("cut_seconds", "storm duration (s)"),
    ("broker", "broker"),
    ("complete", "complete"),
)


class StormError(Exception):
    """The storm could not run (broker unreachable, a worker died); the message says why."""


def _stats(state: Path) -> list[dict[str, Any]]:
    out = []
    for p in state.glob("stats-*.json"):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError):  # a snapshot being rewritten: read it next time
            continue
    return out


def _reports(state: Path, workers: int) -> dict[int, dict[str, Any]]:
    """The storm reports the workers have written so far, by worker."""
    from emulator.runtime.worker import storm_file

    out = {}
    for w in range(workers):
        try:
            out[w] = json.loads(storm_file(state, w).read_text())
        except (OSError, ValueError):  # not written yet (it is renamed into place whole)
            continue
    return out


def _site_index(topic: str) -> int | None:
    """N of a ``gbcs/site-N/...`` topic."""
    level = topic.split("/")[1] if topic.count("/") >= 2 else ""
    head, _, number = level.rpartition("-")
    return int(number) if head == "site" and number.isdigit() else None


def _latencies(
    seen: dict[tuple[str, bytes], float], reports: dict[int, dict[str, Any]], workers: int
) -> list[float]:
    """Each delivered alert's seconds from the commit of its chunk to its arrival."""
    chunks = {
        w: [(int(c[0]), float(c[2])) for c in r.get("chunks", [])] for w, r in reports.items()
    }
    lasts = {w: [c[0] for c in cs] for w, cs in chunks.items()}
    out = []
    for (topic, _), arrived in seen.items():
        index = _site_index(topic)
        if index is None:
            continue
        w = index % workers
        k = bisect.bisect_left(lasts.get(w, []), index)
        if k < len(lasts.get(w, [])):
            out.append(max(arrived - chunks[w][k][1], 0.0))
    return sorted(out)


async def run_storm(
    sites: int,
    workers: int,
    broker_url: str | None,
    outage: float,
    consolidate: bool,
    timeout: float,
    *,
    feedback: Feedback | None = None,
    access: BrokerAccess | None = None,
) -> dict[str, Any]:
    """Start a broker (unless given) and K workers, cut every site's mains, count alerts.

    ``access`` carries the broker's credentials and TLS files (``broker_url`` alone
    otherwise). Raises :class:`StormError` when the broker cannot be reached or a worker
    stops; the result's ``complete`` is false when ``timeout`` ran out first.
    """
    from emulator.transport.broker import best_available_broker

    fb = feedback or Feedback(quiet=True)
    broker = None
    if broker_url is None:
        fb.phase("starting a broker")
        try:
            broker = best_available_broker()
            await broker.start()
        except (OSError, RuntimeError, ImportError) as e:
            raise StormError(
                f"cannot start a broker: {e}; pass --broker mqtt://host:port"
            ) from None
        broker_url = broker.url
    if access is None or access.url != broker_url:
        access = BrokerAccess(broker_url)
    state = Path(tempfile.mkdtemp(prefix="gbcs-storm-"))
    procs: list[Any] = []
    held = None
    sub = None
    watcher: asyncio.Task[None] | None = None
    try:
        fb.phase(f"connecting to {access.url}")
        sub = access.bus(
            client_id=f"storm-{state.name}", persistent=True, connect_timeout=min(timeout, 10.0)
        )
        try:
            await sub.start()
        except BusError:
            why = re.sub(r"\[Errno -?\d+\]\s*", "", sub.last_error or "")
            why = why or f"no connection within {min(timeout, 10.0):g} s"
            raise StormError(f"cannot reach broker {access.url}: {why}") from None
        await sub.subscribe("gbcs/+/+/alert")
        seen: dict[tuple[str, bytes], float] = {}
        dups = 0
        t0 = time.time()  # wall clock: compared with the workers' commit times

        async def watch() -> None:
            nonlocal dups
            async for m in sub.messages():
                key = (m.topic, m.frame)
                if key in seen:
                    dups += 1
                else:
                    seen[key] = time.time()

        watcher = asyncio.create_task(watch())
        config = load_config(None, sites=sites)
        if consolidate:
            config.site.options.setdefault("CHF", {})["storm_consolidation"] = True
        held = claim(state, config, count=workers, total=workers, command="gbcs-emu storm")
        template = WorkerOptions(
            str(state),
            access.url,
            sites=sites,
            cache_size=sites,
            storm_seconds=outage,
            consolidate=consolidate,
            cafile=access.cafile,
            certfile=access.certfile,
            keyfile=access.keyfile,
        )
        fb.phase(f"starting {workers} worker(s) for {sites:,} site(s)")
        procs = start_workers(held, template, env=access.child_env())
        produced = 0
        complete = False
        cutting = False
        reports: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            stats = _stats(state)
            reports = _reports(state, workers)
            counters = [s.get("counters", {}) for s in stats]
            loaded = sum(
                int(c.get("sites_loaded", 0)) + int(c.get("sites_created", 0)) for c in counters
            )
            cut = sum(int(c.get("storm_sites", 0)) for c in counters)
            produced = sum(int(c.get("storm_alerts", 0)) for c in counters)
            if len(reports) == workers:  # every storm is over: its totals are final
                cut = sum(int(r.get("sites", 0)) for r in reports.values())
                produced = sum(int(r.get("produced", 0)) for r in reports.values())
            if (cut or reports) and not cutting:
                cutting = True
                fb.count(sites, sites, "sites ready")
                fb.done()
                fb.phase(f"mains cut at {sites:,} site(s) for {outage:g} s")
            if cutting:
                unit = "alerts delivered" + (
                    f", {cut:,}/{sites:,} sites cut" if cut < sites else ""
                )
                fb.count(len(seen), produced, unit)
            elif loaded:
                fb.count(min(loaded, sites), sites, "sites loaded")
            if len(reports) == workers and len(seen) >= produced:
                complete = all(r.get("complete") for r in reports.values())
                break
            failed = [(w, p) for w, p in enumerate(procs) if p.poll() is not None]
            if failed:
                w, p = failed[0]
                raise StormError(worker_failure(state, held.layout.first + w, p))
        if cutting:
            fb.done(f"{len(seen):,}/{produced:,} alerts delivered")
        fb.phase("stopping the workers")
    finally:
        if watcher is not None:
            watcher.cancel()
        if sub is not None:
            await sub.close()
        stop_all(procs, 20)
        if held is not None:
            held.release()
        if broker is not None:
            await broker.aclose()
        shutil.rmtree(state, ignore_errors=True)
    fb.done()
    times = sorted(t - t0 for t in seen.values())
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    latencies = _latencies(seen, reports, workers)
    cut_seconds = None
    if reports:
        first = min(float(r.get("started", 0)) for r in reports.values())
        cut_seconds = round(max(float(r.get("finished", 0)) for r in reports.values()) - first, 3)
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
        # from the commit of the alert's chunk to its arrival here
        "latency_p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
        "latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 3) if latencies else None,
        "cut_seconds": cut_seconds,  # first chunk started to last chunk committed
        "broker": "given" if broker is None else "started",
        "complete": complete,
    }


@click.command("storm")
@click.option("--sites", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--broker",
    help=(
        "mqtt[s]:// URL, or several (nodes of one cluster) separated by commas "
        "(default: start mosquitto, else amqtt)."
    ),
)
@broker_access_options
@click.option(
    "--outage-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=240.0,
    show_default=True,
    help="How long mains stay off at every site.",
)
@click.option("--consolidate", is_flag=True, help="Turn DP119 consolidation on at every CHF.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds to wait for every alert before giving up.",
)
@click.option("--json", "as_json", is_flag=True, help="No progress; the result as one JSON object.")
def storm_cmd(
    sites: int,
    workers: int,
    broker: str | None,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    outage_seconds: float,
    consolidate: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Cut mains at N sites at once and report alerts produced, delivered and lost,
    alerts/s and delivery latency (seconds from the commit of the chunk of sites that
    raised an alert to its arrival). Exits 1 when an alert was lost or --timeout ran out
    first."""
    if workers > sites:
        raise click.BadParameter(
            f"{workers} workers for {sites} site(s): give at most one worker per site",
            param_hint="--workers",
        )
    access = optional_from_cli(
        broker,
        password_file=broker_password_file,
        cafile=cafile,
        certfile=certfile,
        keyfile=keyfile,
    )
    # The watcher's bus logs each failed connect attempt; the error line says it once.
    logging.getLogger("emulator.transport").setLevel(logging.ERROR)
    try:
        with Feedback(quiet=as_json, prefix="storm: ") as fb:
            result = asyncio.run(
                run_storm(
                    sites,
                    workers,
                    access.url if access else None,
                    outage_seconds,
                    consolidate,
                    timeout,
                    feedback=fb,
                    access=access,
                )
            )
    except (StormError, StateError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    except (BusError, OSError) as e:
        raise click.ClickException(f"storm failed: {e}") from None
    if as_json:
        click.echo(json.dumps(result))
    else:
        t = Table(title="alert storm", show_header=False)
        t.add_column("figure", no_wrap=True)
        t.add_column("value", justify="right", no_wrap=True)
        for key, label in ROWS:
            value = result[key]
            t.add_row(label, "-" if value is None else f"{value}")
        Console().print(t)
    if not result["complete"]:
        raise click.ClickException(
            f"not every alert arrived within --timeout {timeout:g} s: "
            f"{result['delivered']} of {result['produced']} produced so far"
        )
