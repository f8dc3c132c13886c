"""An in-process bus: every :class:`InProcessBus` on one :class:`InProcessHub` sees the
messages the others publish to topics it subscribed to. For tests and ``demo``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from .base import Bus, BusError, BusMessage, TopicFilters

__all__ = ["InProcessBus", "InProcessHub"]


class InProcessHub:
    """The shared medium of in-process buses."""

    def __init__(self) -> None:
        self.buses: list[InProcessBus] = []
        self.up = True  # tests may take the hub "down" to exercise outboxes

    def deliver(self, message: BusMessage) -> None:
        if not self.up:
            raise BusError("in-process hub is down")
        for bus in self.buses:
            if bus.patterns.matches(message.topic):
                bus.queue.put_nowait(message)


class InProcessBus(Bus):
    """One endpoint on a hub."""

    def __init__(self, hub: InProcessHub) -> None:
        self.hub = hub
        self.patterns = TopicFilters()
        self.queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self.started = False

    async def start(self) -> None:
        if not self.started:
            self.hub.buses.append(self)
            self.started = True

    async def close(self) -> None:
        if self.started:
            self.hub.buses.remove(self)
            self.started = False
            self.queue.put_nowait(None)

    async def subscribe(self, pattern: str) -> None:
        self.patterns.add(pattern)

    async def subscribe_many(self, patterns: Iterable[str]) -> None:
        for p in patterns:
            self.patterns.add(p)

    async def unsubscribe(self, pattern: str) -> None:
        self.patterns.discard(pattern)

    async def publish(self, message: BusMessage) -> None:
        if not self.started:
            raise BusError("bus not started")
        self.hub.deliver(message)

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        while True:
            m = await self.queue.get()
            if m is None:
                return
            yield m
