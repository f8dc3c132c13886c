"""Clocks the runtime runs on: real, accelerated (×N) or virtual (moved by the caller).

Every time-driven device behaviour follows the clock because the runtime passes
``clock.now()`` into every ``receive``/``advance`` call and sleeps with
``clock.sleep_until``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "RealClock", "ScaledClock", "VirtualClock", "parse_clock"]


class Clock:
    """Base: ``now()`` and ``sleep_until()``."""

    def now(self) -> datetime:
        raise NotImplementedError

    async def sleep_until(self, t: datetime) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


class RealClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, t: datetime) -> None:
        delay = (t - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    def describe(self) -> str:
        return "real"


class ScaledClock(Clock):
    """Emulated time runs ``factor`` times faster than real time from ``start``."""

    def __init__(self, factor: float, start: datetime | None = None) -> None:
        if factor <= 0:
            raise ValueError("clock factor must be positive")
        self.factor = factor
        self.start = start or datetime.now(UTC)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.factor)

    async def sleep_until(self, t: datetime) -> None:
        delay = (t - self.now()).total_seconds() / self.factor
        if delay > 0:
            await asyncio.sleep(delay)

    def describe(self) -> str:
        return f"x{self.factor:g}"


class VirtualClock(Clock):
    """Time moves only when the caller says so; sleepers wake as it passes them."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._changed = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def set(self, t: datetime) -> None:
        if t < self._now:
            raise ValueError("a virtual clock does not go backwards")
        self._now = t
        self._changed.set()
        self._changed = asyncio.Event()

    def advance(self, delta: timedelta) -> datetime:
        self.set(self._now + delta)
        return self._now

    async def sleep_until(self, t: datetime) -> None:
        while self._now < t:
            await self._changed.wait()

    def describe(self) -> str:
        return "virtual"


def parse_clock(text: str, start: datetime | None = None) -> Clock:
    """``real``, ``xN`` (accelerated N times) or ``virtual``."""
    t = text.strip().lower()
    if t == "real":
        return RealClock()
    if t == "virtual":
        return VirtualClock(start or datetime.now(UTC))
    if t.startswith("x"):
        try:
            return ScaledClock(float(t[1:]), start)
        except ValueError:
            pass
    raise ValueError(f"clock must be real, virtual or xN (e.g. x60), not {text!r}")
