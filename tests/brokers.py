"""Real MQTT brokers for tests, each started on a free port on 127.0.0.1.

Which broker: ``GBCS_TEST_BROKER=mosquitto|amqtt`` forces one (the test fails if it
cannot start); otherwise mosquitto when installed, else amqtt. Tests that need
mosquitto's persistence use :func:`mosquitto_broker`, which skips without mosquitto
unless ``GBCS_REQUIRE_MOSQUITTO=1`` (then it fails).

Use from another test module (import nothing else from here before pytest registers
it, or pytest cannot rewrite its asserts)::

    pytest_plugins = ("tests.brokers",)  # registers the fixtures below

    @pytest.mark.asyncio
    async def test_x(broker: ChildBroker) -> None:
        bus = MqttBus(broker.url)

or, without fixtures, ``async with running_broker() as b: ...``.
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from emulator.transport.base import Bus, BusError, BusMessage
from emulator.transport.broker import (
    ChildBroker,
    EmbeddedBroker,
    MosquittoBroker,
    best_available_broker,
    find_mosquitto,
)

__all__ = [
    "amqtt_broker",
    "broker",
    "broker_kind",
    "mosquitto_broker",
    "mosquitto_required",
    "publish_from_outbox",
    "require_mosquitto",
    "running_broker",
]

KINDS = ("mosquitto", "amqtt")


def broker_kind() -> str:
    """The broker kind tests use: ``GBCS_TEST_BROKER`` or the best installed."""
    forced = os.environ.get("GBCS_TEST_BROKER", "").strip().lower()
    if forced:
        if forced not in KINDS:
            raise ValueError(f"GBCS_TEST_BROKER={forced!r}: use one of {', '.join(KINDS)}")
        return forced
    return "mosquitto" if find_mosquitto() else "amqtt"


def require_mosquitto() -> None:
    """Skip (or fail under ``GBCS_REQUIRE_MOSQUITTO=1``) when mosquitto is missing."""
    if find_mosquitto() is None:
        if os.environ.get("GBCS_REQUIRE_MOSQUITTO") == "1":
            pytest.fail("mosquitto is required (GBCS_REQUIRE_MOSQUITTO=1) but not installed")
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")


@asynccontextmanager
async def running_broker(
    kind: str | None = None, *, persistence: bool = False
) -> AsyncIterator[ChildBroker]:
    """A started broker (``kind`` or :func:`broker_kind`), stopped and cleaned up on exit."""
    b = best_available_broker(kind or broker_kind(), persistence=persistence)
    try:
        await b.start()
        yield b
    finally:
        await b.aclose()


def pytest_report_header() -> str:
    """Which broker the MQTT tests use (in the header when conftest.py lists this module)."""
    kind = broker_kind()
    where = find_mosquitto() if kind == "mosquitto" else "python -m emulator.transport.broker"
    return f"MQTT test broker: {kind} ({where})"


@pytest.fixture
def mosquitto_required() -> None:
    """Skip (or fail under ``GBCS_REQUIRE_MOSQUITTO=1``) without mosquitto."""
    require_mosquitto()


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[ChildBroker]:
    """A started broker of :func:`broker_kind` (its ``kind`` attribute says which)."""
    async with running_broker() as b:
        yield b


@pytest_asyncio.fixture
async def mosquitto_broker() -> AsyncIterator[MosquittoBroker]:
    """A started mosquitto with persistence (sessions survive restarts)."""
    require_mosquitto()
    b = MosquittoBroker(persistence=True)
    try:
        await b.start()
        yield b
    finally:
        await b.aclose()


@pytest_asyncio.fixture
async def amqtt_broker() -> AsyncIterator[EmbeddedBroker]:
    """A started embedded amqtt broker (child process)."""
    b = EmbeddedBroker()
    try:
        await b.start()
        yield b
    finally:
        await b.aclose()


async def publish_from_outbox(
    bus: Bus,
    messages: Iterable[BusMessage],
    *,
    at: int,
    then: Callable[[], Awaitable[None]],
    guard: float,
) -> tuple[int, asyncio.Task[None] | None]:
    """Publish ``messages`` in order as a sender with an outbox does: one whose publish
    fails (``BusError``) is published again once the bus is connected, until the broker
    acknowledges it. When ``at`` have been acknowledged, ``then()`` starts as a task (the
    fault the test injects). Returns the retries and that task (None if never started)."""
    outbox = collections.deque(messages)
    acked = retries = 0
    started: asyncio.Task[None] | None = None
    while outbox:
        try:
            await bus.publish(outbox[0])
        except BusError:
            retries += 1
            await bus.wait_connected(guard)
            continue
        outbox.popleft()
        acked += 1
        if acked == at:
            started = asyncio.ensure_future(then())
    return retries, started
