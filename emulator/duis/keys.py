"""DUIS XML-signing certificates and private keys.

A DUIS signature names its signer only by ``X509IssuerSerial`` (issuer name and decimal
serial number); no certificate travels in the XML. Verifying therefore needs the signer's
certificate from a local set, found by issuer and serial; signing needs the private key
of the request's originator, found by EUI (the first part of ``RequestID``), as the DCC
Boxed signing tool does.

Folders are read by content, not by name: every ``.pem``/``.key``/``.crt``/``.der`` file
that holds an X.509 certificate or a P-256 private key (PEM or DER, PKCS#8 or SEC1,
unencrypted) is used; private keys are paired with the certificate of the same public key.
This reads the public test folder layout (``<role>-<EUI>-<kind>.cert.pem`` and
``.key.pem``) and the repository's key-store layout (``<eui>-ds.pem``/``.key``) alike.
Other files (``README.md``, ``index.json``, dot-files, sub-directories) are ignored; an
unreadable key file gives a :class:`LoadWarning` and loading carries on.

Certificate validity dates are recorded and reported, never enforced here (the public
test certificates have expired); :mod:`emulator.duis.xmlsig` enforces them on request.
Private key file permissions are not checked on load, as in :mod:`keys.store` (the public
test keys are world-readable by design); keys this project writes are written 0600.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.certs import describe_certificate
from keys.store import LoadWarning

__all__ = [
    "KeyLoadError",
    "LoadWarning",
    "XmlKeyStore",
    "XmlSigner",
    "load_certificate_file",
    "load_private_key_file",
    "normalise_dn",
    "normalise_eui",
]

_SUFFIXES = (".pem", ".key", ".crt", ".cer", ".der")
_MAX_FILE_SIZE = 64 * 1024
_EUI = re.compile(r"^[0-9A-F]{16}$")
_XML_SIGNING_OUS = frozenset({"87", "89", "137"})


class KeyLoadError(ValueError):
    """A certificate or key file that cannot be used; the message names the file."""


def normalise_eui(value: str) -> str:
    """An EUI-64 as 16 upper-case hex digits, from ``90-B3-D5-...``, ``90b3d5...``.

    Raises ``ValueError`` when it is not 8 octets of hex.
    """
    text = value.strip().replace("-", "").replace(":", "").upper()
    if not _EUI.match(text):
        raise ValueError(f"not an EUI-64: {value!r}")
    return text


def normalise_dn(text: str) -> tuple[tuple[str, str], ...]:
    """A distinguished name as sorted ``(TYPE, value)`` pairs, for comparison.

    ``CN=Z1,OU=07``, ``OU=07, CN=Z1`` and ``cn=Z1, ou=07`` compare equal: XMLDSig writers
    differ in attribute order and spacing. Escaped commas (``\\,``) stay inside values.
    """
    parts = [p for p in re.split(r"(?<!\\)[,+]", text) if p.strip()]
    pairs = []
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            return (("", text.strip()),)
        pairs.append((key.strip().upper(), value.strip()))
    return tuple(sorted(pairs))


@dataclass(frozen=True, slots=True)
class XmlSigner:
    """One XML-signing certificate, with its private key when one was loaded."""

    certificate: x509.Certificate
    #: Issuer as RFC 4514 text, the form ``ds:X509IssuerName`` carries (``CN=Z1,OU=07``).
    issuer: str
    serial: int
    #: EUI-64 the subject names (x500UniqueIdentifier), 16 upper-case hex digits.
    eui: str | None
    #: Raw subject OU (``87`` XmlSign, ``89`` DspXmlSign, ``02`` supplier, ...).
    ou: str | None
    not_before: datetime
    not_after: datetime
    private_key: ec.EllipticCurvePrivateKey | None = None
    sources: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The certificate's P-256 public key."""
        key = self.certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def valid_at(self, when: datetime) -> bool:
        """True when ``when`` (naive = UTC) lies within the certificate's validity."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return self.not_before <= when <= self.not_after

    def describe(self) -> str:
        """One line, e.g. ``90B3D51F30010000 OU=87 serial 2757... valid 2018-01-01..2118-01-01``."""
        return (
            f"{self.eui or '-'} OU={self.ou or '-'} serial {self.serial} "
            f"valid {self.not_before:%Y-%m-%d}..{self.not_after:%Y-%m-%d}"
        )


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_SIZE:
            raise KeyLoadError(f"{path}: {size} bytes, too large for a key file")
        return path.read_bytes()
    except OSError as e:
        raise KeyLoadError(f"{path}: cannot read: {e.strerror or e}") from None


def _as_certificate(data: bytes) -> x509.Certificate | None:
    for loader in (x509.load_pem_x509_certificate, x509.load_der_x509_certificate):
        try:
            return loader(data)
        except ValueError:
            continue
    return None


def _as_private_key(data: bytes) -> ec.EllipticCurvePrivateKey | None:
    for loader in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            key = loader(data, password=None)
        except (ValueError, TypeError):
            continue
        except Exception:  # cryptography raises UnsupportedAlgorithm for odd keys
            return None
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key
        return None
    return None


def _signer(
    cert: x509.Certificate, path: Path | None, private_key: ec.EllipticCurvePrivateKey | None
) -> XmlSigner:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise KeyLoadError(f"{path or 'certificate'}: not a NIST P-256 EC certificate")
    info = describe_certificate(cert)
    return XmlSigner(
        certificate=cert,
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        eui=info.eui.hex().upper() if info.eui is not None else None,
        ou=info.ou,
        not_before=info.not_before,
        not_after=info.not_after,
        private_key=private_key,
        sources=(path,) if path is not None else (),
    )


def load_certificate_file(path: Path) -> XmlSigner:
    """One certificate file (PEM or DER) as an :class:`XmlSigner` without private key.

    Raises :class:`KeyLoadError` naming the file when it is not a P-256 certificate.
    """
    cert = _as_certificate(_read(path))
    if cert is None:
        raise KeyLoadError(f"{path}: not an X.509 certificate (PEM or DER)")
    return _signer(cert, path, None)


def load_private_key_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """One unencrypted P-256 private key file (PEM or DER, PKCS#8 or SEC1).

    Raises :class:`KeyLoadError` naming the file otherwise.
    """
    key = _as_private_key(_read(path))
    if key is None:
        raise KeyLoadError(f"{path}: not an unencrypted EC private key (PEM or DER)")
    if key.curve.name != "secp256r1":
        raise KeyLoadError(f"{path}: private key is not on NIST P-256")
    return key


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class XmlKeyStore:
    """XML-signing certificates by (issuer, serial) and by EUI, with their private keys."""

    def __init__(self, signers: Iterable[XmlSigner] = ()) -> None:
        self._signers: list[XmlSigner] = []
        for s in signers:
            self.add(s)

    def __iter__(self) -> Iterator[XmlSigner]:
        return iter(self._signers)

    def __len__(self) -> int:
        return len(self._signers)

    def add(self, signer: XmlSigner) -> None:
        """Add a signer; the same certificate twice is kept once (a private key is merged)."""
        for i, old in enumerate(self._signers):
            if old.certificate == signer.certificate:
                if old.private_key is None and signer.private_key is not None:
                    self._signers[i] = replace(
                        old, private_key=signer.private_key, sources=old.sources + signer.sources
                    )
                return
        self._signers.append(signer)

    @classmethod
    def from_dirs(cls, dirs: Iterable[Path]) -> tuple[XmlKeyStore, list[LoadWarning]]:
        """Load every folder in order; raises :class:`KeyLoadError` for a missing folder."""
        store = cls()
        warnings: list[LoadWarning] = []
        for d in dirs:
            warnings.extend(store.load_dir(d))
        return store, warnings

    def load_dir(self, directory: Path) -> list[LoadWarning]:
        """Load the certificates and private keys of one folder (not recursive).

        Returns the files skipped, with why. Raises :class:`KeyLoadError` when the folder
        does not exist or cannot be listed.
        """
        if not directory.is_dir():
            raise KeyLoadError(f"{directory}: not a key folder (no such directory)")
        try:
            paths = sorted(directory.iterdir())
        except OSError as e:
            raise KeyLoadError(f"{directory}: cannot list: {e.strerror or e}") from None
        warnings: list[LoadWarning] = []
        certs: list[tuple[x509.Certificate, Path]] = []
        keys: list[tuple[ec.EllipticCurvePrivateKey, Path]] = []
        for path in paths:
            if path.name.startswith(".") or not path.is_file():
                continue
            if not path.name.lower().endswith(_SUFFIXES):
                continue
            try:
                data = _read(path)
            except KeyLoadError as e:
                warnings.append(LoadWarning(path, str(e).removeprefix(f"{path}: ")))
                continue
            cert = _as_certificate(data)
            if cert is not None:
                certs.append((cert, path))
                continue
            key = _as_private_key(data)
            if key is not None:
                keys.append((key, path))
                continue
            warnings.append(LoadWarning(path, "neither a certificate nor an EC private key"))
        # Two certificates may share one key pair (the public DSP 2018 and 2025 ones do).
        by_public: dict[bytes, list[tuple[ec.EllipticCurvePrivateKey, Path]]] = {}
        for k, p in keys:
            by_public.setdefault(_public_bytes(k.public_key()), []).append((k, p))
        paired: set[Path] = set()
        for cert, path in certs:
            pub = cert.public_key()
            matches = (
                by_public.get(_public_bytes(pub), [])
                if isinstance(pub, ec.EllipticCurvePublicKey)
                else []
            )
            try:
                signer = _signer(cert, path, matches[0][0] if matches else None)
            except KeyLoadError as e:
                warnings.append(LoadWarning(path, str(e).removeprefix(f"{path}: ")))
                continue
            if matches:
                paired.update(p for _, p in matches)
                signer = replace(signer, sources=(path, matches[0][1]))
            self.add(signer)
        for _, path in keys:
            if path not in paired:
                warnings.append(
                    LoadWarning(path, "private key without a certificate in the folder")
                )
        return warnings

    def by_issuer_serial(self, issuer: str, serial: int) -> XmlSigner | None:
        """The certificate with this issuer (any attribute order/spacing) and serial."""
        want = normalise_dn(issuer)
        for s in self._signers:
            if s.serial == serial and normalise_dn(s.issuer) == want:
                return s
        return None

    def by_serial(self, serial: int) -> list[XmlSigner]:
        """Every certificate with this serial number (any issuer)."""
        return [s for s in self._signers if s.serial == serial]

    def by_eui(self, eui: str) -> list[XmlSigner]:
        """Every certificate naming this EUI-64 (any notation), in load order."""
        want = normalise_eui(eui)
        return [s for s in self._signers if s.eui == want]

    def signing_key_for(self, eui: str) -> XmlSigner | None:
        """The signer of this EUI with a private key that signs its XML.

        XML-signing certificates (subject OU ``87`` XmlSign, ``89`` DspXmlSign, or ``137``,
        the pre-1.4.1 DSP certificate's decimal form) come first, then GBCS certificates
        (the signing tool signs for some parties with their GBCS DS key); load order
        decides among equals. So the DCC's EUI signs with the 2018 DspXmlSign key, not
        the ACB's GBCS key, as the signing tool does.
        """
        usable = [s for s in self.by_eui(eui) if s.private_key is not None]
        usable.sort(key=lambda s: s.ou not in _XML_SIGNING_OUS)
        return usable[0] if usable else None
