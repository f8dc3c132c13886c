"""A fleet spread over emulator hosts, for the multi-host scenario (issue 14).

Each host is a real ``gbcs-emu run`` process (``python -m emulator run``) with its own
state directory, serving one shard of the fleet with one worker, on a list of broker
URLs. :func:`make_fleet` is the one place that says how the hosts share one fleet
identity: ``gbcs-emu fleet init`` writes the definition (config, seed, PKI), each host
starts with ``run --fleet`` (:meth:`FleetSetup.host_argv`), and the head-end's key store
comes from the definition alone (:meth:`FleetSetup.headend_keys`).

Brokers: :class:`ClusterBrokers` (three NATS nodes, tests/cluster.py: losing a node is
stopping it, restoring is starting it again) and :class:`MosquittoBrokers` (one node
with persistence: losing it is a restart, since nothing can fail over).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from emulator.headend.commands import CommandBuilder
from emulator.headend.usecases import BuildContext
from emulator.headend.usecases import get as get_use_case
from emulator.runtime.config import FleetConfig
from emulator.runtime.fleetdef import FleetDefinition
from emulator.transport.broker import MosquittoBroker
from keys.pki import DEFAULT_ORGANISATION_EUIS
from keys.roles import RemotePartyRole as R
from keys.store import KeyStore
from tests.cluster import NatsCluster
from tests.statekit import ROOT

__all__ = [
    "Brokers",
    "ClusterBrokers",
    "FleetSetup",
    "Host",
    "MosquittoBrokers",
    "catalogue_command",
    "make_fleet",
]

ACB = DEFAULT_ORGANISATION_EUIS[R.ACCESS_CONTROL_BROKER]
READY_TIMEOUT = 90.0  # hang guard for a host to serve; not a measurement
STOP_TIMEOUT = 30.0


def catalogue_command(builder: CommandBuilder, use_case: str, eui: bytes, **args: Any) -> bytes:
    """``use_case`` to ``eui`` from its catalogue description, as its usual sender (the
    test PKI's organisation of that role) would send it: a fresh counter, signed when
    critical, MAC'd by the ACB."""
    entry = get_use_case(use_case)
    role = entry.role_for(None)
    originator = DEFAULT_ORGANISATION_EUIS[role]
    counter = builder.next_counter(originator)
    ctx = BuildContext(counter, originator, eui, role, datetime.now(UTC))
    payload = entry.build_parsed(entry.parse_args(args), ctx)
    return builder.command(
        originator, eui, entry.message_code, payload, counter=counter, critical=entry.critical
    )


@dataclass(frozen=True)
class FleetSetup:
    """One fleet shared by ``hosts`` hosts, each serving shard ``i`` of ``hosts``."""

    root: Path
    definition: FleetDefinition
    hosts: int

    @property
    def config(self) -> FleetConfig:
        """The fleet's configuration (sites, EUIs; its seed set)."""
        return self.definition.config

    def state(self, host: int) -> Path:
        """Host ``host``'s state directory."""
        return self.root / f"host-{host}"

    def host_argv(self, host: int, brokers: Sequence[str]) -> list[str]:
        """The command line that starts host ``host`` (its shard, one worker)."""
        return [
            sys.executable, "-m", "emulator", "run",
            "--fleet", str(self.definition.dir),
            "--state", str(self.state(host)),
            "--shard", f"{host}:{self.hosts}", "--workers", "1",
            "--broker", ",".join(brokers),
            "--control", "--quiet",
        ]  # fmt: skip

    def owner(self, site_index: int) -> int:
        """The host that serves site ``site_index`` (worker ``w`` owns ``i % total == w``)."""
        return site_index % self.hosts

    def headend_keys(self) -> KeyStore:
        """A head-end's key store, from the fleet definition alone: the organisations'
        keys and every device's public keys."""
        return self.definition.head_end_keys()


def make_fleet(root: Path, sites: int, hosts: int) -> FleetSetup:
    """Write one fleet's identity for ``hosts`` hosts under ``root``: ``gbcs-emu fleet
    init`` (a random seed in the definition's 0600 file, never on a command line), which
    every host imports with ``run --fleet`` and the head-end reads."""
    root.mkdir(parents=True, exist_ok=True)
    definition = root / "fleet"
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "fleet", "init", str(definition), "--sites", str(sites)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AssertionError(f"gbcs-emu fleet init failed:\n{done.stdout}{done.stderr}")
    loaded = FleetDefinition.load(definition)
    if loaded.config.sites != sites:
        raise AssertionError(f"the definition has {loaded.config.sites} sites, not {sites}")
    return FleetSetup(root, loaded, hosts)


@dataclass
class Host:
    """One emulator host: a ``gbcs-emu run`` process serving one shard."""

    fleet: FleetSetup
    index: int
    brokers: list[str]
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def state(self) -> Path:
        """The host's state directory."""
        return self.fleet.state(self.index)

    @property
    def log(self) -> Path:
        """Where the host's standard output and error go."""
        return self.fleet.root / f"host-{self.index}.log"

    @property
    def stats_file(self) -> Path:
        """The worker's metrics snapshot (one worker per host: its id is the shard's
        first, the host's index)."""
        return self.state / f"stats-{self.index}.json"

    async def start(self) -> None:
        """Start the host and return once its worker serves (it writes its stats)."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.fleet.host_argv(self.index, self.brokers),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while not self.stats_file.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"host {self.index} exited:\n{self.log_tail()}")
            if loop.time() > deadline:
                raise AssertionError(f"host {self.index} not serving:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def stats(self) -> dict[str, Any]:
        """The worker's latest snapshot (counters, gauges); {} before the first."""
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads(self.stats_file.read_text()))
        return {}

    def counter(self, name: str) -> int:
        """A counter of the latest snapshot (0 when absent)."""
        return int(self.stats().get("counters", {}).get(name, 0))

    def gauge(self, name: str) -> float:
        """A gauge of the latest snapshot (0 when absent)."""
        return float(self.stats().get("gauges", {}).get(name, 0.0))

    def alerts_produced(self) -> int:
        """Frames the host's devices produced for the alert topic (GBCS alerts, AD1)."""
        counters = self.stats().get("counters", {})
        return sum(
            int(v) for k, v in counters.items() if k.startswith("out.") and k != "out.response"
        )

    def stored_sites(self) -> set[str]:
        """Every site the host's worker ever stored (its ledger, ``used-<w>.txt``)."""
        found: set[str] = set()
        for ledger in self.state.glob("used-*.txt"):
            found |= {line for line in ledger.read_text().split("\n") if line}
        return found

    def stop(self) -> int:
        """SIGTERM (state flushed, final stats written); the exit status."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        """The end of the host's output, for a failure message."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


class Brokers(Protocol):
    """The broker setup a scenario runs on."""

    name: str
    #: True: the only node; losing it stops all traffic, so restore it at once.
    single: bool

    def host_urls(self, host: int) -> list[str]:
        """Host ``host``'s broker list (host 0 starts with node 1, host 1 with node 2)."""
        ...

    def headend_urls(self) -> list[str]:
        """The head-end's broker list (node 3 first)."""
        ...

    async def lose(self) -> None:
        """Stop the node host 0's list starts with."""
        ...

    async def restore(self) -> None:
        """Start it again."""
        ...


@dataclass
class ClusterBrokers:
    """Three NATS nodes; every list holds all three, rotated to start elsewhere."""

    cluster: NatsCluster
    name: str = "nats-cluster"
    single: bool = False

    def _rotated(self, first: int) -> list[str]:
        urls = self.cluster.urls
        return urls[first:] + urls[:first]

    def host_urls(self, host: int) -> list[str]:
        return self._rotated(host)

    def headend_urls(self) -> list[str]:
        return self._rotated(2)

    async def lose(self) -> None:
        await self.cluster.stop_node(0)

    async def restore(self) -> None:
        await self.cluster.start_node(0)


@dataclass
class MosquittoBrokers:
    """One mosquitto with persistence: losing "a node" is stopping the broker."""

    broker: MosquittoBroker
    name: str = "mosquitto"
    single: bool = True

    def host_urls(self, host: int) -> list[str]:
        return [self.broker.url]

    def headend_urls(self) -> list[str]:
        return [self.broker.url]

    async def lose(self) -> None:
        await self.broker.stop()

    async def restore(self) -> None:
        await self.broker.start()  # same port, sessions and queues from its store
