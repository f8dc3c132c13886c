"""A fleet definition: what several emulator hosts and a head-end share to act as one fleet.

``gbcs-emu fleet init DIR`` writes a folder (mode 0700) holding:

- ``fleet.toml`` (0644, public): the fleet's random id (``[definition]``), then the
  device configuration exactly as a ``run --config`` file holds it (``[fleet] sites``
  and ``base_eui``, ``[site]``, ``[esme]`` ... ``[parties]``), never the seed;
- ``seed`` (0600): the fleet seed in hex, from which every device key derives (random,
  or the value of an environment variable named at ``init``);
- ``pki/`` (0700): the organisations' test PKI and the device CA, as
  :func:`~.pki.ensure_pki` makes it (private keys 0600).

A host imports the definition into its state directory on first start
(:func:`bind_state`): the PKI is *copied* into ``<state>/pki`` (so a state directory
stays self-contained, as its backups and the state tools expect, and a moved or
unmounted definition cannot take a running host's keys away), ``state.json`` takes the
fleet seed, ``fleet-config.toml`` the device configuration, and ``fleet.json`` records
the fleet id: a state directory of another fleet, or one made without a fleet, is
refused. A head-end needs nothing but the definition: :meth:`FleetDefinition.head_end_keys`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from keys.certs import as_eui
from keys.pki import init_pki, load_authorities
from keys.roles import KeyUsage
from keys.store import EuiLike, KeyEntry, KeyStore, build_entry

from .config import DEVICE_OFFSETS, ConfigError, FleetConfig, derive_own_keys, load_config
from .statedir import (
    StateDamaged,
    StateError,
    load_info,
    private_write,
    secret_file_problem,
    seed_digest,
)

__all__ = [
    "BINDING_NAME",
    "CONFIG_NAME",
    "FleetDefinition",
    "FleetDefinitionError",
    "FleetKeyStore",
    "bind_state",
    "bound_fleet",
    "config_document",
    "to_toml",
]

FORMAT = 1
DEFINITION_NAME = "fleet.toml"
SEED_NAME = "seed"
PKI_NAME = "pki"
BINDING_NAME = "fleet.json"
"""In a state directory: the fleet it was imported from (id, definition path)."""
CONFIG_NAME = "fleet-config.toml"
"""In a state directory: the definition's device configuration, as the workers load it."""
MAX_SEED_BYTES = 1024
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class FleetDefinitionError(StateError):
    """A fleet definition cannot be written, read or used; the message names the file."""


# ------------------------------------------------------------------------------ TOML


def _toml_value(v: Any, where: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, datetime | date | dtime):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x, where) for x in v) + "]"
    if isinstance(v, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(x, where)}" for k, x in v.items())
        return "{ " + inner + " }" if inner else "{}"
    raise ConfigError(f"{where}: {type(v).__name__} cannot be written as TOML")


def _toml_key(k: Any) -> str:
    k = str(k)
    return k if _BARE_KEY.fullmatch(k) else json.dumps(k, ensure_ascii=False)


def to_toml(doc: Mapping[str, Mapping[str, Any]]) -> str:
    """``doc`` (tables of values) as TOML text that ``tomllib`` reads back equal.

    Each top-level table is a ``[table]`` header; nested tables and arrays are written
    inline. Raises :class:`ConfigError` for a value TOML cannot hold.
    """
    lines: list[str] = []
    for name, table in doc.items():
        if lines:
            lines.append("")
        lines.append(f"[{_toml_key(name)}]")
        for key, value in table.items():
            lines.append(f"{_toml_key(key)} = {_toml_value(value, f'[{name}] {key}')}")
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != _plain(doc):
        raise ConfigError("the configuration does not survive a TOML round trip")
    return text


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def config_document(config: FleetConfig) -> dict[str, dict[str, Any]]:
    """The device configuration of ``config`` as the tables of a ``run --config`` file
    (without ``[fleet] seed``): ``load_config`` of its TOML gives the same fleet."""
    doc: dict[str, dict[str, Any]] = {
        "fleet": {"sites": config.sites, "base_eui": config.base_eui.hex().upper()},
        "site": {"id": config.site.site_id},
    }
    for kind in DEVICE_OFFSETS:
        table: dict[str, Any] = {"eui": config.site.euis[kind].hex().upper()}
        if kind not in config.site.devices:
            table["enabled"] = False
        table.update(config.site.options.get(kind, {}))
        doc[kind.lower()] = table
    if config.parties:
        doc["parties"] = {
            r.cli_name: eui.hex().upper() for r, eui in sorted(config.parties.items())
        }
    return doc


def _load_config_text(text: str, shown: Path) -> FleetConfig:
    """``load_config`` of TOML text, errors naming ``shown`` (the file it came from)."""
    with tempfile.TemporaryDirectory(prefix="gbcs-fleet-") as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text)
        try:
            return load_config(path)
        except ConfigError as e:
            raise ConfigError(str(e).replace(str(path), str(shown))) from None


# ----------------------------------------------------------------------- key store


class FleetKeyStore(KeyStore):
    """The organisations' keys plus, on demand, the public keys of a fleet's devices.

    A device's KA and DS public keys are derived (as
    :func:`~.pki.add_device_public_keys` does) the first time a lookup names its EUI, so
    a store for 100,000 sites costs nothing up front; ``entries()`` and ``euis()`` list
    only the devices derived so far.
    """

    def __init__(self, pki_dir: Path, config: FleetConfig, sites: range) -> None:
        super().__init__(pki_dir)
        if config.seed is None:
            raise ValueError("the fleet seed is not set")
        self._fleet = config
        self._fleet_sites = sites
        self._derived: set[bytes] = set()

    def _derive(self, eui: EuiLike) -> None:
        try:
            e = as_eui(eui)
        except (ValueError, TypeError):
            return
        if e in self._derived:
            return
        self._derived.add(e)
        index = self._fleet.site_of_eui(e)
        if index is None or index not in self._fleet_sites:
            return
        site = self._fleet.site_config(index)
        if e not in (site.eui(k) for k in site.devices):
            return
        own = derive_own_keys(self._fleet.seed, e)
        self.add_entry(build_entry(own.eui, KeyUsage.KA, public_key=own.ka.public_key()))
        self.add_entry(build_entry(own.eui, KeyUsage.DS, public_key=own.ds.public_key()))

    def entry(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> KeyEntry | None:
        """As :meth:`KeyStore.entry`, deriving a fleet device's keys on first use."""
        self._derive(eui)
        return super().entry(eui, usage, prepayment=prepayment)

    def public_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePublicKey | None:
        """As :meth:`KeyStore.public_key`, deriving a fleet device's keys on first use."""
        self._derive(eui)
        return super().public_key(eui, usage, prepayment=prepayment)

    def require_public_key(
        self, eui: EuiLike, usage: KeyUsage | str, *, prepayment: bool = False
    ) -> ec.EllipticCurvePublicKey:
        """As :meth:`KeyStore.require_public_key`, deriving a fleet device's keys."""
        self._derive(eui)
        return super().require_public_key(eui, usage, prepayment=prepayment)


# ---------------------------------------------------------------------- definition


class FleetDefinition:
    """A fleet definition folder (see the module documentation).

    Attributes:
        id: the fleet's random id (a topic level of its shard claims).
        dir: the folder.
        config: the fleet configuration, its ``seed`` set from the ``seed`` file.
        pki_dir: the organisations' PKI and the device CA.
        created: when ``init`` wrote it (UTC, ISO 8601).
    """

    def __init__(self, dir: Path, id: str, config: FleetConfig, created: str) -> None:
        self.dir = dir
        self.id = id
        self.config = config
        self.created = created

    @property
    def pki_dir(self) -> Path:
        return self.dir / PKI_NAME

    @property
    def seed_sha256(self) -> str:
        """The fingerprint of the seed (as ``state.json`` layouts record it)."""
        assert self.config.seed is not None
        return seed_digest(self.config.seed)

    def config_toml(self) -> str:
        """The device configuration as a ``run --config`` file (no seed)."""
        return to_toml(config_document(self.config))

    @classmethod
    def create(
        cls, dir: Path | str, config: FleetConfig, seed: bytes | None = None
    ) -> FleetDefinition:
        """Write a new definition of ``config`` in ``dir`` (created 0700, or empty).

        The seed is ``seed``, else ``config.seed``, else 32 random bytes. Raises
        :class:`FleetDefinitionError` for an existing non-empty ``dir``, an unusable
        seed or configuration; nothing is left behind on failure.
        """
        root = Path(dir)
        seed = seed if seed is not None else config.seed
        if seed is None:
            seed = secrets.token_bytes(32)
        if not 1 <= len(seed) <= MAX_SEED_BYTES:
            raise FleetDefinitionError(f"a fleet seed of 1 to {MAX_SEED_BYTES} bytes")
        try:
            doc = config_document(config)
            config_text = to_toml(doc)
        except ConfigError as e:
            raise FleetDefinitionError(f"{root / DEFINITION_NAME}: {e}") from None
        if root.is_symlink() or (root.exists() and not root.is_dir()):
            raise FleetDefinitionError(f"{root}: exists and is not a directory")
        made = not root.exists()
        if not made:
            try:
                if any(root.iterdir()):
                    raise FleetDefinitionError(
                        f"{root}: not empty; a fleet definition is written into a new or "
                        "empty directory (it never replaces one)"
                    )
            except OSError as e:
                raise FleetDefinitionError(f"{root}: cannot read it: {e.strerror}") from None
        fleet_id = secrets.token_hex(8)
        created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        head = to_toml(
            {
                "definition": {
                    "format": FORMAT,
                    "id": fleet_id,
                    "created": created,
                    "seed_sha256": seed_digest(seed),
                }
            }
        )
        text = (
            "# gbcs-emu fleet definition: `gbcs-emu fleet show` prints it. The seed is in\n"
            "# ./seed (mode 0600) and the private keys in ./pki: keep them off shared places.\n"
            + head
            + "\n"
            + config_text
        )
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(root, 0o700)
            private_write(root / SEED_NAME, seed.hex() + "\n")
            pki = root / PKI_NAME
            pki.mkdir(mode=0o700)
            init_pki(pki)
            # Written last: a folder without it is visibly unfinished.
            tmp = root / f".{DEFINITION_NAME}.tmp"
            tmp.write_text(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, root / DEFINITION_NAME)
        except OSError as e:
            _undo(root, made)
            raise FleetDefinitionError(f"{root}: cannot write the definition: {e}") from None
        except BaseException:
            _undo(root, made)
            raise
        return cls.load(root)

    @classmethod
    def load(cls, dir: Path | str) -> FleetDefinition:
        """Read and check a definition: :class:`FleetDefinitionError` naming the file and
        what is wrong (missing, damaged, a secret readable by other users, a seed that is
        not the one ``fleet.toml`` records, an incomplete PKI)."""
        root = Path(dir)
        path = root / DEFINITION_NAME
        if not root.is_dir():
            raise FleetDefinitionError(f"{root}: no such fleet definition directory")
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FleetDefinitionError(
                f"{path}: missing; {root} is not a fleet definition (gbcs-emu fleet init)"
            ) from None
        except (OSError, UnicodeDecodeError) as e:
            raise FleetDefinitionError(f"{path}: cannot read it: {e}") from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise FleetDefinitionError(f"{path} is damaged: {e}") from None
        head = doc.pop("definition", None)
        if not isinstance(head, dict):
            raise FleetDefinitionError(f"{path} is damaged: no [definition] table")
        if head.get("format") != FORMAT:
            raise FleetDefinitionError(
                f"{path}: [definition] format {head.get('format')!r}; this version reads {FORMAT}"
            )
        fleet_id = head.get("id")
        if not isinstance(fleet_id, str) or not _ID.fullmatch(fleet_id):
            raise FleetDefinitionError(
                f"{path}: [definition] id {fleet_id!r}; allowed: 1 to 64 of A-Z a-z 0-9 _ -"
            )
        digest = head.get("seed_sha256")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise FleetDefinitionError(f"{path}: [definition] seed_sha256 is damaged")
        fleet = doc.get("fleet")
        if not isinstance(fleet, dict) or "sites" not in fleet or "seed" in fleet:
            raise FleetDefinitionError(
                f"{path}: [fleet] must give sites and base_eui, and never the seed"
            )
        try:
            config = _load_config_text(to_toml(doc), path)
        except ConfigError as e:
            raise FleetDefinitionError(str(e)) from None
        config.seed = _read_seed(root / SEED_NAME, digest)
        _check_pki(root / PKI_NAME)
        return cls(root, fleet_id, config, str(head.get("created", "")))

    def head_end_keys(self, sites: range | None = None) -> FleetKeyStore:
        """The organisations' keys (private included, to sign and to read MACs) and the
        public keys of the devices of ``sites`` (default: every site), derived per EUI on
        first lookup."""
        if sites is None:
            sites = range(self.config.sites)
        try:
            return FleetKeyStore(self.pki_dir, self.config, sites)
        except OSError as e:
            raise FleetDefinitionError(f"{self.pki_dir}: cannot read the PKI: {e}") from None

    def site_id_of(self, eui: bytes) -> str | None:
        """The site id (topic level) of the device ``eui``, None outside the fleet."""
        index = self.config.site_of_eui(eui)
        return None if index is None else self.config.site_config(index).site_id

    def describe(self) -> dict[str, Any]:
        """What ``fleet show`` prints: public facts only (no seed, no private key)."""
        cfg = self.config
        first = cfg.site_config(0)
        last = cfg.site_config(cfg.sites - 1)
        ca = load_authorities(self.pki_dir)
        return {
            "id": self.id,
            "dir": str(self.dir),
            "created": self.created,
            "sites": cfg.sites,
            "devices": list(cfg.site.devices),
            "base_eui": cfg.base_eui.hex().upper(),
            "first_esme": first.eui("ESME").hex().upper(),
            "last_esme": last.eui("ESME").hex().upper(),
            "seed": f"in {self.dir / SEED_NAME} (mode 0600, not shown)",
            "seed_sha256": self.seed_sha256,
            "pki": str(self.pki_dir),
            "device_ca": ca.device.certificate.subject.rfc4514_string(),
            "organisations": _organisations(self.pki_dir),
            "config": config_document(cfg),
        }


def _organisations(pki: Path) -> dict[str, str]:
    store = KeyStore(pki)
    out: dict[str, str] = {}
    for e in store.entries(KeyUsage.DS):
        role = store.role_of(e.eui)
        if role is not None:
            out[role.cli_name] = e.eui.hex().upper()
    return out


def _undo(root: Path, made: bool) -> None:
    if made:
        shutil.rmtree(root, ignore_errors=True)
        return
    for p in root.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _read_seed(path: Path, digest: str) -> bytes:
    if (problem := secret_file_problem(path, "fleet seed")) is not None:
        raise FleetDefinitionError(problem)
    try:
        text = path.read_text().strip()
        seed = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        raise FleetDefinitionError(
            f"{path} is damaged (allowed: the seed as one line of hex digits)"
        ) from None
    if not 1 <= len(seed) <= MAX_SEED_BYTES or seed_digest(seed) != digest:
        raise FleetDefinitionError(
            f"{path} is damaged: it is not the seed fleet.toml records (seed_sha256); "
            "restore the folder from its copy"
        )
    return seed


def _check_pki(pki: Path) -> None:
    if not pki.is_dir():
        raise FleetDefinitionError(f"{pki}: missing (the fleet's PKI)")
    if pki.stat().st_mode & 0o077:
        raise FleetDefinitionError(
            f"{pki}: mode {stat.S_IMODE(pki.stat().st_mode):04o} lets other users into the "
            f"PKI; allowed: 0700 (chmod 700 {pki})"
        )
    for key in sorted(pki.glob("*.key")):
        if (problem := secret_file_problem(key, "private key")) is not None:
            raise FleetDefinitionError(problem)
    try:
        load_authorities(pki)
    except (OSError, ValueError) as e:
        raise FleetDefinitionError(f"{pki}: the CA files are missing or damaged: {e}") from None


# ------------------------------------------------------------------ state binding


def bound_fleet(state: Path) -> dict[str, Any] | None:
    """The fleet a state directory was imported from (``fleet.json``), None if none."""
    path = state / BINDING_NAME
    try:
        d = json.loads(path.read_text())
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            raise ValueError("no fleet id")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StateDamaged(f"{path} is damaged ({e}); it was not changed") from None
    return d


def bind_state(state: Path, definition: FleetDefinition) -> Path:
    """Import ``definition`` into the (locked) state directory ``state``, or check that it
    was imported from this fleet; returns the device-configuration file for workers.

    Refuses (:class:`StateError`) a directory bound to another fleet, or one already
    used without a fleet. On first start the PKI is copied, ``fleet.json`` and the
    configuration written; ``state.json`` is then made by the caller with the seed.
    """
    bound = bound_fleet(state)
    if bound is None:
        info = load_info(state)
        used = sorted(p.name for p in state.iterdir() if p.name not in ("lock",))
        if info is not None or used:
            raise StateError(
                f"state directory {state} was made without a fleet definition "
                f"(it holds {', '.join(used[:4])}{' ...' if len(used) > 4 else ''}); "
                f"give --fleet hosts a new --state directory"
            )
    elif bound["id"] != definition.id:
        raise StateError(
            f"state directory {state} belongs to fleet {bound['id']} "
            f"(from {bound.get('definition', '?')}), not to fleet {definition.id} "
            f"({definition.dir}); give another --state"
        )
    pki = state / PKI_NAME
    if not (pki / "ca-root.pem").is_file():
        if pki.exists():
            raise StateDamaged(
                f"{pki}: incomplete (no ca-root.pem); restore it from a backup, or remove "
                f"it to copy the fleet's PKI from {definition.pki_dir} again"
            )
        tmp = state / f".{PKI_NAME}.import"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(definition.pki_dir, tmp)  # copy2 keeps the 0600 key modes
        os.chmod(tmp, 0o700)
        os.replace(tmp, pki)
    if bound is None:
        private_write(
            state / BINDING_NAME,
            json.dumps(
                {
                    "id": definition.id,
                    "definition": str(definition.dir.resolve()),
                    "seed_sha256": definition.seed_sha256,
                    "imported": time.time(),
                }
            ),
        )
    config = state / CONFIG_NAME
    text = definition.config_toml()
    with contextlib.suppress(OSError):
        if config.read_text() == text:
            return config
    private_write(config, text)
    return config
