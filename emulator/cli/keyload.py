"""Loading key directories for commands, with warnings on stderr."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from emulator.cli.inputs import os_reason
from keys.store import KeyStore


def load_keys(dirs: Sequence[Path]) -> KeyStore:
    """A key store over ``dirs``; unreadable files are reported, not fatal; a directory
    that is missing or cannot be listed is a one-line error naming it."""
    store = KeyStore()
    for d in dirs:
        try:
            store.load_directory(d)
        except OSError as e:
            raise click.ClickException(
                f"cannot read key directory {d}: {os_reason(e)} (--keys needs a readable "
                "directory of <eui>[-pp]-<ka|ds>.<pem|key> files)"
            ) from None
    for w in store.warnings:
        click.echo(f"warning: {w}", err=True)
    return store
