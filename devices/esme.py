"""The emulated ESME (electricity meter).

Answers its DLMS use cases from the ``esme`` COSEM profile, with live behaviour bound
on top: clock and logs (:mod:`devices.dlms_device`), supply enable/disable/arm
(ECS42/43/44/45), mains outages with the ECS80 restoration alert, the Power Event Log,
maximum demand under the Table 28d schedule (ECS18a/b, ECS37, ECS57), energy registers
from a load model, the display, and firmware activation (CS06) with the activation
profile deciding how long the Comms Hub loses power (MP102).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from gbcs.axdr import Data, DataType, TypeDescription, decode_data_bytes, encode_data
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import ActionResultCode, DataAccessResult, Obis
from gbcs.errors import GbcsDecodeError
from gbcs.usecases import DeviceType
from keys.roles import RemotePartyRole

from .behaviours.display import esme_display
from .behaviours.load import LoadModel, profile_from_option
from .behaviours.maxdemand import (
    OBIS_EXPORT,
    OBIS_IMPORT_ALL,
    OBIS_IMPORT_WINDOW,
    OBIS_SCHEDULE,
    MaxDemand,
    SwitchTime,
    default_schedule,
)
from .cosem import ProfileError
from .device import AlertSpec, DeviceConfig
from .dlms_device import EPOCH_2000, DlmsDevice
from .logs import DeviceLog
from .outbound import Outbound
from .supply import Outage, PowerState
from .trust import OwnKeys, TrustAnchors

__all__ = ["ControlState", "Esme", "FirmwareProfile"]

DISCONNECT_CONTROL = "0-0:96.3.10.255"
SUPPLY_SCRIPTS = "0-0:10.0.106.255"
POWER_EVENT_LOG = "0-0:99.98.4.255"
ALCS_EVENT_LOG = "0-17:99.98.2.255"
# When an auxiliary controller's commanded state ends: ECS47 (Activate / Deactivate for a
# period) writes a duration as long-unsigned, ECS47a (Set Auxiliary Controller [n] State)
# an end date-time as a COSEM octet-string(12). One attribute, two GBCS shapes.
AUX_STATE_END = "0-0:94.44.119.2"
_DATE_TIME_LEN = 12

SCRIPT_ENABLE = 51
SCRIPT_DISABLE = 52
SCRIPT_ARM = 54

_POWER_TD = TypeDescription.structure(
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
    TypeDescription.simple(DataType.LONG_UNSIGNED),
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
)
_ALCS_TD = TypeDescription.structure(
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
    TypeDescription.simple(DataType.LONG_UNSIGNED),
    TypeDescription.simple(DataType.ENUM),
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
)


class ControlState:
    """COSEM disconnect-control states."""

    DISCONNECTED = 0
    CONNECTED = 1
    READY_FOR_RECONNECTION = 2  # armed


class FirmwareProfile:
    """How long a firmware activation cuts the Comms Hub's supply (MP102).

    ``compliant``: MP102A ESMEs never cut it for 3 minutes or more (default 30 s).
    ``legacy``: older ESMEs that reboot slowly (default 240 s), so the CHF raises AD1.
    """

    COMPLIANT = "compliant"
    LEGACY = "legacy"
    DEFAULT_SECONDS: ClassVar[dict[str, float]] = {COMPLIANT: 30.0, LEGACY: 240.0}


class Esme(DlmsDevice):
    """An ESME: one site's electricity meter."""

    device_type = DeviceType.ESME
    profile_name = "esme"

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        self.power = PowerState()
        self.control_state = ControlState.CONNECTED
        self.power_log = DeviceLog(config.event_log_size)
        # The Auxiliary Load Control Switch Event Log (ECS35f/g): code, switch action,
        # value (see log_alcs).
        self.alcs_log = DeviceLog(config.event_log_size)
        self.ch_supply_cuts: list[Outage] = []
        profile = str(config.options.get("firmware_profile", FirmwareProfile.COMPLIANT))
        if profile not in FirmwareProfile.DEFAULT_SECONDS:
            raise ValueError(f"firmware_profile must be compliant or legacy, not {profile!r}")
        self.firmware_profile = profile
        self.firmware_cut = timedelta(
            seconds=float(
                config.options.get(
                    "firmware_ch_cut_seconds", FirmwareProfile.DEFAULT_SECONDS[profile]
                )
            )
        )
        opts = config.options
        start = SwitchTime.parse(str(opts.get("md_window_start", "16:00:00.00")))
        end = SwitchTime.parse(str(opts.get("md_window_end", "19:00:00.00")))
        self.md = MaxDemand(
            default_schedule(start, end), capture_at=str(opts.get("md_capture_at", "start"))
        )
        self.md_invalid_clock = str(opts.get("md_invalid_clock", "unspecified"))
        if self.md_invalid_clock not in ("unspecified", "skip"):
            raise ValueError(
                f"md_invalid_clock must be unspecified or skip, not {self.md_invalid_clock!r}"
            )
        profile = profile_from_option(opts.get("load_profile", 500))
        self.load = LoadModel(profile, now or EPOCH_2000)
        self.display_digits = int(opts.get("display_digits", 5))
        super().__init__(config, own, anchors, now=now, **kwargs)

    # ---------------------------------------------------------------- behaviour

    def on_advance(self, now: datetime) -> list[AlertSpec]:
        # Max demand is captured on the device clock, never the caller's (IRP571): with
        # an invalid clock a period's demand has no time (``md_invalid_clock``).
        timed = self.device_time(now) is not None
        shift = timedelta(seconds=self.clock.offset)
        for start, imp, exp in self.load.advance(now):
            if timed:
                self.md.record_period(start + shift, imp, exp)
            elif self.md_invalid_clock == "unspecified":
                self.md.record_untimed(imp, exp)
        return []

    @property
    def display(self) -> str:
        """What the meter's screen shows now: the import register in kWh (5 digits)."""
        return esme_display(self.load.import_wh, self.display_digits)

    # ----------------------------------------------------------------- bindings

    def bind(self) -> None:
        super().bind()
        m = self.model
        m.bind(70, DISCONNECT_CONTROL, 2, getter=lambda: Data.boolean(self.output_state))
        m.bind(70, DISCONNECT_CONTROL, 3, getter=lambda: Data.enum(self.control_state))
        m.bind_method(9, SUPPLY_SCRIPTS, 1, self._supply_script)
        self.bind_log(POWER_EVENT_LOG, self.power_log, _POWER_TD)
        self.bind_log(ALCS_EVENT_LOG, self.alcs_log, _ALCS_TD)
        for cid, obis, attr, getter in self.md.cosem_getters():
            m.bind(cid, obis, attr, getter=getter)
        m.bind(10, OBIS_SCHEDULE, 2, setter=self.md.set_schedule)
        for obis in (OBIS_IMPORT_ALL, OBIS_IMPORT_WINDOW, OBIS_EXPORT):
            m.bind_method(
                4,
                obis,
                1,
                lambda p, o=obis: self.md.reset_action(o, p, self.device_time(self._now)),
            )
        m.bind(1, "0-0:96.1.1.255", 2, getter=lambda: Data.octet_string(self.eui))
        m.bind(1, AUX_STATE_END, 2, setter=self._set_aux_state_end)
        self.bind_registers()

    def bind_registers(self) -> None:
        """Energy registers read from the load model (Wh, scaler 0)."""
        m = self.model
        imp = lambda: Data.double_long_unsigned(self.load.import_wh & 0xFFFFFFFF)  # noqa: E731
        exp = lambda: Data.double_long_unsigned(self.load.export_wh & 0xFFFFFFFF)  # noqa: E731
        for obis, getter in (("1-0:1.8.0.255", imp), ("1-0:2.8.0.255", exp)):
            if m.find(3, Obis.parse(obis)) is not None:
                m.bind(3, obis, 2, getter=getter)
        collection = m.find(1, Obis.parse("0-0:94.44.34.10"))
        if collection is not None and 2 in collection.attributes:
            template = collection.attributes[2]
            path = _first_register_path(template)
            m.bind(1, "0-0:94.44.34.10", 2, getter=lambda: _replace_at(template, path, imp()))

    def _set_aux_state_end(self, value: Data) -> DataAccessResult:
        """ECS47's duration (long-unsigned) or ECS47a's end date-time (octet-string(12)),
        whichever came last; any other type is refused and the held value kept."""
        if value.tag != DataType.LONG_UNSIGNED and not (
            value.tag == DataType.OCTET_STRING and len(value.value) == _DATE_TIME_LEN
        ):
            return DataAccessResult.TYPE_UNMATCHED
        self.model.require(1, AUX_STATE_END).attributes[2] = value
        return DataAccessResult.SUCCESS

    def _aux_state_end(self) -> Data | None:
        obj = self.model.find(1, Obis.parse(AUX_STATE_END))
        return None if obj is None else obj.attributes.get(2)

    @property
    def output_state(self) -> bool:
        """True when the load switch is closed and mains is present."""
        return self.control_state == ControlState.CONNECTED and self.power.powered

    def _supply_script(self, param: Data) -> tuple[ActionResultCode, Data | None]:
        if param.tag != DataType.LONG_UNSIGNED:
            return ActionResultCode.TYPE_UNMATCHED, None
        new = {
            SCRIPT_ENABLE: ControlState.CONNECTED,
            SCRIPT_DISABLE: ControlState.DISCONNECTED,
            SCRIPT_ARM: ControlState.READY_FOR_RECONNECTION,
        }.get(param.value)
        if new is None:
            return ActionResultCode.OBJECT_UNAVAILABLE, None
        self.control_state = new
        self.on_supply_switched()
        return ActionResultCode.SUCCESS, None

    def on_supply_switched(self) -> None:
        """The load model only accrues energy while the load switch passes mains."""
        self.load.set_supply(self.output_state, max(self._now, self.load.time))

    def on_firmware_activated(self, now: datetime) -> None:
        """The ESME reboots into new firmware and cuts the Comms Hub's supply (MP102)."""
        self.ch_supply_cuts.append(Outage(now, now + self.firmware_cut))

    # -------------------------------------------------------------- mains power

    def lose_mains(self, now: datetime) -> list[Outbound]:
        """Mains supply fails: log 0x8F57 in the Power Event Log (no WAN alert)."""
        out = self.advance(now)
        if self.power.lose(now):
            self.power_log.add(0x8F57, self.device_time(now), "supply interrupted", (_dlu(0),))
            self.on_supply_switched()
        return out

    def restore_mains(self, now: datetime) -> list[Outbound]:
        """Mains returns: ECS80 to the Network Operator with 0x8F35 or 0x8F36."""
        out = self.advance(now)
        outage = self.power.restore(now)
        if outage is None:
            return out
        self.on_supply_switched()
        code = 0x8F36 if outage.long else 0x8F35
        # The value column of a restoration entry: the outage's length in seconds.
        seconds = int(outage.duration.total_seconds())
        self.power_log.add(
            code, self.device_time(now), f"restored after {outage.duration}", (_dlu(seconds),)
        )
        out.append(self.alert(self.ecs80(outage, code, now), now))
        return out

    def log_alcs(self, code: int, now: datetime, action: int, value: int = 0) -> None:
        """Record an auxiliary load control switch event (ECS35f/g read it): the event
        code, the switch action (enum: 0 off, 1 on) and the entry's value (e.g. the UTC
        time, seconds since 2000, the state applies until; 0 when none)."""
        self.alcs_log.add(
            code,
            self.device_time(now),
            f"ALCS action {action}",
            (Data.enum(action & 0xFF), _dlu(value)),
        )

    def ecs80(self, outage: Outage, code: int, now: datetime) -> AlertSpec:
        """The supply-restored alert (signed, to the Network Operator)."""
        offset = self.device_time(now)
        shift = (offset - now) if offset is not None else None

        def stamp(t: datetime) -> Data:
            dt = DlmsDateTime() if shift is None else DlmsDateTime.from_datetime(t + shift)
            return Data.octet_string(dt.to_bytes())

        return AlertSpec(
            code,
            critical=True,
            recipient=RemotePartyRole.NETWORK_OPERATOR,
            message_code=0x0067,
            extra=(stamp(outage.start), stamp(outage.end)),
        )

    # -------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if self._snapshotting:
            # In-memory copies for a rollback; the auxiliary state end lives in the COSEM
            # overlay, which the model's snapshot already holds.
            d["esme"] = {
                "power": PowerState(self.power.off_since),
                "control_state": self.control_state,
                "power_log": self.power_log.copy(),
                "alcs_log": self.alcs_log.copy(),
                "ch_supply_cuts": list(self.ch_supply_cuts),
                "load": self.load.copy(),
                "md": self.md.copy(),
            }
            return d
        d["esme"] = {
            "power": self.power.to_dict(),
            "control_state": self.control_state,
            "power_log": self.power_log.to_dict(),
            "alcs_log": self.alcs_log.to_dict(),
            "ch_supply_cuts": [
                [o.start.isoformat(), o.end.isoformat()] for o in self.ch_supply_cuts
            ],
            "load": self.load.to_dict(),
            "md": self.md.to_dict(),
        }
        aux_end = self._aux_state_end()
        if aux_end is not None:  # bound setter: the model's to_dict leaves it out
            d["esme"]["aux_state_end"] = encode_data(aux_end).hex()
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        e = state.get("esme", {})
        aux_end = None
        if "aux_state_end" in e:  # checked first: a bad value changes nothing
            try:
                aux_end = decode_data_bytes(bytes.fromhex(str(e["aux_state_end"])))
            except (ValueError, GbcsDecodeError) as err:
                raise ProfileError(f"bad saved esme.aux_state_end: {err}") from err
        # Parts of an in-memory snapshot (snapshot_state) are copied again, never aliased.
        power = e.get("power", {})
        self.power = (
            PowerState(power.off_since)
            if isinstance(power, PowerState)
            else PowerState.from_dict(power)
        )
        self.control_state = int(e.get("control_state", ControlState.CONNECTED))
        if "power_log" in e:
            self.power_log = _log(e["power_log"])
        if "alcs_log" in e:
            self.alcs_log = _log(e["alcs_log"])
        cuts = e.get("ch_supply_cuts", [])
        if cuts and isinstance(cuts[0], Outage):
            self.ch_supply_cuts = list(cuts)
        else:
            self.ch_supply_cuts = [
                Outage(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in cuts
            ]
        if "load" in e:
            ld = e["load"]
            self.load = ld.copy() if isinstance(ld, LoadModel) else LoadModel.from_dict(ld)
        if "md" in e:
            md = e["md"]
            self.md = md.copy() if isinstance(md, MaxDemand) else MaxDemand.from_dict(md)
        super().load_state(state)
        if aux_end is not None:
            self.model.require(1, AUX_STATE_END).attributes[2] = aux_end


def _log(saved: DeviceLog | dict[str, Any]) -> DeviceLog:
    return saved.copy() if isinstance(saved, DeviceLog) else DeviceLog.from_dict(saved)


def _dlu(value: int) -> Data:
    return Data.double_long_unsigned(max(0, min(value, 0xFFFFFFFF)))


def _first_register_path(template: Data) -> tuple[int, ...] | None:
    """Indices down to the first double-long-unsigned of ``template`` (depth first, as
    :func:`_fill_first_register` walks), or None when it has none."""
    if template.tag == DataType.DOUBLE_LONG_UNSIGNED:
        return ()
    if template.tag in (DataType.STRUCTURE, DataType.ARRAY):
        for i, x in enumerate(template.value):
            sub = _first_register_path(x)
            if sub is not None:
                return (i, *sub)
    return None


def _replace_at(template: Data, path: tuple[int, ...] | None, value: Data) -> Data:
    """``_fill_first_register(template, value)`` with the path found once: only the
    containers on the path are rebuilt (equal values, fewer objects per read)."""
    if path is None:
        return template
    if not path:
        return value
    items = list(template.value)
    items[path[0]] = _replace_at(items[path[0]], path[1:], value)
    # the containers' own constructors: their children are validated Data already
    if template.tag == DataType.STRUCTURE:
        return Data.structure(*items)
    return Data.array(*items)


def _fill_first_register(template: Data, value: Data) -> Data:
    """The register collection with its first double-long-unsigned replaced by ``value``."""
    done = False

    def walk(d: Data) -> Data:
        nonlocal done
        if done:
            return d
        if d.tag == DataType.DOUBLE_LONG_UNSIGNED:
            done = True
            return value
        if d.tag in (DataType.STRUCTURE, DataType.ARRAY):
            return Data(d.tag, tuple(walk(x) for x in d.value))
        return d

    return walk(template)
