"""Key material and trust: key stores, remote-party roles and a test-PKI generator.

* :mod:`keys.roles` - :class:`RemotePartyRole` (certificate OU codes) and :class:`KeyUsage`.
* :mod:`keys.store` - :class:`KeyStore` over ``<eui>[-pp]-<ka|ds>.<pem|key>`` directories.
* :mod:`keys.certs` - EUI-64 normalisation and SMKI certificate field helpers.
* :mod:`keys.pki` - :func:`init_pki`, a throw-away CA + organisation + device PKI.
"""

from keys.certs import CertificateInfo, as_eui, describe_certificate, eui_hex, issued_by
from keys.pki import (
    DEFAULT_ORGANISATION_EUIS,
    GBCS_ORGANISATION_ROLES,
    CertificateAuthorities,
    IssuedKey,
    PkiSummary,
    add_devices,
    create_authorities,
    init_pki,
    issue_device_keys,
    issue_organisation_keys,
    load_authorities,
)
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyEntry, KeyStore, LoadWarning, build_entry, key_file_name

__all__ = [
    "DEFAULT_ORGANISATION_EUIS",
    "GBCS_ORGANISATION_ROLES",
    "CertificateAuthorities",
    "CertificateInfo",
    "IssuedKey",
    "KeyEntry",
    "KeyStore",
    "KeyUsage",
    "LoadWarning",
    "PkiSummary",
    "RemotePartyRole",
    "add_devices",
    "as_eui",
    "build_entry",
    "create_authorities",
    "describe_certificate",
    "eui_hex",
    "init_pki",
    "issue_device_keys",
    "issue_organisation_keys",
    "issued_by",
    "key_file_name",
    "load_authorities",
]
