"""Security, HAN and CHF SRVs: trust-anchor updates (6.15, 6.17, 6.21, 6.23, 6.24, 8.5),
joins and unjoins (8.7, 8.8), device logs (8.9, 8.11, 8.12), Activate Firmware (11.3)
and the CHF Sub GHz SRVs (6.28-6.32).

Each body is a typed, frozen dataclass whose fields follow the DUIS 5.4 XSD complexType
of its element; each planner maps it to the GBCS use case DUIS names for the target's
device type, with the catalogue arguments of that use case (``usecases.get``).

Who originates the GBCS:

* the user, for what the user signs (the critical SRVs: their pre-command) and for
  CS03B, CS04B and CS07 (MAC'd by the ACB);
* the Access Control Broker (ACB), with the DCC's own counter: 6.21 (the DCC holds the
  Supplier's or Network Operator's anchors of a DCC controlled device and hands them
  over, signing as their holder), 6.24.1 (the DCC asks for credential details, MAC'd
  only), 8.5 (it replaces its own anchors) and every command to a CHF;
* the Transitional Change of Supplier party, for 6.23 (it signs CS02b supplierByTransCoS).

The ACB's commands for a user carry the user as Supplementary Remote Party; the critical
use cases the ACB sends MAC'd only (CS02a, CS02f, CS02b accessControlBrokerByACB to a
device other than a CHF) have a null signature. Where the GBCS needs what only the DCC's
inventory holds (another device's type or certificate, an old device's log backup), the
planner refuses with that reason
rather than send something else.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from emulator.duis.routing import (
    ACB,
    TRANSITIONAL_COS,
    NotTransformed,
    Plan,
    PlanInput,
    Planner,
    SrvRoute,
    boolean,
    bounded,
    child,
    children,
    date_time,
    dsp_held,
    local,
    only,
    optional,
    required,
    text,
)

__all__ = [
    "CHF_PLANS",
    "MORE_PLANNERS",
    "NOT_YET",
    "ROUTES",
    "ActivateFirmware",
    "AddDeviceToChfWhitelist",
    "CredentialRequest",
    "JoinOrUnjoinDevice",
    "NoFields",
    "ReadChfSubGhzChannelLog",
    "ReadDeviceLog",
    "ReplacementCertificates",
    "RequestHandoverOfDccControlledDevice",
    "RestoreDeviceLog",
    "RetrieveDeviceSecurityCredentialsKrp",
    "ServiceOptOut",
    "SubGhzConfiguration",
    "UpdateHanDeviceLog",
    "UpdateSecurityCredentialsCos",
    "UpdateSecurityCredentialsDevice",
    "UpdateSecurityCredentialsKrp",
    "plan_chf",
    "plan_chf_firmware_version",
]

# --- value readers -------------------------------------------------------------------

#: DUIS RemotePartyRole -> the GBCS RemotePartyRole name the catalogue takes.
_ROLES = {
    "Root": "root",
    "Recovery": "recovery",
    "Supplier": "supplier",
    "NetworkOperator": "network_operator",
    "ACB": "access_control_broker",
    "TransCoS": "transitional_cos",
    "LoadController": "load_controller",
}
#: DUIS CredentialType -> the X.509 key usage the catalogue takes.
_CREDENTIAL_TYPES = {"Digital Signature": "digital_signature", "Key Agreement": "key_agreement"}
_FLOOR_MAX = 9223372036854775807  # DUIS floorSequenceNumber


def _base64(value: str) -> bytes:
    """An xs:base64Binary (a DER certificate here)."""
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if not data:
        raise ValueError("empty")
    return data


def _hex(length: tuple[int, int]) -> Callable[[str], bytes]:
    """An xs:hexBinary of ``length`` (min, max) octets."""

    def convert(value: str) -> bytes:
        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", value):
            raise ValueError(f"not hex octets: {value!r}")
        data = bytes.fromhex(value)
        if not length[0] <= len(data) <= length[1]:
            raise ValueError(f"{len(data)} octets, expected {length[0]}..{length[1]}")
        return data

    return convert


def _eui(value: str) -> bytes:
    """A DUIS EUI: 8 dash-separated hex pairs."""
    if not re.fullmatch(r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}", value):
        raise ValueError(f"not an EUI (8 dash-separated hex pairs): {value!r}")
    return bytes.fromhex(value.replace("-", ""))


_floor = bounded(0, _FLOOR_MAX)


def _decimal(low: str, high: str, digits: int) -> Callable[[str], Decimal]:
    """An xs:decimal in [low, high] with at most ``digits`` fraction digits."""

    def convert(value: str) -> Decimal:
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal: {value!r}") from None
        if not d.is_finite():
            raise ValueError(f"not a decimal: {value!r}")
        if not Decimal(low) <= d <= Decimal(high):
            raise ValueError(f"{value} is not in {low}..{high}")
        if d != d.quantize(Decimal(1).scaleb(-digits)):  # in range: quantize cannot overflow
            raise ValueError(f"{value!r}: more than {digits} fraction digits")
        return d

    return convert


def _one_of(values: dict[str, str]) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in values:
            raise ValueError(f"{value!r} is not one of {', '.join(values)}")
        return value

    return convert


def _repeated(
    el: etree._Element, name: str, convert: Callable[[str], Any], most: int
) -> tuple[Any, ...]:
    found = children(el, name)
    if not found:
        raise NotTransformed(f"{local(el)}: no {name}")
    if len(found) > most:
        raise NotTransformed(f"{local(el)}: {len(found)} {name}, at most {most}")
    out = []
    for c in found:
        try:
            out.append(convert(text(c)))
        except ValueError as e:
            raise NotTransformed(f"{local(el)}/{name}: {e}") from None
    return tuple(out)


# --- typed bodies ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplacementCertificates:
    """The new certificates of one remote party, DER: digital signing, key agreement and
    (a Supplier's) prepayment top-up key agreement; any may be absent where the XSD
    allows it."""

    digital_signing: bytes | None = None
    key_agreement: bytes | None = None
    key_agreement_top_up: bytes | None = None


def _certificates(el: etree._Element, *, need_ds: bool, need_ka: bool) -> ReplacementCertificates:
    names = ("DigitalSigningCertificate", "KeyAgreementCertificate", "KeyAgreementTopUpCertificate")
    only(el, names)
    ds, ka, top = (optional(el, n, _base64) for n in names)
    if need_ds and ds is None:
        raise NotTransformed(f"{local(el)}: no DigitalSigningCertificate")
    if need_ka and ka is None:
        raise NotTransformed(f"{local(el)}: no KeyAgreementCertificate")
    if ds is None and ka is None and top is None:
        raise NotTransformed(f"{local(el)}: no certificate")
    return ReplacementCertificates(ds, ka, top)


def _path(el: etree._Element) -> tuple[bytes, ...]:
    """CertificationPathCertificates: 1 to 3 Certificate."""
    path = child(el, "CertificationPathCertificates")
    only(path, ("Certificate",), repeats=("Certificate",))
    return _repeated(path, "Certificate", _base64, 3)


@dataclass(frozen=True, slots=True)
class UpdateSecurityCredentialsKrp:
    """SRV 6.15.1 ``UpdateSecurityCredentialsKRP``."""

    remote_party_role: str
    replacement_certificates: ReplacementCertificates
    certification_path_certificates: tuple[bytes, ...]
    apply_time_based_cpv_checks: bool
    remote_party_floor_seq_number: int | None = None
    remote_party_prepayment_top_up_floor_seq_number: int | None = None
    execution_date_time: datetime | None = None


def parse_update_krp(el: etree._Element) -> UpdateSecurityCredentialsKrp:
    """Parse ``UpdateSecurityCredentialsKRP``."""
    only(el, _KRP_FIELDS)
    replacement = child(el, "ReplacementCertificates")
    only(replacement, ("SupplierOrNetworkOperatorCertificates",))
    certs = child(replacement, "SupplierOrNetworkOperatorCertificates")
    return UpdateSecurityCredentialsKrp(
        remote_party_role=required(el, "RemotePartyRole", _one_of(_ROLES)),
        replacement_certificates=_certificates(certs, need_ds=False, need_ka=False),
        certification_path_certificates=_path(el),
        apply_time_based_cpv_checks=required(el, "ApplyTimeBasedCPVChecks", boolean),
        remote_party_floor_seq_number=optional(el, "RemotePartyFloorSeqNumber", _floor),
        remote_party_prepayment_top_up_floor_seq_number=optional(
            el, "RemotePartyPrepaymentTopUpFloorSeqNumber", _floor
        ),
        execution_date_time=optional(el, "ExecutionDateTime", date_time),
    )


_KRP_FIELDS = (
    "ExecutionDateTime",
    "RemotePartyRole",
    "RemotePartyFloorSeqNumber",
    "RemotePartyPrepaymentTopUpFloorSeqNumber",
    "ReplacementCertificates",
    "CertificationPathCertificates",
    "ApplyTimeBasedCPVChecks",
)


@dataclass(frozen=True, slots=True)
class RequestHandoverOfDccControlledDevice:
    """SRV 6.21 ``RequestHandoverOfDCCControlledDevice``."""

    remote_party_role: str
    replacement_certificates: ReplacementCertificates
    certification_path_certificates: tuple[bytes, ...]
    apply_time_based_cpv_checks: bool
    remote_party_floor_seq_number: int | None = None
    remote_party_prepayment_top_up_floor_seq_number: int | None = None
    execution_date_time: datetime | None = None


def parse_handover(el: etree._Element) -> RequestHandoverOfDccControlledDevice:
    """Parse ``RequestHandoverOfDCCControlledDevice``."""
    only(el, _KRP_FIELDS)
    certs = child(el, "ReplacementCertificates")
    return RequestHandoverOfDccControlledDevice(
        remote_party_role=required(el, "RemotePartyRole", _one_of(_ROLES)),
        replacement_certificates=_certificates(certs, need_ds=True, need_ka=False),
        certification_path_certificates=_path(el),
        apply_time_based_cpv_checks=required(el, "ApplyTimeBasedCPVChecks", boolean),
        remote_party_floor_seq_number=optional(el, "RemotePartyFloorSeqNumber", _floor),
        remote_party_prepayment_top_up_floor_seq_number=optional(
            el, "RemotePartyPrepaymentTopUpFloorSeqNumber", _floor
        ),
        execution_date_time=optional(el, "ExecutionDateTime", date_time),
    )


@dataclass(frozen=True, slots=True)
class UpdateSecurityCredentialsCos:
    """SRV 6.23 ``UpdateSecurityCredentialsCoS``. ``import_mpxn`` is the DCC's check of
    the new Supplier against the registration data; it is not GBCS content."""

    supplier_floor_seq_number: int
    supplier_replacement_certificates: ReplacementCertificates
    certification_path_certificates: tuple[bytes, ...]
    apply_time_based_cpv_checks: bool
    import_mpxn: str
    supplier_prepayment_top_up_floor_seq_number: int | None = None
    execution_date_time: datetime | None = None


def parse_cos(el: etree._Element) -> UpdateSecurityCredentialsCos:
    """Parse ``UpdateSecurityCredentialsCoS``."""
    only(
        el,
        (
            "ExecutionDateTime",
            "SupplierFloorSeqNumber",
            "SupplierPrepaymentTopUpFloorSeqNumber",
            "SupplierReplacementCertificates",
            "CertificationPathCertificates",
            "ApplyTimeBasedCPVChecks",
            "ImportMPxN",
        ),
    )
    certs = child(el, "SupplierReplacementCertificates")
    mpxn = required(el, "ImportMPxN")
    if not 1 <= len(mpxn) <= 13:
        raise NotTransformed(f"{local(el)}/ImportMPxN: 1 to 13 characters, not {len(mpxn)}")
    return UpdateSecurityCredentialsCos(
        supplier_floor_seq_number=required(el, "SupplierFloorSeqNumber", _floor),
        supplier_replacement_certificates=_certificates(certs, need_ds=True, need_ka=False),
        certification_path_certificates=_path(el),
        apply_time_based_cpv_checks=required(el, "ApplyTimeBasedCPVChecks", boolean),
        import_mpxn=mpxn,
        supplier_prepayment_top_up_floor_seq_number=optional(
            el, "SupplierPrepaymentTopUpFloorSeqNumber", _floor
        ),
        execution_date_time=optional(el, "ExecutionDateTime", date_time),
    )


@dataclass(frozen=True, slots=True)
class ServiceOptOut:
    """SRV 8.5 ``ServiceOptOut`` (its ExecutionDateTime is mandatory)."""

    execution_date_time: datetime
    acb_floor_seq_number: int
    replacement_certificates: ReplacementCertificates
    certification_path_certificates: tuple[bytes, ...]
    apply_time_based_cpv_checks: bool


def parse_opt_out(el: etree._Element) -> ServiceOptOut:
    """Parse ``ServiceOptOut``."""
    only(
        el,
        (
            "ExecutionDateTime",
            "ACBFloorSeqNumber",
            "ReplacementCertificates",
            "CertificationPathCertificates",
            "ApplyTimeBasedCPVChecks",
        ),
    )
    certs = child(el, "ReplacementCertificates")
    replacement = _certificates(certs, need_ds=False, need_ka=True)
    if replacement.key_agreement_top_up is not None:
        raise NotTransformed(f"{local(certs)}: unexpected KeyAgreementTopUpCertificate")
    return ServiceOptOut(
        execution_date_time=required(el, "ExecutionDateTime", date_time),
        acb_floor_seq_number=required(el, "ACBFloorSeqNumber", _floor),
        replacement_certificates=replacement,
        certification_path_certificates=_path(el),
        apply_time_based_cpv_checks=required(el, "ApplyTimeBasedCPVChecks", boolean),
    )


@dataclass(frozen=True, slots=True)
class UpdateSecurityCredentialsDevice:
    """SRV 6.15.2 ``UpdateSecurityCredentialsDevice``: the device's new certificate."""

    device_certificate: bytes


def parse_update_device(el: etree._Element) -> UpdateSecurityCredentialsDevice:
    """Parse ``UpdateSecurityCredentialsDevice``."""
    only(el, ("DeviceCertificate",))
    return UpdateSecurityCredentialsDevice(required(el, "DeviceCertificate", _base64))


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """SRV 6.17 ``IssueSecurityCredentials`` and 6.24.2
    ``RetrieveDeviceSecurityCredentialsDevice``: a DUIS CredentialType."""

    credential_type: str


def parse_credential_type(el: etree._Element) -> CredentialRequest:
    """Parse a body holding only ``CredentialType``."""
    only(el, ("CredentialType",))
    return CredentialRequest(required(el, "CredentialType", _one_of(_CREDENTIAL_TYPES)))


@dataclass(frozen=True, slots=True)
class RetrieveDeviceSecurityCredentialsKrp:
    """SRV 6.24.1 ``RetrieveDeviceSecurityCredentialsKRP``: 1 to 7 roles."""

    remote_party_roles: tuple[str, ...]


def parse_retrieve_krp(el: etree._Element) -> RetrieveDeviceSecurityCredentialsKrp:
    """Parse ``RetrieveDeviceSecurityCredentialsKRP``."""
    only(el, ("RemotePartyRole",), repeats=("RemotePartyRole",))
    return RetrieveDeviceSecurityCredentialsKrp(
        _repeated(el, "RemotePartyRole", _one_of(_ROLES), 7)
    )


@dataclass(frozen=True, slots=True)
class JoinOrUnjoinDevice:
    """SRV 8.7.x / 8.8.x ``JoinOrUnjoinDevice``: the other device."""

    other_device_id: bytes


def parse_join(el: etree._Element) -> JoinOrUnjoinDevice:
    """Parse a ``JoinOrUnjoinDevice`` body."""
    only(el, ("OtherDeviceID",))
    return JoinOrUnjoinDevice(required(el, "OtherDeviceID", _eui))


@dataclass(frozen=True, slots=True)
class ReadDeviceLog:
    """SRV 8.9 ``ReadDeviceLog``."""

    read_security_details: bool = False
    execution_date_time: datetime | None = None


def parse_read_log(el: etree._Element) -> ReadDeviceLog:
    """Parse ``ReadDeviceLog``."""
    only(el, ("ExecutionDateTime", "ReadSecurityDetails"))
    details = children(el, "ReadSecurityDetails")
    if details and (children(details[0]) or (details[0].text or "").strip()):
        raise NotTransformed(f"{local(el)}/ReadSecurityDetails: expected no content")
    return ReadDeviceLog(bool(details), optional(el, "ExecutionDateTime", date_time))


@dataclass(frozen=True, slots=True)
class AddDeviceToChfWhitelist:
    """``AddDeviceToCHFWhitelist`` of SRV 8.11."""

    join_time_period: int
    install_code: bytes
    import_mpxn: str | None = None
    secondary_import_mpan: str | None = None
    export_mpan: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateHanDeviceLog:
    """SRV 8.11 ``UpdateHANDeviceLog``: ``request_type`` ``Add`` (with ``add``) or
    ``Remove``."""

    device_id: bytes
    request_type: str
    add: AddDeviceToChfWhitelist | None = None
    execution_date_time: datetime | None = None


def _mpan(el: etree._Element, name: str) -> str | None:
    value = optional(el, name)
    if value is not None and len(value) != 13:
        raise NotTransformed(f"{local(el)}/{name}: 13 characters, not {len(value)}")
    return value


def _whitelist(el: etree._Element) -> AddDeviceToChfWhitelist:
    only(el, ("JoinTimePeriod", "InstallCode", "ImportMPxN", "SecondaryImportMPAN", "ExportMPAN"))
    mpxn = optional(el, "ImportMPxN")
    if mpxn is not None and not 1 <= len(mpxn) <= 13:
        raise NotTransformed(f"{local(el)}/ImportMPxN: 1 to 13 characters, not {len(mpxn)}")
    return AddDeviceToChfWhitelist(
        join_time_period=required(el, "JoinTimePeriod", bounded(1, 3600)),
        install_code=required(el, "InstallCode", _hex((6, 16))),
        import_mpxn=mpxn,
        secondary_import_mpan=_mpan(el, "SecondaryImportMPAN"),
        export_mpan=_mpan(el, "ExportMPAN"),
    )


def parse_han_log(el: etree._Element) -> UpdateHanDeviceLog:
    """Parse ``UpdateHANDeviceLog``."""
    only(el, ("ExecutionDateTime", "DeviceID", "RequestType", "AddDeviceToCHFWhitelist"))
    kind = required(el, "RequestType", _one_of({"Add": "", "Remove": ""}))
    found = children(el, "AddDeviceToCHFWhitelist")
    add = _whitelist(found[0]) if found else None
    if kind == "Add" and add is None:
        raise NotTransformed(f"{local(el)}: RequestType Add needs AddDeviceToCHFWhitelist")
    if kind == "Remove" and add is not None:
        raise NotTransformed(f"{local(el)}: RequestType Remove takes no AddDeviceToCHFWhitelist")
    return UpdateHanDeviceLog(
        required(el, "DeviceID", _eui), kind, add, optional(el, "ExecutionDateTime", date_time)
    )


@dataclass(frozen=True, slots=True)
class RestoreDeviceLog:
    """SRV 8.12.1 ``RestoreHANDeviceLog`` (``OldCHFID``) and 8.12.2
    ``RestoreGPFDeviceLog`` (``OldGPFID``): the device whose log is restored."""

    old_device_id: bytes


def _restore(name: str) -> Callable[[etree._Element], RestoreDeviceLog]:
    def parse(el: etree._Element) -> RestoreDeviceLog:
        only(el, (name,))
        return RestoreDeviceLog(required(el, name, _eui))

    return parse


@dataclass(frozen=True, slots=True)
class ActivateFirmware:
    """SRV 11.3 ``ActivateFirmware``."""

    firmware_hash: bytes
    execution_date_time: datetime | None = None


def parse_activate_firmware(el: etree._Element) -> ActivateFirmware:
    """Parse ``ActivateFirmware``."""
    only(el, ("ExecutionDateTime", "FirmwareHash"))
    return ActivateFirmware(
        required(el, "FirmwareHash", _hex((32, 32))), optional(el, "ExecutionDateTime", date_time)
    )


@dataclass(frozen=True, slots=True)
class NoFields:
    """A body the XSD gives no field (SRV 6.29, 6.30, 6.31)."""


def parse_no_fields(el: etree._Element) -> NoFields:
    """Parse an element that must be empty."""
    only(el, ())
    if (el.text or "").strip():
        raise NotTransformed(f"{local(el)}: expected no text")
    return NoFields()


@dataclass(frozen=True, slots=True)
class ReadChfSubGhzChannelLog:
    """SRV 6.32 ``ReadCHFSubGHzChannelLog``: its ``ReadLogPeriod``."""

    start_date_time: datetime
    end_date_time: datetime


def parse_channel_log(el: etree._Element) -> ReadChfSubGhzChannelLog:
    """Parse ``ReadCHFSubGHzChannelLog``."""
    only(el, ("ReadLogPeriod",))
    period = child(el, "ReadLogPeriod")
    only(period, ("StartDateTime", "EndDateTime"))
    start = required(period, "StartDateTime", date_time)
    end = required(period, "EndDateTime", date_time)
    if end < start:
        raise NotTransformed(f"{local(period)}: EndDateTime before StartDateTime")
    return ReadChfSubGhzChannelLog(start, end)


@dataclass(frozen=True, slots=True)
class SubGhzConfiguration:
    """SRV 6.28 ``SetCHFSubGHzConfiguration`` (XSD ``SubGHzConfiguration``): the channels
    of each band block by number, the thresholds as written."""

    lower_band_channels_0_to_26: frozenset[int]
    lower_band_channels_27_to_34: frozenset[int]
    lower_band_channels_35_to_61: frozenset[int]
    upper_band_channels_0_to_26: frozenset[int]
    normal_limited_duty_cycle_threshold: Decimal
    limited_critical_duty_cycle_threshold: Decimal
    maximum_sub_ghz_channel_changes_per_week: int
    gsme_curfew: int
    channel_quieter_threshold: int
    channel_noisier_threshold: int
    non_gsme_poor_comms_percentage_threshold: Decimal
    non_gsme_poor_comms_measurement_periods: int
    local_ch_noise_measurement_period: int
    local_ch_failure_percentage: Decimal
    local_ch_retry_percentage: Decimal


def _channels(el: etree._Element, name: str, first: int, last: int) -> frozenset[int]:
    block = child(el, name)
    out: set[int] = set()
    for c in children(block):
        m = re.fullmatch(r"Channel(\d+)", local(c))
        if m is None or not first <= int(m.group(1)) <= last:
            raise NotTransformed(f"{name}: unexpected {local(c)} (Channel{first}..Channel{last})")
        out.add(int(m.group(1)))
    return frozenset(out)


_U16 = 65535
_SUB_GHZ = (
    ("NormalLimitedDutyCycleThreshold", _decimal("0.5", "2.0", 1)),
    # XSD: exclusive 1.5 .. 2.5, one fraction digit
    ("LimitedCriticalDutyCycleThreshold", _decimal("1.6", "2.4", 1)),
    ("MaximumSubGHzChannelChangesPerWeek", bounded(1, 7)),
    ("GSMECurfew", bounded(2, _U16)),
    ("ChannelQuieterThreshold", bounded(1, 255)),
    ("ChannelNoisierThreshold", bounded(0, 20)),
    ("NonGSMEPoorCommsPercentageThreshold", _decimal("1.00", "100.00", 2)),
    ("NonGSMEPoorCommsMeasurementPeriods", bounded(50, 150)),
    ("LocalCHNoiseMeasurementPeriod", bounded(61, _U16)),
    ("LocalCHFailurePercentage", _decimal("1.00", "100.00", 2)),
    ("LocalCHRetryPercentage", _decimal("1.00", "100.00", 2)),
)
_BLOCKS = (
    ("LowerBandSubGHzChannels0To26", 0, 26),
    ("LowerBandSubGHzChannels27To34", 27, 34),
    ("LowerBandSubGHzChannels35To61", 35, 61),
    ("UpperBandSubGHzChannels0To26", 0, 26),
)


def parse_sub_ghz(el: etree._Element) -> SubGhzConfiguration:
    """Parse ``SetCHFSubGHzConfiguration``."""
    only(el, tuple(b[0] for b in _BLOCKS) + tuple(n for n, _ in _SUB_GHZ))
    blocks = [_channels(el, *b) for b in _BLOCKS]
    values = [required(el, name, convert) for name, convert in _SUB_GHZ]
    return SubGhzConfiguration(*blocks, *values)


# --- planners: trust anchors -----------------------------------------------------------


def _cell(role: str, usage: str, cell_usage: str | None = None) -> dict[str, Any]:
    return {"remote_party_role": role, "key_usage": usage, "cell_usage": cell_usage}


def _replacements(certs: ReplacementCertificates, role: str) -> list[dict[str, Any]]:
    """Each certificate with the trust-anchor cell it replaces (GBCS CS02b)."""
    out = []
    for cert, usage, cell_usage in (
        (certs.digital_signing, "digital_signature", None),
        (certs.key_agreement, "key_agreement", None),
        (certs.key_agreement_top_up, "key_agreement", "prepayment_top_up"),
    ):
        if cert is not None:
            out.append(
                {
                    "certificate": cert.hex(),
                    "target_trust_anchor_cell": _cell(role, usage, cell_usage),
                }
            )
    return out


def _cpv(apply: bool) -> str | None:
    # GBCS applies the time-based certification-path checks when the field is absent;
    # the DCC writes it only to disapply them (RTDS: true -> absent, false -> disapply).
    return None if apply else "disapply"


def _top_up(n: int | None) -> list[dict[str, Any]] | None:
    return None if n is None else [{"seq_number_usage": "prepayment_top_up", "seq_number": n}]


def _paths(certs: tuple[bytes, ...]) -> list[str]:
    return [c.hex() for c in certs]


def _no_top_up(role: str, top_up_floor: int | None, certs: ReplacementCertificates) -> None:
    if top_up_floor is not None or certs.key_agreement_top_up is not None:
        raise NotTransformed(f"a {role} has no prepayment top-up trust anchor (only a Supplier)")


_KRP_CODES = {"Supplier": "CS02b@0x0102", "NetworkOperator": "CS02b@0x0103"}


def _krp_args(
    role: str,
    floor: int | None,
    top_up_floor: int | None,
    certs: ReplacementCertificates,
    path: tuple[bytes, ...],
    apply: bool,
) -> dict[str, Any]:
    """CS02b supplierBySupplier / networkOperatorByNetworkOperator: the party replaces its
    own anchors, and its floors are its own."""
    if role == "NetworkOperator":
        _no_top_up("Network Operator", top_up_floor, certs)
    return {
        "apply_time_based_cpv_checks": _cpv(apply),
        "remote_party_floor_seq_number": floor,
        "new_remote_party_specialist_floor_seq_number": _top_up(top_up_floor),
        "replacement_certificates": _replacements(certs, _ROLES[role]),
        "certification_path_certificates": _paths(path),
    }


def _krp_use_case(role: str, srv: str) -> str:
    use_case = _KRP_CODES.get(role)
    if use_case is None:
        raise NotTransformed(
            f"RemotePartyRole {role}: SRV {srv} replaces the Supplier's or the Network "
            "Operator's own trust anchors"
            + (" (or a Load Controller's)" if srv == "6.15.1" else "")
        )
    return use_case


def plan_update_krp(p: PlanInput) -> Plan:
    """SRV 6.15.1, signed by the user: by RemotePartyRole, CS02b supplierBySupplier
    (0x0102), networkOperatorByNetworkOperator (0x0103) or, for a LoadController, CS02g
    loadControllerBySupplier (0x0126: the Supplier replaces the Load Controller's anchors,
    which only an ESME holds). The device future-dates it (executionDateTime)."""
    b: UpdateSecurityCredentialsKrp = p.body
    when = b.execution_date_time
    if b.remote_party_role == "LoadController":
        return _plan_load_controller(p, b)
    args = _krp_args(
        b.remote_party_role,
        b.remote_party_floor_seq_number,
        b.remote_party_prepayment_top_up_floor_seq_number,
        b.replacement_certificates,
        b.certification_path_certificates,
        b.apply_time_based_cpv_checks,
    )
    args["execution_date_time"] = when
    return Plan(_krp_use_case(b.remote_party_role, "6.15.1"), args, label="CS02b")


def _plan_load_controller(p: PlanInput, b: UpdateSecurityCredentialsKrp) -> Plan:
    if p.device != "ESME":
        raise NotTransformed(f"only an ESME holds a Load Controller trust anchor, not a {p.device}")
    _no_top_up(
        "Load Controller",
        b.remote_party_prepayment_top_up_floor_seq_number,
        b.replacement_certificates,
    )
    others = None
    if b.remote_party_floor_seq_number is not None:
        others = [
            {
                "remote_party_role": "load_controller",
                "floor_seq_number": b.remote_party_floor_seq_number,
                "specialist_floor_seq_number": None,
            }
        ]
    args = {
        "apply_time_based_cpv_checks": _cpv(b.apply_time_based_cpv_checks),
        "other_remote_party_seq_number_changes": others,
        "replacement_certificates": _replacements(b.replacement_certificates, "load_controller"),
        "certification_path_certificates": _paths(b.certification_path_certificates),
        "execution_date_time": b.execution_date_time,
    }
    return Plan("CS02g@0x0126", args, label="CS02g")


def plan_handover(p: PlanInput) -> Plan:
    """SRV 6.21: the DCC holds the Supplier's or Network Operator's anchors of a DCC
    controlled device and hands them over: CS02b supplierBySupplier / networkOperatorBy
    NetworkOperator originated (and signed) by the ACB with its own counter; held by the
    DSP until ExecutionDateTime."""
    b: RequestHandoverOfDccControlledDevice = p.body
    args = _krp_args(
        b.remote_party_role,
        b.remote_party_floor_seq_number,
        b.remote_party_prepayment_top_up_floor_seq_number,
        b.replacement_certificates,
        b.certification_path_certificates,
        b.apply_time_based_cpv_checks,
    )
    use_case = _krp_use_case(b.remote_party_role, "6.21")
    return Plan(use_case, args, originator=ACB, send_at=dsp_held(p), label="CS02b")


def plan_cos(p: PlanInput) -> Plan:
    """SRV 6.23: CS02b supplierByTransCoS (0x0107), originated and signed by the
    Transitional CoS party. Its future-dated pattern is 'DSP & Device': the command
    carries ExecutionDateTime (GBCS executionDateTime) and goes at once, the device
    executing it then, as for the device-dated SRVs (``routing.dsp_held``)."""
    b: UpdateSecurityCredentialsCos = p.body
    args = {
        "apply_time_based_cpv_checks": _cpv(b.apply_time_based_cpv_checks),
        "supplier_floor_seq_number": b.supplier_floor_seq_number,
        "supplier_specialist_floor_seq_number": _top_up(
            b.supplier_prepayment_top_up_floor_seq_number
        ),
        "supplier_replacement_certificates": _replacements(
            b.supplier_replacement_certificates, "supplier"
        ),
        "certification_path_certificates": _paths(b.certification_path_certificates),
        "execution_date_time": b.execution_date_time,
    }
    return Plan("CS02b@0x0107", args, originator=TRANSITIONAL_COS, label="CS02b")


def plan_opt_out(p: PlanInput) -> Plan:
    """SRV 8.5: CS02b accessControlBrokerByACB (0x0104) from the ACB, held by the DSP
    until the (mandatory) ExecutionDateTime. GBCS 13.3.3.1: to a CHF it is signed by the
    ACB and MAC'd; to any other device MAC'd only (see ``ROUTES``)."""
    b: ServiceOptOut = p.body
    args = {
        "apply_time_based_cpv_checks": _cpv(b.apply_time_based_cpv_checks),
        "acb_floor_seq_number": b.acb_floor_seq_number,
        "replacement_certificates": _replacements(
            b.replacement_certificates, "access_control_broker"
        ),
        "certification_path_certificates": _paths(b.certification_path_certificates),
    }
    return Plan("CS02b@0x0104", args, originator=ACB, send_at=dsp_held(p), label="CS02b")


def plan_update_device(p: PlanInput) -> Plan:
    """SRV 6.15.2: CS02d with the device's new certificate."""
    b: UpdateSecurityCredentialsDevice = p.body
    return Plan("CS02d", {"device_certificate": b.device_certificate.hex()})


def _credential(use_case: str) -> Planner:
    def plan(p: PlanInput) -> Plan:
        b: CredentialRequest = p.body
        return Plan(use_case, {"credential_type": _CREDENTIAL_TYPES[b.credential_type]})

    return plan


def plan_retrieve_krp(p: PlanInput) -> Plan:
    """SRV 6.24.1, sent by the ACB in its own name (MAC'd, authorised by its key agreement
    anchor): CS02f when a Load Controller's credentials are asked for (only an ESME holds
    them; RTDS 6.24.1_CS02fMAC), else CS02a."""
    b: RetrieveDeviceSecurityCredentialsKrp = p.body
    roles = list(dict.fromkeys(_ROLES[r] for r in b.remote_party_roles))
    use_case = "CS02f" if "load_controller" in roles else "CS02a"
    if use_case == "CS02f" and p.device != "ESME":
        raise NotTransformed(f"only an ESME holds a Load Controller trust anchor, not a {p.device}")
    args = {
        "remote_party_role": roles,
        "authorising_remote_party_role": "access_control_broker",
        "authorising_key_usage": "key_agreement",
    }
    return Plan(use_case, args, originator=ACB)


# --- planners: joins, logs, firmware ---------------------------------------------------

_INVENTORY = "the DCC's Smart Metering Inventory holds {what}; the request carries only {field}"


def plan_join_critical(p: PlanInput) -> Plan:
    """SRV 8.7.1: CS03A1 to an ESME, CS03C to a GSME (DUIS: by the target's type). Both
    carry the other device's GBCS device type (and CS03C its certificate), which only the
    DCC's inventory holds."""
    use_case = "CS03A1" if p.device == "ESME" else "CS03C"
    what = "the other device's type" + (" and certificate" if use_case == "CS03C" else "")
    raise NotTransformed(f"{use_case}: " + _INVENTORY.format(what=what, field="OtherDeviceID"))


def plan_join_method_b(p: PlanInput) -> Plan:
    """SRV 8.7.2 to a GSME: CS03B, the Method B join, which GBCS defines only between a
    GSME and a GPF: the other device is a GPF."""
    b: JoinOrUnjoinDevice = p.body
    return Plan("CS03B", {"other_device_id": b.other_device_id.hex(), "other_device_type": "gpf"})


def _unjoin(use_case: str) -> Planner:
    def plan(p: PlanInput) -> Plan:
        b: JoinOrUnjoinDevice = p.body
        return Plan(use_case, {"other_device_id": b.other_device_id.hex()})

    return plan


def plan_read_log_gsme(p: PlanInput) -> Plan:
    """SRV 8.9 to a GSME: CS07 (the GSME's device log); held by the DSP."""
    b: ReadDeviceLog = p.body
    if b.read_security_details:
        raise NotTransformed("ReadSecurityDetails reads a CHF's device logs (CCS07), not a GSME's")
    return Plan("CS07", send_at=dsp_held(p))


def plan_activate_firmware(p: PlanInput) -> Plan:
    """SRV 11.3: CS06 with the image hash; the device future-dates it."""
    b: ActivateFirmware = p.body
    return Plan("CS06", {"image_hash": b.firmware_hash.hex(), "execute_at": b.execution_date_time})


def plan_restore_gpf_log(p: PlanInput) -> Plan:
    """SRV 8.12.2: GCS59 restores the old GPF's device log entries to the new GPF."""
    raise NotTransformed(
        "GCS59: the entries to restore are the DCC's backup of the old GPF's device log; "
        "the request carries only OldGPFID"
    )


# --- planners: the CHF (every command to a CHF comes from the ACB) -----------------------


def _chf_read_log(p: PlanInput) -> Plan:
    b: ReadDeviceLog = p.body
    if not b.read_security_details:
        raise NotTransformed(
            "CCS06 or CCS05/CCS04 (the same read, two message codes): which one the CHF "
            "takes depends on its GBCS version, from the DCC's inventory"
        )
    return Plan("CCS07", originator=ACB, send_at=dsp_held(p))


def _chf_han_log(p: PlanInput) -> Plan:
    b: UpdateHanDeviceLog = p.body
    if b.request_type == "Remove":
        return Plan("CCS02", {"device_id": b.device_id.hex()}, originator=ACB, send_at=dsp_held(p))
    raise NotTransformed(
        "CCS01: " + _INVENTORY.format(what="the joining device's type", field="its DeviceID")
    )


def _chf_restore(p: PlanInput) -> Plan:
    raise NotTransformed(
        "CCS03: the HAN's extended PAN id and the link keys to restore are the DCC's backup "
        "of the old CHF's device log; the request carries only OldCHFID"
    )


def _chf_fixed(use_case: str) -> Planner:
    def plan(p: PlanInput) -> Plan:
        return Plan(use_case, originator=ACB, send_at=dsp_held(p))

    return plan


def _chf_channel_log(p: PlanInput) -> Plan:
    b: ReadChfSubGhzChannelLog = p.body
    args = {"start_date_time": b.start_date_time, "end_date_time": b.end_date_time}
    return Plan("DBCH02", args, originator=ACB)


def _bits(channels: frozenset[int], first: int, width: int) -> str:
    """The mask, highest channel first: bit ``width - 1 - (c - first)`` is channel c."""
    return "".join("1" if first + i in channels else "0" for i in reversed(range(width)))


def _hundredths(d: Decimal) -> int:
    return int(d * 100)


def _chf_sub_ghz(p: PlanInput) -> Plan:
    """DBCH04: each band block as its ZigBee channel page (5 bits) and channel mask
    (highest channel first); the duty cycles and percentages in hundredths of a percent."""
    b: SubGhzConfiguration = p.body
    args = {
        "lower_band_sub_ghz_channels_0_to_26": "11100"
        + _bits(b.lower_band_channels_0_to_26, 0, 27),
        "lower_band_sub_ghz_channels_27_to_34": "11101"
        + "0" * 19
        + _bits(b.lower_band_channels_27_to_34, 27, 8),
        "lower_band_sub_ghz_channels_35_to_61": "11110"
        + _bits(b.lower_band_channels_35_to_61, 35, 27),
        "upper_band_sub_ghz_channels_0_to_26": "11111"
        + _bits(b.upper_band_channels_0_to_26, 0, 27),
        "normal_limited_duty_cycle_threshold": _hundredths(b.normal_limited_duty_cycle_threshold),
        "limited_critical_duty_cycle_threshold": _hundredths(
            b.limited_critical_duty_cycle_threshold
        ),
        "maximum_sub_ghz_channel_changes_per_week": b.maximum_sub_ghz_channel_changes_per_week,
        "gsme_curfew": b.gsme_curfew,
        "channel_quieter_threshold": b.channel_quieter_threshold,
        "channel_noisier_threshold": b.channel_noisier_threshold,
        "non_gsme_poor_comms_percentage_threshold": _hundredths(
            b.non_gsme_poor_comms_percentage_threshold
        ),
        "non_gsme_poor_comms_measurement_periods": b.non_gsme_poor_comms_measurement_periods,
        "local_ch_noise_measurement_period": b.local_ch_noise_measurement_period,
        "local_ch_failure_percentage": _hundredths(b.local_ch_failure_percentage),
        "local_ch_retry_percentage": _hundredths(b.local_ch_retry_percentage),
    }
    return Plan("DBCH04", args, originator=ACB)


#: The plan of each CHF SRV, before the header question below (see :func:`plan_chf`).
CHF_PLANS: dict[str, Planner] = {
    "6.28": _chf_sub_ghz,
    "6.29": _chf_fixed("DBCH05"),
    "6.30": _chf_fixed("DBCH03"),
    "6.31": _chf_fixed("DBCH01"),
    "6.32": _chf_channel_log,
    "8.9": _chf_read_log,
    "8.11": _chf_han_log,
    "8.12.1": _chf_restore,
}


def plan_chf(p: PlanInput) -> Plan:
    """A command to a CHF (``CHF_PLANS[variant]``): the ACB originates it for the user,
    and GBCS puts the user (EUI and the request's counter) in the header as Supplementary
    Remote Party (RTDS: every such CHF command)."""
    return replace(CHF_PLANS[p.srv.variant](p), supplementary=True)


def _maconly(planner: Planner) -> Planner:
    """``planner`` for a critical use case the ACB sends MAC'd only, with a null
    signature: CS02a and CS02f asked for by a user (RTDS 6.24.1 CS02aMAC, CS02fMAC), and
    CS02b accessControlBrokerByACB to a device other than a CHF (GBCS 13.3.3.1)."""

    def plan(p: PlanInput) -> Plan:
        return replace(planner(p), dcc_signs=False)

    return plan


def plan_chf_firmware_version(p: PlanInput) -> Plan:
    """SRV 11.2 to a CHF: ECS52, which the ACB originates for the user (its only GBCS
    remote party for a CHF), the user as Supplementary Remote Party."""
    return Plan("ECS52", originator=ACB, supplementary=True, send_at=dsp_held(p))


# --- the routes ------------------------------------------------------------------------

_RETRIEVE_KRP = _maconly(plan_retrieve_krp)
_OPT_OUT_MAC_ONLY = _maconly(plan_opt_out)

ROUTES: tuple[SrvRoute, ...] = (
    SrvRoute(
        "6.15.1", "UpdateSecurityCredentialsKRP", parse_update_krp,
        {"ESME": plan_update_krp, "GPF": plan_update_krp},
    ),
    SrvRoute(
        "6.15.2", "UpdateSecurityCredentialsDevice", parse_update_device,
        {"ESME": plan_update_device},
    ),
    SrvRoute(
        "6.17", "IssueSecurityCredentials", parse_credential_type,
        {"ESME": _credential("CS02c")},
    ),
    SrvRoute(
        "6.21", "RequestHandoverOfDCCControlledDevice", parse_handover,
        {"ESME": plan_handover, "GPF": plan_handover},
    ),
    SrvRoute(
        "6.23", "UpdateSecurityCredentialsCoS", parse_cos,
        {"ESME": plan_cos, "GPF": plan_cos},
    ),
    SrvRoute(
        "6.24.1", "RetrieveDeviceSecurityCredentialsKRP", parse_retrieve_krp,
        {"ESME": _RETRIEVE_KRP, "CHF": _RETRIEVE_KRP},
    ),
    SrvRoute(
        "6.24.2", "RetrieveDeviceSecurityCredentialsDevice", parse_credential_type,
        {"ESME": _credential("CS02e")},
    ),
    SrvRoute(
        "8.5", "ServiceOptOut", parse_opt_out,
        {"ESME": _OPT_OUT_MAC_ONLY, "GPF": _OPT_OUT_MAC_ONLY, "CHF": plan_opt_out},
    ),
    SrvRoute(
        "8.7.1", "JoinServiceCritical", parse_join,
        {"ESME": plan_join_critical, "GSME": plan_join_critical},
    ),
    SrvRoute("8.7.2", "JoinServiceNonCritical", parse_join, {"GSME": plan_join_method_b}),
    SrvRoute("8.8.1", "UnjoinServiceCritical", parse_join, {"ESME": _unjoin("CS04AC")}),
    # 8.8.2 to a GSME: CS04B, the Method B unjoin (GSME and GPF)
    SrvRoute("8.8.2", "UnjoinServiceNonCritical", parse_join, {"GSME": _unjoin("CS04B")}),
    SrvRoute(
        "8.9", "ReadDeviceLog", parse_read_log, {"GSME": plan_read_log_gsme, "CHF": plan_chf}
    ),
    SrvRoute("8.11", "UpdateHANDeviceLog", parse_han_log, {"CHF": plan_chf}),
    SrvRoute("8.12.1", "RestoreHANDeviceLog", _restore("OldCHFID"), {"CHF": plan_chf}),
    SrvRoute("8.12.2", "RestoreGPFDeviceLog", _restore("OldGPFID"), {"GPF": plan_restore_gpf_log}),
    SrvRoute("11.3", "ActivateFirmware", parse_activate_firmware, {"ESME": plan_activate_firmware}),
    SrvRoute("6.28", "SetCHFSubGHzConfiguration", parse_sub_ghz, {"CHF": plan_chf}),
    SrvRoute("6.29", "RequestCHFSubGHzChannelScan", parse_no_fields, {"CHF": plan_chf}),
    SrvRoute("6.30", "ReadCHFSubGHzConfiguration", parse_no_fields, {"CHF": plan_chf}),
    SrvRoute("6.31", "ReadCHFSubGHzChannel", parse_no_fields, {"CHF": plan_chf}),
    SrvRoute("6.32", "ReadCHFSubGHzChannelLog", parse_channel_log, {"CHF": plan_chf}),
)  # fmt: skip
"""The SRV variants of this module."""

_NO_KRP_ON_CHF = (
    "a CHF holds no Supplier or Network Operator trust anchor (its remote parties are the "
    "DCC's): which GBCS, if any, the DCC sends is not modelled"
)
NOT_YET: dict[tuple[str, str], str] = {
    ("6.15.1", "CHF"): _NO_KRP_ON_CHF,
    ("6.21", "CHF"): _NO_KRP_ON_CHF,
    ("6.23", "CHF"): _NO_KRP_ON_CHF,
    ("8.8.2", "ESME"): (
        "no rule here picks its GBCS: CS04AC from the user is critical (SRV 8.8.1) and "
        "CS04B unjoins only a GSME and a GPF"
    ),
}
"""Pairs of these SRVs not transformed yet, with why."""

MORE_PLANNERS: dict[str, dict[str, Planner]] = {"11.2": {"CHF": plan_chf_firmware_version}}
"""The CHF planner of SRV 11.2 (routed to the meters by :mod:`emulator.duis.routes_reads`)."""
