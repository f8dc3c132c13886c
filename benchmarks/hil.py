"""Serial link figures over a pty pair, per framing: frames/s one way and round trips.

Two :class:`hil.link.SerialBus` ends (device side and head-end side) on linked ptys
(socat when installed, else two ``os.openpty()`` pairs relayed by a thread). A "frame"
is a 150-byte GBCS-shaped message (``DF 09 ...``): what an ECS17b response weighs.

Usage: python benchmarks/hil.py [--frames N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.transport.base import BusMessage, Channel
from gbcs.axdr import Data
from gbcs.codec import build
from gbcs.dlms import AccessResponse, GetResult, invoke_id_for_counter
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from hil.framing import FRAMINGS, get_framing
from hil.link import DEVICE_SIDE, HEADEND_SIDE, SerialBus
from tests.test_hil import linked_ports

DEVICE = bytes.fromhex("00DB1234567890A0")
SUPPLIER = bytes.fromhex("90B3D51F30FE0002")


def frame(counter: int, cra: Cra) -> bytes:
    """A GBCS General-Signing frame of about 150 bytes."""
    origin, dest = (SUPPLIER, DEVICE) if cra is Cra.COMMAND else (DEVICE, SUPPLIER)
    header = GroupingHeader(cra, counter, origin, dest, OtherInformation(0x0052))
    payload = AccessResponse(
        invoke_id_for_counter(counter), (Data.octet_string(bytes(100)),), (GetResult(0),)
    )
    msg = build(
        header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL
    )
    return msg.encode()


async def measure(framing: str, a: str, b: str, n: int) -> tuple[float, float, float]:
    dev = SerialBus(a, get_framing(framing), side=DEVICE_SIDE)
    he = SerialBus(b, get_framing(framing), side=HEADEND_SIDE)
    await dev.start()
    await he.start()
    await dev.subscribe("gbcs/+/+/in")
    await he.subscribe("gbcs/+/+/#")
    commands = [frame(i + 1, Cra.COMMAND) for i in range(n)]
    it = dev.messages().__aiter__()
    t0 = time.perf_counter()

    async def send() -> None:
        for c in commands:
            await he.write_frame(c)

    sender = asyncio.create_task(send())
    for _ in range(n):
        await asyncio.wait_for(it.__anext__(), 30)
    await sender
    rate = n / (time.perf_counter() - t0)
    # round trips: a command, the device side answers, the head-end side receives
    rit = he.messages().__aiter__()
    lat = []
    for i in range(min(n, 300)):
        t = time.perf_counter()
        await he.write_frame(frame(10_000 + i, Cra.COMMAND))
        m = await asyncio.wait_for(it.__anext__(), 30)
        await dev.publish(BusMessage(m.site, m.eui, Channel.OUT, frame(10_000 + i, Cra.RESPONSE)))
        await asyncio.wait_for(rit.__anext__(), 30)
        lat.append(time.perf_counter() - t)
    lat.sort()
    await dev.close()
    await he.close()
    return rate, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=2000)
    args = p.parse_args()
    print(f"{'framing':8} {'frames/s':>10} {'RTT p50 ms':>11} {'RTT p99 ms':>11}")
    for name in FRAMINGS:
        with tempfile.TemporaryDirectory() as d, linked_ports(Path(d)) as (a, b):
            rate, p50, p99 = await measure(name, a, b, args.frames)
        print(f"{name:8} {rate:10,.0f} {p50:11.2f} {p99:11.2f}")


if __name__ == "__main__":
    asyncio.run(main())
