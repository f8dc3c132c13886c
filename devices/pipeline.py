"""The command security pipeline of a device (design.md; domain-rules §3.4).

Order: envelope readable → recipient is me → message code known for my device type →
originator holds a trust-anchor cell whose role the use case allows (or, for the codes
of :data:`HAN_ORIGINATED`, is a HAN device joined to me with a partner type the code
allows) → MAC (ACB KA ↔ my KA; joined partner KA ↔ my KA for HAN-originated codes) →
replay (counter strictly greater than the last accepted from that originator, for
replay-protected and critical use cases) → signature (critical use cases, originator DS
key) → content decodes (only now: unauthenticated bytes are never parsed further than
the envelope, so a tampered payload is a MAC failure, not a format error).
:func:`verify_command` changes nothing: the caller stores the counter only after
every check passed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.codec import GbcsMessage, decode
from gbcs.envelope import Cra, Envelope, SignatureForm, decode_envelope
from gbcs.errors import GbcsDecodeError
from gbcs.payload import OpaquePayload
from gbcs.security import Verdict, check_mac, check_signature
from gbcs.usecases import DeviceType, UseCase, lookup
from keys.roles import RemotePartyRole

from .han_joins import HanDeviceType
from .policy import Check
from .trust import DeviceKeys, TrustAnchors

__all__ = [
    "ACB_AUTHENTICATED",
    "ACB_MAC_ONLY",
    "HAN_ORIGINATED",
    "SIGNATURE_ONLY",
    "Partner",
    "Rejected",
    "Verified",
    "allowed_roles",
    "effective_critical",
    "replay_protected",
    "signature_required",
    "verify_command",
]

R = RemotePartyRole

_SIGNER_NAMES = {
    "supplier": R.SUPPLIER,
    "networkoperator": R.NETWORK_OPERATOR,
    "accesscontrolbroker": R.ACCESS_CONTROL_BROKER,
    "acb": R.ACCESS_CONTROL_BROKER,
    "wanprovider": R.WAN_PROVIDER,
    "transcos": R.TRANSITIONAL_COS,
    "recovery": R.RECOVERY,
    "contingency": R.RECOVERY,
    "loadcontroller": R.LOAD_CONTROLLER,
}
_BY = re.compile(r"\((\w+?)By(\w+?)\)")


ACB_MAC_ONLY = frozenset({0x0008, 0x011B})
"""Critical codes the ACB sends MAC-only and that are answered MAC'd (CS02a, CS02f: RTDS
6.24.1 "...MAC" cases), while the same code from a user is signed ("CS02fSignature")."""

ACB_AUTHENTICATED = frozenset({0x0104})
"""Critical codes whose originator is the ACB itself (CS02b accessControlBrokerByACB):
the ACB's MAC authenticates it (RTDS 8.5 sends a null signature); the response is
still signed."""

SIGNATURE_ONLY = frozenset({0x0008, 0x0108, 0x0109, 0x011B})
"""Codes that may arrive as a signed General-Signing message without the ACB MAC:
Recovery / Contingency credential replacement (the ACB may be what is being
recovered) and CS02a/CS02f, Provide Security Credentials Details, in their signature
form (RTDS NA_CS02bAnyExceptAbnormalRootByRecovery, NA_CS02fSignature; gbcs-wire §3.3
"…Signature variants: DF only, signed by the remote party, no MAC", and the envelopes
``c:GC, c:GS+sig`` that ``use-cases.json`` gives both 0x0008 and 0x011B). Only the
signed form is accepted without a MAC: a General-Signing command with a null signature
is refused at the MAC check (0x8F3D), one with a bad signature at the signature check."""


HAN_ORIGINATED: Mapping[int, frozenset[HanDeviceType]] = {
    0x009B: frozenset({HanDeviceType.PPMID}),  # PCS01 Apply Prepayment Top Up (GSME)
    0x0090: frozenset({HanDeviceType.PPMID}),  # PCS02 Activate Emergency Credit (GSME)
}
"""Command codes a HAN device sends, not a remote party: code -> partner device types.

Source: the GBCS use-case table's message type ``SME.C.PPMID-GSME`` for PCS01/PCS02
(``use-cases.json``). The GSME accepts them only from a device in its device log of one
of these types, authenticated by the MAC keyed with that partner's KA key, which the
Method C join (CS03C) delivered in its certificate; a remote party's cell does not
authorise them.
"""


_ACB_UNSIGNED = ACB_MAC_ONLY | ACB_AUTHENTICATED


@dataclass(frozen=True, slots=True)
class Partner:
    """A joined HAN device as the pipeline sees it: its type and KA public key."""

    device_type: HanDeviceType
    ka: ec.EllipticCurvePublicKey


def effective_critical(uc: UseCase, role: RemotePartyRole) -> bool:
    """Whether the response is signed (a critical command) rather than MAC'd."""
    if uc.code in ACB_MAC_ONLY and role is R.ACCESS_CONTROL_BROKER:
        return False
    return bool(uc.critical)


def signature_required(uc: UseCase, role: RemotePartyRole) -> bool:
    """Whether the command must carry its originator's signature."""
    if role is R.ACCESS_CONTROL_BROKER and uc.code in _ACB_UNSIGNED:
        return False
    return bool(uc.critical)


@dataclass(frozen=True, slots=True)
class Verified:
    """A command that passed every check."""

    message: GbcsMessage
    use_case: UseCase
    role: RemotePartyRole | None  # None: a joined HAN device (HAN_ORIGINATED) sent it
    replay_protected: bool
    critical: bool


@dataclass(frozen=True, slots=True)
class Rejected:
    """A command that failed ``check``; ``message`` is set when the frame was readable."""

    check: Check
    reason: str
    message: GbcsMessage | None = None
    use_case: UseCase | None = None


def allowed_roles(uc: UseCase, device_type: DeviceType) -> frozenset[int] | None:
    """Roles that may send ``uc`` to ``device_type``; None means any trusted party.

    The registry's role list is used as is, narrowed where its target text restricts a
    device ("GSME (Supplier only)"). Credential-replacement codes name their signer in
    the title ("supplierByTransCoS"). Codes the registry gives no roles for fall back to
    any party holding a cell — documented as a permissive choice in the README.
    """
    roles = uc.roles
    if not roles:
        m = _BY.search(uc.title)
        if m:
            signer = _SIGNER_NAMES.get(m.group(2).lower())
            if signer is not None:
                # GPF and CHF security is DCC's responsibility (SEC DP087): the ACB may
                # also replace their credentials (RTDS 6.21 "...Handover" to the GPF).
                if device_type in (DeviceType.GPF, DeviceType.CHF):
                    return frozenset({int(signer), int(R.ACCESS_CONTROL_BROKER)})
                return frozenset({int(signer)})
        return None
    text = uc.target_text or ""
    if f"{device_type.value} (Supplier only)" in text:
        return frozenset(roles & {int(R.SUPPLIER)})
    return roles


# allowed_roles per use case object and device type: a pure function of the registry,
# asked once per command. Entries hold their use case, so an id is never reused while listed.
_ALLOWED: dict[tuple[int, DeviceType], tuple[UseCase, frozenset[int] | None]] = {}


def _allowed_roles_memo(uc: UseCase, device_type: DeviceType) -> frozenset[int] | None:
    hit = _ALLOWED.get((id(uc), device_type))
    if hit is not None and hit[0] is uc:
        return hit[1]
    roles = allowed_roles(uc, device_type)
    if len(_ALLOWED) >= 4096:
        _ALLOWED.clear()
    _ALLOWED[(id(uc), device_type)] = (uc, roles)
    return roles


def replay_protected(uc: UseCase) -> bool:
    """Critical use cases always, others where the registry says so."""
    return bool(uc.critical) or bool(uc.replay_protection)


def verify_command(
    frame: bytes,
    *,
    me: bytes,
    device_type: DeviceType,
    anchors: TrustAnchors,
    keys: DeviceKeys,
    counters: Mapping[bytes, int],
    partners: Mapping[bytes, Partner] | None = None,
) -> Verified | Rejected:
    """Run the checks in order; the first failure wins.

    ``partners`` are the HAN devices joined to this one with a known KA key (by EUI),
    the only originators of :data:`HAN_ORIGINATED` codes.
    """
    try:
        msg = decode(frame, lenient_payload=True)
    except GbcsDecodeError as e:
        try:
            header = decode_envelope(frame).header
        except GbcsDecodeError:
            return Rejected(Check.MALFORMED, str(e))
        if header.recipient != me:
            return Rejected(Check.RECIPIENT, "not addressed to this device")
        return Rejected(Check.MALFORMED, str(e))
    if msg.recipient != me:
        return Rejected(Check.RECIPIENT, "not addressed to this device", msg)
    if msg.cra is not Cra.COMMAND:
        return Rejected(Check.MALFORMED, f"a device only takes commands, not {msg.cra.name}", msg)
    uc = lookup(msg.message_code)
    if uc is None or device_type not in uc.targets or uc.direction != "command":
        return Rejected(
            Check.UNKNOWN_CODE,
            f"message code 0x{msg.message_code:04X} is not a {device_type.value} command",
            msg,
        )
    if uc.code in HAN_ORIGINATED:
        return _verify_from_partner(msg, uc, keys, counters, partners or {})
    held = anchors.roles_of(msg.originator)
    if not held:
        return Rejected(
            Check.ROLE, f"originator {msg.originator.hex().upper()} is unknown", msg, uc
        )
    allowed = _allowed_roles_memo(uc, device_type)
    usable = [r for r in held if allowed is None or int(r) in allowed]
    if not usable:
        names = ", ".join(r.human_name for r in held)
        return Rejected(Check.ROLE, f"{names} may not send {uc.name}", msg, uc)
    role = usable[0]
    if msg.envelope is not Envelope.GENERAL_CIPHERING:
        if uc.code not in SIGNATURE_ONLY or msg.signature_form is not SignatureForm.PRESENT:
            return Rejected(Check.MAC, "command has no MAC", msg, uc)
    else:
        acb = anchors.eui(R.ACCESS_CONTROL_BROKER)
        if acb is None:
            return Rejected(Check.MAC, "no Access Control Broker trust anchor", msg, uc)
        if (bad := _mac_rejected(msg, uc, keys, acb)) is not None:
            return bad
    replay = replay_protected(uc)
    if replay and (refused := _replayed(msg, uc, counters)) is not None:
        return refused
    critical = effective_critical(uc, role)
    if signature_required(uc, role) or msg.envelope is Envelope.GENERAL_SIGNING:
        if msg.signature_form is not SignatureForm.PRESENT:
            return Rejected(Check.SIGNATURE, "critical command without a signature", msg, uc)
        sig = check_signature(msg, keys)
        if sig.verdict is not Verdict.VALID:
            detail = f"signature {sig.verdict.value}: {sig.detail}".rstrip(": ")
            return Rejected(Check.SIGNATURE, detail, msg, uc)
    if (unreadable := _unreadable(msg, uc)) is not None:
        return unreadable
    return Verified(msg, uc, role, replay, critical)


def _mac_rejected(msg: GbcsMessage, uc: UseCase, keys: DeviceKeys, peer: bytes) -> Rejected | None:
    """The rejection of a command whose MAC (``peer`` KA ↔ my KA) does not verify."""
    mac = check_mac(msg, keys, peer)
    if mac.verdict is Verdict.VALID:
        return None
    detail = f"MAC {mac.verdict.value}: {mac.detail}".rstrip(": ")
    return Rejected(Check.MAC, detail, msg, uc)


def _replayed(msg: GbcsMessage, uc: UseCase, counters: Mapping[bytes, int]) -> Rejected | None:
    last = counters.get(msg.originator)
    if last is not None and msg.counter <= last:
        return Rejected(
            Check.REPLAY, f"counter {msg.counter} is not above the last accepted {last}", msg, uc
        )
    return None


def _unreadable(msg: GbcsMessage, uc: UseCase) -> Rejected | None:
    if isinstance(msg.payload, OpaquePayload) and msg.payload.note.startswith("undecoded"):
        # Authenticated, but the content does not parse: a content/format failure.
        return Rejected(Check.CONTENT, msg.payload.note, msg, uc)
    return None


def _verify_from_partner(
    msg: GbcsMessage,
    uc: UseCase,
    keys: DeviceKeys,
    counters: Mapping[bytes, int],
    partners: Mapping[bytes, Partner],
) -> Verified | Rejected:
    """A :data:`HAN_ORIGINATED` command: from a joined partner, MAC'd partner KA ↔ my KA."""
    partner = partners.get(msg.originator)
    allowed = HAN_ORIGINATED[uc.code]
    if partner is None:
        kinds = "/".join(t.name for t in sorted(allowed))
        return Rejected(
            Check.ROLE,
            f"originator {msg.originator.hex().upper()} is no {kinds} joined to this device",
            msg,
            uc,
        )
    if partner.device_type not in allowed:
        return Rejected(
            Check.ROLE, f"a joined {partner.device_type.name} may not send {uc.name}", msg, uc
        )
    if msg.envelope is not Envelope.GENERAL_CIPHERING:
        return Rejected(Check.MAC, "command has no MAC", msg, uc)
    partner_keys = keys.with_extra(msg.originator, partner.ka)
    if (bad := _mac_rejected(msg, uc, partner_keys, msg.originator)) is not None:
        return bad
    replay = replay_protected(uc)
    if replay and (refused := _replayed(msg, uc, counters)) is not None:
        return refused
    if msg.signature_form is SignatureForm.PRESENT:
        # A HAN device holds no DS cell here, so a signature cannot be verified.
        return Rejected(Check.SIGNATURE, "a HAN device's command carries no signature", msg, uc)
    if (unreadable := _unreadable(msg, uc)) is not None:
        return unreadable
    return Verified(msg, uc, None, replay, False)
