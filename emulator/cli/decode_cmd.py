"""``gbcs-emu decode``: decode GBCS messages, check MACs and signatures, decrypt parts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from emulator.cli.inputs import iter_messages, parse_hex, read_file_bytes, read_stdin_text
from emulator.cli.keyload import load_keys
from gbcs.envelope import as_eui
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.inspect import Inspection, inspect_message
from gbcs.security import DEFAULT_ACB, Verdict
from gbcs.tree import Field

_HEX_SHOWN = 24
_VERDICT_STYLE = {
    Verdict.VALID: "bold green",
    Verdict.INVALID: "bold red",
    Verdict.NO_KEY: "yellow",
    Verdict.ABSENT: "dim",
    Verdict.NULL: "dim",
}


def _acb(value: str) -> bytes:
    try:
        return as_eui(value)
    except GbcsEncodeError as e:
        raise click.BadParameter(str(e)) from None


@click.command("decode")
@click.argument("message", required=False)
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the message (hex text or binary) or, with --batch, the lines, from a file.",
)
@click.option(
    "--keys",
    "key_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Key directory (<eui>[-pp]-<ka|ds>.<pem|key>); repeatable.",
)
@click.option(
    "--acb",
    default=DEFAULT_ACB.hex().upper(),
    show_default=True,
    help="EUI of the Access Control Broker whose KA key MACs commands.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--batch",
    is_flag=True,
    help="Many messages, one per line ('hex' or 'id<TAB>hex'), one JSON object out per line.",
)
@click.option(
    "--lenient", is_flag=True, help="Show header and verdicts even when the payload is malformed."
)
def decode_cmd(
    message: str | None,
    file_: Path | None,
    key_dirs: tuple[Path, ...],
    acb: str,
    as_json: bool,
    batch: bool,
    lenient: bool,
) -> None:
    """Decode a GBCS message given as HEX, '-' (stdin) or --file.

    Prints the field tree with hex slices and values, the message-code name, the MAC and
    signature verdicts (valid / invalid / no key) and any decrypted parts.
    """
    acb_eui = _acb(acb)
    keys = load_keys(key_dirs)
    if batch:
        if message not in (None, "-"):
            raise click.UsageError("--batch reads --file or standard input, not an argument")
        _batch(file_, keys, acb_eui, lenient)
        return
    data = _single_input(message, file_)
    try:
        result = inspect_message(data, keys, acb=acb_eui, lenient_payload=lenient)
    except GbcsDecodeError as e:
        click.echo(f"error: malformed GBCS message: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _render(result)


def _single_input(message: str | None, file_: Path | None) -> bytes:
    if file_ is not None:
        if message is not None:
            raise click.UsageError("give the message as an argument or --file, not both")
        return read_file_bytes(file_)
    if message is None:
        raise click.UsageError("no message: give HEX, '-' for standard input, or --file")
    if message == "-":
        return parse_hex(read_stdin_text(), "stdin")
    return parse_hex(message, "argument")


def _batch(file_: Path | None, keys: Any, acb: bytes, lenient: bool) -> None:
    out = sys.stdout
    for ident, item in iter_messages(file_, iter(sys.stdin)):
        rec: dict[str, Any] = {"id": ident}
        if isinstance(item, str):
            rec["error"] = item
        else:
            try:
                r = inspect_message(item, keys, acb=acb, lenient_payload=lenient)
            except GbcsDecodeError as e:
                rec["error"] = str(e)
                rec["error_path"] = e.path
                rec["error_offset"] = e.offset
            else:
                rec.update(r.header())
                rec["mac"] = r.mac.verdict.value
                rec["signature"] = r.signature.verdict.value
                rec["encrypted_parts"] = len(r.parts)
                rec["decrypted_parts"] = r.decrypted_count
                if r.key_notes:
                    rec["key_notes"] = list(r.key_notes)
        out.write(json.dumps(rec) + "\n")


def _label(f: Field) -> str:
    raw = f.raw.hex(" ").upper()
    if len(f.raw) > _HEX_SHOWN:
        raw = f.raw[:_HEX_SHOWN].hex(" ").upper() + f" … ({len(f.raw)} bytes)"
    text = f"[bold]{escape(f.name)}[/bold] [cyan]{raw}[/cyan]"
    if f.value is not None:
        text += f"  [green]{escape(f.value)}[/green]"
    return text


def _add(node: Tree, f: Field) -> None:
    child = node.add(_label(f))
    for c in f.children:
        _add(child, c)


def _render(r: Inspection) -> None:
    console = Console()
    h = r.header()
    title = f"GBCS {h['cra']} {h['message_code']} {escape(h['message_code_name'])}"
    root = Tree(f"[bold magenta]{title}[/bold magenta]")
    for f in r.tree():
        _add(root, f)
    console.print(root)
    for name, check in (("MAC", r.mac), ("Signature", r.signature)):
        style = _VERDICT_STYLE[check.verdict]
        detail = f" ({escape(check.detail)})" if check.detail else ""
        console.print(f"{name}: [{style}]{check.verdict.value}[/{style}]{detail}")
    if r.parts:
        console.print(f"Encrypted parts: {len(r.parts)}, decrypted: {r.decrypted_count}")
    for note in r.key_notes:
        console.print(f"[yellow]Note:[/yellow] {escape(note)} (expiry is reported, not enforced)")
