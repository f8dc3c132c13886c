"""A harness around the open DCC Boxed client packages, run as an external program.

The packages (SmartDCCInnovation, npm, GPL-3.0-or-later) are those the DCC Boxed Node-RED
client is built from: ``@smartdcc/duis-templates`` (RTDS request templates),
``@smartdcc/duis-parser`` (DUIS XML <-> JSON), ``@smartdcc/duis-sign-wrap`` (the DCC Boxed
signing tool, a jar: needs Java 11+) and ``@smartdcc/dccboxed-keystore`` (the SMKI client).
``scripts/install-open-client.sh`` installs pinned, integrity-checked copies into a cache
directory outside the repository (``$GBCS_TOOLS_DIR`` or ``~/.cache/gbcs-emulator``);
nothing of them is shipped. They run unchanged: ``tests/openclient/client.mjs`` only calls
their public APIs, in the order the Node-RED nodes do (see its header).

:class:`OpenClient` is one running driver: it serves the user's callback from the start
(:attr:`OpenClient.callback`), sends templates, looks certificates up over SMKI, and hands
back every event as parsed JSON.

Opt-in: the tests using it skip unless ``-m duis_open_client`` selects them or
``GBCS_DUIS_OPEN_CLIENT=1`` is set; only the latter lets the harness install the packages
with npm (network). With ``GBCS_REQUIRE_DUIS_OPEN_CLIENT=1`` (CI after installing them)
missing packages fail the tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.optin import OptIn, Unavailable, run_install_script

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SCRIPT = ROOT / "scripts" / "install-open-client.sh"
DRIVER = Path(__file__).resolve().parent / "openclient" / "client.mjs"

MARKER = "duis_open_client"
ENV_OPT_IN = "GBCS_DUIS_OPEN_CLIENT"
ENV_REQUIRE = "GBCS_REQUIRE_DUIS_OPEN_CLIENT"

#: Seconds one driver command may take (a send runs the signing tool and its validator,
#: two JVM starts of about a second each, plus the HTTP round trip).
TIMEOUT = 60.0
#: Seconds the install script may take (its npm install has a 300 s limit of its own).
INSTALL_TIMEOUT = 330.0


class ClientUnavailable(Unavailable):
    """The open client cannot be used here; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Installed:
    """Where the packages are, and the Node.js that runs the driver."""

    node: str
    directory: Path


@dataclass
class OpenClient:
    """One running driver process (``tests/openclient/client.mjs``)."""

    proc: asyncio.subprocess.Process
    callback: str
    #: Every event the driver wrote, in order (``callback`` events included).
    events: list[dict[str, Any]] = field(default_factory=list)
    _taken: set[int] = field(default_factory=set)

    @classmethod
    async def start(cls, installed: Installed) -> OpenClient:
        """Start the driver and wait until its callback listens."""
        proc = await asyncio.create_subprocess_exec(
            installed.node,
            str(DRIVER),
            str(installed.directory),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Inherited: pytest captures it and shows it with a failure.
        )
        client = cls(proc, callback="")
        first = await client.next_event(lambda e: e["event"] == "listening")
        client.callback = str(first["callback"])
        return client

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            code = await self.proc.wait()
            raise AssertionError(f"the open client driver ended (exit {code}); see its stderr")
        event = json.loads(line)
        assert isinstance(event, dict), line
        self.events.append(event)
        return event

    async def next_event(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first event not yet returned for which ``wanted(event)`` holds (reading
        more as needed; events it passes over stay for later calls, since a callback may
        arrive before the reply to the send that caused it). An ``error`` event of a
        command fails the test."""
        async with asyncio.timeout(timeout):
            while True:
                for i, event in enumerate(self.events):
                    if i in self._taken:
                        continue
                    if event["event"] == "error":
                        details = json.dumps(event.get("details"))[:2000]
                        pytest.fail(f"open client {event.get('op')}: {event['error']} {details}")
                    if wanted(event):
                        self._taken.add(i)
                        return event
                await self._read()

    async def command(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one driver command and return its result event."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        reply = "sync" if op == "send" else op
        return await self.next_event(lambda e: e["event"] in (reply, "error"))

    async def received(self, timeout: float) -> dict[str, Any]:
        """The next document the client received on its callback (a ``callback`` event:
        the HTTP status it answered, and the parsed DUIS or the reason it refused it)."""
        return await self.next_event(lambda e: e["event"] == "callback", timeout)

    async def close(self) -> None:
        """Ask the driver to quit; kill it if it does not within a few seconds."""
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op":"quit"}\n')
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


OPT_IN = OptIn(
    MARKER,
    ENV_OPT_IN,
    ENV_REQUIRE,
    "runs the open DCC Boxed client packages "
    "@smartdcc/duis-templates, duis-parser, duis-sign-wrap and dccboxed-keystore; needs "
    "Node.js 18+, Java 11+ and npm",
)


def locate(*, allow_install: bool) -> Installed:
    """Find (or, with ``allow_install``, install) the packages through the install script.

    Raises :class:`~tests.optin.Unavailable` with the reason when they cannot be used.
    """
    directory = Path(
        run_install_script(INSTALL_SCRIPT, allow_install=allow_install, timeout=INSTALL_TIMEOUT)
    )
    node = os.environ.get("NODE") or shutil.which("node")
    if node is None or not (directory / "node_modules").is_dir():
        raise ClientUnavailable(f"no node, or no node_modules in {directory}")
    return Installed(node=node, directory=directory)


def require_client(config: pytest.Config) -> Installed:
    """The installed packages; skips unless opted in, and skips (or fails when required)
    without them."""
    return OPT_IN.require(config, locate, "open DCC Boxed client")
