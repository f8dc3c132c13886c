"""A device clock over the caller's time: an offset plus a validity status.

The runtime passes ``now`` (real or virtual UTC time) into every call; the device's own
clock is ``now + offset``. A clock can be *invalid* (never set, or lost after a long
outage): then :meth:`DeviceClock.read` returns ``None`` and logs record no timestamp
rather than a made-up one (IRP571, domain-rules §4.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

__all__ = ["ClockStatus", "DeviceClock"]


class ClockStatus(IntEnum):
    """GBCS device time status (GCS28 response values)."""

    RELIABLE = 0
    INVALID = 1
    UNRELIABLE = 2


@dataclass(slots=True)
class DeviceClock:
    """Offset (seconds) from the caller's time and the clock's status."""

    offset: float = 0.0
    status: ClockStatus = ClockStatus.RELIABLE

    def read(self, now: datetime) -> datetime | None:
        """The device's idea of the time, or None while the clock is invalid."""
        if self.status is ClockStatus.INVALID:
            return None
        if now.tzinfo is UTC:
            # the common case: skips the conversion, and the addition when not offset
            return now + timedelta(seconds=self.offset) if self.offset else now
        return _utc(now) + timedelta(seconds=self.offset)

    def set(self, now: datetime, device_time: datetime) -> float:
        """Set the clock to ``device_time``; returns the adjustment in seconds."""
        before = self.offset
        self.offset = (_utc(device_time) - _utc(now)).total_seconds()
        self.status = ClockStatus.RELIABLE
        return self.offset - before

    def invalidate(self) -> None:
        """Mark the clock invalid (e.g. after losing power with no backup)."""
        self.status = ClockStatus.INVALID

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "status": int(self.status)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceClock:
        return cls(float(d.get("offset", 0.0)), ClockStatus(int(d.get("status", 0))))


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
