"""The device base: identity, keys, counters, logs, clock and the receive/advance API.

A device is a sans-IO state machine (as h11 is): :meth:`Device.receive` takes one frame
and the caller's time and returns the frames to send; :meth:`Device.advance` runs
everything time-driven. Nothing here touches a socket, a thread or the real clock.

Security state (last accepted counter per originator, the device's own originator
counter) is part of :meth:`Device.to_dict`; the runtime persists it before any returned
frame leaves, so a replay is refused after a restart too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.asn1 import Asn1Payload
from gbcs.axdr import Data
from gbcs.codec import GbcsMessage
from gbcs.cosem_time import DlmsDateTime
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.dlms import (
    AccessRequest,
    ActionSpec,
    DataNotification,
    GetSpec,
    GetWithSelectionSpec,
    invoke_id_for_counter,
)
from gbcs.envelope import GroupingHeader
from gbcs.errors import GbcsSecurityError
from gbcs.gbz import GbzAlertHeader, GbzPayload
from gbcs.payload import Payload
from gbcs.usecases import DeviceType, UseCase
from gbcs.zcl import utc_from_datetime
from keys.certs import as_eui, eui_hex
from keys.roles import RemotePartyRole

from .asn1_handlers import Asn1Context, due_asn1, handle_asn1, next_due
from .asn1_handlers import failure_response as asn1_failure_response
from .clock import DeviceClock
from .credentials import CredentialState
from .dlms_engine import failure_response as dlms_failure_response
from .faults import Fault, FaultPlan, MessageFaults, check_fault
from .firmware_state import FirmwareState
from .frames import build_alert, build_response, response_header, seal
from .gbz_engine import failure_response as gbz_failure_response
from .han_joins import HanJoins
from .logs import DeviceLog
from .outbound import Outbound, OutboundKind, PeerKind
from .pipeline import Partner, Rejected, Verified, replay_protected, verify_command
from .policy import Check, SecurityPolicy
from .trust import DeviceKeys, OwnKeys, TrustAnchors
from .zcl_model import ZclModel

__all__ = [
    "ALERT_MESSAGE_CODES",
    "AlertSpec",
    "CommandContext",
    "Device",
    "DeviceConfig",
    "Execution",
]

R = RemotePartyRole
_READS = (GetSpec, GetWithSelectionSpec)
# ACTIONs that only read: data protection (class 30) get_protected_attributes
_READ_ACTIONS = {(30, 1)}


def _log(saved: DeviceLog | dict[str, Any]) -> DeviceLog:
    """A log from :meth:`Device.to_dict` (a dict) or :meth:`Device.snapshot_state` (a copy)."""
    return saved.copy() if isinstance(saved, DeviceLog) else DeviceLog.from_dict(saved)


def _reads_only(spec: object) -> bool:
    if isinstance(spec, _READS):
        return True
    return isinstance(spec, ActionSpec) and (spec.class_id, spec.method) in _READ_ACTIONS


GENERIC_CRITICAL_ALERT = 0x1000
GENERIC_NON_CRITICAL_ALERT = 0x1001

ALERT_MESSAGE_CODES: dict[int, int] = {
    0x8F85: 0x0120,  # ECS100 Command not supported by Device
    0x8F35: 0x0067,  # ECS80 supply outage restored
    0x8F36: 0x0067,
    0x8F66: 0x00CC,
    0x8F67: 0x00CC,
    0x8F12: 0x0018,  # CS14 device log changed
}
"""Alert codes that travel under their own message code (others use 0x1000/0x1001)."""


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """An alert to raise: code, critical or not, who gets it and any extra payload."""

    code: int
    critical: bool
    recipient: RemotePartyRole | bytes = R.SUPPLIER
    message_code: int | None = None
    extra: tuple[Data, ...] = ()
    payload: Payload | None = None  # a fully built payload overrides code/extra


@dataclass(slots=True)
class CommandContext:
    """An authenticated command being executed, with its response header and keys.

    The response header is fixed before execution so that handlers can encrypt
    sensitive response parts for exactly the header the response will carry. A response
    to an unknown remote party (a command carrying the party's KA certificate) gets the
    device's supplementary originator counter when something in it is encrypted for that
    party, as gbcs-wire §3.2 describes (the counter keys the encryption). RTDS GCS61 is
    the one vector that encrypts for a certificate-carrying party without that counter.
    """

    verified: Verified
    now: datetime
    device_time: datetime | None
    response_header: GroupingHeader
    keys: DeviceKeys
    next_counter: Callable[[], int] | None = None

    @property
    def message(self) -> GbcsMessage:
        return self.verified.message

    @property
    def use_case(self) -> UseCase:
        return self.verified.use_case

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt a sensitive response part for the requester."""
        h = self.response_header
        if (
            self.next_counter is not None
            and h.other.srp_id is not None
            and h.other.supplementary_originator_counter is None
            and self.message.header.other.certificate is not None
        ):
            other = replace(h.other, supplementary_originator_counter=self.next_counter())
            self.response_header = replace(h, other=other)
        return seal(self.response_header, self.keys, plaintext)


@dataclass(slots=True)
class Execution:
    """What a handler produced: the response payload (None = no response) and alerts."""

    payload: Payload | None
    alerts: list[AlertSpec] = field(default_factory=list)
    han: list[Outbound] = field(default_factory=list)


@dataclass(slots=True)
class DeviceConfig:
    """Per-device settings that are configuration, not state.

    ``parties`` names the organisation per trust-anchor role when a key store holds
    several. Fault injection for test benches: ``fault_plan`` arms positional faults
    (:mod:`devices.faults`: one item, record or the whole command of a message code; they
    become device state, see :attr:`Device.faults`); the older forms ``dlms_faults``
    (``{(class, obis, member): result}``, every DLMS item with that address) and
    ``code_faults`` (``{message_code: result}``, every GBZ component or the ASN.1
    outcome) stay configuration.
    """

    eui: bytes
    signature_variant: SignatureVariant = SignatureVariant.CNSA
    policy: SecurityPolicy = field(default_factory=SecurityPolicy)
    security_alert_recipient: RemotePartyRole = R.SUPPLIER
    first_alert_counter: int = 0x1000
    event_log_size: int = 100
    security_log_size: int = 100
    dlms_faults: dict[tuple[int, bytes, int], int] = field(default_factory=dict)
    code_faults: dict[int, int] = field(default_factory=dict)
    fault_plan: list[Fault] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


class Device:
    """Base of ESME, GSME, GPF and CHF: the security pipeline and the bookkeeping.

    Subclasses set :attr:`device_type`, implement :meth:`execute` and, if they have
    time-driven behaviour, :meth:`on_advance`; they extend :meth:`to_dict` and
    :meth:`load_state` with their own state under their own keys.
    """

    device_type: ClassVar[DeviceType]
    speaks_dlms: ClassVar[bool] = True
    #: True while :meth:`snapshot_state` runs: :meth:`to_dict` (and the subclasses'
    #: extensions) then hold stateful parts as in-memory copies instead of encoding them.
    _snapshotting: bool = False

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
    ) -> None:
        self.config = config
        self.eui = as_eui(config.eui)
        if own.eui != self.eui:
            raise GbcsSecurityError(
                f"own keys belong to {eui_hex(own.eui)}, not {eui_hex(self.eui)}"
            )
        self.own = own
        self.anchors = anchors
        self.keys = DeviceKeys(own, anchors)
        self.counters: dict[bytes, int] = {}
        self.own_counter = config.first_alert_counter
        self.clock = DeviceClock()
        self.event_log = DeviceLog(config.event_log_size)
        self.security_log = DeviceLog(config.security_log_size)
        self.credentials = CredentialState()
        self.firmware = FirmwareState()
        self.joins = HanJoins()
        self.faults = FaultPlan(check_fault(f, self.device_type) for f in config.fault_plan)
        self.last_rejection: Rejected | None = None
        self._last_advance = now
        self.handlers: dict[int, Callable[[CommandContext], Execution]] = {}

    # ------------------------------------------------------------------ public API

    def receive(self, frame: bytes, now: datetime) -> list[Outbound]:
        """Process one incoming frame; returns the frames to send (maybe none)."""
        out = self.advance(now)
        result = verify_command(
            frame,
            me=self.eui,
            device_type=self.device_type,
            anchors=self.anchors,
            keys=self.keys,
            counters=self.counters,
            partners=self.join_partners() if len(self.joins) else None,
        )
        if isinstance(result, Rejected):
            self.last_rejection = result
            if result.check is Check.CONTENT and result.message is not None:
                # Authenticated but unreadable: the counter is consumed all the same (§3.4).
                self._consume_counter(result.message, result.use_case)
            return out + self._reject(result, now)
        self.last_rejection = None
        msg = result.message
        if result.replay_protected:
            self.counters[msg.originator] = msg.counter
        t = self.device_time(now)
        ctx = CommandContext(
            result,
            now,
            t,
            response_header(msg, result.use_case, self.eui, t),
            self.response_keys(msg),
            self.next_counter,
        )
        saved, own = self.state_before_execute(ctx), self.own
        try:
            ex = self.execute(ctx)
            # Built here so that a response that cannot be encoded is a failed execution.
            response = None if ex.payload is None else self._respond(ctx, ex.payload)
        except Exception as e:  # the execute boundary: no exception leaves receive()
            # Bad content is normal input; an unexpected type is more likely our bug, so the
            # type goes into the rejection and the security log to keep it visible.
            if saved is not None:
                self._roll_back(saved, own, msg, result)
            rej = Rejected(
                Check.CONTENT, f"cannot execute ({type(e).__name__}): {e}", msg, result.use_case
            )
            self.last_rejection = rej
            out += self._reject(rej, now)
            failed = self._failure_response(ctx)
            return out if failed is None else [*out, failed]
        if result.replay_protected:
            # A handler (credential replacement) may reset counter floors; never below
            # the command just accepted, or that very command could be replayed.
            self.counters[msg.originator] = max(self.counters.get(msg.originator, 0), msg.counter)
        if response is not None:
            out.append(response)
        for a in ex.alerts:
            out.append(self.alert(a, now))
        out.extend(ex.han)
        return out

    def _failure_response(self, ctx: CommandContext) -> Outbound | None:
        """The response GBCS defines for a command that was authenticated but could not be
        executed or answered, protected as usual (never silence): every DLMS item fails
        with other-reason, every GBZ component with ZCL FAILURE, an ASN.1 use case answers
        its failure outcome (:data:`devices.asn1_handlers.FAILURE_OUTCOMES`). None only
        when even that cannot be built (an ASN.1 command whose content does not parse)."""
        p = ctx.message.payload
        code = ctx.use_case.code
        model = getattr(self, "model", None)  # the ZCL model of a GBZ-speaking device
        try:
            if isinstance(p, AccessRequest):
                payload: Payload = dlms_failure_response(p)
            elif isinstance(p, GbzPayload) and isinstance(model, ZclModel):
                payload = gbz_failure_response(p, model, message_code=code)
            elif isinstance(p, Asn1Payload):
                payload = asn1_failure_response(
                    code, p, self.asn1_context(ctx.now, ctx.message.originator)
                )
            else:
                return None
            return self._respond(ctx, payload)
        except Exception as e:  # the boundary of receive(): log it, never raise
            self.log_security(0x8F1E, ctx.now, f"no failure response ({type(e).__name__}): {e}")
            return None

    def _consume_counter(self, msg: GbcsMessage, uc: UseCase | None) -> None:
        if uc is not None and replay_protected(uc):
            self.counters[msg.originator] = max(self.counters.get(msg.originator, 0), msg.counter)

    def state_before_execute(self, ctx: CommandContext) -> dict[str, Any] | None:
        """What :meth:`receive` restores if executing ``ctx`` raises (None: nothing to keep).

        A command that cannot execute changes nothing but its stored counter, the
        security log and the own counter its alert consumes (docs/devices.md). Serialising
        the state costs more than executing most commands, so it is skipped where the
        handler cannot have changed anything before raising: DLMS requests that only read,
        and GBZ payloads (the GBZ engine restores its model itself).
        """
        if ctx.use_case.code in self.handlers:
            return self.snapshot_state()
        p = ctx.message.payload
        if isinstance(p, AccessRequest) and all(_reads_only(s) for s in p.specs):
            return None
        if isinstance(p, GbzPayload):
            return None
        return self.snapshot_state()

    def snapshot_state(self) -> dict[str, Any]:
        """The state to restore with :meth:`load_state` if a command fails half-way.

        It has the keys of :meth:`to_dict`, but stateful parts are held as independent
        in-memory copies rather than serialised (encoding them cost more than executing
        most commands): it is for :meth:`load_state` in this process only, never JSON.
        """
        self._snapshotting = True
        try:
            return self.to_dict()
        finally:
            self._snapshotting = False

    def _roll_back(
        self, saved: dict[str, Any], own: OwnKeys, msg: GbcsMessage, verified: Verified
    ) -> None:
        """Back to ``saved``, keeping what a refused command may change (§3.4)."""
        saved["security_log"] = self.security_log.to_dict()
        saved["own_counter"] = self.own_counter
        saved["counters"] = {eui_hex(k): v for k, v in self.counters.items()}
        self.load_state(saved)
        self.own = own
        self.keys = DeviceKeys(own, self.anchors)
        if verified.replay_protected:
            self._consume_counter(msg, verified.use_case)

    def advance(self, now: datetime) -> list[Outbound]:
        """Run time-driven behaviour up to ``now``."""
        if self._last_advance is not None and now < self._last_advance:
            # Caller time went backwards (virtual clock reset): behaviours only move forward.
            return []
        self._last_advance = now
        specs = self.on_advance(now)
        if self.firmware.next_due() is not None or self.credentials.pending_updates:
            actx = self.asn1_context(now)
            due, t = next_due(actx), self.device_time(now)
            if due is not None and t is not None and due <= t:
                specs += self._asn1_outcome(due_asn1(actx), now, Execution(None)).alerts
        return [self.alert(a, now) for a in specs]

    def next_due(self, now: datetime) -> datetime | None:
        """The earliest caller time at which :meth:`advance` has something to do, or None.

        A runtime that hosts many devices schedules on this instead of ticking them all;
        behaviours that integrate over time (load models) catch up lazily on the next call.
        """
        t = self.device_time(now)
        if t is None:
            return None
        due = [p.execution_time for p in self.credentials.pending_updates]
        fw = self.firmware.next_due()
        if fw is not None:
            due.append(fw)
        if not due:
            return None
        return now + (min(due) - t)  # device time back to caller time

    # ---------------------------------------------------------------- subclass hooks

    def execute(self, ctx: CommandContext) -> Execution:
        """Run an authenticated command (dispatch by message code, then payload kind)."""
        handler = self.handlers.get(ctx.use_case.code)
        if handler is not None:
            return handler(ctx)
        if isinstance(ctx.message.payload, Asn1Payload):
            return self.run_asn1(ctx)
        return self.default_handler(ctx)

    def asn1_context(self, now: datetime, originator: bytes = bytes(8)) -> Asn1Context:
        """The view of this device the ASN.1 handlers work on (shares state objects)."""
        return Asn1Context(
            self.device_type,
            self.own,
            self.anchors,
            now,
            self.clock,
            self.credentials,
            self.firmware,
            self.joins,
            self.counters,
            originator,
            lambda code, detail: self.log_event(code, now, detail),
            lambda code, detail: self.log_security(code, now, detail),
            self.config.code_faults,
            bool(self.config.options.get("certificate_time_checks", False)),
        )

    def take_faults(self, message_code: int) -> MessageFaults | None:
        """The armed faults a command with ``message_code`` executes with, consuming one
        firing of each (:meth:`devices.faults.FaultPlan.take`)."""
        return self.faults.take(message_code) if len(self.faults) else None

    def run_asn1(self, ctx: CommandContext) -> Execution:
        """Credentials, joins, firmware, clock and GPF-log use cases (ASN.1 payloads)."""
        actx = self.asn1_context(ctx.now, ctx.message.originator)
        armed = self.take_faults(ctx.use_case.code)
        if armed is not None and armed.whole is not None:
            actx.faults = {**actx.faults, ctx.use_case.code: armed.whole}
        res = handle_asn1(ctx.use_case.code, ctx.message.payload, actx)  # type: ignore[arg-type]
        return self._asn1_outcome(res, ctx.now, Execution(res.payload))

    def _asn1_outcome(self, res: Any, now: datetime, ex: Execution) -> Execution:
        if res.own_keys is not None:
            self.own = res.own_keys
            self.keys = DeviceKeys(self.own, self.anchors)
        if res.firmware_activated:
            self.on_firmware_activated(now)
        for a in res.alerts:
            ex.alerts.append(
                AlertSpec(a.code, a.critical, a.recipient, a.message_code, payload=a.payload)
            )
        return ex

    def on_firmware_activated(self, now: datetime) -> None:
        """Side effects of running new firmware (the ESME cuts the Comms Hub's supply)."""

    def default_handler(self, ctx: CommandContext) -> Execution:
        raise ValueError(f"{ctx.use_case.name} is not implemented by this device")

    def on_advance(self, now: datetime) -> list[AlertSpec]:
        """Time-driven behaviour; returns alerts to raise."""
        return []

    # ---------------------------------------------------------------------- helpers

    def device_time(self, now: datetime) -> datetime | None:
        """The device clock (None while invalid)."""
        return self.clock.read(now)

    def next_counter(self) -> int:
        """The device's own originator counter (alerts, URP responses), strictly rising."""
        self.own_counter += 1
        return self.own_counter

    def recipient_eui(self, who: RemotePartyRole | bytes) -> bytes | None:
        if isinstance(who, bytes):
            return who
        return self.anchors.eui(who)

    def _respond(self, ctx: CommandContext, payload: Payload) -> Outbound:
        msg = ctx.message
        frame = build_response(
            ctx.response_header,
            payload,
            critical=ctx.verified.critical,
            keys=ctx.keys,
            variant=self.config.signature_variant,
        )
        return Outbound(
            frame,
            msg.originator,
            PeerKind.REMOTE_PARTY,
            OutboundKind.RESPONSE,
            msg.message_code,
            origin=self.eui,
        )

    def join_partners(self) -> dict[bytes, Partner]:
        """Joined HAN devices whose KA key the join delivered (originators of PCS01/PCS02)."""
        out: dict[bytes, Partner] = {}
        for e in self.joins:
            ka = e.ka_public_key()
            if ka is not None:
                out[e.eui] = Partner(e.device_type, ka)
        return out

    def response_keys(self, msg: GbcsMessage) -> DeviceKeys:
        """Keys for the response: an unknown remote party's certificate joins for encryption;
        a joined HAN device's key (from its join) for a response to that device."""
        partner = self.joins.get(msg.originator)
        ka = None if partner is None else partner.ka_public_key()
        if ka is not None and not self.anchors.roles_of(msg.originator):
            return self.keys.with_extra(msg.originator, ka)
        cert = msg.header.other.certificate
        srp = msg.header.other.srp_id
        if cert is None or srp is None:
            return self.keys
        try:
            pub = x509.load_der_x509_certificate(cert).public_key()
        except ValueError:
            return self.keys
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            return self.keys
        return self.keys.with_extra(srp, pub)

    def alert(self, spec: AlertSpec, now: datetime) -> Outbound:
        """Build and protect an alert frame."""
        recipient = self.recipient_eui(spec.recipient)
        if recipient is None:
            recipient = self.anchors.eui(R.ACCESS_CONTROL_BROKER) or b"\x00" * 8
        counter = self.next_counter()
        code = spec.message_code or ALERT_MESSAGE_CODES.get(
            spec.code, GENERIC_CRITICAL_ALERT if spec.critical else GENERIC_NON_CRITICAL_ALERT
        )
        payload = spec.payload or self.alert_payload(spec, counter, now)
        frame = build_alert(
            me=self.eui,
            recipient=recipient,
            message_code=code,
            counter=counter,
            payload=payload,
            critical=spec.critical,
            keys=self.keys,
            variant=self.config.signature_variant,
        )
        return Outbound(
            frame, recipient, PeerKind.REMOTE_PARTY, OutboundKind.ALERT, code, spec.code, self.eui
        )

    def alert_payload(self, spec: AlertSpec, counter: int, now: datetime) -> Payload:
        """DLMS data-notification (ESME, CHF) or GBZ alert (GSME, GPF) for ``spec``."""
        t = self.device_time(now)
        if self.speaks_dlms:
            ts = DlmsDateTime() if t is None else DlmsDateTime.from_datetime(t)
            return DataNotification.alert(
                invoke_id_for_counter(counter), spec.code, ts, *spec.extra
            )
        stamp = 0xFFFFFFFF if t is None else utc_from_datetime(t)
        return GbzPayload((), GbzAlertHeader(spec.code, stamp))

    def log_event(self, code: int, now: datetime, detail: str = "") -> None:
        self.event_log.add(code, self.device_time(now), detail)

    def log_security(self, code: int, now: datetime, detail: str = "") -> None:
        self.security_log.add(code, self.device_time(now), detail)

    def _reject(self, r: Rejected, now: datetime) -> list[Outbound]:
        rule = self.config.policy.rule(r.check)
        if r.check is Check.RECIPIENT:
            return []
        if rule.log_code is not None:
            self.log_security(rule.log_code, now, f"{r.check.value}: {r.reason}")
        if not rule.alert or rule.alert_code is None:
            return []
        if r.check is Check.UNKNOWN_CODE and r.message is not None:
            if not self.speaks_dlms:
                return []
            # ECS100 carries the rejected message code and originator counter.
            extra = (
                Data.octet_string(
                    r.message.message_code.to_bytes(2, "big") + r.message.counter.to_bytes(8, "big")
                ),
            )
            spec = AlertSpec(
                rule.alert_code, True, self.config.security_alert_recipient, extra=extra
            )
        else:
            spec = AlertSpec(rule.alert_code, True, self.config.security_alert_recipient)
        return [self.alert(spec, now)]

    # ------------------------------------------------------------------------ state

    def to_dict(self) -> dict[str, Any]:
        """Everything that must survive a restart, as plain JSON-able data."""
        if self._snapshotting:
            return {
                "type": self.device_type.value,
                "eui": eui_hex(self.eui),
                "counters": {eui_hex(k): v for k, v in self.counters.items()},
                "own_counter": self.own_counter,
                "clock": self.clock.to_dict(),
                "anchors": self.anchors.copy(),
                "event_log": self.event_log.copy(),
                "security_log": self.security_log.copy(),
                "credentials": self.credentials.copy(),
                "firmware": self.firmware.copy(),
                "joins": self.joins.copy(),
                "faults": self.faults.to_dict(),
                "last_advance": self._last_advance,
            }
        return {
            "type": self.device_type.value,
            "eui": eui_hex(self.eui),
            "counters": {eui_hex(k): v for k, v in sorted(self.counters.items())},
            "own_counter": self.own_counter,
            "clock": self.clock.to_dict(),
            "anchors": self.anchors.to_dict(),
            "event_log": self.event_log.to_dict(),
            "security_log": self.security_log.to_dict(),
            "credentials": self.credentials.to_dict(),
            "firmware": self.firmware.to_dict(),
            "joins": self.joins.to_dict(),
            "faults": self.faults.to_dict(),
            "last_advance": None if self._last_advance is None else self._last_advance.isoformat(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`to_dict` saved (subclasses call super first)."""
        if state.get("type") not in (None, self.device_type.value):
            raise ValueError(
                f"state of a {state.get('type')} cannot load into a {self.device_type}"
            )
        self.counters = {as_eui(k): int(v) for k, v in state.get("counters", {}).items()}
        self.own_counter = int(state.get("own_counter", self.own_counter))
        if "clock" in state:
            self.clock = DeviceClock.from_dict(state["clock"])
        # An in-memory snapshot (snapshot_state) holds copies: copied again, so that
        # the snapshot itself never aliases live state.
        if "anchors" in state:
            a = state["anchors"]
            self.anchors = a.copy() if isinstance(a, TrustAnchors) else TrustAnchors.from_dict(a)
            self.keys = DeviceKeys(self.own, self.anchors)
        if "event_log" in state:
            self.event_log = _log(state["event_log"])
        if "security_log" in state:
            self.security_log = _log(state["security_log"])
        if "credentials" in state:
            c = state["credentials"]
            issuer = self.credentials.issuer  # not state: the device keeps its issuer
            if isinstance(c, CredentialState):
                self.credentials = c.copy()
                self.credentials.issuer = issuer
            else:
                self.credentials = CredentialState.from_dict(c, issuer)
            # key pairs installed by CS02d are part of the saved credentials
            self.own = self.credentials.own_keys(self.own)
            self.keys = DeviceKeys(self.own, self.anchors)
        if "firmware" in state:
            f = state["firmware"]
            self.firmware = f.copy() if isinstance(f, FirmwareState) else FirmwareState.from_dict(f)
        if "joins" in state:
            j = state["joins"]
            self.joins = j.copy() if isinstance(j, HanJoins) else HanJoins.from_dict(j)
        if "faults" in state:
            self.faults = FaultPlan.from_dict(state["faults"])
        la = state.get("last_advance")
        if isinstance(la, datetime) or la is None:
            self._last_advance = la
        else:
            self._last_advance = datetime.fromisoformat(la)

    def describe_use_case(self, uc: UseCase) -> str:
        return uc.label
