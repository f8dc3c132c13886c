"""The runtime's key material: organisations' PKI in the state directory, device keys
derived from the fleet seed (see :mod:`.config`)."""

from __future__ import annotations

from pathlib import Path

from keys.pki import init_pki
from keys.roles import KeyUsage
from keys.store import KeyStore, build_entry

from .config import FleetConfig, derive_own_keys
from .statedir import open_info

__all__ = ["add_device_public_keys", "ensure_pki", "resolve_seed"]


def ensure_pki(state_dir: Path) -> Path:
    """``state_dir/pki``: a test PKI with every organisation role, made on first use."""
    pki = state_dir / "pki"
    if not (pki / "ca-root.pem").is_file():
        pki.mkdir(parents=True, exist_ok=True)
        init_pki(pki)
    return pki


def resolve_seed(config: FleetConfig, state_dir: Path) -> bytes:
    """The fleet seed: the config's, else the state directory's own (random, made on
    first use and kept in its ``state.json``). Sets ``config.seed``."""
    if config.seed is None:
        config.seed = open_info(state_dir).seed_bytes
    return config.seed


def add_device_public_keys(
    store: KeyStore, config: FleetConfig, sites: range, state_dir: Path | None = None
) -> None:
    """Make the devices of ``sites`` verifiable by a head-end using ``store`` (the seed
    comes from ``state_dir`` unless the config sets one)."""
    if config.seed is None and state_dir is not None:
        resolve_seed(config, state_dir)
    for i in sites:
        cfg = config.site_config(i)
        for kind in cfg.devices:
            own = derive_own_keys(config.seed, cfg.eui(kind))
            store.add_entry(build_entry(own.eui, KeyUsage.KA, public_key=own.ka.public_key()))
            store.add_entry(build_entry(own.eui, KeyUsage.DS, public_key=own.ds.public_key()))
