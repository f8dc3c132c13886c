"""Handlers of the GBCS use cases whose payload is ASN.1 DER (ESME, GSME, GPF, CHF).

:func:`handle_asn1` runs one authenticated command against an :class:`Asn1Context`
(the device state it needs) and returns an :class:`Asn1Result`: the response payload,
alerts to raise and whether state changed. :func:`due_asn1` runs what is time-driven
(future-dated CS06 and CS02b/CS02g). Both are sans-IO; time is the context's ``now``.

Use cases (message codes; structures in :mod:`devices.credentials`,
:mod:`devices.han_joins`, :mod:`devices.firmware_state`, :mod:`gbcs.firmware`,
:class:`gbcs.asn1.SetTimeCommand`):

* CS02a/CS02f 0x0008/0x011B credential details; CS02b 0x0100–0x0109 and CS02g
  0x0125/0x0126 update security credentials; CS02c/d/e 0x000A/0x000B/0x000C own key pair
  and certificate: every device type (its cells per :data:`devices.trust.ANCHOR_ROLES`);
* CS03A1/CS03B/CS03C 0x000D/0x000E/0x00AF join, CS04AC/CS04B 0x000F/0x0010 unjoin, CS07
  0x0013 read device join details: ESME, GSME, GPF;
* CS06 0x0012 activate firmware: ESME, GSME, CHF;
* GCS28 0x007F set clock: GSME; GCS59 0x008C restore GPF device log: GPF.

Choices where GBCS text was not available ([INF]): GCS28 sets the GSME clock to the
Comms Hub time (the caller's ``now``) when that lies within the command's validity
interval (status RELIABLE, 0x8145 logged); otherwise the clock is unchanged and the
status is INVALID (clock invalid) or UNRELIABLE. GCS59 adds each restored entry like a
join (per-entry join response codes; an entry the GPF could never join answers 2).
Future-dated commands need a valid clock: without one CS06 answers activation failure
and CS02b refuses every replacement (status OTHER).

Responses have the RTDS DER shape (tags, nesting, child counts); values are ours. We
emit minimal DER lengths where the RTDS devices sometimes use ``82 00 xx``.

Logs (through the context's callbacks): joins 0x8F49/0x8F48, unjoins 0x8F4B/0x8F4A,
successful credential replacement 0x8F70, own certificate replacement 0x8F4D/0x8F4C
(DS) and 0x8F4F/0x8F4E (KA), firmware version change 0x8F43 — security log; clock set
by GCS28 0x8145 — event log.

Alerts: future-dated outcomes 0x00CA (CS06), 0x00CB (CS02b), 0x0124 (CS02g) with
0x8F66/0x8F67, critical, to the command's originator; on a GPF every change of its
device log raises the GCS62 backup alert (0x00B2, 0x8071, non-critical, to the ACB).

Fault injection: ``ctx.faults[message_code]`` (non-zero) forces that outcome code
(response code, status code or device time status) and leaves state unchanged.

Errors: :class:`UnsupportedUseCase` for a code this module does not handle for the
device type, :class:`MalformedCommand` for a payload that does not have the use case's
structure (the device should treat it as a failed content check, 0x8F1E). Both are
:class:`Asn1HandlerError`, a ``ValueError``; state is unchanged when they are raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gbcs.asn1 import (
    Asn1Payload,
    DerNode,
    DeviceTimeStatus,
    SetTimeCommand,
    SetTimeResponse,
    UniversalTag,
    decode_der,
    decode_der_node,
    der_generalized_time,
    der_integer,
    der_octet_string,
    der_sequence,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.firmware import ActivateFirmwareCommand, ActivateFirmwareResponseCode
from gbcs.usecases import DeviceType
from keys.roles import KeyUsage, RemotePartyRole

from .clock import ClockStatus, DeviceClock
from .credentials import (
    MODE_BY_CODE,
    CredentialsError,
    CredentialState,
    DeviceCertificateResponse,
    IssueResponse,
    PendingUpdate,
    ProvideCertificateResponse,
    StatusCode,
    UpdateCredentialsCommand,
    UpdateOutcome,
    apply_update,
    credential_details,
    describe_cell,
    details_response_der,
    issue_credentials,
    load_certificate,
    parse_details_command,
    parse_key_usage_command,
    provide_device_certificate,
    update_alert_der,
    update_device_certificate,
    update_response_der,
)
from .firmware_state import FirmwareError, FirmwareState
from .han_joins import (
    HanDeviceType,
    HanJoins,
    JoinMethod,
    JoinResponse,
    ReadJoinResponse,
    UnjoinResponse,
)
from .trust import OwnKeys, TrustAnchors

__all__ = [
    "FAILURE_OUTCOMES",
    "HANDLED_CODES",
    "Asn1Alert",
    "Asn1Context",
    "Asn1HandlerError",
    "Asn1Result",
    "MalformedCommand",
    "UnsupportedUseCase",
    "due_asn1",
    "failure_response",
    "gpf_backup_alert",
    "handle_asn1",
    "next_due",
]

R = RemotePartyRole
D = DeviceType

EV_CLOCK_ADJUSTED = 0x8145
EV_FIRMWARE_VERSION_CHANGED = 0x8F43
EV_JOIN_FAILED, EV_JOIN_OK = 0x8F48, 0x8F49
EV_UNJOIN_FAILED, EV_UNJOIN_OK = 0x8F4A, 0x8F4B
EV_DS_CERT_FAILED, EV_DS_CERT_OK = 0x8F4C, 0x8F4D
EV_KA_CERT_FAILED, EV_KA_CERT_OK = 0x8F4E, 0x8F4F
EV_CREDENTIALS_UPDATED = 0x8F70
ALERT_FUTURE_OK, ALERT_FUTURE_FAILED = 0x8F66, 0x8F67
ALERT_GPF_LOG_CHANGED = 0x8071

MC_FIRMWARE_ALERT = 0x00CA
MC_CREDENTIALS_ALERT = 0x00CB
MC_LOAD_CONTROLLER_ALERT = 0x0124
MC_GPF_LOG_BACKUP = 0x00B2


class Asn1HandlerError(ValueError):
    """A command :func:`handle_asn1` cannot execute; nothing was changed."""

    def __init__(self, message_code: int, reason: str) -> None:
        self.message_code = message_code
        self.reason = reason
        super().__init__(f"0x{message_code:04X}: {reason}")


class UnsupportedUseCase(Asn1HandlerError):
    """The message code has no ASN.1 handler here for this device type."""


class MalformedCommand(Asn1HandlerError):
    """The payload does not have the use case's structure or values."""


def _no_log(code: int, detail: str) -> None:
    return None


@dataclass(slots=True)
class Asn1Context:
    """What the handlers read and change.

    The mutable parts (``anchors``, ``credentials``, ``firmware``, ``joins``, ``clock``,
    ``counters``) are changed in place. ``own`` is immutable: a CS02d that replaces a key
    pair returns the new :class:`OwnKeys` in :attr:`Asn1Result.own_keys` for the device
    to install. ``joins`` is the device log (on a GPF: the GPF Device Log). ``counters``
    is the last accepted originator counter per EUI (CS02a reads it, CS02b floors set
    it). ``originator`` is the command's originator EUI (recipient of future-dated
    outcome alerts). ``log_event`` / ``log_security`` take (code, detail); the device
    stamps the time. ``faults`` maps message codes to forced outcome codes.
    """

    device_type: DeviceType
    own: OwnKeys
    anchors: TrustAnchors
    now: datetime
    clock: DeviceClock = field(default_factory=DeviceClock)
    credentials: CredentialState = field(default_factory=CredentialState)
    firmware: FirmwareState = field(default_factory=FirmwareState)
    joins: HanJoins = field(default_factory=HanJoins)
    counters: MutableMapping[bytes, int] = field(default_factory=dict)
    originator: bytes = bytes(8)
    log_event: Callable[[int, str], None] = _no_log
    log_security: Callable[[int, str], None] = _no_log
    faults: Mapping[int, int] = field(default_factory=dict)
    #: Check new certificates' validity period against the device time (CS02b/CS02g).
    #: RTDS 6.15.1 devices accept certificates valid only from 2016 at a device time of
    #: 2015-01-01, so DCC's reference devices do not; the device option decides.
    certificate_time_checks: bool = True

    @property
    def eui(self) -> bytes:
        """The device's own EUI."""
        return self.own.eui

    @property
    def device_time(self) -> datetime | None:
        """The device clock (None while invalid)."""
        return self.clock.read(self.now)

    def fault(self, message_code: int) -> int | None:
        """The forced outcome for ``message_code`` (None: behave normally)."""
        return self.faults.get(message_code) or None


@dataclass(frozen=True, slots=True)
class Asn1Alert:
    """An alert to raise: alert code, criticality, recipient, message code, DER payload.

    Maps one to one onto the device's ``AlertSpec(code, critical, recipient,
    message_code, payload=payload)``.
    """

    code: int
    critical: bool
    recipient: RemotePartyRole | bytes
    message_code: int
    payload: Asn1Payload


@dataclass(slots=True)
class Asn1Result:
    """What a handler produced.

    ``payload`` is the response (None: no response, as for :func:`due_asn1`); ``changed``
    says whether persistent state changed; ``own_keys`` carries new own key pairs after a
    successful CS02d; ``firmware_activated`` is True when the running firmware version
    changed (the device applies its activation side effects, e.g. the ESME's MP102 Comms
    Hub supply cut, there).
    """

    payload: Asn1Payload | None
    alerts: list[Asn1Alert] = field(default_factory=list)
    changed: bool = False
    own_keys: OwnKeys | None = None
    firmware_activated: bool = False


_Handler = Callable[[int, Asn1Payload, Asn1Context], Asn1Result]
_ALL_TYPES = frozenset({D.ESME, D.GSME, D.GPF, D.CHF})
_LOG_TYPES = frozenset({D.ESME, D.GSME, D.GPF})
_HAN_TYPE = {
    D.ESME: HanDeviceType.ESME,
    D.GSME: HanDeviceType.GSME,
    D.GPF: HanDeviceType.GPF,
    D.CHF: HanDeviceType.CHF,
}
_JOIN_METHOD = {
    0x000D: JoinMethod.METHOD_A_INITIATOR,
    0x000E: JoinMethod.METHOD_B,
    0x00AF: JoinMethod.METHOD_C,
}
_UNJOIN_METHODS = {
    0x000F: (JoinMethod.METHOD_A_INITIATOR, JoinMethod.METHOD_A_RESPONDER, JoinMethod.METHOD_C),
    0x0010: (JoinMethod.METHOD_B,),
}


# --------------------------------------------------------------------------- helpers


def _node(code: int, payload: Asn1Payload) -> DerNode:
    try:
        # Validate again: an Asn1Payload built by hand from bytes was never checked.
        nodes = decode_der(payload.raw, path="payload")
    except GbcsDecodeError as e:
        raise MalformedCommand(code, str(e)) from None
    if len(nodes) != 1:
        raise MalformedCommand(code, f"expected one DER value, found {len(nodes)}")
    return nodes[0]


def _reply(node: DerNode) -> Asn1Payload:
    return Asn1Payload.from_nodes(node)


def _whole(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(microsecond=0)


def _stamp(ctx: Asn1Context) -> datetime:
    """Device time for a payload time field; the raw clock (caller time plus offset) while
    the clock is invalid, since a GeneralizedTime cannot be absent."""
    t = ctx.device_time
    return _whole(t if t is not None else ctx.now + timedelta(seconds=ctx.clock.offset))


def _han_type(ctx: Asn1Context) -> HanDeviceType:
    return _HAN_TYPE[ctx.device_type]


def _gpf_log_alert(ctx: Asn1Context, before: dict[str, Any]) -> list[Asn1Alert]:
    if ctx.device_type is not D.GPF or ctx.joins.to_dict() == before:
        return []
    return [gpf_backup_alert(ctx.joins, _stamp(ctx))]


def gpf_backup_alert(joins: HanJoins, when: datetime) -> Asn1Alert:
    """GCS62 GPF Device Log Backup alert (0x00B2, alert 0x8071) carrying the whole log."""
    node = der_sequence(
        der_integer(ALERT_GPF_LOG_CHANGED),
        der_generalized_time(_whole(when)),
        der_sequence(*(_entry_der(e.eui, e.device_type) for e in joins)),
    )
    return Asn1Alert(
        ALERT_GPF_LOG_CHANGED, False, R.ACCESS_CONTROL_BROKER, MC_GPF_LOG_BACKUP, _reply(node)
    )


def _entry_der(eui: bytes, device_type: int) -> DerNode:
    return der_sequence(der_octet_string(eui), der_integer(device_type))


# --------------------------------------------------------------------------- credentials


def _cs02a(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    _, roles = parse_details_command(_node(code, payload))
    details = credential_details(
        roles,
        device_type=ctx.device_type,
        anchors=ctx.anchors,
        state=ctx.credentials,
        counters=ctx.counters,
        fault=ctx.fault(code),
    )
    return Asn1Result(_reply(details_response_der(details)))


def _run_update(
    code: int, cmd: UpdateCredentialsCommand, ctx: Asn1Context, fault: int | None
) -> UpdateOutcome:
    outcome = apply_update(
        cmd,
        message_code=code,
        device_type=ctx.device_type,
        anchors=ctx.anchors,
        state=ctx.credentials,
        device_time=ctx.device_time if ctx.certificate_time_checks else None,
        counters=ctx.counters,
        fault=fault,
    )
    if outcome.succeeded and outcome.outcomes:
        cells = ", ".join(describe_cell(o.target) for o in outcome.outcomes)
        ctx.log_security(EV_CREDENTIALS_UPDATED, f"0x{code:04X} replaced {cells}")
    return outcome


def _cs02b(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    node = _node(code, payload)
    cmd = UpdateCredentialsCommand.from_der(node)
    if cmd.mode != MODE_BY_CODE[code]:
        raise MalformedCommand(code, f"replacement mode {cmd.mode} does not fit this code")
    when = cmd.execution_time
    fault = ctx.fault(code)
    if when is not None:
        now = ctx.device_time
        if now is None:
            # No clock: a future-dated command cannot be scheduled ([INF]); refuse it all.
            fault = fault or StatusCode.OTHER
        elif when > now and fault is None:
            pending = PendingUpdate(code, node.encode(), ctx.originator, when.astimezone(UTC))
            ctx.credentials.pending_updates.append(pending)
            ctx.credentials.pending_updates.sort(key=lambda p: p.execution_time)
            return Asn1Result(_reply(update_response_der(None)), changed=True)
    outcome = _run_update(code, cmd, ctx, fault)
    return Asn1Result(_reply(update_response_der(outcome)), changed=outcome.succeeded)


def _cs02c(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    usage = parse_key_usage_command(_node(code, payload))
    out = issue_credentials(usage, ctx.eui, ctx.credentials, fault=ctx.fault(code))
    if isinstance(out, bytes):
        return Asn1Result(_reply(decode_der_node(out, "certification_request")), changed=True)
    return Asn1Result(_reply(der_integer(int(out))))


def _cs02d(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    node = _node(code, payload)
    if not node.is_universal(UniversalTag.SEQUENCE):
        raise MalformedCommand(code, f"expected a Certificate, found {node.type_name()}")
    out = update_device_certificate(node.encode(), ctx.own, ctx.credentials, fault=ctx.fault(code))
    ok = out.code is DeviceCertificateResponse.SUCCESS
    if out.usage is not None:
        if out.usage is KeyUsage.DS:
            ev = EV_DS_CERT_OK if ok else EV_DS_CERT_FAILED
        else:
            ev = EV_KA_CERT_OK if ok else EV_KA_CERT_FAILED
        ctx.log_security(ev, out.code.name.lower())
    return Asn1Result(_reply(der_integer(int(out.code))), changed=ok, own_keys=out.own_keys)


def _cs02e(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    usage = parse_key_usage_command(_node(code, payload))
    out = provide_device_certificate(usage, ctx.credentials, fault=ctx.fault(code))
    if isinstance(out, bytes):
        try:
            return Asn1Result(_reply(decode_der_node(out, "certificate")))
        except GbcsDecodeError:
            out = ProvideCertificateResponse.CERTIFICATE_RETRIEVAL_FAILURE
    return Asn1Result(_reply(der_integer(int(out))))


# --------------------------------------------------------------------------- HAN joins


def _read(node: DerNode, code: int, what: str, number: int) -> DerNode:
    if node.constructed and number != UniversalTag.SEQUENCE:
        raise MalformedCommand(code, f"{what}: expected a primitive value")
    if not node.is_universal(number):
        raise MalformedCommand(code, f"{what}: unexpected {node.type_name()}")
    return node


def _small_int(node: DerNode, code: int, what: str) -> int:
    _read(node, code, what, UniversalTag.INTEGER)
    v = int.from_bytes(node.content, "big", signed=True) if node.content else -1
    if not node.content or not 0 <= v <= 0xFFFF:
        raise MalformedCommand(code, f"{what}: {v} out of range")
    return v


def _eui(node: DerNode, code: int, what: str = "entity_id") -> bytes:
    v = _read(node, code, what, UniversalTag.OCTET_STRING).content
    if len(v) != 8:
        raise MalformedCommand(code, f"{what} must be 8 bytes, found {len(v)}")
    return v


def _valid_partner_certificate(der: bytes, eui: bytes) -> bool:
    """A Method C partner certificate: a device KA certificate naming ``eui``."""
    loaded = load_certificate(der)
    if loaded is None:
        return False
    info = loaded[1]
    return (
        not info.problems
        and info.is_device
        and info.hardware_serial == eui
        and info.key_usages == frozenset({KeyUsage.KA})
    )


def _join(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    node = _node(code, payload)
    if not node.is_universal(UniversalTag.SEQUENCE) or len(node.children) not in (3, 4):
        raise MalformedCommand(code, "expected SEQUENCE { method, entity id, type [, cert] }")
    kids = node.children
    method_v = _small_int(kids[0], code, "join_method_and_role")
    eui = _eui(kids[1], code)
    type_v = _small_int(kids[2], code, "device_type")
    cert = None
    if len(kids) == 4:
        _read(kids[3], code, "certificate", UniversalTag.SEQUENCE)
        cert = kids[3].encode()
    before = ctx.joins.to_dict()
    fault = ctx.fault(code)
    result: JoinResponse
    if fault is not None:
        try:
            result = JoinResponse(fault)
        except ValueError:
            raise MalformedCommand(code, f"unknown join response fault {fault}") from None
    elif method_v not in JoinMethod._value2member_map_ or type_v not in (
        HanDeviceType._value2member_map_
    ):
        result = JoinResponse.INVALID_JOIN_METHOD_AND_ROLE
    elif JoinMethod(method_v) is not _JOIN_METHOD[code]:
        result = JoinResponse.INVALID_MESSAGE_CODE_FOR_JOIN_METHOD_AND_ROLE
    else:
        method, partner = JoinMethod(method_v), HanDeviceType(type_v)
        if method is JoinMethod.METHOD_C and (
            cert is None or not _valid_partner_certificate(cert, eui)
        ):
            result = JoinResponse.INVALID_OR_MISSING_CERTIFICATE
        else:
            result = ctx.joins.join(_han_type(ctx), method, eui, partner, cert)
    ok = result is JoinResponse.SUCCESS
    ctx.log_security(EV_JOIN_OK if ok else EV_JOIN_FAILED, f"{eui.hex()} {result.name.lower()}")
    changed = ctx.joins.to_dict() != before
    return Asn1Result(
        _reply(der_integer(int(result))), _gpf_log_alert(ctx, before), changed=changed
    )


def _unjoin(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    eui = _eui(_node(code, payload), code)
    before = ctx.joins.to_dict()
    fault = ctx.fault(code)
    if fault is not None:
        try:
            result = UnjoinResponse(fault)
        except ValueError:
            raise MalformedCommand(code, f"unknown unjoin response fault {fault}") from None
    else:
        result = ctx.joins.unjoin(eui, _UNJOIN_METHODS[code])
    ok = result is UnjoinResponse.SUCCESS
    ctx.log_security(EV_UNJOIN_OK if ok else EV_UNJOIN_FAILED, f"{eui.hex()} {result.name.lower()}")
    changed = ctx.joins.to_dict() != before
    return Asn1Result(
        _reply(der_integer(int(result))), _gpf_log_alert(ctx, before), changed=changed
    )


def _cs07(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    node = _node(code, payload)
    if not node.is_universal(UniversalTag.NULL):
        raise MalformedCommand(code, f"expected NULL, found {node.type_name()}")
    fault = ctx.fault(code)
    if fault is not None:
        try:
            status = ReadJoinResponse(fault)
        except ValueError:
            raise MalformedCommand(code, f"unknown read response fault {fault}") from None
        return Asn1Result(_reply(der_sequence(der_integer(int(status)))))
    entries = der_sequence(*(_entry_der(e.eui, e.device_type) for e in ctx.joins))
    return Asn1Result(_reply(der_sequence(der_integer(ReadJoinResponse.SUCCESS), entries)))


def _gcs59(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    node = _node(code, payload)
    if not node.is_universal(UniversalTag.SEQUENCE) or len(node.children) != 1:
        raise MalformedCommand(code, "expected SEQUENCE { SEQUENCE OF DeviceLogEntry }")
    listing = _read(node.children[0], code, "device_log_entries", UniversalTag.SEQUENCE)
    entries = []
    for i, e in enumerate(listing.children):
        if not e.is_universal(UniversalTag.SEQUENCE) or len(e.children) != 2:
            raise MalformedCommand(code, f"device_log_entries[{i}]: expected SEQUENCE(2)")
        entries.append(
            (
                _eui(e.children[0], code, f"entry[{i}].device_id"),
                _small_int(e.children[1], code, "device_type"),
            )
        )
    before = ctx.joins.to_dict()
    fault = ctx.fault(code)
    if fault is not None:
        try:
            codes = [JoinResponse(fault)] * len(entries)
        except ValueError:
            raise MalformedCommand(code, f"unknown join response fault {fault}") from None
    else:
        codes = [JoinResponse.INVALID_JOIN_METHOD_AND_ROLE] * len(entries)
        valid = [
            (i, eui, HanDeviceType(t))
            for i, (eui, t) in enumerate(entries)
            if t in HanDeviceType._value2member_map_
        ]
        done = ctx.joins.restore(_han_type(ctx), [(eui, t) for _, eui, t in valid])
        for (i, _, _), c in zip(valid, done, strict=True):
            codes[i] = c
    outcomes = der_sequence(
        *(
            der_sequence(_entry_der(eui, t), der_integer(int(c)))
            for (eui, t), c in zip(entries, codes, strict=True)
        )
    )
    changed = ctx.joins.to_dict() != before
    return Asn1Result(_reply(der_sequence(outcomes)), _gpf_log_alert(ctx, before), changed=changed)


# --------------------------------------------------------------------------- CS06, GCS28


def _typed(code: int, payload: Asn1Payload, kind: type[Any]) -> Any:
    if isinstance(payload.typed, kind):
        return payload.typed
    try:
        return kind.decode(payload.raw)
    except (GbcsDecodeError, GbcsEncodeError) as e:
        raise MalformedCommand(code, str(e)) from None


def _cs06(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    cmd: ActivateFirmwareCommand = _typed(code, payload, ActivateFirmwareCommand)
    try:
        res = ctx.firmware.activate(
            cmd, ctx.device_time, originator=ctx.originator, fault=ctx.fault(code)
        )
    except FirmwareError as e:
        raise MalformedCommand(code, str(e)) from None
    if res.version_changed:
        ctx.log_security(
            EV_FIRMWARE_VERSION_CHANGED,
            f"{(res.previous_version or b'').hex()} -> {ctx.firmware.running_version.hex()}",
        )
    changed = res.pending or res.version_changed
    return Asn1Result(
        Asn1Payload.from_typed(res.response),
        changed=changed,
        firmware_activated=res.version_changed,
    )


def _gcs28(code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    cmd: SetTimeCommand = _typed(code, payload, SetTimeCommand)
    fault = ctx.fault(code)
    source = _whole(ctx.now)  # the Comms Hub time the GSME synchronises to
    changed = False
    if fault is not None:
        try:
            status = DeviceTimeStatus(fault)
        except ValueError:
            raise MalformedCommand(code, f"unknown device time status fault {fault}") from None
    elif cmd.validity_interval_start <= source <= cmd.validity_interval_end:
        before = ctx.clock.to_dict()
        adjustment = ctx.clock.set(ctx.now, source)
        ctx.log_event(EV_CLOCK_ADJUSTED, f"GCS28 adjustment {adjustment:+.0f} s")
        status = DeviceTimeStatus.RELIABLE
        changed = ctx.clock.to_dict() != before
    elif ctx.clock.status is ClockStatus.INVALID:
        status = DeviceTimeStatus.INVALID
    else:
        status = DeviceTimeStatus.UNRELIABLE
    response = SetTimeResponse(_stamp(ctx), status)
    return Asn1Result(Asn1Payload.from_typed(response), changed=changed)


# --------------------------------------------------------------------------- dispatch

_HANDLERS: dict[int, tuple[_Handler, frozenset[DeviceType]]] = {
    0x0008: (_cs02a, _ALL_TYPES),
    0x011B: (_cs02a, _ALL_TYPES),
    **{c: (_cs02b, _ALL_TYPES) for c in MODE_BY_CODE},
    0x000A: (_cs02c, _ALL_TYPES),
    0x000B: (_cs02d, _ALL_TYPES),
    0x000C: (_cs02e, _ALL_TYPES),
    0x000D: (_join, _LOG_TYPES),
    0x000E: (_join, _LOG_TYPES),
    0x00AF: (_join, _LOG_TYPES),
    0x000F: (_unjoin, _LOG_TYPES),
    0x0010: (_unjoin, _LOG_TYPES),
    0x0013: (_cs07, _LOG_TYPES),
    0x0012: (_cs06, frozenset({D.ESME, D.GSME, D.CHF})),
    0x007F: (_gcs28, frozenset({D.GSME})),
    0x008C: (_gcs59, frozenset({D.GPF})),
}

HANDLED_CODES: Mapping[int, frozenset[DeviceType]] = {c: t for c, (_, t) in _HANDLERS.items()}
"""Message code -> device types :func:`handle_asn1` executes it for."""


FAILURE_OUTCOMES: Mapping[int, int] = {
    **{c: StatusCode.OTHER for c in (0x0008, 0x011B, *MODE_BY_CODE)},
    0x000A: IssueResponse.CR_PRODUCTION_FAILED,
    0x000B: DeviceCertificateResponse.CERTIFICATE_STORAGE_FAILED,
    0x000C: ProvideCertificateResponse.CERTIFICATE_RETRIEVAL_FAILURE,
    **{c: JoinResponse.WRITE_FAILURE for c in (0x000D, 0x000E, 0x00AF, 0x008C)},
    **{c: UnjoinResponse.OTHER_FAILURE for c in (0x000F, 0x0010)},
    0x0013: ReadJoinResponse.READ_FAILURE,
    0x0012: ActivateFirmwareResponseCode.ACTIVATION_FAILURE,
    0x007F: DeviceTimeStatus.UNRELIABLE,
}
"""The outcome a use case answers when the device could not execute or answer it (a
handler error, an injected code its response cannot carry): the GBCS code of each
response type closest to "other failure" (CS02a/b/f/g ``other``, CS02c CR production
failed, CS02d certificate storage failed, CS02e retrieval failure, joins and GCS59 write
failure, unjoins other failure, CS07 read failure, CS06 activation failure; GCS28 has
no failure code, so unreliable: the clock was not set by this command)."""


def failure_response(message_code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Payload:
    """The response to ``payload`` with its use case's :data:`FAILURE_OUTCOMES` code,
    built as an injected fault is (state unchanged). Raises :class:`Asn1HandlerError`
    when the code has no failure outcome here or the command does not parse."""
    outcome = FAILURE_OUTCOMES.get(message_code)
    if outcome is None:
        raise UnsupportedUseCase(message_code, "no failure outcome for this code")
    forced = replace(ctx, faults={**ctx.faults, message_code: int(outcome)})
    res = handle_asn1(message_code, payload, forced)
    if res.payload is None:
        raise UnsupportedUseCase(message_code, "the use case has no response")
    return res.payload


def handle_asn1(message_code: int, payload: Asn1Payload, ctx: Asn1Context) -> Asn1Result:
    """Execute an authenticated ASN.1 command; see the module documentation.

    Raises :class:`UnsupportedUseCase` or :class:`MalformedCommand` (state unchanged).
    """
    entry = _HANDLERS.get(message_code)
    if entry is None or ctx.device_type not in entry[1]:
        raise UnsupportedUseCase(
            message_code, f"no ASN.1 handler for this code on a {ctx.device_type}"
        )
    handler = entry[0]
    try:
        return handler(message_code, payload, ctx)
    except CredentialsError as e:
        raise MalformedCommand(message_code, str(e)) from None


def next_due(ctx: Asn1Context) -> datetime | None:
    """Earliest device time at which :func:`due_asn1` has something to run."""
    times = [p.execution_time for p in ctx.credentials.pending_updates]
    t = ctx.firmware.next_due()
    if t is not None:
        times.append(t)
    return min(times, default=None)


def due_asn1(ctx: Asn1Context) -> Asn1Result:
    """Run future-dated CS06 and CS02b/CS02g commands whose time (device time) has come.

    Returns the outcome alerts (payload None). Nothing runs while the clock is invalid.
    """
    now = ctx.device_time
    result = Asn1Result(None)
    if now is None:
        return result
    for due in ctx.firmware.due(now):
        result.changed = True
        if due.version_changed:
            result.firmware_activated = True
            ctx.log_security(
                EV_FIRMWARE_VERSION_CHANGED,
                f"{due.previous_version.hex()} -> {ctx.firmware.running_version.hex()}",
            )
        result.alerts.append(
            Asn1Alert(
                due.alert.alert_code,
                True,
                due.originator,
                MC_FIRMWARE_ALERT,
                Asn1Payload.from_typed(due.alert),
            )
        )
    pending = ctx.credentials.pending_updates
    ready = [p for p in pending if p.execution_time <= now]
    if ready:
        ctx.credentials.pending_updates = [p for p in pending if p.execution_time > now]
        result.changed = True
    for p in ready:
        result.alerts.append(_run_pending_update(p, ctx))
    return result


def _run_pending_update(p: PendingUpdate, ctx: Asn1Context) -> Asn1Alert:
    try:
        cmd = UpdateCredentialsCommand.from_der(decode_der_node(p.command, "command"))
        outcome = _run_update(p.message_code, cmd, ctx, ctx.fault(p.message_code))
        ok = outcome.succeeded
    except (CredentialsError, GbcsDecodeError):
        # Stored from a command that parsed when received: only a corrupted state gets here.
        outcome = UpdateOutcome(0, MODE_BY_CODE.get(p.message_code, 0), (), ())
        ok = False
    code = ALERT_FUTURE_OK if ok else ALERT_FUTURE_FAILED
    mc = MC_LOAD_CONTROLLER_ALERT if p.message_code in (0x0125, 0x0126) else MC_CREDENTIALS_ALERT
    node = update_alert_der(code, p.execution_time, outcome)
    return Asn1Alert(code, True, p.originator, mc, _reply(node))
