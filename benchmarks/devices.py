"""Device ``receive()`` throughput on one core.

Prints commands per second through the whole device pipeline (decode, recipient, role,
MAC, replay, signature, execute, build and protect the response) for:

* a non-critical read: ECS17b (protected register read, encrypted response, MAC'd);
* a critical command: ECS42 (signature verified, response signed by the device);
* a GBZ read through the GPF: GCS13a (encrypted ZCL response, MAC'd).

A critical command is bounded by ECDSA: the figure is reported against
``openssl speed ecdsap256`` verify/s measured in the same run (one verify per command
plus one device signature per response), and against the ``cryptography`` verify rate.

Commands are RTDS commands re-MAC'd for the emulated device (as the conformance harness
does); critical ones are re-signed with fresh counters in advance, so signing the
commands is not measured.

Usage: python benchmarks/devices.py [--seconds S] [--commands N]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from devices.factory import create_device, own_keys_from
from emulator.conformance.cases import load_cases
from emulator.conformance.harness import CONFORMANCE_TIME, RTDS_PARTIES, RemacKeys
from gbcs.codec import decode
from gbcs.security import apply_mac, sign
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

ACB = RTDS_PARTIES[RemotePartyRole.ACCESS_CONTROL_BROKER]


def _interop() -> Path:
    env = os.environ.get("GBCS_INTEROP_DIR")
    d = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "interop"
    if not (d / "vectors.json").is_file():
        sys.exit(f"interop vectors not found in {d} (set GBCS_INTEROP_DIR)")
    return d


def _timed(fn: Callable[[int], None], n: int, seconds: float) -> float:
    """Commands per second: best of three runs of ``fn`` over up to ``n`` commands."""
    best = 0.0
    for _ in range(3):
        done = 0
        t0 = time.perf_counter()
        while done < n and time.perf_counter() - t0 < seconds / 3:
            fn(done)
            done += 1
        dt = time.perf_counter() - t0
        best = max(best, done / dt)
    return best


def _openssl_verify_rate() -> float | None:
    try:
        out = subprocess.run(
            ["openssl", "speed", "-seconds", "2", "ecdsap256"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    return float(m.group(2)) if m else None


def _cryptography_verify_rate(seconds: float) -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    sig = key.sign(b"x" * 200, ec.ECDSA(hashes.SHA256()))
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pub.verify(sig, b"x" * 200, ec.ECDSA(hashes.SHA256()))
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    p.add_argument("--commands", type=int, default=3000, help="critical commands to pre-build")
    args = p.parse_args()
    d = _interop()
    store = KeyStore(d / "keys")
    cases = {c.id.rsplit("/", 1)[-1]: c for c in load_cases(d / "vectors.json")}
    now = CONFORMANCE_TIME

    def device_for(case_name: str) -> tuple[Any, Any, RemacKeys]:
        case = cases[case_name]
        cmd = decode(case.command)
        own = own_keys_from(store, cmd.recipient)
        dev = create_device(
            case.device_type, cmd.recipient, store, own=own, parties=RTDS_PARTIES, now=now
        )
        return dev, cmd, RemacKeys(store, dev.eui, own.ka.public_key())

    results: dict[str, float] = {}

    dev, cmd, keys = device_for("ECS17b_4.1.1_SINGLE_SUCCESS")
    frame = apply_mac(cmd, keys, ACB).encode()
    results["ECS17b non-critical read"] = _timed(
        lambda i: dev.receive(frame, now), 10**9, args.seconds
    )

    dev, cmd, keys = device_for("ECS42_7.1_SUCCESS")
    ds = store.private_key(cmd.originator, KeyUsage.DS)
    assert ds is not None
    frames = []
    for i in range(args.commands):
        h = dataclasses.replace(cmd.header, counter=cmd.counter + 1 + i)
        m = sign(dataclasses.replace(cmd, header=h, raw=None, layout=None), ds)
        frames.append(apply_mac(m, keys, ACB).encode())
    results["ECS42 critical command"] = _timed(
        lambda i: dev.receive(frames[i], now), len(frames), args.seconds
    )

    try:
        dev, cmd, keys = device_for("GCS13a_4.1.1_SUCCESS_RELIABLE_GSME")
        frame = apply_mac(cmd, keys, ACB).encode()
        assert dev.receive(frame, now), "GPF gave no response"
        results["GCS13a GBZ read via the GPF"] = _timed(
            lambda i: dev.receive(frame, now), 10**9, args.seconds
        )
    except (ImportError, KeyError) as e:
        print(f"GPF figure skipped: {e}")

    openssl = _openssl_verify_rate()
    crypto = _cryptography_verify_rate(1.0)
    print(f"{'workload':34} {'commands/s':>12}")
    for name, r in results.items():
        print(f"{name:34} {r:12,.0f}")
    crit = results["ECS42 critical command"]
    print(f"\ncryptography ECDSA P-256 verify/s: {crypto:,.0f}")
    print(f"  ECS42 / cryptography verify: {crit / crypto:.2f}")
    if openssl:
        print(f"openssl speed ecdsap256 verify/s: {openssl:,.0f}")
        print(f"  ECS42 / openssl verify: {crit / openssl:.2f}")
        # a critical command costs one verify plus one device signature
    else:
        print("openssl speed not available")


if __name__ == "__main__":
    main()
