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

from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from lxml import etree

from emulator.duis import bodies, tables
from emulator.duis.model import Request
from emulator.headend import usecases
from emulator.headend.commands import CommandBuilder
from emulator.headend.usecases import BuildContext, UseCaseError
from gbcs.codec import build
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from gbcs.errors import GbcsError
from gbcs.security import DEFAULT_ACB
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


def _routes(rows: str) -> dict[tuple[str, str], str]:
    out = {}
    for row in rows.strip().splitlines():
        variant, *pairs = row.split()
        for pair in pairs:
            devices, use_case = pair.split("=")
            for device in devices.split("/"):
                out[(variant, device)] = use_case
    return out


# One SRV variant a row: device type(s)=use case. The use case is the one of the SRV's
# GBCS use cases (tables.py) whose targets (the GBCS registry) include the device type;
# an SRV with two candidates for one device type (4.18 GCS60/GCS60a, 3.3, 6.2.1, ...)
# is left out until the choice has a rule.
ROUTES: MappingProxyType[tuple[str, str], str] = MappingProxyType(
    _routes(
        """
        1.7     ESME=ECS05
        2.5     ESME=ECS09 GSME=GCS06
        3.5     ESME=ECS14
        4.1.1   ESME=ECS17b GSME/GPF=GCS13a
        4.1.2   ESME=ECS17d GSME/GPF=GCS13c
        4.1.3   ESME=ECS17e
        4.1.4   GSME/GPF=GCS13b
        4.2     ESME=ECS17a
        4.3     ESME=ECS19 GSME/GPF=GCS14
        4.11.1  ESME=ECS24 GSME/GPF=GCS21f
        4.11.2  ESME=ECS24b
        4.12.1  ESME=ECS18b
        4.12.2  ESME=ECS18a
        4.13    ESME=ECS26a GSME/GPF=GCS21b
        4.15    ESME=ECS27
        4.16    ESME=ECS17c
        4.18    ESME=ECS82
        6.2.2   ESME=ECS26c
        6.2.5   ESME=ECS26f
        6.2.7   ESME=ECS40 GSME/GPF=GCS46
        6.2.8   GSME=GCS21a
        6.2.9   ESME=ECS26j GSME/GPF=GCS21j
        7.1     ESME=ECS42
        7.2     ESME=ECS43
        7.3     ESME=ECS44
        7.4     ESME=ECS45 GSME/GPF=GCS33
        7.7     ESME=ECS61a
        7.15    ESME=ECS61e
        11.2    ESME=ECS52 GSME/GPF=GCS38
        """
    )
)
"""(SRV variant, device type) -> the GBCS use case the transform builds."""

_ISSUER_EVENT_ID = (
    "carries a ZCL Issuer Event ID that the DCC writes (RTDS: 0x804A371C for counter "
    "1000) and no public rule derives it from the request"
)
NOT_YET: MappingProxyType[tuple[str, str], str] = MappingProxyType(
    {
        ("3.5", "GSME"): f"GCS11 {_ISSUER_EVENT_ID}",
        ("7.2", "GSME"): f"GCS32 {_ISSUER_EVENT_ID}",
        ("7.3", "GSME"): f"GCS39 {_ISSUER_EVENT_ID}",
        ("4.18", "GSME"): "GCS60 and GCS60a both read a gas meter balance; no rule here picks one",
        ("4.18", "GPF"): "GCS60 and GCS60a both read a gas meter balance; no rule here picks one",
        ("11.2", "CHF"): "ECS52 to a CHF is originated by the DCC (the ACB) with its own "
        "counter, not by the user",
    }
)
"""Pairs DUIS allows that are not transformed yet, with the reason."""

# The body each routed SRV carries: a typed body (bodies.py), or the name of a DUIS 5.4
# element that is transformed only when empty (its optional children, such as a
# future-dated ExecutionDateTime, are not transformed yet).
_BODIES: MappingProxyType[str, type | str] = MappingProxyType(
    {
        "1.7": "ResetTariffBlockCounterMatrix",
        "2.5": "ActivateEmergencyCredit",
        "3.5": "DisablePrivacyPIN",
        "4.1.1": bodies.ReadInstantaneousImportRegisters,
        "4.1.2": "ReadInstantaneousImportTOUMatrices",
        "4.1.3": "ReadInstantaneousImportTOUWithBlocksMatrices",
        "4.1.4": "ReadInstantaneousImportBlockCounters",
        "4.2": "ReadInstantaneousExportRegisters",
        "4.3": "ReadInstantaneousPrepayValues",
        "4.11.1": "ReadTariffPrimaryElement",
        "4.11.2": "ReadTariffSecondaryElement",
        "4.12.1": "ReadMaximumDemandImportRegisters",
        "4.12.2": "ReadMaximumDemandExportRegisters",
        "4.13": "ReadPrepaymentConfiguration",
        "4.15": "ReadLoadLimitData",
        "4.16": "ReadActivePowerImport",
        "4.18": "ReadMeterBalance",
        "6.2.2": "ReadDeviceConfigurationRandomisation",
        "6.2.5": "ReadDeviceConfigurationInstantaneousPowerThresholds",
        "6.2.7": "ReadDeviceConfigurationMPxN",
        "6.2.8": "ReadDeviceConfigurationGas",
        "6.2.9": "ReadDeviceConfigurationPaymentMode",
        "7.1": "EnableSupply",
        "7.2": bodies.DisableSupply,
        "7.3": "ArmSupply",
        "7.4": "ReadSupplyStatus",
        "7.7": "ReadALCSData",
        "7.15": "ReadAuxiliaryControllerOperationalData",
        "11.2": bodies.ReadFirmwareVersion,
    }
)
_PRE_COMMAND_CV = 4
_COMMAND_CVS = (1, 2, 3)
_SIGNED_PRE_COMMAND_CVS = (5, 6, 7)


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

    @property
    def ok(self) -> bool:
        """True: the request was transformed."""
        return True

    def summary(self) -> str:
        """One line: use case, form, header."""
        form = "pre-command (to sign)" if self.pre_command else "command (ACB MAC)"
        return (
            f"{self.use_case} (0x{self.message_code:04X}) {form}: SRV {self.srv} to "
            f"{self.device_type} {self.recipient.hex().upper()}, originator "
            f"{self.originator.hex().upper()}, counter {self.counter}"
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
) -> TransformResult:
    """The GBCS command or pre-command the DCC sends for ``request`` to a device of
    ``target_type`` (``ESME``, ``GSME``, ``GPF``, ``CHF``), or a :class:`Refusal`.

    ``keys`` must hold the ACB's KA private key (``acb``) and the device's KA public key
    for a non-critical request (its MAC); a pre-command needs none. ``now`` is the build
    time the catalogue sees (default: the current UTC time).
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
    if cv in _SIGNED_PRE_COMMAND_CVS:
        return Refusal(
            f"command variant {cv} (signed pre-command) is not transformed yet: the "
            "transform takes service requests (CV 1-4)"
        )
    wanted = (_PRE_COMMAND_CV,) if srv.critical else _COMMAND_CVS
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
        return Refusal(f"{label} does not apply to a {device}", "E11")
    key = (srv.variant, device)
    use_case = ROUTES.get(key)
    if use_case is None:
        why = NOT_YET.get(key)
        if why is not None:
            return Refusal(f"{label} to a {device} is not transformed yet: {why}")
        done = sorted({v for v, _ in ROUTES}, key=lambda v: tuple(map(int, v.split("."))))
        return Refusal(f"{label} is not transformed yet (transformed: SRV {', '.join(done)})")
    problem = _body_problem(request, _BODIES[srv.variant])
    if problem is not None:
        return Refusal(f"{label} {problem[0]}", problem[1])
    return _build(request, srv, device, use_case, keys, acb, now or datetime.now(UTC))


def _body_problem(request: Request, wanted: type | str) -> tuple[str, str | None] | None:
    """Why the body is not one the transform takes (reason, response code), or None."""
    body = request.body
    name = wanted if isinstance(wanted, str) else wanted.__name__
    if body.name != name:
        return f"needs a {name} body, not {body.name}", None
    if isinstance(wanted, str):
        el = body.element()
        kids = [etree.QName(c).localname for c in el if isinstance(c.tag, str)]
        if kids:
            return f"with {', '.join(kids)} in its body is not transformed yet", None
        if (el.text or "").strip():
            return f"needs an empty {name} body", None
        return None
    if getattr(body.typed(), "execution_date_time", None) is not None:
        return (
            "with an ExecutionDateTime (future-dated, held by the DSP) is not transformed yet",
            None,
        )
    return None


def _build(
    request: Request,
    srv: tables.Srv,
    device: str,
    use_case: str,
    keys: KeyStore,
    acb: bytes,
    now: datetime,
) -> TransformResult:
    rid = request.header.request_id
    originator, recipient, counter = rid.originator_eui, rid.target_eui, rid.counter
    entry = usecases.get(use_case)
    ctx = BuildContext(counter, originator, recipient, entry.role_for(device), now)
    try:
        payload = entry.build_parsed(entry.parse_args({}), ctx)
    except UseCaseError as e:  # a catalogue entry that needs arguments the body lacks
        return Refusal(f"{use_case}: {e}")
    pre_command = srv.critical
    try:
        if pre_command:
            grouping = GroupingHeader(
                Cra.COMMAND, counter, originator, recipient, OtherInformation(entry.message_code)
            )
            msg = build(
                grouping,
                payload,
                envelope=Envelope.GENERAL_SIGNING,
                signature_form=SignatureForm.ABSENT,
            )
            gbcs = msg.encode()
        else:
            builder = CommandBuilder(keys, acb)
            gbcs = builder.command(
                originator, recipient, entry.message_code, payload, counter=counter, critical=False
            )
    except GbcsError as e:
        return Refusal(f"{use_case}: {' '.join(str(e).split())}")
    return Transformed(
        srv=srv.variant,
        device_type=device,
        use_case=entry.name,
        message_code=entry.message_code,
        pre_command=pre_command,
        originator=originator,
        recipient=recipient,
        counter=counter,
        gbcs=gbcs,
    )
