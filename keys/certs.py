"""SMKI certificate field helpers: EUI-64 handling, reading and building the GBCS profiles.

Two certificate profiles exist (both P-256, ``ecdsa-with-SHA256``, KeyUsage critical with
exactly ``digitalSignature`` for DS or ``keyAgreement`` for KA):

* **organisation**: subject ``OU=<role as 2 hex digits>`` and ``x500UniqueIdentifier`` =
  the EUI-64 as a BIT STRING of 64 bits (DER ``03 09 00 <8 bytes>``), sometimes a CN;
  certificate policy ``1.2.826.0.1.8641679.1.2.1.4``.
* **device**: empty subject, critical subjectAltName holding one ``otherName``
  ``hardwareModuleName`` (RFC 4108, ``1.3.6.1.5.5.7.8.4``) = SEQUENCE { hwType
  ``1.2.826.0.1.8641679.1.2.2.1``, hwSerialNum OCTET STRING = EUI-64 }; certificate policy
  ``1.2.826.0.1.1800000.1.2.1.4`` (as in the RTDS device certificates); notAfter
  9999-12-31 23:59:59.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from keys.roles import KeyUsage, RemotePartyRole

__all__ = [
    "DEVICE_POLICY_OID",
    "GBCS_HW_TYPE_OID",
    "HARDWARE_MODULE_NAME_OID",
    "ORGANISATION_POLICY_OID",
    "CertificateInfo",
    "as_eui",
    "certificate_policies",
    "describe_certificate",
    "device_subject_alt_name",
    "eui_hex",
    "hardware_module_name",
    "is_p256",
    "issued_by",
    "key_identifier",
    "key_usage_extension",
    "organisation_subject",
    "parse_hardware_module_name",
]

#: id-on-hardwareModuleName (RFC 4108).
HARDWARE_MODULE_NAME_OID = ObjectIdentifier("1.3.6.1.5.5.7.8.4")
#: hwType of GBCS device certificates.
GBCS_HW_TYPE_OID = ObjectIdentifier("1.2.826.0.1.8641679.1.2.2.1")
#: Certificate policy of the organisation certificates of the Z1 test PKI.
ORGANISATION_POLICY_OID = ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4")
#: Certificate policy of the RTDS test device certificates.
DEVICE_POLICY_OID = ObjectIdentifier("1.2.826.0.1.1800000.1.2.1.4")

_HEX_SEPARATORS = str.maketrans("", "", ":-_ .")


def as_eui(value: bytes | bytearray | memoryview | int | str) -> bytes:
    """Normalise an EUI-64 given as 8 bytes, an int, or hex text to 8 bytes.

    Hex text may use any case, an optional ``0x`` prefix and ``:``/``-``/``_``/``.``/space
    separators (``00-DB-12-34-56-78-90-A0``). Raises ``ValueError`` otherwise.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        b = bytes(value)
    elif isinstance(value, bool):
        raise ValueError(f"EUI-64 cannot be a bool: {value!r}")
    elif isinstance(value, int):
        if not 0 <= value < 1 << 64:
            raise ValueError(f"EUI-64 {value} out of range 0..2**64-1")
        return value.to_bytes(8, "big")
    elif isinstance(value, str):
        text = value.strip().translate(_HEX_SEPARATORS)
        if text[:2].lower() == "0x":
            text = text[2:]
        if len(text) != 16 or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise ValueError(f"EUI-64 {value!r} is not 16 hex digits")
        return bytes.fromhex(text)
    else:
        raise ValueError(f"EUI-64 must be bytes, int or hex text, not {type(value).__name__}")
    if len(b) != 8:
        raise ValueError(f"EUI-64 must be 8 bytes, got {len(b)}")
    return b


def eui_hex(eui: bytes) -> str:
    """EUI-64 as 16 lower-case hex digits (the key-file naming convention)."""
    return eui.hex()


def is_p256(key: object) -> bool:
    """True for a NIST P-256 public or private key (the only curve GBCS uses)."""
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, ec.SECP256R1
    )


# --- minimal DER reading (only for the hardwareModuleName value) -----------------------


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at ``pos``, None if malformed."""
    if pos + 2 > end:
        return None
    tag = buf[pos]
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 3 or pos + n > end:
            return None
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        return None
    return tag, pos, pos + length


def _encode_oid(oid: ObjectIdentifier) -> bytes:
    arcs = [int(a) for a in oid.dotted_string.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return bytes((0x06, len(body))) + bytes(body)


def _decode_oid(body: bytes) -> str | None:
    if not body or body[-1] & 0x80:
        return None
    arcs: list[int] = []
    value = 0
    for b in body:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def parse_hardware_module_name(value: bytes) -> tuple[str, bytes] | None:
    """``(hwType dotted OID, hwSerialNum)`` from an otherName value, None if malformed.

    ``value`` is what ``cryptography`` exposes as ``OtherName.value``: the DER of
    ``SEQUENCE { OBJECT IDENTIFIER, OCTET STRING }``.
    """
    seq = _tlv(value, 0, len(value))
    if seq is None or seq[0] != 0x30 or seq[2] != len(value):
        return None
    oid = _tlv(value, seq[1], seq[2])
    if oid is None or oid[0] != 0x06:
        return None
    serial = _tlv(value, oid[2], seq[2])
    if serial is None or serial[0] != 0x04 or serial[2] != seq[2]:
        return None
    hw_type = _decode_oid(value[oid[1] : oid[2]])
    if hw_type is None:
        return None
    return hw_type, value[serial[1] : serial[2]]


# --- building ---------------------------------------------------------------------------


def hardware_module_name(
    eui: bytes, hw_type: ObjectIdentifier = GBCS_HW_TYPE_OID
) -> x509.OtherName:
    """The device-certificate ``otherName`` for an EUI-64 (DER identical to the RTDS certs)."""
    serial = bytes((0x04, len(eui))) + eui
    content = _encode_oid(hw_type) + serial
    return x509.OtherName(HARDWARE_MODULE_NAME_OID, bytes((0x30, len(content))) + content)


def device_subject_alt_name(eui: bytes) -> x509.SubjectAlternativeName:
    """SubjectAltName of a device certificate (add it as a *critical* extension)."""
    return x509.SubjectAlternativeName([hardware_module_name(as_eui(eui))])


def organisation_subject(
    role: RemotePartyRole, eui: bytes, common_name: str | None = None
) -> x509.Name:
    """Subject of an organisation certificate: ``[CN=..,] OU=<role hex>, x500UniqueIdentifier``.

    The unique identifier is encoded like the Z1 certificates: BIT STRING with 0 unused
    bits followed by the 8 EUI bytes (``cryptography`` takes the raw BIT STRING content,
    hence the leading zero byte).
    """
    attrs = []
    if common_name is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.ou))
    # No public API selects the BIT STRING type; ``_type`` is the documented escape hatch.
    uid = b"\x00" + as_eui(eui)
    attrs.append(x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, uid, _type=_ASN1Type.BitString))
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in attrs])


def key_usage_extension(usage: KeyUsage) -> x509.KeyUsage:
    """KeyUsage with exactly ``digitalSignature`` (DS) or ``keyAgreement`` (KA) set."""
    ka = usage is KeyUsage.KA
    return x509.KeyUsage(
        digital_signature=not ka,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=ka,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def certificate_policies(policy: ObjectIdentifier) -> x509.CertificatePolicies:
    """A single policy OID without qualifiers (add it as a *critical* extension)."""
    return x509.CertificatePolicies([x509.PolicyInformation(policy, None)])


def key_identifier(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """8-byte key identifier (SHA-256 of the uncompressed point, truncated), like SMKI's."""
    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha256(point).digest()[:8]


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer``'s subject is ``certificate``'s issuer and its key signed it.

    Validity dates are deliberately not checked (the public test PKI has expired).
    """
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The GBCS-relevant facts of one certificate."""

    #: Role from the subject OU (organisation certificates), else None.
    role: RemotePartyRole | None
    #: Raw subject OU text, None when absent.
    ou: str | None
    #: EUI-64 from the subject ``x500UniqueIdentifier`` (organisation certificates).
    subject_eui: bytes | None
    #: EUI-64 from the SAN ``hardwareModuleName`` hwSerialNum (device certificates).
    hardware_serial: bytes | None
    #: hwType OID (dotted) of the hardwareModuleName, None when absent.
    hardware_type: str | None
    #: Usages the KeyUsage extension allows (DS for digitalSignature, KA for
    #: keyAgreement); None when the certificate has no KeyUsage extension.
    key_usages: frozenset[KeyUsage] | None
    not_before: datetime
    not_after: datetime
    #: Deviations from the GBCS profiles, as sentences.
    problems: tuple[str, ...]

    @property
    def eui(self) -> bytes | None:
        """The entity the certificate names: subject EUI, else hardware serial number."""
        return self.subject_eui if self.subject_eui is not None else self.hardware_serial

    @property
    def is_device(self) -> bool:
        """True for a device certificate (SAN hardwareModuleName present)."""
        return self.hardware_serial is not None


def describe_certificate(certificate: x509.Certificate) -> CertificateInfo:
    """Extract role, EUI, key usages and validity from a certificate; never raises on content.

    A certificate whose subject or fields cannot be read at all (cryptography parses them
    lazily and raises on some malformed encodings) is described as having no role, EUI
    or key usage, with the reason among its problems.
    """
    try:
        return _describe(certificate)
    except (ValueError, KeyError, TypeError) as exc:
        return CertificateInfo(
            role=None,
            ou=None,
            subject_eui=None,
            hardware_serial=None,
            hardware_type=None,
            key_usages=None,
            not_before=_safe_time(certificate, "not_valid_before_utc"),
            not_after=_safe_time(certificate, "not_valid_after_utc"),
            problems=(f"unreadable certificate: {type(exc).__name__}: {exc}",),
        )


def _safe_time(certificate: x509.Certificate, attr: str) -> datetime:
    try:
        value: datetime = getattr(certificate, attr)
        return value
    except (ValueError, KeyError, TypeError):
        return datetime.min.replace(tzinfo=UTC)


def _describe(certificate: x509.Certificate) -> CertificateInfo:
    problems: list[str] = []
    role: RemotePartyRole | None = None
    ou: str | None = None
    ous = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if len(ous) > 1:
        problems.append(f"subject has {len(ous)} OU attributes; using the first")
    if ous:
        raw = ous[0].value
        ou = raw if isinstance(raw, str) else raw.hex()
        role = RemotePartyRole.from_ou(ou)
        if role is None:
            problems.append(f"subject OU {ou!r} is not a known remote-party role")

    subject_eui: bytes | None = None
    uids = certificate.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)
    if uids:
        raw_uid = uids[0].value
        # BIT STRING content: unused-bits byte then the bits; an EUI-64 is 0 + 8 bytes.
        if isinstance(raw_uid, bytes) and len(raw_uid) == 9 and raw_uid[0] == 0:
            subject_eui = raw_uid[1:]
        else:
            problems.append(f"x500UniqueIdentifier {raw_uid!r} is not a 64-bit EUI")

    hardware_serial: bytes | None = None
    hardware_type: str | None = None
    key_usages: frozenset[KeyUsage] | None = None
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        problems.append(f"unreadable extensions: {exc}")
        extensions = x509.Extensions([])
    for ext in extensions:
        if ext.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            san = ext.value
            assert isinstance(san, x509.SubjectAlternativeName)
            for name in san.get_values_for_type(x509.OtherName):
                if name.type_id != HARDWARE_MODULE_NAME_OID:
                    continue
                parsed = parse_hardware_module_name(name.value)
                if parsed is None:
                    problems.append("malformed hardwareModuleName in subjectAltName")
                    continue
                hardware_type, serial = parsed
                if len(serial) != 8:
                    problems.append(f"hwSerialNum {serial.hex()} is not an EUI-64")
                    continue
                hardware_serial = serial
                if hardware_type != GBCS_HW_TYPE_OID.dotted_string:
                    problems.append(f"hwType {hardware_type} is not the GBCS device type")
        elif ext.oid == ExtensionOID.KEY_USAGE:
            ku = ext.value
            assert isinstance(ku, x509.KeyUsage)
            allowed = set()
            if ku.digital_signature:
                allowed.add(KeyUsage.DS)
            if ku.key_agreement:
                allowed.add(KeyUsage.KA)
            key_usages = frozenset(allowed)

    try:
        public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        problems.append(f"unreadable public key: {exc}")
    else:
        if not is_p256(public_key):
            problems.append("public key is not NIST P-256")

    return CertificateInfo(
        role=role,
        ou=ou,
        subject_eui=subject_eui,
        hardware_serial=hardware_serial,
        hardware_type=hardware_type,
        key_usages=key_usages,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        problems=tuple(problems),
    )
