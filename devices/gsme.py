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

from datetime import datetime, timedelta
from typing import Any

from gbcs.tunnel import TunnelCommand, TunnelMessage, decode_tunnel
from gbcs.usecases import DeviceType
from gbcs.zcl import utc_from_datetime
from keys.certs import as_eui, eui_hex

from .behaviours.display import GasDisplayConfig
from .behaviours.load import LoadModel, profile_from_option
from .device import AlertSpec, DeviceConfig
from .dlms_device import EPOCH_2000
from .firmware_state import FIRMWARE_VERSION_SIZE, FirmwareState
from .outbound import Outbound, OutboundKind, PeerKind
from .trust import OwnKeys, TrustAnchors
from .zcl_model import CURRENT_METER_ID, METERING
from .zigbee_device import ZigbeeDevice

__all__ = ["Gsme"]

CONSUMPTION = 0x0000
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
        for p in periods:
            end = p.start + timedelta(minutes=30)
            self.model.record_sample(0, min(p.import_wh, 0xFFFFFF), utc_from_datetime(end))
            # the network data log (GCS31/GCS18): flow is even within a half hour
            self.model.record_network_samples(utc_from_datetime(end), p.import_wh / 1800)
            if end.hour == 0 and end.minute == 0:
                self.model.take_snapshot(utc_from_datetime(end), 1)
        return alerts

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
