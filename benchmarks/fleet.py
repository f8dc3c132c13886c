"""Fleet figures, each beside its same-run baseline: memory, throughput, latency, storms.

Prints:

* boot time and idle memory per device for N sites (sites are lazily hydrated, so an
  idle device costs its share of the fleet bookkeeping);
* a hydrated site: RSS delta over N hydrated sites (after ``gc``) divided by N, and the
  time to hydrate one; and the RSS per site once the runtime has used each (a mains cut
  and restore, committed: what the store holds for each device is then held too);
* the device core (``Site.receive``, no persistence) and the runtime in-process
  (``Emulator.handle``: decode, verify, execute, persist, queue) on the same site, with
  their ratio;
* the runtime over MQTT, the emulator a worker process and the head-end this process:
  pipelined commands/s, then round-trip latency p50/p99 while offering 1,000 commands/s;
* an alert storm through the broker with 1 and 2 workers: alerts/s, latency, lost
  alerts, and the workers' CPU seconds per alert (so scaling shows on a busy machine).

Every command is fresh (rising counters) and every one must be answered: the script
exits 1 when any is refused or lost, so rejections are never timed as throughput. The
broker is mosquitto on a free port when installed, else amqtt. Frames are built here
(``emulator.headend``); ``../shared`` is not needed.

``--quick`` uses small sizes (under 5 minutes on 2 cores); ``--json`` prints one JSON
object instead of text.

Usage: python benchmarks/fleet.py [--quick] [--json] [--sites N] [--hydrate N]
       [--storm-sites N] [--commands N] [--rate R] [--paced-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import children_cpu_s, emit_json, fail, percentile, rss_kib, run_main

from devices.outbound import OutboundKind
from emulator.cli.storm_cmd import StormError, run_storm
from emulator.headend.commands import CommandBuilder
from emulator.runtime.clock import RealClock, VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import SERVE_BATCH, Emulator
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.dlms import AccessRequest, GetSpec, Obis, invoke_id_for_counter
from gbcs.envelope import decode_envelope
from gbcs.errors import GbcsDecodeError
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
ACB = DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER]
CONTROL = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each part of the run is."""

    sites: int  # booted (idle) sites
    hydrate: int  # hydrated sites for the memory figure
    commands: int  # commands per throughput figure
    rate: float  # offered commands/s for the latency figure
    paced_seconds: float  # how long that rate is offered
    storm_sites: int


FULL = Sizes(100_000, 1_000, 3_000, 1_000.0, 5.0, 2_000)
QUICK = Sizes(10_000, 500, 2_000, 1_000.0, 2.0, 2_000)


def read_command(builder: CommandBuilder, eui: bytes) -> bytes:
    """A fresh non-critical read for ``eui`` (ECS45 0x0052, the load switch's status)."""
    c = builder.next_counter(SUPPLIER)
    req = AccessRequest(invoke_id_for_counter(c), (CONTROL,), (Data.null(),))
    return builder.command(SUPPLIER, eui, 0x0052, req, counter=c)


# ------------------------------------------------------------------ memory


def boot_and_idle(sites: int, state: Path) -> dict[str, float]:
    """Boot a fleet of ``sites`` (none hydrated): seconds, and idle bytes per device."""
    keys = KeyStore(ensure_pki(state))
    gc.collect()
    before = rss_kib()
    t0 = time.perf_counter()
    cfg = load_config(None, sites=sites)
    emu = Emulator(
        cfg, InProcessBus(InProcessHub()), VirtualClock(datetime.now(UTC)), keys, state / "boot"
    )
    index = {cfg.site_config(i).eui("ESME"): i for i in range(sites)}  # a routing table
    boot = time.perf_counter() - t0
    gc.collect()
    idle = (rss_kib() - before) * 1024 / (4 * sites)
    emu.close()
    del emu, index
    gc.collect()
    return {"boot_s": round(boot, 3), "idle_bytes_per_device": round(idle, 1)}


def _memory_emulator(n: int, state: Path) -> Emulator:
    """An emulator of n + 1 sites on a virtual clock that keeps them all in memory (site
    0 warms what is built once per process; sites 1..n are measured)."""
    return Emulator(
        load_config(None, sites=n + 1),
        InProcessBus(InProcessHub()),
        VirtualClock(datetime.now(UTC)),
        KeyStore(ensure_pki(state.parent)),
        state,
        cache_size=n + 1,  # none evicted: all n stay in RAM
    )


def hydrated_sites(n: int, state: Path) -> dict[str, float]:
    """RSS delta over ``n`` hydrated sites (after gc) / n, and ms to hydrate one."""
    emu = _memory_emulator(n, state / "hydrate")
    emu.site(0)  # first use of each lazily built module-level table is not a site's cost
    gc.collect()
    before = rss_kib()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        emu.site(i)
    dt = time.perf_counter() - t0
    hydrated = len(emu.sites) - 1
    gc.collect()
    per = (rss_kib() - before) / hydrated
    emu.close()
    del emu
    gc.collect()
    return {"hydrated_site_kib": round(per, 1), "hydration_ms": round(dt * 1000 / hydrated, 3)}


def used_sites(n: int, state: Path) -> dict[str, float]:
    """RSS delta over ``n`` sites hydrated and used by the runtime (a mains cut and
    restore each, committed: what the store holds for each device is then recorded in
    memory as well), divided by n."""
    emu = _memory_emulator(n, state / "used")
    emu.power_cut([0], 200)  # the module-level tables and factory templates: not a site's
    gc.collect()
    before = rss_kib()
    emu.power_cut(range(1, n + 1), 200)
    gc.collect()
    per = (rss_kib() - before) / n
    emu.close()
    del emu
    gc.collect()
    return {"used_site_kib": round(per, 1)}


# ------------------------------------------------------------------ in-process


def core_and_inprocess(n: int, state: Path) -> dict[str, float]:
    """Device core (``Site.receive``) then ``Emulator.handle``, each on n fresh commands
    to the same ESME; exits 1 when any command is not answered."""
    keys = KeyStore(ensure_pki(state))
    cfg = load_config(None, sites=1)
    clock = RealClock()
    emu = Emulator(cfg, InProcessBus(InProcessHub()), clock, keys, state / "inproc")
    try:
        add_device_public_keys(keys, cfg, range(1), state / "inproc")
        builder = CommandBuilder(keys, ACB)
        esme = cfg.site.eui("ESME")
        site_id = cfg.site_config(0).site_id
        site = emu.site(0)
        device = site.device(esme)
        if device is None:
            fail("the fleet's site has no ESME")
        # one command through handle first: the site's first save is not a command's cost
        first = BusMessage(site_id, esme.hex().upper(), Channel.IN, read_command(builder, esme))
        if emu.handle(first) < 1:
            fail(f"warm-up command not answered ({device.last_rejection})")

        def fresh_messages() -> list[BusMessage]:
            """n new commands (rising counters), built outside the timed section."""
            topic = (site_id, esme.hex().upper(), Channel.IN)
            return [BusMessage(*topic, read_command(builder, esme)) for _ in range(n)]

        core = [read_command(builder, esme) for _ in range(n)]
        bad = 0
        t0 = time.perf_counter()
        for f in core:
            outs = site.receive(f, clock.now())
            if device.last_rejection is not None or not any(
                o.kind is OutboundKind.RESPONSE for o in outs
            ):
                bad += 1
        core_rate = n / (time.perf_counter() - t0)
        if bad:
            fail(f"device core: {bad} of {n} commands not answered ({device.last_rejection})")

        msgs = fresh_messages()
        t0 = time.perf_counter()
        for m in msgs:
            if emu.handle(m) < 1 or device.last_rejection is not None:
                bad += 1
        runtime_rate = n / (time.perf_counter() - t0)
        if bad:
            fail(f"Emulator.handle: {bad} of {n} commands not answered")

        # as the runtime serves a busy bus: what is queued is drained together (up to
        # SERVE_BATCH) and committed in one transaction before any answer is published
        msgs = fresh_messages()
        answered = 0
        t0 = time.perf_counter()
        for i in range(0, n, SERVE_BATCH):
            answered += emu.handle_many(msgs[i : i + SERVE_BATCH])
        batch_rate = n / (time.perf_counter() - t0)
        if answered < n or device.last_rejection is not None:
            fail(f"Emulator.handle_many: {n - answered} of {n} commands not answered")
    finally:
        emu.close()
    return {
        "device_core_cmds_per_s": round(core_rate, 1),
        "inprocess_cmds_per_s": round(runtime_rate, 1),
        "inprocess_vs_core": round(runtime_rate / core_rate, 3),
        "inprocess_batch_cmds_per_s": round(batch_rate, 1),
        "inprocess_batch_vs_core": round(batch_rate / core_rate, 3),
    }


# ------------------------------------------------------------------ MQTT


class _Responses:
    """Round trips by command counter, from the head-end's subscription."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.rtt: list[float] = []
        self.unmatched = 0
        self.last = 0.0
        self.arrived = asyncio.Event()
        self.want = 0

    def on_response(self, frame: bytes) -> None:
        t = time.perf_counter()
        try:
            counter = decode_envelope(frame).header.counter
        except GbcsDecodeError:
            self.unmatched += 1
            return
        t0 = self.sent.pop(counter, None)
        if t0 is None:
            self.unmatched += 1
            return
        self.rtt.append(t - t0)
        self.last = t
        if len(self.rtt) >= self.want:
            self.arrived.set()

    def expect(self, count: int) -> None:
        self.rtt = []
        self.want = count
        self.arrived.clear()


async def mqtt_figures(sizes: Sizes, state: Path, broker_url: str) -> dict[str, float]:
    """The runtime as a worker process, the head-end here: pipelined commands/s, then
    round-trip latency while offering ``sizes.rate`` commands/s."""
    from emulator.runtime.launch import claim, start_workers, worker_failure
    from emulator.runtime.worker import WorkerOptions, stop_all
    from emulator.transport.mqtt import MqttBus

    cfg = load_config(None, sites=1)
    held = claim(state, cfg, count=1, total=1, command="benchmarks/fleet.py")
    procs = []
    bus = MqttBus(broker_url)
    reader: asyncio.Task[None] | None = None
    try:
        keys = KeyStore(ensure_pki(state))
        add_device_public_keys(keys, cfg, range(1))  # claim() set the state's seed
        builder = CommandBuilder(keys, ACB)
        esme = cfg.site.eui("ESME")
        topic = (cfg.site_config(0).site_id, esme.hex().upper())
        procs = start_workers(held, WorkerOptions(str(state), broker_url, sites=1))
        await bus.start()
        await bus.subscribe("gbcs/+/+/out")
        r = _Responses()

        async def read() -> None:
            async for m in bus.messages():
                r.on_response(m.frame)

        reader = asyncio.create_task(read())

        async def send(frame: bytes) -> None:
            r.sent[decode_envelope(frame).header.counter] = time.perf_counter()
            await bus.publish(BusMessage(topic[0], topic[1], Channel.IN, frame))

        async def wait_all(count: int, timeout: float, what: str) -> None:
            try:
                await asyncio.wait_for(r.arrived.wait(), timeout)
            except TimeoutError:
                fail(f"MQTT {what}: {len(r.rtt)} of {count} responses within {timeout:g} s")

        # the worker is up once it answers (commands before its subscription are lost)
        deadline = time.monotonic() + 60
        while True:
            r.expect(1)
            r.sent.clear()
            await send(read_command(builder, esme))
            try:
                await asyncio.wait_for(r.arrived.wait(), 1.0)
                break
            except TimeoutError:
                if procs[0].poll() is not None:
                    fail(worker_failure(state, 0, procs[0]))
                if time.monotonic() > deadline:
                    fail("the MQTT worker did not answer within 60 s")
        r.sent.clear()
        r.unmatched = 0

        n = sizes.commands
        frames = [read_command(builder, esme) for _ in range(n)]
        r.expect(n)
        t0 = time.perf_counter()
        for f in frames:
            await send(f)
        await wait_all(n, 120, "pipelined")
        pipelined = n / (r.last - t0)

        total = max(1, int(sizes.rate * sizes.paced_seconds))
        frames = [read_command(builder, esme) for _ in range(total)]
        r.expect(total)
        i = 0
        t0 = time.perf_counter()
        while i < total:
            due = min(total, int((time.perf_counter() - t0) * sizes.rate) + 1)
            while i < due:
                await send(frames[i])
                i += 1
            await asyncio.sleep(0.0005)
        offered = total / (time.perf_counter() - t0)
        await wait_all(total, 120, f"at {sizes.rate:g}/s")
        if r.unmatched:
            fail(f"MQTT: {r.unmatched} responses matched no command sent")
        return {
            "mqtt_cmds_per_s": round(pipelined, 1),
            "mqtt_offered_cmds_per_s": round(offered, 1),
            "mqtt_p50_ms_at_1000": round(percentile(r.rtt, 50) * 1000, 2),
            "mqtt_p99_ms_at_1000": round(percentile(r.rtt, 99) * 1000, 2),
        }
    finally:
        if reader is not None:
            reader.cancel()
        await bus.close()
        stop_all(procs, 20)
        held.release()


# ------------------------------------------------------------------ storms


async def storm(sites: int, workers: int, broker_url: str) -> dict[str, Any]:
    """One storm on the given broker, with the workers' CPU seconds (reaped children)."""
    cpu0 = children_cpu_s()
    try:
        r = await run_storm(sites, workers, broker_url, 240, False, 600)
    except StormError as e:
        fail(f"storm with {workers} worker(s): {e}")
    r["cpu_s"] = children_cpu_s() - cpu0
    if not r["complete"]:
        fail(f"storm with {workers} worker(s): {r['delivered']} of {r['produced']} alerts")
    return r


# ------------------------------------------------------------------ main


def _print_text(out: dict[str, Any]) -> None:
    print(f"broker: {out['broker']}; load average (1 min) {out['load_avg']:.2f}")
    print(
        f"boot {out['boot_sites']:,} sites: {out['boot_s']:.2f} s;"
        f" idle memory {out['idle_bytes_per_device']:,.0f} B per device"
    )
    print(
        f"hydrated site ({out['hydrated_sites']} sites, RSS delta / N): "
        f"{out['hydrated_site_kib']:,.0f} KiB; hydration {out['hydration_ms']:.2f} ms;"
        f" used by the runtime (a mains cut committed) {out['used_site_kib']:,.0f} KiB"
    )
    print(
        f"device core (Site.receive): {out['device_core_cmds_per_s']:,.0f} commands/s;"
        f" in-process Emulator.handle: {out['inprocess_cmds_per_s']:,.0f} commands/s"
        f" ({out['inprocess_vs_core']:.2f}x the core); drained {SERVE_BATCH} at a time"
        f" (Emulator.handle_many): {out['inprocess_batch_cmds_per_s']:,.0f} commands/s"
        f" ({out['inprocess_batch_vs_core']:.2f}x)"
    )
    print(
        f"MQTT, worker process: {out['mqtt_cmds_per_s']:,.0f} commands/s pipelined;"
        f" offering {out['mqtt_offered_cmds_per_s']:,.0f}/s: round trip"
        f" p50 {out['mqtt_p50_ms_at_1000']:.1f} ms, p99 {out['mqtt_p99_ms_at_1000']:.1f} ms"
    )
    for w in ("1w", "2w"):
        print(
            f"storm {out['storm_sites']:,} sites, {w[0]} worker(s):"
            f" {out[f'storm_alerts_per_s_{w}']} alerts/s end to end,"
            f" p50 {out[f'storm_p50_s_{w}']} s, p99 {out[f'storm_p99_s_{w}']} s,"
            f" lost {out[f'storm_lost_{w}']},"
            f" {out[f'storm_cpu_s_per_alert_{w}'] * 1000:.2f} ms worker CPU per alert"
        )
    print(f"  2 workers / 1 worker, end to end: {out['storm_2w_vs_1w']}x")


async def run(sizes: Sizes) -> dict[str, Any]:
    """Every figure, as one dict."""
    from emulator.transport.broker import best_available_broker

    out: dict[str, Any] = {"load_avg_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="gbcs-bench-fleet-") as d:
        state = Path(d)
        out["boot_sites"] = sizes.sites
        out.update(boot_and_idle(sizes.sites, state))
        out["hydrated_sites"] = sizes.hydrate
        out.update(hydrated_sites(sizes.hydrate, state))
        # in a fresh process: memory freed by the figures before would be reused here
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            out.update(pool.submit(used_sites, sizes.hydrate, state).result())
        out.update(core_and_inprocess(sizes.commands, state))
        broker = best_available_broker()
        try:
            await broker.start()
        except (OSError, RuntimeError, ImportError) as e:
            fail(f"cannot start a broker ({type(broker).__name__}): {e}")
        try:
            out["broker"] = type(broker).__name__
            out.update(await mqtt_figures(sizes, state / "mqtt", broker.url))
            one = await storm(sizes.storm_sites, 1, broker.url)
            two = await storm(sizes.storm_sites, 2, broker.url)
        finally:
            await broker.aclose()
    out["storm_sites"] = sizes.storm_sites
    for w, r in (("1w", one), ("2w", two)):
        out[f"storm_alerts_per_s_{w}"] = r["end_to_end_alerts_per_s"]
        out[f"storm_p50_s_{w}"] = r["latency_p50_s"]
        out[f"storm_p99_s_{w}"] = r["latency_p99_s"]
        out[f"storm_lost_{w}"] = r["lost"]
        out[f"storm_cpu_s_per_alert_{w}"] = round(r["cpu_s"] / max(r["delivered"], 1), 6)
    out["storm_p50_s"] = one["latency_p50_s"]
    out["storm_lost"] = one["lost"] + two["lost"]
    a1, a2 = one["end_to_end_alerts_per_s"], two["end_to_end_alerts_per_s"]
    out["storm_2w_vs_1w"] = round(a2 / a1, 3) if a1 and a2 else None
    out["load_avg"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (under 5 minutes)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--sites", type=int, help="booted idle sites (100,000; quick 10,000)")
    p.add_argument("--hydrate", type=int, help="hydrated sites, at least 200 (1,000; quick 500)")
    p.add_argument(
        "--commands", type=int, help="commands per throughput figure (3,000; quick 2,000)"
    )
    p.add_argument("--rate", type=float, help="offered commands/s for the latency (1,000)")
    p.add_argument("--paced-seconds", type=float, help="seconds at that rate (5; quick 2)")
    p.add_argument("--storm-sites", type=int, help="sites in each storm (2,000)")
    args = p.parse_args()
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        args.sites if args.sites is not None else base.sites,
        args.hydrate if args.hydrate is not None else base.hydrate,
        args.commands if args.commands is not None else base.commands,
        args.rate if args.rate is not None else base.rate,
        args.paced_seconds if args.paced_seconds is not None else base.paced_seconds,
        args.storm_sites if args.storm_sites is not None else base.storm_sites,
    )
    if sizes.hydrate < 200:
        p.error(f"--hydrate {sizes.hydrate}: at least 200 sites, or RSS noise swamps the figure")
    for name in ("sites", "commands", "storm_sites"):
        if getattr(sizes, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if sizes.storm_sites < 2:
        p.error("--storm-sites must be at least 2 (the second storm has 2 workers)")
    if not (sizes.rate > 0 and sizes.paced_seconds > 0):
        p.error("--rate and --paced-seconds must be positive")
    out = asyncio.run(run(sizes))
    if args.json:
        emit_json(out)
    else:
        _print_text(out)


if __name__ == "__main__":
    run_main(main)
