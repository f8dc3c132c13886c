"""``gbcs-emu demo``: a site on the embedded default, an end-to-end scripted scenario.

The emulator and a head-end run in this process on one bus (the embedded amqtt broker
when available, else the in-process bus), on a virtual clock the script moves, so a day
of load or a four-minute power cut takes no wall time. Every response is verified (device
signature or MAC) and decoded; the summary table shows what each step proved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from devices.behaviours.load import LoadProfile
from devices.site import Site
from emulator.cli.progress import Feedback
from emulator.headend.client import AlertEvent, HeadEnd
from emulator.headend.identity import MemoryCounterStore, parties_from_store
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.base import Bus
from emulator.transport.inprocess import InProcessBus, InProcessHub
from keys.store import KeyStore

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, midnight UTC
# Household load: 300 W, an evening peak (17:00-20:00) of 2.4 kW
SHAPE = tuple(2400 if 34 <= i < 40 else 300 for i in range(48))


async def _buses(use_mqtt: bool) -> tuple[Bus, Bus, Any, str]:
    if use_mqtt:
        with contextlib.suppress(ImportError, OSError, RuntimeError):
            from emulator.transport.broker import EmbeddedBroker
            from emulator.transport.mqtt import MqttBus

            broker = EmbeddedBroker()
            await broker.start()
            return MqttBus(broker.url), MqttBus(broker.url), broker, broker.url
    hub = InProcessHub()
    return InProcessBus(hub), InProcessBus(hub), None, "in-process bus"


STEPS = 11
"""Phases of the scenario (start-up, each step, the storm), for the progress display."""


async def run_demo(
    state: Path,
    use_mqtt: bool,
    feedback: Feedback | None = None,
    rows: list[tuple[str, str, str]] | None = None,
    about: dict[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    """Run the scenario; returns (step, result, verified) rows. Raises on any failure,
    with the rows of the steps done so far left in ``rows`` when given. ``about`` gets
    the site and the bus; ``feedback`` shows each step as it starts."""
    fb = feedback or Feedback(quiet=True)
    rows = [] if rows is None else rows
    about = {} if about is None else about
    n = 0

    def phase(text: str) -> None:
        nonlocal n
        n += 1
        fb.phase(f"[{n}/{STEPS}] {text}")

    phase("starting the broker and the emulated site")
    config = load_config(None)
    config.site.options["ESME"] = {"load_profile": LoadProfile.daily(SHAPE).to_dict()}
    config.site.options["GSME"] = {"gas_profile": 450}
    keys = KeyStore(ensure_pki(state))
    clock = VirtualClock(T0)
    emulator_bus, headend_bus, broker, where = await _buses(use_mqtt)
    about.update(site=config.site.site_id, bus=where, clock_start=f"{T0:%Y-%m-%d %H:%M}Z")
    emulator = Emulator(config, emulator_bus, clock, keys, state)
    stop = asyncio.Event()
    runner = asyncio.create_task(emulator.run(stop))
    try:
        await asyncio.wait_for(emulator.ready.wait(), 30)
        hkeys = KeyStore(state / "pki")
        add_device_public_keys(hkeys, config, range(1), state)
        he = HeadEnd(
            headend_bus,
            hkeys,
            parties=parties_from_store(hkeys),
            counters=MemoryCounterStore(first=1000),
            clock=clock.now,
        )
        async with he:
            alerts = he.alerts()
            site, eui = config.site.site_id, config.site.eui

            async def step(
                name: str, call: Callable[[], Awaitable[Any]], show: Callable[[Any], str]
            ) -> Any:
                phase(name)
                reply = await call()
                rows.append((name, show(reply), getattr(reply, "verified", "-")))
                return reply

            await step(
                "ECS17b read energy registers",
                lambda: he.request(site, eui("ESME"), "ECS17b"),
                lambda r: _brief(r.values),
            )
            await step(
                "ECS37 MD window 17:00-22:00 (Network Operator)",
                lambda: he.request(
                    site, eui("ESME"), "ECS37", start="17:00", end="22:00", read_back=True
                ),
                lambda r: "accepted" if r.values.get("ok") else f"refused {r.values}",
            )
            clock.set(T0 + timedelta(days=1, minutes=1))  # a day of load, accelerated
            await step(
                "ECS18b read max demand after a day",
                lambda: he.request(site, eui("ESME"), "ECS18b"),
                lambda r: _md(r.values),
            )
            await step(
                "ECS43 open the load switch (signed)",
                lambda: he.request(site, eui("ESME"), "ECS43"),
                lambda r: "done" if r.values.get("ok") else str(r.values),
            )
            await step(
                "ECS45 supply state",
                lambda: he.request(site, eui("ESME"), "ECS45"),
                lambda r: _brief(r.values),
            )
            await step(
                "ECS42 close the load switch (signed)",
                lambda: he.request(site, eui("ESME"), "ECS42"),
                lambda r: "done" if r.values.get("ok") else str(r.values),
            )
            clock.set(clock.now() + timedelta(minutes=31))  # the GSME wakes, the GPF mirrors
            await asyncio.sleep(0.2)
            await step(
                "GCS13a read gas via the GPF",
                lambda: he.request(site, eui("GPF"), "GCS13a"),
                lambda r: _brief(r.values),
            )
            gsme = emulator.site(0).gsme
            assert gsme is not None
            rows.append(("GSME display (device state)", gsme.display, "-"))
            esme = emulator.site(0).esme
            assert esme is not None
            held = esme.firmware.hold_image(b"demo firmware 2.0", bytes.fromhex("02000000"))
            ad1_before = _outage_count(emulator)
            await step(
                "CS06 activate firmware (compliant: CH cut 30 s)",
                lambda: he.request(site, eui("ESME"), "CS06", image_hash=held.image_hash),
                lambda r: _brief(r.values),
            )
            clock.set(clock.now() + timedelta(minutes=5))
            await _drain(alerts, 1.0)
            raised = _outage_count(emulator) - ad1_before
            rows.append(
                ("no outage alert after the activation", "none" if not raised else "AD1!", "-")
            )
            if raised:
                raise click.ClickException("firmware activation raised a power-outage alert")
            phase("4-minute power cut at the site")
            cut = clock.now()
            emulator.apply(0, Site.lose_mains, cut)
            clock.set(cut + timedelta(minutes=4))
            await asyncio.sleep(0.3)
            emulator.apply(0, Site.restore_mains)
            got = await _drain(alerts, 2.0)
            codes = sorted(f"0x{a.alert_code:04X}" for a in got if a.alert_code)
            rows.append(
                (
                    "4-minute power cut: ESME alert",
                    ", ".join(codes) or "none",
                    "signature" if codes else "-",
                )
            )
            if "0x8F36" not in codes:
                raise click.ClickException("the power cut gave no ECS80 0x8F36 alert")
            rows.append(
                ("4-minute power cut: CHF AD1", f"{_outage_count(emulator)} record(s)", "-")
            )
            alerts.close()
        phase("alert storm over 1,000 sites")
        rows.append(await _storm(state, fb))
        fb.done(rows[-1][1])
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 30)
        if broker is not None:
            await broker.aclose()
    return rows


def _brief(values: dict[str, Any]) -> str:
    items = [f"{k}={v}" for k, v in values.items() if k not in ("ok", "errors")]
    return ", ".join(items)[:90] or ("ok" if values.get("ok") else str(values))


def _md(values: dict[str, Any]) -> str:
    keys = [k for k in values if "import" in k and ("value" in k or k.endswith("_w"))]
    return ", ".join(f"{k}={values[k]}" for k in keys)[:90] or _brief(values)


async def _drain(stream: Any, seconds: float) -> list[AlertEvent]:
    out = []
    with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
        while True:
            out.append(await asyncio.wait_for(stream.next(seconds), seconds))
    return out


def _outage_count(emulator: Emulator) -> int:
    return int(emulator.metrics.counters.get("out.power-outage", 0))


async def _storm(state: Path, feedback: Feedback) -> tuple[str, str, str]:
    """1,000 sites lose mains for 4 minutes at once; every alert is counted at the bus."""
    config = load_config(None, sites=1000)
    hub = InProcessHub()
    watcher = InProcessBus(hub)
    await watcher.start()
    await watcher.subscribe("gbcs/+/+/alert")
    emulator = Emulator(
        config,
        InProcessBus(hub),
        VirtualClock(T0),
        KeyStore(state / "pki"),
        state / "storm",
        cache_size=1000,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(emulator.run(stop))
    await emulator.ready.wait()
    produced = emulator.power_cut(range(1000), 240)
    seen = 0
    async for _ in watcher.messages():
        seen += 1
        if seen % 100 == 0:
            feedback.count(seen, produced, "alerts delivered")
        if seen >= produced:
            break
    stop.set()
    await runner
    await watcher.close()
    return ("alert storm over 1,000 sites", f"{seen}/{produced} alerts delivered", "-")


@click.command("demo")
@click.option("--in-process", is_flag=True, help="Use the in-process bus, not the embedded broker.")
@click.option(
    "--json", "as_json", is_flag=True, help="No progress; print the summary as one JSON object."
)
def demo_cmd(in_process: bool, as_json: bool) -> None:
    """Run a scripted end-to-end scenario on one emulated site and print a summary.

    Progress goes to stderr: live on a terminal, one line per step otherwise, none with
    --json. A failed step still prints the steps done before it, then the error."""
    rows: list[tuple[str, str, str]] = []
    about: dict[str, str] = {}
    error: str | None = None
    with (
        tempfile.TemporaryDirectory(prefix="gbcs-demo-") as d,
        Feedback(quiet=as_json, prefix="demo: ") as fb,
    ):
        try:
            asyncio.run(run_demo(Path(d), not in_process, fb, rows, about))
        except click.ClickException as e:
            error = e.message
        except Exception as e:  # a demo failure is reported, never a traceback
            error = f"{type(e).__name__}: {e}"
        if error is not None:
            step = fb.phases[-1] if fb.phases else "start-up"
            error = f"demo failed at {step}: {error}"
            fb.fail()
    if as_json:
        doc = {
            "ok": error is None,
            **about,
            "steps": [{"step": s, "result": r, "verified": v} for s, r, v in rows],
        }
        if error is not None:
            doc["error"] = error
        click.echo(json.dumps(doc))
    elif rows:
        _table(rows, about)
    if error is not None:
        raise click.ClickException(error)


def _table(rows: list[tuple[str, str, str]], about: dict[str, str]) -> None:
    t = Table(
        title="gbcs-emu demo: every response verified",
        caption=(
            f"site {about.get('site', '?')} on {about.get('bus', '?')}; virtual clock from "
            f"{about.get('clock_start', '?')}"
        ),
    )
    t.add_column("step", ratio=3)
    t.add_column("result", ratio=4, overflow="fold")
    t.add_column("verified", no_wrap=True)
    for row in rows:
        t.add_row(*row)
    Console().print(t)
