"""Key store over directories laid out as ``<eui>[-pp]-<ka|ds>.<pem|key>``.

* ``<eui>``: 16 hex digits (any case) of the owner's EUI-64 system title.
* ``-pp``: the supplier's separate prepayment key-agreement key (KA only).
* ``.pem``: X.509 certificate or bare SubjectPublicKeyInfo public key (PEM or DER).
* ``.key``: PKCS#8 (or SEC1) private key, PEM or DER, unencrypted.
* ``ca-<name>.pem``: CA certificates (see :mod:`keys.pki`), kept for chain checks;
  ``ca-<name>.key`` files are not loaded.

Other files (``README.md``, ``dccboxed-keystore.json``, sub-directories, dot-files) are
ignored silently. A ``.pem``/``.key`` file whose name does not follow the layout, or whose
content cannot be used, produces a :class:`LoadWarning` and loading carries on.

Key usage is enforced: every entry is filed under the usage its *file name* gives, a KA
look-up never returns a DS key and vice versa, and an entry whose certificate KeyUsage
contradicts its file name is kept for inspection (:meth:`KeyStore.entry`) but refused by
the key look-ups (``public_key``/``private_key`` return None, ``require_public_key``/
``require_private_key`` raise ``GbcsSecurityError`` saying why).
Certificate expiry is reported (:meth:`KeyEntry.expired`), never enforced: the public test
organisation certificates expired on 2025-10-29 and must keep working.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.errors import GbcsSecurityError
from keys.certs import as_eui, describe_certificate, eui_hex, is_p256, issued_by
from keys.roles import KeyUsage, RemotePartyRole

__all__ = ["EuiLike", "KeyEntry", "KeyStore", "LoadWarning", "build_entry", "key_file_name"]

EuiLike = bytes | bytearray | memoryview | int | str

_KEY_FILE = re.compile(r"^([0-9a-f]{16})(-pp)?-(ka|ds)\.(pem|key)$", re.IGNORECASE)
_CA_FILE = re.compile(r"^ca-[^/]+\.(pem|key)$", re.IGNORECASE)
_MAX_FILE_SIZE = 64 * 1024

_T = TypeVar("_T")
PublicKeyMaterial = x509.Certificate | ec.EllipticCurvePublicKey


def key_file_name(eui: EuiLike, usage: KeyUsage, *, private: bool, prepayment: bool = False) -> str:
    """File name of a key in the store layout, e.g. ``90b3d51f30010000-pp-ka.key``."""
    usage = KeyUsage.parse(usage)
    if prepayment and usage is not KeyUsage.KA:
        raise ValueError("prepayment keys are key-agreement (KA) keys")
    pp = "-pp" if prepayment else ""
    return f"{eui_hex(as_eui(eui))}{pp}-{usage.value}.{'key' if private else 'pem'}"


@dataclass(frozen=True, slots=True)
class LoadWarning:
    """A key file that was skipped or loaded with a problem."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One P-256 key of one party for one usage (and prepayment flag).

    ``public_key`` is always present: from the certificate, else the bare public key,
    else derived from the private key.
    """

    eui: bytes
    usage: KeyUsage
    prepayment: bool
    public_key: ec.EllipticCurvePublicKey
    private_key: ec.EllipticCurvePrivateKey | None = None
    certificate: x509.Certificate | None = None
    #: Remote-party role from the certificate subject OU; None for device/bare keys.
    role: RemotePartyRole | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    #: EUI the certificate names (x500UniqueIdentifier or hwSerialNum).
    cert_eui: bytes | None = None
    #: Usages the certificate's KeyUsage extension allows; None without certificate/extension.
    cert_key_usage: frozenset[KeyUsage] | None = None
    #: Why the certificate's KeyUsage contradicts ``usage``; None when consistent.
    usage_mismatch: str | None = None
    #: Why the private key does not belong to the certificate/public key; None when it does.
    key_mismatch: str | None = None
    #: Why the certificate names another EUI than the entry; None when it matches.
    eui_mismatch: str | None = None
    #: True for a device certificate (empty subject, SAN hardwareModuleName).
    is_device: bool = False
    #: Every problem found (the three above and certificate profile deviations).
    problems: tuple[str, ...] = ()
    #: Files the entry was loaded from (empty for in-memory keys).
    sources: tuple[Path, ...] = field(default=(), compare=False)

    @property
    def has_private(self) -> bool:
        """True when the private key is available."""
        return self.private_key is not None

    def expired(self, now: datetime) -> bool:
        """True when ``now`` is after the certificate's notAfter (naive ``now`` = UTC).

        Bare keys never expire. Expiry is informative only: the store still serves the key.
        """
        if self.not_after is None:
            return False
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now > self.not_after

    def describe(self) -> str:
        """One line for listings, e.g. ``90b3d51f30010000 pp-ka Supplier cert+private``."""
        kind = ("pp-" if self.prepayment else "") + self.usage.value
        role = self.role.human_name if self.role is not None else "-"
        what = "cert" if self.certificate is not None else "public"
        if self.private_key is not None:
            what += "+private"
        return f"{eui_hex(self.eui)} {kind} {role} {what}"


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def build_entry(
    eui: EuiLike,
    usage: KeyUsage | str,
    *,
    prepayment: bool = False,
    certificate: x509.Certificate | None = None,
    public_key: ec.EllipticCurvePublicKey | None = None,
    private_key: ec.EllipticCurvePrivateKey | None = None,
    sources: tuple[Path, ...] = (),
) -> KeyEntry:
    """Assemble a :class:`KeyEntry`, recording (not raising on) consistency problems.

    Raises ``ValueError`` for unusable input: no key at all, a key that is not P-256, a
    prepayment DS key, or both a certificate and a different bare public key.
    """
    eui_b = as_eui(eui)
    usage = KeyUsage.parse(usage)
    if prepayment and usage is not KeyUsage.KA:
        raise ValueError("prepayment keys are key-agreement (KA) keys")
    if private_key is not None and not is_p256(private_key):
        raise ValueError("private key is not a NIST P-256 EC key")
    if public_key is not None and not is_p256(public_key):
        raise ValueError("public key is not a NIST P-256 EC key")

    problems: list[str] = []
    role = None
    not_before = not_after = None
    cert_eui = None
    cert_key_usage = None
    is_device = False
    usage_mismatch = eui_mismatch = key_mismatch = None
    if certificate is not None:
        info = describe_certificate(certificate)
        cert_public = certificate.public_key()
        if not is_p256(cert_public):
            raise ValueError("certificate key is not a NIST P-256 EC key")
        assert isinstance(cert_public, ec.EllipticCurvePublicKey)
        if public_key is not None and _public_bytes(public_key) != _public_bytes(cert_public):
            raise ValueError("public key differs from the certificate's public key")
        public_key = cert_public
        problems.extend(info.problems)
        role = info.role
        not_before, not_after = info.not_before, info.not_after
        cert_eui = info.eui
        cert_key_usage = info.key_usages
        is_device = info.is_device
        if cert_key_usage is not None and usage not in cert_key_usage:
            allowed = ", ".join(sorted(u.human_name for u in cert_key_usage)) or "neither"
            usage_mismatch = (
                f"certificate KeyUsage allows {allowed}, "
                f"but the key is filed as {usage.value} ({usage.human_name})"
            )
            problems.append(usage_mismatch)
        if cert_eui is not None and cert_eui != eui_b:
            eui_mismatch = f"certificate names EUI {eui_hex(cert_eui)}, not {eui_hex(eui_b)}"
            problems.append(eui_mismatch)
    if private_key is not None:
        derived = private_key.public_key()
        if public_key is None:
            public_key = derived
        elif _public_bytes(derived) != _public_bytes(public_key):
            key_mismatch = "private key does not match the " + (
                "certificate" if certificate is not None else "public key"
            )
            problems.append(key_mismatch)
    if public_key is None:
        raise ValueError("an entry needs a certificate, a public key or a private key")
    return KeyEntry(
        eui=eui_b,
        usage=usage,
        prepayment=prepayment,
        public_key=public_key,
        private_key=private_key,
        certificate=certificate,
        role=role,
        not_before=not_before,
        not_after=not_after,
        cert_eui=cert_eui,
        cert_key_usage=cert_key_usage,
        usage_mismatch=usage_mismatch,
        key_mismatch=key_mismatch,
        eui_mismatch=eui_mismatch,
        is_device=is_device,
        problems=tuple(problems),
        sources=sources,
    )


_Slot = tuple[bytes, KeyUsage, bool]


@dataclass(slots=True)
class _Parts:
    public: PublicKeyMaterial | None = None
    public_path: Path | None = None
    private: ec.EllipticCurvePrivateKey | None = None
    private_path: Path | None = None


class _BadFile(Exception):
    pass


def _load_guarded(data: bytes, loader: Callable[[bytes], _T]) -> tuple[_T, tuple[str, ...]]:
    """Run a cryptography loader, turning its exceptions and warnings into messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            obj = loader(data)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise _BadFile(str(exc) or type(exc).__name__) from None
    notes = tuple(dict.fromkeys(str(w.message).split(". ")[0] for w in caught))
    return obj, notes


def _read_public(data: bytes) -> PublicKeyMaterial:
    cert = _read_certificate(data)
    if cert is not None:
        if not is_p256(cert.public_key()):
            raise _BadFile("certificate key is not a NIST P-256 EC key")
        return cert
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"PUBLIC KEY-----" in data:
            key = serialization.load_pem_public_key(data)
        elif b"PRIVATE KEY-----" in data:
            raise _BadFile("holds a private key; private keys belong in .key files")
        else:
            raise _BadFile("PEM block is neither a CERTIFICATE nor a PUBLIC KEY")
    else:
        try:
            key = serialization.load_der_public_key(data)
        except ValueError:
            raise _BadFile("neither a PEM/DER certificate nor a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not is_p256(key):
        raise _BadFile("public key is not a NIST P-256 EC key")
    return key


def _read_certificate(data: bytes) -> x509.Certificate | None:
    """The certificate in ``data`` (PEM or DER), None when ``data`` holds something else."""
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return None
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def _read_private(data: bytes) -> ec.EllipticCurvePrivateKey:
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"PRIVATE KEY-----" not in data:
            raise _BadFile("PEM block is not a PRIVATE KEY")
        if b"ENCRYPTED" in data:
            raise _BadFile("encrypted private keys are not supported")
        key = serialization.load_pem_private_key(data, password=None)
    else:
        try:
            key = serialization.load_der_private_key(data, password=None)
        except ValueError:
            raise _BadFile("neither a PEM nor a DER private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not is_p256(key):
        raise _BadFile("private key is not a NIST P-256 EC key")
    return key


class KeyStore:
    """GBCS key material by (EUI-64, usage, prepayment), loaded from directories or added.

    ``KeyStore(dir1, dir2, ...)`` loads the directories in order; a file for a slot that an
    earlier directory already filled replaces it (with a warning). Certificates and
    private keys of one slot may come from different directories.
    """

    def __init__(self, *directories: str | Path) -> None:
        self._parts: dict[_Slot, _Parts] = {}
        self._entries: dict[_Slot, KeyEntry] = {}
        self._generation = 0
        self._warnings: list[LoadWarning] = []
        self._cas: dict[Path, x509.Certificate] = {}
        for d in directories:
            self.load_directory(d)

    # --- loading ---------------------------------------------------------------------

    def load_directory(self, directory: str | Path) -> tuple[LoadWarning, ...]:
        """Load every key file of ``directory``; returns this call's warnings.

        Raises ``FileNotFoundError``/``NotADirectoryError`` for a missing directory; bad
        files never raise, they become warnings (also kept in :attr:`warnings`).
        """
        root = Path(directory)
        if not root.exists():
            raise FileNotFoundError(f"key directory {root} does not exist")
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is not a directory")
        found: list[LoadWarning] = []
        touched: set[_Slot] = set()
        for path in sorted(root.iterdir()):
            name = path.name
            if name.startswith(".") or not path.is_file():
                continue
            m = _KEY_FILE.match(name)
            if m is None:
                if _CA_FILE.match(name):
                    if name.lower().endswith(".pem"):
                        self._load_ca(path, found)
                elif name.lower().endswith((".pem", ".key")):
                    found.append(
                        LoadWarning(path, "ignored: name is not <eui>[-pp]-<ka|ds>.<pem|key>")
                    )
                continue
            eui = bytes.fromhex(m.group(1))
            prepayment = m.group(2) is not None
            usage = KeyUsage(m.group(3).lower())
            private = m.group(4).lower() == "key"
            if prepayment and usage is KeyUsage.DS:
                found.append(LoadWarning(path, "ignored: prepayment (-pp) keys are KA only"))
                continue
            try:
                data = self._read_file(path)
                obj, notes = _load_guarded(data, _read_private if private else _read_public)
            except _BadFile as exc:
                found.append(LoadWarning(path, f"skipped: {exc}"))
                continue
            found.extend(LoadWarning(path, f"cryptography: {n}") for n in notes)
            slot = (eui, usage, prepayment)
            parts = self._parts.setdefault(slot, _Parts())
            old = parts.private_path if private else parts.public_path
            if old is not None:
                found.append(LoadWarning(path, f"replaces {old}"))
            if private:
                parts.private, parts.private_path = obj, path
            else:
                parts.public, parts.public_path = obj, path
            touched.add(slot)
        for slot in sorted(touched, key=_slot_order):
            entry = self._rebuild(slot, found)
            if entry is None:
                continue
            src = entry.sources[0] if entry.sources else root
            found.extend(LoadWarning(src, p) for p in entry.problems)
        self._warnings.extend(found)
        return tuple(found)

    load = load_directory

    @staticmethod
    def _read_file(path: Path) -> bytes:
        try:
            size = path.stat().st_size
            if size > _MAX_FILE_SIZE:
                raise _BadFile(f"file too large ({size} bytes) for a key")
            data = path.read_bytes()
        except OSError as exc:
            raise _BadFile(f"unreadable: {exc.strerror or exc}") from None
        if not data.strip():
            raise _BadFile("empty file")
        return data

    def _load_ca(self, path: Path, found: list[LoadWarning]) -> None:
        try:
            data = self._read_file(path)
            cert, notes = _load_guarded(data, _read_certificate)
        except _BadFile as exc:
            found.append(LoadWarning(path, f"skipped CA certificate: {exc}"))
            return
        if cert is None:
            found.append(LoadWarning(path, "skipped CA certificate: not a certificate"))
            return
        found.extend(LoadWarning(path, f"cryptography: {n}") for n in notes)
        self._cas[path] = cert

    def _rebuild(self, slot: _Slot, found: list[LoadWarning]) -> KeyEntry | None:
        parts = self._parts[slot]
        cert = parts.public if isinstance(parts.public, x509.Certificate) else None
        pub = parts.public if isinstance(parts.public, ec.EllipticCurvePublicKey) else None
        sources = tuple(p for p in (parts.public_path, parts.private_path) if p is not None)
        try:
            entry = build_entry(
                slot[0],
                slot[1],
                prepayment=slot[2],
                certificate=cert,
                public_key=pub,
                private_key=parts.private,
                sources=sources,
            )
        except ValueError as exc:
            found.append(LoadWarning(sources[0] if sources else Path(), f"skipped: {exc}"))
            self._entries.pop(slot, None)
            self._generation += 1
            return None
        self._entries[slot] = entry
        self._generation += 1
        return entry

    # --- in-memory -------------------------------------------------------------------

    def add(
        self,
        eui: EuiLike,
        usage: KeyUsage | str,
        *,
        private_key: ec.EllipticCurvePrivateKey | None = None,
        public_key: ec.EllipticCurvePublicKey | None = None,
        certificate: x509.Certificate | None = None,
        prepayment: bool = False,
        replace: bool = True,
    ) -> KeyEntry:
        """Register an in-memory key (e.g. an emulated device's freshly generated pair).

        Unlike loading from files, inconsistent material is refused with ``ValueError``:
        a certificate whose KeyUsage contradicts ``usage``, a private key that does not
        match the certificate/public key, or (with ``replace=False``) an occupied slot.
        """
        entry = build_entry(
            eui,
            usage,
            prepayment=prepayment,
            certificate=certificate,
            public_key=public_key,
            private_key=private_key,
        )
        if entry.usage_mismatch:
            raise ValueError(entry.usage_mismatch)
        if entry.key_mismatch:
            raise ValueError(entry.key_mismatch)
        slot = (entry.eui, entry.usage, entry.prepayment)
        if not replace and slot in self._entries:
            raise ValueError(f"{_slot_text(slot)} is already in the key store")
        self._parts[slot] = _Parts(
            public=certificate if certificate is not None else public_key,
            private=private_key,
        )
        self._entries[slot] = entry
        self._generation += 1
        return entry

    def add_entry(self, entry: KeyEntry) -> None:
        """Register a ready-made entry (replacing any entry of the same slot)."""
        slot = (entry.eui, entry.usage, entry.prepayment)
        self._parts[slot] = _Parts(
            public=entry.certificate if entry.certificate is not None else entry.public_key,
            private=entry.private_key,
        )
        self._entries[slot] = entry
        self._generation += 1

    def remove(self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False) -> bool:
        """Forget one entry; True if it existed."""
        slot = (as_eui(eui), KeyUsage.parse(usage), prepayment)
        self._parts.pop(slot, None)
        self._generation += 1
        return self._entries.pop(slot, None) is not None

    @property
    def generation(self) -> int:
        """Changes whenever an entry is added, replaced or removed: callers that derive
        data from the store cache it per store and generation."""
        return self._generation

    # --- look-ups --------------------------------------------------------------------

    @property
    def warnings(self) -> tuple[LoadWarning, ...]:
        """Every warning of every :meth:`load` so far."""
        return tuple(self._warnings)

    @property
    def ca_certificates(self) -> tuple[x509.Certificate, ...]:
        """CA certificates loaded from ``ca-*.pem`` files."""
        return tuple(self._cas.values())

    def entry(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> KeyEntry | None:
        """The entry of a slot, None when absent (problematic entries included)."""
        return self._entries.get(_slot(eui, usage, prepayment))

    def _usable(self, eui: EuiLike, usage: KeyUsage | str, prepayment: bool) -> KeyEntry:
        eui_b = as_eui(eui)
        usage = KeyUsage.parse(usage)
        what = _slot_text((eui_b, usage, prepayment))
        entry = self._entries.get((eui_b, usage, prepayment))
        if entry is None:
            raise GbcsSecurityError(f"no {what} in the key store")
        if entry.usage_mismatch:
            raise GbcsSecurityError(f"{what} refused: {entry.usage_mismatch}")
        return entry

    def require_public_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePublicKey:
        """The public key of a slot; ``GbcsSecurityError`` saying why when unavailable
        (absent, or certificate KeyUsage contradicting ``usage``)."""
        return self._usable(eui, usage, prepayment).public_key

    def require_private_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePrivateKey:
        """The private key of a slot; ``GbcsSecurityError`` saying why when unavailable
        (absent, usage-mismatched, or not matching the slot's certificate)."""
        entry = self._usable(eui, usage, prepayment)
        what = _slot_text((entry.eui, entry.usage, prepayment))
        if entry.private_key is None:
            raise GbcsSecurityError(f"no private {what} (only the public key is loaded)")
        if entry.key_mismatch:
            raise GbcsSecurityError(f"private {what} refused: {entry.key_mismatch}")
        return entry.private_key

    def public_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePublicKey | None:
        """The public key of a slot, None when :meth:`require_public_key` would raise.

        Satisfies ``gbcs.security.KeyProvider``.
        """
        # The decode path asks for absent keys all the time: a miss returns None
        # without building and catching a GbcsSecurityError.
        entry = self._entries.get(_slot(eui, usage, prepayment))
        if entry is None or entry.usage_mismatch:
            return None
        return entry.public_key

    def private_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePrivateKey | None:
        """The private key of a slot, None when :meth:`require_private_key` would raise.

        Satisfies ``gbcs.security.KeyProvider``.
        """
        entry = self._entries.get(_slot(eui, usage, prepayment))
        if entry is None or entry.usage_mismatch or entry.key_mismatch:
            return None
        return entry.private_key

    def certificate(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> x509.Certificate | None:
        """The certificate of a slot, None when absent or only a bare key is loaded."""
        entry = self.entry(eui, usage, prepayment=prepayment)
        return entry.certificate if entry is not None else None

    def has(
        self,
        eui: EuiLike,
        usage: KeyUsage | str,
        *,
        private: bool = False,
        prepayment: bool = False,
    ) -> bool:
        """True when :meth:`public_key` (or :meth:`private_key` if ``private``) returns a key."""
        if private:
            return self.private_key(eui, usage, prepayment=prepayment) is not None
        return self.public_key(eui, usage, prepayment=prepayment) is not None

    def entries(
        self, usage: KeyUsage | str | None = None, *, private: bool | None = None
    ) -> tuple[KeyEntry, ...]:
        """All entries ordered by (EUI, usage, prepayment), optionally filtered."""
        u = None if usage is None else KeyUsage.parse(usage)
        out = []
        for slot in sorted(self._entries, key=_slot_order):
            e = self._entries[slot]
            if u is not None and e.usage is not u:
                continue
            if private is not None and e.has_private != private:
                continue
            out.append(e)
        return tuple(out)

    def euis(self) -> tuple[bytes, ...]:
        """Every EUI with at least one entry, sorted."""
        return tuple(sorted({slot[0] for slot in self._entries}))

    def role_of(self, eui: EuiLike) -> RemotePartyRole | None:
        """Role of a party from its certificates' subject OU (DS first, then KA, then PP).

        Certificates that name another EUI than their file (``eui_mismatch``) are not
        consulted. None for devices, bare keys and unknown EUIs.
        """
        eui_b = as_eui(eui)
        for slot in (
            (eui_b, KeyUsage.DS, False),
            (eui_b, KeyUsage.KA, False),
            (eui_b, KeyUsage.KA, True),
        ):
            e = self._entries.get(slot)
            if e is not None and e.role is not None and e.eui_mismatch is None:
                return e.role
        return None

    def by_role(self, role: RemotePartyRole) -> tuple[KeyEntry, ...]:
        """Entries whose certificate carries ``role`` for their own EUI."""
        return tuple(e for e in self.entries() if e.role is role and e.eui_mismatch is None)

    def issuer_of(self, entry: KeyEntry) -> x509.Certificate | None:
        """The loaded CA certificate that signed ``entry``'s certificate, if any."""
        if entry.certificate is None:
            return None
        for ca in self._cas.values():
            if issued_by(entry.certificate, ca):
                return ca
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[KeyEntry]:
        return iter(self.entries())

    def extend(self, entries: Iterable[KeyEntry]) -> None:
        """:meth:`add_entry` for each entry."""
        for e in entries:
            self.add_entry(e)


def _slot(eui: EuiLike, usage: KeyUsage | str, prepayment: bool) -> _Slot:
    """The slot key of a look-up; 8 bytes and ``"ka"``/``"ds"`` (the decode path's
    arguments) skip the general parsers. Bad EUIs or usages raise ``ValueError``."""
    eui_b = eui if type(eui) is bytes and len(eui) == 8 else as_eui(eui)
    u = _USAGES.get(usage) or KeyUsage.parse(usage)
    return eui_b, u, prepayment


_USAGES: dict[str, KeyUsage] = {"ka": KeyUsage.KA, "ds": KeyUsage.DS}


def _slot_order(slot: _Slot) -> tuple[bytes, str, bool]:
    return slot[0], slot[1].value, slot[2]


def _slot_text(slot: _Slot) -> str:
    return f"{'prepayment ' if slot[2] else ''}{slot[1].value.upper()} key of {eui_hex(slot[0])}"
