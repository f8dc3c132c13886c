"""Shared behaviour of the DLMS devices (ESME, CHF): model, dispatch, clock, logs.

* Dispatch: an authenticated access-request runs against the device's COSEM model
  (:mod:`devices.dlms_engine`); ASN.1 use cases go to :mod:`devices.asn1_handlers`.
* Clock (class 8, ``0-0:1.0.0.255``): ``time`` and ``status`` read the device clock;
  ECS70 presets a time (method 5) and applies it (method 4).
* Logs (class 7 buffers): the event log ``0-0:99.98.0.255`` and the security log
  ``0-0:99.98.1.255`` read the device's logs, with the range selective access
  (selector 1, UTC seconds since 2000) that ECS35x/CCS use. Entries recorded while the
  clock was invalid have no timestamp and are never returned by a range read
  (IRP571: no made-up times). Range boundaries are one shared, configurable rule
  (IRP586): both ends inclusive by default. Every row is built with the capture columns
  of the log's profile object (the type description of its stored buffer), so a log
  that holds entries of every kind still reads (:func:`devices.logs.log_row`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from gbcs.axdr import CompactArray, Data, DataType, TypeDescription
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import AccessRequest, ActionResultCode, DataAccessResult, Obis
from gbcs.errors import GbcsDecodeError

from .cosem import CosemModel, ModelSnapshot, load_profile
from .device import CommandContext, Device, DeviceConfig, Execution
from .dlms_engine import ItemFault, execute
from .logs import DeviceLog, log_row
from .trust import OwnKeys, TrustAnchors

__all__ = ["EPOCH_2000", "DlmsDevice", "in_range", "seconds_since_2000"]

EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK = "0-0:1.0.0.255"
EVENT_LOG = "0-0:99.98.0.255"
SECURITY_LOG = "0-0:99.98.1.255"

_EVENT_TD = TypeDescription.structure(
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
    TypeDescription.simple(DataType.LONG_UNSIGNED),
    TypeDescription.simple(DataType.OCTET_STRING),
)
_SECURITY_TD = TypeDescription.structure(
    TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),
    TypeDescription.simple(DataType.LONG_UNSIGNED),
)


def seconds_since_2000(t: datetime) -> int:
    return int((t - EPOCH_2000).total_seconds())


def in_range(t: int, start: int, end: int, *, end_inclusive: bool = True) -> bool:
    """The shared log-range rule (IRP586): ``start <= t <= end`` (or ``< end``)."""
    return start <= t <= end if end_inclusive else start <= t < end


class DlmsDevice(Device):
    """A device answering DLMS access-requests from a COSEM profile."""

    profile_name: ClassVar[str]

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
        model: CosemModel | None = None,
    ) -> None:
        super().__init__(config, own, anchors, now=now)
        self.model = model if model is not None else load_profile(self.profile_name)
        self._preset: datetime | None = None
        self.log_range_end_inclusive = bool(config.options.get("log_range_end_inclusive", True))
        self._now: datetime = now or EPOCH_2000
        self.bind()

    # ----------------------------------------------------------------- dispatch

    def execute(self, ctx: CommandContext) -> Execution:
        self._now = ctx.now
        handler = self.handlers.get(ctx.use_case.code)
        if handler is not None:
            return handler(ctx)
        payload = ctx.message.payload
        if isinstance(payload, AccessRequest):
            dlms_faults = self.config.dlms_faults
            faults = {k: ItemFault(v) for k, v in dlms_faults.items()} if dlms_faults else None
            armed = self.take_faults(ctx.use_case.code)
            return Execution(
                execute(payload, self.model, seal=ctx.seal, faults=faults, positional=armed)
            )
        return super().execute(ctx)

    def receive(self, frame: bytes, now: datetime) -> list[Any]:
        self._now = now
        return super().receive(frame, now)

    # ----------------------------------------------------------------- bindings

    def bind(self) -> None:
        """Attach live behaviour to the model (subclasses extend)."""
        m = self.model
        m.bind(8, CLOCK, 2, getter=self._clock_time)
        m.bind(8, CLOCK, 4, getter=self._clock_status)
        m.bind_method(8, CLOCK, 5, self._preset_time)
        m.bind_method(8, CLOCK, 4, self._adjust_to_preset)
        # ECS52 / SR11.2: the running firmware version, in every device state (MP105)
        m.bind(
            1, "0-0:0.2.1.255", 2, getter=lambda: Data.octet_string(self.firmware.running_version)
        )
        self.bind_log(EVENT_LOG, self.event_log, _EVENT_TD)
        self.bind_log(SECURITY_LOG, self.security_log, _SECURITY_TD)

    def log_columns(self, obis: str, default: TypeDescription) -> TypeDescription:
        """The capture columns of the class-7 object ``obis``: the type description of
        its stored buffer in the profile, else ``default``."""
        obj = self.model.find(7, Obis.parse(obis))
        stored = None if obj is None else obj.attributes.get(2)
        if stored is not None and stored.tag == DataType.COMPACT_ARRAY:
            return stored.value.type_description
        return default

    def bind_log(self, obis: str, log: DeviceLog, td: TypeDescription) -> None:
        """Serve a device log as a class-7 buffer with range access, its rows built with
        the profile's capture columns for ``obis`` (``td`` when the profile has none)."""
        td = self.log_columns(obis, td)

        def rows(start: int | None, end: int | None) -> Data:
            out = []
            for e in log:
                if e.at is None:
                    continue
                t = seconds_since_2000(e.at)
                if (
                    start is not None
                    and end is not None
                    and not in_range(t, start, end, end_inclusive=self.log_range_end_inclusive)
                ):
                    continue
                out.append(log_row(td, t, e))
            return Data(DataType.COMPACT_ARRAY, CompactArray.from_elements(td, out))

        def selected(selector: int, params: Data) -> tuple[DataAccessResult, Data | None]:
            if selector != 1:
                return DataAccessResult.OTHER_REASON, None
            try:
                start, end = params.value[1].value, params.value[2].value
                if not isinstance(start, int) or not isinstance(end, int):
                    raise TypeError
            except (AttributeError, IndexError, TypeError):
                return DataAccessResult.TYPE_UNMATCHED, None
            return DataAccessResult.SUCCESS, rows(start, end)

        self.model.bind(7, obis, 2, getter=lambda: rows(None, None))
        self.model.bind_selective(7, obis, 2, selected)

    # -------------------------------------------------------------------- clock

    def _clock_time(self) -> Data:
        t = self.device_time(self._now)
        dt = DlmsDateTime() if t is None else DlmsDateTime.from_datetime(t)
        return Data.octet_string(dt.to_bytes())

    def _clock_status(self) -> Data:
        return Data.unsigned(0 if self.clock.status == 0 else 1)

    def _preset_time(self, param: Data) -> tuple[ActionResultCode, Data | None]:
        try:
            items = param.value
            preset = DlmsDateTime.from_bytes(items[0].value)
            start = DlmsDateTime.from_bytes(items[1].value).to_datetime()
            end = DlmsDateTime.from_bytes(items[2].value).to_datetime()
        except (AttributeError, IndexError, TypeError, ValueError, GbcsDecodeError):
            # GbcsDecodeError: a date-time that is not 12 bytes (authfuzz found it escaping)
            return ActionResultCode.TYPE_UNMATCHED, None
        # An unspecified preset (as DCC sends in ECS70) means "the time of my HAN's time
        # source" (the CHF), i.e. the caller's time; the command only bounds it.
        target = preset.to_datetime() or self._now
        if (start is not None and target < start) or (end is not None and target > end):
            return ActionResultCode.OTHER_REASON, None
        self._preset = target
        return ActionResultCode.SUCCESS, None

    def _adjust_to_preset(self, param: Data) -> tuple[ActionResultCode, Data | None]:
        if self._preset is None:
            return ActionResultCode.TEMPORARY_FAILURE, None
        adjust = self.clock.set(self._now, self._preset)
        self._preset = None
        # 0x8145 (within tolerance) is an Event Log entry, 0x8F0C (more than 10 s) a
        # Security Log entry (GBCS alert-code table, shared/reference/alert-codes.md).
        log = self.log_event if abs(adjust) <= 10 else self.log_security
        log(0x8145 if abs(adjust) <= 10 else 0x8F0C, self._now, f"adjusted {adjust:+.0f}s")
        return ActionResultCode.SUCCESS, None

    # -------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["cosem"] = self.model.snapshot() if self._snapshotting else self.model.to_dict()
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        cosem = state.get("cosem", {})
        if isinstance(cosem, ModelSnapshot):
            self.model.restore(cosem)
        else:
            self.model.load_dict(cosem)
        self.rebind()

    def rebind(self) -> None:
        """Re-attach bindings after state replaced objects they close over."""
        self.bind()
