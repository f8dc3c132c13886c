"""Loading key directories for commands, with warnings on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from keys.store import KeyStore


def load_keys(dirs: Sequence[Path]) -> KeyStore:
    """A key store over ``dirs``; unreadable files are reported, not fatal."""
    store = KeyStore()
    for d in dirs:
        store.load_directory(d)
    for w in store.warnings:
        click.echo(f"warning: {w}", err=True)
    return store
