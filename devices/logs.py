"""Bounded device logs (event, security, power event): code, timestamp, detail."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["DeviceLog", "LogEntry"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry. ``at`` is None when the device clock was invalid (IRP571)."""

    code: int
    at: datetime | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "at": None if self.at is None else self.at.isoformat(),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEntry:
        at = d.get("at")
        return cls(int(d["code"]), None if at is None else datetime.fromisoformat(at), d["detail"])


class DeviceLog:
    """A ring buffer of entries, oldest first; the oldest is overwritten when full."""

    def __init__(self, capacity: int = 100) -> None:
        if capacity <= 0:
            raise ValueError("log capacity must be positive")
        self.capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)

    def add(self, code: int, at: datetime | None, detail: str = "") -> LogEntry:
        """Append an entry (the caller passes the device clock reading, maybe None)."""
        e = LogEntry(code, at, detail)
        self._entries.append(e)
        return e

    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    def codes(self) -> list[int]:
        return [e.code for e in self._entries]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "entries": [e.to_dict() for e in self._entries]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceLog:
        log = cls(int(d.get("capacity", 100)))
        for e in d.get("entries", []):
            log._entries.append(LogEntry.from_dict(e))
        return log
