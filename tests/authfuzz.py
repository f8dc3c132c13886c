"""Structure-aware fuzzing of authenticated commands: the device contract behind the MAC.

The byte-level fuzzers (``tests/fuzz.py``, ``tests/test_device_fuzz.py``) never reach a
handler: the MAC stops a damaged frame first. This campaign mutates the *payload* of a
valid command (A-XDR data items, DLMS specifications, GBZ/ZCL fields and lengths, DER
tags, lengths and values, date-time lengths, truncation and extension), then rebuilds
the frame, re-signs it with the originator's DS key when it is signed and re-applies the
ACB MAC, so every mutant passes the recipient, code, role, MAC, replay and signature
checks and reaches content decoding and the handler.

The contract checked per case (issue 9 §6, domain-rules §3.4):

* nothing escapes :meth:`devices.device.Device.receive`;
* a rejected command leaves the device's functional state byte-identical (serialised
  state minus the security log, the own originator counter an alert consumes, and the
  per-originator counters);
* a command that passed the security checks has its counter stored, even when it then
  cannot execute.

Seed commands: the head-end catalogue and commands derived from each device's own
object model (a SET of every writable COSEM attribute, a ZCL Write Attributes of every
writable attribute, GETs/reads of everything), built on the :mod:`tests.devkit` bench;
with the interop data present, also every RTDS command each emulated device type
answers, re-MAC'd for our devices as ``tests/test_security_matrix.py`` does.

Each device is restored to its baseline (``load_state`` of its serialised state) after a
case that changed it, so every mutant meets the state its seed was validated on.

``python -m tests.authfuzz --cases 1000000 --seed N [--json] [--no-interop]`` runs a
long campaign and prints the report; ``tests/test_authfuzz.py`` runs a short one.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from devices.cosem import CosemModel
from devices.device import Device
from devices.outbound import OutboundKind
from devices.pipeline import replay_protected
from gbcs.codec import GbcsMessage, decode
from gbcs.crypto.gmac import compute_mac
from gbcs.crypto.kdf import derive_key, shared_secret
from gbcs.dlms import AccessRequest, GetSpec, GetWithSelectionSpec
from gbcs.envelope import Envelope, SignatureForm
from gbcs.payload import OpaquePayload
from gbcs.security import KeyProvider, mac_parties, sign
from gbcs.tree import Field
from gbcs.usecases import lookup

__all__ = [
    "CampaignReport",
    "Seed",
    "Target",
    "devkit_seeds",
    "functional_state",
    "main",
    "rtds_seeds",
    "run_campaign",
]

DLMS_TAGS = frozenset({0xD9})
GBZ_PROFILE = b"\x01\x09"

# ------------------------------------------------------------------ targets and seeds


def functional_state(d: Device) -> dict[str, Any]:
    """The device's serialised state minus what a refused command may change.

    The security log (and, on a ZigBee device, the ZCL log that mirrors it), the own
    originator counter (an alert consumes one) and the per-originator counters (the
    command's counter is consumed once it passes the security checks) are left out;
    ``last_advance`` is the caller's time, not device state.
    """
    model = getattr(d, "model", None)
    if isinstance(model, CosemModel):
        # Compare the stored COSEM values as Data objects: same content as the model's
        # hex serialisation, several times faster (that serialisation dominates).
        model.to_dict = functools.partial(_cosem_values, model)  # type: ignore[method-assign]
        try:
            s = d.to_dict()
        finally:
            del model.to_dict
    else:
        s = d.to_dict()
    for k in ("security_log", "own_counter", "counters", "last_advance"):
        s.pop(k, None)
    if "zcl" in s:
        s["zcl"]["state"]["event_logs"].pop("4", None)
    return s


def _cosem_values(model: CosemModel) -> dict[Any, Any]:
    return {
        (o.class_id, o.obis, a): o.attributes.get(a)
        for o in model.objects()
        for a in o.writable
        if a not in o.setters and o.attributes.get(a) is not None
    }


class Target:
    """A device under test in its baseline state (a fresh device), rebuilt after a case
    that changed it: every mutant meets the state its seed was validated on."""

    def __init__(self, label: str, make: Callable[[], Device], now: datetime) -> None:
        self.label = label
        self.make = make
        self.now = now
        self.device = make()
        self.functional = functional_state(self.device)
        self.counters = dict(self.device.counters)
        self.own = self.device.own
        self._checked = 0

    def restore(self) -> None:
        """Back to the baseline: a new device (the first few rebuilds are verified)."""
        self.device = self.make()
        if self._checked < 3:
            self._checked += 1
            if functional_state(self.device) != self.functional:
                raise RuntimeError(f"{self.label}: a rebuilt device differs from the baseline")


@dataclass
class Seed:
    """A valid protected command for ``target`` and what it takes to re-protect it."""

    label: str
    use_case: str
    target: Target
    message: GbcsMessage
    signer: ec.EllipticCurvePrivateKey | None
    mac_key: bytes | None
    changes_state: bool = False
    _plan: MutationPlan | None = None

    @property
    def plan(self) -> MutationPlan:
        if self._plan is None:
            self._plan = MutationPlan.of(self.message)
        return self._plan

    def protect(self, content: bytes) -> bytes:
        """The seed's message with ``content`` as its payload, signed and MAC'd anew."""
        m = replace(self.message, payload=OpaquePayload(content), raw=None, layout=None)
        if self.message.signature_form is SignatureForm.PRESENT and self.signer is not None:
            m = sign(m, self.signer)
        if self.mac_key is None:
            return m.encode()
        plain = replace(m, envelope=Envelope.GENERAL_SIGNING, mac=None, raw=None, layout=None)
        mac = compute_mac(self.mac_key, m.originator, plain.gs_apdu())
        return replace(plain, envelope=Envelope.GENERAL_CIPHERING, mac=mac).encode()


def mac_key_for(msg: GbcsMessage, keys: KeyProvider, acb: bytes) -> bytes | None:
    """The MAC key of ``msg`` (None for a General-Signing-only command)."""
    if msg.envelope is not Envelope.GENERAL_CIPHERING:
        return None
    a, b = mac_parties(msg, acb)
    for mine, theirs in ((a, b), (b, a)):
        priv, pub = keys.private_key(mine, "ka"), keys.public_key(theirs, "ka")
        if priv is not None and pub is not None:
            z = shared_secret(priv, pub)
            return derive_key(z, msg.originator, int(msg.cra), msg.counter, msg.recipient)
    raise RuntimeError(f"no MAC key for {msg.recipient.hex().upper()}")


def _accept(target: Target, frame: bytes) -> tuple[bool, bool]:
    """Feed an unmutated seed: (answered with a response, changed functional state)."""
    d = target.device
    d.counters = dict(target.counters)
    outs = d.receive(frame, target.now)
    ok = d.last_rejection is None and any(o.kind is OutboundKind.RESPONSE for o in outs)
    changed = functional_state(d) != target.functional
    if changed or d.own is not target.own:
        target.restore()
    return ok, changed


def _seed(
    label: str,
    target: Target,
    frame: bytes,
    keys: KeyProvider,
    acb: bytes,
    signer_of: Callable[[bytes], ec.EllipticCurvePrivateKey | None],
) -> Seed | None:
    ok, changed = _accept(target, frame)
    if not ok:
        return None
    msg = decode(frame)
    uc = lookup(msg.message_code)
    name = uc.name if uc is not None else f"0x{msg.message_code:04X}"
    return Seed(
        label,
        name,
        target,
        msg,
        signer_of(msg.originator),
        mac_key_for(msg, keys, acb),
        changes_state=changed,
    )


def devkit_seeds() -> list[Seed]:
    """Seeds built on the :mod:`tests.devkit` bench (no shared data needed)."""
    from emulator.headend.usecases import CATALOG, BuildContext
    from gbcs.axdr import Data
    from gbcs.dlms import AccessRequest, GetSpec, SetSpec, invoke_id_for_counter
    from keys.roles import KeyUsage
    from tests.devkit import ACB, EUIS, T0, bench

    b = bench()
    store = b.store
    targets = {k: Target(f"devkit:{k}", functools.partial(b.device, k), T0) for k in EUIS}

    def signer(eui: bytes) -> ec.EllipticCurvePrivateKey | None:
        return store.private_key(eui, KeyUsage.DS)

    seeds: list[Seed] = []

    def add(label: str, kind: str, frame: bytes) -> None:
        s = _seed(label, targets[kind], frame, store, ACB, signer)
        if s is not None:
            seeds.append(s)

    args: dict[str, dict[str, Any]] = {
        "ECS37": {"start": "17:00", "end": "22:00"},
        "CS06": {"image_hash": "11" * 32},
        "CCS01": {
            "device": "00DB1234567890B0",
            "device_type": 1,
            "install_code": "00112233445566778899AABBCCDDEEFF",
        },
    }
    from tests.devkit import SUPPLIER

    for name, entry in CATALOG.items():
        for dt in entry.targets:
            kind = dt.value
            if kind not in targets:
                continue
            role = entry.role_for(kind)
            originator = _org_eui(role)
            counter = b.builder.next_counter(originator)
            ctx = BuildContext(counter, originator, EUIS[kind], role, T0)
            try:
                payload = entry.payload(args.get(name, {}), ctx)
            except Exception:  # a catalogue entry the bench cannot build: skip it
                continue
            frame = b.builder.command(
                originator, EUIS[kind], entry.message_code, payload, counter=counter
            )
            add(f"devkit:{kind}:{name}", kind, frame)

    # DLMS devices: a SET of each writable attribute with its current value, and a GET of
    # every attribute of each object, under the device's DLMS use-case codes in turn.
    for kind in ("ESME", "CHF"):
        dev = targets[kind].device
        codes = _codes(kind, "dlms")
        i = 0
        for obj in dev.model.objects():  # type: ignore[attr-defined]
            sets = [a for a in sorted(obj.writable) if a in obj.attributes]
            gets = sorted(set(obj.attributes) | set(obj.getters))
            groups: list[tuple[list[Any], list[Data]]] = []
            if sets:
                groups.append(
                    (
                        [SetSpec(obj.class_id, obj.obis, a) for a in sets],
                        [obj.attributes[a] for a in sets],
                    )
                )
            if gets:
                groups.append(
                    ([GetSpec(obj.class_id, obj.obis, a) for a in gets], [Data.null()] * len(gets))
                )
            for specs, data in groups:
                code = codes[i % len(codes)]
                i += 1
                counter = b.builder.next_counter(SUPPLIER)
                req = AccessRequest(invoke_id_for_counter(counter), tuple(specs), tuple(data))
                frame = b.builder.command(SUPPLIER, EUIS[kind], code, req, counter=counter)
                add(f"devkit:{kind}:model:{obj.class_id}/{obj.obis}", kind, frame)

    # ZigBee devices: Write Attributes of each writable attribute, Read Attributes of all.
    for kind in ("GSME", "GPF"):
        codes = _codes(kind, "gbz")
        for i, content in enumerate(_zcl_contents(kind)):
            code = codes[i % len(codes)]
            counter = b.builder.next_counter(SUPPLIER)
            frame = b.builder.command(
                SUPPLIER, EUIS[kind], code, OpaquePayload(content), counter=counter
            )
            add(f"devkit:{kind}:zcl:{i}", kind, frame)
    return seeds


def _org_eui(role: Any) -> bytes:
    from keys.pki import DEFAULT_ORGANISATION_EUIS

    return DEFAULT_ORGANISATION_EUIS[role]


def _codes(kind: str, payload_kind: str) -> list[int]:
    """Supplier-sendable command codes of ``payload_kind`` for device type ``kind``."""
    from devices.pipeline import allowed_roles
    from gbcs.usecases import DeviceType, all_use_cases
    from keys.roles import RemotePartyRole

    dt = DeviceType(kind)
    out = []
    for uc in all_use_cases():
        if uc.direction != "command" or dt not in uc.targets or uc.payload_kind != payload_kind:
            continue
        roles = allowed_roles(uc, dt)
        if roles is None or int(RemotePartyRole.SUPPLIER) in roles:
            out.append(uc.code)
    return sorted(out)


def _zcl_contents(kind: str) -> list[bytes]:
    """GBZ contents: per cluster, Write Attributes of its writable attributes and Read
    Attributes of all, from the device's bundled ZCL profile (type and value bytes)."""
    profile = Path(__file__).resolve().parent.parent / "devices" / "profiles"
    doc = json.loads((profile / f"{kind.lower()}_zcl.json").read_text())
    out = []
    for cid, cl in doc["clusters"].items():
        cluster = int(cid, 16)
        attrs = cl.get("attributes", {})
        writes = b"".join(
            int(aid, 16).to_bytes(2, "little")
            + bytes([int(a["type"], 16)])
            + bytes.fromhex(a["hex"])
            for aid, a in attrs.items()
            if a.get("access") == "rw" and "hex" in a
        )
        reads = b"".join(int(aid, 16).to_bytes(2, "little") for aid in attrs)
        for cmd, body in ((0x02, writes), (0x00, reads)):
            if body:
                zcl = bytes([0x00, 0x00, cmd]) + body
                comp = b"\x01" + cluster.to_bytes(2, "big") + len(zcl).to_bytes(2, "big") + zcl
                out.append(GBZ_PROFILE + b"\x01" + comp)
    return out


def rtds_seeds(interop: Path) -> list[Seed]:
    """Every RTDS SUCCESS command an emulated device answers, re-MAC'd for it."""
    from devices.factory import create_device, own_keys_from
    from emulator.conformance.cases import load_cases
    from emulator.conformance.harness import CONFORMANCE_TIME, RTDS_PARTIES, RemacKeys
    from gbcs.security import apply_mac
    from keys.roles import KeyUsage, RemotePartyRole
    from keys.store import KeyStore

    store = KeyStore(interop / "keys")
    acb = RTDS_PARTIES[RemotePartyRole.ACCESS_CONTROL_BROKER]
    targets: dict[tuple[str, bytes], tuple[Target, RemacKeys]] = {}
    seeds: list[Seed] = []

    def signer(eui: bytes) -> ec.EllipticCurvePrivateKey | None:
        return store.private_key(eui, KeyUsage.DS)

    for case in load_cases(interop / "vectors.json"):
        if case.error_variant:
            continue
        cmd = decode(case.command)
        key = (case.device_type, cmd.recipient)
        if key not in targets:
            make = functools.partial(
                create_device,
                case.device_type,
                cmd.recipient,
                store,
                own=own_keys_from(store, cmd.recipient),
                parties=RTDS_PARTIES,
                now=CONFORMANCE_TIME,
            )
            label = f"rtds:{case.device_type}:{cmd.recipient.hex().upper()}"
            t = Target(label, make, CONFORMANCE_TIME)
            targets[key] = (t, RemacKeys(store, t.device.eui, t.own.ka.public_key()))
        target, keys = targets[key]
        fed = case.command
        if cmd.envelope is Envelope.GENERAL_CIPHERING:
            fed = apply_mac(cmd, keys, acb).encode()
        s = _seed(f"rtds:{case.id}", target, fed, keys, acb, signer)
        if s is not None:
            seeds.append(s)
    return seeds


# --------------------------------------------------------------------------- mutations

_AXDR_FIXED = {3: 1, 5: 4, 6: 4, 15: 1, 16: 2, 17: 1, 18: 2, 20: 8, 21: 8, 22: 1, 23: 4, 24: 8}
_AXDR_FIXED |= {25: 12, 26: 5, 27: 4}
_AXDR_INT_TAGS = (15, 16, 17, 18, 5, 6, 20, 21, 22)
_AXDR_STRINGS = (9, 10, 12, 13)


def _ber_len(buf: bytes, p: int) -> tuple[int, int]:
    f = buf[p]
    if f < 0x80:
        return f, p + 1
    n = f & 0x7F
    if n == 0 or n > 4 or p + 1 + n > len(buf):
        raise ValueError("bad length")
    return int.from_bytes(buf[p + 1 : p + 1 + n], "big"), p + 1 + n


def _ber_enc(n: int) -> bytes:
    n = max(n, 0)
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


@dataclass(frozen=True, slots=True)
class Node:
    """A span of the content that a mutator may rewrite.

    ``kind``: ``axdr`` (one complete A-XDR Data), ``field`` (a fixed-size field),
    ``der`` (one complete DER TLV), ``zcl`` (bytes inside a GBZ component), ``ber``
    (a length/count). ``lengths`` are the (offset, size) of enclosing 2-byte big-endian
    length fields that must follow a change of size (GBZ component lengths).
    """

    kind: str
    start: int
    end: int
    tag: int = -1
    lengths: tuple[int, ...] = ()


def _axdr_walk(buf: bytes, p: int, out: list[Node], depth: int = 0) -> int:
    """Record every Data node from ``p``; returns its end (ValueError when malformed)."""
    if p >= len(buf) or depth > 20:
        raise ValueError("short")
    tag = buf[p]
    q = p + 1
    if tag in (0, 255):
        end = q
    elif tag in _AXDR_FIXED:
        end = q + _AXDR_FIXED[tag]
    elif tag in _AXDR_STRINGS:
        n, q = _ber_len(buf, q)
        end = q + n
    elif tag == 4:
        n, q = _ber_len(buf, q)
        end = q + (n + 7) // 8
    elif tag in (1, 2):
        n, q = _ber_len(buf, q)
        for _ in range(n):
            q = _axdr_walk(buf, q, out, depth + 1)
        end = q
    else:
        raise ValueError(f"tag {tag}")
    if end > len(buf):
        raise ValueError("short")
    out.append(Node("axdr", p, end, tag))
    return end


def _dlms_nodes(c: bytes) -> list[Node]:
    """Invoke id, date-time, every specification field and every Data node."""
    out = [Node("field", 1, 5), Node("ber", 5, 6)]
    p = 6 + c[5]
    if c[5]:
        out.append(Node("axdr-dt", 6, p))
    n, q = _ber_len(c, p)
    out.append(Node("ber", p, q))
    for _ in range(n):
        choice = c[q]
        out += [Node("field", q, q + 1), Node("field", q + 1, q + 3)]
        out += [Node("field", q + 3, q + 9), Node("field", q + 9, q + 10)]
        q += 10
        if choice in (4, 5):
            out.append(Node("field", q, q + 1))
            q = _axdr_walk(c, q + 1, out)
    n, r = _ber_len(c, q)
    out.append(Node("ber", q, r))
    for _ in range(n):
        r = _axdr_walk(c, r, out)
    return out


def _leaves(fields: Iterable[Field]) -> Iterable[Field]:
    for f in fields:
        if f.children:
            yield from _leaves(f.children)
        else:
            yield f


def _gbz_nodes(c: bytes, msg: GbcsMessage) -> list[Node]:
    """Every leaf field of each component, tied to its component's length field."""
    out = [Node("field", 2, 3)]
    for comp in msg.payload.fields(0):
        if not comp.name.startswith("GBZ component"):
            continue
        length = next((k for k in comp.children if k.name == "Length"), None)
        lens = (length.offset,) if length is not None else ()
        for leaf in _leaves(comp.children):
            if leaf is length:
                out.append(Node("field", leaf.offset, leaf.offset + len(leaf.raw)))
            elif leaf.raw:
                out.append(Node("zcl", leaf.offset, leaf.offset + len(leaf.raw), -1, lens))
    return out


def _der_walk(
    buf: bytes, p: int, end: int, out: list[Node], depth: int = 0, *, recurse: bool = True
) -> None:
    while p < end:
        if depth > 30:
            raise ValueError("deep")
        tag = buf[p]
        if tag & 0x1F == 0x1F:
            raise ValueError("high tag")
        n, q = _ber_len(buf, p + 1)
        e = q + n
        if e > end:
            raise ValueError("short")
        out.append(Node("der", p, e, tag))
        if tag & 0x20 and recurse:
            _der_walk(buf, q, e, out, depth + 1)
        p = e


_VALUE_KINDS = frozenset({"axdr", "axdr-dt", "zcl", "der"})


@dataclass
class MutationPlan:
    """The nodes of one seed's content (computed once per seed)."""

    content: bytes
    family: str
    nodes: list[Node] = field(default_factory=list)
    values: list[Node] = field(default_factory=list)

    @classmethod
    def of(cls, msg: GbcsMessage) -> MutationPlan:
        c = msg.content()
        nodes: list[Node] = []
        family = "raw"
        try:
            if c[:1] and c[0] in DLMS_TAGS:
                family, nodes = "dlms", _dlms_nodes(c)
            elif c[:2] == GBZ_PROFILE:
                family, nodes = "gbz", _gbz_nodes(c, msg)
            else:
                _der_walk(c, 0, len(c), nodes)
                family = "der"
        except (ValueError, IndexError):
            nodes = []
        return cls(c, family, nodes, [n for n in nodes if n.kind in _VALUE_KINDS])


def _int_boundaries(size: int, rng: random.Random) -> bytes:
    top = 1 << (8 * size)
    v = rng.choice((0, 1, 2, top - 1, top - 2, top >> 1, (top >> 1) - 1, rng.randrange(top)))
    return v.to_bytes(size, "big")


def _same_size(raw: bytes, rng: random.Random) -> bytes:
    """Other bytes of the same length: boundaries, ±1, a flipped bit, random."""
    if not raw:
        return raw
    r = rng.randrange(5)
    if r == 0:
        return _int_boundaries(len(raw), rng)
    if r == 1:
        v = (int.from_bytes(raw, "big") + rng.choice((1, -1))) % (1 << (8 * len(raw)))
        return v.to_bytes(len(raw), "big")
    b = bytearray(raw)
    i = rng.randrange(len(b))
    if r == 2:
        b[i] ^= 1 << rng.randrange(8)
    elif r == 3:
        b[i] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF))
    else:
        b[i] = rng.randrange(256)
    return bytes(b)


def _resize(raw: bytes, rng: random.Random) -> bytes:
    """Shorter or longer: cut, drop the middle, append, repeat."""
    r = rng.randrange(4)
    if r == 0 and raw:
        return raw[: rng.randrange(len(raw))]
    if r == 1 and len(raw) > 2:
        i = rng.randrange(len(raw))
        return raw[:i] + raw[i + rng.randrange(1, 4) :]
    if r == 2:
        return raw + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))
    return raw + raw[: rng.randrange(1, 8)]


def _datetime(rng: random.Random) -> bytes:
    """A 12-byte COSEM date-time, valid, unspecified or with one field out of range."""
    dt = bytearray.fromhex("07EA0101FF0C0000008000FF")
    r = rng.randrange(6)
    if r == 0:
        dt[0:2] = rng.choice((b"\xff\xff", b"\x00\x00", b"\x27\x10"))
    elif r == 1:
        dt[2] = rng.choice((0, 13, 0xFD, 0xFE, 0xFF))
    elif r == 2:
        dt[3] = rng.choice((0, 32, 0xFD, 0xFE, 0xFF))
    elif r == 3:
        dt[5:9] = bytes(rng.choice((24, 60, 100, 0xFF)) for _ in range(4))
    elif r == 4:
        dt[9:11] = rng.choice((b"\x80\x00", b"\x7f\xff", b"\x00\x3c", b"\xfc\x40"))
    else:
        dt[11] = rng.randrange(256)
    return bytes(dt)


def _axdr_value(tag: int, rng: random.Random) -> bytes:
    """A fresh A-XDR encoding of type ``tag`` (or a neighbouring shape)."""
    if tag in _AXDR_FIXED:
        return bytes([tag]) + _int_boundaries(_AXDR_FIXED[tag], rng)
    if tag in _AXDR_STRINGS:
        n = rng.choice((0, 1, 11, 12, 13, 16, 32, 64, 200))
        body = _datetime(rng) if n == 12 else bytes(rng.randrange(256) for _ in range(n))
        return bytes([tag]) + _ber_enc(n) + body
    if tag in (1, 2):
        return bytes([tag, 0])
    return bytes([tag])


def _mutate_axdr(raw: bytes, tag: int, rng: random.Random) -> bytes:
    """Structure-aware rewrite of one complete A-XDR Data ``raw``."""
    r = rng.randrange(10)
    if r == 0:  # another type, same value bytes
        return bytes([rng.choice((*_AXDR_INT_TAGS, 3, 9, 0, 2, 1))]) + raw[1:]
    if r == 1:  # another type, well formed
        return _axdr_value(rng.choice((*_AXDR_INT_TAGS, 3, 9, 10, 0, 1, 2, 25)), rng)
    if tag in _AXDR_FIXED and tag not in (25, 26, 27):
        return bytes([tag]) + _same_size(raw[1:], rng)
    if tag in _AXDR_STRINGS:
        n, q = _ber_len(raw, 1)
        body = raw[q:]
        if n == 12 and r < 6:  # a date-time: another value or another length
            if r < 4:
                return raw[:q] + _datetime(rng)
            cut = rng.choice((0, 5, 8, 11, 13, 16))
            new = (_datetime(rng) + b"\x00" * 8)[:cut]
            return bytes([tag]) + _ber_enc(len(new)) + new
        if r < 5 and body:
            return raw[:q] + _same_size(body, rng)
        if r < 7:
            new = _resize(body, rng)
            return bytes([tag]) + _ber_enc(len(new)) + new
        return bytes([tag]) + _ber_enc(n + rng.choice((-1, 1, 2))) + body  # length lies
    if tag in (1, 2):
        n, q = _ber_len(raw, 1)
        kids: list[Node] = []
        p = q
        for _ in range(n):
            p = _axdr_walk(raw, p, kids)
        top = [k for k in kids if k.start in _child_starts(raw, q, n)]
        parts = [raw[k.start : k.end] for k in sorted(top, key=lambda k: k.start)]
        if r < 4 and parts:
            del parts[rng.randrange(len(parts))]
        elif r < 6 and parts:
            i = rng.randrange(len(parts))
            parts.insert(i, parts[i])
        elif r < 7:
            parts = []
        elif r < 8 and len(parts) > 1:
            i, j = rng.sample(range(len(parts)), 2)
            parts[i], parts[j] = parts[j], parts[i]
        else:
            return bytes([3 - tag]) + raw[1:]  # array <-> structure
        return bytes([tag]) + _ber_enc(len(parts)) + b"".join(parts)
    if tag == 4:
        return bytes([4]) + _ber_enc(rng.choice((0, 1, 7, 9, 64))) + b"\xff" * 8
    return _axdr_value(rng.choice((*_AXDR_INT_TAGS, 9, 2)), rng)


def _child_starts(raw: bytes, q: int, n: int) -> set[int]:
    starts = set()
    p = q
    for _ in range(n):
        starts.add(p)
        tmp: list[Node] = []
        p = _axdr_walk(raw, p, tmp)
    return starts


_DER_TAGS = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x17, 0x18, 0x30, 0x31, 0x80, 0xA0)


def _mutate_der(raw: bytes, tag: int, rng: random.Random) -> bytes:
    """Rewrite one DER TLV: value, size, tag, children; lengths recomputed (or lying)."""
    n, q = _ber_len(raw, 1)
    body = raw[q:]
    r = rng.randrange(10)
    if r == 0:
        return bytes([rng.choice(_DER_TAGS)]) + raw[1:]
    if r == 1:
        return bytes([tag]) + _ber_enc(n + rng.choice((-1, 1))) + body  # length lies
    if tag & 0x20:
        kids: list[Node] = []
        _der_walk(raw, q, len(raw), kids, recurse=False)
        parts = [raw[k.start : k.end] for k in kids]
        if r < 5 and parts:
            del parts[rng.randrange(len(parts))]
        elif r < 7 and parts:
            i = rng.randrange(len(parts))
            parts.insert(i, parts[i])
        elif r < 8:
            parts = []
        else:
            parts.append(bytes([rng.choice((0x02, 0x04, 0x05))]) + b"\x01\x00")
        new = b"".join(parts)
    elif r < 6:
        new = _same_size(body, rng) if body else b"\x00"
    elif r < 8:
        new = _resize(body, rng)
    elif tag == 0x02:
        new = rng.choice((b"", b"\x00", b"\xff", b"\x80", b"\x7f" + b"\xff" * 8, b"\x00" * 9))
    else:
        new = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 4, 12, 32, 65))))
    return bytes([tag]) + _ber_enc(len(new)) + new


def _raw_mutation(c: bytes, rng: random.Random) -> bytes:
    b = bytearray(c)
    i = rng.randrange(len(b))
    r = rng.randrange(5)
    if r == 0:
        b[i] ^= 1 << rng.randrange(8)
    elif r == 1:
        b[i] = rng.randrange(256)
    elif r == 2:
        del b[max(i, 1) :]
    elif r == 3:
        b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    else:
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
    return bytes(b)


def mutate(plan: MutationPlan, rng: random.Random) -> tuple[str, bytes]:
    """One mutant of the plan's content: (mutation name, content)."""
    c = plan.content
    if not plan.nodes or rng.random() < 0.08:
        return "raw", _raw_mutation(c, rng)
    # Values more often than framing: a changed value that still parses is what reaches
    # deep into a handler (and, for updates, changes state).
    values = plan.values
    node = rng.choice(values if values and rng.random() < 0.6 else plan.nodes)
    raw = c[node.start : node.end]
    lens = node.lengths
    if node.kind == "axdr":
        new, name = _mutate_axdr(raw, node.tag, rng), "axdr"
    elif node.kind == "axdr-dt":
        new, name = _datetime(rng), "dlms-date-time"
    elif node.kind == "der":
        new, name = _mutate_der(raw, node.tag, rng), "der"
    elif node.kind == "ber":
        new, name = bytes([(raw[0] + rng.choice((1, -1, 12))) & 0xFF]) + raw[1:], "count"
    elif node.kind == "zcl" and rng.random() < 0.3:
        new, name = _resize(raw, rng), "zcl-resize"
    else:
        new, name = _same_size(raw, rng), f"{node.kind}-value"
    out = bytearray(c[: node.start] + new + c[node.end :])
    delta = len(new) - len(raw)
    for off in lens:
        if off < node.start:
            v = (int.from_bytes(out[off : off + 2], "big") + delta) & 0xFFFF
            out[off : off + 2] = v.to_bytes(2, "big")
    if not out:
        out = bytearray(c[:1])
    return name, bytes(out)


# ---------------------------------------------------------------------------- campaign


@dataclass
class Escape:
    """An exception out of receive(): where it was raised and on which seed."""

    exception: str
    where: str
    seed: str
    use_case: str
    mutation: str
    frame: str


@dataclass
class CampaignReport:
    """Figures of one campaign (see the module docstring for the contract)."""

    seed: int
    cases: int = 0
    seeds: int = 0
    use_cases: int = 0
    seeds_by_device: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    accepted_changed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_changed: int = 0
    counter_not_stored: int = 0
    escapes: list[Escape] = field(default_factory=list)
    escapes_by_kind: Counter[str] = field(default_factory=Counter)
    content_details: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    mutations: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def accepted_changed_share(self) -> float:
        return self.accepted_changed / self.cases if self.cases else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "cases": self.cases,
            "seeds": self.seeds,
            "use_cases": self.use_cases,
            "seeds_by_device": self.seeds_by_device,
            "escapes": len(self.escapes),
            "escapes_by_kind": dict(self.escapes_by_kind),
            "rejected_with_state_change": self.rejected_changed,
            "counter_not_stored": self.counter_not_stored,
            "accepted": self.accepted,
            "accepted_and_changed": self.accepted_changed,
            "accepted_and_changed_share": round(self.accepted_changed_share, 4),
            "rejected_at": {k: v for k, v in sorted(self.rejected.items())},
            "rejected_share": {
                k: round(v / self.cases, 4) for k, v in sorted(self.rejected.items())
            },
            "execute_rejections_by_exception": dict(self.content_details.most_common()),
            "mutations": dict(sorted(self.mutations.items())),
            "seconds": round(self.seconds, 2),
            "violations": self.violations[:20],
            "escape_examples": [e.__dict__ for e in self.escapes[:10]],
        }

    def text(self) -> str:
        j = self.to_json()
        lines = [
            f"seed {self.seed}: {self.cases} cases on {self.seeds} seed commands "
            f"({self.use_cases} use cases; {self.seeds_by_device}) in {self.seconds:.1f} s",
            f"  escapes: {j['escapes']}  rejected with state change: {self.rejected_changed}"
            f"  counter not stored: {self.counter_not_stored}",
            f"  accepted: {self.accepted} ({self.accepted / max(self.cases, 1):.1%}), "
            f"accepted and changed state: {self.accepted_changed} "
            f"({self.accepted_changed_share:.1%})",
            "  rejected at: "
            + ", ".join(
                f"{k} {v} ({v / max(self.cases, 1):.1%})" for k, v in j["rejected_at"].items()
            ),
        ]
        if self.content_details:
            top = ", ".join(f"{k} {v}" for k, v in self.content_details.most_common(8))
            lines.append(f"  cannot-execute rejections by exception: {top}")
        for k, v in self.escapes_by_kind.most_common():
            lines.append(f"  ESCAPE x{v}: {k}")
        for v in self.violations[:10]:
            lines.append(f"  VIOLATION {v}")
        return "\n".join(lines)


def _where(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if "/devices/" in f.filename or "/gbcs/" in f.filename]
    f = (ours or frames)[-1]
    return f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.name}"


def _detail_kind(reason: str) -> str:
    """``cannot execute (KeyError): ...`` -> ``KeyError``; other content reasons grouped."""
    if reason.startswith("cannot execute ("):
        return reason[len("cannot execute (") :].split(")", 1)[0]
    if reason.startswith("cannot execute"):
        return "rejected by handler"
    return "content does not decode"


def run_campaign(
    seeds: Sequence[Seed],
    n: int,
    seed: int,
    *,
    weight_changing: float = 3.0,
    max_escapes: int = 10_000,
) -> CampaignReport:
    """Run ``n`` mutants of ``seeds``.

    Updates (and seeds whose unmutated command changed state) are drawn
    ``weight_changing`` times as often as reads: a mutated read can rarely change state.
    """
    rng = random.Random(seed)
    rep = CampaignReport(seed)
    rep.seeds = len(seeds)
    rep.use_cases = len({(s.target.device.device_type, s.use_case) for s in seeds})
    rep.seeds_by_device = dict(Counter(s.target.device.device_type.value for s in seeds))
    weights = [weight_changing if s.changes_state or _writes(s) else 1.0 for s in seeds]
    t0 = time.perf_counter()
    for s in rng.choices(seeds, weights, k=n):
        name, content = mutate(s.plan, rng)
        frame = s.protect(content)
        _one(s, name, frame, rep)
        if len(rep.escapes) >= max_escapes:
            break
    rep.seconds = time.perf_counter() - t0
    return rep


def _writes(s: Seed) -> bool:
    """Whether the seed is an update: DLMS SET/ACTION, ZCL Write Attributes, not a read."""
    p = s.message.payload
    if isinstance(p, AccessRequest):
        return not all(isinstance(x, GetSpec | GetWithSelectionSpec) for x in p.specs)
    uc = lookup(s.message.message_code)
    return uc is None or uc.read_or_update != "Read"


def _one(s: Seed, mutation: str, frame: bytes, rep: CampaignReport) -> None:
    t = s.target
    d = t.device
    d.counters = dict(t.counters)
    rep.cases += 1
    rep.mutations[mutation] += 1
    msg = s.message
    try:
        d.receive(frame, t.now)
    except Exception as e:
        kind = f"{type(e).__name__} in {_where(e)} ({s.use_case} to {d.device_type.value})"
        rep.escapes_by_kind[kind] += 1
        rep.escapes.append(
            Escape(type(e).__name__, _where(e), s.label, s.use_case, mutation, frame.hex())
        )
        t.restore()
        return
    rej = d.last_rejection
    changed = functional_state(d) != t.functional
    uc = lookup(msg.message_code)
    passed_security = rej is None or rej.check.value == "content"
    stored = d.counters.get(msg.originator) == msg.counter
    if passed_security and uc is not None and replay_protected(uc) and not stored:
        rep.counter_not_stored += 1
        rep.violations.append(f"{s.label} ({mutation}): counter not stored")
    if rej is None:
        rep.accepted += 1
        if changed:
            rep.accepted_changed += 1
    else:
        rep.rejected[rej.check.value] += 1
        if rej.check.value == "content":
            rep.content_details[_detail_kind(rej.reason)] += 1
        if changed:
            rep.rejected_changed += 1
            rep.violations.append(
                f"{s.label} ({mutation}): rejected ({rej.check.value}: {rej.reason[:80]}) "
                f"but state changed: {_diff(t.functional, functional_state(d))}"
            )
    if changed or d.own is not t.own:
        t.restore()


def _diff(a: dict[str, Any], b: dict[str, Any], path: str = "") -> str:
    for k in sorted(set(a) | set(b), key=str):
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                return _diff(a[k], b[k], f"{path}{k}.")
            return f"{path}{k}"
    return "?"


def all_seeds(*, interop: bool = True) -> list[Seed]:
    """Devkit seeds, plus the RTDS seeds when the interop data are present."""
    seeds = devkit_seeds()
    if interop:
        from tests.interop import interop_dir

        d = interop_dir()
        if d is not None:
            seeds += rtds_seeds(d)
    return seeds


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.authfuzz --cases N --seed S [--json] [--no-interop]``."""
    p = argparse.ArgumentParser(
        prog="python -m tests.authfuzz",
        description="Structure-aware fuzz of authenticated commands (device contract).",
    )
    p.add_argument("--cases", type=int, default=1_000_000, help="mutants to run")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-interop", action="store_true", help="devkit seeds only")
    args = p.parse_args(argv)
    if args.cases < 1:
        p.error("--cases must be at least 1")
    seed = int(time.time()) if args.seed is None else args.seed
    seeds = all_seeds(interop=not args.no_interop)
    rep = run_campaign(seeds, args.cases, seed)
    print(json.dumps(rep.to_json(), indent=1) if args.json else rep.text())
    bad = rep.escapes or rep.rejected_changed or rep.counter_not_stored
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
