"""``gbcs-emu keys``: key stores and the test PKI."""

from __future__ import annotations

from pathlib import Path

import click

from gbcs.envelope import as_eui
from gbcs.errors import GbcsEncodeError
from keys.pki import init_pki


@click.group("keys")
def keys_group() -> None:
    """Key material: generate a test PKI, inspect key directories."""


@keys_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--device",
    "devices",
    multiple=True,
    metavar="EUI",
    help="Create device DS/KA certificates for this EUI-64; repeatable.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
def init_cmd(directory: Path, devices: tuple[str, ...], overwrite: bool) -> None:
    """Create a test PKI in DIRECTORY: a CA, organisation certificates for every
    remote-party role (DS and KA), and device certificates for each --device."""
    try:
        euis = [as_eui(d) for d in devices]
    except GbcsEncodeError as e:
        raise click.BadParameter(str(e), param_hint="--device") from None
    try:
        summary = init_pki(directory, device_euis=euis, overwrite=overwrite)
    except FileExistsError as e:
        raise click.ClickException(f"{e} (use --overwrite to replace)") from None
    click.echo(str(summary))
