"""SMKI remote-party roles and key usages.

The role number is what an organisation certificate carries in its subject
``organizationalUnitName``, written as two **hexadecimal** digits: ``OU=02`` is a supplier,
``OU=7F`` (127) an "other user" and ``OU=87`` (135) a DUIS XML-signing key, as seen in the
DCC Boxed key store. Roles 0..8 read the same in decimal and hex.
"""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum

__all__ = ["KeyUsage", "RemotePartyRole"]


class KeyUsage(StrEnum):
    """What a P-256 key pair is certified for: ECDH key agreement or ECDSA signing."""

    KA = "ka"
    DS = "ds"

    @property
    def human_name(self) -> str:
        """``"Key Agreement"`` or ``"Digital Signature"``."""
        return "Key Agreement" if self is KeyUsage.KA else "Digital Signature"

    @classmethod
    def parse(cls, text: str | KeyUsage) -> KeyUsage:
        """Parse ``ka``/``ds`` or a spelled-out form (``keyAgreement``, ``digital-signature``)."""
        if isinstance(text, KeyUsage):
            return text
        fast = _EXACT.get(text)
        if fast is not None:
            return fast
        norm = _normalise(text)
        found = _USAGE_NAMES.get(norm)
        if found is None:
            raise ValueError(f"unknown key usage {text!r} (expected 'ka' or 'ds')")
        return found


_EXACT: dict[str, KeyUsage] = {"ka": KeyUsage.KA, "ds": KeyUsage.DS}

_USAGE_NAMES = {
    "ka": KeyUsage.KA,
    "keyagreement": KeyUsage.KA,
    "ecdh": KeyUsage.KA,
    "ds": KeyUsage.DS,
    "digitalsignature": KeyUsage.DS,
    "signature": KeyUsage.DS,
    "ecdsa": KeyUsage.DS,
}


class RemotePartyRole(IntEnum):
    """SMKI remote-party role codes (certificate subject OU, DCC Boxed ``role`` field)."""

    ROOT = 0
    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_COS = 5
    WAN_PROVIDER = 6
    ISSUING_AUTHORITY = 7
    LOAD_CONTROLLER = 8
    OTHER = 127
    #: DUIS XML-signing key of a DCC user; never a GBCS remote party.
    XML_SIGN = 135
    #: DUIS XML-signing key of the DSP; never a GBCS remote party.
    DSP_XML_SIGN = 137

    @property
    def human_name(self) -> str:
        """Name for people, e.g. ``"Access Control Broker"``."""
        return _HUMAN[self]

    @property
    def cli_name(self) -> str:
        """Canonical command-line spelling, e.g. ``"access-control-broker"``."""
        return self.name.lower().replace("_", "-")

    @property
    def is_gbcs(self) -> bool:
        """False for the DUIS XML-signing roles (135, 137), which never appear on devices."""
        return self not in (RemotePartyRole.XML_SIGN, RemotePartyRole.DSP_XML_SIGN)

    @property
    def ou(self) -> str:
        """The certificate subject OU text for this role: two upper-case hex digits."""
        return f"{int(self):02X}"

    @classmethod
    def from_ou(cls, ou: str) -> RemotePartyRole | None:
        """Role named by a certificate subject OU (hex digits), or None when unknown."""
        text = ou.strip()
        if not 1 <= len(text) <= 2 or not all(c in "0123456789abcdefABCDEF" for c in text):
            return None
        try:
            return cls(int(text, 16))
        except ValueError:
            return None

    @classmethod
    def parse(cls, text: str | int) -> RemotePartyRole:
        """Parse a role as a user types it on a command line.

        Accepts the canonical names (``supplier``, ``network-operator``,
        ``access-control-broker``, ``transitional-cos``, ``wan-provider``, ``recovery``,
        ``load-controller``, ...), common abbreviations (``acb``, ``no``, ``dno``, ``tcos``,
        ``wp``, ``lc``), DCC Boxed camelCase names (``networkOperator``), any of those with
        ``_``/space separators, and the decimal role number (``2``, ``02``).
        Raises ``ValueError`` listing the accepted names otherwise.
        """
        if isinstance(text, int) and not isinstance(text, bool):
            try:
                return cls(text)
            except ValueError:
                raise ValueError(f"unknown remote-party role number {text}") from None
        if isinstance(text, cls):
            return text
        if not isinstance(text, str):
            raise ValueError(f"unknown remote-party role {text!r}")
        stripped = text.strip()
        if stripped.isdigit():
            return cls.parse(int(stripped))
        found = _ALIASES.get(_normalise(stripped))
        if found is None:
            names = ", ".join(r.cli_name for r in cls)
            raise ValueError(f"unknown remote-party role {text!r}; expected one of: {names}")
        return found


_HUMAN = {
    RemotePartyRole.ROOT: "Root",
    RemotePartyRole.RECOVERY: "Recovery",
    RemotePartyRole.SUPPLIER: "Supplier",
    RemotePartyRole.NETWORK_OPERATOR: "Network Operator",
    RemotePartyRole.ACCESS_CONTROL_BROKER: "Access Control Broker",
    RemotePartyRole.TRANSITIONAL_COS: "Transitional Change of Supplier",
    RemotePartyRole.WAN_PROVIDER: "WAN Provider",
    RemotePartyRole.ISSUING_AUTHORITY: "Issuing Authority",
    RemotePartyRole.LOAD_CONTROLLER: "Load Controller",
    RemotePartyRole.OTHER: "Other User",
    RemotePartyRole.XML_SIGN: "XML Signing (DUIS, not GBCS)",
    RemotePartyRole.DSP_XML_SIGN: "DSP XML Signing (DUIS, not GBCS)",
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _normalise(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def _aliases() -> dict[str, RemotePartyRole]:
    extra = {
        RemotePartyRole.ROOT: ("root", "rootca"),
        RemotePartyRole.RECOVERY: ("recovery", "rec"),
        RemotePartyRole.SUPPLIER: ("supplier", "sup"),
        RemotePartyRole.NETWORK_OPERATOR: ("networkoperator", "no", "dno", "netop"),
        RemotePartyRole.ACCESS_CONTROL_BROKER: ("accesscontrolbroker", "acb"),
        RemotePartyRole.TRANSITIONAL_COS: (
            "transitionalcos",
            "transitionalchangeofsupplier",
            "tcos",
            "transcos",
        ),
        RemotePartyRole.WAN_PROVIDER: ("wanprovider", "wp", "wan", "csp"),
        RemotePartyRole.ISSUING_AUTHORITY: ("issuingauthority", "ia"),
        RemotePartyRole.LOAD_CONTROLLER: ("loadcontroller", "lc"),
        RemotePartyRole.OTHER: ("other", "otheruser"),
        RemotePartyRole.XML_SIGN: ("xmlsign", "xmlsigning"),
        RemotePartyRole.DSP_XML_SIGN: ("dspxmlsign", "dspxmlsigning"),
    }
    out: dict[str, RemotePartyRole] = {}
    for role, names in extra.items():
        out[_normalise(role.name)] = role
        for n in names:
            out[n] = role
    return out


_ALIASES = _aliases()
