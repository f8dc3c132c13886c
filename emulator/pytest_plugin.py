"""pytest fixtures for bench tests against emulated sites (entry point ``pytest11``).

Installed with the package, so a test bench needs no set-up code::

    async def test_disconnect(gbcs_site):
        await gbcs_site.request("ESME", "ECS43")
        reply = await gbcs_site.request("ESME", "ECS45")
        assert reply.values["supply_state"] == "disconnected"

Fixtures:

* ``gbcs_clock``: a :class:`~emulator.runtime.clock.VirtualClock` at 2026-01-01 00:00Z;
* ``gbcs_site``: one default site served by the runtime on an in-process bus, in a
  temporary state directory, with a :class:`~emulator.headend.client.HeadEnd` holding
  every organisation's keys (``gbcs_site.request(kind, use_case, **args)``,
  ``gbcs_site.advance(timedelta)``, ``gbcs_site.devices``);
* ``gbcs_headend``: that head-end.

``gbcs_site`` and ``gbcs_headend`` are async fixtures: they need pytest-asyncio, which
the ``pytest`` extra installs (``pip install 'gbcs-emulator[pytest]'``). Without it the
plugin still loads, ``gbcs_clock`` works, and a test that asks for ``gbcs_site`` fails with
a message saying so; other test suites in the same environment are not affected. Imports
are deferred so that installing the package costs other test suites nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:
    pytest_asyncio = None  # type: ignore[assignment]

MISSING_PYTEST_ASYNCIO = (
    "the gbcs_site and gbcs_headend fixtures need pytest-asyncio:"
    " pip install 'gbcs-emulator[pytest]'"
)

START = datetime(2026, 1, 1, tzinfo=UTC)


class BenchSite:
    """A running emulated site plus a head-end, for tests."""

    def __init__(self, state: Path, clock: Any, broker_url: str | None = None) -> None:
        from emulator.runtime.config import load_config

        self.state = state
        self.clock = clock
        self.broker_url = broker_url  # None: the in-process bus
        self.config = load_config(None)
        self.euis = {k: v for k, v in self.config.site.euis.items()}
        self.emulator: Any = None
        self.headend: Any = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from emulator.headend.client import HeadEnd
        from emulator.headend.identity import MemoryCounterStore, parties_from_store
        from emulator.runtime.pki import add_device_public_keys, ensure_pki
        from emulator.runtime.server import Emulator
        from emulator.transport.inprocess import InProcessBus, InProcessHub
        from keys.store import KeyStore

        pki = ensure_pki(self.state)
        if self.broker_url is None:
            hub = InProcessHub()
            bus_a: Any = InProcessBus(hub)
            bus_b: Any = InProcessBus(hub)
        else:
            from emulator.transport.mqtt import MqttBus

            bus_a, bus_b = MqttBus(self.broker_url), MqttBus(self.broker_url)
        self.emulator = Emulator(self.config, bus_a, self.clock, KeyStore(pki), self.state)
        self._task = asyncio.create_task(self.emulator.run(self._stop))
        await asyncio.wait_for(self.emulator.ready.wait(), 30)
        keys = KeyStore(pki)
        add_device_public_keys(keys, self.config, range(1), self.state)
        self.headend = HeadEnd(
            bus_b,
            keys,
            parties=parties_from_store(keys),
            counters=MemoryCounterStore(first=1000),
            clock=self.clock.now,
        )
        await self.headend.start()

    async def stop(self) -> None:
        if self.headend is not None:
            await self.headend.close()
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    @property
    def devices(self) -> Any:
        """The hydrated :class:`devices.site.Site` (device state, displays, logs)."""
        return self.emulator.site(0)

    async def request(self, kind: str, use_case: str, **args: Any) -> Any:
        """Send ``use_case`` to the site's ``kind`` device (ESME, GSME, GPF, CHF).

        A GSME answers at its next wake-up: the virtual clock is moved past it.
        """
        call = self.headend.request(
            self.config.site.site_id, self.euis[kind], use_case, target_type=kind, **args
        )
        if kind != "GSME":
            return await call
        task = asyncio.ensure_future(call)
        await asyncio.sleep(0.05)
        gsme = self.devices.gsme
        self.clock.set(max(self.clock.now(), gsme.next_wake) + timedelta(seconds=1))
        return await task

    def advance(self, delta: timedelta) -> datetime:
        """Move the virtual clock (time-driven behaviour follows)."""
        return self.clock.advance(delta)


@pytest.fixture
def gbcs_clock() -> Any:
    """A virtual clock at 2026-01-01 00:00 UTC."""
    from emulator.runtime.clock import VirtualClock

    return VirtualClock(START)


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def gbcs_site(tmp_path: Path, gbcs_clock: Any) -> AsyncIterator[BenchSite]:
        """One default site served in-process, with a head-end (see the module docstring)."""
        site = BenchSite(tmp_path / "gbcs-state", gbcs_clock)
        await site.start()
        try:
            yield site
        finally:
            await site.stop()

    @pytest_asyncio.fixture
    async def gbcs_headend(gbcs_site: BenchSite) -> AsyncIterator[Any]:
        """The head-end of ``gbcs_site``."""
        yield gbcs_site.headend

else:

    @pytest.fixture
    def gbcs_site() -> BenchSite:
        """Unavailable without pytest-asyncio: fails the test, saying what to install."""
        pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)

    @pytest.fixture
    def gbcs_headend() -> Any:
        """Unavailable without pytest-asyncio: fails the test, saying what to install."""
        pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)
