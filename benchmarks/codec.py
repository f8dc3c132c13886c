"""Codec and CLI speed, each figure beside its baseline measured in the same run.

Runs without ``../shared``: it makes a throw-away PKI in memory, an ESME and a GSME, and
sends them head-end commands built from the catalogue; the corpus is those commands
(signed and MAC'd DLMS, GBZ and ASN.1) and the devices' responses and alerts (DLMS,
GBZ, ASN.1, device-signed, with encrypted parts).

Figures, in µs per message (best of several passes), with the ratio to envelope-only
decode: envelope only (the baseline), full decode, and ``decode --batch`` per line
(hex parsing, decode, MAC/signature checks, decryption, JSON out), without and with
keys, as the CLI runs it on ``--file`` input; ``batch_us_keys_pipe`` is the same with
keys through the read-ahead thread the CLI uses on a pipe. CLI start-up: median of
``--runs`` runs of ``python -c pass`` (the baseline) beside ``gbcs-emu decode HEX``, each
a fresh process.

With keys, every signature is verified: ``verify_floor_us_keys`` is the share of signed
messages times one ECDSA P-256 verify from ``openssl speed ecdsap256`` in the same run
(``cryptography``'s rate, labelled so, without openssl), the part of each message's cost
no decoder can go under; ``batch_us_keys_beyond_verify`` is the rest.

``verify_only_us_keys`` times the ``cryptography`` calls alone that verify the corpus's
signatures (each signed message's key, DER signature and signed bytes made ready
beforehand), per message of the corpus; ``batch_us_keys_least`` adds it to the batch
without keys: the least a batch with keys can cost with this decoder, whatever its MAC,
part and key-note checks cost (``batch_us_keys_checks``, the difference).

Usage: python benchmarks/codec.py [--repeat N] [--runs N] [--verify-seconds N] [--json]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.factory import create_device  # noqa: E402
from devices.trust import OwnKeys  # noqa: E402
from emulator.cli.decode_cmd import BatchSpec, write_batch  # noqa: E402
from emulator.cli.inputs import iter_lines  # noqa: E402
from emulator.headend import usecases  # noqa: E402
from emulator.headend.catalogue.entry import BuildContext  # noqa: E402
from emulator.headend.commands import CommandBuilder  # noqa: E402
from gbcs.codec import decode  # noqa: E402
from gbcs.envelope import decode_envelope  # noqa: E402
from keys.pki import (  # noqa: E402
    DEFAULT_ORGANISATION_EUIS,
    create_authorities,
    issue_device_keys,
    issue_organisation_keys,
)
from keys.roles import KeyUsage, RemotePartyRole  # noqa: E402
from keys.store import KeyStore, build_entry  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACB = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER]
DEVICES = {"ESME": "00DB1234567890A0", "GSME": "00DB1234567890A1"}
# Use cases needing arguments, beside every typed one that needs none.
WITH_ARGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("CS02c", {"credential_type": "key_agreement"}),
    ("CS11", {}),
    (
        "GCS16a",
        {"start_date_time": "2025-12-01T00:00:00Z", "end_date_time": "2026-01-01T00:00:00Z"},
    ),
    (
        "CS02a",
        {
            "remote_party_role": ["supplier"],
            "authorising_remote_party_role": "supplier",
            "authorising_key_usage": "digital_signature",
        },
    ),
)
TARGETS = {"startup_s": 0.25, "batch_us_no_keys": 40.0, "batch_us_keys": 70.0}


def build_corpus() -> tuple[list[bytes], KeyStore]:
    """Commands and the devices' answers to them, and a head-end key store that checks
    and decrypts all of them."""
    ca = create_authorities(now=T0)
    store = KeyStore()
    for role, eui in DEFAULT_ORGANISATION_EUIS.items():
        if role is not RemotePartyRole.ROOT:
            for k in issue_organisation_keys(ca, role, eui, now=T0):
                store.add_entry(k.entry())
    devices = {}
    for kind, text in DEVICES.items():
        eui = bytes.fromhex(text)
        issued = issue_device_keys(ca, eui, now=T0)
        ka = next(k for k in issued if k.usage is KeyUsage.KA).private_key
        ds = next(k for k in issued if k.usage is KeyUsage.DS).private_key
        store.add_entry(build_entry(eui, KeyUsage.KA, public_key=ka.public_key()))
        store.add_entry(build_entry(eui, KeyUsage.DS, public_key=ds.public_key()))
        devices[kind] = create_device(kind, eui, store, own=OwnKeys(eui, ka, ds), now=T0)
    builder = CommandBuilder(store, ACB)
    wanted = [(n, {}) for n in usecases.names()] + list(WITH_ARGS)
    frames: list[bytes] = []
    for name, args in wanted:
        entry = usecases.get(name)
        for kind, device in devices.items():
            try:
                parsed = entry.parse_args(args)
                role = entry.role_for(kind)
                me = DEFAULT_ORGANISATION_EUIS[role]
                counter = builder.next_counter(me)
                ctx = BuildContext(counter, me, device.config.eui, role, T0)
                payload = entry.build_parsed(parsed, ctx)
                frame = builder.command(
                    me,
                    device.config.eui,
                    entry.message_code,
                    payload,
                    counter=counter,
                    critical=entry.critical,
                )
            except Exception:  # a use case this device type or these defaults don't fit
                continue
            frames.append(frame)
            out = device.receive(frame, T0) + device.advance(T0 + timedelta(minutes=31))
            frames.extend(o.frame for o in out)
    return frames, store


def per_message_us(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best time of ``repeat`` passes of ``fn`` (each over ``n`` messages), µs/message."""
    fn()  # warm caches (ECDH secrets, interned values)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def batch_pass(
    lines: list[str], keys: KeyStore | None, *, streaming: bool = False
) -> Callable[[], object]:
    """One ``decode --batch`` pass over ``lines`` as the CLI runs it on ``--file`` input
    (``streaming``: on a pipe, through the read-ahead thread), output to memory."""
    spec = BatchSpec((), ACB, False)

    def run() -> object:
        out = io.StringIO()
        write_batch(iter_lines(iter(lines), "bench"), keys, spec, out, streaming=streaming)
        return out

    return run


def verify_pass(msgs: list[bytes], keys: KeyStore) -> Callable[[], object]:
    """``cryptography``'s verify of every signed message in ``msgs``, and nothing else."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    algo = ec.ECDSA(hashes.SHA256())
    calls = []
    for frame in msgs:
        m = decode(frame)
        if m.signature:
            pub = keys.public_key(m.header.originator, "ds")
            if pub is None:
                raise SystemExit(f"no DS key for {m.header.originator.hex()} in the corpus")
            r = int.from_bytes(m.signature[:32], "big")
            s = int.from_bytes(m.signature[32:], "big")
            calls.append((pub.verify, encode_dss_signature(r, s), m.signed_data()))

    def run() -> object:
        for verify, sig, data in calls:
            verify(sig, data, algo)
        return None

    return run


def startup(runs: int, hex_message: str) -> dict[str, float]:
    """Median wall time of fresh processes: ``python -c pass`` and ``gbcs-emu decode``."""
    exe = Path(sys.executable).with_name("gbcs-emu")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "emulator"]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches as an installed package has

    def median(cmd: list[str]) -> float:
        subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return {
        "python_pass_s": median([sys.executable, "-c", "pass"]),
        "decode_s": median([*cli, "decode", hex_message]),
    }


def verify_floor(signed_share: float, seconds: int) -> dict[str, Any]:
    """One P-256 verify (``openssl speed``, else ``cryptography``) and what it costs each
    message of the corpus on average: every signed message is verified once."""
    from _common import cryptography_ecdsa, openssl_ecdsa  # the script's own directory

    rates = openssl_ecdsa(seconds) or cryptography_ecdsa(seconds)
    verify_us = 1e6 / rates.verify_per_s
    return {
        "ecdsa_source": rates.source,
        "verify_us": verify_us,
        "signed_share": signed_share,
        "verify_floor_us_keys": signed_share * verify_us,
    }


def mix(frames: Iterable[bytes]) -> dict[str, int]:
    """What the corpus holds: payload kinds, signed messages, messages with parts."""
    counts: Counter[str] = Counter()
    for f in frames:
        m = decode(f)
        counts[m.payload.kind.value] += 1
        counts["signed"] += bool(m.signature)
        counts["mac"] += m.mac is not None
        counts["encrypted_parts"] += bool(m.encrypted_parts())
    return dict(counts)


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--repeat", type=int, default=7, help="timed passes per figure (best kept)")
    p.add_argument("--copies", type=int, default=20, help="copies of the corpus per pass")
    p.add_argument("--runs", type=int, default=15, help="process runs per start-up figure")
    p.add_argument(
        "--verify-seconds", type=int, default=1, help="seconds of openssl speed for the floor"
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = p.parse_args()
    if args.runs < 10:
        p.error("--runs must be at least 10 (the start-up figures are medians)")
    frames, store = build_corpus()
    msgs = frames * args.copies
    lines = [f.hex().upper() for f in msgs]
    n = len(msgs)

    def envelope_only() -> None:
        for m in msgs:
            decode_envelope(m)

    def full_decode() -> None:
        for m in msgs:
            decode(m)

    env_us = per_message_us(envelope_only, n, args.repeat)
    figures: dict[str, Any] = {
        "messages": len(frames),
        "mix": mix(frames),
        "envelope_us": env_us,
        "full_decode_us": per_message_us(full_decode, n, args.repeat),
        "batch_us_no_keys": per_message_us(batch_pass(lines, None), n, args.repeat),
        "batch_us_keys": per_message_us(batch_pass(lines, store), n, args.repeat),
        "batch_us_keys_pipe": per_message_us(
            batch_pass(lines, store, streaming=True), n, args.repeat
        ),
        "verify_only_us_keys": per_message_us(verify_pass(msgs, store), n, args.repeat),
    }
    figures["batch_us_keys_least"] = figures["batch_us_no_keys"] + figures["verify_only_us_keys"]
    figures["batch_us_keys_checks"] = figures["batch_us_keys"] - figures["batch_us_keys_least"]
    for k in ("full_decode_us", "batch_us_no_keys", "batch_us_keys"):
        figures[k.replace("_us", "_ratio")] = figures[k] / env_us
    figures.update(verify_floor(figures["mix"]["signed"] / len(frames), args.verify_seconds))
    figures["batch_us_keys_beyond_verify"] = (
        figures["batch_us_keys"] - figures["verify_floor_us_keys"]
    )
    figures.update(startup(args.runs, lines[0]))
    figures["startup_ratio"] = figures["decode_s"] / figures["python_pass_s"]
    figures["cpus"] = os.cpu_count()
    figures["load_avg"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    figures["targets"] = {
        "startup_s": [TARGETS["startup_s"], figures["decode_s"] <= TARGETS["startup_s"]],
        "batch_us_no_keys": [
            TARGETS["batch_us_no_keys"],
            figures["batch_us_no_keys"] <= TARGETS["batch_us_no_keys"],
        ],
        "batch_us_keys": [
            TARGETS["batch_us_keys"],
            figures["batch_us_keys"] <= TARGETS["batch_us_keys"],
        ],
    }
    if args.json:
        from _common import emit_json  # the script's own directory

        emit_json(figures)  # one line
        return
    width = shutil.get_terminal_size().columns
    print(f"{len(frames)} messages x {args.copies}, Python {sys.version.split()[0]}, one core")
    print(f"mix: {figures['mix']}"[:width])
    print(f"{'figure':<36} {'µs/msg':>9} {'vs envelope':>12} {'target':>8}")
    rows = (
        ("envelope only (baseline)", "envelope_us", None),
        ("full decode", "full_decode_us", None),
        ("decode --batch, no keys", "batch_us_no_keys", TARGETS["batch_us_no_keys"]),
        ("decode --batch, with keys", "batch_us_keys", TARGETS["batch_us_keys"]),
        ("  the same from a pipe", "batch_us_keys_pipe", None),
    )
    for label, key, target in rows:
        value = figures[key]
        mark = "" if target is None else f"{'≤' if value <= target else '>'}{target:g}"
        print(f"{label:<36} {value:>9.1f} {value / env_us:>11.2f}x {mark:>8}")
    print(
        f"  of which ECDSA verify ({figures['ecdsa_source']}: {figures['verify_us']:.1f} µs "
        f"x {figures['signed_share']:.0%} signed) {figures['verify_floor_us_keys']:.1f}, "
        f"the rest {figures['batch_us_keys_beyond_verify']:.1f}"
    )
    least = figures["batch_us_keys_least"]
    print(
        f"{'  least with this decoder':<36} {least:>9.1f} {least / env_us:>11.2f}x"
        f"  (no keys + cryptography's verifies alone, {figures['verify_only_us_keys']:.1f};"
        f" the checks beyond: {figures['batch_us_keys_checks']:.1f})"
    )
    print(f"{'start-up (median of ' + str(args.runs) + ' runs)':<36} {'s':>9}")
    print(f"{'python -c pass (baseline)':<36} {figures['python_pass_s']:>9.3f}")
    ok = "≤" if figures["decode_s"] <= TARGETS["startup_s"] else ">"
    print(
        f"{'gbcs-emu decode HEX':<36} {figures['decode_s']:>9.3f} "
        f"{figures['startup_ratio']:>11.1f}x {ok}{TARGETS['startup_s']:g}"
    )
    print(f"(load average {figures['load_avg']}, {figures['cpus']} CPUs)")


if __name__ == "__main__":
    main()
