"""Codec throughput over the 615 interop vectors, on one core.

Prints messages per second for: envelope-only decode (the baseline measured in the same
run), full decode (envelope + typed payload), decode plus MAC/signature verification
and part decryption, and build (re-encode from typed values). Ratios are against the
envelope-only baseline, so figures from different machines compare.

Usage: python benchmarks/codec.py [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gbcs.codec import decode
from gbcs.envelope import decode_envelope
from gbcs.inspect import inspect_message
from keys.store import KeyStore


def _interop() -> Path:
    env = os.environ.get("GBCS_INTEROP_DIR")
    d = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "interop"
    if not (d / "vectors.json").is_file():
        sys.exit(f"interop vectors not found in {d} (set GBCS_INTEROP_DIR)")
    return d


def rate(fn: Callable[[], object], n_per_call: int, seconds: float) -> float:
    """Calls per second of ``fn`` (best of three timed runs of ~seconds/3)."""
    fn()  # warm caches (ECDH secrets, compiled constructs, interned values)
    best = 0.0
    for _ in range(3):
        calls = 0
        t0 = time.perf_counter()
        while True:
            fn()
            calls += 1
            dt = time.perf_counter() - t0
            if dt >= seconds / 3:
                break
        best = max(best, calls * n_per_call / dt)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    args = p.parse_args()
    d = _interop()
    vectors = json.loads((d / "vectors.json").read_text())
    msgs = [bytes.fromhex(v["hex"]) for v in vectors if v["form"] != "malformed"]
    acbs = [bytes.fromhex(v["acb"]) for v in vectors if v["form"] != "malformed"]
    decoded = [decode(m) for m in msgs]
    store = KeyStore(d / "keys")
    n = len(msgs)

    def envelope_only() -> None:
        for m in msgs:
            decode_envelope(m)

    def full_decode() -> None:
        for m in msgs:
            decode(m)

    def decode_verify() -> None:
        for m, acb in zip(msgs, acbs, strict=True):
            inspect_message(m, store, acb=acb)

    def build() -> None:
        for m in decoded:
            m.encode()

    rows = [
        ("envelope only (baseline)", rate(envelope_only, n, args.seconds)),
        ("full decode", rate(full_decode, n, args.seconds)),
        ("decode + MAC/signature verify + decrypt", rate(decode_verify, n, args.seconds)),
        ("build (re-encode)", rate(build, n, args.seconds)),
    ]
    base = rows[0][1]
    print(f"{n} messages, Python {sys.version.split()[0]}, one core")
    print(f"{'figure':<42} {'msg/s':>10} {'vs baseline':>12}")
    for name, r in rows:
        print(f"{name:<42} {r:>10,.0f} {r / base:>11.2f}x")
    signed = sum(1 for m in decoded if m.signature)
    maced = sum(1 for m in decoded if m.mac is not None)
    print(f"({signed} signatures and {maced} MACs checked per pass)")


if __name__ == "__main__":
    main()
