"""Building devices by type name from a key store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gbcs.errors import GbcsSecurityError
from keys.certs import as_eui
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

from .credentials import CertificateIssuer, CredentialState
from .device import Device, DeviceConfig
from .options import validate_options
from .trust import OwnKeys, TrustAnchors, default_anchor_roles

__all__ = ["DEVICE_TYPES", "create_device", "device_class", "own_keys_from"]


_CLASSES: dict[str, type[Device]] = {}
_NO_OPTIONS_VALID: set[str] = set()


def device_class(device_type: str) -> type[Device]:
    """The class emulating ``device_type`` (ESME, GSME, GPF, CHF; any case)."""
    cls = _CLASSES.get(device_type)
    if cls is None:
        cls = _import_class(device_type)
        if len(_CLASSES) < 64:  # a few spellings of four names
            _CLASSES[device_type] = cls
    return cls


def _import_class(device_type: str) -> type[Device]:
    name = device_type.upper()
    if name == "ESME":
        from .esme import Esme

        return Esme
    if name == "GSME":
        from .gsme import Gsme

        return Gsme
    if name == "GPF":
        from .gpf import Gpf

        return Gpf
    if name == "CHF":
        from .chf import Chf

        return Chf
    raise ValueError(f"unknown device type {device_type!r} (ESME, GSME, GPF or CHF)")


DEVICE_TYPES = ("ESME", "GSME", "GPF", "CHF")


def own_keys_from(store: KeyStore | None, eui: bytes) -> OwnKeys:
    """The device's key pairs: from the store where it holds them, else freshly generated.

    Each usage is taken separately, so a store with only the KA private key (as the
    public RTDS key set has for the test ESME) yields that KA key plus a new DS key.
    """
    fresh = OwnKeys.generate(eui)
    if store is None:
        return fresh
    ka = store.private_key(eui, KeyUsage.KA)
    ds = store.private_key(eui, KeyUsage.DS)
    return OwnKeys(eui, ka or fresh.ka, ds or fresh.ds)


def create_device(
    device_type: str,
    eui: bytes | str,
    store: KeyStore,
    *,
    own: OwnKeys | None = None,
    parties: Mapping[RemotePartyRole, bytes] | None = None,
    now: datetime | None = None,
    certificates: CertificateIssuer | None = None,
    **config: Any,
) -> Device:
    """A fresh device of ``device_type`` trusting the organisations in ``store``.

    ``config`` goes to :class:`DeviceConfig` (``options=`` for behaviour settings, checked
    against :data:`devices.options.OPTIONS`: an unknown key, a wrong type or an
    out-of-range value raises :class:`~devices.options.OptionsError`, a ``ValueError``
    listing every problem). ``certificates`` issues the device's own certificates that
    ``store`` does not hold, lazily (when CS02e first asks for one).
    """
    cls = device_class(device_type)
    if "options" in config:
        opts, kind = config["options"], cls.device_type.value
        # No options is valid or not alike for every device of a kind: checked once.
        if not (type(opts) is dict and not opts and kind in _NO_OPTIONS_VALID):
            validate_options(kind, opts)
            if type(opts) is dict and not opts:
                _NO_OPTIONS_VALID.add(kind)
    eui_b = as_eui(eui)
    own = own or own_keys_from(store, eui_b)
    if own.eui != eui_b:
        raise GbcsSecurityError("own keys belong to another EUI")
    anchors = TrustAnchors.from_store(store, default_anchor_roles(cls.device_type.value), parties)
    device = cls(DeviceConfig(eui_b, **config), own, anchors, now=now)
    device.credentials = CredentialState.from_store(store, eui_b, anchors)
    device.credentials.issuer = certificates
    return device
