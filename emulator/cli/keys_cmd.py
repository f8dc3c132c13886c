"""``gbcs-emu keys``: key stores and the test PKI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from rich.console import Console
from rich.table import Table

from gbcs.envelope import as_eui
from gbcs.errors import GbcsEncodeError
from keys.certs import describe_certificate, eui_hex
from keys.pki import init_pki
from keys.roles import RemotePartyRole
from keys.store import KeyEntry, KeyStore


@click.group("keys")
def keys_group() -> None:
    """Key material: generate a test PKI, inspect key directories."""


@keys_group.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
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
    if directory.exists() and not directory.is_dir():
        raise click.ClickException(f"cannot write keys to {directory}: not a directory")
    try:
        summary = init_pki(directory, device_euis=euis, overwrite=overwrite)
    except FileExistsError as e:
        raise click.ClickException(f"{e} (use --overwrite to replace)") from None
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        where = e.filename or directory
        raise click.ClickException(f"cannot write keys to {where}: {e.strerror or e}") from None
    click.echo(str(summary))


@dataclass(frozen=True, slots=True)
class KeyFileRow:
    """One file of a key directory, as ``keys inspect`` lists it."""

    eui: str
    role: str
    usage: str
    kind: str  # cert / public / private / ca
    expires: datetime | None
    file: str

    def to_json(self) -> dict[str, Any]:
        return {
            "eui": self.eui,
            "role": self.role,
            "usage": self.usage,
            "kind": self.kind,
            "expires": self.expires.isoformat() if self.expires else None,
            "file": self.file,
        }


_SHORT_ROLE = {
    RemotePartyRole.NETWORK_OPERATOR: "Network Op",
    RemotePartyRole.ACCESS_CONTROL_BROKER: "ACB",
    RemotePartyRole.TRANSITIONAL_COS: "Trans. CoS",
    RemotePartyRole.WAN_PROVIDER: "WAN",
    RemotePartyRole.ISSUING_AUTHORITY: "Issuing CA",
    RemotePartyRole.LOAD_CONTROLLER: "Load Ctrl",
    RemotePartyRole.XML_SIGN: "XML sign",
    RemotePartyRole.DSP_XML_SIGN: "DSP XML",
}
"""Role names that keep the table within 80 columns (``--json`` has the full names)."""


def _role(entry: KeyEntry) -> str:
    if entry.role is not None:
        return entry.role.human_name
    return "device" if entry.is_device else "-"


def _short_role(role: str) -> str:
    for r, short in _SHORT_ROLE.items():
        if r.human_name == role:
            return short
    return role


def key_file_rows(store: KeyStore) -> list[KeyFileRow]:
    """One row per loaded key file: each entry's certificate or public key, its private key."""
    rows = []
    for e in store.entries():
        usage = ("pp-" if e.prepayment else "") + e.usage.value
        for src in e.sources:
            if src.suffix.lower() == ".key":
                kind, expires = "private", None
            elif e.certificate is not None:
                kind, expires = "cert", e.not_after
            else:
                kind, expires = "public", None
            rows.append(KeyFileRow(eui_hex(e.eui), _role(e), usage, kind, expires, src.name))
    return rows


def ca_file_rows(directory: Path) -> list[KeyFileRow]:
    """One row per readable ``ca-*.pem`` certificate (the store warns about the others)."""
    rows = []
    for path in sorted(directory.iterdir()):
        if not (path.name.lower().startswith("ca-") and path.name.lower().endswith(".pem")):
            continue
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError):
            continue
        info = describe_certificate(cert)
        rows.append(KeyFileRow("-", "CA", "-", "ca", info.not_after, path.name))
    return rows


def _expiry_text(expires: datetime | None, now: datetime) -> str:
    if expires is None:
        return "-"
    if expires.year == 9999:
        return "never"
    day = expires.date().isoformat()
    return f"{day}!" if expires < now else day


@keys_group.command("inspect")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def inspect_cmd(directory: Path, as_json: bool) -> None:
    """List the entries of a key directory: EUI, role, usage, kind (cert, public,
    private, ca), certificate expiry and file. Files that cannot be used are named on
    stderr, with the reason. Expiry is reported, never enforced."""
    if not directory.exists():
        raise click.ClickException(f"key directory {directory}: no such directory")
    if not directory.is_dir():
        raise click.ClickException(f"key directory {directory}: not a directory")
    try:
        store = KeyStore(directory)
    except OSError as e:
        raise click.ClickException(f"cannot read {directory}: {e.strerror or e}") from None
    try:
        rows = key_file_rows(store) + ca_file_rows(directory)
    except OSError as e:
        raise click.ClickException(f"cannot read {directory}: {e.strerror or e}") from None
    if as_json:
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        now = datetime.now(UTC)
        # 16+10+5+7+11+26 characters and 5 separators: 80 columns for the longest rows
        table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))
        for name in ("EUI", "role", "usage", "kind", "expires"):
            table.add_column(name, no_wrap=True, overflow="ellipsis")
        table.add_column("file", no_wrap=True, overflow="fold")
        expired = 0
        for r in rows:
            text = _expiry_text(r.expires, now)
            expired += text.endswith("!")
            table.add_row(r.eui, _short_role(r.role), r.usage, r.kind, text, r.file)
        console = Console()
        if rows:
            console.print(table)
        tail = f"; {expired} expired (!: reported, never enforced)" if expired else ""
        console.print(
            f"{directory}: {len(store)} key entries in {len(rows)} files{tail}",
            highlight=False,
            soft_wrap=True,
        )
    for w in dict.fromkeys(str(w) for w in store.warnings):
        click.echo(f"warning: {w}", err=True)
