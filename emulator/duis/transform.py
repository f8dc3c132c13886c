"""DUIS service request -> the GBCS the DCC would send (issue 15 item 3), sans-IO.

:func:`transform` picks the GBCS use case from the SRV variant and the target's device
type (given: a target EUI does not say what it is), builds the payload with the
head-end's use-case catalogue, and puts the user's ``RequestID`` into the grouping
header: the originator EUI and counter become the GBCS originator and counter, the
target EUI the recipient.

* A critical SRV (command variant 4) gives the *pre-command*: the General-Signing APDU
  with no signature field, as the DCC returns it for the user to sign.
* A non-critical one (command variants 1-3) gives the full command: a null signature,
  MAC'd by the Access Control Broker with the GBCS keys given (ACB KA private key, the
  device's KA public key).

Anything else is a :class:`Refusal`, not an exception: with a DUIS response code where
DUIS names the failure (E11 device type, E12 command variant, E13 non-device request),
with none where this emulator does not transform it yet; the reason names what is
missing. Which SRVs and device types are transformed is :data:`ROUTES`: for each SRV
variant and device type, the one GBCS use case of the SRV (``tables.py``) that targets
that device type (the GBCS registry); :data:`NOT_YET` lists the pairs left out, with
why. The bodies taken are the typed ones of ``bodies.py`` and, for SRVs with nothing to
say beyond the header, the empty body element (optional children, such as a
future-dated ``ExecutionDateTime``, are refused). The tests compare the results with
the RTDS 4.5.0 commands and pre-commands paired with the RTDS 4.9.1 DUIS templates.
Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.duis import bodies, routing, tables
from emulator.duis.model import Request
from emulator.headend import usecases
from emulator.headend.commands import CommandBuilder
from emulator.headend.usecases import BuildContext, UseCaseError
from gbcs.codec import build, decode
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from gbcs.errors import GbcsError
from gbcs.security import DEFAULT_ACB, Verdict, check_signature, mac_exact
from gbcs.usecases import lookup
from keys.store import KeyStore

__all__ = [
    "EMULATED_DEVICE_TYPES",
    "NOT_YET",
    "ROUTES",
    "Refusal",
    "TransformResult",
    "Transformed",
    "transform",
]

EMULATED_DEVICE_TYPES: tuple[str, ...] = ("ESME", "GSME", "GPF", "CHF")
"""The device types a request may target here (the emulated ones)."""

ROUTES: Mapping[str, routing.SrvRoute] = routing.all_routes()
"""SRV variant -> its route (typed body, and a planner per device type)."""

NOT_YET: Mapping[tuple[str, str], str] = routing.all_not_yet()
"""(SRV variant, device type) pairs DUIS allows that are not transformed yet, with why."""

#: The Transitional Change of Supplier party's EUI (the DCC), as RTDS uses it.
DEFAULT_TRANSITIONAL_COS = bytes.fromhex("90B3D51F30000004")

_PRE_COMMAND_CV = 4
_COMMAND_CVS = (1, 2, 3)
_SIGNED_PRE_COMMAND_CVS = (5, 6, 7)
_LOCAL = (2, 6)
_BOTH = (3, 7)


@dataclass(frozen=True, slots=True)
class Transformed:
    """The GBCS a request becomes."""

    srv: str
    device_type: str
    use_case: str
    message_code: int
    #: True for a critical request's pre-command (unsigned, no MAC), False for a command.
    pre_command: bool
    originator: bytes
    recipient: bytes
    counter: int
    gbcs: bytes
    #: Who originates the GBCS: ``user``, ``acb`` or ``transitional-cos`` (routing.py).
    originated_by: str = routing.USER
    #: A request the DSP future-dates: when the DCC sends the command (None: now).
    send_at: datetime | None = None
    #: Where the command goes, by command variant: ``wan`` (1, 5), ``local`` (2, 6: back to
    #: the user for local delivery) or ``wan+local`` (3, 7); a pre-command goes back to the
    #: user to sign (``user``).
    delivery: str = "wan"

    @property
    def ok(self) -> bool:
        """True: the request was transformed."""
        return True

    def summary(self) -> str:
        """One line: use case, form, header."""
        if self.pre_command:
            form = "pre-command (to sign)"
        elif self.originated_by != routing.USER:
            form = f"command originated by the DCC ({self.originated_by})"
        else:
            form = "command (ACB MAC)"
        when = f", held until {self.send_at.isoformat()}" if self.send_at else ""
        return (
            f"{self.use_case} (0x{self.message_code:04X}) {form}: SRV {self.srv} to "
            f"{self.device_type} {self.recipient.hex().upper()}, originator "
            f"{self.originator.hex().upper()}, counter {self.counter}{when}"
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is not transformed.

    ``response_code`` is the DUIS response code where DUIS names the failure, None where
    the request is valid DUIS that this emulator does not transform yet.
    """

    reason: str
    response_code: str | None = None

    @property
    def ok(self) -> bool:
        """False: the request was not transformed."""
        return False

    def line(self) -> str:
        """``<response code> <reason>``, or the reason alone when DUIS has no code."""
        return f"{self.response_code} {self.reason}" if self.response_code else self.reason


TransformResult = Transformed | Refusal


def transform(
    request: Request,
    *,
    target_type: str | None,
    keys: KeyStore,
    acb: bytes = DEFAULT_ACB,
    now: datetime | None = None,
    dcc_counter: int | None = None,
    transitional_cos: bytes = DEFAULT_TRANSITIONAL_COS,
    pre_command: bytes | None = None,
    esme_variant: str | None = None,
    user_role: str | None = None,
    cin: str | None = None,
) -> TransformResult:
    """The GBCS the DCC makes of ``request`` for a device of ``target_type`` (``ESME``,
    ``GSME``, ``GPF``, ``CHF``), or a :class:`Refusal`.

    * Command variants 1-3 (non-critical): the command, MAC'd by the ACB. ``keys`` must
      hold the ACB's KA private key (``acb``) and the device's KA public key.
    * Command variant 4 (critical): the pre-command for the user to sign; no keys needed.
    * Command variants 5-7: the user's signed pre-command (``SignedPreCommand`` body)
      becomes the command: checked against the RequestID and the SRV, its signature
      verified where ``keys`` hold the user's DS public key, compared with
      ``pre_command`` (the one the DCC returned) when given, then MAC'd by the ACB.
    * SRVs whose GBCS the DCC originates (the ACB, or the Transitional CoS party) use
      ``dcc_counter``, the DCC's own counter (refused without it); a critical one is
      signed with the DCC party's DS key from ``keys``.

    * What the DCC knows besides the request picks the use case where an SRV has
      several for one device type: ``esme_variant`` (the DUIS ``ESMEVariant`` of its
      inventory: ``A`` single element, ``B`` twin element, ``C`` polyphase, ...) and
      ``user_role`` (the requesting user's DUIS role, ``IS``, ``ED``, ...; from its user
      registry). Without them such a request is
      refused, naming what to give. ``cin`` is the Customer Identification Number the DCC
      chose for SRV 9.1 (four digits; it returns it to the user).

    ``now`` is the build time the catalogue sees (default: the current UTC time).
    """
    header = request.header
    problem = header.srv_error
    if problem is not None:
        return Refusal(problem)
    srv = header.srv
    assert srv is not None  # no srv_error
    label = f"SRV {srv.variant} ({srv.name})"
    cv = header.command_variant
    if srv.non_device:
        return Refusal(f"{label} is a non-device service: the DCC answers it, no GBCS", "E13")
    wanted = (_PRE_COMMAND_CV, *_SIGNED_PRE_COMMAND_CVS) if srv.critical else _COMMAND_CVS
    if cv not in wanted:
        kind = "critical" if srv.critical else "non-critical"
        allowed = ", ".join(str(c) for c in wanted)
        return Refusal(f"{label} is {kind}: command variant {cv} must be {allowed}", "E12")
    if target_type is None:
        return Refusal(
            f"the target's device type is needed ({', '.join(EMULATED_DEVICE_TYPES)}): the "
            "target EUI does not say it"
        )
    device = target_type.strip().upper()
    if device not in EMULATED_DEVICE_TYPES:
        return Refusal(
            f"device type {target_type!r} is not emulated (one of "
            f"{', '.join(EMULATED_DEVICE_TYPES)})"
        )
    if srv.device_types and device not in srv.device_types:
        return Refusal(f"{label} does not apply to {_a(device)}", "E11")
    if cv in _SIGNED_PRE_COMMAND_CVS:
        return _signed_pre_command(request, srv, device, keys, acb, pre_command)
    route = ROUTES.get(srv.variant)
    planner = route.planners.get(device) if route is not None else None
    if route is None or planner is None:
        why = NOT_YET.get((srv.variant, device))
        if why is not None:
            return Refusal(f"{label} to {_a(device)} is not transformed yet: {why}")
        return Refusal(f"{label} to {_a(device)} is not transformed yet")
    if request.body.name != route.body:
        return Refusal(f"{label} needs a {route.body} body, not {request.body.name}")
    if esme_variant is not None and esme_variant not in routing.ESME_VARIANTS:
        return Refusal(f"ESME variant {esme_variant!r}: not a DUIS ESMEVariant (A, B, C, AD, ...)")
    if user_role is not None and user_role not in tables.USER_ROLES:
        return Refusal(f"user role {user_role!r}: not one of {', '.join(tables.USER_ROLES)}")
    now = now or datetime.now(UTC)
    try:
        typed = route.parse(request.body.element())
        facts = routing.PlanInput(
            typed,
            request,
            srv,
            device,
            now,
            esme_variant=esme_variant,
            user_role=user_role,
            cin=cin,
        )
        plan = planner(facts)
    except routing.NotTransformed as e:
        return Refusal(f"{label}: {e.reason}", e.response_code)
    return _build(request, srv, device, plan, keys, acb, now, dcc_counter, transitional_cos)


def _a(device: str) -> str:
    """The device type with its article: "an ESME", "a GSME"."""
    return f"an {device}" if device[:1] in "AEIOU" else f"a {device}"


def _delivery(cv: int) -> str:
    return "local" if cv in _LOCAL else "wan+local" if cv in _BOTH else "wan"


def _build(
    request: Request,
    srv: tables.Srv,
    device: str,
    plan: routing.Plan,
    keys: KeyStore,
    acb: bytes,
    now: datetime,
    dcc_counter: int | None,
    transitional_cos: bytes,
) -> TransformResult:
    rid = request.header.request_id
    recipient = rid.target_eui
    try:
        entry = usecases.get(plan.use_case)
    except UseCaseError as e:
        return Refusal(f"{plan.use_case}: {e}")
    name = plan.label or entry.name
    if plan.originator == routing.USER:
        originator, counter = rid.originator_eui, rid.counter
    else:
        originator = acb if plan.originator == routing.ACB else transitional_cos
        if dcc_counter is None:
            return Refusal(
                f"{name} to {_a(device)} is originated by the DCC ({plan.originator}, "
                f"{originator.hex().upper()}) with its own counter: give the DCC's counter"
            )
        counter = dcc_counter
    # a response to a supplementary remote party is protected for it (DLMS protection
    # parameters name it), though the DCC originates the command
    party = rid.originator_eui if plan.supplementary else originator
    ctx = BuildContext(counter, party, recipient, entry.role_for(device), now)
    try:
        payload = entry.build_parsed(entry.parse_args(dict(plan.args)), ctx)
    except UseCaseError as e:
        return Refusal(f"{name}: {e}")
    pre_command = srv.critical and plan.originator == routing.USER
    if plan.supplementary:
        if plan.originator == routing.USER:
            return Refusal(f"{name}: a supplementary remote party needs a DCC originator")
        other = OtherInformation(
            entry.message_code,
            srp_id=rid.originator_eui,
            srp_counter=rid.counter,
            certificate=plan.supplementary_certificate,
        )
    elif plan.supplementary_certificate is not None:
        return Refusal(f"{name}: a supplementary certificate needs a supplementary party")
    else:
        other = OtherInformation(entry.message_code)
    try:
        if pre_command:
            grouping = GroupingHeader(Cra.COMMAND, counter, originator, recipient, other)
            msg = build(
                grouping,
                payload,
                envelope=Envelope.GENERAL_SIGNING,
                signature_form=SignatureForm.ABSENT,
            )
            gbcs = msg.encode()
        else:
            # the DCC signs what it originates if the use case is critical (its DS key)
            signs = entry.critical if plan.dcc_signs is None else plan.dcc_signs
            critical = signs and plan.originator != routing.USER
            builder = CommandBuilder(keys, acb)
            gbcs = builder.command(
                originator,
                recipient,
                entry.message_code,
                payload,
                counter=counter,
                critical=critical,
                other=other,
            )
    except GbcsError as e:
        return Refusal(f"{name}: {' '.join(str(e).split())}")
    return Transformed(
        srv=srv.variant,
        device_type=device,
        use_case=name,
        message_code=entry.message_code,
        pre_command=pre_command,
        originator=originator,
        recipient=recipient,
        counter=counter,
        gbcs=gbcs,
        originated_by=plan.originator,
        send_at=plan.send_at,
        delivery="user" if pre_command else _delivery(request.header.command_variant),
    )


def _signed_pre_command(
    request: Request,
    srv: tables.Srv,
    device: str,
    keys: KeyStore,
    acb: bytes,
    pre_command: bytes | None,
) -> TransformResult:
    """CV 5-7: the user's signed pre-command, checked, becomes the command (ACB MAC)."""
    label = f"SRV {srv.variant} ({srv.name})"
    body = request.body.typed()
    if not isinstance(body, bodies.SignedPreCommand):
        return Refusal(f"{label}: command variant 5-7 needs a SignedPreCommand body")
    try:
        msg = decode(body.gbcs_payload)
    except GbcsError as e:
        return Refusal(f"{label}: the signed pre-command is not GBCS: {' '.join(str(e).split())}")
    rid = request.header.request_id
    if msg.envelope is not Envelope.GENERAL_SIGNING or msg.signature_form is not (
        SignatureForm.PRESENT
    ):
        return Refusal(f"{label}: the signed pre-command is not a signed General-Signing APDU")
    wrong = [
        what
        for what, ours, theirs in (
            ("originator", rid.originator_eui, msg.originator),
            ("recipient", rid.target_eui, msg.recipient),
            ("counter", rid.counter, msg.counter),
        )
        if ours != theirs
    ]
    if wrong:
        differ = ", ".join(wrong)
        return Refusal(f"{label}: the signed pre-command's {differ} differ from the RequestID")
    uc = lookup(msg.message_code)
    if uc is None or uc.name not in _names(srv.use_cases):
        what = uc.name if uc is not None else f"0x{msg.message_code:04X}"
        return Refusal(f"{label}: the signed pre-command is {what}, not a use case of the SRV")
    if pre_command is not None and b"\xdf" + msg.signed_data() != pre_command:
        return Refusal(f"{label}: the signed pre-command is not the pre-command the DCC returned")
    check = check_signature(msg, keys)
    if check.verdict is Verdict.INVALID:
        return Refusal(f"{label}: the signed pre-command's signature is invalid ({check.detail})")
    try:
        gbcs = mac_exact(msg, keys, acb)
    except GbcsError as e:
        return Refusal(f"{label}: {' '.join(str(e).split())}")
    return Transformed(
        srv=srv.variant,
        device_type=device,
        use_case=uc.name,
        message_code=msg.message_code,
        pre_command=False,
        originator=msg.originator,
        recipient=msg.recipient,
        counter=msg.counter,
        gbcs=gbcs,
        delivery=_delivery(request.header.command_variant),
    )


def _names(use_cases: tuple[str, ...]) -> set[str]:
    """The GBCS use-case names an SRV lists (``CCS05/CCS04`` names two)."""
    return {n for u in use_cases for n in u.split("/")}
