"""Helpers for state-directory tests: a claimed fleet, accepted commands, replays."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from devices.policy import Check
from emulator.headend.commands import CommandBuilder
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import FleetConfig, load_config
from emulator.runtime.launch import claim
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.base import BusMessage, Channel
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.axdr import Data
from gbcs.dlms import AccessRequest, GetSpec, Obis, SetSpec, invoke_id_for_counter
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NO = DEFAULT_ORGANISATION_EUIS[R.NETWORK_OPERATOR]
SCHEDULE = Obis.parse("0-0:12.0.0.255")


def cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``gbcs-emu ARGS`` in a subprocess (text output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def schedule_set(builder: CommandBuilder, eui: bytes, hour: int, minute: int) -> bytes:
    """ECS37 (replay protected): set the first switch time of the TOU schedule."""
    from devices.behaviours.maxdemand import default_schedule

    entries = [e.to_data() for e in default_schedule()]
    fields = list(entries[0].value)
    fields[4] = Data.octet_string(bytes([hour, minute, 0, 0]))
    entries[0] = Data.structure(*fields)
    c = builder.next_counter(NO)
    req = AccessRequest(
        invoke_id_for_counter(c), (SetSpec(10, SCHEDULE, 2),), (Data.array(*entries),)
    )
    return builder.command(NO, eui, 0x004A, req, counter=c)


def schedule_read(builder: CommandBuilder, eui: bytes) -> bytes:
    c = builder.next_counter(NO)
    req = AccessRequest(invoke_id_for_counter(c), (GetSpec(10, SCHEDULE, 2),), (Data.null(),))
    return builder.command(NO, eui, 0x002C, req, counter=c)


@dataclass
class Fleet:
    """A state directory claimed for ``sites`` sites on one worker, as ``run`` would."""

    state: Path
    config: FleetConfig
    keys: KeyStore
    builder: CommandBuilder
    accepted: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, state: Path, sites: int = 1, seed: bytes | None = None) -> Fleet:
        config = load_config(None, sites=sites)
        claim(state, config, seed=seed).release()
        keys = KeyStore(ensure_pki(state))
        add_device_public_keys(keys, config, range(sites), state)
        builder = CommandBuilder(keys, DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER])
        return cls(state, config, keys, builder)

    def emulator(self, worker: int = 0, workers: int = 1) -> Emulator:
        return Emulator(
            load_config(None, sites=self.config.sites),
            InProcessBus(InProcessHub()),
            VirtualClock(T0),
            KeyStore(self.state / "pki"),
            self.state,
            worker=worker,
            workers=workers,
        )

    def esme(self, index: int) -> bytes:
        return self.config.site_config(index).eui("ESME")

    def message(self, index: int, frame: bytes) -> BusMessage:
        cfg = self.config.site_config(index)
        return BusMessage(cfg.site_id, cfg.eui("ESME").hex().upper(), Channel.IN, frame)

    def accept(self, per_site: int = 2) -> None:
        """Send ``per_site`` ECS37 to every site's ESME through an in-process emulator."""
        emu = self.emulator()
        try:
            for i in range(self.config.sites):
                for k in range(per_site):
                    frame = schedule_set(self.builder, self.esme(i), (i + k) % 24, k)
                    assert emu.handle(self.message(i, frame)) == 1
                    target = emu.site(i).esme
                    assert target is not None and target.last_rejection is None
                    self.accepted.append((i, frame))
        finally:
            emu.close()

    def replay_checks(self, workers: int = 1) -> list[Check | None]:
        """Feed every accepted frame again to its owning worker: the check that refused
        each (None: accepted)."""
        out: list[Check | None] = []
        emus = [self.emulator(w, workers) for w in range(workers)]
        try:
            for i, frame in self.accepted:
                emu = emus[i % workers]
                emu.handle(self.message(i, frame))
                esme = emu.site(i).esme
                assert esme is not None
                rej = esme.last_rejection
                out.append(rej.check if rej is not None else None)
        finally:
            for e in emus:
                e.close()
        return out


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777
