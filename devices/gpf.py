"""The emulated GPF (gas proxy function): answers gas reads at once from its mirror.

The GPF runs in the Comms Hub, is mains powered and always awake. It keeps a mirror of
the GSME's data (consumption, registers, tariffs, snapshots, logs), refreshed by
:meth:`Gpf.mirror` whenever the GSME has talked to its Comms Hub (the site calls it after
every tunnel exchange), so reads targeted at the GPF never wait for the sleepy GSME.
Use cases only the GPF runs (GCS09 change of tenancy, GCS59/GCS62 device log) act on its
own state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gbcs.usecases import DeviceType
from gbcs.zcl import utc_from_datetime

from .device import AlertSpec
from .zcl_model import METERING, ZclModel, record_series_sample
from .zigbee_device import ZigbeeDevice

__all__ = ["Gpf"]


class Gpf(ZigbeeDevice):
    """The gas proxy function of a site."""

    device_type = DeviceType.GPF
    zcl_profile = "gpf_zcl"

    def __init__(self, *args: Any, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, now=now, **kwargs)
        self._day_start: datetime | None = None
        self._day_reading = 0
        if now is not None:
            self._day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def mirror(self, gsme_model: ZclModel) -> None:
        """Refresh the mirror from the GSME's model."""
        self.model.mirror_from(gsme_model)

    def on_advance(self, now: datetime) -> list[AlertSpec]:
        """At each UTC midnight: the daily consumption log (GCS61) and a daily snapshot."""
        alerts = super().on_advance(now)
        t = self.device_time(now)
        if t is None:
            # IRP571: the days passed without a clock are not filled in later with
            # readings taken after them; the count starts again once the clock is back.
            self._day_start = None
            return alerts
        midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
        reading = self.model.get_int(METERING, 0x0000)
        if self._day_start is None or reading < self._day_reading:
            # A mirrored register below the day's first reading means the GSME was reset
            # (the control API's factory_reset) or replaced: what it used since is not
            # known, so nothing is made up for the days begun; the count starts again.
            self._day_start, self._day_reading = midnight, reading
            return alerts
        while self._day_start < midnight:
            self._day_start += timedelta(days=1)
            stamp = utc_from_datetime(self._day_start)
            record_series_sample(self.model, 1, min(reading - self._day_reading, 0xFFFFFF), stamp)
            self.model.take_snapshot(stamp, 1)
            self._day_reading = reading
        return alerts

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["gpf"] = {
            "day_start": None if self._day_start is None else self._day_start.isoformat(),
            "day_reading": self._day_reading,
        }
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        g = state.get("gpf", {})
        ds = g.get("day_start")
        self._day_start = None if ds is None else datetime.fromisoformat(ds)
        self._day_reading = int(g.get("day_reading", 0))
