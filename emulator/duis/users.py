"""DUIS users and the DSP's signing identity: who may send requests, and where answers go.

Sans-IO apart from reading the files it is pointed at: the DUIS service loads a
:class:`Users` once and asks it, for each request, about the ``RequestID`` originator:

* :meth:`Users.get` / :meth:`Users.require`: the :class:`User` with that EUI (any
  notation: ``90-B3-D5-1F-30-01-00-00`` or ``90b3d51f30010000``);
* :meth:`Users.key_store`: that user's XML-signing certificate as an
  :class:`~emulator.duis.keys.XmlKeyStore`, so a signature verifies only against the
  *sender's* certificate (the signature names its signer by issuer and serial; looked up
  in the whole store, user A could send as user B);
* :meth:`Users.roles` and :meth:`Users.callback`: the DUIS roles (keys of
  :data:`emulator.duis.tables.USER_ROLES`) and the URL responses and alerts are POSTed to;
* :attr:`Users.dsp`: the DSP's XML-signing certificate with its private key, which signs
  responses and alerts (:func:`emulator.duis.xmlsig.sign`).

Two sources:

* :meth:`Users.load`: a TOML file (``docs/duis-users.md``), validated in full before
  anything is returned: every problem is one line naming the file and the key path
  (``users.toml: user[2].role: ...``), all of them in one :class:`UsersConfigError`.
  The DSP's private key must be mode 0600 or stricter and not a symbolic link.
* :meth:`Users.from_test_keys`: the public DCC Boxed test organisations, from a folder
  laid out ``<role>-<EUI>-<kind>.cert.pem`` (+ ``.key.pem``), read at run time from a
  path the caller gives; GBCS DS/KA certificates optionally from a key-store folder
  (``<eui>-ds.pem``/``<eui>-ka.pem``). Those keys are public and world-readable by design,
  so their file modes are not checked.

Private keys and the SMKI API key never appear in messages or reprs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devices.options import unknown_key
from emulator.duis.keys import (
    KeyLoadError,
    XmlKeyStore,
    XmlSigner,
    load_certificate_file,
    load_private_key_file,
    normalise_eui,
)
from emulator.duis.tables import USER_ROLES
from emulator.runtime.statedir import secret_file_problem
from keys.certs import describe_certificate
from keys.roles import KeyUsage

__all__ = [
    "DEFAULT_DSP_KIND",
    "TEST_ORGANISATION_ROLES",
    "UnknownUserError",
    "User",
    "Users",
    "UsersConfigError",
]

TEST_ORGANISATION_ROLES: Mapping[str, tuple[str, ...]] = {
    # The DCC Boxed test Supplier sends both electricity and gas SRVs (of the 271
    # templates it originates, IS and GS make 265 eligible; ES would add the 2 export
    # ones and OU the two 9.1 ones, so those are left to the caller's ``roles``).
    "supplier": ("IS", "GS"),
    # A second GBCS Supplier (OU 02), used as the new supplier in change-of-supplier tests.
    "supplier2": ("IS", "GS"),
    # GBCS role 3 "Network Operator" covers both fuels: an Electricity Distributor and a
    # Gas Transporter (19 of its 20 templates need ED, GCS31 14.1 needs GT).
    "networkoperator": ("ED", "GT"),
    # The signing tool's "other user" certificate signs the 9.1 sample, an OU-only SRV.
    "other": ("OU",),
}
"""DUIS roles of the public test organisations, by the folder's role name.

Recovery, Transitional CoS, WAN Provider and Load Controller are GBCS remote parties that
the DCC or a CSP plays; no DUIS user role matches them, so they are not users unless the
caller names roles for them (``from_test_keys(roles=...)``). ``acb`` and ``dsp`` are the
DCC itself.
"""

DEFAULT_DSP_KIND = "dspxmlsign-2025"
"""The DSP certificate current DCC Boxed responses are signed with (valid 2025-2035)."""

_USER_KEYS = ("eui", "role", "xml_certificate", "ds_certificate", "ka_certificate", "callback")
_OPTIONAL_USER_KEYS = ("name",)
_TOP_KEYS = ("dsp", "smki", "user")
_DSP_KEYS = ("key", "certificate")
_SMKI_KEYS = ("apikey",)
_ROLE_CODES = ", ".join(USER_ROLES)
_APIKEY = re.compile(r"[\x21-\x7e]{1,256}")
_TEST_FILE = re.compile(
    r"^(?:(?P<prefix>user|dsp|acb)-)?(?:(?P<role>[a-z0-9]+)-)?"
    r"(?P<eui>[0-9A-Fa-f]{16})-(?P<kind>[A-Za-z0-9.-]+)\.cert\.pem$"
)
_XML_KINDS = ("xmlsign", "ds")  # preferred first: the signing tool falls back to GBCS DS


class UsersConfigError(ValueError):
    """A users file or test-key folder that cannot be used: one line per problem."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = tuple(lines)


class UnknownUserError(KeyError):
    """An EUI that is not a configured DUIS user; ``str()`` is the one-line message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown DUIS user"


@dataclass(frozen=True, slots=True)
class User:
    """One DUIS user: an EUI acting in one or more DUIS roles."""

    #: 16 upper-case hex digits.
    eui: str
    #: DUIS role codes (keys of :data:`~emulator.duis.tables.USER_ROLES`), first = primary.
    roles: tuple[str, ...]
    #: The certificate that verifies this user's XML signatures (no private key).
    xml_signer: XmlSigner
    #: Where responses and alerts for this user are POSTed (http or https).
    callback: str = field(repr=False)
    #: GBCS certificates (used for the CV5 signed pre-command and SMKI), when known.
    ds_certificate: x509.Certificate | None = field(default=None, repr=False)
    ka_certificate: x509.Certificate | None = field(default=None, repr=False)
    name: str | None = None

    @property
    def role(self) -> str:
        """The primary DUIS role code."""
        return self.roles[0]

    def has_role(self, code: str) -> bool:
        """True when the user acts in DUIS role ``code`` (e.g. ``"IS"``)."""
        return code in self.roles

    def describe(self) -> str:
        """One line for logs: EUI, roles, certificate serial and callback host."""
        host = urlsplit(self.callback).hostname or "?"
        label = f" ({self.name})" if self.name else ""
        return (
            f"{self.eui}{label} {'+'.join(self.roles)} "
            f"xml serial {self.xml_signer.serial} -> {host}"
        )


class Users:
    """The DUIS users by EUI, the DSP's signing identity and the SMKI API key."""

    def __init__(self, users: Iterable[User], dsp: XmlSigner, *, apikey: str | None = None) -> None:
        """Raises ``ValueError`` for two users with one EUI or a DSP without private key."""
        self._by_eui: dict[str, User] = {}
        for user in users:
            if user.eui in self._by_eui:
                raise ValueError(f"two users with EUI {user.eui}")
            self._by_eui[user.eui] = user
        if dsp.private_key is None:
            raise ValueError("the DSP's XML-signing certificate needs its private key")
        self._dsp = dsp
        self._apikey = apikey

    def __repr__(self) -> str:
        return f"Users({len(self)} users, dsp {self._dsp.eui or '?'} serial {self._dsp.serial})"

    def __len__(self) -> int:
        return len(self._by_eui)

    def __iter__(self) -> Iterator[User]:
        return iter(self._by_eui.values())

    def __contains__(self, eui: object) -> bool:
        return isinstance(eui, str) and self.get(eui) is not None

    @property
    def dsp(self) -> XmlSigner:
        """The DSP's XML-signing certificate with its private key (signs responses)."""
        return self._dsp

    @property
    def apikey(self) -> str | None:
        """The API key SMKI requests must carry (None: any or none is accepted)."""
        return self._apikey

    def get(self, eui: str) -> User | None:
        """The user with this EUI (any notation); None when unknown or not an EUI."""
        try:
            return self._by_eui.get(normalise_eui(eui))
        except ValueError:
            return None

    def require(self, eui: str) -> User:
        """The user with this EUI; raises :class:`UnknownUserError` when there is none."""
        user = self.get(eui)
        if user is None:
            raise UnknownUserError(f"{eui!r} is not a configured DUIS user")
        return user

    def roles(self, eui: str) -> tuple[str, ...]:
        """The DUIS roles of ``eui``; empty when it is not a user."""
        user = self.get(eui)
        return user.roles if user is not None else ()

    def callback(self, eui: str) -> str | None:
        """The callback URL of ``eui``; None when it is not a user."""
        user = self.get(eui)
        return user.callback if user is not None else None

    def key_store(self, eui: str) -> XmlKeyStore:
        """``eui``'s XML-signing certificate alone, to verify a request it sent.

        Empty when ``eui`` is not a user, so verifying gives ``unknown signer``.
        """
        user = self.get(eui)
        return XmlKeyStore([user.xml_signer] if user is not None else [])

    def all_certificates(self) -> XmlKeyStore:
        """Every user's XML-signing certificate and the DSP's (no private keys)."""
        signers = [u.xml_signer for u in self]
        signers.append(_public(self._dsp))
        return XmlKeyStore(signers)

    def describe(self) -> list[str]:
        """One line per user, then the DSP's certificate (no secrets)."""
        lines = [u.describe() for u in self]
        lines.append(f"DSP {self._dsp.describe()}")
        return lines

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path) -> Users:
        """Users from a TOML file (format: ``docs/duis-users.md``).

        Raises :class:`UsersConfigError` listing every problem, one line each, as
        ``<file>: <key path>: <what is wrong>``.
        """
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise UsersConfigError([f"{path}: cannot read: {e.strerror or e}"]) from None
        except UnicodeDecodeError:
            raise UsersConfigError([f"{path}: not a UTF-8 text file"]) from None
        except tomllib.TOMLDecodeError as e:
            raise UsersConfigError([f"{path}: not valid TOML: {e}"]) from None
        reader = _ConfigReader(path)
        users = reader.read(doc)
        if reader.dsp is None and not reader.lines:
            reader.add("[dsp]", "no usable key and certificate")
        if reader.lines or reader.dsp is None:
            raise UsersConfigError([f"{path}: {line}" for line in reader.lines])
        return cls(users, reader.dsp, apikey=reader.apikey)

    @classmethod
    def from_test_keys(
        cls,
        duis_keys_dir: str | Path,
        interop_keys_dir: str | Path | None = None,
        *,
        callback: str | Mapping[str, str],
        roles: Mapping[str, Sequence[str] | str] | None = None,
        dsp: str = DEFAULT_DSP_KIND,
        apikey: str | None = None,
    ) -> Users:
        """The public test organisations of a DCC Boxed XML-signing key folder.

        ``duis_keys_dir`` holds ``user-<role>-<EUI>-<kind>.cert.pem`` certificates and
        ``dsp-<EUI>-<kind>.cert.pem``/``.key.pem``; each organisation whose folder role
        has DUIS roles (:data:`TEST_ORGANISATION_ROLES`, overridden or extended by
        ``roles``; an empty sequence leaves one out) becomes a user with its ``xmlsign``
        certificate, else its GBCS ``ds`` one (as the signing tool signs for it).
        ``interop_keys_dir`` adds each user's GBCS ``<eui>-ds.pem``/``<eui>-ka.pem``
        certificates when present. ``callback`` is one URL for all users or a mapping
        EUI -> URL; ``dsp`` names the DSP certificate's kind (``dspxmlsign-2018``, ...).

        Raises :class:`UsersConfigError` listing every problem.
        """
        loader = _TestKeyLoader(Path(duis_keys_dir), callback, roles, dsp)
        users = loader.load(Path(interop_keys_dir) if interop_keys_dir is not None else None)
        if apikey is not None and not _APIKEY.fullmatch(apikey):
            loader.lines.append("apikey: must be 1 to 256 printable characters, no spaces")
        if loader.dsp is None and not loader.lines:
            loader.add("no usable DSP key and certificate")
        if loader.lines or loader.dsp is None:
            raise UsersConfigError(loader.lines)
        return cls(users, loader.dsp, apikey=apikey)


# ---------------------------------------------------------------------- helpers


def _public(signer: XmlSigner) -> XmlSigner:
    return replace(signer, private_key=None)


def _show(value: Any) -> str:
    """A non-secret value for a message, in TOML spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 64 else value[:60] + "...")
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _url_problem(value: Any) -> str | None:
    """Why ``value`` is not an http(s) callback URL (None when it is one)."""
    if not isinstance(value, str):
        return f"got {_show(value)}; allowed: an http:// or https:// URL"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "not a valid URL; allowed: an http:// or https:// URL with a host"
    if parts.scheme not in ("http", "https"):
        scheme = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        return f"{scheme}; allowed: an http:// or https:// URL"
    if not parts.hostname:
        return f"no host after {parts.scheme}://; allowed: an http:// or https:// URL with a host"
    return None


def _certificate_problem(
    signer: XmlSigner, eui: str, usage: KeyUsage | None, what: str
) -> str | None:
    """Why a certificate does not fit the user ``eui`` (None when it does)."""
    if signer.eui != eui:
        named = signer.eui or "no EUI"
        return f"the {what} names {named}, not the user's EUI {eui}"
    if usage is not None:
        usages = describe_certificate(signer.certificate).key_usages
        if usages is not None and usage not in usages:
            allowed = "/".join(sorted(u.value for u in usages)) or "nothing"
            return f"the {what} is certified for {allowed}, not {usage.value}"
    return None


def _key_matches(signer: XmlSigner, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return bool(key.public_key().public_bytes(enc, fmt) == signer.public_key.public_bytes(enc, fmt))


def _role_problem(value: Any) -> tuple[tuple[str, ...], str | None]:
    """The role codes of ``value`` (a code or an array of codes) and why not."""
    codes = [value] if isinstance(value, str) else value
    if not isinstance(codes, list) or not codes:
        return (), f"got {_show(value)}; allowed: a DUIS role code or an array of them"
    bad = [c for c in codes if not isinstance(c, str) or c not in USER_ROLES]
    if bad:
        return (), f"{_show(bad[0])} is not a DUIS role ({_ROLE_CODES})"
    if len(set(codes)) != len(codes):
        return (), "names a role twice"
    return tuple(codes), None


class _ConfigReader:
    """Reads one users TOML document, collecting every problem as ``key: message``."""

    def __init__(self, path: Path) -> None:
        self.base = path.parent
        self.lines: list[str] = []
        self.dsp: XmlSigner | None = None
        self.apikey: str | None = None

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{where}: {message}")

    def read(self, doc: Mapping[str, Any]) -> list[User]:
        for key in doc:
            if key not in _TOP_KEYS:
                self.add(key, unknown_key(key, _TOP_KEYS))
        self._dsp(self._table(doc, "dsp", _DSP_KEYS, required=True))
        self._smki(self._table(doc, "smki", _SMKI_KEYS, required=False))
        return self._users(doc.get("user"))

    def _table(
        self, doc: Mapping[str, Any], name: str, allowed: Sequence[str], *, required: bool
    ) -> Mapping[str, Any] | None:
        """``doc[name]`` with its keys checked; None when absent or not a table."""
        table = doc.get(name)
        if table is None:
            if required:
                self.add(f"[{name}]", "missing")
            return None
        if not isinstance(table, Mapping):
            self.add(name, f"must be a table ([{name}]), got {_show(table)}")
            return None
        for key in table:
            if key not in allowed:
                self.add(f"{name}.{key}", unknown_key(key, allowed))
        return table

    def _file(self, where: str, value: Any) -> Path | None:
        if value is None:
            self.add(where, "missing; allowed: a file path (relative to this file)")
            return None
        if not isinstance(value, str) or not value or "\x00" in value:
            self.add(where, f"got {_show(value)}; allowed: a file path (relative to this file)")
            return None
        return self.base / value

    def _certificate(self, where: str, value: Any) -> XmlSigner | None:
        path = self._file(where, value)
        if path is None:
            return None
        try:
            return load_certificate_file(path)
        except KeyLoadError as e:
            self.add(where, str(e))
            return None

    def _dsp(self, table: Mapping[str, Any] | None) -> None:
        if table is None:
            return
        cert = self._certificate("dsp.certificate", table.get("certificate"))
        key_path = self._file("dsp.key", table.get("key"))
        if key_path is None:
            return
        problem = secret_file_problem(key_path, "DSP's private key")
        if problem is not None:
            self.add("dsp.key", problem)
            return
        try:
            key = load_private_key_file(key_path)
        except KeyLoadError as e:
            self.add("dsp.key", str(e))
            return
        if cert is None:
            return
        if not _key_matches(cert, key):
            self.add("dsp.key", f"{key_path}: not the private key of dsp.certificate")
            return
        if cert.eui is None:
            self.add("dsp.certificate", "names no EUI (x500UniqueIdentifier); the DSP needs one")
            return
        self.dsp = replace(cert, private_key=key, sources=(*cert.sources, key_path))

    def _smki(self, table: Mapping[str, Any] | None) -> None:
        if table is None or "apikey" not in table:
            return
        value = table["apikey"]
        # The key is a secret: its value is never shown.
        if not isinstance(value, str) or not _APIKEY.fullmatch(value):
            self.add("smki.apikey", "must be 1 to 256 printable characters, no spaces")
            return
        self.apikey = value

    def _users(self, value: Any) -> list[User]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
            self.add("user", f"must be an array of tables ([[user]]), got {_show(value)}")
            return []
        users: list[User] = []
        seen: dict[str, str] = {}
        for i, table in enumerate(value, start=1):
            where = f"user[{i}]"
            eui, user = self._user(where, table)
            if eui is not None and eui in seen:
                self.add(
                    f"{where}.eui",
                    f"{eui} is already {seen[eui]}'s EUI; allowed: one [[user]] per EUI",
                )
                continue
            if eui is not None:
                seen[eui] = where
            if user is not None:
                users.append(user)
        return users

    def _user(self, where: str, table: Mapping[str, Any]) -> tuple[str | None, User | None]:
        """The user's EUI (when valid) and the user (when everything is)."""
        allowed = (*_USER_KEYS, *_OPTIONAL_USER_KEYS)
        for key in table:
            if key not in allowed:
                self.add(f"{where}.{key}", unknown_key(key, allowed))
        before = len(self.lines)
        eui = self._eui(f"{where}.eui", table.get("eui"))
        roles: tuple[str, ...] = ()
        if "role" not in table:
            self.add(f"{where}.role", f"missing; allowed: {_ROLE_CODES}")
        else:
            roles, problem = _role_problem(table["role"])
            if problem is not None:
                self.add(f"{where}.role", problem)
        if (problem := _url_problem(table.get("callback"))) is not None:
            self.add(f"{where}.callback", problem if "callback" in table else "missing")
        name = table.get("name")
        if name is not None and not isinstance(name, str):
            self.add(f"{where}.name", f"got {_show(name)}; allowed: a string")
        xml = self._user_certificate(where, "xml_certificate", table, eui, None, required=True)
        ds = self._user_certificate(where, "ds_certificate", table, eui, KeyUsage.DS)
        ka = self._user_certificate(where, "ka_certificate", table, eui, KeyUsage.KA)
        if len(self.lines) != before or eui is None or xml is None:
            return eui, None
        return eui, User(
            eui=eui,
            roles=roles,
            xml_signer=xml,
            callback=table["callback"],
            ds_certificate=ds.certificate if ds is not None else None,
            ka_certificate=ka.certificate if ka is not None else None,
            name=name,
        )

    def _eui(self, where: str, value: Any) -> str | None:
        if value is None:
            self.add(where, "missing; allowed: an EUI-64, e.g. '90-B3-D5-1F-30-01-00-00'")
            return None
        if isinstance(value, str):
            try:
                return normalise_eui(value)
            except ValueError:
                pass
        self.add(where, f"got {_show(value)}; allowed: an EUI-64 (16 hex digits, dashes allowed)")
        return None

    def _user_certificate(
        self,
        where: str,
        key: str,
        table: Mapping[str, Any],
        eui: str | None,
        usage: KeyUsage | None,
        *,
        required: bool = False,
    ) -> XmlSigner | None:
        if key not in table and not required:
            return None
        signer = self._certificate(f"{where}.{key}", table.get(key))
        if signer is None or eui is None:
            return None
        what = key.replace("_", " ")
        if (problem := _certificate_problem(signer, eui, usage, what)) is not None:
            self.add(f"{where}.{key}", problem)
            return None
        return signer


@dataclass(slots=True)
class _TestFile:
    prefix: str | None
    role: str | None
    eui: str
    kind: str
    path: Path


class _TestKeyLoader:
    """Builds users from a public test-key folder, collecting every problem."""

    def __init__(
        self,
        folder: Path,
        callback: str | Mapping[str, str],
        roles: Mapping[str, Sequence[str] | str] | None,
        dsp_kind: str,
    ) -> None:
        self.folder = folder
        self.dsp_kind = dsp_kind
        self.lines: list[str] = []
        self.dsp: XmlSigner | None = None
        self.roles = self._roles(roles or {})
        self._callbacks(callback)

    def add(self, message: str) -> None:
        self.lines.append(f"{self.folder}: {message}")

    def _roles(self, overrides: Mapping[str, Sequence[str] | str]) -> dict[str, tuple[str, ...]]:
        roles = dict(TEST_ORGANISATION_ROLES)
        self.named = tuple(overrides)
        for name, value in overrides.items():
            if not value:
                roles.pop(name, None)
                continue
            codes, problem = _role_problem([value] if isinstance(value, str) else list(value))
            if problem is not None:
                self.lines.append(f"roles[{name!r}]: {problem}")
            else:
                roles[name] = codes
        return roles

    def _files(self) -> list[_TestFile]:
        try:
            names = sorted(p.name for p in self.folder.iterdir())
        except OSError as e:
            self.add(f"not a readable key folder: {e.strerror or e}")
            return []
        out = []
        for name in names:
            m = _TEST_FILE.match(name)
            if m is not None:
                out.append(
                    _TestFile(
                        m["prefix"], m["role"], m["eui"].upper(), m["kind"], self.folder / name
                    )
                )
        return out

    def load(self, interop: Path | None) -> list[User]:
        before = len(self.lines)
        files = self._files()
        if len(self.lines) != before:
            return []
        self._load_dsp([f for f in files if f.prefix == "dsp"])
        orgs = [f for f in files if f.prefix == "user" and f.role is not None]
        known = sorted({f.role for f in orgs if f.role is not None})
        for name in self.named:
            if name not in known:
                self.lines.append(f"roles[{name!r}]: {unknown_key(name, known, 'organisation')}")
        users: list[User] = []
        for role_name in known:
            if role_name in self.roles:
                user = self._user(role_name, [f for f in orgs if f.role == role_name], interop)
                if user is not None:
                    users.append(user)
        return users

    def _load_dsp(self, files: list[_TestFile]) -> None:
        chosen = [f for f in files if f.kind == self.dsp_kind]
        if not files:
            self.add("no DSP certificate (dsp-<EUI>-<kind>.cert.pem)")
            return
        if not chosen:
            kinds = sorted({f.kind for f in files})
            self.add(f"dsp {self.dsp_kind!r}: {unknown_key(self.dsp_kind, kinds, 'DSP kind')}")
            return
        cert_path = chosen[0].path
        key_path = cert_path.with_name(cert_path.name.removesuffix(".cert.pem") + ".key.pem")
        try:
            cert = load_certificate_file(cert_path)
            key = load_private_key_file(key_path)
        except KeyLoadError as e:
            self.lines.append(str(e))
            return
        if not _key_matches(cert, key):
            self.lines.append(f"{key_path}: not the private key of {cert_path.name}")
            return
        self.dsp = replace(cert, private_key=key, sources=(cert_path, key_path))

    def _callbacks(self, callback: str | Mapping[str, str]) -> None:
        """Check ``callback`` once: one URL for all users, or one per EUI."""
        self.callback_all: str | None = None
        self.callback_by_eui: dict[str, str] = {}
        self.callback_per_user = not isinstance(callback, str)
        if isinstance(callback, str):
            if (problem := _url_problem(callback)) is not None:
                self.lines.append(f"callback: {problem}")
            else:
                self.callback_all = callback
            return
        for key, url in callback.items():
            try:
                eui = normalise_eui(key)
            except ValueError:
                self.lines.append(f"callback[{key!r}]: not an EUI-64")
                continue
            if (problem := _url_problem(url)) is not None:
                self.lines.append(f"callback[{key!r}]: {problem}")
                continue
            self.callback_by_eui[eui] = url

    def _callback(self, eui: str) -> str | None:
        if self.callback_all is not None:
            return self.callback_all
        url = self.callback_by_eui.get(eui)
        if url is None and self.callback_per_user:
            self.lines.append(f"callback: no URL for user {eui}")
        return url

    def _user(self, role_name: str, files: list[_TestFile], interop: Path | None) -> User | None:
        by_kind = {f.kind: f for f in files}
        chosen = next((by_kind[k] for k in _XML_KINDS if k in by_kind), None)
        if chosen is None:
            self.add(f"{role_name}: no xmlsign or ds certificate")
            return None
        before = len(self.lines)
        try:
            xml = load_certificate_file(chosen.path)
        except KeyLoadError as e:
            self.lines.append(str(e))
            return None
        if (problem := _certificate_problem(xml, chosen.eui, None, "certificate")) is not None:
            self.lines.append(f"{chosen.path}: {problem}")
        callback = self._callback(chosen.eui)
        ds = self._gbcs(interop, chosen.eui, KeyUsage.DS)
        ka = self._gbcs(interop, chosen.eui, KeyUsage.KA)
        if len(self.lines) != before or callback is None:
            return None
        return User(
            eui=chosen.eui,
            roles=self.roles[role_name],
            xml_signer=xml,
            callback=callback,
            ds_certificate=ds,
            ka_certificate=ka,
            name=role_name,
        )

    def _gbcs(self, interop: Path | None, eui: str, usage: KeyUsage) -> x509.Certificate | None:
        if interop is None:
            return None
        path = interop / f"{eui.lower()}-{usage.value}.pem"
        if not path.is_file():
            return None
        try:
            signer = load_certificate_file(path)
        except KeyLoadError as e:
            self.lines.append(str(e))
            return None
        what = f"{usage.value.upper()} certificate"
        if (problem := _certificate_problem(signer, eui, usage, what)) is not None:
            self.lines.append(f"{path}: {problem}")
            return None
        return signer.certificate
