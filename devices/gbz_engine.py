"""Executing an authenticated GBZ command payload against a :class:`ZclModel`.

:func:`execute_gbz` answers every command component, in order, with the ZCL response(s)
RTDS shows, built from (and stored into) the model:

* Read Attributes -> Read Attributes Response (0x86 UNSUPPORTED_ATTRIBUTE per unknown id);
  Write Attributes -> Write Attributes Response (0x88 READ_ONLY unless the profile marks the
  attribute ``rw``, 0x8D INVALID_DATA_TYPE, 0x87 INVALID_VALUE);
* Publish*/Set*/Change*/Update*/... -> stored in the model + Default Response SUCCESS, or
  the specific response ZSE/RTDS use: Change Supply -> Supply Status Response, Change
  Payment Mode -> Change Payment Mode Response, Consumer Top Up -> Consumer Top Up
  Response, Start Sampling -> Start Sampling Response, Clear Event Log Request -> Clear
  Event Log Response;
* Get* -> the matching Publish*/response records built from state, several of them
  where RTDS shows several (Get Day Profiles: one Publish Day Profile per day, all with
  the Get's sequence number), or Default Response 0x8B NOT_FOUND when nothing matches.

Commands that only copy fields into attributes and keep the command as a record, and Gets
that only answer such a record, are rows of :mod:`devices.zcl_plain` (data, two generic
handlers); the handlers here are the commands with logic of their own.

Every response component echoes the cluster and the ZCL transaction sequence number; its
direction is the opposite of the command's. The disable-default-response bit of a
response follows what RTDS shows (:data:`RESPONSE_DDR`, :data:`READ_RESPONSE_DDR_CODES`,
:data:`DDR_OVERRIDES`). The disable-default-response bit of a *command* is ignored: GBCS
needs one answer per component.

Rejections (never an exception): a cluster the model lacks -> Default Response 0xC3
UNSUPPORTED_CLUSTER; an unknown cluster-specific command -> 0x81 UNSUP_CLUSTER_COMMAND; a
general command other than Read/Write Attributes -> 0x82 UNSUP_GENERAL_COMMAND; a
manufacturer-specific frame -> 0x83/0x84; a payload that does not parse as its command, a
reserved frame type or an empty attribute list -> 0x80 MALFORMED_COMMAND; an encrypted
command component (no use case sends one) -> 0x01 FAILURE; bad field values -> 0x85
INVALID_FIELD / 0x87 INVALID_VALUE. A rejected component leaves the model unchanged.
:class:`GbzEngineError` is raised only for payloads that cannot be answered at all (an
alert, no component, more than 255 response components, a sensitive response but no
``seal``, a ``seal`` that fails); the model is then restored to its state before the call.

**Encrypted responses.** :data:`ENCRYPTED_RESPONSES` lists, per message code, which
response components carry their ZCL payload encrypted (GbzCiphered), as RTDS shows. Their
plaintext (the ZCL payload bytes after the clear ZCL header) goes through ``seal``, which
must return the whole protected blob ``31 00000000 ‖ ciphertext ‖ tag12``: i.e.
``gbcs.security.seal_part(part_key_for(response_header, keys), response originator,
plaintext)`` — ``devices.device.CommandContext.seal`` does exactly that. The frame counter
is left to the GBZ encoder (the index among encrypted components).

**Faults.** ``faults = {message_code: status}`` answers every component of that message
with ``status`` without executing anything: Read Attributes -> every record with that
status; Start Sampling -> Start Sampling Response with sample id 0xFFFF (RTDS GCS31
error); Consumer Top Up -> Consumer Top Up Response with ``status`` as the ZSE result
type; every other command -> Default Response with ``status`` (RTDS GCS36 error: 0xC0).
A faulted answer carries statuses only, so nothing in it is encrypted (no seal needed).
``positional`` (:class:`devices.faults.MessageFaults`) fails parts of the command the
way RTDS ``_ERROR`` cases do: a whole-command fault as above; a component fault answers
that component (by position) in the failure form above, unexecuted, and executes and
answers every other component in order; a record fault executes the component and
replaces that record of its Read Attributes Response by a record with the status and
no value (a component that answers no records fails whole with the status).

**Future-dated commands.** For message codes whose use case is future-dated capable
(``gbcs.usecases``: GCS01a/b, GCS02, GCS03, GCS05), an update component whose execution
time — the GBZ from date-time when set, else the command's own start/implementation
time (:data:`EXECUTION_TIME_FIELDS`; 0 = now), else, for commands without a time of their
own (day/week/season profiles), the time of the previous timed component of the payload —
is later than the device time is not executed: it is answered as accepted (Default
Response SUCCESS; the Change Payment Mode Response for Change Payment Mode) and returned
in :attr:`GbzResult.pending`. The device schedules it, runs it with :func:`execute_pending`
at ``execute_at`` and raises alert 0x8F66 (all succeeded) or 0x8F67 naming the last
component of the group (:func:`future_dated_outcome`; RTDS 0x00CD alerts name a single
component: the last one of GCS01a/b). Zero (now) and 0xFFFFFFFF execution times, and
any time when ``device_time`` is None, mean "execute now". On Get Top Up Log / Get Debt
Repayment Log the from date-time is the earliest entry time (RTDS GCS15d/e).

Semantics decided here where ZSE/RTDS leave a choice (see docs in each handler):
snapshots, events and sampled data are returned oldest first (RTDS order), top-up and
debt logs most recent first (ZSE); issuer calendar id 0xFFFFFFFF designates the current
tariff calendar and 0xFFFFFFFE the friendly-credit calendar (RTDS GCS21f/GCS21b).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.gbz import (
    SECURITY_HEADER,
    FutureDatedOutcome,
    GbzCiphered,
    GbzComponent,
    GbzPayload,
    decode_gbz,
)
from gbcs.usecases import lookup
from gbcs.zcl import (
    AttributeReadRecord,
    AttributeStatusRecord,
    ChangeDebt,
    ChangePaymentMode,
    ChangePaymentModeResponse,
    ChangeSupply,
    ClearEventLogRequest,
    ClearEventLogResponse,
    ConsumerTopUp,
    ConsumerTopUpResponse,
    CreditAdjustment,
    DefaultResponse,
    EmergencyCreditSetup,
    EventConfigurationEntry,
    EventLogEntry,
    GetCurrentPrice,
    GetDayProfiles,
    GetDebtRepaymentLog,
    GetEventConfiguration,
    GetEventLog,
    GetPrepaySnapshot,
    GetSampledData,
    GetSampledDataResponse,
    GetSeasons,
    GetSnapshot,
    GetSpecialDays,
    GetTopUpLog,
    GetWeekProfiles,
    PublishCalendar,
    PublishCalorificValue,
    PublishConversionFactor,
    PublishDayProfile,
    PublishDebtLog,
    PublishEventLog,
    PublishPrepaySnapshot,
    PublishPrice,
    PublishPriceMatrix,
    PublishSeasons,
    PublishSnapshot,
    PublishSpecialDays,
    PublishTariffInformation,
    PublishTopUpLog,
    PublishWeekProfile,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    ReportEventConfiguration,
    SelectAvailableEmergencyCredit,
    SetEventConfiguration,
    SetMaximumCreditLimit,
    SetOverallDebtCap,
    StartSampling,
    StartSamplingResponse,
    SupplyStatusResponse,
    WriteAttributes,
    WriteAttributesResponse,
    ZclCommand,
    ZclDate,
    ZclHeader,
    decode_zcl_payload,
    typed_commands,
    utc_from_datetime,
    utc_to_datetime,
)

from .faults import MessageFaults
from .zcl_model import (
    BILL_TO_DATE_DELIVERED,
    BLOCK_COUNTER_IDS,
    CALENDAR,
    CREDIT_REMAINING,
    METERING,
    PREPAYMENT,
    PRICE,
    SUPPLY_STATUS,
    CalendarState,
    Sampling,
    Snapshot,
    ZclModel,
    calendar_slot,
)
from .zcl_plain import READS as PLAIN_READS
from .zcl_plain import WRITES as PLAIN_WRITES
from .zcl_plain import read_plain, write_plain

__all__ = [
    "DDR_OVERRIDES",
    "ENCRYPTED_RESPONSES",
    "EXECUTION_TIME_FIELDS",
    "READ_RESPONSE_DDR_CODES",
    "RESPONSE_DDR",
    "GbzEngineError",
    "GbzResult",
    "PendingCommand",
    "PendingOutcome",
    "Sealer",
    "Status",
    "TopUpDecoder",
    "execute_gbz",
    "execute_pending",
    "failure_response",
    "future_dated_outcome",
    "publish_snapshot_record",
]

Sealer = Callable[[bytes], bytes]
"""Encrypts a response plaintext into the ``31 00000000 ‖ ct ‖ tag12`` blob."""

TopUpDecoder = Callable[[bytes], int | None]
"""Validates a top-up code (UTRN); returns its value, or None for an invalid code."""


class Status:
    """ZCL status codes the engine uses."""

    SUCCESS = 0x00
    FAILURE = 0x01
    MALFORMED_COMMAND = 0x80
    UNSUP_CLUSTER_COMMAND = 0x81
    UNSUP_GENERAL_COMMAND = 0x82
    UNSUP_MANUF_CLUSTER_COMMAND = 0x83
    UNSUP_MANUF_GENERAL_COMMAND = 0x84
    INVALID_FIELD = 0x85
    UNSUPPORTED_ATTRIBUTE = 0x86
    INVALID_VALUE = 0x87
    NOT_FOUND = 0x8B
    UNSUPPORTED_CLUSTER = 0xC3


class GbzEngineError(Exception):
    """A GBZ payload that cannot be answered at all (the model is left unchanged)."""


# --------------------------------------------------------------------------- tables

_GENERAL = 0
_SPECIFIC = 1
_READ_RESPONSE = (_GENERAL, 0x01)

ENCRYPTED_RESPONSES: dict[int, frozenset[tuple[int, int, int]]] = {
    code: frozenset(entries)
    for code, entries in {
        0x0074: {(METERING, *_READ_RESPONSE)},  # GCS13a consumption register
        0x00B6: {(METERING, *_READ_RESPONSE)},  # GCS13c TOU registers
        0x00B8: {(METERING, *_READ_RESPONSE)},  # GCS13b block counters
        0x0075: {(PREPAYMENT, *_READ_RESPONSE)},  # GCS14 prepayment registers (not Price)
        0x0076: {(METERING, _SPECIFIC, 0x06), (PREPAYMENT, _SPECIFIC, 0x01)},  # GCS15c
        0x00C3: {(METERING, _SPECIFIC, 0x06), (PREPAYMENT, _SPECIFIC, 0x01)},  # GCS15b
        0x00C4: {(PREPAYMENT, _SPECIFIC, 0x06)},  # GCS15d Publish Debt Log
        0x0077: {(METERING, _SPECIFIC, 0x06)},  # GCS16a daily read log
        0x0096: {(PREPAYMENT, _SPECIFIC, 0x01)},  # GCS16b prepayment daily read log
        0x0078: {(METERING, _SPECIFIC, 0x07)},  # GCS17 profile data log
        0x0079: {(METERING, _SPECIFIC, 0x07)},  # GCS18 network data log
        0x00A0: {(METERING, _SPECIFIC, 0x07)},  # GCS61 daily consumption log (GPF)
        0x008B: {(METERING, _SPECIFIC, 0x06)},  # GCS53 billing data log alert
    }.items()
}
"""Message code -> ``(cluster, frame type (0 general, 1 cluster-specific), response
command id)`` of the response components sent encrypted (from the RTDS responses; GCS15e's
Publish Top Up Log and Default Responses are always clear)."""

RESPONSE_DDR: dict[tuple[int, bool, int], bool] = {
    (CALENDAR, True, 0x01): True,  # Publish Day Profile
    (CALENDAR, True, 0x02): True,  # Publish Week Profile
    (CALENDAR, True, 0x03): True,  # Publish Seasons
    (CALENDAR, True, 0x04): True,  # Publish Special Days
    (PRICE, True, 0x00): True,  # Publish Price
    (PRICE, True, 0x09): False,  # Publish Billing Period
    (METERING, True, 0x06): True,  # Publish Snapshot
    (METERING, True, 0x07): True,  # Get Sampled Data Response
    (METERING, True, 0x0C): False,  # Supply Status Response
    (METERING, True, 0x0D): False,  # Start Sampling Response
    (PREPAYMENT, True, 0x01): True,  # Publish Prepay Snapshot
    (PREPAYMENT, True, 0x02): True,  # Change Payment Mode Response
    (PREPAYMENT, True, 0x03): False,  # Consumer Top Up Response
    (PREPAYMENT, True, 0x05): True,  # Publish Top Up Log
    (PREPAYMENT, True, 0x06): True,  # Publish Debt Log
    (0x0708, False, 0x04): False,  # Report Event Configuration
    (0x0709, True, 0x01): True,  # Publish Event Log
    (0x0709, True, 0x02): False,  # Clear Event Log Response
}
"""Disable-default-response bit of cluster-specific responses, as RTDS shows."""

READ_RESPONSE_DDR_CODES: frozenset[int] = frozenset((0x0074, 0x00B6, 0x00B8, 0x009F))
"""Message codes whose Read Attributes Responses set disable-default-response (RTDS
GCS13a/c/b, GCS21f); the others leave it clear."""

DDR_OVERRIDES: dict[tuple[int, int, int], bool] = {(0x0079, METERING, 0x07): False}
"""(message code, cluster, response command id) exceptions to :data:`RESPONSE_DDR` (RTDS
GCS18's Get Sampled Data Response has the bit clear, GCS17's and GCS61's set)."""

EXECUTION_TIME_FIELDS: dict[type, str] = {
    PublishCalendar: "start_time",
    PublishSpecialDays: "start_time",
    PublishTariffInformation: "start_time",
    PublishPriceMatrix: "start_time",
    PublishConversionFactor: "start_time",
    PublishCalorificValue: "start_time",
    ChangePaymentMode: "implementation_date_time",
    ChangeSupply: "implementation_date_time",
    EmergencyCreditSetup: "start_time",
    SetOverallDebtCap: "implementation_date_time",
    SetMaximumCreditLimit: "implementation_date_time",
    CreditAdjustment: "start_time",
}
"""Commands whose own field gives their execution time (future-dated use cases only)."""

_TYPED = typed_commands()
_BLOCK_THRESHOLDS = (PRICE, True, 0x06)  # Publish Block Thresholds: not typed by gbcs.zcl
_BLOCK_THRESHOLDS_HEAD = struct.Struct("<IIIIBBB")
_NOW = frozenset((0, 0xFFFFFFFF))

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """A future-dated component accepted but not yet executed.

    ``execute_at`` is a ZigBee UTCTime; ``index`` the component's position in the
    command payload. Persist with :meth:`to_dict` until it has run.
    """

    component: GbzComponent
    execute_at: int
    message_code: int
    index: int

    @property
    def execute_at_datetime(self) -> datetime:
        return utc_to_datetime(self.execute_at)

    def to_dict(self) -> dict[str, Any]:
        raw = GbzPayload((self.component,)).encode()
        return {
            "component": raw.hex().upper(),
            "execute_at": self.execute_at,
            "message_code": self.message_code,
            "index": self.index,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PendingCommand:
        try:
            raw = bytes.fromhex(doc["component"])
            payload = decode_gbz(raw, 0, len(raw), alert=False)
            return cls(
                payload.components[0],
                int(doc["execute_at"]),
                int(doc["message_code"]),
                int(doc["index"]),
            )
        except (KeyError, TypeError, ValueError, IndexError, GbcsDecodeError) as e:
            raise GbzEngineError(f"bad pending command: {e}") from None


@dataclass(frozen=True, slots=True)
class GbzResult:
    """The response payload and the future-dated components to run later."""

    response: GbzPayload
    pending: tuple[PendingCommand, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingOutcome:
    """ZCL status of each executed pending component (0 = success)."""

    statuses: tuple[int, ...]

    @property
    def success(self) -> bool:
        return all(s == 0 for s in self.statuses)

    @property
    def alert_code(self) -> int:
        """0x8F66 (actioned) or 0x8F67 (not actioned)."""
        return 0x8F66 if self.success else 0x8F67


# --------------------------------------------------------------------------- context


@dataclass(slots=True)
class _Ctx:
    model: ZclModel
    message_code: int
    now: int  # UTCTime, 0 when the device has no time
    top_up: TopUpDecoder | None
    outputs: list[GbzComponent] = field(default_factory=list)


_Out = list[ZclCommand] | int

SNAPSHOT_CAUSE_TARIFF = 0x00000008
"""ZCL snapshot cause bit 3, Change of Tariff Information."""
SNAPSHOT_CAUSE_MODE = 0x00004000
"""ZCL snapshot cause bit 14, Change of (Meter) Mode."""

BILLING_SNAPSHOT_CAUSES: dict[int, int] = {
    0x006B: SNAPSHOT_CAUSE_TARIFF,  # GCS01a Set Tariff and Price on GSME
    0x00A3: SNAPSHOT_CAUSE_TARIFF,  # GCS01b Set Price on GSME
    0x006C: SNAPSHOT_CAUSE_MODE,  # GCS02 Set GSME Payment Mode to Credit
    0x006D: SNAPSHOT_CAUSE_MODE,  # GCS03 Set GSME Payment Mode to Prepayment
}
"""Commands whose execution adds a Billing Data Log entry (a Metering and a Prepayment
snapshot), by message code, with the snapshot cause. GCS15b reads that log with cause
mask 0x00006008 (tariff | supplier | mode): the log is written on a change of tariff, of
supplier and of payment mode; RTDS GCS15b shows entries with causes 0x08 and 0x2000."""
_Handler = Callable[[_Ctx, GbzComponent, Any], _Out]


def execute_gbz(
    payload: GbzPayload,
    model: ZclModel,
    *,
    message_code: int,
    device_time: datetime | None,
    seal: Sealer | None,
    faults: Mapping[int, int] | None = None,
    top_up: TopUpDecoder | None = None,
    positional: MessageFaults | None = None,
) -> GbzResult:
    """Execute every component of an authenticated GBZ command payload (module doc).

    ``device_time`` is the device's clock (None when it has no valid time: nothing is
    then future-dated and new log entries get time 0). ``top_up`` validates Consumer Top
    Up codes (UTRNs) and gives their value (see :func:`_consumer_top_up`). Raises only
    :class:`GbzEngineError`, with the model restored.
    """
    if payload.alert is not None:
        raise GbzEngineError("an alert payload is not a command")
    if not payload.components:
        raise GbzEngineError("a GBZ command with no component cannot be answered")
    fault = faults.get(message_code) if faults else None
    if positional is not None and positional.whole is not None:
        fault = positional.whole
    encrypted = ENCRYPTED_RESPONSES.get(message_code, frozenset())
    if encrypted and seal is None and fault is None:
        raise GbzEngineError(
            f"message code 0x{message_code:04X} has sensitive responses: a seal is needed"
        )
    now = 0
    if device_time is not None:
        try:
            now = utc_from_datetime(device_time)
        except GbcsEncodeError as e:
            raise GbzEngineError(f"device time: {e}") from None
    use_case = lookup(message_code)
    future_capable = bool(use_case and use_case.future_dated) and device_time is not None
    ctx = _Ctx(model, message_code, now, top_up)
    # Only a seal failure or a Get fanning out past 255 components can make an executed
    # payload unanswerable: keep an undo copy just then, taken before the first component
    # that may change the model (read-only payloads need none).
    needs_undo = encrypted or any(type(c.body) in _FAN_OUT for c in payload.components)
    before: dict[str, Any] | None = None
    pending: list[PendingCommand] = []
    last_time = 0
    try:
        for index, comp in enumerate(payload.components):
            failed = fault if positional is None else positional.items.get(index, fault)
            if failed is not None:
                _emit(ctx, comp, _fault_response(ctx, comp, failed))
                continue
            records = None if positional is None else positional.records.get(index)
            body, early = _classify(model, comp)
            if early is not None:
                _emit(ctx, comp, _with_records(ctx, comp, early, records))
                continue
            handler = _handler_for(body)
            if handler is None:
                _emit(ctx, comp, _with_records(ctx, comp, Status.UNSUP_CLUSTER_COMMAND, records))
                continue
            if future_capable and handler not in _READ_ONLY:
                own = _execution_time(comp, body)
                at = last_time if own is None else own
                if own is not None and own not in _NOW:
                    last_time = own
                if at not in _NOW and at > now:
                    pending.append(PendingCommand(comp, at, message_code, index))
                    _emit(ctx, comp, _accepted(ctx, body))
                    continue
            if needs_undo and before is None and handler not in _READ_ONLY:
                before = model.to_dict()
            _emit(ctx, comp, _with_records(ctx, comp, handler(ctx, comp, body), records))
        if fault is None and len(pending) < len(payload.components):
            _billing_snapshot(ctx, message_code)
        if len(ctx.outputs) > 0xFF:
            raise GbzEngineError(f"{len(ctx.outputs)} response components exceed 255")
        # A faulted answer carries statuses only: nothing to protect.
        comps = (
            tuple(ctx.outputs)
            if fault is not None
            else tuple(_protect(c, encrypted, seal) for c in ctx.outputs)
        )
    except GbzEngineError:
        if before is not None:
            model.restore(before)
        raise
    return GbzResult(GbzPayload(comps), tuple(pending))


def execute_pending(
    pending: Sequence[PendingCommand],
    model: ZclModel,
    *,
    device_time: datetime | None,
    top_up: TopUpDecoder | None = None,
) -> PendingOutcome:
    """Run future-dated components now (in order); no response is produced."""
    try:
        now = 0 if device_time is None else utc_from_datetime(device_time)
    except GbcsEncodeError as e:
        raise GbzEngineError(f"device time: {e}") from None
    statuses = []
    for p in pending:
        ctx = _Ctx(model, p.message_code, now, top_up)
        body, early = _classify(model, p.component)
        if early is not None:
            statuses.append(early)
            continue
        handler = _handler_for(body)
        if handler is None:
            statuses.append(Status.UNSUP_CLUSTER_COMMAND)
            continue
        out = handler(ctx, p.component, body)
        statuses.append(out if isinstance(out, int) else _status_of(out))
        if p is pending[-1] or pending[pending.index(p) + 1].message_code != p.message_code:
            _billing_snapshot(ctx, p.message_code)
    return PendingOutcome(tuple(statuses))


def _billing_snapshot(ctx: _Ctx, message_code: int) -> None:
    """The Billing Data Log entry a tariff or payment-mode change takes (see
    :data:`BILLING_SNAPSHOT_CAUSES`), stamped with the device time; none while the device
    has no time (IRP571: no entry with a time it could not know)."""
    cause = BILLING_SNAPSHOT_CAUSES.get(message_code)
    if cause is not None and ctx.now:
        ctx.model.take_snapshot(ctx.now, cause)


def future_dated_outcome(pending: PendingCommand, originator_counter: int) -> FutureDatedOutcome:
    """The alert-specific data of the 0x00CD alert (0x8F66/0x8F67) about ``pending``."""
    c = pending.component
    return FutureDatedOutcome(
        pending.message_code, originator_counter, c.cluster, c.zcl.frame_control, c.command_id
    )


def publish_snapshot_record(
    snapshot: Snapshot, *, prepayment: bool = False, total_found: int = 1
) -> PublishSnapshot | PublishPrepaySnapshot:
    """A stored snapshot as the Publish (Prepay) Snapshot record the Get commands send,
    e.g. for the GCS53 billing data log alert (0x8F0A, message code 0x008B)."""
    cls = PublishPrepaySnapshot if prepayment else PublishSnapshot
    return cls(
        snapshot.snapshot_id,
        snapshot.time,
        min(total_found, 0xFF),
        0,
        1,
        snapshot.cause,
        snapshot.payload_type,
        _typed_snapshot(cls, snapshot),
    )


def _status_of(out: list[ZclCommand]) -> int:
    for body in out:
        if isinstance(body, DefaultResponse) and body.status:
            return body.status
        if isinstance(body, StartSamplingResponse) and body.sample_id == 0xFFFF:
            return Status.FAILURE
        if isinstance(body, ConsumerTopUpResponse) and body.result_type not in (0, 0x10, 0x11):
            return Status.FAILURE
    return Status.SUCCESS


# --------------------------------------------------------------------------- plumbing


def _classify(model: ZclModel, comp: GbzComponent) -> tuple[Any, int | None]:
    """The typed body of a component, or the status that rejects it before dispatch."""
    hdr = comp.zcl
    if comp.ciphered is not None or comp.body is None:
        return None, Status.FAILURE
    if hdr.frame_type > 1:
        return None, Status.MALFORMED_COMMAND
    if hdr.manufacturer_specific:
        return None, (
            Status.UNSUP_MANUF_CLUSTER_COMMAND
            if hdr.cluster_specific
            else Status.UNSUP_MANUF_GENERAL_COMMAND
        )
    if not model.has_cluster(comp.cluster):
        return None, Status.UNSUPPORTED_CLUSTER
    body = comp.body
    if hdr.frame_type == 0:
        if hdr.command_id not in (0x00, 0x02):
            return None, Status.UNSUP_GENERAL_COMMAND
        if isinstance(body, RawZclPayload):
            body = _decode(comp, body.data)
            if body is None:
                return None, Status.MALFORMED_COMMAND
        if not isinstance(body, ReadAttributes | WriteAttributes) or (
            hdr.command_id != body.COMMAND_ID
        ):
            return None, Status.MALFORMED_COMMAND
        return body, None
    key = (comp.cluster, hdr.server_to_client, hdr.command_id)
    if isinstance(body, RawZclPayload):
        if key == _BLOCK_THRESHOLDS:
            return body, None
        if key not in _TYPED:
            return None, Status.UNSUP_CLUSTER_COMMAND
        body = _decode(comp, body.data)
        if body is None:
            return None, Status.MALFORMED_COMMAND
    if type(body) is not _TYPED.get(key):
        return None, Status.MALFORMED_COMMAND
    return body, None


def _decode(comp: GbzComponent, data: bytes) -> ZclCommand | None:
    try:
        return decode_zcl_payload(comp.cluster, comp.zcl.frame_control, comp.command_id, data)
    except GbcsDecodeError:
        return None


def _handler_for(body: Any) -> _Handler | None:
    if isinstance(body, RawZclPayload):
        return _publish_block_thresholds
    return _HANDLERS.get(type(body))


def _emit(ctx: _Ctx, comp: GbzComponent, out: _Out) -> None:
    bodies: list[ZclCommand] = (
        [DefaultResponse(comp.command_id, out)] if isinstance(out, int) else out
    )
    s2c = not comp.zcl.server_to_client
    for body in bodies:
        own = getattr(body, "SERVER_TO_CLIENT", None)
        if own is None:
            ddr = (
                isinstance(body, ReadAttributesResponse)
                and ctx.message_code in READ_RESPONSE_DDR_CODES
            )
            hdr = ZclHeader.make(
                body.COMMAND_ID,  # type: ignore[attr-defined]
                comp.zcl.sequence,
                cluster_specific=False,
                server_to_client=s2c,
                disable_default_response=ddr,
            )
        else:
            cid = body.COMMAND_ID  # type: ignore[attr-defined]
            ddr = DDR_OVERRIDES.get(
                (ctx.message_code, comp.cluster, cid),
                RESPONSE_DDR.get((comp.cluster, own, cid), False),
            )
            hdr = ZclHeader.make(
                cid,
                comp.zcl.sequence,
                cluster_specific=True,
                server_to_client=own,
                disable_default_response=ddr,
            )
        ctx.outputs.append(GbzComponent(comp.cluster, hdr, body))


def _protect(
    comp: GbzComponent, encrypted: frozenset[tuple[int, int, int]], seal: Sealer | None
) -> GbzComponent:
    if (comp.cluster, comp.zcl.frame_type, comp.command_id) not in encrypted:
        return comp
    if isinstance(comp.body, DefaultResponse):
        return comp
    if seal is None:
        raise GbzEngineError("a sensitive response component needs a seal")
    assert comp.body is not None
    try:
        blob = seal(comp.body.encode())
    except Exception as e:  # the caller's sealer: any failure makes the payload unanswerable
        raise GbzEngineError(f"seal failed: {e}") from e
    if not isinstance(blob, bytes) or len(blob) < 17 or blob[:5] != SECURITY_HEADER:
        raise GbzEngineError("seal must return 31 00000000 ‖ ciphertext ‖ tag12")
    return replace(comp, body=None, ciphered=GbzCiphered(blob))


def _fault_response(ctx: _Ctx, comp: GbzComponent, status: int) -> _Out:
    body = comp.body
    if isinstance(body, ReadAttributes) and comp.zcl.frame_type == 0 and body.attribute_ids:
        if status == 0:
            return Status.SUCCESS
        return [
            ReadAttributesResponse(
                tuple(AttributeReadRecord(a, status) for a in body.attribute_ids)
            )
        ]
    if isinstance(body, StartSampling):
        return [StartSamplingResponse(0xFFFF)]
    if isinstance(body, ConsumerTopUp):
        credit = ctx.model.get_int_or(PREPAYMENT, CREDIT_REMAINING)
        return [ConsumerTopUpResponse(status, 0, body.originating_device, credit)]
    return status


def failure_response(
    payload: GbzPayload, model: ZclModel, *, message_code: int, status: int = Status.FAILURE
) -> GbzPayload:
    """The answer to an authenticated command the device could not execute or answer (a
    handler error, an injected status a response cannot carry): every component answered
    with ``status`` as an injected fault is (module doc, **Faults**); nothing is executed
    or encrypted, and the model is only read."""
    ctx = _Ctx(model, message_code, 0, None)
    for comp in payload.components:
        _emit(ctx, comp, _fault_response(ctx, comp, status))
    return GbzPayload(tuple(ctx.outputs[:0xFF]))


def _with_records(
    ctx: _Ctx, comp: GbzComponent, out: _Out, records: Mapping[int, int] | None
) -> _Out:
    """``out`` with the given records of its Read Attributes Response failed (a component
    that answers no records fails whole with the first status)."""
    if not records:
        return out
    if isinstance(out, list) and any(isinstance(b, ReadAttributesResponse) for b in out):
        return [_fail_records(b, records) for b in out]
    return _fault_response(ctx, comp, next(iter(records.values())))


def _fail_records(body: ZclCommand, records: Mapping[int, int]) -> ZclCommand:
    if not isinstance(body, ReadAttributesResponse):
        return body
    recs = tuple(
        AttributeReadRecord(r.attribute_id, records[i]) if i in records else r
        for i, r in enumerate(body.records)
    )
    return ReadAttributesResponse(recs)


def _accepted(ctx: _Ctx, body: Any) -> _Out:
    """Immediate answer to a future-dated component."""
    if isinstance(body, ChangePaymentMode):
        return [_payment_mode_response(ctx.model)]
    return Status.SUCCESS


def _execution_time(comp: GbzComponent, body: Any) -> int | None:
    """The component's own execution time (0 = now), or None when it has none and so
    follows the previous timed component of the payload."""
    if comp.from_date_time is not None and comp.from_date_time not in _NOW:
        return comp.from_date_time
    name = EXECUTION_TIME_FIELDS.get(type(body))
    if name is not None:
        return int(getattr(body, name))
    if isinstance(body, RawZclPayload) and len(body.data) >= 12:
        return int.from_bytes(body.data[8:12], "little")
    return 0 if comp.from_date_time is not None else None


def _present(model: ZclModel, cluster: int, values: Mapping[int, Any]) -> dict[int, Any]:
    """The entries of ``values`` whose attributes the model has."""
    return {a: v for a, v in values.items() if model.attribute(cluster, a) is not None}


# --------------------------------------------------------------------------- general


def _read_attributes(ctx: _Ctx, comp: GbzComponent, body: ReadAttributes) -> _Out:
    if not body.attribute_ids:
        return Status.MALFORMED_COMMAND
    recs = []
    for aid in body.attribute_ids:
        if ctx.model.attribute(comp.cluster, aid) is None:
            recs.append(AttributeReadRecord(aid, Status.UNSUPPORTED_ATTRIBUTE))
            continue
        value = ctx.model.read(comp.cluster, aid)
        if value is None:
            recs.append(AttributeReadRecord(aid, Status.FAILURE))
        else:
            recs.append(AttributeReadRecord(aid, Status.SUCCESS, value))
    return [ReadAttributesResponse(tuple(recs))]


def _write_attributes(ctx: _Ctx, comp: GbzComponent, body: WriteAttributes) -> _Out:
    if not body.records:
        return Status.MALFORMED_COMMAND
    failed = []
    for r in body.records:
        st = ctx.model.write(comp.cluster, r.attribute_id, r.value)
        if st:
            failed.append(AttributeStatusRecord(st, r.attribute_id))
    if not failed:
        return [WriteAttributesResponse((AttributeStatusRecord(Status.SUCCESS),))]
    return [WriteAttributesResponse(tuple(failed))]


# --------------------------------------------------------------------------- Price


def _publish_price_matrix(ctx: _Ctx, comp: GbzComponent, body: PublishPriceMatrix) -> _Out:
    """Sub-payload control bit 0 set: TOU prices, the id is the tier (1..15) and the price
    goes to ``Tier<N>Block1Price`` (0x0400 + 16 N); clear: block prices, the id carries the
    tier in its upper nibble and the block (0-based) in the lower one (0x0400 + id)."""
    values: dict[int, int] = {}
    tou = bool(body.sub_payload_control & 0x01)
    for e in body.entries:
        if tou:
            if not 1 <= e.tier_block_id <= 15:
                return Status.INVALID_FIELD
            values[0x0400 + 16 * e.tier_block_id] = e.price
        else:
            values[0x0400 + e.tier_block_id] = e.price
    m = ctx.model
    st = m.store_many(PRICE, _present(m, PRICE, values))
    if st:
        return st
    if body.command_index == 0:
        m.price_matrix = [body]
    else:
        m.price_matrix.append(body)
    return Status.SUCCESS


def _publish_block_thresholds(ctx: _Ctx, comp: GbzComponent, body: RawZclPayload) -> _Out:
    """ZSE Publish Block Thresholds (not typed by :mod:`gbcs.zcl`): provider id, issuer
    event id, start time, issuer tariff id, command index, total commands, sub-payload
    control, then ``tier/count`` bytes each followed by ``count`` uint48 thresholds. The
    first set goes to ``Block<N>Threshold`` (0x0100 + N - 1)."""
    data = body.data
    size = _BLOCK_THRESHOLDS_HEAD.size
    if len(data) < size + 1:
        return Status.MALFORMED_COMMAND
    p = size
    sets: list[list[int]] = []
    while p < len(data):
        n = data[p] & 0x0F
        p += 1
        if p + 6 * n > len(data):
            return Status.MALFORMED_COMMAND
        sets.append([int.from_bytes(data[p + 6 * i : p + 6 * i + 6], "little") for i in range(n)])
        p += 6 * n
    m = ctx.model
    values = {0x0100 + i: t for i, t in enumerate(sets[0])}
    st = m.store_many(PRICE, _present(m, PRICE, values))
    if st:
        return st
    m.block_thresholds = data
    return Status.SUCCESS


def _get_current_price(ctx: _Ctx, comp: GbzComponent, body: GetCurrentPrice) -> _Out:
    """Publish Price for the tier active now (TOU: from the tariff calendar; block: from
    the block counters against the thresholds); start time 0 (now), duration 0xFFFF
    (until changed)."""
    m = ctx.model
    info = m.records.get("tariff_information")
    if not isinstance(info, PublishTariffInformation):
        return Status.NOT_FOUND
    tiers = info.number_of_price_tiers_in_use
    if tiers > 0:
        tier = _current_tier(m, ctx.now) or 1
        price = m.get_int_or(PRICE, 0x0400 + 16 * min(tier, 15))
    else:
        tier = 0
        used = sum(m.get_int_or(METERING, a) for a in BLOCK_COUNTER_IDS)
        block = sum(
            1
            for i in range(info.number_of_block_thresholds_in_use)
            if used >= m.get_int_or(PRICE, 0x0100 + i, 1 << 47)
        )
        price = m.get_int_or(PRICE, 0x0400 + min(block, 15))
    trailing = m.get_int_or(PRICE, 0x0617, info.price_trailing_digit)
    return [
        PublishPrice(
            provider_id=info.provider_id,
            rate_label=b"",
            issuer_event_id=info.issuer_event_id,
            current_time=ctx.now,
            unit_of_measure=m.get_int_or(PRICE, 0x0615, info.unit_of_measure),
            currency=m.get_int_or(PRICE, 0x0616, info.currency),
            price_trailing_digit_and_price_tier=(trailing & 0xF0) | (tier & 0x0F),
            number_of_price_tiers_and_register_tier=((tiers & 0x0F) << 4) | (tier & 0x0F),
            start_time=0,
            duration_in_minutes=0xFFFF,
            price=price,
        )
    ]


# --------------------------------------------------------------------------- Calendar


def _find_calendar(model: ZclModel, issuer_calendar_id: int) -> CalendarState | None:
    if issuer_calendar_id == 0xFFFFFFFF:
        return model.calendars.get("tariff")
    if issuer_calendar_id == 0xFFFFFFFE:
        return model.calendars.get("friendly_credit")
    for cal in model.calendars.values():
        if cal.calendar.issuer_calendar_id == issuer_calendar_id:
            return cal
    return None


def _profile_calendar(
    model: ZclModel, issuer_calendar_id: int, calendar_type: int | None
) -> CalendarState | None:
    cal = _find_calendar(model, issuer_calendar_id)
    if cal is None and calendar_type is not None:
        cal = model.calendars.get(calendar_slot(calendar_type))
    return cal


def _publish_calendar(ctx: _Ctx, comp: GbzComponent, body: PublishCalendar) -> _Out:
    ctx.model.calendars[calendar_slot(body.calendar_type)] = CalendarState(body)
    return Status.SUCCESS


def _publish_day_profile(ctx: _Ctx, comp: GbzComponent, body: PublishDayProfile) -> _Out:
    cal = _profile_calendar(ctx.model, body.issuer_calendar_id, body.calendar_type)
    if cal is None:
        return Status.NOT_FOUND
    if body.command_index == 0 or body.day_id not in cal.days:
        cal.days[body.day_id] = [body]
    else:
        cal.days[body.day_id].append(body)
    return Status.SUCCESS


def _publish_week_profile(ctx: _Ctx, comp: GbzComponent, body: PublishWeekProfile) -> _Out:
    cal = _profile_calendar(ctx.model, body.issuer_calendar_id, None)
    if cal is None:
        return Status.NOT_FOUND
    cal.weeks[body.week_id] = body
    return Status.SUCCESS


def _publish_seasons(ctx: _Ctx, comp: GbzComponent, body: PublishSeasons) -> _Out:
    cal = _profile_calendar(ctx.model, body.issuer_calendar_id, None)
    if cal is None:
        return Status.NOT_FOUND
    cal.seasons = [body] if body.command_index == 0 else [*cal.seasons, body]
    return Status.SUCCESS


def _publish_special_days(ctx: _Ctx, comp: GbzComponent, body: PublishSpecialDays) -> _Out:
    cal = _profile_calendar(ctx.model, body.issuer_calendar_id, body.calendar_type)
    if cal is None:
        return Status.NOT_FOUND
    cal.special_days = [body] if body.command_index == 0 else [*cal.special_days, body]
    return Status.SUCCESS


def _get_day_profiles(ctx: _Ctx, comp: GbzComponent, body: GetDayProfiles) -> _Out:
    """One Publish Day Profile (all its parts) per day id >= start day id, at most
    ``number_of_days`` days (0 = all)."""
    cal = _find_calendar(ctx.model, body.issuer_calendar_id)
    if cal is None:
        return Status.NOT_FOUND
    days = [d for d in sorted(cal.days) if d >= body.start_day_id]
    if body.number_of_days:
        days = days[: body.number_of_days]
    out: list[ZclCommand] = [r for d in days for r in cal.days[d]]
    return out or Status.NOT_FOUND


def _get_week_profiles(ctx: _Ctx, comp: GbzComponent, body: GetWeekProfiles) -> _Out:
    cal = _find_calendar(ctx.model, body.issuer_calendar_id)
    if cal is None:
        return Status.NOT_FOUND
    weeks = [w for w in sorted(cal.weeks) if w >= body.start_week_id]
    if body.number_of_weeks:
        weeks = weeks[: body.number_of_weeks]
    out: list[ZclCommand] = [cal.weeks[w] for w in weeks]
    return out or Status.NOT_FOUND


def _get_seasons(ctx: _Ctx, comp: GbzComponent, body: GetSeasons) -> _Out:
    cal = _find_calendar(ctx.model, body.issuer_calendar_id)
    if cal is None or not cal.seasons:
        return Status.NOT_FOUND
    return list(cal.seasons)


def _get_special_days(ctx: _Ctx, comp: GbzComponent, body: GetSpecialDays) -> _Out:
    cal = _find_calendar(ctx.model, body.issuer_calendar_id)
    if cal is None or not cal.special_days:
        return Status.NOT_FOUND
    return list(cal.special_days)


def _date_matches(d: ZclDate, year: int, month: int, day: int) -> bool:
    return (
        (d.year == 0xFF or d.year == year - 1900)
        and (d.month == 0xFF or d.month == month)
        and (d.day == 0xFF or d.day == day)
    )


def _current_tier(model: ZclModel, now: int) -> int | None:
    """The price tier the tariff calendar gives for ``now`` (UTC; special days, then
    seasons -> week profile -> weekday's day profile), or None."""
    cal = model.calendars.get("tariff")
    if cal is None or not now:
        return None
    t = utc_to_datetime(now)
    day_id = None
    for rec in cal.special_days:
        for e in rec.entries:
            if _date_matches(e.special_day_date, t.year, t.month, t.day):
                day_id = e.day_id_ref
    if day_id is None:
        entries = sorted(
            ((e.season_start_date.month, e.season_start_date.day), e.week_id_ref)
            for rec in cal.seasons
            for e in rec.entries
        )
        if not entries:
            return None
        week_id = entries[-1][1]
        for start, wid in entries:
            if start <= (t.month, t.day):
                week_id = wid
        week = cal.weeks.get(week_id)
        if week is None:
            return None
        day_id = week.day_id_refs[t.weekday()]
    parts = cal.days.get(day_id)
    if not parts:
        return None
    minute = t.hour * 60 + t.minute
    tier = None
    for e in sorted((e for p in parts for e in p.entries), key=lambda e: e.start_time):
        if e.start_time <= minute:
            tier = e.value
    return tier


# --------------------------------------------------------------------------- Device Management


def _event_group(event_id: int) -> int | None:
    """The high byte when ``event_id`` is a group id (``0xXXFF``)."""
    return event_id >> 8 if event_id & 0xFF == 0xFF else None


def _events_matching(model: ZclModel, event_id: int) -> list[int]:
    group = _event_group(event_id)
    if group is None:
        return [event_id] if event_id in model.event_configuration else []
    return [e for e in model.event_configuration if e >> 8 == group]


def _set_event_configuration(ctx: _Ctx, comp: GbzComponent, body: SetEventConfiguration) -> _Out:
    """Configuration control 0: the listed events; 1: an event group (``trailing`` =
    uint16 group id such as 0x81FF); 2: events logged to a log (``trailing`` = log id, the
    low 3 bits of their configuration); 3: events whose configuration equals ``trailing``
    (uint8). Unknown event ids are ignored; none matching -> NOT_FOUND."""
    m = ctx.model
    ctl = body.configuration_control
    t = body.trailing
    if ctl == 0:
        targets = [e for e in body.event_ids if e in m.event_configuration]
    elif ctl == 1 and len(t) == 2:
        targets = _events_matching(m, int.from_bytes(t, "little") | 0xFF)
    elif ctl == 2 and len(t) == 1:
        targets = [e for e, c in m.event_configuration.items() if c & 0x07 == t[0]]
    elif ctl == 3 and len(t) == 1:
        targets = [e for e, c in m.event_configuration.items() if c == t[0]]
    else:
        return Status.INVALID_FIELD
    if not targets:
        return Status.NOT_FOUND
    for e in targets:
        m.event_configuration[e] = body.event_configuration
    return Status.SUCCESS


def _get_event_configuration(ctx: _Ctx, comp: GbzComponent, body: GetEventConfiguration) -> _Out:
    m = ctx.model
    events = _events_matching(m, body.event_id)
    if not events:
        return Status.NOT_FOUND
    n = m.config.max_event_configurations_per_command
    chunks = [events[i : i + n] for i in range(0, len(events), n)]
    return [
        ReportEventConfiguration(
            i,
            len(chunks),
            tuple(EventConfigurationEntry(e, m.event_configuration[e]) for e in chunk),
        )
        for i, chunk in enumerate(chunks)
    ]


# --------------------------------------------------------------------------- Events


def _get_event_log(ctx: _Ctx, comp: GbzComponent, body: GetEventLog) -> _Out:
    """Log id (low nibble; 0 = all logs) entries between start and end time (0 = no
    bound), of ``event_id`` (0 = all, 0xXXFF a group), skipping ``event_offset``, at most
    ``number_of_events`` (0 = all), oldest first, split into Publish Event Log commands.
    Event control (high nibble) 0 sends no event data."""
    m = ctx.model
    log_id = body.event_control_log_id & 0x0F
    full = body.event_control_log_id >> 4 != 0
    logs = [m.event_logs.get(log_id, [])] if log_id else [m.event_logs[k] for k in m.event_logs]
    group = _event_group(body.event_id)
    matched = sorted(
        (
            e
            for log in logs
            for e in log
            if (body.start_time == 0 or e.event_time >= body.start_time)
            and (body.end_time == 0 or e.event_time <= body.end_time)
            and (
                body.event_id == 0
                or (e.event_id >> 8 == group if group is not None else e.event_id == body.event_id)
            )
        ),
        key=lambda e: e.event_time,
    )
    total = len(matched)
    chosen = matched[body.event_offset :]
    if body.number_of_events:
        chosen = chosen[: body.number_of_events]
    if not chosen:
        return Status.NOT_FOUND
    if not full:
        chosen = [EventLogEntry(e.log_id, e.event_id, e.event_time, b"") for e in chosen]
    n = m.config.max_event_log_entries_per_command
    chunks = [chosen[i : i + n] for i in range(0, len(chosen), n)]
    return [
        PublishEventLog(min(total, 0xFFFF), i, len(chunks), 0, tuple(chunk))
        for i, chunk in enumerate(chunks)
    ]


def _clear_event_log(ctx: _Ctx, comp: GbzComponent, body: ClearEventLogRequest) -> _Out:
    """Clears the requested log (0 = every clearable one) when the profile lists it as
    clearable; the response bitmap has bit ``log id`` set per cleared log."""
    m = ctx.model
    wanted = m.config.clearable_logs if body.log_id == 0 else (body.log_id,)
    cleared = 0
    for log_id in wanted:
        if log_id in m.config.clearable_logs and 0 < log_id < 8:
            m.event_logs[log_id] = []
            cleared |= 1 << log_id
    return [ClearEventLogResponse(cleared)]


# --------------------------------------------------------------------------- Metering


def _select_snapshots(
    snaps: list[Snapshot], earliest: int, latest: int, cause: int
) -> list[Snapshot]:
    """Snapshots in the half-open window [earliest, latest) whose cause shares a bit
    with ``cause``, oldest first. ZCL SE D.3.2.3.1.7 (Get Snapshot, and Get Prepay
    Snapshot by reference): a time stamp "equal to or greater than" Earliest Start Time
    and "less than" Latest End Time; 0 / 0xFFFFFFFF as Latest End Time means now."""
    return sorted(
        (
            s
            for s in snaps
            if s.time >= earliest
            and (latest in _NOW or s.time < latest)
            and (cause == 0xFFFFFFFF or s.cause & cause)
        ),
        key=lambda s: (s.time, s.snapshot_id),
    )


def _get_snapshot(ctx: _Ctx, comp: GbzComponent, body: GetSnapshot) -> _Out:
    """The ``snapshot_offset``-th (oldest first) snapshot in [earliest, latest) whose
    cause shares a bit with the requested cause (0xFFFFFFFF = any)."""
    found = _select_snapshots(
        ctx.model.snapshots, body.earliest_start_time, body.latest_end_time, body.snapshot_cause
    )
    if body.snapshot_offset >= len(found):
        return Status.NOT_FOUND
    return [publish_snapshot_record(found[body.snapshot_offset], total_found=len(found))]


def _typed_snapshot(cls: type, s: Snapshot) -> Any:
    """The snapshot payload as the decoder would type it (raw bytes otherwise)."""
    probe = cls(0, 0, 0, 0, 0, 0, s.payload_type, s.payload)
    try:
        rec = decode_zcl_payload(cls.CLUSTER, 0x09, cls.COMMAND_ID, probe.encode())  # type: ignore[attr-defined]
    except (GbcsDecodeError, GbcsEncodeError):
        return s.payload
    return rec.snapshot_payload  # type: ignore[attr-defined]


def _start_sampling(ctx: _Ctx, comp: GbzComponent, body: StartSampling) -> _Out:
    """(Re)starts the profile's ``start_sampling_id`` set (the network data log, id 2);
    sample id 0xFFFF when the device has none or the request is unusable."""
    m = ctx.model
    sid = m.config.start_sampling_id
    if sid is None or body.sample_request_interval == 0 or body.max_number_of_samples == 0:
        return [StartSamplingResponse(0xFFFF)]
    m.samplings[sid] = Sampling(
        body.sample_type,
        body.sample_request_interval,
        body.max_number_of_samples,
        body.start_sampling_time or ctx.now,
        [],
        body.issuer_event_id,
    )
    m.records["start_sampling"] = body
    return [StartSamplingResponse(sid)]


def _get_sampled_data(ctx: _Ctx, comp: GbzComponent, body: GetSampledData) -> _Out:
    """Up to ``number_of_samples`` samples from the first one taken at or after
    ``earliest_sample_time``."""
    s = ctx.model.samplings.get(body.sample_id)
    if s is None or s.sample_type != body.sample_type or not s.samples:
        return Status.NOT_FOUND
    first = max(0, -(-(body.earliest_sample_time - s.start) // s.step))
    samples = s.samples[first : first + body.number_of_samples]
    if not samples:
        return Status.NOT_FOUND
    return [
        GetSampledDataResponse(
            body.sample_id,
            s.start + first * s.step,
            s.sample_type,
            s.interval,
            tuple(samples[:0xFFFE]),
        )
    ]


def _change_supply(ctx: _Ctx, comp: GbzComponent, body: ChangeSupply) -> _Out:
    """Supply Status Response carrying the new status (0 off, 1 armed, 2 on); a value
    outside 0..2 -> INVALID_VALUE; a bound setter's refusal -> its status."""
    if body.proposed_supply_status > 2:
        return Status.INVALID_VALUE
    m = ctx.model
    st = m.store(METERING, SUPPLY_STATUS, body.proposed_supply_status)
    if st:
        return st
    m.records["change_supply"] = body
    return [
        SupplyStatusResponse(
            body.provider_id,
            body.issuer_event_id,
            body.implementation_date_time,
            m.get_int_or(METERING, SUPPLY_STATUS, body.proposed_supply_status),
        )
    ]


# --------------------------------------------------------------------------- Prepayment

_CREDIT_STATUS = 0x0003
_EC_REMAINING = 0x0002
_EC_LIMIT = 0x0010
_EC_THRESHOLD = 0x0011
_EC_SELECTED_IN_USE = 0x30  # Credit Status bits 4 (selected) and 5 (in use)


def _select_emergency_credit(
    ctx: _Ctx, comp: GbzComponent, body: SelectAvailableEmergencyCredit
) -> _Out:
    """Marks emergency credit selected and in use (Credit Status bits 4-5) and, unless it
    already was, makes the emergency credit limit available."""
    m = ctx.model
    status = m.get_int_or(PREPAYMENT, _CREDIT_STATUS)
    values: dict[int, Any] = {_CREDIT_STATUS: status | _EC_SELECTED_IN_USE}
    if status & _EC_SELECTED_IN_USE != _EC_SELECTED_IN_USE:
        values[_EC_REMAINING] = m.get_int_or(PREPAYMENT, _EC_LIMIT)
    st = m.store_many(PREPAYMENT, _present(m, PREPAYMENT, values))
    if st:
        return st
    m.records["emergency_credit_selected"] = body
    return Status.SUCCESS


def _change_debt(ctx: _Ctx, comp: GbzComponent, body: ChangeDebt) -> _Out:
    """Debt amount type 0/1: debt 1 absolute/incremental, 2/3: debt 2, 4/5: debt 3; the
    debt's label, amount and recovery attributes (0x0210 + 0x10 (n - 1) + offset)."""
    if body.debt_amount_type > 5:
        return Status.INVALID_FIELD
    m = ctx.model
    base = 0x0210 + 0x10 * (body.debt_amount_type // 2)
    amount = body.debt_amount
    if body.debt_amount_type & 1:
        amount += m.get_int_or(PREPAYMENT, base + 1)
    values = {
        base + 0: body.debt_label,
        base + 1: amount,
        base + 2: body.debt_recovery_method,
        base + 3: body.debt_recovery_start_time,
        base + 4: body.debt_recovery_collection_time,
        base + 6: body.debt_recovery_frequency,
        base + 7: body.debt_recovery_amount,
        base + 9: body.debt_recovery_balance_percentage,
    }
    st = m.store_many(PREPAYMENT, _present(m, PREPAYMENT, values))
    if st:
        return st
    m.records[f"debt{body.debt_amount_type // 2 + 1}"] = body
    return Status.SUCCESS


def _credit_adjustment(ctx: _Ctx, comp: GbzComponent, body: CreditAdjustment) -> _Out:
    """Type 0/1: Credit Remaining incremental/absolute (prepayment meter balance, GCS40a/b);
    2/3: credit-mode meter balance, Metering BillToDateDelivered, absolute/incremental
    (GCS40d/c). A result out of the attribute's range -> INVALID_VALUE."""
    m = ctx.model
    t = body.credit_adjustment_type
    v = body.credit_adjustment_value
    if t in (0, 1):
        cluster, attr = PREPAYMENT, CREDIT_REMAINING
        value = v + m.get_int_or(cluster, attr) if t == 0 else v
    elif t in (2, 3):
        cluster, attr = METERING, BILL_TO_DATE_DELIVERED
        value = v + m.get_int_or(cluster, attr) if t == 3 else v
    else:
        return Status.INVALID_FIELD
    if m.attribute(cluster, attr) is None:
        return Status.UNSUPPORTED_ATTRIBUTE
    st = m.store(cluster, attr, value)
    if st:
        return st
    m.records["credit_adjustment"] = body
    return Status.SUCCESS


def _payment_mode_response(m: ZclModel) -> ChangePaymentModeResponse:
    fc = m.calendars.get("friendly_credit")
    return ChangePaymentModeResponse(
        0x01 if fc is not None else 0x00,
        fc.calendar.issuer_calendar_id if fc is not None else 0,
        m.get_int_or(PREPAYMENT, _EC_LIMIT),
        m.get_int_or(PREPAYMENT, _EC_THRESHOLD),
    )


def _change_payment_mode(ctx: _Ctx, comp: GbzComponent, body: ChangePaymentMode) -> _Out:
    m = ctx.model
    st = m.store_many(
        PREPAYMENT,
        _present(
            m,
            PREPAYMENT,
            {0x0000: body.proposed_payment_control_configuration, 0x0040: body.cut_off_value},
        ),
    )
    if st:
        return st
    m.records["payment_mode"] = body
    return [_payment_mode_response(m)]


def _consumer_top_up(ctx: _Ctx, comp: GbzComponent, body: ConsumerTopUp) -> _Out:
    """ZSE result types: 0x00 accepted, 0x01 invalid code (not 20 ASCII digits, or refused
    by ``top_up``), 0x02 duplicate (code already in the top-up log), 0x04 maximum credit
    reached (``MaxCreditLimit`` 0x0021, 0 = no limit), 0x06 value too large
    (``MaxCreditPerTopUp`` 0x0022, 0 = no limit). Without ``top_up`` a valid code is worth
    nothing (value 0): the device must supply the UTRN decoder."""
    m = ctx.model
    code = body.top_up_code
    credit = m.get_int_or(PREPAYMENT, CREDIT_REMAINING)

    def answer(result: int, value: int = 0, remaining: int = credit) -> _Out:
        return [ConsumerTopUpResponse(result, value, body.originating_device, remaining)]

    if code is None or len(code) != 20 or not code.isdigit():
        return answer(0x01)
    if any(e.top_up_code == code for e in m.top_up_log):
        return answer(0x02)
    value = ctx.top_up(code) if ctx.top_up is not None else 0
    if value is None or not -(1 << 31) <= value < 1 << 31:
        return answer(0x01)
    per_top_up = m.get_int_or(PREPAYMENT, 0x0022)
    if per_top_up and value > per_top_up:
        return answer(0x06)
    limit = m.get_int_or(PREPAYMENT, 0x0021)
    new_credit = credit + value
    if limit and new_credit > limit:
        return answer(0x04)
    before = m.to_dict()
    new_credit -= _recover_payment_debts(ctx, value)
    st = m.store(PREPAYMENT, CREDIT_REMAINING, new_credit)
    if st:
        m.restore(before)
        return answer(0x03)
    # IRP571: kept without a time (ZCL UTCTime invalid value) so a duplicate is still caught
    m.record_top_up(code, value, ctx.now or 0xFFFFFFFF)
    return answer(0x00, value, new_credit)


_PERCENTAGE_BASED = 0x01
"""ZSE DebtRecoveryMethod: percentage (payment) based; GBCS's payment-based debt is
Debt 3 with this method (GCS04)."""


def _recover_payment_debts(ctx: _Ctx, value: int) -> int:
    """Payment-based debt recovery on a top-up of ``value``: each debt n (1..3) whose
    DebtRecoveryMethod is percentage based and whose recovery has started takes
    DebtRecoveryTopUpPercentage n (hundredths of a percent) of the top-up, at most what it
    still owes; each collection goes to the debt log (debt type n - 1, the amount still
    outstanding). Returns the total collected (taken from the credit the top-up adds)."""
    m = ctx.model
    total = 0
    for n in range(3):
        base = 0x0210 + 0x10 * n
        if m.attribute(PREPAYMENT, base + 1) is None:
            continue
        if m.get_int_or(PREPAYMENT, base + 2) != _PERCENTAGE_BASED:
            continue
        if ctx.now and m.get_int_or(PREPAYMENT, base + 3) > ctx.now:
            continue
        owed = m.get_int_or(PREPAYMENT, base + 1)
        collected = min(owed, max(0, value) * m.get_int_or(PREPAYMENT, base + 9) // 10_000)
        if collected <= 0 or m.store(PREPAYMENT, base + 1, owed - collected):
            continue
        # IRP571: as the top-up log, without a time the entry carries UTCTime invalid
        m.record_debt_collection(ctx.now or 0xFFFFFFFF, collected, n, owed - collected)
        total += collected
    return total


def _get_prepay_snapshot(ctx: _Ctx, comp: GbzComponent, body: GetPrepaySnapshot) -> _Out:
    found = _select_snapshots(
        ctx.model.prepay_snapshots,
        body.earliest_start_time,
        body.latest_end_time,
        body.snapshot_cause,
    )
    if body.snapshot_offset >= len(found):
        return Status.NOT_FOUND
    snap = found[body.snapshot_offset]
    return [publish_snapshot_record(snap, prepayment=True, total_found=len(found))]


def _get_top_up_log(ctx: _Ctx, comp: GbzComponent, body: GetTopUpLog) -> _Out:
    """Entries between the GBZ from date-time (if any) and ``latest_end_time`` (0 or
    0xFFFFFFFF: no bound), most recent first, at most ``number_of_records`` (0 = all)."""
    earliest = comp.from_date_time or 0
    latest = 0xFFFFFFFF if body.latest_end_time in _NOW else body.latest_end_time
    entries = [e for e in reversed(ctx.model.top_up_log) if earliest <= e.top_up_time <= latest]
    if body.number_of_records:
        entries = entries[: body.number_of_records]
    if not entries:
        return Status.NOT_FOUND
    return [PublishTopUpLog(0, 1, tuple(entries))]


def _get_debt_log(ctx: _Ctx, comp: GbzComponent, body: GetDebtRepaymentLog) -> _Out:
    """Collections of ``debt_type`` (0xFF = all) between the GBZ from date-time and
    ``latest_end_time`` (0 or 0xFFFFFFFF: no bound), most recent first, at most
    ``number_of_debts`` (0 = all)."""
    earliest = comp.from_date_time or 0
    latest = 0xFFFFFFFF if body.latest_end_time in _NOW else body.latest_end_time
    entries = [
        e
        for e in reversed(ctx.model.debt_log)
        if earliest <= e.collection_time <= latest
        and (body.debt_type == 0xFF or e.debt_type == body.debt_type)
    ]
    if body.number_of_debts:
        entries = entries[: body.number_of_debts]
    if not entries:
        return Status.NOT_FOUND
    return [PublishDebtLog(0, 1, tuple(entries))]


# --------------------------------------------------------------------------- dispatch


def _plain_write(ctx: _Ctx, comp: GbzComponent, body: Any) -> _Out:
    """A row of :data:`devices.zcl_plain.WRITES`: fields -> attributes, then the record."""
    return write_plain(ctx.model, body)


def _plain_read(ctx: _Ctx, comp: GbzComponent, body: Any) -> _Out:
    """A row of :data:`devices.zcl_plain.READS`: the kept record(s), or NOT_FOUND."""
    return read_plain(ctx.model, body)


_HANDLERS: dict[type, _Handler] = {
    **dict.fromkeys(PLAIN_WRITES, _plain_write),
    **dict.fromkeys(PLAIN_READS, _plain_read),
    ReadAttributes: _read_attributes,
    WriteAttributes: _write_attributes,
    # Price
    PublishPriceMatrix: _publish_price_matrix,
    GetCurrentPrice: _get_current_price,
    # Calendar
    PublishCalendar: _publish_calendar,
    PublishDayProfile: _publish_day_profile,
    PublishWeekProfile: _publish_week_profile,
    PublishSeasons: _publish_seasons,
    PublishSpecialDays: _publish_special_days,
    GetDayProfiles: _get_day_profiles,
    GetWeekProfiles: _get_week_profiles,
    GetSeasons: _get_seasons,
    GetSpecialDays: _get_special_days,
    # Device Management
    SetEventConfiguration: _set_event_configuration,
    GetEventConfiguration: _get_event_configuration,
    # Events
    GetEventLog: _get_event_log,
    ClearEventLogRequest: _clear_event_log,
    # Metering
    GetSnapshot: _get_snapshot,
    StartSampling: _start_sampling,
    GetSampledData: _get_sampled_data,
    ChangeSupply: _change_supply,
    # Prepayment
    SelectAvailableEmergencyCredit: _select_emergency_credit,
    ChangeDebt: _change_debt,
    ConsumerTopUp: _consumer_top_up,
    CreditAdjustment: _credit_adjustment,
    ChangePaymentMode: _change_payment_mode,
    GetPrepaySnapshot: _get_prepay_snapshot,
    GetTopUpLog: _get_top_up_log,
    GetDebtRepaymentLog: _get_debt_log,
}
"""Command class -> handler: the plain rows of :mod:`devices.zcl_plain`, then the commands
with logic of their own."""

_FAN_OUT: frozenset[type] = frozenset(
    (
        GetDayProfiles,
        GetWeekProfiles,
        GetSeasons,
        GetSpecialDays,
        GetEventConfiguration,
        GetEventLog,
    )
)
"""Get commands that may answer with several records."""

_READ_ONLY: frozenset[_Handler] = frozenset(
    (
        _read_attributes,
        _plain_read,
        _get_current_price,
        _get_day_profiles,
        _get_week_profiles,
        _get_seasons,
        _get_special_days,
        _get_event_configuration,
        _get_event_log,
        _get_snapshot,
        _get_sampled_data,
        _get_prepay_snapshot,
        _get_top_up_log,
        _get_debt_log,
    )
)
