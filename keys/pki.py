"""A throw-away test PKI in the key-store layout, shaped like the DCC SMKI test PKI.

:func:`init_pki` writes into one directory:

* three CAs, each as ``ca-<name>.pem`` (certificate) + ``ca-<name>.key`` (private key):

  - ``ca-root``: self-signed root, subject ``OU=00, CN=GBCS-EMU TEST ROOT``;
  - ``ca-org``: organisation CA (role 7, Issuing Authority) signed by the root, subject
    ``OU=07, CN=GBCS-EMU TEST OCA`` - issues the organisation certificates, like
    ``OU=07, CN=Z1`` in the DCC Boxed test PKI;
  - ``ca-device``: device CA signed by the root, subject ``CN=GBCS-EMU TEST DCA`` -
    issues the device certificates, like ``CN=E357`` in the RTDS key store.

  CA certificates are valid until 9999-12-31 23:59:59.
* for every GBCS organisation role (Recovery, Supplier, Network Operator, Access Control
  Broker, Transitional CoS, WAN Provider, Load Controller) a DS and a KA key pair with
  certificates ``<eui>-ds.pem``/``<eui>-ds.key``/``<eui>-ka.pem``/``<eui>-ka.key``, plus
  the supplier's prepayment KA pair ``<eui>-pp-ka.*``. Subject ``OU=<role, 2 hex digits>``
  and ``x500UniqueIdentifier`` = EUI (BIT STRING, DER ``03 09 00 <EUI>``), KeyUsage
  (critical) digitalSignature or keyAgreement, certificate policy (critical)
  ``1.2.826.0.1.8641679.1.2.1.4``, 8-byte subject/authority key identifiers, valid from
  the start of the current UTC day for ``valid_days`` days.
* for every device EUI given, DS and KA device certificates and private keys: empty
  subject, critical subjectAltName ``hardwareModuleName`` {hwType
  ``1.2.826.0.1.8641679.1.2.2.1``, hwSerialNum = EUI}, policy (critical)
  ``1.2.826.0.1.1800000.1.2.1.4``, notAfter 9999-12-31 23:59:59.

Default organisation EUIs (:data:`DEFAULT_ORGANISATION_EUIS`) are ``90B3D51F30FE00<rr>``
with ``rr`` the role number: the ``90B3D51F30`` prefix of the DCC test parties, but a
``FE`` block that the public interop key store (``90B3D51F3000xxxx``, ``...3001xxxx``,
``...3002xxxx``, ``...3003xxxx``) does not use, so both can be loaded side by side.

Private keys are PKCS#8 PEM, created with mode 0600 (``os.open(..., 0o600)``, never
chmod-ed afterwards); certificates 0644 (both subject to the umask). Nothing is written
when any target file exists, unless ``overwrite=True`` (then each file is replaced
atomically through a temporary file). All of this is test material: it secures nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from keys.certs import (
    DEVICE_POLICY_OID,
    ORGANISATION_POLICY_OID,
    as_eui,
    certificate_policies,
    device_subject_alt_name,
    eui_hex,
    key_identifier,
    key_usage_extension,
    organisation_subject,
)
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import EuiLike, KeyEntry, build_entry, key_file_name

__all__ = [
    "CA_FILE_NAMES",
    "DEFAULT_ORGANISATION_EUIS",
    "DEFAULT_VALID_DAYS",
    "FOREVER",
    "GBCS_ORGANISATION_ROLES",
    "CaCredentials",
    "CertificateAuthorities",
    "IssuedKey",
    "PkiSummary",
    "add_devices",
    "create_authorities",
    "init_pki",
    "issue_device_keys",
    "issue_organisation_keys",
    "load_authorities",
    "write_keys",
]

#: Organisation roles that hold keys on GBCS devices, in role-number order.
GBCS_ORGANISATION_ROLES: tuple[RemotePartyRole, ...] = (
    RemotePartyRole.RECOVERY,
    RemotePartyRole.SUPPLIER,
    RemotePartyRole.NETWORK_OPERATOR,
    RemotePartyRole.ACCESS_CONTROL_BROKER,
    RemotePartyRole.TRANSITIONAL_COS,
    RemotePartyRole.WAN_PROVIDER,
    RemotePartyRole.LOAD_CONTROLLER,
)

#: ``90B3D51F30FE00<role>``: distinct from every EUI of the public interop key store.
DEFAULT_ORGANISATION_EUIS: Mapping[RemotePartyRole, bytes] = MappingProxyType(
    {role: bytes.fromhex(f"90b3d51f30fe00{int(role):02x}") for role in GBCS_ORGANISATION_ROLES}
)

#: Organisation certificate lifetime by default (the Z1 certificates span 10 years).
DEFAULT_VALID_DAYS = 3650
#: notAfter of device and CA certificates (RFC 5280 "no well-defined expiration").
FOREVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
#: File stems of the three CAs (``<stem>.pem`` certificate, ``<stem>.key`` private key).
CA_FILE_NAMES = {"root": "ca-root", "organisation": "ca-org", "device": "ca-device"}

_ROOT_NAME = x509.Name(
    [
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "00")]
        ),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.COMMON_NAME, "GBCS-EMU TEST ROOT")]
        ),
    ]
)
_OCA_NAME = x509.Name(
    [
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07")]
        ),
        x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.COMMON_NAME, "GBCS-EMU TEST OCA")]
        ),
    ]
)
# PrintableString, as the SMKI device CA's name (CN=E357) in the device certificates a
# device hands out with CS02e
_DCA_NAME = x509.Name(
    [x509.NameAttribute(NameOID.COMMON_NAME, "GBCS-EMU TEST DCA", _type=_ASN1Type.PrintableString)]
)


@dataclass(frozen=True, slots=True)
class CaCredentials:
    """A CA certificate and its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class CertificateAuthorities:
    """Root CA, organisation CA (issues organisation certs) and device CA."""

    root: CaCredentials
    organisation: CaCredentials
    device: CaCredentials

    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The three CA certificates, root first."""
        return (self.root.certificate, self.organisation.certificate, self.device.certificate)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued key pair with its certificate."""

    eui: bytes
    usage: KeyUsage
    prepayment: bool
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def entry(self) -> KeyEntry:
        """The key as a :class:`~keys.store.KeyEntry` (for ``KeyStore.add_entry``)."""
        return build_entry(
            self.eui,
            self.usage,
            prepayment=self.prepayment,
            certificate=self.certificate,
            private_key=self.private_key,
        )

    def file_names(self) -> tuple[str, str]:
        """``(certificate file, private key file)`` names in the store layout."""
        return (
            key_file_name(self.eui, self.usage, private=False, prepayment=self.prepayment),
            key_file_name(self.eui, self.usage, private=True, prepayment=self.prepayment),
        )


@dataclass(frozen=True, slots=True)
class PkiSummary:
    """What :func:`init_pki` created."""

    directory: Path
    #: ``ca-root.pem``, ``ca-org.pem``, ``ca-device.pem`` (keys next to them as ``.key``).
    ca_certificates: tuple[Path, ...]
    organisations: tuple[tuple[RemotePartyRole, bytes], ...]
    devices: tuple[bytes, ...]
    #: Every file written, in writing order.
    files: tuple[Path, ...]
    not_before: datetime
    organisation_not_after: datetime

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """Human-readable multi-line summary (for the CLI)."""
        lines = [f"test PKI in {self.directory} ({len(self.files)} files)"]
        lines.append("  CAs: " + ", ".join(p.name for p in self.ca_certificates))
        for role, eui in self.organisations:
            lines.append(f"  {eui_hex(eui)}  {role.human_name} (OU={role.ou})")
        for eui in self.devices:
            lines.append(f"  {eui_hex(eui)}  device")
        lines.append(
            f"  organisation certificates valid {self.not_before:%Y-%m-%d} .. "
            f"{self.organisation_not_after:%Y-%m-%d}; device certificates until 9999-12-31"
        )
        return "\n".join(lines)


def _now(now: datetime | None) -> datetime:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _serial() -> int:
    # 16 content bytes like the SMKI certificates: positive, top bits 01.
    return (int.from_bytes(os.urandom(16), "big") >> 2) | (1 << 126)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _sign(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: CaCredentials | None,
    signing_key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    if issuer is not None:
        issuer_key = issuer.certificate.public_key()
        assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(key_identifier(issuer_key), None, None), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _ca(
    name: x509.Name, parent: CaCredentials | None, not_before: datetime, path_length: int | None
) -> CaCredentials:
    key = _new_key()
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    cert = _sign(
        subject=name,
        public_key=key.public_key(),
        issuer=parent,
        signing_key=parent.private_key if parent is not None else key,
        not_before=not_before,
        not_after=FOREVER,
        extensions=(
            (x509.BasicConstraints(ca=True, path_length=path_length), True),
            (usage, True),
            (x509.SubjectKeyIdentifier(key_identifier(key.public_key())), False),
        ),
    )
    return CaCredentials(cert, key)


def create_authorities(*, now: datetime | None = None) -> CertificateAuthorities:
    """Generate a root CA and the organisation and device CAs it signs (in memory)."""
    start = _now(now)
    root = _ca(_ROOT_NAME, None, start, None)
    return CertificateAuthorities(
        root=root,
        organisation=_ca(_OCA_NAME, root, start, 0),
        device=_ca(_DCA_NAME, root, start, 0),
    )


def issue_organisation_keys(
    authorities: CertificateAuthorities,
    role: RemotePartyRole | str,
    eui: EuiLike,
    *,
    now: datetime | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    usages: Iterable[KeyUsage] = (KeyUsage.DS, KeyUsage.KA),
    prepayment: bool = False,
    common_name: str | None = None,
) -> tuple[IssuedKey, ...]:
    """New organisation key pairs (one per usage, plus a prepayment KA pair if asked).

    Certificates run from the start of ``now``'s UTC day for ``valid_days`` days (minus
    one second, like the Z1 certificates).
    """
    role = RemotePartyRole.parse(role)
    eui_b = as_eui(eui)
    if valid_days < 1:
        raise ValueError("valid_days must be at least 1")
    start = _now(now)
    end = min(start + timedelta(days=valid_days) - timedelta(seconds=1), FOREVER)
    subject = organisation_subject(role, eui_b, common_name)
    slots = [(KeyUsage.parse(u), False) for u in usages]
    if prepayment:
        slots.append((KeyUsage.KA, True))
    out = []
    for usage, pp in slots:
        key = _new_key()
        cert = _sign(
            subject=subject,
            public_key=key.public_key(),
            issuer=authorities.organisation,
            signing_key=authorities.organisation.private_key,
            not_before=start,
            not_after=end,
            extensions=(
                (key_usage_extension(usage), True),
                (x509.SubjectKeyIdentifier(key_identifier(key.public_key())), False),
                (certificate_policies(ORGANISATION_POLICY_OID), True),
            ),
        )
        out.append(IssuedKey(eui_b, usage, pp, key, cert))
    return tuple(out)


def issue_device_keys(
    authorities: CertificateAuthorities,
    eui: EuiLike,
    *,
    now: datetime | None = None,
    private_keys: Mapping[KeyUsage, ec.EllipticCurvePrivateKey] | None = None,
) -> tuple[IssuedKey, ...]:
    """DS and KA device certificates for ``eui`` (new key pairs unless ``private_keys``).

    Pass ``private_keys`` to certify key pairs an emulated device already holds.
    """
    eui_b = as_eui(eui)
    start = _now(now)
    given = dict(private_keys or {})
    for usage, key in given.items():
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ValueError(f"{KeyUsage.parse(usage).value} device key is not NIST P-256")
    san = device_subject_alt_name(eui_b)
    out = []
    for usage in (KeyUsage.DS, KeyUsage.KA):
        key = given.get(usage) or _new_key()
        cert = _sign(
            subject=x509.Name([]),
            public_key=key.public_key(),
            issuer=authorities.device,
            signing_key=authorities.device.private_key,
            not_before=start,
            not_after=FOREVER,
            extensions=(
                (key_usage_extension(usage), True),
                (x509.SubjectKeyIdentifier(key_identifier(key.public_key())), False),
                (san, True),
                (certificate_policies(DEVICE_POLICY_OID), True),
            ),
        )
        out.append(IssuedKey(eui_b, usage, False, key, cert))
    return tuple(out)


# --- files ------------------------------------------------------------------------------


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _plan_authorities(ca: CertificateAuthorities) -> list[tuple[str, bytes, int]]:
    plan = []
    for attr, stem in CA_FILE_NAMES.items():
        cred: CaCredentials = getattr(ca, attr)
        plan.append((f"{stem}.pem", _pem_cert(cred.certificate), 0o644))
        plan.append((f"{stem}.key", _pem_key(cred.private_key), 0o600))
    return plan


def _plan_keys(issued: Iterable[IssuedKey]) -> list[tuple[str, bytes, int]]:
    plan = []
    for k in issued:
        cert_name, key_name = k.file_names()
        plan.append((cert_name, _pem_cert(k.certificate), 0o644))
        plan.append((key_name, _pem_key(k.private_key), 0o600))
    return plan


def _write_one(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    target = path
    if overwrite:
        target = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if target.exists() or target.is_symlink():
            target.unlink()
    fd = os.open(target, flags, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if overwrite:
        os.replace(target, path)


def _write_plan(
    directory: Path, plan: Sequence[tuple[str, bytes, int]], overwrite: bool
) -> tuple[Path, ...]:
    names = [name for name, _, _ in plan]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"two keys would share the file(s) {', '.join(sorted(dupes))}")
    directory.mkdir(parents=True, exist_ok=True)
    if not overwrite:
        existing = [n for n in names if (directory / n).exists() or (directory / n).is_symlink()]
        if existing:
            shown = ", ".join(existing[:5]) + (" ..." if len(existing) > 5 else "")
            raise FileExistsError(
                f"refusing to overwrite {len(existing)} existing file(s) in {directory}: "
                f"{shown} (pass overwrite=True to replace them)"
            )
    written = []
    for name, data, mode in plan:
        path = directory / name
        _write_one(path, data, mode, overwrite)
        written.append(path)
    return tuple(written)


def write_keys(
    directory: str | Path, issued: Iterable[IssuedKey], *, overwrite: bool = False
) -> tuple[Path, ...]:
    """Write issued keys in the store layout (certificate ``.pem`` 0644, key ``.key`` 0600).

    Raises ``FileExistsError`` before writing anything if a target exists and not
    ``overwrite``.
    """
    return _write_plan(Path(directory), _plan_keys(issued), overwrite)


def load_authorities(directory: str | Path) -> CertificateAuthorities:
    """Read back the three CAs written by :func:`init_pki` (to issue more certificates)."""
    root = Path(directory)
    creds = {}
    for attr, stem in CA_FILE_NAMES.items():
        cert = x509.load_pem_x509_certificate((root / f"{stem}.pem").read_bytes())
        key = serialization.load_pem_private_key((root / f"{stem}.key").read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{stem}.key is not an EC private key")
        if key.public_key() != cert.public_key():
            raise ValueError(f"{stem}.key does not match {stem}.pem")
        creds[attr] = CaCredentials(cert, key)
    return CertificateAuthorities(**creds)


def _role_map(
    organisation_euis: Mapping[RemotePartyRole | str, EuiLike] | None,
) -> dict[RemotePartyRole, bytes]:
    out = dict(DEFAULT_ORGANISATION_EUIS)
    for role, eui in (organisation_euis or {}).items():
        r = RemotePartyRole.parse(role)
        if r in (RemotePartyRole.ROOT, RemotePartyRole.ISSUING_AUTHORITY):
            raise ValueError(f"{r.human_name} is a CA role, not an organisation key owner")
        out[r] = as_eui(eui)
    euis = list(out.values())
    clash = {eui_hex(e) for e in euis if euis.count(e) > 1}
    if clash:
        raise ValueError(f"organisation EUI(s) used by two roles: {', '.join(sorted(clash))}")
    return dict(sorted(out.items()))


def init_pki(
    directory: str | Path,
    *,
    device_euis: Sequence[EuiLike] = (),
    organisation_euis: Mapping[RemotePartyRole | str, EuiLike] | None = None,
    now: datetime | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    supplier_prepayment: bool = True,
    overwrite: bool = False,
) -> PkiSummary:
    """Create a complete test PKI in ``directory`` (see the module documentation).

    ``organisation_euis`` overrides :data:`DEFAULT_ORGANISATION_EUIS` role by role; every
    GBCS organisation role always gets DS and KA keys. Raises ``FileExistsError`` (before
    writing anything) when a target file exists and not ``overwrite``, ``ValueError`` for
    colliding EUIs.
    """
    roles = _role_map(organisation_euis)
    devices = tuple(dict.fromkeys(as_eui(e) for e in device_euis))
    taken = {eui_hex(d) for d in devices} & {eui_hex(e) for e in roles.values()}
    if taken:
        raise ValueError(f"device EUI(s) also used by an organisation: {', '.join(sorted(taken))}")
    start = _now(now)
    authorities = create_authorities(now=start)
    issued: list[IssuedKey] = []
    not_after = FOREVER
    for role, eui in roles.items():
        keys = issue_organisation_keys(
            authorities,
            role,
            eui,
            now=start,
            valid_days=valid_days,
            prepayment=supplier_prepayment and role is RemotePartyRole.SUPPLIER,
        )
        not_after = keys[0].certificate.not_valid_after_utc
        issued.extend(keys)
    for eui in devices:
        issued.extend(issue_device_keys(authorities, eui, now=start))
    root = Path(directory)
    files = _write_plan(root, _plan_authorities(authorities) + _plan_keys(issued), overwrite)
    return PkiSummary(
        directory=root,
        ca_certificates=tuple(root / f"{stem}.pem" for stem in CA_FILE_NAMES.values()),
        organisations=tuple(roles.items()),
        devices=devices,
        files=files,
        not_before=start,
        organisation_not_after=not_after,
    )


def add_devices(
    directory: str | Path,
    device_euis: Sequence[EuiLike],
    *,
    now: datetime | None = None,
    overwrite: bool = False,
) -> tuple[Path, ...]:
    """Issue device certificates for more EUIs from the CAs of an existing test PKI."""
    authorities = load_authorities(directory)
    issued: list[IssuedKey] = []
    for eui in dict.fromkeys(as_eui(e) for e in device_euis):
        issued.extend(issue_device_keys(authorities, eui, now=now))
    return write_keys(directory, issued, overwrite=overwrite)
