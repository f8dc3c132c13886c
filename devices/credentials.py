"""Security-credential use cases CS02a–g: trust-anchor replacement and own certificates.

Structures follow the GBCS ASN.1 as the RTDS 4.5.0 vectors carry them (DER):

* CS02a/CS02f "provide security credential details" (0x0008, 0x011B): command
  ``SEQUENCE { authorisingRemotePartyTACellIdentifier, SEQUENCE OF RemotePartyRole }``,
  response ``SEQUENCE OF RemotePartyDetails { role, StatusCode, [currentSeqNumber,
  SEQUENCE OF TrustAnchorCellContents { keyUsage, [cellUsage], subjectUniqueID,
  subjectKeyIdentifier }] }``.
* CS02b/CS02g "update security credentials" (0x0100–0x0109, 0x0125, 0x0126): command
  ``SEQUENCE { AuthorisingRemotePartyControl, SEQUENCE OF TrustAnchorReplacement
  { Certificate, TrustAnchorCellIdentifier }, SEQUENCE OF Certificate (certification
  path), executionDateTime GeneralizedTime OPTIONAL }``; response ``SEQUENCE { NULL
  commandAccepted, ExecutionOutcome OPTIONAL }`` (the outcome is absent for an accepted
  future-dated command, whose outcome comes in alert 0x00CB / 0x0124 instead).
* CS02c "issue security credentials" (0x000A): ``SEQUENCE { keyUsage }`` → a PKCS#10
  certification request signed by a freshly generated key pair (the request names the
  device only in its subjectAltName hardwareModuleName, like the RTDS one), or an
  INTEGER :class:`IssueResponse`.
* CS02d "update device certificate" (0x000B): a device Certificate → INTEGER
  :class:`DeviceCertificateResponse`.
* CS02e "provide device certificate" (0x000C): ``SEQUENCE { keyUsage }`` → the
  Certificate, or INTEGER :class:`ProvideCertificateResponse`.

Trust-anchor replacement rules (:func:`apply_update`):

* the message code fixes the credentials replacement mode (0x0100+n → mode n, 0x0125 →
  10, 0x0126 → 11); a command whose mode field disagrees is malformed;
* each mode may replace the cells of certain roles (:data:`MODE_TARGETS`, from the use
  case titles, e.g. ``supplierByTransCoS`` replaces the Supplier cells, Recovery any cell
  but Root, Contingency any); a target outside it gets ``OTHER``;
* a target cell the device does not have (role not among its anchor roles, or a cell
  kind that role has no cell for, :data:`CELL_KINDS`) gets ``TRUST_ANCHOR_NOT_FOUND``;
* the certificate must parse, follow the organisation profile (subject OU role and
  x500UniqueIdentifier EUI; the Root cell takes a self-signed CA certificate), carry
  exactly the cell's key usage (a KA certificate never lands in a DS cell nor the
  reverse: domain rule 29), name the cell's role (the Load Controller cell also takes a
  Supplier certificate, as the RTDS CS02g vectors do), and be valid at the device time
  unless the command disapplies time-based checks; otherwise ``BAD_CERTIFICATE``;
* it must chain to the Root cell: issued by one of the command's certification-path
  certificates, which the Root key signed, or by the Root key itself; otherwise
  ``NO_TRUST_ANCHOR``. [INF] A device whose Root cell is empty only checks the first
  link (certificate issued by a path certificate): the public interop PKI has no Root.
* after replacement a cell must hold keys of one EUI (a cell has one subject), so a DS
  and KA pair of different EUIs, or one new key whose EUI differs from the key kept,
  gets ``BAD_CERTIFICATE``.

**All or nothing** (the lead's rule: on any failure the anchors stay unchanged): when any
replacement fails, none is applied; the failing ones carry their status and the others
``OTHER``, and every outcome shows the cell's (unchanged) IDs as both existing and
replacing. Sequence-number floors are applied (and reported) only with the
replacements. The RTDS 8F67 alerts show a real device applying the good replacements of
a partly failing command; our device does not.

The ``[4] newRemotePartyFloorSeqNumber`` applies to the authorising party's role (the
``[2]`` cell identifier's role, else the mode's signer): every RTDS response reports it
that way (Recovery's own role for anyExceptAbnormalRootByRecovery, Root for Contingency).
A floor sets the last accepted counter of the role's (new) EUI when that EUI has none
yet, and otherwise only raises it: devices key counters by EUI, not by cell, and one
organisation may hold several cells (the RTDS CS02g puts the Supplier in the Load
Controller cell), so lowering would reopen replays of its other roles. Specialist floors
(prepayment top-up) are echoed in the response but not applied: that counter is not kept
here.

The Root cell's key (certificate signing) lives in ``AnchorCell.ds`` of the ROOT cell.
:class:`~devices.trust.TrustAnchors` has no slot for the Supplier's prepayment top-up KA
cell (cellUsage 1), so :class:`CredentialState` keeps it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.asn1 import (
    DerNode,
    TagClass,
    UniversalTag,
    decode_der_node,
    der_bit_string,
    der_enumerated,
    der_generalized_time,
    der_integer,
    der_null,
    der_octet_string,
    der_sequence,
    der_tagged,
    read_generalized_time,
)
from gbcs.errors import GbcsDecodeError
from keys.certs import (
    CertificateInfo,
    describe_certificate,
    device_subject_alt_name,
    issued_by,
    key_identifier,
    key_usage_extension,
)
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

from .trust import AnchorCell, OwnKeys, TrustAnchors, default_anchor_roles

__all__ = [
    "CELL_KINDS",
    "MODE_BY_CODE",
    "MODE_SIGNER",
    "MODE_TARGETS",
    "CellDetails",
    "CellId",
    "CellKeyUsage",
    "CellUsage",
    "CertificateIssuer",
    "CredentialState",
    "CredentialsError",
    "DeviceCertificateOutcome",
    "DeviceCertificateResponse",
    "IssueResponse",
    "PendingUpdate",
    "ProvideCertificateResponse",
    "RemotePartyDetails",
    "Replacement",
    "ReplacementMode",
    "ReplacementOutcome",
    "SeqNumberChange",
    "SpecialistSeq",
    "StatusCode",
    "UpdateCredentialsCommand",
    "UpdateOutcome",
    "apply_update",
    "credential_details",
    "describe_cell",
    "details_response_der",
    "issue_credentials",
    "load_certificate",
    "parse_details_command",
    "parse_key_usage_command",
    "provide_device_certificate",
    "update_alert_der",
    "update_device_certificate",
    "update_response_der",
]

R = RemotePartyRole
ZERO_ID = bytes(8)


class CredentialsError(ValueError):
    """A credentials command that cannot be read or does not fit its message code."""


class StatusCode(IntEnum):
    """GBCS ``StatusCode`` ENUMERATED of CS02a details and CS02b replacement outcomes."""

    SUCCESS = 0
    BAD_CERTIFICATE = 5
    NO_TRUST_ANCHOR = 10
    INSUFFICIENT_MEMORY = 17
    TRUST_ANCHOR_NOT_FOUND = 25
    RESOURCES_BUSY = 30
    OTHER = 127


class CellKeyUsage(IntEnum):
    """Key usage of a trust-anchor cell, by its X.509 KeyUsage bit number."""

    DIGITAL_SIGNATURE = 0
    KEY_AGREEMENT = 4
    KEY_CERT_SIGN = 5

    def bit_string(self) -> DerNode:
        """DER named-bit BIT STRING (``03 02 07 80``, ``03 02 03 08``, ``03 02 02 04``)."""
        return der_bit_string(bytes((0x80 >> self.value,)), 7 - self.value)

    @property
    def key_usage(self) -> KeyUsage | None:
        """DS/KA for the device-usable keys; None for certificate signing."""
        return {0: KeyUsage.DS, 4: KeyUsage.KA}.get(self.value)

    @classmethod
    def of(cls, usage: KeyUsage) -> CellKeyUsage:
        return cls.DIGITAL_SIGNATURE if usage is KeyUsage.DS else cls.KEY_AGREEMENT

    @classmethod
    def from_bits(cls, content: bytes) -> CellKeyUsage | None:
        """From BIT STRING contents (unused-bits byte first); None unless exactly one bit."""
        data = content[1:].rstrip(b"\x00")
        if len(data) != 1 or data[0] & (data[0] - 1):
            return None
        try:
            return cls(7 - data[0].bit_length() + 1)
        except ValueError:
            return None


class CellUsage(IntEnum):
    """GBCS ``CellUsage`` (DEFAULT management)."""

    MANAGEMENT = 0
    PREPAYMENT_TOP_UP = 1


class ReplacementMode(IntEnum):
    """``CredentialsReplacementMode``: message code 0x0100+n is mode n; CS02g 10 and 11."""

    ROOT_BY_SUPPLIER = 0
    ROOT_BY_WAN_PROVIDER = 1
    SUPPLIER_BY_SUPPLIER = 2
    NETWORK_OPERATOR_BY_NETWORK_OPERATOR = 3
    ACB_BY_ACB = 4
    WAN_PROVIDER_BY_WAN_PROVIDER = 5
    TRANSCOS_BY_TRANSCOS = 6
    SUPPLIER_BY_TRANSCOS = 7
    ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY = 8
    ANY_BY_CONTINGENCY = 9
    LOAD_CONTROLLER_BY_LOAD_CONTROLLER = 10
    LOAD_CONTROLLER_BY_SUPPLIER = 11


M = ReplacementMode
MODE_BY_CODE: Mapping[int, ReplacementMode] = {
    **{0x0100 + m: M(m) for m in range(10)},
    0x0125: M.LOAD_CONTROLLER_BY_LOAD_CONTROLLER,
    0x0126: M.LOAD_CONTROLLER_BY_SUPPLIER,
}
"""Message code -> replacement mode (the title of each use case names the pair)."""

_ALL = frozenset(R(r) for r in (0, 1, 2, 3, 4, 5, 6, 8))
MODE_TARGETS: Mapping[ReplacementMode, frozenset[RemotePartyRole]] = {
    M.ROOT_BY_SUPPLIER: frozenset({R.ROOT}),
    M.ROOT_BY_WAN_PROVIDER: frozenset({R.ROOT}),
    M.SUPPLIER_BY_SUPPLIER: frozenset({R.SUPPLIER}),
    M.NETWORK_OPERATOR_BY_NETWORK_OPERATOR: frozenset({R.NETWORK_OPERATOR}),
    M.ACB_BY_ACB: frozenset({R.ACCESS_CONTROL_BROKER}),
    M.WAN_PROVIDER_BY_WAN_PROVIDER: frozenset({R.WAN_PROVIDER}),
    M.TRANSCOS_BY_TRANSCOS: frozenset({R.TRANSITIONAL_COS}),
    M.SUPPLIER_BY_TRANSCOS: frozenset({R.SUPPLIER}),
    M.ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY: _ALL - {R.ROOT},
    M.ANY_BY_CONTINGENCY: _ALL,
    M.LOAD_CONTROLLER_BY_LOAD_CONTROLLER: frozenset({R.LOAD_CONTROLLER}),
    M.LOAD_CONTROLLER_BY_SUPPLIER: frozenset({R.LOAD_CONTROLLER}),
}
"""Roles whose cells a mode may replace."""

MODE_SIGNER: Mapping[ReplacementMode, RemotePartyRole] = {
    M.ROOT_BY_SUPPLIER: R.SUPPLIER,
    M.ROOT_BY_WAN_PROVIDER: R.WAN_PROVIDER,
    M.SUPPLIER_BY_SUPPLIER: R.SUPPLIER,
    M.NETWORK_OPERATOR_BY_NETWORK_OPERATOR: R.NETWORK_OPERATOR,
    M.ACB_BY_ACB: R.ACCESS_CONTROL_BROKER,
    M.WAN_PROVIDER_BY_WAN_PROVIDER: R.WAN_PROVIDER,
    M.TRANSCOS_BY_TRANSCOS: R.TRANSITIONAL_COS,
    M.SUPPLIER_BY_TRANSCOS: R.TRANSITIONAL_COS,
    M.ANY_EXCEPT_ABNORMAL_ROOT_BY_RECOVERY: R.RECOVERY,
    # The contingency key is the Root's ([OBS] RTDS: the floor change names role 0).
    M.ANY_BY_CONTINGENCY: R.ROOT,
    M.LOAD_CONTROLLER_BY_LOAD_CONTROLLER: R.LOAD_CONTROLLER,
    M.LOAD_CONTROLLER_BY_SUPPLIER: R.SUPPLIER,
}
"""The authorising party of each mode (whose floor ``[4]`` sets when no ``[2]`` names it)."""

CK = CellKeyUsage
_MGMT = CellUsage.MANAGEMENT
CELL_KINDS: Mapping[RemotePartyRole, frozenset[tuple[CellKeyUsage, CellUsage]]] = {
    R.ROOT: frozenset({(CK.KEY_CERT_SIGN, _MGMT)}),
    R.RECOVERY: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT)}),
    R.SUPPLIER: frozenset(
        {
            (CK.DIGITAL_SIGNATURE, _MGMT),
            (CK.KEY_AGREEMENT, _MGMT),
            (CK.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP),
        }
    ),
    R.NETWORK_OPERATOR: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT), (CK.KEY_AGREEMENT, _MGMT)}),
    R.ACCESS_CONTROL_BROKER: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT), (CK.KEY_AGREEMENT, _MGMT)}),
    R.TRANSITIONAL_COS: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT)}),
    R.WAN_PROVIDER: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT), (CK.KEY_AGREEMENT, _MGMT)}),
    R.LOAD_CONTROLLER: frozenset({(CK.DIGITAL_SIGNATURE, _MGMT), (CK.KEY_AGREEMENT, _MGMT)}),
}
"""Cells a role has ([REC] domain-rules §3.2, plus the KA cells the RTDS vectors show)."""

_CERT_ROLES: Mapping[RemotePartyRole, frozenset[RemotePartyRole]] = {
    R.LOAD_CONTROLLER: frozenset({R.LOAD_CONTROLLER, R.SUPPLIER}),
}


# --------------------------------------------------------------------------- reading


class _Reader:
    """Children of a constructed node, read in order; errors name the field."""

    def __init__(self, node: DerNode, path: str) -> None:
        if not node.constructed:
            raise CredentialsError(
                f"{path}: expected a constructed value, found {node.type_name()}"
            )
        self._kids = node.children
        self._i = 0
        self.path = path

    def _matches(self, node: DerNode, cls: TagClass, number: int, constructed: bool) -> bool:
        return (
            node.tag_class is cls and node.tag_number == number and node.constructed == constructed
        )

    def take(
        self,
        name: str,
        number: int,
        *,
        cls: TagClass = TagClass.UNIVERSAL,
        constructed: bool = False,
    ) -> DerNode:
        if self._i >= len(self._kids):
            raise CredentialsError(f"{self.path}.{name}: missing")
        node = self._kids[self._i]
        if not self._matches(node, cls, number, constructed):
            raise CredentialsError(
                f"{self.path}.{name}: expected {_tag_text(cls, number)}, found {node.type_name()}"
            )
        self._i += 1
        return node

    def optional(
        self, number: int, *, cls: TagClass = TagClass.CONTEXT, constructed: bool = False
    ) -> DerNode | None:
        if self._i < len(self._kids) and self._matches(
            self._kids[self._i], cls, number, constructed
        ):
            self._i += 1
            return self._kids[self._i - 1]
        return None

    def sequence(self, name: str) -> DerNode:
        return self.take(name, UniversalTag.SEQUENCE, constructed=True)

    def integer(self, name: str, bits: int = 64) -> int:
        return _uint(self.take(name, UniversalTag.INTEGER), f"{self.path}.{name}", bits)

    def rest(self) -> tuple[DerNode, ...]:
        out = self._kids[self._i :]
        self._i = len(self._kids)
        return out

    def done(self) -> None:
        if self._i < len(self._kids):
            extra = self._kids[self._i].type_name()
            raise CredentialsError(f"{self.path}: unexpected {extra} after the last field")


def _tag_text(cls: TagClass, number: int) -> str:
    if cls is TagClass.CONTEXT:
        return f"[{number}]"
    try:
        return UniversalTag(number).name.replace("_", " ")
    except ValueError:
        return f"tag {number}"


def _uint(node: DerNode, path: str, bits: int = 64) -> int:
    if node.constructed or not node.content:
        raise CredentialsError(f"{path}: expected an integer")
    v = int.from_bytes(node.content, "big", signed=True)
    if v < 0 or v.bit_length() > bits:
        raise CredentialsError(f"{path}: {v} outside 0..2^{bits}-1")
    return v


def _sequence_of(node: DerNode, path: str) -> tuple[DerNode, ...]:
    if not node.constructed:
        raise CredentialsError(f"{path}: expected a SEQUENCE OF")
    return node.children


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class CellId:
    """``TrustAnchorCellIdentifier``: role, key usage (BIT STRING contents), cell usage.

    The key usage is kept as received so that any value can be echoed in an outcome;
    :attr:`usage` is None when it names no single known usage.
    """

    role: int
    key_usage_bits: bytes
    cell_usage: int = CellUsage.MANAGEMENT

    @classmethod
    def of(
        cls, role: RemotePartyRole, usage: CellKeyUsage, cell_usage: CellUsage = _MGMT
    ) -> CellId:
        return cls(int(role), usage.bit_string().content, int(cell_usage))

    @property
    def usage(self) -> CellKeyUsage | None:
        return CellKeyUsage.from_bits(self.key_usage_bits)

    @property
    def remote_party_role(self) -> RemotePartyRole | None:
        try:
            return R(self.role)
        except ValueError:
            return None

    @property
    def prepayment(self) -> bool:
        return self.cell_usage == CellUsage.PREPAYMENT_TOP_UP

    @classmethod
    def from_der(cls, node: DerNode, path: str) -> CellId:
        """From a SEQUENCE (or an implicitly tagged ``[n]``) of the three fields."""
        r = _Reader(node, path)
        role = r.integer("remote_party_role", 16)
        bits = r.take("key_usage", UniversalTag.BIT_STRING).content
        cell_usage = CellUsage.MANAGEMENT.value
        nxt = r.optional(UniversalTag.INTEGER, cls=TagClass.UNIVERSAL)
        if nxt is not None:
            cell_usage = _uint(nxt, f"{path}.cell_usage", 8)
        r.done()
        return cls(role, bits, cell_usage)

    def fields(self) -> tuple[DerNode, ...]:
        kids = [der_integer(self.role), DerNode(TagClass.UNIVERSAL, False, 3, self.key_usage_bits)]
        if self.cell_usage != CellUsage.MANAGEMENT:
            kids.append(der_integer(self.cell_usage))
        return tuple(kids)

    def to_der(self) -> DerNode:
        return der_sequence(*self.fields())


@dataclass(frozen=True, slots=True)
class SpecialistSeq:
    """``SpecialistSeqNumber``: usage (0 prepayment top-up) and sequence number."""

    usage: int
    seq: int

    def to_der(self) -> DerNode:
        return der_sequence(der_integer(self.usage), der_integer(self.seq))

    @classmethod
    def from_der(cls, node: DerNode, path: str) -> SpecialistSeq:
        r = _Reader(node, path)
        out = cls(r.integer("usage", 8), r.integer("seq_number"))
        r.done()
        return out


def _specialists(node: DerNode, path: str) -> tuple[SpecialistSeq, ...]:
    return tuple(
        SpecialistSeq.from_der(n, f"{path}[{i}]") for i, n in enumerate(_sequence_of(node, path))
    )


@dataclass(frozen=True, slots=True)
class SeqNumberChange:
    """``RemotePartySeqNumberChange``: a role's new floor (and specialist floors)."""

    role: int
    floor: int
    specialist: tuple[SpecialistSeq, ...] | None = None

    def to_der(self) -> DerNode:
        kids = [der_integer(self.role), der_integer(self.floor)]
        if self.specialist is not None:
            kids.append(der_sequence(*(s.to_der() for s in self.specialist)))
        return der_sequence(*kids)

    @classmethod
    def from_der(cls, node: DerNode, path: str) -> SeqNumberChange:
        r = _Reader(node, path)
        role = r.integer("remote_party_role", 16)
        floor = r.integer("floor_seq_number")
        spec = r.optional(UniversalTag.SEQUENCE, cls=TagClass.UNIVERSAL, constructed=True)
        r.done()
        return cls(role, floor, None if spec is None else _specialists(spec, f"{path}.specialist"))


@dataclass(frozen=True, slots=True)
class Replacement:
    """``TrustAnchorReplacement``: the new certificate (DER) and the target cell."""

    certificate: bytes
    target: CellId

    def to_der(self) -> DerNode:
        return der_sequence(decode_der_node(self.certificate, "certificate"), self.target.to_der())


@dataclass(frozen=True, slots=True)
class UpdateCredentialsCommand:
    """CS02b / CS02g command (see the module documentation for the ASN.1)."""

    mode: int
    authorising_seq: int
    replacements: tuple[Replacement, ...]
    path_certificates: tuple[bytes, ...] = ()
    authorising_cell: CellId | None = None
    apply_time_checks: bool = True
    new_floor: int | None = None
    new_specialist: tuple[SpecialistSeq, ...] | None = None
    other_changes: tuple[SeqNumberChange, ...] = ()
    execution_time: datetime | None = None
    plaintext_symmetric_key: bytes | None = None

    @classmethod
    def from_der(
        cls, node: DerNode, path: str = "update_security_credentials"
    ) -> UpdateCredentialsCommand:
        """Read a command; raises :class:`CredentialsError` naming the bad field."""
        top = _Reader(node, path)
        ctl = _Reader(top.sequence("authorising_remote_party_control"), f"{path}.control")
        mode = ctl.integer("credentials_replacement_mode", 8)
        key = ctl.optional(0)
        cpv = ctl.optional(1)
        apply_time = True if cpv is None else _uint(cpv, f"{ctl.path}.cpv_checks", 8) == 0
        cell_node = ctl.optional(2, constructed=True)
        cell = None if cell_node is None else CellId.from_der(cell_node, f"{ctl.path}.ta_cell")
        seq = _uint(ctl.take("seq_number", 3, cls=TagClass.CONTEXT), f"{ctl.path}.seq_number")
        floor_node = ctl.optional(4)
        floor = None if floor_node is None else _uint(floor_node, f"{ctl.path}.floor")
        spec_node = ctl.optional(5, constructed=True)
        spec = None if spec_node is None else _specialists(spec_node, f"{ctl.path}.specialist")
        other_node = ctl.optional(6, constructed=True)
        others: tuple[SeqNumberChange, ...] = ()
        if other_node is not None:
            others = tuple(
                SeqNumberChange.from_der(n, f"{ctl.path}.changes[{i}]")
                for i, n in enumerate(other_node.children)
            )
        ctl.done()
        reps = []
        rpath = f"{path}.replacements"
        for i, n in enumerate(_sequence_of(top.sequence("replacements"), rpath)):
            rr = _Reader(n, f"{rpath}[{i}]")
            cert = rr.sequence("certificate").encode()
            target = CellId.from_der(rr.sequence("target_cell"), f"{rpath}[{i}].target_cell")
            rr.done()
            reps.append(Replacement(cert, target))
        path_certs = tuple(
            n.encode() for n in _sequence_of(top.sequence("path_certificates"), f"{path}.path")
        )
        when = None
        t = top.optional(UniversalTag.GENERALIZED_TIME, cls=TagClass.UNIVERSAL)
        if t is not None:
            try:
                when = read_generalized_time(t, 0, f"{path}.execution_date_time")
            except GbcsDecodeError as e:
                raise CredentialsError(str(e)) from None
        top.done()
        return cls(
            mode,
            seq,
            tuple(reps),
            path_certs,
            cell,
            apply_time,
            floor,
            spec,
            others,
            when,
            None if key is None else key.content,
        )

    def to_der(self) -> DerNode:
        """The command's DER tree (used to build commands in tests and tools)."""
        ctl: list[DerNode] = [der_integer(self.mode)]
        if self.plaintext_symmetric_key is not None:
            ctl.append(der_tagged(0, self.plaintext_symmetric_key))
        if not self.apply_time_checks:
            ctl.append(der_tagged(1, der_integer(1).content))
        if self.authorising_cell is not None:
            ctl.append(der_tagged(2, self.authorising_cell.fields()))
        ctl.append(der_tagged(3, der_integer(self.authorising_seq).content))
        if self.new_floor is not None:
            ctl.append(der_tagged(4, der_integer(self.new_floor).content))
        if self.new_specialist is not None:
            ctl.append(der_tagged(5, tuple(s.to_der() for s in self.new_specialist)))
        if self.other_changes:
            ctl.append(der_tagged(6, tuple(c.to_der() for c in self.other_changes)))
        kids = [
            der_sequence(*ctl),
            der_sequence(*(r.to_der() for r in self.replacements)),
            der_sequence(*(decode_der_node(c, "certificate") for c in self.path_certificates)),
        ]
        if self.execution_time is not None:
            kids.append(der_generalized_time(self.execution_time))
        return der_sequence(*kids)


@dataclass(frozen=True, slots=True)
class ReplacementOutcome:
    """``ReplacementOutcome``: the cell, its status, and the IDs before and after."""

    target: CellId
    status: StatusCode
    existing_eui: bytes
    existing_key_id: bytes
    replacing_eui: bytes
    replacing_key_id: bytes

    def to_der(self) -> DerNode:
        return der_sequence(
            self.target.to_der(),
            der_enumerated(int(self.status)),
            der_octet_string(self.existing_eui),
            der_octet_string(self.existing_key_id),
            der_octet_string(self.replacing_eui),
            der_octet_string(self.replacing_key_id),
        )


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """``ExecutionOutcome`` of CS02b/CS02g (immediate response or future-dated alert)."""

    authorising_seq: int
    mode: int
    seq_changes: tuple[SeqNumberChange, ...]
    outcomes: tuple[ReplacementOutcome, ...]

    @property
    def succeeded(self) -> bool:
        """True when every replacement succeeded (and so was applied)."""
        return all(o.status is StatusCode.SUCCESS for o in self.outcomes)

    def to_der(self) -> DerNode:
        return der_sequence(
            der_integer(self.authorising_seq),
            der_integer(self.mode),
            der_sequence(*(c.to_der() for c in self.seq_changes)),
            der_sequence(*(o.to_der() for o in self.outcomes)),
        )


def update_response_der(outcome: UpdateOutcome | None) -> DerNode:
    """Response: ``SEQUENCE { NULL, outcome }``, or ``SEQUENCE { NULL }`` when future-dated."""
    if outcome is None:
        return der_sequence(der_null())
    return der_sequence(der_null(), outcome.to_der())


def update_alert_der(alert_code: int, execution_time: datetime, outcome: UpdateOutcome) -> DerNode:
    """Future-dated outcome alert (0x00CB / 0x0124): code, execution time, outcome."""
    return der_sequence(
        der_integer(alert_code), der_generalized_time(execution_time), outcome.to_der()
    )


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    """A future-dated CS02b/CS02g command waiting for its execution time (device time)."""

    message_code: int
    command: bytes
    originator: bytes
    execution_time: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_code": self.message_code,
            "command": self.command.hex(),
            "originator": self.originator.hex(),
            "execution_time": self.execution_time.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PendingUpdate:
        t = datetime.fromisoformat(d["execution_time"])
        if t.tzinfo is None:
            raise CredentialsError("pending update time must be timezone-aware")
        return cls(
            int(d["message_code"]),
            bytes.fromhex(d["command"]),
            bytes.fromhex(d["originator"]),
            t.astimezone(UTC),
        )


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).hex()


def _load_private(hexder: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(bytes.fromhex(hexder), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CredentialsError("stored key is not an EC private key")
    return key


CertificateIssuer = Callable[[KeyUsage], bytes | None]
"""Issues a device's own certificate (DER) of a usage, for the key pair of that usage it
was built with; None when it cannot. Called at most once per usage, on first need."""


@dataclass(slots=True)
class CredentialState:
    """Credential state next to the trust anchors (serialisable).

    * ``certificates``: the device's own certificates (DER) by usage (CS02e, CS02d).
    * ``pending_keys``: key pairs generated by CS02c, waiting for their certificate.
    * ``installed_keys``: own private keys installed by CS02d, overriding the key pairs
      the device was built with (:meth:`own_keys` applies them).
    * ``prepayment``: the Supplier's prepayment top-up KA cell (no slot in TrustAnchors).
    * ``key_ids``: certificate subject key identifiers by :func:`keys.certs.key_identifier`
      of the public key, so CS02a/CS02b report a cell's real SKI (SMKI identifiers are not
      derived from the key); unknown keys fall back to ``key_identifier``.
    * ``pending_updates``: accepted future-dated CS02b/CS02g commands.
    * ``issuer`` (not state, never serialised): issues the device's certificate of a usage
      the first time one is asked for and none is held (see :data:`CertificateIssuer`).

    Private keys are serialised (PKCS#8 DER hex): a test emulator's keys, never secrets.
    """

    certificates: dict[KeyUsage, bytes] = field(default_factory=dict)
    pending_keys: dict[KeyUsage, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    installed_keys: dict[KeyUsage, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    prepayment: AnchorCell | None = None
    key_ids: dict[bytes, bytes] = field(default_factory=dict)
    pending_updates: list[PendingUpdate] = field(default_factory=list)
    issuer: CertificateIssuer | None = field(default=None, compare=False, repr=False)
    #: ``key_ids`` is shared with other devices (one per key store or saved form):
    #: :meth:`learn` copies it before writing.
    _key_ids_shared: bool = field(default=False, init=False, repr=False, compare=False)

    @classmethod
    def from_store(
        cls, store: KeyStore, eui: bytes, anchors: TrustAnchors | None = None
    ) -> CredentialState:
        """Own certificates of ``eui``, the anchors' Supplier prepayment KA cell and the
        SKIs of every certificate in ``store``."""
        state = cls()
        for usage in (KeyUsage.DS, KeyUsage.KA):
            cert = store.certificate(eui, usage)
            if cert is not None:
                state.certificates[usage] = cert.public_bytes(serialization.Encoding.DER)
        supplier = None if anchors is None else anchors.eui(R.SUPPLIER)
        if supplier is not None:
            pp = store.public_key(supplier, KeyUsage.KA, prepayment=True)
            if pp is not None:
                state.prepayment = AnchorCell(R.SUPPLIER, supplier, ka=pp)
        generation = getattr(store, "generation", None)
        hit = None if generation is None else _STORE_KEY_IDS.get(store)
        if hit is not None and hit[0] == generation:
            state.key_ids = hit[1]
            state._key_ids_shared = True
            return state
        for entry in store.entries():
            if entry.certificate is not None:
                state.learn(entry.certificate)
        if generation is not None:
            _STORE_KEY_IDS[store] = (generation, state.key_ids)
            state._key_ids_shared = True
        return state

    def learn(self, certificate: x509.Certificate) -> None:
        """Remember a certificate's SKI for its public key."""
        pub = certificate.public_key()
        if isinstance(pub, ec.EllipticCurvePublicKey):
            if self._key_ids_shared:
                self.key_ids = dict(self.key_ids)
                self._key_ids_shared = False
            self.key_ids[key_identifier(pub)] = _certificate_key_id(certificate)

    def key_id(self, key: ec.EllipticCurvePublicKey | None) -> bytes:
        """The SKI reported for a cell key (8 zero bytes for an empty cell)."""
        if key is None:
            return ZERO_ID
        kid = key_identifier(key)
        return self.key_ids.get(kid, kid)

    def own_keys(self, base: OwnKeys) -> OwnKeys:
        """``base`` with the keys CS02d installed (``base`` itself when there are none,
        so key pairs built on first use stay unbuilt)."""
        if not self.installed_keys:
            return base
        return OwnKeys(
            base.eui,
            self.installed_keys.get(KeyUsage.KA, base.ka),
            self.installed_keys.get(KeyUsage.DS, base.ds),
        )

    def copy(self) -> CredentialState:
        out = CredentialState(
            dict(self.certificates),
            dict(self.pending_keys),
            dict(self.installed_keys),
            self.prepayment,
            self.key_ids if self._key_ids_shared else dict(self.key_ids),
            list(self.pending_updates),
            self.issuer,
        )
        out._key_ids_shared = self._key_ids_shared
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificates": {u.value: c.hex() for u, c in sorted(self.certificates.items())},
            "pending_keys": {u.value: _pkcs8(k) for u, k in sorted(self.pending_keys.items())},
            "installed_keys": {u.value: _pkcs8(k) for u, k in sorted(self.installed_keys.items())},
            "prepayment": None if self.prepayment is None else self.prepayment.to_dict(),
            "key_ids": _key_ids_hex(self.key_ids, self._key_ids_shared),
            "pending_updates": [p.to_dict() for p in self.pending_updates],
        }

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], issuer: CertificateIssuer | None = None
    ) -> CredentialState:
        """Inverse of :meth:`to_dict` (``issuer`` is not state: the caller passes it on);
        raises :class:`CredentialsError` for a bad dict."""
        try:
            pp = d.get("prepayment")
            state = cls(
                {KeyUsage(u): bytes.fromhex(c) for u, c in d.get("certificates", {}).items()},
                {KeyUsage(u): _load_private(k) for u, k in d.get("pending_keys", {}).items()},
                {KeyUsage(u): _load_private(k) for u, k in d.get("installed_keys", {}).items()},
                None if pp is None else AnchorCell.from_dict(pp),
                _shared_key_ids(d.get("key_ids", {})),
                [PendingUpdate.from_dict(p) for p in d.get("pending_updates", [])],
                issuer,
            )
            state._key_ids_shared = True
            return state
        except CredentialsError:
            raise
        except (KeyError, TypeError, ValueError, UnsupportedAlgorithm) as e:
            raise CredentialsError(f"bad credential state: {e}") from None


_STORE_KEY_IDS: weakref.WeakKeyDictionary[KeyStore, tuple[int, dict[bytes, bytes]]] = (
    weakref.WeakKeyDictionary()
)
"""Per key store: the SKIs of its certificates, with the store generation they are of."""

_SAVED_KEY_IDS: dict[tuple[tuple[str, str], ...], dict[bytes, bytes]] = {}
"""Saved ``key_ids`` forms already parsed: devices that load the same one share it."""

#: Serialised form of shared ``key_ids`` dicts by id (the entry keeps the dict alive).
_KEY_IDS_HEX: dict[int, tuple[dict[bytes, bytes], dict[str, str]]] = {}

_CACHE_LIMIT = 256


def _shared_key_ids(saved: Any) -> dict[bytes, bytes]:
    """The parsed ``key_ids`` of a saved state, one dict per distinct saved form (never
    written: :class:`CredentialState` copies it before learning a key)."""
    items = tuple(sorted((str(k), str(v)) for k, v in dict(saved).items()))
    hit = _SAVED_KEY_IDS.get(items)
    if hit is None:
        hit = {bytes.fromhex(k): bytes.fromhex(v) for k, v in items}
        if len(_SAVED_KEY_IDS) >= _CACHE_LIMIT:
            _SAVED_KEY_IDS.clear()
        _SAVED_KEY_IDS[items] = hit
    return hit


def _key_ids_hex(key_ids: dict[bytes, bytes], shared: bool) -> dict[str, str]:
    """``key_ids`` as saved; a shared dict is serialised once."""
    hit = _KEY_IDS_HEX.get(id(key_ids)) if shared else None
    if hit is not None and hit[0] is key_ids:
        return dict(hit[1])
    text = {k.hex(): v.hex() for k, v in sorted(key_ids.items())}
    if shared:
        if len(_KEY_IDS_HEX) >= _CACHE_LIMIT:
            _KEY_IDS_HEX.clear()
        _KEY_IDS_HEX[id(key_ids)] = (key_ids, text)
        return dict(text)
    return text


def load_certificate(
    der: bytes,
) -> tuple[x509.Certificate, CertificateInfo, ec.EllipticCurvePublicKey] | None:
    """Parse a certificate completely: ``(certificate, facts, EC public key)``, or None.

    ``cryptography`` parses certificates lazily, so a malformed subject or extension
    only fails when first read, and not always with ``ValueError`` (a mangled name
    attribute has raised ``KeyError`` and ``TypeError``). Everything the handlers read
    is read here once, under one guard.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
        pub = cert.public_key()
        info = describe_certificate(cert)
        _ = (cert.issuer, cert.signature_hash_algorithm, cert.tbs_certificate_bytes)
        _certificate_key_id(cert)
    except Exception:  # any parse failure of untrusted input means "bad certificate"
        return None
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        return None
    return cert, info, pub


def _certificate_key_id(cert: x509.Certificate) -> bytes:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        pub = cert.public_key()
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        return key_identifier(pub)


# --------------------------------------------------------------------------- CS02b / CS02g


@dataclass(frozen=True, slots=True)
class _NewKey:
    eui: bytes
    key: ec.EllipticCurvePublicKey
    key_id: bytes
    certificate: x509.Certificate


def _signed_by(cert: x509.Certificate, key: ec.EllipticCurvePublicKey) -> bool:
    try:
        algo = cert.signature_hash_algorithm
        if algo is None:
            return False
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _chains(
    cert: x509.Certificate,
    path: Sequence[x509.Certificate],
    root: ec.EllipticCurvePublicKey | None,
) -> bool:
    for p in path:
        if issued_by(cert, p):
            return root is None or _signed_by(p, root)
    return root is not None and _signed_by(cert, root)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return bool(ku.key_cert_sign) and not ku.digital_signature and not ku.key_agreement


def _cell_key(cell: AnchorCell | None, usage: CellKeyUsage) -> ec.EllipticCurvePublicKey | None:
    if cell is None:
        return None
    return cell.ka if usage is CellKeyUsage.KEY_AGREEMENT else cell.ds


def _check_replacement(
    rep: Replacement,
    mode: ReplacementMode,
    held: frozenset[RemotePartyRole],
    path: Sequence[x509.Certificate],
    root: ec.EllipticCurvePublicKey | None,
    time_check: datetime | None,
) -> tuple[StatusCode, _NewKey | None]:
    t = rep.target
    role, usage = t.remote_party_role, t.usage
    if role is None or usage is None or role not in held:
        return StatusCode.TRUST_ANCHOR_NOT_FOUND, None
    try:
        kind = (usage, CellUsage(t.cell_usage))
    except ValueError:
        return StatusCode.TRUST_ANCHOR_NOT_FOUND, None
    if kind not in CELL_KINDS.get(role, frozenset()):
        return StatusCode.TRUST_ANCHOR_NOT_FOUND, None
    if role not in MODE_TARGETS[mode]:
        return StatusCode.OTHER, None
    loaded = load_certificate(rep.certificate)
    if loaded is None:
        return StatusCode.BAD_CERTIFICATE, None
    cert, info, pub = loaded
    if info.problems or info.is_device:
        return StatusCode.BAD_CERTIFICATE, None
    if info.role not in _CERT_ROLES.get(role, frozenset({role})):
        return StatusCode.BAD_CERTIFICATE, None
    if usage is CellKeyUsage.KEY_CERT_SIGN:
        if not _is_ca(cert):
            return StatusCode.BAD_CERTIFICATE, None
        eui = ZERO_ID
    else:
        if info.key_usages != frozenset({usage.key_usage}) or info.subject_eui is None:
            return StatusCode.BAD_CERTIFICATE, None
        eui = info.subject_eui
    if time_check is not None and not info.not_before <= time_check <= info.not_after:
        return StatusCode.BAD_CERTIFICATE, None
    chained = issued_by(cert, cert) if role is R.ROOT else _chains(cert, path, root)
    if not chained:
        return StatusCode.NO_TRUST_ANCHOR, None
    return StatusCode.SUCCESS, _NewKey(eui, pub, _certificate_key_id(cert), cert)


def _load_path(certs: Iterable[bytes]) -> list[x509.Certificate]:
    # An unreadable path certificate simply issues nothing.
    return [loaded[0] for loaded in map(load_certificate, certs) if loaded is not None]


def _existing(target: CellId, anchors: TrustAnchors, state: CredentialState) -> tuple[bytes, bytes]:
    role, usage = target.remote_party_role, target.usage
    if role is None or usage is None or (target.prepayment and role is not R.SUPPLIER):
        return ZERO_ID, ZERO_ID
    cell = state.prepayment if target.prepayment else anchors.cell(role)
    if cell is None:
        return ZERO_ID, ZERO_ID
    return cell.eui, state.key_id(_cell_key(cell, usage))


def apply_update(
    cmd: UpdateCredentialsCommand,
    *,
    message_code: int,
    device_type: str,
    anchors: TrustAnchors,
    state: CredentialState,
    device_time: datetime | None,
    counters: MutableMapping[bytes, int] | None = None,
    fault: int | None = None,
) -> UpdateOutcome:
    """Check every replacement; apply all of them (and the floors) or none.

    ``device_type`` selects the anchor roles the device has; ``device_time`` (None while
    the clock is invalid: time checks are then skipped) is what certificate validity is
    checked against; ``counters`` (last accepted originator counter by EUI) receives the
    sequence-number floors; ``fault`` (a :class:`StatusCode` other than success) forces
    that status on every replacement with no change, for test benches.
    Raises :class:`CredentialsError` when ``message_code`` is not a replacement code or
    disagrees with the command's mode, before any change.
    """
    mode = MODE_BY_CODE.get(message_code)
    if mode is None:
        raise CredentialsError(f"0x{message_code:04X} is not a credential replacement code")
    if cmd.mode != mode:
        raise CredentialsError(
            f"replacement mode {cmd.mode} does not match message code 0x{message_code:04X}"
            f" (mode {int(mode)})"
        )
    forced: StatusCode | None = None
    if fault is not None:
        try:
            forced = StatusCode(fault)
        except ValueError:
            raise CredentialsError(f"unknown status code {fault}") from None
    try:
        held = frozenset(default_anchor_roles(device_type))
    except KeyError:
        raise CredentialsError(f"unknown device type {device_type!r}") from None
    root_cell = anchors.cell(R.ROOT)
    root = None if root_cell is None else root_cell.ds
    path = _load_path(cmd.path_certificates)
    when = device_time.astimezone(UTC) if cmd.apply_time_checks and device_time else None

    statuses: list[StatusCode] = []
    news: list[_NewKey | None] = []
    seen: set[tuple[int, CellKeyUsage | None, int]] = set()
    for rep in cmd.replacements:
        status, new = _check_replacement(rep, mode, held, path, root, when)
        slot = (rep.target.role, rep.target.usage, rep.target.cell_usage)
        if status is StatusCode.SUCCESS and slot in seen:
            status, new = StatusCode.OTHER, None
        seen.add(slot)
        statuses.append(status)
        news.append(new)
    _check_euis(cmd.replacements, statuses, news, anchors)

    if forced is not None and forced is not StatusCode.SUCCESS:
        statuses = [forced] * len(statuses)
    ok = all(s is StatusCode.SUCCESS for s in statuses)
    existing = [_existing(r.target, anchors, state) for r in cmd.replacements]
    if not ok:
        outcomes = tuple(
            ReplacementOutcome(
                r.target, s if s is not StatusCode.SUCCESS else StatusCode.OTHER, *ex, *ex
            )
            for r, s, ex in zip(cmd.replacements, statuses, existing, strict=True)
        )
        return UpdateOutcome(cmd.authorising_seq, cmd.mode, (), outcomes)

    for rep, new in zip(cmd.replacements, news, strict=True):
        assert new is not None
        _install(rep.target, new, anchors, state)
    changes = _seq_changes(cmd, mode)
    if counters is not None:
        for c in changes:
            try:
                eui = anchors.eui(R(c.role))
            except ValueError:
                eui = None
            if eui is not None:
                counters[eui] = max(counters.get(eui, c.floor), c.floor)
    outcomes = tuple(
        ReplacementOutcome(r.target, StatusCode.SUCCESS, *ex, *_existing(r.target, anchors, state))
        for r, ex in zip(cmd.replacements, existing, strict=True)
    )
    return UpdateOutcome(cmd.authorising_seq, cmd.mode, changes, outcomes)


def _check_euis(
    reps: Sequence[Replacement],
    statuses: list[StatusCode],
    news: Sequence[_NewKey | None],
    anchors: TrustAnchors,
) -> None:
    """A management cell keeps one subject: refuse replacements that would mix EUIs."""
    by_role: dict[RemotePartyRole, list[int]] = {}
    for i, (rep, st) in enumerate(zip(reps, statuses, strict=True)):
        role = rep.target.remote_party_role
        if st is StatusCode.SUCCESS and role not in (None, R.ROOT) and not rep.target.prepayment:
            assert role is not None
            by_role.setdefault(role, []).append(i)
    for role, idx in by_role.items():
        euis = {n.eui for n in (news[i] for i in idx) if n is not None}
        replaced = {reps[i].target.usage for i in idx}
        cell = anchors.cell(role)
        kept = (
            []
            if cell is None
            else [
                u
                for u in (CK.DIGITAL_SIGNATURE, CK.KEY_AGREEMENT)
                if u not in replaced and _cell_key(cell, u) is not None
            ]
        )
        if len(euis) > 1 or (kept and cell is not None and {cell.eui} != euis):
            for i in idx:
                statuses[i] = StatusCode.BAD_CERTIFICATE


def _install(target: CellId, new: _NewKey, anchors: TrustAnchors, state: CredentialState) -> None:
    role = target.remote_party_role
    assert role is not None
    state.learn(new.certificate)
    if target.prepayment:
        state.prepayment = AnchorCell(role, new.eui, ka=new.key)
        return
    old = anchors.cell(role)
    ka = None if old is None else old.ka
    ds = None if old is None else old.ds
    if target.usage is CellKeyUsage.KEY_AGREEMENT:
        ka = new.key
    else:
        ds = new.key
    anchors.replace(AnchorCell(role, new.eui, ka, ds))


def _seq_changes(
    cmd: UpdateCredentialsCommand, mode: ReplacementMode
) -> tuple[SeqNumberChange, ...]:
    out = []
    if cmd.new_floor is not None:
        role = cmd.authorising_cell.role if cmd.authorising_cell is not None else MODE_SIGNER[mode]
        out.append(SeqNumberChange(int(role), cmd.new_floor, cmd.new_specialist))
    out.extend(cmd.other_changes)
    return tuple(out)


# --------------------------------------------------------------------------- CS02a / CS02f


@dataclass(frozen=True, slots=True)
class CellDetails:
    """``TrustAnchorCellContents``: usage, cell usage, subject EUI and key identifier."""

    usage: CellKeyUsage
    cell_usage: CellUsage
    eui: bytes
    key_id: bytes

    def to_der(self) -> DerNode:
        kids = [self.usage.bit_string()]
        if self.cell_usage is not CellUsage.MANAGEMENT:
            kids.append(der_integer(int(self.cell_usage)))
        kids += [der_octet_string(self.eui), der_octet_string(self.key_id)]
        return der_sequence(*kids)


@dataclass(frozen=True, slots=True)
class RemotePartyDetails:
    """``RemotePartyDetails``: a role's status, current sequence number and cells."""

    role: int
    status: StatusCode
    seq: int | None = None
    cells: tuple[CellDetails, ...] = ()

    def to_der(self) -> DerNode:
        kids = [der_integer(self.role), der_enumerated(int(self.status))]
        if self.status is StatusCode.SUCCESS:
            kids += [der_integer(self.seq or 0), der_sequence(*(c.to_der() for c in self.cells))]
        return der_sequence(*kids)


def parse_details_command(
    node: DerNode, path: str = "provide_credential_details"
) -> tuple[CellId, tuple[int, ...]]:
    """CS02a/CS02f command: the authorising cell and the roles asked for."""
    r = _Reader(node, path)
    cell = CellId.from_der(r.sequence("authorising_ta_cell"), f"{path}.authorising_ta_cell")
    roles_node = r.sequence("roles")
    roles = tuple(
        _uint(n, f"{path}.roles[{i}]", 16) if n.is_universal(UniversalTag.INTEGER) else -1
        for i, n in enumerate(roles_node.children)
    )
    if -1 in roles:
        raise CredentialsError(f"{path}.roles: every role must be an INTEGER")
    r.done()
    return cell, roles


def credential_details(
    roles: Sequence[int],
    *,
    device_type: str,
    anchors: TrustAnchors,
    state: CredentialState,
    counters: Mapping[bytes, int],
    fault: int | None = None,
) -> tuple[RemotePartyDetails, ...]:
    """One :class:`RemotePartyDetails` per requested role, in request order.

    A role the device holds no cell for answers ``TRUST_ANCHOR_NOT_FOUND``; the current
    sequence number is the last counter accepted from the cell's EUI (0 if none yet).
    ``fault`` forces that status on every role.
    """
    forced: StatusCode | None = None
    if fault is not None:
        try:
            forced = StatusCode(fault)
        except ValueError:
            raise CredentialsError(f"unknown status code {fault}") from None
    try:
        held = frozenset(default_anchor_roles(device_type))
    except KeyError:
        raise CredentialsError(f"unknown device type {device_type!r}") from None
    out = []
    for number in roles:
        if forced is not None and forced is not StatusCode.SUCCESS:
            out.append(RemotePartyDetails(number, forced))
            continue
        try:
            role: RemotePartyRole | None = R(number)
        except ValueError:
            role = None
        cell = anchors.cell(role) if role is not None and role in held else None
        if cell is None:
            out.append(RemotePartyDetails(number, StatusCode.TRUST_ANCHOR_NOT_FOUND))
            continue
        cells = []
        if role is R.ROOT:
            if cell.ds is not None:
                cells.append(CellDetails(CK.KEY_CERT_SIGN, _MGMT, cell.eui, state.key_id(cell.ds)))
        else:
            if cell.ds is not None:
                cells.append(
                    CellDetails(CK.DIGITAL_SIGNATURE, _MGMT, cell.eui, state.key_id(cell.ds))
                )
            if cell.ka is not None:
                cells.append(CellDetails(CK.KEY_AGREEMENT, _MGMT, cell.eui, state.key_id(cell.ka)))
        pp = state.prepayment
        if role is R.SUPPLIER and pp is not None and pp.ka is not None:
            cells.append(
                CellDetails(
                    CK.KEY_AGREEMENT, CellUsage.PREPAYMENT_TOP_UP, pp.eui, state.key_id(pp.ka)
                )
            )
        out.append(
            RemotePartyDetails(number, StatusCode.SUCCESS, counters.get(cell.eui, 0), tuple(cells))
        )
    return tuple(out)


def details_response_der(details: Sequence[RemotePartyDetails]) -> DerNode:
    """CS02a/CS02f response: ``SEQUENCE OF RemotePartyDetails``."""
    return der_sequence(*(d.to_der() for d in details))


# --------------------------------------------------------------------------- CS02c/d/e


class IssueResponse(IntEnum):
    """CS02c failure codes (success is the certification request itself)."""

    INVALID_KEY_USAGE = 1
    KEY_PAIR_GENERATION_FAILED = 2
    CR_PRODUCTION_FAILED = 3


class DeviceCertificateResponse(IntEnum):
    """CS02d response code."""

    SUCCESS = 0
    INVALID_CERTIFICATE = 1
    WRONG_DEVICE_IDENTITY = 2
    INVALID_KEY_USAGE = 3
    NO_CORRESPONDING_KEY_PAIR_GENERATED = 4
    WRONG_PUBLIC_KEY = 5
    CERTIFICATE_STORAGE_FAILED = 6
    PRIVATE_KEY_CHANGE_FAILED = 7


class ProvideCertificateResponse(IntEnum):
    """CS02e failure codes (success is the certificate itself)."""

    INVALID_KEY_USAGE = 1
    NO_CERTIFICATE_HELD = 2
    CERTIFICATE_RETRIEVAL_FAILURE = 3


def parse_key_usage_command(node: DerNode, path: str = "command") -> CellKeyUsage | None:
    """CS02c/CS02e command ``SEQUENCE { keyUsage BIT STRING }``: the usage, or None when
    the bit string names no single usage (answered with ``INVALID_KEY_USAGE``)."""
    r = _Reader(node, path)
    bits = r.take("key_usage", UniversalTag.BIT_STRING).content
    r.done()
    return CellKeyUsage.from_bits(bits)


def _fault_code(kind: type[IntEnum], fault: int | None) -> Any:
    if fault is None:
        return None
    try:
        return kind(fault)
    except ValueError:
        raise CredentialsError(f"unknown {kind.__name__} code {fault}") from None


def issue_credentials(
    usage: CellKeyUsage | None,
    eui: bytes,
    state: CredentialState,
    *,
    fault: int | None = None,
) -> bytes | IssueResponse:
    """CS02c: generate a key pair for ``usage`` and return its certification request.

    The new private key waits in ``state.pending_keys`` (replacing an earlier pending one
    of that usage) until CS02d brings its certificate.
    """
    forced = _fault_code(IssueResponse, fault)
    if forced is not None:
        return forced  # type: ignore[no-any-return]
    ku = None if usage is None else usage.key_usage
    if ku is None:
        return IssueResponse.INVALID_KEY_USAGE
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(key_usage_extension(ku), critical=True)
        .add_extension(device_subject_alt_name(eui), critical=True)
        .sign(key, hashes.SHA256())
    )
    state.pending_keys[ku] = key
    return csr.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class DeviceCertificateOutcome:
    """CS02d result: the code, the usage it concerned (when known), new own keys."""

    code: DeviceCertificateResponse
    usage: KeyUsage | None = None
    own_keys: OwnKeys | None = None


def update_device_certificate(
    certificate: bytes,
    own: OwnKeys,
    state: CredentialState,
    *,
    fault: int | None = None,
) -> DeviceCertificateOutcome:
    """CS02d: install a device certificate for a key pair CS02c generated.

    Checks in order: parseable device certificate (else ``INVALID_CERTIFICATE``), naming
    this device (``WRONG_DEVICE_IDENTITY``), exactly one of DS/KA usage
    (``INVALID_KEY_USAGE``), a pending key pair of that usage
    (``NO_CORRESPONDING_KEY_PAIR_GENERATED``) whose public key it certifies
    (``WRONG_PUBLIC_KEY``). On success the certificate and private key replace the
    device's, and ``own_keys`` carries the new key pairs for the device to install.
    The issuing device CA is not verified: devices hold no device-CA anchor here.
    """
    D = DeviceCertificateResponse
    forced = _fault_code(D, fault)
    usage: KeyUsage | None = None
    loaded = load_certificate(certificate)
    if loaded is None:
        return DeviceCertificateOutcome(forced or D.INVALID_CERTIFICATE)
    cert, info, pub = loaded
    if info.key_usages is not None and len(info.key_usages) == 1:
        (usage,) = info.key_usages
    if forced is not None and forced is not D.SUCCESS:
        return DeviceCertificateOutcome(forced, usage)
    if info.problems or not info.is_device:
        return DeviceCertificateOutcome(D.INVALID_CERTIFICATE, usage)
    if info.hardware_serial != own.eui:
        return DeviceCertificateOutcome(D.WRONG_DEVICE_IDENTITY, usage)
    if usage is None:
        return DeviceCertificateOutcome(D.INVALID_KEY_USAGE)
    pending = state.pending_keys.get(usage)
    if pending is None:
        return DeviceCertificateOutcome(D.NO_CORRESPONDING_KEY_PAIR_GENERATED, usage)
    if pending.public_key().public_numbers() != pub.public_numbers():
        return DeviceCertificateOutcome(D.WRONG_PUBLIC_KEY, usage)
    state.certificates[usage] = certificate
    del state.pending_keys[usage]
    state.installed_keys[usage] = pending
    state.learn(cert)
    new_own = OwnKeys(
        own.eui,
        pending if usage is KeyUsage.KA else own.ka,
        pending if usage is KeyUsage.DS else own.ds,
    )
    return DeviceCertificateOutcome(D.SUCCESS, usage, new_own)


def provide_device_certificate(
    usage: CellKeyUsage | None, state: CredentialState, *, fault: int | None = None
) -> bytes | ProvideCertificateResponse:
    """CS02e: the device's certificate of ``usage`` (DER) or a failure code.

    A device built with a certificate :attr:`~CredentialState.issuer` gets the certificate
    of a key pair it was built with issued here, the first time it is asked for, and holds
    it from then on (not for a key pair CS02d installed: that one came with its own).
    """
    forced = _fault_code(ProvideCertificateResponse, fault)
    if forced is not None:
        return forced  # type: ignore[no-any-return]
    ku = None if usage is None else usage.key_usage
    if ku is None:
        return ProvideCertificateResponse.INVALID_KEY_USAGE
    cert = state.certificates.get(ku)
    if cert is None and state.issuer is not None and ku not in state.installed_keys:
        cert = state.issuer(ku)
        if cert is not None:
            state.certificates[ku] = cert
    if cert is None:
        return ProvideCertificateResponse.NO_CERTIFICATE_HELD
    return cert


def describe_cell(cell: CellId) -> str:
    """``Supplier DS``, ``Supplier KA (prepayment)``… for logs."""
    role = cell.remote_party_role
    usage = cell.usage
    name = role.human_name if role is not None else f"role {cell.role}"
    u = {None: "?", CK.DIGITAL_SIGNATURE: "DS", CK.KEY_AGREEMENT: "KA", CK.KEY_CERT_SIGN: "CA"}
    pp = " (prepayment)" if cell.prepayment else ""
    return f"{name} {u[usage]}{pp}"
