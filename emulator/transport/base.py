"""One bus interface for every transport (as python-can's ``Bus``).

Frames travel as :class:`BusMessage`: a GBCS frame plus its topic
``gbcs/<site>/<eui>/<channel>``, channel ``in`` (commands to a device), ``out``
(responses from it) or ``alert`` (alerts and other unsolicited frames from it). The
emulator subscribes to ``in``; a head-end publishes on ``in`` and subscribes to ``out``
and ``alert``. The control API (see ``docs/control.md``) uses ``control`` (JSON
requests to the emulator, when it runs with ``--control``) and ``control/reply`` (its
JSON replies): the only topic of five levels. Implementations: :mod:`.inprocess`
(tests, ``demo``), :mod:`.mqtt` (aiomqtt to a real broker), :mod:`.tcp`
(length-prefixed frames).

Delivery: publishing returns once the transport has taken the message (MQTT QoS 1: the
broker acknowledged it). A bus that cannot deliver raises :class:`BusError`; callers keep
what must not be lost in their outbox until publishing succeeds.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Bus", "BusError", "BusMessage", "Channel", "TopicFilters", "topic_matches"]

TOPIC_ROOT = "gbcs"


class Channel(StrEnum):
    IN = "in"
    OUT = "out"
    ALERT = "alert"
    CONTROL = "control"  # control API requests (JSON objects), emulator-bound
    CONTROL_REPLY = "control/reply"  # their replies: gbcs/<site>/<eui>/control/reply


class BusError(Exception):
    """The transport could not take or deliver a message (broker down, socket closed)."""


@dataclass(frozen=True, slots=True)
class BusMessage:
    """A frame and where it goes: ``gbcs/<site>/<eui hex>/<channel>``."""

    site: str
    eui: str  # 16 upper-case hex digits
    channel: Channel
    frame: bytes

    @property
    def topic(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.eui}/{self.channel.value}"

    @classmethod
    def from_topic(cls, topic: str, frame: bytes) -> BusMessage:
        """Parse a topic; raises :class:`ValueError` for one outside the scheme.

        Four levels (``gbcs/<site>/<eui>/<in|out|alert|control>``), or five for
        exactly ``gbcs/<site>/<eui>/control/reply``.
        """
        parts = topic.split("/")
        if (
            len(parts) not in (4, 5)
            or parts[0] != TOPIC_ROOT
            or (len(parts) == 5 and parts[3:] != ["control", "reply"])
        ):
            raise ValueError(
                f"topic {topic!r} is not gbcs/<site>/<eui>/<channel> or "
                "gbcs/<site>/<eui>/control/reply"
            )
        eui = parts[2].upper()
        if len(eui) != 16 or any(c not in "0123456789ABCDEF" for c in eui):
            raise ValueError(f"topic {topic!r}: {parts[2]!r} is not an EUI-64")
        name = "/".join(parts[3:])
        try:
            channel = Channel(name)
        except ValueError:
            allowed = ", ".join(c.value for c in Channel)
            raise ValueError(f"topic {topic!r}: channel {name!r} is not one of {allowed}") from None
        return cls(parts[1], eui, channel, frame)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT-style match (``+`` one level, ``#`` the rest)."""
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


class TopicFilters:
    """A set of MQTT topic filters matched in time proportional to the topic's depth,
    not to the number of filters (a worker of a large fleet holds one per site).

    Iterating yields the filters in the order they were added.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._order: dict[str, None] = {}
        self._root: dict[str, Any] = {}  # level -> node; "" marks a filter's end
        for p in patterns:
            self.add(p)

    def add(self, pattern: str) -> bool:
        """Add ``pattern``; False if it was there already."""
        if pattern in self._order:
            return False
        self._order[pattern] = None
        node = self._root
        for level in pattern.split("/"):
            node = node.setdefault(level, {})
        node[""] = True
        return True

    def discard(self, pattern: str) -> bool:
        """Remove ``pattern``; False if it was not there."""
        if pattern not in self._order:
            return False
        del self._order[pattern]
        path = [self._root]
        levels = pattern.split("/")
        for level in levels:
            path.append(path[-1][level])
        del path[-1][""]
        for level, parent, node in zip(
            reversed(levels), reversed(path[:-1]), reversed(path[1:]), strict=True
        ):
            if node:
                break
            del parent[level]
        return True

    def matches(self, topic: str) -> bool:
        """True when some filter matches ``topic`` (``+`` one level, ``#`` the rest)."""
        levels = topic.split("/")
        nodes = [self._root]
        for level in levels:
            following = []
            for node in nodes:
                if "#" in node:
                    return True
                for key in (level, "+"):
                    child = node.get(key)
                    if child is not None:
                        following.append(child)
            if not following:
                return False
            nodes = following
        return any("" in n or "" in n.get("#", {}) for n in nodes)

    def __contains__(self, pattern: object) -> bool:
        return pattern in self._order

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)


class Bus(abc.ABC):
    """A connection to the transport."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect; pending subscriptions end."""

    @abc.abstractmethod
    async def subscribe(self, pattern: str) -> None:
        """Receive messages whose topic matches ``pattern`` (MQTT wildcards)."""

    async def subscribe_many(self, patterns: Iterable[str]) -> None:
        """Subscribe to every filter of ``patterns`` (transports that can batch them into
        few requests override this; the default subscribes one at a time)."""
        for p in patterns:
            await self.subscribe(p)

    async def unsubscribe(self, pattern: str) -> None:
        """Stop receiving messages for ``pattern`` (a filter never subscribed is no
        error: a persistent session may hold one from an earlier run)."""
        raise NotImplementedError(f"{type(self).__name__} cannot unsubscribe")

    @abc.abstractmethod
    async def publish(self, message: BusMessage) -> None:
        """Hand a message to the transport (at-least-once); raises :class:`BusError`."""

    @abc.abstractmethod
    def messages(self) -> AsyncIterator[BusMessage]:
        """Messages received on the subscriptions, in arrival order."""

    async def __aenter__(self) -> Bus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
