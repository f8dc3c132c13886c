"""Fleet figures: boot and memory, command throughput and latency, alert-storm rate.

Prints:

* boot time and idle memory per device for N sites (default 100,000 = 400,000 devices):
  sites are lazily hydrated, so an idle device costs its share of the fleet bookkeeping;
  the memory of a *hydrated* site (its four devices in RAM) is printed too;
* command throughput in-process (``Emulator.handle``, no transport) and over MQTT
  through mosquitto (pipelined), with round-trip latency p50/p99 (one at a time);
* alert-storm alerts/s through mosquitto with 1 and 2 workers (ratio printed).

Usage: python benchmarks/fleet.py [--sites N] [--storm-sites N] [--commands N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.cli.storm_cmd import run_storm
from emulator.headend.commands import CommandBuilder
from emulator.runtime.clock import RealClock, VirtualClock
from emulator.runtime.config import load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.dlms import AccessRequest, GetSpec, Obis, invoke_id_for_counter
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
CONTROL = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def read_command(builder: CommandBuilder, eui: bytes) -> bytes:
    c = builder.next_counter(SUPPLIER)
    req = AccessRequest(invoke_id_for_counter(c), (CONTROL,), (Data.null(),))
    return builder.command(SUPPLIER, eui, 0x0052, req, counter=c)


async def boot_and_memory(sites: int, state: Path) -> None:
    keys = KeyStore(ensure_pki(state))
    gc.collect()
    before = rss_kb()
    t0 = time.perf_counter()
    cfg = load_config(None, sites=sites)
    emu = Emulator(
        cfg,
        InProcessBus(InProcessHub()),
        VirtualClock(datetime.now(UTC)),
        keys,
        state / "boot",
        cache_size=1000,
    )
    index = {cfg.site_config(i).eui("ESME"): i for i in range(sites)}  # routing table
    boot = time.perf_counter() - t0
    gc.collect()
    idle = (rss_kb() - before) * 1024 / (4 * sites)
    print(
        f"boot {sites:,} sites ({4 * sites:,} devices): {boot:.2f} s;"
        f" idle memory {idle:,.0f} B per device"
    )
    before = rss_kb()
    t0 = time.perf_counter()
    for i in range(1000):
        emu.site(i)
    hyd = time.perf_counter() - t0
    gc.collect()
    per = (rss_kb() - before) * 1024 / 1000
    print(f"hydrating a site (4 devices): {hyd:.2f} ms each, {per / 1024:,.0f} KiB each in RAM")
    del emu, index


async def inprocess_throughput(n: int, state: Path) -> float:
    keys = KeyStore(ensure_pki(state))
    cfg = load_config(None)
    add_device_public_keys(keys, cfg, range(1), state / "inproc")
    builder = CommandBuilder(keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
    emu = Emulator(cfg, InProcessBus(InProcessHub()), RealClock(), keys, state / "inproc")
    esme = cfg.site.eui("ESME")
    frames = [read_command(builder, esme) for _ in range(n)]
    msgs = [BusMessage("site-0", esme.hex().upper(), Channel.IN, f) for f in frames]
    emu.handle(msgs[0])
    t0 = time.perf_counter()
    for m in msgs[1:]:
        emu.handle(m)
    rate = (n - 1) / (time.perf_counter() - t0)
    print(
        f"in-process Emulator.handle (decode, verify, execute, persist, queue): "
        f"{rate:,.0f} commands/s"
    )
    emu.store.close()
    return rate


async def mqtt_throughput(n: int, state: Path) -> None:
    from emulator.runtime.worker import WorkerOptions, serve
    from emulator.transport.broker import best_available_broker
    from emulator.transport.mqtt import MqttBus

    broker = best_available_broker("mosquitto")
    await broker.start()
    keys = KeyStore(ensure_pki(state / "mqtt"))
    cfg = load_config(None)
    add_device_public_keys(keys, cfg, range(1), state / "mqtt")
    builder = CommandBuilder(keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
    stop = asyncio.Event()
    worker = asyncio.create_task(serve(WorkerOptions(str(state / "mqtt"), broker.url), stop))
    while not (state / "mqtt" / "stats-0.json").exists():
        await asyncio.sleep(0.05)
    bus = MqttBus(broker.url)
    await bus.start()
    await bus.subscribe("gbcs/+/+/out")
    it = bus.messages().__aiter__()
    esme = cfg.site.eui("ESME")
    topic_eui = esme.hex().upper()
    lat = []
    for _ in range(300):
        f = read_command(builder, esme)
        t0 = time.perf_counter()
        await bus.publish(BusMessage("site-0", topic_eui, Channel.IN, f))
        await asyncio.wait_for(it.__anext__(), 30)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    frames = [read_command(builder, esme) for _ in range(n)]
    t0 = time.perf_counter()

    async def send() -> None:
        for f in frames:
            await bus.publish(BusMessage("site-0", topic_eui, Channel.IN, f))

    sender = asyncio.create_task(send())
    for _ in range(n):
        await asyncio.wait_for(it.__anext__(), 60)
    await sender
    rate = n / (time.perf_counter() - t0)
    print(
        f"MQTT via mosquitto (emulator in this process): {rate:,.0f} commands/s pipelined;"
        f" round trip p50 {lat[len(lat) // 2] * 1000:.1f} ms,"
        f" p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms"
    )
    stop.set()
    await worker
    await bus.close()
    await broker.aclose()


async def storms(sites: int) -> None:
    one = await run_storm(sites, 1, None, 240, False, 600)
    two = await run_storm(sites, 2, None, 240, False, 600)
    for r in (one, two):
        print(
            f"storm {r['sites']:,} sites, {r['workers']} worker(s): {r['delivered']:,}/"
            f"{r['produced']:,} delivered, lost {r['lost']}, {r['alerts_per_s']} alerts/s"
            f" while delivering, {r['end_to_end_alerts_per_s']} alerts/s end to end,"
            f" p99 {r['latency_p99_s']} s"
        )
    if one["end_to_end_alerts_per_s"] and two["end_to_end_alerts_per_s"]:
        ratio = two["end_to_end_alerts_per_s"] / one["end_to_end_alerts_per_s"]
        print(f"  end to end, 2 workers / 1 worker: {ratio:.2f}x")


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sites", type=int, default=100_000)
    p.add_argument("--storm-sites", type=int, default=2_000)
    p.add_argument("--commands", type=int, default=3_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        state = Path(d)
        await boot_and_memory(args.sites, state)
        await inprocess_throughput(args.commands, state)
        await mqtt_throughput(args.commands, state)
    await storms(args.storm_sites)


if __name__ == "__main__":
    asyncio.run(main())
