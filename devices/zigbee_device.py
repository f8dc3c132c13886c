"""Shared behaviour of the ZigBee-side devices (GSME, GPF): ZCL model, GBZ dispatch,
future-dated components and their 0x00CD outcome alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from gbcs.gbz import GbzAlertHeader, GbzPayload
from gbcs.zcl import utc_from_datetime, utc_to_datetime
from keys.certs import as_eui, eui_hex

from .device import AlertSpec, CommandContext, Device, DeviceConfig, Execution
from .gbz_engine import (
    GbzEngineError,
    PendingCommand,
    TopUpDecoder,
    execute_gbz,
    execute_pending,
    future_dated_outcome,
)
from .trust import OwnKeys, TrustAnchors
from .zcl_model import ZclModel, load_profile

__all__ = ["FUTURE_DATED_GBZ_ALERT", "ZigbeeDevice"]

FUTURE_DATED_GBZ_ALERT = 0x00CD


class ZigbeeDevice(Device):
    """A device answering GBZ commands from a ZCL model."""

    speaks_dlms = False
    zcl_profile: ClassVar[str]
    #: What a well-formed UTRN is worth (None: nothing; see :func:`execute_gbz`).
    top_up_decoder: TopUpDecoder | None = None

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
        model: ZclModel | None = None,
    ) -> None:
        super().__init__(config, own, anchors, now=now)
        self.model = model if model is not None else load_profile(self.zcl_profile)
        # (pending component, originator EUI, originator counter) per future-dated command
        self.pending: list[tuple[PendingCommand, bytes, int]] = []

    def execute(self, ctx: CommandContext) -> Execution:
        handler = self.handlers.get(ctx.use_case.code)
        if handler is not None:
            return handler(ctx)
        payload = ctx.message.payload
        if not isinstance(payload, GbzPayload):
            return super().execute(ctx)
        try:
            result = execute_gbz(
                payload,
                self.model,
                message_code=ctx.use_case.code,
                device_time=ctx.device_time,
                seal=ctx.seal,
                faults=self.config.code_faults,
                top_up=self.top_up_decoder,
                positional=self.take_faults(ctx.use_case.code),
            )
        except GbzEngineError as e:
            raise ValueError(str(e)) from None
        for p in result.pending:
            self.pending.append((p, ctx.message.originator, ctx.message.counter))
        self.after_gbz(ctx)
        return Execution(result.response)

    # The ZCL Events cluster logs *are* this device's logs (CS10a/b read them).
    EVENT_LOG_ID = 3
    SECURITY_LOG_ID = 4

    def log_event(self, code: int, now: datetime, detail: str = "") -> None:
        super().log_event(code, now, detail)
        self._zcl_log(self.EVENT_LOG_ID, code, now)

    def log_security(self, code: int, now: datetime, detail: str = "") -> None:
        super().log_security(code, now, detail)
        self._zcl_log(self.SECURITY_LOG_ID, code, now)

    def _zcl_log(self, log_id: int, code: int, now: datetime) -> None:
        t = self.device_time(now)
        if t is not None and hasattr(self, "model"):  # IRP571: no entry without a time
            self.model.log_event(log_id, code & 0xFFFF, utc_from_datetime(t))

    def after_gbz(self, ctx: CommandContext) -> None:
        """Hook: behaviours that react to a GBZ command (e.g. the GPF mirror)."""

    def on_advance(self, now: datetime) -> list[AlertSpec]:
        t = self.device_time(now)
        if t is None or not self.pending:
            return []
        stamp = utc_from_datetime(t)
        due = [x for x in self.pending if x[0].execute_at <= stamp]
        if not due:
            return []
        self.pending = [x for x in self.pending if x[0].execute_at > stamp]
        groups: dict[tuple[bytes, int, int], list[PendingCommand]] = {}
        for p, originator, counter in due:
            groups.setdefault((originator, counter, p.message_code), []).append(p)
        alerts = []
        for (originator, counter, _code), cmds in groups.items():
            outcome = execute_pending(cmds, self.model, device_time=t)
            specific = future_dated_outcome(cmds[-1], counter)
            payload = GbzPayload((), GbzAlertHeader(outcome.alert_code, stamp, specific))
            alerts.append(
                AlertSpec(
                    outcome.alert_code,
                    True,
                    originator,
                    message_code=FUTURE_DATED_GBZ_ALERT,
                    payload=payload,
                )
            )
        return alerts

    def next_due(self, now: datetime) -> datetime | None:
        due = [x for x in (super().next_due(now),) if x is not None]
        t = self.device_time(now)
        if self.pending and t is not None:
            first = min(p.execute_at for p, _, _ in self.pending)
            due.append(now + (utc_to_datetime(first) - t))
        return min(due, default=None)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["zcl"] = self.model.overlay_dict()
        d["gbz_pending"] = [
            {"command": p.to_dict(), "originator": eui_hex(o), "counter": c}
            for p, o, c in self.pending
        ]
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        if "zcl" in state:
            self.model.restore(state["zcl"])
        self.pending = [
            (PendingCommand.from_dict(x["command"]), as_eui(x["originator"]), int(x["counter"]))
            for x in state.get("gbz_pending", [])
        ]
