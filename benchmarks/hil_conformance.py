"""`hil conformance --control` per device type over a line paced at a real baud rate.

A socat pty pair ignores the baud rate, so a run over it measures the emulator, not the
line. Here the two ports are linked by a relay that delivers each byte no earlier than a
115200-baud 8N1 line would have carried it (11,520 bytes/s each way; ``--baud`` to
choose; ``benchmarks/paced_line.py``). One end serves ``gbcs-emu hil serve --device site
--control`` with ``hil.conformance.SERVED_SITE_TOML`` (a GSME that wakes
every second); the other runs ``gbcs-emu hil conformance --control`` for each device
type with the arguments of that test's ``_conformance`` helper.

Prints per device type: cases conformant / applicable / not applicable; the wall time of
the ``hil conformance`` process over the paced line and, as the baseline measured in the
same run, over the same relay unpaced; the bytes each way (from the ``link-stats.json``
that ``hil serve`` writes in its state directory on stop); and the pure line time those
bytes need at that baud.

Usage: python benchmarks/hil_conformance.py [--device T ...] [--baud B] [--interop DIR]
                                            [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.paced_line import BITS_PER_BYTE_8N1, paced_ports
from emulator.runtime.config import load_config
from hil.conformance import SERVED_SITE_TOML

ROOT = Path(__file__).resolve().parent.parent

DEVICES = ("ESME", "GSME", "CHF", "GPF")
RESPONSE_TIMEOUT = "15"  # as the test's _conformance: above the GSME's wake interval
START_TIMEOUT = 120.0
RUN_TIMEOUT = 3600.0


class BenchError(Exception):
    """A setup or run failure, reported as one line."""


def _interop(arg: str | None) -> Path:
    env = os.environ.get("GBCS_INTEROP_DIR")
    d = Path(arg) if arg else Path(env) if env else ROOT.parent / "shared" / "interop"
    if not (d / "vectors.json").is_file() or not (d / "keys").is_dir():
        where = "--interop" if arg else "GBCS_INTEROP_DIR" if env else "the default"
        sys.exit(f"interop material not found: no vectors.json and keys/ in {d} ({where})")
    return d


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
        if lines:
            return lines[-1].strip()
    return "(no output)"


@contextlib.contextmanager
def _served(port: str, state: Path, config: Path, baud: int) -> Iterator[None]:
    """``hil serve --device site --control`` on ``port`` until the block ends, then
    stopped with SIGTERM so that it writes ``link-stats.json``."""
    log = state.parent / f"serve-{state.name}.log"
    args = [
        sys.executable, "-m", "hil", "serve", "--port", port, "--baud", str(baud),
        "--device", "site", "--control", "--config", str(config), "--state", str(state),
        "--stats-interval", "0",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not (state / "hil-ready").exists():
                if proc.poll() is not None:
                    raise BenchError(f"hil serve exited {proc.returncode}: {_last_line(log)}")
                if time.monotonic() > deadline:
                    raise BenchError(f"hil serve not ready after {START_TIMEOUT:g} s")
                time.sleep(0.05)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_once(device: str, baud: int, paced: bool, interop: Path) -> dict[str, Any]:
    """One ``hil conformance --control`` run of ``device`` against a fresh served site."""
    with tempfile.TemporaryDirectory(prefix="hilconf-bench-") as d:
        tmp = Path(d)
        config = tmp / "site.toml"
        config.write_text(SERVED_SITE_TOML)
        eui = load_config(config).site_config(0).eui(device).hex().upper()
        state = tmp / "state"
        with paced_ports(baud if paced else None) as link:
            with _served(link.a, state, config, baud):
                args = [
                    sys.executable, "-m", "hil", "conformance", "--port", link.b,
                    "--baud", str(baud), "--device-type", device.lower(), "--device-eui", eui,
                    "--state", str(state), "--interop", str(interop),
                    "--timeout", RESPONSE_TIMEOUT, "--json", "--control",
                ]  # fmt: skip
                t0 = time.perf_counter()
                res = subprocess.run(
                    args, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=ROOT
                )
                wall = time.perf_counter() - t0
            relay = (link.bytes_b_to_a, link.bytes_a_to_b, link.late_max)
        if res.returncode not in (0, 1):
            lines = res.stderr.strip().splitlines() or ["(no message)"]
            raise BenchError(f"{device}: hil conformance exited {res.returncode}: {lines[-1]}")
        try:
            report = json.loads(res.stdout)
        except ValueError:
            raise BenchError(f"{device}: hil conformance printed no JSON report") from None
        stats_file = state / "link-stats.json"
        try:
            stats = json.loads(stats_file.read_text())
        except (OSError, ValueError) as e:
            raise BenchError(f"{stats_file}: no link statistics from hil serve ({e})") from None
    s = report["summary"]
    return {
        "paced": paced,
        "conformant": s["conformant"],
        "applicable": s["applicable"],
        "not_applicable": s["not_applicable"],
        "total": s["total"],
        "wall_seconds": round(wall, 3),
        "run_seconds": report["seconds"],  # the runner's own time, process start-up aside
        # hil serve is the device side: what it read came from the head end
        "bytes_to_device": stats["bytes_in"],
        "bytes_from_device": stats["bytes_out"],
        "relay_bytes_to_device": relay[0],
        "relay_bytes_from_device": relay[1],
        "relay_late_max_ms": round(relay[2] * 1000, 3),
    }


def line_seconds(n: int, baud: int) -> float:
    """Seconds ``n`` bytes need on a ``baud`` 8N1 line."""
    return n * BITS_PER_BYTE_8N1 / baud


def measure(device: str, baud: int, interop: Path) -> dict[str, Any]:
    """The unpaced baseline and the paced run of ``device``, with the line time."""
    unpaced = run_once(device, baud, False, interop)
    paced = run_once(device, baud, True, interop)
    to_dev, from_dev = paced["bytes_to_device"], paced["bytes_from_device"]
    return {
        "device": device,
        "conformant": paced["conformant"],
        "applicable": paced["applicable"],
        "not_applicable": paced["not_applicable"],
        "counts_match_baseline": all(
            paced[k] == unpaced[k] for k in ("conformant", "applicable", "not_applicable")
        ),
        "paced_wall_seconds": paced["wall_seconds"],
        "unpaced_wall_seconds": unpaced["wall_seconds"],
        "added_seconds": round(paced["wall_seconds"] - unpaced["wall_seconds"], 3),
        "bytes_to_device": to_dev,
        "bytes_from_device": from_dev,
        "line_seconds_to_device": round(line_seconds(to_dev, baud), 3),
        "line_seconds_from_device": round(line_seconds(from_dev, baud), 3),
        "line_seconds": round(line_seconds(to_dev + from_dev, baud), 3),
        "paced_run": paced,
        "unpaced_run": unpaced,
    }


HEADER = (
    f"{'device':6} {'conf/appl':>9} {'n/a':>4} {'paced s':>8} {'unpaced s':>9} "
    f"{'added s':>8} {'bytes to dev':>12} {'bytes from dev':>14} {'line s':>7}"
)


def row(r: dict[str, Any]) -> str:
    """One device type's figures as a table line."""
    counts = f"{r['conformant']}/{r['applicable']}"
    mark = "" if r["counts_match_baseline"] else "  (counts differ from the unpaced run)"
    return (
        f"{r['device']:6} {counts:>9} {r['not_applicable']:4} {r['paced_wall_seconds']:8.2f} "
        f"{r['unpaced_wall_seconds']:9.2f} {r['added_seconds']:8.2f} "
        f"{r['bytes_to_device']:12,} {r['bytes_from_device']:14,} {r['line_seconds']:7.2f}{mark}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--device",
        action="append",
        type=str.upper,
        choices=DEVICES,
        help="device type to run (repeatable; default: all four)",
    )
    p.add_argument("--baud", type=int, default=115200, help="line rate, 8N1 (default 115200)")
    p.add_argument("--interop", help="vectors.json and keys/ (default: ../shared/interop)")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = p.parse_args()
    if args.baud <= 0:
        sys.exit(f"--baud {args.baud}: a positive bit rate is needed")
    interop = _interop(args.interop)
    devices = list(dict.fromkeys(args.device or DEVICES))
    per_s = args.baud / BITS_PER_BYTE_8N1
    results = []
    if not args.json:
        print(
            f"hil conformance --control against hil serve --device site --control: a line "
            f"paced at {args.baud} baud 8N1 ({per_s:,.0f} bytes/s each way), and the same "
            "relay unpaced as the baseline; wall time of the hil conformance process"
        )
        print(HEADER, flush=True)
    try:
        for device in devices:
            r = measure(device, args.baud, interop)
            results.append(r)
            if not args.json:
                print(row(r), flush=True)
    except BenchError as e:
        sys.exit(str(e))
    except subprocess.TimeoutExpired as e:
        sys.exit(f"hil conformance did not finish within {e.timeout:g} s")
    if args.json:
        print(json.dumps({"baud": args.baud, "bytes_per_second": per_s, "devices": results}))
        return
    total = {k: sum(r[k] for r in results) for k in ("paced_wall_seconds", "unpaced_wall_seconds")}
    print(
        f"all: {total['paced_wall_seconds']:.1f} s over the paced line, "
        f"{total['unpaced_wall_seconds']:.1f} s unpaced"
    )
    print(
        "added s: paced minus unpaced; line s: the pure time the bytes of both directions "
        f"need at {args.baud} baud (10 bits a byte)"
    )


if __name__ == "__main__":
    main()
