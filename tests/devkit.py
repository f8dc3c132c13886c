"""A test bench for device tests: our own PKI, devices trusting it, a command builder."""

from __future__ import annotations

import functools
import importlib.util
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.device import Device
from devices.factory import create_device
from devices.trust import OwnKeys
from emulator.headend.commands import CommandBuilder
from gbcs.payload import Payload
from keys.pki import (
    DEFAULT_ORGANISATION_EUIS,
    CertificateAuthorities,
    create_authorities,
    issue_device_keys,
    issue_organisation_keys,
)
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore, build_entry

R = RemotePartyRole
T0 = datetime(2026, 1, 1, tzinfo=UTC)

EUIS = {
    "ESME": bytes.fromhex("00DB1234567890A0"),
    "GSME": bytes.fromhex("00DB1234567890A1"),
    "CHF": bytes.fromhex("00DB1234567890A2"),
    "GPF": bytes.fromhex("00DB1234567890A3"),
}

SUPPLIER = DEFAULT_ORGANISATION_EUIS[R.SUPPLIER]
NETWORK_OPERATOR = DEFAULT_ORGANISATION_EUIS[R.NETWORK_OPERATOR]
ACB = DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER]


@functools.cache
def _authorities() -> CertificateAuthorities:
    return create_authorities(now=T0)


@functools.cache
def _org_keys() -> tuple[Any, ...]:
    ca = _authorities()
    out: list[Any] = []
    for role, eui in DEFAULT_ORGANISATION_EUIS.items():
        if role is R.ROOT:
            continue
        out.extend(issue_organisation_keys(ca, role, eui, now=T0))
    return tuple(out)


@functools.cache
def _device_keys(eui: bytes) -> OwnKeys:
    issued = issue_device_keys(_authorities(), eui, now=T0)
    ka = next(k for k in issued if k.usage is KeyUsage.KA)
    ds = next(k for k in issued if k.usage is KeyUsage.DS)
    return OwnKeys(eui, ka.private_key, ds.private_key)


@dataclass
class Bench:
    """Organisations' keys, device public keys and a builder for commands."""

    store: KeyStore
    builder: CommandBuilder
    devices: dict[str, Device] = field(default_factory=dict)
    now: datetime = T0

    def device(self, kind: str, **config: Any) -> Device:
        eui = EUIS[kind]
        own = _device_keys(eui)
        d = create_device(kind, eui, self.store, own=own, now=self.now, **config)
        self.devices[kind] = d
        return d

    def command(
        self,
        kind: str,
        code: int,
        payload: Payload,
        *,
        originator: bytes = SUPPLIER,
        **kwargs: Any,
    ) -> bytes:
        return self.builder.command(originator, EUIS[kind], code, payload, **kwargs)


def bench() -> Bench:
    """A fresh bench (new counters) over the cached PKI."""
    store = KeyStore()
    for k in _org_keys():
        store.add_entry(k.entry())
    for eui in EUIS.values():
        own = _device_keys(eui)
        store.add_entry(build_entry(eui, KeyUsage.KA, public_key=own.ka.public_key()))
        store.add_entry(build_entry(eui, KeyUsage.DS, public_key=own.ds.public_key()))
    return Bench(store, CommandBuilder(store, ACB))


def dlms_command(
    b: Bench,
    kind: str,
    code: int,
    specs: tuple[Any, ...],
    data: tuple[Any, ...] | None = None,
    *,
    originator: bytes = SUPPLIER,
    counter: int | None = None,
) -> bytes:
    """A protected DLMS access-request whose invoke id tracks its counter."""
    from gbcs.axdr import Data
    from gbcs.dlms import AccessRequest, invoke_id_for_counter

    if counter is None:
        counter = b.builder.next_counter(originator)
    if data is None:
        data = tuple(Data.null() for _ in specs)
    req = AccessRequest(invoke_id_for_counter(counter), tuple(specs), tuple(data))
    return b.builder.command(originator, EUIS[kind], code, req, counter=counter)


def responses(out: list[Any]) -> list[Any]:
    """Decoded response frames among a device's outbound frames."""
    from devices.outbound import OutboundKind
    from gbcs.codec import decode

    return [decode(o.frame) for o in out if o.kind is OutboundKind.RESPONSE]


def alerts(out: list[Any]) -> list[Any]:
    from devices.outbound import OutboundKind

    return [o for o in out if o.kind is OutboundKind.ALERT]


def send_use_case(
    b: Bench,
    site: Any,
    kind: str,
    name: str,
    now: datetime,
    *,
    role: RemotePartyRole | None = None,
    **args: Any,
) -> dict[str, Any]:
    """A use case from the head-end catalogue, sent to ``site``'s ``kind`` device (a GSME
    answers at its next wake-up); the response verified and its values returned."""
    from devices.outbound import OutboundKind
    from emulator.headend import usecases
    from emulator.headend.usecases import BuildContext, ResponseView
    from gbcs.codec import decode
    from gbcs.security import Verdict, check_mac, check_signature, decode_plaintext, decrypt_parts

    entry = usecases.get(name)
    role = role or entry.role_for(kind)
    me = {R.SUPPLIER: SUPPLIER, R.NETWORK_OPERATOR: NETWORK_OPERATOR, R.ACCESS_CONTROL_BROKER: ACB}[
        role
    ]
    counter = b.builder.next_counter(me)
    parsed = entry.parse_args(args)
    payload = entry.build_parsed(parsed, BuildContext(counter, me, EUIS[kind], role, now))
    frame = b.builder.command(
        me, EUIS[kind], entry.message_code, payload, counter=counter, critical=entry.critical
    )
    out = site.receive(frame, now)
    if kind == "GSME":
        out += site.advance(site.gsme.next_wake)
    (rsp,) = [decode(o.frame) for o in out if o.kind is OutboundKind.RESPONSE]
    check = check_signature(rsp, b.store) if entry.critical else check_mac(rsp, b.store, ACB)
    assert check.verdict is Verdict.VALID, check
    plain = tuple(decode_plaintext(p) for p in decrypt_parts(rsp, b.store))
    return entry.values(ResponseView(rsp, plain, parsed))


def load_devices_benchmark(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """``benchmarks/devices.py`` and its ``_common`` as modules, for the test's duration
    (loaded by path: the benchmark's name would shadow the ``devices`` package)."""
    root = Path(__file__).resolve().parent.parent
    loaded = {}
    for name, file in (("_common", "_common.py"), ("bench_devices", "devices.py")):
        spec = importlib.util.spec_from_file_location(name, root / "benchmarks" / file)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, mod)
        spec.loader.exec_module(mod)
        loaded[name] = mod
    return loaded["bench_devices"], loaded["_common"]
