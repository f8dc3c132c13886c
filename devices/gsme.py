"""The emulated GSME (gas meter): battery powered, asleep between wake-ups.

* Commands for the GSME are queued at the CHF; the GSME fetches them when it wakes
  (every ``wake_interval_seconds``, default 1800 s — the interval is not in the sources,
  domain-rules §7.9) with a tunnel GET, answers through tunnel PUTs, and asks again while
  the CHF says more messages remain. :meth:`Gsme.receive` still takes a frame directly
  (the conformance harness and tests do), the tunnel is :meth:`Gsme.receive_tunnel`.
* Gas flow comes from a load model in litres per hour; the consumption register
  (Metering CurrentSummationDelivered, divisor 1000 = m³ with 3 decimals) is the
  cumulative litres, the TOU register tier 1 and block counter 1 follow it, a profile
  sample is recorded every half hour and a daily snapshot at midnight UTC.
* Billing Data Log: as the Billing Calendar (GCS25/GCS25a, the Publish Billing Period
  record) passes each billing-period boundary, the GSME takes a Metering and a Prepayment
  snapshot with cause 0x02 (End of Billing Period) stamped with the boundary (which
  instants are boundaries: :func:`devices.zcl_model.billing_period_boundaries`). The
  registers are those of the advance that passes it. A boundary passed while the clock
  is invalid is never taken (IRP571).
* Top-ups: UTRN authentication and value encoding are not modelled; a well-formed UTRN is
  worth the ``top_up_value`` option (default 0), and payment-based debt recovery
  (:mod:`devices.gbz_engine`) takes its share of it.
* The display (:attr:`Gsme.display`) renders every register under SECMP0006
  (``XXXXX.XXX``), or with the configured digits for a Large Gas Meter, whose
  configuration must satisfy the MID rule (checked at construction).
* Firmware: the running version is the device's firmware state (CS06 activates a held
  image, see :mod:`devices.firmware_state`); Metering ``CurrentMeterID`` (0x0206), which
  GCS38 reads here and, through the mirror, at the GPF, is bound to it. The profile's
  value of that attribute is only the factory version.
* Everything the GSME sends on its own (future-dated outcomes, the Activate Firmware
  Alert) leaves through its Comms Hub as a tunnel PUT, like its responses: the GSME
  has no other way to the WAN, and the exchange refreshes the GPF mirror.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from gbcs.tunnel import TunnelCommand, TunnelMessage, decode_tunnel
from gbcs.usecases import DeviceType
from gbcs.zcl import utc_from_datetime
from keys.certs import as_eui, eui_hex

from .behaviours.display import GasDisplayConfig
from .behaviours.load import LoadModel, profile_from_option
from .device import AlertSpec, CommandContext, DeviceConfig
from .dlms_device import EPOCH_2000
from .firmware_state import FIRMWARE_VERSION_SIZE, FirmwareState
from .outbound import Outbound, OutboundKind, PeerKind
from .trust import OwnKeys, TrustAnchors
from .zcl_model import (
    CURRENT_METER_ID,
    METERING,
    SNAPSHOT_CAUSE_BILLING_PERIOD_END,
    billing_period_boundaries,
    record_series_sample,
)
from .zigbee_device import ZigbeeDevice

__all__ = ["Gsme"]

CONSUMPTION = 0x0000
PROFILE_SAMPLE_ID = 0  # the profile data log (GCS17), half-hourly
HALF_HOUR = timedelta(minutes=30)
MULTIPLIER = 0x0301
DIVISOR = 0x0302


class Gsme(ZigbeeDevice):
    """A gas meter."""

    device_type = DeviceType.GSME
    zcl_profile = "gsme_zcl"

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        opts = config.options
        self.display_config = GasDisplayConfig.from_dict(opts.get("display", {}))
        self.display_config.validate()
        super().__init__(config, own, anchors, now=now, **kwargs)
        start = now or EPOCH_2000
        self.wake_interval = timedelta(seconds=float(opts.get("wake_interval_seconds", 1800)))
        self.next_wake = start + self.wake_interval
        self.chf_eui: bytes | None = as_eui(opts["chf_eui"]) if "chf_eui" in opts else None
        # litres per hour (a number), or a LoadProfile mapping in litres per hour
        self.flow = LoadModel(profile_from_option(opts.get("gas_profile", 0)), start)
        self.awake = False
        #: Half hours passed while the clock was invalid since the last timed advance.
        self.untimed_gap = False
        value = int(opts.get("top_up_value", 0))
        self.top_up_decoder = lambda _code: value
        # Billing Calendar progress: the calendar (issuer event id, start, duration, type)
        # boundaries are taken from, and the device time up to which they were checked.
        self._billing_key: tuple[int, int, int, int] | None = None
        self._billing_checked: int | None = None
        self._bind_firmware()

    # ---------------------------------------------------------------- firmware

    def _bind_firmware(self) -> None:
        """Make Metering ``CurrentMeterID`` (GCS38) the running firmware version."""
        a = self.model.attribute(METERING, CURRENT_METER_ID)
        if a is None:
            return
        factory = a.value
        if isinstance(factory, bytes) and len(factory) == FIRMWARE_VERSION_SIZE:
            self.firmware = FirmwareState(factory)
        # Looked up on every read: load_state and a factory reset replace self.firmware.
        self.model.bind(
            METERING,
            CURRENT_METER_ID,
            getter=lambda: self.firmware.running_version,
            setter=self._set_running_version,
        )

    def _set_running_version(self, value: object) -> int:
        """A store into ``CurrentMeterID`` (the control API) sets the running version;
        anything but 4 octets is refused with ZCL status 0x87 (invalid value)."""
        if not isinstance(value, bytes | bytearray) or len(value) != FIRMWARE_VERSION_SIZE:
            return 0x87
        self.firmware.running_version = bytes(value)
        return 0

    # ---------------------------------------------------------------- gas flow

    def on_advance(self, now: datetime) -> list[AlertSpec]:
        alerts = super().on_advance(now)
        periods = self.flow.advance(now)
        if periods:
            self._sync_registers()
        self._billing_snapshots(self.device_time(now))
        # IRP571: samples and snapshots are stamped with the device clock. While it is
        # invalid none is taken: a sample has no time to carry and there is no midnight
        # to snapshot at. The registers still count the gas.
        if self.device_time(now) is None:
            self.untimed_gap = self.untimed_gap or bool(periods)
            return alerts
        shift = timedelta(seconds=self.clock.offset)
        for p in periods:
            end = p.start + HALF_HOUR + shift
            stamp = utc_from_datetime(end)
            record_series_sample(self.model, PROFILE_SAMPLE_ID, min(p.import_wh, 0xFFFFFF), stamp)
            if self.untimed_gap:
                self._restart_network_log(stamp - int(HALF_HOUR.total_seconds()))
            # the network data log (GCS31/GCS18): flow is even within a half hour
            self.model.record_network_samples(stamp, p.import_wh / 1800)
            if (end - HALF_HOUR).date() != end.date():  # the device's midnight
                self.model.take_snapshot(stamp, 1)
        self.untimed_gap = False
        return alerts

    def _restart_network_log(self, since: int) -> None:
        """After an untimed gap the network data log restarts at ``since`` rather than
        filling the missed intervals with flows at times the device did not know."""
        sid = self.model.config.start_sampling_id
        s = None if sid is None else self.model.samplings.get(sid)
        if s is None or s.start + max(len(s.samples), 1) * s.step >= since:
            return
        s.samples.clear()
        s.start = since

    # ---------------------------------------------------------------- billing calendar

    def _billing_calendar(self) -> tuple[int, int, int, int] | None:
        rec = self.model.records.get("billing_period")
        if rec is None:
            return None
        return (
            rec.issuer_event_id,
            rec.billing_period_start_time,
            rec.billing_period_duration,
            rec.billing_period_duration_type,
        )

    def _billing_snapshots(self, t: datetime | None) -> None:
        """Take the Billing Data Log entries of the boundaries the calendar passed since
        the last check, up to device time ``t``. Without a valid time nothing is taken
        and the boundaries passed meanwhile never are."""
        if t is None:
            self._billing_checked = None
            return
        if self._billing_key is None:  # a future-dated GCS25 may have set one
            self._billing_key = self._billing_calendar()
        if self._billing_key is None:  # no calendar: nothing to check, no state to keep
            self._billing_checked = None
            return
        stamp = utc_from_datetime(t)
        checked, self._billing_checked = self._billing_checked, stamp
        if checked is None:
            return
        _, start, duration, duration_type = self._billing_key
        limit = self.model.config.snapshot_capacity
        for b in billing_period_boundaries(start, duration, duration_type, checked, stamp, limit):
            self.model.take_snapshot(b, SNAPSHOT_CAUSE_BILLING_PERIOD_END)

    def after_gbz(self, ctx: CommandContext) -> None:
        """A new Billing Calendar: the old one's boundaries up to now are taken, the new
        one's from now on, its start included (a start of 0 means now, ZSE)."""
        super().after_gbz(ctx)
        key = self._billing_calendar()
        if key == self._billing_key:
            return
        t = ctx.device_time
        self._billing_snapshots(t)
        if t is not None and key is not None and key[1] == 0:
            rec = self.model.records["billing_period"]
            start = utc_from_datetime(t)
            self.model.records["billing_period"] = replace(rec, billing_period_start_time=start)
            key = self._billing_calendar()
        self._billing_key = key
        self._billing_checked = None
        if t is not None and key is not None:
            stamp = utc_from_datetime(t)
            _, start, duration, duration_type = key
            limit = self.model.config.snapshot_capacity
            # a boundary at this very second (a start of now) is taken at once
            for b in billing_period_boundaries(
                start, duration, duration_type, stamp - 1, stamp, limit
            ):
                self.model.take_snapshot(b, SNAPSHOT_CAUSE_BILLING_PERIOD_END)
            self._billing_checked = stamp

    def _sync_registers(self) -> None:
        litres = self.flow.import_wh
        self.model.set_int(METERING, CONSUMPTION, litres & 0xFFFFFFFFFFFF)
        self.model.set_tou_register(1, litres & 0xFFFFFFFFFFFF)
        self.model.set_block_counter(1, litres & 0xFFFFFFFFFFFF)

    @property
    def display(self) -> str:
        """What the meter's screen shows now for the consumption register."""
        m = self.model
        return self.display_config.render(
            m.get_int(METERING, CONSUMPTION), m.get_int(METERING, MULTIPLIER) or 1,
            m.get_int(METERING, DIVISOR) or 1,
        )  # fmt: skip

    def display_matrices(self) -> dict[str, tuple[str, ...]]:
        """Every element of the TOU register and block counter matrices, as displayed."""
        m = self.model
        mult = m.get_int(METERING, MULTIPLIER) or 1
        div = m.get_int(METERING, DIVISOR) or 1
        return {
            "tou": tuple(self.display_config.render(v, mult, div) for v in m.tou_registers()),
            "block": tuple(self.display_config.render(v, mult, div) for v in m.block_counters()),
        }

    # ------------------------------------------------------------------ tunnel

    def advance(self, now: datetime) -> list[Outbound]:
        out = [self._wrap(o) for o in super().advance(now)]
        if self.chf_eui is not None and now >= self.next_wake:
            while self.next_wake <= now:
                self.next_wake += self.wake_interval
            self.awake = True
            out.append(self._tunnel(TunnelMessage.get()))
        return out

    def _tunnel(self, msg: TunnelMessage) -> Outbound:
        assert self.chf_eui is not None
        return Outbound(msg.encode(), self.chf_eui, PeerKind.HAN, OutboundKind.TUNNEL, msg.command)

    def receive_tunnel(self, data: bytes, now: datetime) -> list[Outbound]:
        """A GET-RESPONSE from the CHF: run the command, PUT the answers, ask for more."""
        try:
            msg = decode_tunnel(data)
        except ValueError:
            return []
        if msg.command is not TunnelCommand.GET_RESPONSE:
            return []
        out: list[Outbound] = []
        if msg.message:
            for o in self.receive(msg.message, now):
                out.append(self._wrap(o))
        if msg.remaining > 0 and self.chf_eui is not None:
            out.append(self._tunnel(TunnelMessage.get()))
        else:
            self.awake = False
        return out

    def _wrap(self, o: Outbound) -> Outbound:
        """WAN-bound frames leave a GSME only through the CHF, as tunnel PUTs."""
        if o.peer is not PeerKind.REMOTE_PARTY or self.chf_eui is None:
            return o
        put = TunnelMessage.put(o.frame).encode()
        return Outbound(put, self.chf_eui, PeerKind.HAN, OutboundKind.TUNNEL, 0x03, o.alert_code)

    def alert_via_tunnel(self, outs: list[Outbound]) -> list[Outbound]:
        """Alerts the GSME raises itself travel as PUTs too."""
        return [self._wrap(o) for o in outs]

    # ------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["gsme"] = {
            "next_wake": self.next_wake.isoformat(),
            "flow": self.flow.to_dict(),
            "chf_eui": None if self.chf_eui is None else eui_hex(self.chf_eui),
            "untimed_gap": self.untimed_gap,
            "billing": {"key": self._billing_key, "checked": self._billing_checked},
        }
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        g = state.get("gsme", {})
        if "next_wake" in g:
            self.next_wake = datetime.fromisoformat(g["next_wake"])
        if "flow" in g:
            self.flow = LoadModel.from_dict(g["flow"])
        if g.get("chf_eui"):
            self.chf_eui = as_eui(g["chf_eui"])
        self.untimed_gap = bool(g.get("untimed_gap", False))
        b = g.get("billing") or {}
        key = b.get("key")
        self._billing_key = None if key is None else (int(key[0]), *map(int, key[1:4]))  # type: ignore[assignment]
        self._billing_checked = None if b.get("checked") is None else int(b["checked"])
