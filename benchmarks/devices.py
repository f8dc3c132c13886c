"""Device ``receive()`` throughput on one core, on fresh frames, beside the ECDSA floor.

Prints commands per second through the whole device pipeline (decode, recipient, role,
MAC, replay, signature, execute, build and protect the response) for:

* a non-critical read: ECS17b (protected register read, encrypted response, MAC'd);
* a critical command: ECS42 (signature verified, response signed by the device);
* a GBZ read through the GPF: GCS13a (encrypted ZCL response, MAC'd).

Every timed command is new to the device: each of the three timed runs gets its own
frames with rising counters, built before its timer starts (so building and signing
commands is not measured). The script checks that every timed command was accepted and
answered, and exits 1 otherwise: a replay rejection can never be timed as throughput.

A critical command costs at least one ECDSA verify (the command) plus one ECDSA sign
(the response). Its floor, ``1 / (1/sign + 1/verify)``, comes from
``openssl speed -seconds S ecdsap256`` in the same run (from the ``cryptography``
package, labelled so, when openssl is missing), and ECS42 is printed beside it.

Frames are built by the benchmark itself (the head-end catalogue, the emulator's test
PKI) unless ``--rtds`` asks for DCC's RTDS commands (re-MAC'd and re-signed with fresh
counters) from ``GBCS_INTEROP_DIR`` (default ``../shared/interop``).

Two ceilings are measured beside ECS42 in the same run, each as a share of that floor:
the ``cryptography`` package's own sign plus verify (what every ECDSA call here goes
through), and ECS42 through the codec and crypto calls alone (decode, MAC check,
signature check, response header, signed response: none of the device's behaviour, no
roles, replay counters, load switch, logs, rollback or time), on fresh frames of the same
source with every check required to pass. No device built on this codec and that package
can beat the second figure.

``--breakdown`` adds, per workload, where a command's time goes: microseconds per
command in each stage of ``receive()`` (envelope and payload decode, MAC check, signature
check with the ECDSA verify in it, rollback snapshot, execution, building and protecting
the response with the ECDSA sign in it, time-driven behaviour, and the rest), measured on
another batch of fresh frames with a timer around each stage (so slightly slower than
the untimed figure; JSON key ``breakdown_us``).

Usage: python benchmarks/devices.py [--seconds S] [--commands N] [--rtds] [--breakdown] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The repository root goes first: this script's own name would shadow the devices package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    EcdsaBaseline,
    cryptography_ecdsa,
    emit_json,
    fail,
    interop_dir,
    openssl_ecdsa,
    run_main,
)

from devices.frames import build_response, response_header
from devices.outbound import Outbound, OutboundKind, PeerKind
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac, check_signature
from gbcs.usecases import lookup
from keys.roles import RemotePartyRole

#: Workload key (JSON) -> label.
WORKLOADS = {
    "ecs17b": "ECS17b non-critical read",
    "ecs42": "ECS42 critical command",
    "gcs13a": "GCS13a GBZ read via the GPF",
}
RUNS = 3
WARMUP = 50


@dataclass(slots=True)
class Workload:
    """A device and a source of fresh commands for it."""

    key: str
    device: Any  # devices.device.Device
    frames: Callable[[int], list[bytes]]  # n new frames, counters above all before
    now: datetime


@dataclass(slots=True)
class Measured:
    """Commands per second of each timed run (the best is the figure)."""

    runs: list[float]
    commands: int

    @property
    def best(self) -> float:
        return max(self.runs)


def _feed(w: Workload, frames: list[bytes], seconds: float) -> tuple[int, float]:
    """Feed ``frames`` until they or ``seconds`` run out; (commands fed, elapsed).

    Exits through :func:`fail` when any command was refused or got no response."""
    receive = w.device.receive
    dev = w.device
    now = w.now
    bad: list[str] = []
    done = 0
    t0 = time.perf_counter()
    for f in frames:
        outs: list[Outbound] = receive(f, now)
        if dev.last_rejection is not None or not any(o.kind is OutboundKind.RESPONSE for o in outs):
            bad.append(str(dev.last_rejection or "no response"))
        done += 1
        if time.perf_counter() - t0 >= seconds:
            break
    dt = time.perf_counter() - t0
    if bad:
        fail(f"{WORKLOADS[w.key]}: {len(bad)} of {done} commands not answered ({bad[0]})")
    return done, dt


def measure(w: Workload, seconds: float, max_commands: int) -> Measured:
    """Best of three timed runs, each on fresh frames sized from a warm-up rate."""
    n, dt = _feed(w, w.frames(WARMUP), math.inf)
    per_run = seconds / RUNS
    size = min(max_commands, math.ceil(n / dt * per_run * 1.5) + WARMUP)
    runs = []
    total = 0
    for _ in range(RUNS):
        frames = w.frames(size)  # outside the timed section
        done, dt = _feed(w, frames, per_run)
        runs.append(done / dt)
        total += done
    return Measured(runs, total)


# ------------------------------------------------------------------ where the time goes

#: Stage label -> (module, attribute) of a function ``receive()`` calls once per command.
#: Labels starting with two spaces run inside the stage above them.
_MODULE_STAGES: dict[str, tuple[str, str]] = {
    "decode (envelope + payload)": ("devices.pipeline", "decode"),
    "MAC check": ("devices.pipeline", "check_mac"),
    "signature check": ("devices.pipeline", "check_signature"),
    "  of which ECDSA verify": ("gbcs.crypto.ecdsa", "verify"),
    "build + protect response": ("devices.device", "build_response"),
    "  of which ECDSA sign": ("gbcs.crypto.ecdsa", "sign"),
}
#: Stage label -> device method (timed on the instance).
_METHOD_STAGES: dict[str, str] = {
    "time-driven behaviour (advance)": "advance",
    "rollback snapshot": "state_before_execute",
    "execute": "execute",
}


@contextmanager
def _stage_timers(device: Any) -> Iterator[dict[str, float]]:
    """Seconds spent per stage while the block runs (wrappers removed on exit)."""
    import importlib

    spent: dict[str, float] = dict.fromkeys([*_MODULE_STAGES, *_METHOD_STAGES], 0.0)
    clock = time.perf_counter

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = clock()
            try:
                return fn(*a, **k)
            finally:
                spent[label] += clock() - t0

        return wrapper

    patched: list[tuple[Any, str, Any]] = []
    try:
        for label, (mod_name, attr) in _MODULE_STAGES.items():
            mod = importlib.import_module(mod_name)
            patched.append((mod, attr, getattr(mod, attr)))
            setattr(mod, attr, timed(label, getattr(mod, attr)))
        for label, attr in _METHOD_STAGES.items():
            setattr(device, attr, timed(label, getattr(device, attr)))
        yield spent
    finally:
        for mod, attr, fn in reversed(patched):
            setattr(mod, attr, fn)
        for attr in _METHOD_STAGES.values():
            device.__dict__.pop(attr, None)


def breakdown(w: Workload, commands: int) -> dict[str, float]:
    """Microseconds per command in each stage of ``receive()``, on ``commands`` fresh frames."""
    frames = w.frames(commands)
    with _stage_timers(w.device) as spent:
        t0 = time.perf_counter()
        done, _ = _feed(w, frames, math.inf)
        total = time.perf_counter() - t0
    out = {k: v / done * 1e6 for k, v in spent.items()}
    top = sum(v for k, v in out.items() if not k.startswith(" "))
    out["rest of receive()"] = max(0.0, total / done * 1e6 - top)
    out["total"] = total / done * 1e6
    return out


# ------------------------------------------------------------------ the ceiling


class CodecCryptoOnly:
    """ECS42 through only the calls a critical command cannot avoid, on ``device``'s keys.

    ``receive`` decodes a command, checks its MAC and signature, and signs a response of
    the content the device itself answered (``template``, with the command's invoke id),
    as :mod:`devices.frames` builds it. Nothing else: no role or replay check, no
    execution, logs, rollback snapshot or time-driven behaviour. A check that fails
    leaves ``last_rejection`` set and returns no response, which :func:`_feed` refuses
    to time.
    """

    def __init__(self, device: Any, template: Any) -> None:
        self.device = device
        self.template = template
        self.acb = device.anchors.eui(RemotePartyRole.ACCESS_CONTROL_BROKER)
        self.last_rejection: str | None = None

    def receive(self, frame: bytes, now: datetime) -> list[Outbound]:
        dev = self.device
        keys = dev.keys
        msg = decode(frame, lenient_payload=True)
        mac = check_mac(msg, keys, self.acb)
        sig = check_signature(msg, keys)
        uc = lookup(msg.message_code)
        if mac.verdict is not Verdict.VALID or sig.verdict is not Verdict.VALID or uc is None:
            self.last_rejection = f"MAC {mac.verdict.value}, signature {sig.verdict.value}"
            return []
        self.last_rejection = None
        payload = dataclasses.replace(self.template, invoke_id=msg.payload.invoke_id)
        header = response_header(msg, uc, dev.eui, dev.device_time(now))
        out = build_response(
            header, payload, critical=True, keys=keys, variant=dev.config.signature_variant
        )
        return [
            Outbound(
                out,
                msg.originator,
                PeerKind.REMOTE_PARTY,
                OutboundKind.RESPONSE,
                msg.message_code,
                origin=dev.eui,
            )
        ]


def codec_crypto_only(w: Workload) -> Workload:
    """``w`` (a critical DLMS workload) on a :class:`CodecCryptoOnly` of its device, the
    response content taken from the device's answer to one fresh command."""
    outs = w.device.receive(w.frames(1)[0], w.now)
    answer = next((o for o in outs if o.kind is OutboundKind.RESPONSE), None)
    if answer is None or w.device.last_rejection is not None:
        fail(f"{WORKLOADS[w.key]}: no response to build the ceiling's content from")
    template = decode(answer.frame).payload
    return Workload(w.key, CodecCryptoOnly(w.device, template), w.frames, w.now)


# ------------------------------------------------------------------ frames we build


@contextmanager
def built_workloads() -> Iterator[list[Workload]]:
    """The three workloads on one emulated site, commands from the head-end catalogue."""
    from emulator.headend.catalogue.entry import BuildContext
    from emulator.headend.commands import CommandBuilder
    from emulator.headend.usecases import get as get_use_case
    from emulator.runtime.clock import VirtualClock
    from emulator.runtime.config import load_config
    from emulator.runtime.pki import add_device_public_keys, ensure_pki
    from emulator.runtime.server import Emulator
    from emulator.transport.inprocess import InProcessBus, InProcessHub
    from gbcs.usecases import DeviceType
    from keys.pki import DEFAULT_ORGANISATION_EUIS
    from keys.store import KeyStore

    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="gbcs-bench-devices-") as d:
        state = Path(d)
        keys = KeyStore(ensure_pki(state))
        cfg = load_config(None, sites=1)
        emu = Emulator(cfg, InProcessBus(InProcessHub()), VirtualClock(now), keys, state)
        try:
            add_device_public_keys(keys, cfg, range(1), state)
            parties = cfg.parties or DEFAULT_ORGANISATION_EUIS
            builder = CommandBuilder(keys, parties[RemotePartyRole.ACCESS_CONTROL_BROKER])
            site = emu.site(0)

            def source(name: str, device: Any, kind: DeviceType) -> Callable[[int], list[bytes]]:
                entry = get_use_case(name)
                parsed = entry.parse_args({})
                role = entry.role_for(kind)
                me = parties[role]

                def frames(n: int) -> list[bytes]:
                    out = []
                    for _ in range(n):
                        c = builder.next_counter(me)
                        ctx = BuildContext(c, me, device.eui, role, now)
                        payload = entry.build_parsed(parsed, ctx)
                        out.append(
                            builder.command(
                                me,
                                device.eui,
                                entry.message_code,
                                payload,
                                counter=c,
                                critical=entry.critical,
                            )
                        )
                    return out

                return frames

            yield [
                Workload("ecs17b", site.esme, source("ECS17b", site.esme, DeviceType.ESME), now),
                Workload("ecs42", site.esme, source("ECS42", site.esme, DeviceType.ESME), now),
                Workload("gcs13a", site.gpf, source("GCS13a", site.gpf, DeviceType.GPF), now),
            ]
        finally:
            emu.close()


# ------------------------------------------------------------------ DCC's RTDS commands


@contextmanager
def rtds_workloads() -> Iterator[list[Workload]]:
    """The three workloads on RTDS commands, re-MAC'd (critical: re-signed) per counter."""
    from devices.factory import create_device, own_keys_from
    from emulator.conformance.cases import load_cases
    from emulator.conformance.harness import CONFORMANCE_TIME, RTDS_PARTIES, RemacKeys
    from gbcs.security import apply_mac, sign
    from keys.roles import KeyUsage
    from keys.store import KeyStore

    d = interop_dir()
    if d is None:
        where = os.environ.get("GBCS_INTEROP_DIR") or "../shared/interop"
        fail(f"--rtds: no vectors.json in {where} (set GBCS_INTEROP_DIR)")
    store = KeyStore(d / "keys")
    cases = {c.id.rsplit("/", 1)[-1]: c for c in load_cases(d / "vectors.json")}
    acb = RTDS_PARTIES[RemotePartyRole.ACCESS_CONTROL_BROKER]
    now = CONFORMANCE_TIME

    def workload(key: str, case_name: str) -> Workload:
        case = cases.get(case_name)
        if case is None:
            fail(f"--rtds: case {case_name} is not in {d / 'vectors.json'}")
        cmd = decode(case.command)
        own = own_keys_from(store, cmd.recipient)
        dev = create_device(
            case.device_type, cmd.recipient, store, own=own, parties=RTDS_PARTIES, now=now
        )
        keys = RemacKeys(store, dev.eui, own.ka.public_key())
        uc = lookup(cmd.header.other.message_code)
        ds = store.private_key(cmd.originator, KeyUsage.DS) if uc and uc.critical else None
        counter = cmd.counter

        def frames(n: int) -> list[bytes]:
            nonlocal counter
            out = []
            for _ in range(n):
                counter += 1
                h = dataclasses.replace(cmd.header, counter=counter)
                m = dataclasses.replace(cmd, header=h, raw=None, layout=None)
                if ds is not None:
                    m = sign(m, ds)
                out.append(apply_mac(m, keys, acb).encode())
            return out

        return Workload(key, dev, frames, now)

    yield [
        workload("ecs17b", "ECS17b_4.1.1_SINGLE_SUCCESS"),
        workload("ecs42", "ECS42_7.1_SUCCESS"),
        workload("gcs13a", "GCS13a_4.1.1_SUCCESS_RELIABLE_GSME"),
    ]


# ------------------------------------------------------------------ main


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per workload (3 runs)")
    p.add_argument("--commands", type=int, default=20_000, help="most commands per timed run")
    p.add_argument(
        "--baseline-seconds", type=int, default=2, help="seconds per openssl speed figure"
    )
    p.add_argument("--rtds", action="store_true", help="DCC's RTDS commands (GBCS_INTEROP_DIR)")
    p.add_argument(
        "--breakdown", action="store_true", help="also print microseconds per stage of receive()"
    )
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = p.parse_args()
    if not args.seconds > 0 or args.commands < 1 or args.baseline_seconds < 1:
        p.error("--seconds must be > 0, --commands and --baseline-seconds at least 1")

    baseline: EcdsaBaseline = openssl_ecdsa(args.baseline_seconds) or cryptography_ecdsa(
        float(args.baseline_seconds)
    )
    own_ecdsa = cryptography_ecdsa(float(args.baseline_seconds))
    results: dict[str, Measured] = {}
    stages: dict[str, dict[str, float]] = {}
    with (rtds_workloads if args.rtds else built_workloads)() as workloads:
        for w in workloads:
            results[w.key] = measure(w, args.seconds, args.commands)
        ecs42_w = next(w for w in workloads if w.key == "ecs42")
        ceiling = measure(codec_crypto_only(ecs42_w), args.seconds, args.commands)
        if args.breakdown:
            for w in workloads:
                stages[w.key] = breakdown(w, min(args.commands, 2000))

    ecs42 = results["ecs42"].best
    floor = baseline.critical_floor_per_s
    if args.json:
        out: dict[str, Any] = {"frames": "rtds" if args.rtds else "built"}
        for key, m in results.items():
            out[f"{key}_cmds_per_s"] = round(m.best, 1)
            out[f"{key}_runs_cmds_per_s"] = [round(r, 1) for r in m.runs]
            out[f"{key}_commands_timed"] = m.commands
        out.update(
            ecdsa_source=baseline.source,
            ecdsa_sign_per_s=round(baseline.sign_per_s, 1),
            ecdsa_verify_per_s=round(baseline.verify_per_s, 1),
            critical_floor_cmds_per_s=round(floor, 1),
            ecs42_vs_floor=round(ecs42 / floor, 3),
            cryptography_sign_per_s=round(own_ecdsa.sign_per_s, 1),
            cryptography_verify_per_s=round(own_ecdsa.verify_per_s, 1),
            cryptography_floor_vs_floor=round(own_ecdsa.critical_floor_per_s / floor, 3),
            ecs42_codec_crypto_cmds_per_s=round(ceiling.best, 1),
            ecs42_codec_crypto_vs_floor=round(ceiling.best / floor, 3),
            load_avg=round(os.getloadavg()[0], 2),
        )
        if stages:
            out["breakdown_us"] = {
                key: {k.strip(): round(v, 1) for k, v in table.items()}
                for key, table in stages.items()
            }
        emit_json(out)
        return
    frames = "DCC RTDS commands, fresh counters" if args.rtds else "frames built here"
    print(f"device receive(), best of {RUNS} runs on fresh frames ({frames})")
    print(f"{'workload':34} {'commands/s':>12}   runs")
    for key, m in results.items():
        runs = " ".join(f"{r:,.0f}" for r in m.runs)
        print(f"{WORKLOADS[key]:34} {m.best:12,.0f}   {runs}  ({m.commands:,} commands)")
    label = baseline.source if baseline.source == "openssl speed" else "cryptography (no openssl)"
    print(
        f"\nECDSA P-256 from {label}: sign {baseline.sign_per_s:,.0f}/s,"
        f" verify {baseline.verify_per_s:,.0f}/s"
    )
    print(f"critical-command floor (one verify + one sign): {floor:,.0f}/s")
    print(f"ECS42 {ecs42:,.0f}/s = {ecs42 / floor:.2f}x the floor (acceptance: >= 0.6x)")
    print("ceilings in this run, as shares of that floor:")
    own = own_ecdsa.critical_floor_per_s
    print(f"  cryptography's own sign + verify      {own:10,.0f}/s = {own / floor:.2f}x")
    print(
        f"  ECS42 codec and crypto calls alone    {ceiling.best:10,.0f}/s = "
        f"{ceiling.best / floor:.2f}x  (no device behaviour)"
    )
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    if stages:
        keys = list(stages)
        print("\nmicroseconds per command by stage (timed run, fresh frames)")
        print(f"{'stage':34}" + "".join(f"{k:>10}" for k in keys))
        for label in stages[keys[0]]:
            print(f"{label:34}" + "".join(f"{stages[k][label]:10.1f}" for k in keys))


if __name__ == "__main__":
    run_main(main)
