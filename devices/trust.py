"""Trust-anchor cells and the key provider a device works with.

A device holds, per remote-party role it trusts, one cell: the organisation's EUI and its
KA and DS public keys (certificates in a real device). Only those cells authorise
commands: an originator whose EUI is in no cell is an unknown party. The cells are state
(credential-replacement commands change them), so they serialise as DER public keys.

:class:`DeviceKeys` is the :class:`gbcs.security.KeyProvider` the device's security
pipeline uses: its own private keys plus the anchors' public keys and nothing else, so a
key that is not in a cell can never verify anything.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.errors import GbcsSecurityError
from keys.certs import as_eui, eui_hex
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

__all__ = [
    "ANCHOR_ROLES",
    "AnchorCell",
    "DeviceKeys",
    "OwnKeys",
    "TrustAnchors",
    "default_anchor_roles",
]

R = RemotePartyRole

ANCHOR_ROLES: dict[str, tuple[RemotePartyRole, ...]] = {
    # [REC] domain-rules §3.2 "trust anchors per device"; Load Controller for APC ESMEs.
    "ESME": (
        R.ROOT,
        R.RECOVERY,
        R.SUPPLIER,
        R.NETWORK_OPERATOR,
        R.ACCESS_CONTROL_BROKER,
        R.TRANSITIONAL_COS,
        R.WAN_PROVIDER,
        R.LOAD_CONTROLLER,
    ),
    "GSME": (
        R.ROOT,
        R.RECOVERY,
        R.SUPPLIER,
        R.NETWORK_OPERATOR,
        R.ACCESS_CONTROL_BROKER,
        R.TRANSITIONAL_COS,
        R.WAN_PROVIDER,
    ),
    "GPF": (
        R.ROOT,
        R.RECOVERY,
        R.SUPPLIER,
        R.NETWORK_OPERATOR,
        R.ACCESS_CONTROL_BROKER,
        R.TRANSITIONAL_COS,
        R.WAN_PROVIDER,
    ),
    # CHF: DCC roles only (SEC DP087: CHF/GPF security is DCC's responsibility).
    "CHF": (R.ROOT, R.RECOVERY, R.ACCESS_CONTROL_BROKER, R.WAN_PROVIDER),
}


def default_anchor_roles(device_type: str) -> tuple[RemotePartyRole, ...]:
    """The trust-anchor cells a device type holds (configurable per device)."""
    return ANCHOR_ROLES[device_type]


#: DER hex of public keys by object id; the entry keeps its key alive, so an id is never
#: reused while cached. Keys are immutable and few (organisations' keys, shared by every
#: device through :func:`_load`), so each is serialised once per process.
_DER_CACHE: dict[int, tuple[ec.EllipticCurvePublicKey, str]] = {}
_DER_CACHE_LIMIT = 4096


def _der(key: ec.EllipticCurvePublicKey) -> str:
    hit = _DER_CACHE.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    text = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ).hex()
    if len(_DER_CACHE) >= _DER_CACHE_LIMIT:
        _DER_CACHE.clear()
    _DER_CACHE[id(key)] = (key, text)
    return text


def _load(hexder: str | None) -> ec.EllipticCurvePublicKey | None:
    if hexder is None:
        return None
    return _load_cached(hexder)


@functools.lru_cache(maxsize=1024)
def _load_cached(hexder: str) -> ec.EllipticCurvePublicKey:
    # One key object per DER text and process: every device's cells share it.
    key = serialization.load_der_public_key(bytes.fromhex(hexder))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise GbcsSecurityError("trust anchor is not an EC key")
    return key


@dataclass(slots=True)
class AnchorCell:
    """One trust-anchor cell: who holds the role, with their KA and DS public keys."""

    role: RemotePartyRole
    eui: bytes
    ka: ec.EllipticCurvePublicKey | None = None
    ds: ec.EllipticCurvePublicKey | None = None
    #: The last :meth:`to_dict` and what it was made from (fields may be reassigned).
    _saved: tuple[Any, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def key(self, usage: KeyUsage) -> ec.EllipticCurvePublicKey | None:
        return self.ka if usage is KeyUsage.KA else self.ds

    def to_dict(self) -> dict[str, Any]:
        saved = self._saved
        if (
            saved is not None
            and saved[0] is self.role
            and saved[1] == self.eui
            and saved[2] is self.ka
            and saved[3] is self.ds
        ):
            return dict(saved[4])
        doc = {
            "role": int(self.role),
            "eui": eui_hex(self.eui),
            "ka": None if self.ka is None else _der(self.ka),
            "ds": None if self.ds is None else _der(self.ds),
        }
        self._saved = (self.role, self.eui, self.ka, self.ds, doc)
        return dict(doc)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AnchorCell:
        return cls(
            RemotePartyRole(int(d["role"])), as_eui(d["eui"]), _load(d["ka"]), _load(d["ds"])
        )


@dataclass(slots=True)
class TrustAnchors:
    """The device's cells, one per role."""

    cells: dict[RemotePartyRole, AnchorCell] = field(default_factory=dict)

    @classmethod
    def from_store(
        cls,
        store: KeyStore,
        roles: Iterable[RemotePartyRole],
        parties: Mapping[RemotePartyRole, bytes] | None = None,
    ) -> TrustAnchors:
        """Fill the cells for ``roles`` from a key store.

        ``parties`` names the organisation EUI per role; without it the store must hold
        exactly one organisation certificate of that role (otherwise the choice would be
        arbitrary, so it raises). Roles with no organisation in the store stay empty.

        The look-up is cached per store (until the store changes): hydrating many
        devices against one store scans it once.
        """
        roles = tuple(roles)
        generation = getattr(store, "generation", None)
        key = (roles, tuple(sorted((int(r), repr(e)) for r, e in (parties or {}).items())))
        per_store = None
        if generation is not None:
            per_store = _ANCHOR_CACHE.setdefault(store, {})
            hit = per_store.get(key)
            if hit is not None and hit[0] == generation:
                return cls({r: AnchorCell(c.role, c.eui, c.ka, c.ds) for r, c in hit[1].items()})
        found = cls._scan(store, roles, parties)
        if per_store is not None:
            if len(per_store) > 64:
                per_store.clear()
            per_store[key] = (generation, found.cells)
            return cls({r: AnchorCell(c.role, c.eui, c.ka, c.ds) for r, c in found.cells.items()})
        return found

    @classmethod
    def _scan(
        cls,
        store: KeyStore,
        roles: Iterable[RemotePartyRole],
        parties: Mapping[RemotePartyRole, bytes] | None,
    ) -> TrustAnchors:
        parties = dict(parties or {})
        cells: dict[RemotePartyRole, AnchorCell] = {}
        for role in roles:
            eui = parties.get(role)
            if eui is None:
                candidates = sorted({e.eui for e in store.by_role(role)})
                if not candidates:
                    continue
                if len(candidates) > 1:
                    names = ", ".join(eui_hex(c) for c in candidates)
                    raise GbcsSecurityError(
                        f"several {role.human_name} organisations in the key store ({names});"
                        " name the one this device trusts"
                    )
                eui = candidates[0]
            eui = as_eui(eui)
            cells[role] = AnchorCell(
                role, eui, store.public_key(eui, KeyUsage.KA), store.public_key(eui, KeyUsage.DS)
            )
        return cls(cells)

    def role_of(self, eui: bytes) -> RemotePartyRole | None:
        """The role whose cell holds ``eui`` (the highest-privilege match first)."""
        for cell in self.cells.values():
            if cell.eui == eui:
                return cell.role
        return None

    def roles_of(self, eui: bytes) -> tuple[RemotePartyRole, ...]:
        """Every role whose cell holds ``eui`` (one organisation may hold several)."""
        return tuple(c.role for c in self.cells.values() if c.eui == eui)

    def cell(self, role: RemotePartyRole) -> AnchorCell | None:
        return self.cells.get(role)

    def eui(self, role: RemotePartyRole) -> bytes | None:
        c = self.cells.get(role)
        return None if c is None else c.eui

    def public_key(self, eui: bytes, usage: KeyUsage) -> ec.EllipticCurvePublicKey | None:
        for c in self.cells.values():
            if c.eui == eui:
                k = c.key(usage)
                if k is not None:
                    return k
        return None

    def replace(self, cell: AnchorCell) -> None:
        """Install a cell (credential replacement)."""
        self.cells[cell.role] = cell

    def copy(self) -> TrustAnchors:
        """An independent copy (cells are copied: credential replacement reassigns their
        fields; the keys themselves are immutable)."""
        return TrustAnchors(
            {r: AnchorCell(c.role, c.eui, c.ka, c.ds) for r, c in self.cells.items()}
        )

    def to_dict(self) -> list[dict[str, Any]]:
        return [c.to_dict() for _, c in sorted(self.cells.items())]

    @classmethod
    def from_dict(cls, d: Iterable[Mapping[str, Any]]) -> TrustAnchors:
        cells = [AnchorCell.from_dict(x) for x in d]
        return cls({c.role: c for c in cells})


_ANCHOR_CACHE: weakref.WeakKeyDictionary[
    KeyStore, dict[Any, tuple[int, dict[RemotePartyRole, AnchorCell]]]
] = weakref.WeakKeyDictionary()
"""Per key store: the anchors :meth:`TrustAnchors.from_store` found, with the store's
generation they were found at."""


@dataclass(frozen=True, slots=True)
class OwnKeys:
    """The device's own key pairs (never serialised into state)."""

    eui: bytes
    ka: ec.EllipticCurvePrivateKey
    ds: ec.EllipticCurvePrivateKey

    @classmethod
    def from_store(cls, store: KeyStore, eui: bytes) -> OwnKeys:
        """The device's KA and DS private keys from a store (raises if missing)."""
        eui = as_eui(eui)
        return cls(
            eui,
            store.require_private_key(eui, KeyUsage.KA),
            store.require_private_key(eui, KeyUsage.DS),
        )

    @classmethod
    def generate(cls, eui: bytes) -> OwnKeys:
        """Fresh random key pairs (a device nobody has certified yet)."""
        return cls(
            as_eui(eui),
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )


_SECRETS_LIMIT = 32
"""ECDH secrets a device's keys remember (its parties' KA keys; a handful in practice)."""


class DeviceKeys:
    """KeyProvider: own private keys, own public keys, anchor public keys, nothing else.

    ``extra`` holds per-message public keys a command brought with it (an unknown remote
    party's KA certificate, used only to encrypt the response to that party).
    """

    def __init__(
        self,
        own: OwnKeys,
        anchors: TrustAnchors,
        extra: Mapping[bytes, ec.EllipticCurvePublicKey] | None = None,
    ) -> None:
        self.own = own
        self.anchors = anchors
        self.extra = dict(extra or {})
        # filled on first use: the own keys may be built lazily (DerivedOwnKeys)
        self._own_pub: dict[KeyUsage, ec.EllipticCurvePublicKey] = {}
        self._secrets: dict[tuple[int, int], tuple[object, object, bytes]] = {}

    def with_extra(self, eui: bytes, ka: ec.EllipticCurvePublicKey) -> DeviceKeys:
        """A copy that also knows ``eui``'s KA public key."""
        out = DeviceKeys(self.own, self.anchors, {**self.extra, as_eui(eui): ka})
        out._own_pub = self._own_pub  # same own keys: share what was computed
        out._secrets = self._secrets  # entries are checked against the keys in use
        return out

    def ecdh_secret(self, a: bytes, b: bytes) -> bytes | None:
        """The ECDH secret Z between ``a``'s and ``b``'s KA keys, or None without a pair.

        Same choice as :mod:`gbcs.security` makes from ``private_key``/``public_key``
        (``a``'s private key first, then ``b``'s), but Z is remembered per pair of key
        *objects* that are in use right now: a cell replaced or reassigned in place finds
        no entry for its new key, so a stale secret is never used. Each entry holds its
        two keys, so their ids cannot be reused while it is listed.
        """
        own = self.own
        for mine, theirs in ((a, b), (b, a)):
            if mine != own.eui:
                continue
            priv = own.ka
            pub = self._ka_public(theirs)
            if pub is None:
                continue
            ck = (id(priv), id(pub))
            hit = self._secrets.get(ck)
            if hit is not None and hit[0] is priv and hit[1] is pub:
                return hit[2]
            from gbcs.crypto.kdf import shared_secret  # loads cryptography's ECDH once

            z = shared_secret(priv, pub)
            if len(self._secrets) >= _SECRETS_LIMIT:
                self._secrets.clear()
            self._secrets[ck] = (priv, pub, z)
            return z
        return None

    def _ka_public(self, eui: bytes) -> ec.EllipticCurvePublicKey | None:
        """``public_key(eui, KeyUsage.KA)`` without parsing the usage (the ECDH path)."""
        if eui == self.own.eui:
            return self.public_key(eui, KeyUsage.KA)
        extra = self.extra.get(eui)
        if extra is not None:
            return extra
        for c in self.anchors.cells.values():
            if c.eui == eui and c.ka is not None:
                return c.ka
        return None

    def public_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePublicKey | None:
        u = KeyUsage.parse(usage)
        if eui == self.own.eui:
            pub = self._own_pub.get(u)
            if pub is None:
                key = self.own.ka if u is KeyUsage.KA else self.own.ds
                pub = self._own_pub[u] = key.public_key()
            return pub
        if u is KeyUsage.KA and eui in self.extra:
            return self.extra[eui]
        return self.anchors.public_key(eui, u)

    def private_key(self, eui: bytes, usage: str) -> ec.EllipticCurvePrivateKey | None:
        if eui != self.own.eui:
            return None
        return self.own.ka if KeyUsage.parse(usage) is KeyUsage.KA else self.own.ds
