"""``hil diff``: the same bench scenario against the device on a port and the emulator.

The reference run uses an emulated site of the factory configuration (or ``--config``)
in this process, on the in-process bus and the real clock, with the same PKI as the
device on the port (its state directory). Steps are compared field by field: pass/fail,
what was verified, the response's shape (:mod:`emulator.conformance.shape`: envelope,
result codes, data types, components; counters left out), every decoded value, and for
alert steps the arrival time (beyond a tolerance). Values that only measure time
passing (register readings, clock reads) can be listed in ``[bench] ignore``.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.conformance.shape import compare
from emulator.headend.client import HeadEnd
from emulator.headend.identity import MemoryCounterStore, parties_from_store
from emulator.runtime.clock import RealClock
from emulator.runtime.config import FleetConfig
from emulator.runtime.pki import add_device_public_keys
from emulator.runtime.server import Emulator
from emulator.transport.inprocess import InProcessBus, InProcessHub
from keys.store import KeyStore

from .bench import Scenario, StepResult, run_scenario

__all__ = ["Difference", "compare_runs", "run_reference"]

# shape fields that differ between any two runs (counters, the ZCL sequence, "...")
_VOLATILE = ("counter", "invoke_id", "sequence", "...")


@dataclass(frozen=True, slots=True)
class Difference:
    step: str
    field: str
    device: str
    emulator: str

    def __str__(self) -> str:
        return f"{self.step}: {self.field}: device {self.device}, emulator {self.emulator}"


async def run_reference(scenario: Scenario, config: FleetConfig, pki: Path) -> list[StepResult]:
    """Run ``scenario`` against an in-process emulated site."""
    with tempfile.TemporaryDirectory(prefix="gbcs-hil-ref-") as d:
        state = Path(d)
        (state / "pki").symlink_to(pki.resolve(), target_is_directory=True)
        hub = InProcessHub()
        emulator = Emulator(config, InProcessBus(hub), RealClock(), KeyStore(pki), state)
        stop = asyncio.Event()
        runner = asyncio.create_task(emulator.run(stop))
        await asyncio.wait_for(emulator.ready.wait(), 30)
        keys = KeyStore(pki)
        add_device_public_keys(keys, config, range(1))
        try:
            async with HeadEnd(
                InProcessBus(hub),
                keys,
                parties=parties_from_store(keys),
                counters=MemoryCounterStore(first=1),
            ) as he:
                alerts = he.alerts()
                results = await run_scenario(scenario, he, alerts)
                alerts.close()
        finally:
            stop.set()
            await asyncio.wait_for(runner, 30)
    return results


def compare_runs(
    device: list[StepResult],
    emulator: list[StepResult],
    *,
    ignore: frozenset[str] = frozenset(),
    alert_tolerance: float = 2.0,
) -> list[Difference]:
    """Field-by-field differences between two runs of one scenario."""
    out: list[Difference] = []
    for a, b in zip(device, emulator, strict=True):
        name = a.step.name
        if a.passed != b.passed:
            out.append(Difference(name, "result", _pf(a), _pf(b)))
        if a.verified != b.verified:
            out.append(Difference(name, "verified", a.verified, b.verified))
        timed = a.step.wait_alert is not None and a.passed and b.passed
        if timed and abs(a.seconds - b.seconds) > alert_tolerance:
            out.append(Difference(name, "alert after", f"{a.seconds:.1f} s", f"{b.seconds:.1f} s"))
        if a.message is not None and b.message is not None:
            for d in compare(a.message, b.message, array_lengths=False):
                if not any(v in d.where for v in _VOLATILE):
                    out.append(Difference(name, f"shape {d.where}", d.ours, d.theirs))
        for key in sorted(set(a.values) | set(b.values)):
            if key in ignore:
                continue
            va, vb = a.values.get(key, "<absent>"), b.values.get(key, "<absent>")
            if va != vb:
                out.append(Difference(name, key, _s(va), _s(vb)))
    return out


def _pf(r: StepResult) -> str:
    return "pass" if r.passed else f"fail ({r.detail})"


def _s(v: Any) -> str:
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."
