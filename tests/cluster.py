"""A three-node NATS cluster with MQTT over JetStream, on loopback, for tests.

Debian's ``nats-server`` (package ``nats-server``, 2.9) runs as three child processes,
each with its own directory (config, JetStream store, log) under one temporary
directory, on free 127.0.0.1 ports. MQTT sessions and their queued QoS 1 messages live
in JetStream streams replicated on all three nodes (``mqtt { stream_replicas: 3 }``), so
a persistent session survives the loss of any one node. See ``docs/broker-cluster.md``.

Use::

    async with nats_cluster() as cluster:
        bus = MqttBus(cluster.urls, client_id="x", persistent=True)
        await cluster.stop_node(0)   # SIGTERM; its directory stays
        await cluster.start_node(0)  # same config and store; waits until it rejoined

Tests call :func:`require_nats_server` (or use :func:`nats_cluster`, which does) to
skip with a reason when the binary is missing; ``GBCS_REQUIRE_BROKER_CLUSTER=1`` turns
that skip into a failure (for CI, which installs it). When the block fails, the tail of
every node's log is written to standard error, which pytest shows with the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

__all__ = [
    "APT_PACKAGE",
    "ClusterError",
    "NatsCluster",
    "find_nats_server",
    "nats_cluster",
    "require_nats_server",
]

#: The Debian package that provides the binary (what ``.ci/run`` installs).
APT_PACKAGE = "nats-server"
REQUIRE_ENV = "GBCS_REQUIRE_BROKER_CLUSTER"
#: Bound for a node to start, join and serve MQTT; a hang guard, not a measurement. A
#: restarted node's JetStream catches up with the cluster before it reports healthy: on a
#: loaded 2-core machine that took over 90 s once (both suites and helpers running).
READY_TIMEOUT = 240.0
STOP_TIMEOUT = 30.0


class ClusterError(RuntimeError):
    """The cluster did not start, form or serve MQTT (the message has the logs' tails)."""


def find_nats_server() -> str | None:
    """The ``nats-server`` binary: on PATH, else Debian's /usr/sbin (off a user's PATH)."""
    found = shutil.which("nats-server")
    if found:
        return found
    for candidate in ("/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_nats_server() -> str:
    """The binary, or skip the test (fail under ``GBCS_REQUIRE_BROKER_CLUSTER=1``)."""
    binary = find_nats_server()
    if binary is None:
        why = f"nats-server is not installed (apt-get install {APT_PACKAGE})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(why)
    return binary


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open while choosing)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class ClusterNode:
    """One ``nats-server`` of the cluster: its ports, directory and process."""

    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    http_port: int
    directory: Path
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

    @property
    def config(self) -> Path:
        return self.directory / "nats.conf"

    @property
    def log(self) -> Path:
        return self.directory / "nats.log"

    @property
    def url(self) -> str:
        """The node's MQTT URL."""
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def config_text(self, routes: list[int]) -> str:
        route_urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
        store = json.dumps(str(self.directory / "store"))
        return f"""# written by tests/cluster.py
server_name: {self.name}
listen: 127.0.0.1:{self.client_port}
http: 127.0.0.1:{self.http_port}
jetstream {{
  store_dir: {store}
  max_memory_store: 256MB
  max_file_store: 1GB
}}
cluster {{
  name: gbcs-test
  listen: 127.0.0.1:{self.cluster_port}
  routes: [{route_urls}]
}}
mqtt {{
  listen: 127.0.0.1:{self.mqtt_port}
  # Session, message and retained-message streams (and their consumers) on all three
  # nodes: what lets a persistent session and its queued QoS 1 messages outlive a node.
  stream_replicas: 3
}}
"""

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError as e:
            return f"  (no log: {e})"
        return "\n".join(f"  {line}" for line in text[-lines:])


class NatsCluster:
    """Three (or ``size``) NATS nodes with MQTT on loopback, under ``root``."""

    def __init__(self, root: Path, *, size: int = 3, binary: str | None = None) -> None:
        self.root = root
        self.binary = binary or require_nats_server()
        ports = _free_ports(4 * size)
        self.nodes = [
            ClusterNode(
                name=f"n{i + 1}",
                client_port=ports[4 * i],
                cluster_port=ports[4 * i + 1],
                mqtt_port=ports[4 * i + 2],
                http_port=ports[4 * i + 3],
                directory=root / f"n{i + 1}",
            )
            for i in range(size)
        ]
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            others = [n.cluster_port for n in self.nodes if n is not node]
            node.config.write_text(node.config_text(others))

    @property
    def urls(self) -> list[str]:
        """Every node's MQTT URL, node 0 first."""
        return [n.url for n in self.nodes]

    def url(self, index: int) -> str:
        """Node ``index``'s MQTT URL."""
        return self.nodes[index].url

    def logs(self) -> str:
        """The tail of every node's log, for a failure report."""
        return "\n".join(
            f"--- {n.name} ({n.log}){'' if n.running else ', stopped'}\n{n.log_tail()}"
            for n in self.nodes
        )

    async def start(self) -> None:
        """Start every node; return once the cluster is formed and all serve MQTT."""
        for i in range(len(self.nodes)):
            await self._spawn(i)
        await asyncio.gather(*(self._wait_ready(i) for i in range(len(self.nodes))))

    async def stop_node(self, index: int) -> None:
        """SIGTERM node ``index`` and wait for it to exit (SIGKILL if it hangs)."""
        node = self.nodes[index]
        proc = node.process
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def start_node(self, index: int) -> None:
        """Start node ``index`` again (same config and store) and wait until it has
        rejoined the running nodes and serves MQTT."""
        await self._spawn(index)
        await self._wait_ready(index)

    async def aclose(self) -> None:
        """Stop every node still running."""
        await asyncio.gather(*(self.stop_node(i) for i in range(len(self.nodes))))

    def stream_leader(self, stream: str) -> int | None:
        """The index of the node leading a JetStream stream (e.g. ``$MQTT_msgs``)."""
        for node in self.nodes:
            if not node.running:
                continue
            info = self._http(node, "/jsz?acc=$G&streams=true")
            for account in (info or {}).get("account_details", []):
                for s in account.get("stream_detail") or []:
                    if s.get("name") == stream:
                        leader = (s.get("cluster") or {}).get("leader")
                        names = [n.name for n in self.nodes]
                        return names.index(leader) if leader in names else None
        return None

    # -- internals ---------------------------------------------------------------------

    async def _spawn(self, index: int) -> None:
        node = self.nodes[index]
        if node.running:
            raise ClusterError(f"node {node.name} is already running")
        with node.log.open("ab") as log:
            node.process = await asyncio.create_subprocess_exec(
                self.binary,
                "-c",
                str(node.config),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )

    @staticmethod
    def _http(node: ClusterNode, path: str) -> Any:
        url = f"http://127.0.0.1:{node.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def _formed(self, node: ClusterNode) -> bool:
        """Routed to every other running node, a JetStream meta leader known, healthy."""
        peers = sum(1 for n in self.nodes if n.running and n is not node)
        routes = self._http(node, "/routez")
        jsz = self._http(node, "/jsz")
        health = self._http(node, "/healthz")
        if not routes or not jsz or not health:
            return False
        routed = {r.get("remote_name") or r.get("remote_id") for r in routes.get("routes", [])}
        meta = jsz.get("meta_cluster") or {}
        return len(routed) >= peers and bool(meta.get("leader")) and health.get("status") == "ok"

    async def _mqtt_accepts(self, node: ClusterNode) -> bool:
        """One MQTT CONNECT answered with success (creates the MQTT streams at first)."""
        try:
            async with aiomqtt.Client(
                "127.0.0.1",
                node.mqtt_port,
                identifier=f"cluster-probe-{node.name}",
                clean_session=True,
                timeout=10,
            ):
                return True
        except aiomqtt.MqttError:
            return False

    async def _wait_ready(self, index: int) -> None:
        node = self.nodes[index]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        stage = "cluster formed"
        while loop.time() < deadline:
            if not node.running:
                raise ClusterError(
                    f"nats-server {node.name} exited with code "
                    f"{node.process.returncode if node.process else '?'}\n{self.logs()}"
                )
            if stage == "cluster formed" and await asyncio.to_thread(self._formed, node):
                stage = "MQTT accepting"
            if stage == "MQTT accepting" and await self._mqtt_accepts(node):
                return
            await asyncio.sleep(0.2)
        raise ClusterError(
            f"nats-server {node.name} not ready ({stage}) within {READY_TIMEOUT:g} s\n{self.logs()}"
        )


@asynccontextmanager
async def nats_cluster(root: Path | None = None, *, size: int = 3) -> AsyncIterator[NatsCluster]:
    """A started cluster (skips the test without ``nats-server``), stopped on exit.

    Without ``root``, the nodes live in a temporary directory removed on success and
    kept (its path in the report) on failure, with every node's log tail on stderr.
    """
    binary = require_nats_server()
    own = root is None
    base = Path(tempfile.mkdtemp(prefix="gbcs-nats-")) if root is None else root
    cluster = NatsCluster(base, size=size, binary=binary)
    failed = True
    try:
        await cluster.start()
        yield cluster
        failed = False
    finally:
        with contextlib.suppress(Exception):
            await cluster.aclose()
        if failed:
            sys.stderr.write(f"NATS cluster in {base}:\n{cluster.logs()}\n")
        elif own:
            shutil.rmtree(base, ignore_errors=True)
