"""Site and fleet configuration (TOML via ``tomllib``), EUI allocation and device keys.

A site needs no file: :func:`default_site` is one premises with the RTDS EUIs. A TOML
file (see ``examples/site.toml``, documented field by field) overrides any of it. A fleet
is N copies of the site with EUIs allocated deterministically: site ``i`` gets
``base + 4 i + {0 ESME, 1 GSME, 2 CHF, 3 GPF}``.

Device key pairs are derived from the fleet's seed and the EUI (SHA-256 to a P-256
scalar), so 400,000 devices need no key storage and a restart gives each device the same
keys; each pair is built on first use (:class:`DerivedOwnKeys`), so hydrating a site
costs no EC arithmetic. This is test material, like the PKI the runtime generates: it
secures nothing.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from devices.options import check_options, unknown_key
from devices.trust import ANCHOR_ROLES, OwnKeys
from keys.certs import as_eui, eui_hex
from keys.roles import RemotePartyRole

__all__ = [
    "DEVICE_OFFSETS",
    "MAX_SITES",
    "ConfigError",
    "DerivedOwnKeys",
    "FleetConfig",
    "SiteConfig",
    "default_site",
    "derive_own_keys",
    "derive_private_scalar",
    "load_config",
]

DEVICE_OFFSETS = {"ESME": 0, "GSME": 1, "CHF": 2, "GPF": 3}
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


class ConfigError(ValueError):
    """A configuration file or value is wrong.

    The message has one line per problem, each naming the file, the ``[table] key`` and
    what is allowed.
    """


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
    # None: the state directory's own random seed (see emulator.runtime.statedir); set
    # it only for a reproducible fleet, knowing that the seed gives away every device key
    seed: bytes | None = None
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


def derive_private_scalar(seed: bytes, label: bytes, eui: bytes) -> int:
    """The P-256 private scalar of a device key: SHA-256 over the seed, the usage label
    (``b"ka"`` or ``b"ds"``) and the EUI, reduced into ``[1, n - 1]``."""
    d = hashlib.sha256(b"gbcs-emu device key\x00" + seed + b"\x00" + label + eui).digest()
    return int.from_bytes(d, "big") % (_P256_ORDER - 1) + 1


class DerivedOwnKeys(OwnKeys):
    """:class:`OwnKeys` derived from the fleet seed, each key pair built on first use.

    Building an EC key computes its public point (a scalar multiplication); a hydrated
    site needs none of its eight keys until a command reaches one of its devices, so the
    derivation waits until ``ka`` or ``ds`` is first read. The keys are those
    :func:`derive_own_keys` always gave: the scalar depends only on the seed, the label
    and the EUI.
    """

    __slots__ = ("_ds", "_ka", "_seed")

    _seed: bytes
    _ka: ec.EllipticCurvePrivateKey | None
    _ds: ec.EllipticCurvePrivateKey | None

    def __init__(self, eui: bytes, seed: bytes) -> None:
        # OwnKeys is frozen: set the slots the way its own __init__ does.
        object.__setattr__(self, "eui", eui)
        object.__setattr__(self, "_seed", seed)
        object.__setattr__(self, "_ka", None)
        object.__setattr__(self, "_ds", None)

    @property
    def ka(self) -> ec.EllipticCurvePrivateKey:
        """The key-agreement private key."""
        if self._ka is None:
            object.__setattr__(self, "_ka", self._derive(b"ka"))
        assert self._ka is not None
        return self._ka

    @property
    def ds(self) -> ec.EllipticCurvePrivateKey:
        """The digital-signing private key."""
        if self._ds is None:
            object.__setattr__(self, "_ds", self._derive(b"ds"))
        assert self._ds is not None
        return self._ds

    @property
    def derived(self) -> tuple[bool, bool]:
        """Whether the KA and the DS key pair have been built yet."""
        return self._ka is not None, self._ds is not None

    def _derive(self, label: bytes) -> ec.EllipticCurvePrivateKey:
        scalar = derive_private_scalar(self._seed, label, self.eui)
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def __reduce__(self) -> tuple[type[DerivedOwnKeys], tuple[bytes, bytes]]:
        return DerivedOwnKeys, (self.eui, self._seed)

    def __repr__(self) -> str:
        return f"DerivedOwnKeys(eui={eui_hex(self.eui).upper()})"


def derive_own_keys(seed: bytes | None, eui: bytes) -> OwnKeys:
    """Deterministic KA and DS key pairs for a device (test material), built when first
    used (see :class:`DerivedOwnKeys`)."""
    if seed is None:
        raise ValueError("the fleet seed is not resolved (open the state directory first)")
    return DerivedOwnKeys(as_eui(eui), bytes(seed))


MAX_SITES = 10_000_000
"""Largest fleet a configuration may ask for (``fleet.sites`` and ``--sites``)."""

_DEVICE_KEYS = ("eui", "enabled")
_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "site": ("id",),
    **{kind.lower(): _DEVICE_KEYS for kind in DEVICE_OFFSETS},
    "fleet": ("sites", "base_eui", "seed"),
    "parties": (),  # role names, checked against the trust-anchor roles
}
_SITE_ID = re.compile(r"[^\s/+#]{1,64}")
_SITE_ID_ALLOWED = "1 to 64 characters without spaces, '/', '+' or '#' (an MQTT topic level)"
_EUI_ALLOWED = 'an EUI-64 as a string of 16 hex digits, e.g. "00DB1234567890A0"'
_PARTY_ROLES = tuple(
    sorted({r for roles in ANCHOR_ROLES.values() for r in roles}, key=int)
)  # every role some device holds a trust anchor for


def _party_names() -> tuple[str, ...]:
    return tuple(r.cli_name for r in _PARTY_ROLES)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"{json.dumps(v)} (a string)"
    if isinstance(v, Mapping):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return repr(v)


class _Errors:
    """Collects every problem of one file: ``[table] key: message`` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, table: str, key: str | None, message: str) -> None:
        where = f"[{table}] {key}" if key else f"[{table}]"
        self.lines.append(f"{where}: {message}")

    def eui(self, table: str, key: str, value: Any) -> bytes | None:
        """``value`` as an EUI-64, or None after recording why it is not one."""
        if isinstance(value, str):
            try:
                return as_eui(value)
            except ValueError:
                pass
        shown = json.dumps(value) if isinstance(value, str) else _show(value)
        self.add(table, key, f"got {shown}; allowed: {_EUI_ALLOWED}")
        return None

    def table(self, doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        """``doc[name]`` when it is a table with known keys (problems recorded)."""
        t = doc.get(name, {})
        if not isinstance(t, Mapping):
            self.add(name, None, f"must be a table, got {_show(t)}")
            return {}
        allowed = _TABLE_KEYS[name]
        if name in ("site", "fleet"):
            for key in t:
                if key not in allowed:
                    self.add(name, str(key), unknown_key(str(key), allowed))
        return t


def _site_count(value: Any) -> str | None:
    """Why ``value`` is not a valid number of sites (None when it is)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SITES:
        return f"got {_show(value)}; allowed: an integer from 1 to {MAX_SITES}"
    return None


def load_config(path: Path | None, *, sites: int | None = None) -> FleetConfig:
    """The fleet configuration from a TOML file (or the defaults when ``path`` is None).

    The file is validated in full before anything is built: every table and key, value
    types and ranges, nested tables (load profiles, the gas display) and the device
    options against :data:`devices.options.OPTIONS`. A :class:`ConfigError` lists every
    problem, one line each, naming the file, the ``[table] key`` and what is allowed;
    unknown keys get the closest valid key suggested.
    """
    if sites is not None and (reason := _site_count(sites)) is not None:
        raise ConfigError(f"sites: {reason}")
    doc: Mapping[str, Any] = {}
    if path is not None:
        try:
            doc = tomllib.loads(Path(path).read_text())
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a UTF-8 text file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
    errors = _Errors()
    for name, value in doc.items():
        if name not in _TABLE_KEYS:
            is_table = isinstance(value, Mapping)
            tables = [f"[{t}]" for t in _TABLE_KEYS]
            close = difflib.get_close_matches(name, list(_TABLE_KEYS), n=1, cutoff=0.6)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            where, what = (f"[{name}]", "table") if is_table else (name, "top-level key")
            errors.lines.append(f"{where}: unknown {what}{hint} (allowed: {', '.join(tables)})")
    site = SiteConfig()
    s = errors.table(doc, "site")
    if "id" in s:
        if isinstance(s["id"], str) and _SITE_ID.fullmatch(s["id"]):
            site.site_id = s["id"]
        else:
            errors.add("site", "id", f"got {_show(s['id'])}; allowed: {_SITE_ID_ALLOWED}")
    owners: dict[bytes, str] = {}
    for kind in DEVICE_OFFSETS:
        table = kind.lower()
        dev = errors.table(doc, table)
        if "eui" in dev and (eui := errors.eui(table, "eui", dev["eui"])) is not None:
            site.euis[kind] = eui
        for problem in check_options(kind, dev, toml=True, also_allowed=_DEVICE_KEYS):
            errors.add(table, problem.key, problem.message)
        opts = {k: v for k, v in dev.items() if k not in _DEVICE_KEYS}
        if opts:
            site.options[kind] = dict(opts)
        enabled = dev.get("enabled", True)
        if not isinstance(enabled, bool):
            errors.add(table, "enabled", f"got {_show(enabled)}; allowed: true or false")
        elif not enabled:
            if kind == "CHF":
                errors.add(table, "enabled", "a site needs its Comms Hub; allowed: true")
            site.devices = tuple(d for d in site.devices if d != kind)
    for kind in site.devices:
        other = owners.setdefault(site.euis[kind], kind)
        if other != kind:
            errors.add(
                kind.lower(),
                "eui",
                f"{site.euis[kind].hex().upper()} is already the {other}'s EUI;"
                " allowed: a different EUI for each device",
            )
    fleet = FleetConfig(site=site)
    f = errors.table(doc, "fleet")
    if "sites" in f:
        if (reason := _site_count(f["sites"])) is None:
            fleet.sites = f["sites"]
        else:
            errors.add("fleet", "sites", reason)
    if sites is not None:
        fleet.sites = sites
    if "base_eui" in f:
        if (base := errors.eui("fleet", "base_eui", f["base_eui"])) is not None:
            fleet.base_eui = base
    elif fleet.sites > 1:
        fleet.base_eui = bytes.fromhex("00DB120000000000")
    last = int.from_bytes(fleet.base_eui, "big") + 4 * fleet.sites - 1
    if last >= 1 << 64:
        errors.add(
            "fleet",
            "base_eui",
            f"{fleet.base_eui.hex().upper()} leaves no room for {fleet.sites} sites (4 EUIs each);"
            " allowed: a base EUI at most FFFFFFFFFFFFFFFF - 4 x sites + 1",
        )
    if "seed" in f:
        fleet.seed = str(f["seed"]).encode()
    parties = errors.table(doc, "parties")
    named: dict[RemotePartyRole, str] = {}
    allowed_roles = ", ".join(_party_names())
    for name, value in parties.items():
        try:
            role = RemotePartyRole.parse(name)
        except ValueError:
            errors.add("parties", name, unknown_key(name, _party_names(), "role"))
            continue
        if role not in _PARTY_ROLES:
            errors.add(
                "parties",
                name,
                f"{role.human_name} is not a trust-anchor role of any device;"
                f" allowed: {allowed_roles}",
            )
            continue
        if role in named:
            errors.add(
                "parties",
                name,
                f"names the same role as {named[role]} ({role.cli_name}); allowed: one entry per"
                " role",
            )
            continue
        named[role] = name
        if (eui := errors.eui("parties", name, value)) is not None:
            fleet.parties[role] = eui
    if errors.lines:
        where = path if path is not None else "configuration"
        raise ConfigError("\n".join(f"{where}: {line}" for line in errors.lines))
    return fleet


def describe(cfg: FleetConfig) -> str:
    """One line for logs."""
    first = cfg.site_config(0)
    return f"{cfg.sites} site(s), site 0 ESME {eui_hex(first.eui('ESME'))}"
