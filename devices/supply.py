"""Mains supply and the outage rules shared by the ESME and the CHF (domain-rules §4.3, §6).

* The ESME logs every supply interruption (0x8F57, Power Event Log, no WAN alert) and,
  on restoration, raises ECS80 (message code 0x0067) to the Network Operator: 0x8F35
  when the outage lasted less than 3 minutes, 0x8F36 when it lasted 3 minutes or more
  ("Outage >= 3 minutes"), with the interruption and restoration times.
* The CHF raises its power-outage alert (AD1, a DCC/CSP alert, not a GBCS code) only
  after *more than* 180 s without power, delivered after a configurable latency (SEC
  target: within 60 s; MP096 measured 4–12 minutes at DCC). Exactly 180 s gives an
  ESME 0x8F36 but no AD1 (domain-rules behaviour 45).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["OUTAGE_THRESHOLD", "Outage", "PowerState"]

OUTAGE_THRESHOLD = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class Outage:
    """A finished supply interruption."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def long(self) -> bool:
        """At least three minutes (the ESME's 0x8F36 rule)."""
        return self.duration >= OUTAGE_THRESHOLD


@dataclass(slots=True)
class PowerState:
    """Whether the device has mains power, and since when it has not."""

    off_since: datetime | None = None

    @property
    def powered(self) -> bool:
        return self.off_since is None

    def lose(self, now: datetime) -> bool:
        """Power goes off; False if it already was."""
        if self.off_since is not None:
            return False
        self.off_since = now
        return True

    def restore(self, now: datetime) -> Outage | None:
        """Power comes back; the outage that ended, or None if it was on."""
        if self.off_since is None:
            return None
        out = Outage(self.off_since, max(now, self.off_since))
        self.off_since = None
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"off_since": None if self.off_since is None else self.off_since.isoformat()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PowerState:
        v = d.get("off_since")
        return cls(None if v is None else datetime.fromisoformat(v))
