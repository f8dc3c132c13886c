"""Site and fleet configuration (TOML via ``tomllib``), EUI allocation and device keys.

A site needs no file: :func:`default_site` is one premises with the RTDS EUIs. A TOML
file (see ``examples/site.toml``, documented field by field) overrides any of it. A fleet
is N copies of the site with EUIs allocated deterministically: site ``i`` gets
``base + 4 i + {0 ESME, 1 GSME, 2 CHF, 3 GPF}``.

Device key pairs are derived from the fleet's seed and the EUI (HKDF-SHA256 to a P-256
scalar), so 400,000 devices need no key storage and a restart gives each device the same
keys. This is test material, like the PKI the runtime generates: it secures nothing.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from devices.trust import OwnKeys
from keys.certs import as_eui, eui_hex
from keys.roles import RemotePartyRole

__all__ = [
    "DEVICE_OFFSETS",
    "ConfigError",
    "FleetConfig",
    "SiteConfig",
    "default_site",
    "derive_own_keys",
    "load_config",
]

DEVICE_OFFSETS = {"ESME": 0, "GSME": 1, "CHF": 2, "GPF": 3}
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


class ConfigError(ValueError):
    """A configuration file or value is wrong (names the field)."""


@dataclass(slots=True)
class SiteConfig:
    """One premises: its id, the four devices' EUIs and per-device options."""

    site_id: str = "site-0"
    euis: dict[str, bytes] = field(
        default_factory=lambda: {
            k: bytes.fromhex("00DB1234567890A0")[:7] + bytes([0xA0 + v])
            for k, v in DEVICE_OFFSETS.items()
        }
    )
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: tuple[str, ...] = ("ESME", "GSME", "CHF", "GPF")

    def eui(self, kind: str) -> bytes:
        return self.euis[kind]


@dataclass(slots=True)
class FleetConfig:
    """The whole emulator: a site template, how many sites, keys and parties."""

    site: SiteConfig = field(default_factory=SiteConfig)
    sites: int = 1
    base_eui: bytes = bytes.fromhex("00DB1234567890A0")
    seed: bytes = b"gbcs-emulator test fleet"
    parties: dict[RemotePartyRole, bytes] = field(default_factory=dict)

    def site_config(self, index: int) -> SiteConfig:
        """Site ``index`` of the fleet (site 0 keeps a configured site's EUIs)."""
        if index == 0 and self.sites == 1:
            return self.site
        base = int.from_bytes(self.base_eui, "big") + 4 * index
        euis = {k: (base + off).to_bytes(8, "big") for k, off in DEVICE_OFFSETS.items()}
        return SiteConfig(f"site-{index}", euis, self.site.options, self.site.devices)

    def site_of_eui(self, eui: bytes) -> int | None:
        """The fleet index of the site holding ``eui`` (None if outside the fleet)."""
        if self.sites == 1:
            return 0 if eui in self.site.euis.values() else None
        off = int.from_bytes(eui, "big") - int.from_bytes(self.base_eui, "big")
        if off < 0 or off >= 4 * self.sites:
            return None
        return off // 4


def default_site() -> SiteConfig:
    """One premises with the RTDS EUIs (ESME ...A0, GSME ...A1, CHF ...A2, GPF ...A3)."""
    return SiteConfig()


def derive_own_keys(seed: bytes, eui: bytes) -> OwnKeys:
    """Deterministic KA and DS key pairs for a device (test material)."""

    def key(label: bytes) -> ec.EllipticCurvePrivateKey:
        d = hashlib.sha256(b"gbcs-emu device key\x00" + seed + b"\x00" + label + eui).digest()
        scalar = int.from_bytes(d, "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    eui = as_eui(eui)
    return OwnKeys(eui, key(b"ka"), key(b"ds"))


def _eui_field(value: Any, where: str) -> bytes:
    try:
        return as_eui(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def load_config(path: Path | None, *, sites: int | None = None) -> FleetConfig:
    """The fleet configuration from a TOML file (or the defaults when ``path`` is None)."""
    doc: Mapping[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(Path(path).read_text())
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
    site = SiteConfig()
    s = doc.get("site", {})
    if not isinstance(s, Mapping):
        raise ConfigError("[site] must be a table")
    site.site_id = str(s.get("id", site.site_id))
    for kind in DEVICE_OFFSETS:
        dev = doc.get(kind.lower(), {})
        if not isinstance(dev, Mapping):
            raise ConfigError(f"[{kind.lower()}] must be a table")
        if "eui" in dev:
            site.euis[kind] = _eui_field(dev["eui"], f"{kind.lower()}.eui")
        opts = {k: v for k, v in dev.items() if k not in ("eui", "enabled")}
        if opts:
            site.options[kind] = dict(opts)
        if dev.get("enabled", True) is False:
            if kind == "CHF":
                raise ConfigError("chf.enabled: a site needs its Comms Hub")
            site.devices = tuple(d for d in site.devices if d != kind)
    fleet = FleetConfig(site=site)
    f = doc.get("fleet", {})
    if not isinstance(f, Mapping):
        raise ConfigError("[fleet] must be a table")
    fleet.sites = int(sites if sites is not None else f.get("sites", 1))
    if fleet.sites < 1:
        raise ConfigError("fleet.sites must be at least 1")
    if "base_eui" in f:
        fleet.base_eui = _eui_field(f["base_eui"], "fleet.base_eui")
    elif fleet.sites > 1:
        fleet.base_eui = bytes.fromhex("00DB120000000000")
    if "seed" in f:
        fleet.seed = str(f["seed"]).encode()
    parties = doc.get("parties", {})
    if not isinstance(parties, Mapping):
        raise ConfigError("[parties] must be a table")
    for name, value in parties.items():
        try:
            role = RemotePartyRole.parse(name)
        except ValueError as e:
            raise ConfigError(f"parties.{name}: {e}") from None
        fleet.parties[role] = _eui_field(value, f"parties.{name}")
    return fleet


def describe(cfg: FleetConfig) -> str:
    """One line for logs."""
    first = cfg.site_config(0)
    return f"{cfg.sites} site(s), site 0 ESME {eui_hex(first.eui('ESME'))}"
