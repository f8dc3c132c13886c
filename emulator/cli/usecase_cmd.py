"""``gbcs-emu usecase``: commands <-> use cases with typed arguments (issue 10).

* ``usecase explain``: one JSON object per command or pre-command (``id``, ``use_case``,
  ``message_code``, ``args``, ``header``, ``form``);
* ``usecase build``: those objects back into frames, ``id<TAB>hex`` per line (or
  ``id<TAB>error: ...``); the pre-command form without keys, signed and MAC'd with them;
* ``usecase list`` / ``usecase show``: the use cases the registry knows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from emulator.cli.inputs import iter_messages, parse_hex, read_file_bytes, read_stdin_text
from emulator.cli.keyload import load_keys
from emulator.headend.catalogue.frames import FrameArgsError, build_frame, explain_frame
from gbcs.envelope import as_eui
from gbcs.errors import GbcsError
from gbcs.security import DEFAULT_ACB, check_mac, check_signature
from gbcs.usecases import DeviceType, all_use_cases, by_name

_KEYS = click.option(
    "--keys",
    "key_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Key directory (<eui>[-pp]-<ka|ds>.<pem|key>); repeatable.",
)
_ACB = click.option(
    "--acb",
    default=DEFAULT_ACB.hex().upper(),
    show_default=True,
    help="EUI of the Access Control Broker whose KA key MACs commands.",
)


def _acb(value: str) -> bytes:
    try:
        return as_eui(value)
    except (GbcsError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--acb") from None


@click.group("usecase")
def usecase_group() -> None:
    """Use cases as typed arguments: explain commands, build them, list the catalogue."""


@usecase_group.command("explain")
@click.argument("message", required=False)
@click.option("--batch", is_flag=True, help="Many messages: lines of HEX or ID<TAB>HEX.")
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The message (hex text or binary), or with --batch the lines, from a file.",
)
@_KEYS
@_ACB
def explain_cmd(
    message: str | None, batch: bool, file_: Path | None, key_dirs: tuple[Path, ...], acb: str
) -> None:
    """A command or pre-command as its use case, typed arguments and header (JSON)."""
    keys = load_keys(key_dirs) if key_dirs else None
    acb_eui = _acb(acb)
    if batch:
        failed = False
        source = None if file_ is None else file_
        stdin = iter(read_stdin_text().splitlines(True)) if file_ is None else iter(())
        for ident, data in iter_messages(source, stdin):
            obj = _explain_one(ident, data, keys, acb_eui)
            failed |= "error" in obj
            click.echo(json.dumps(obj))
        if failed:
            raise SystemExit(1)
        return
    if file_ is not None:
        data = read_file_bytes(file_)
    elif message is not None and message != "-":
        data = parse_hex(message, "MESSAGE")
    else:
        data = parse_hex(read_stdin_text(), "stdin")
    obj = _explain_one(None, data, keys, acb_eui)
    if "error" in obj:
        raise click.ClickException(obj["error"])
    click.echo(json.dumps(obj, indent=1))


def _explain_one(ident: str | None, data: str | bytes, keys: Any, acb: bytes) -> dict[str, Any]:
    if isinstance(data, str):  # the line's own error
        return {"id": ident, "error": data}
    try:
        obj = explain_frame(data, ident)
    except (GbcsError, FrameArgsError, ValueError) as e:
        out: dict[str, Any] = {"error": f"{type(e).__name__}: {e}"}
        return {"id": ident, **out} if ident is not None else out
    obj = _with_named(obj)
    if keys is not None:
        from gbcs.codec import decode

        msg = decode(data)
        obj["verified"] = {
            "mac": check_mac(msg, keys, acb).verdict.value,
            "signature": check_signature(msg, keys).verdict.value,
        }
    return obj


def _with_named(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with ``named`` (the named arguments) after ``args`` when a described use
    case's template matches them."""
    from emulator.headend.catalogue.described import descriptions, explain_named

    desc = descriptions().get(str(obj.get("use_case") or "").upper())
    named = None if desc is None else explain_named(desc, obj["args"])
    if named is None:
        return obj
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[k] = v
        if k == "args":
            out["named"] = named
    return out


@usecase_group.command("build")
@click.option("--batch", is_flag=True, help="Many objects: one JSON object per line.")
@click.option(
    "--file",
    "file_",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object(s) as 'usecase explain' prints them (default: standard input).",
)
@_KEYS
@_ACB
def build_cmd(batch: bool, file_: Path | None, key_dirs: tuple[Path, ...], acb: str) -> None:
    """Frames from explained objects: ``id<TAB>hex`` per object (``id<TAB>error: ...``).

    Without --keys: the pre-command form. With them: signed where critical (the
    originator's DS key), with the ACB MAC where the form is General-Ciphering.
    """
    keys = load_keys(key_dirs) if key_dirs else None
    acb_eui = _acb(acb)
    if file_ is not None:
        try:
            text = file_.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise click.ClickException(f"cannot read {file_}: {e}") from None
    else:
        text = read_stdin_text()
    docs: list[tuple[str, Any]] = []
    if batch:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append((str(n), json.loads(line)))
            except json.JSONDecodeError as e:
                docs.append((str(n), f"line {n}: invalid JSON ({e})"))
    else:
        try:
            docs.append(("1", json.loads(text)))
        except json.JSONDecodeError as e:
            raise click.ClickException(f"{file_ or 'stdin'}: invalid JSON ({e})") from None
    failed = False
    for n, doc in docs:
        ident = str(doc.get("id", n)) if isinstance(doc, dict) else n
        if isinstance(doc, str):
            click.echo(f"{ident}\terror: {doc}")
            failed = True
            continue
        if not isinstance(doc, dict):
            click.echo(f"{ident}\terror: expected a JSON object")
            failed = True
            continue
        try:
            frame = build_frame(doc, keys, acb=acb_eui)
        except (FrameArgsError, GbcsError, ValueError, KeyError, TypeError) as e:
            click.echo(f"{ident}\terror: {e}")
            failed = True
            continue
        click.echo(f"{ident}\t{frame.hex().upper()}")
    if failed:
        sys.exit(1)


@usecase_group.command("list")
@click.option("--device", type=click.Choice([t.value for t in DeviceType], case_sensitive=False))
@click.option("--json", "as_json", is_flag=True)
def list_cmd(device: str | None, as_json: bool) -> None:
    """The use cases of the GBCS registry (optionally those a device type answers)."""
    rows = []
    for uc in all_use_cases():
        if uc.direction != "command":
            continue
        if device and DeviceType(device.upper()) not in uc.targets:
            continue
        rows.append(uc)
    if as_json:
        click.echo(json.dumps([_uc_json(uc) for uc in rows], indent=1))
        return
    for uc in rows:
        targets = "/".join(t.value for t in uc.targets) or "?"
        crit = "critical" if uc.critical else ""
        click.echo(f"{uc.name:<8} 0x{uc.code:04X} {targets:<14} {crit:<8} {uc.title}")


@usecase_group.command("show")
@click.argument("name")
def show_cmd(name: str) -> None:
    """One use case: code, targets, roles, criticality, payload family."""
    uc = by_name(name)
    if uc is None:
        raise click.ClickException(f"unknown use case {name!r} (see gbcs-emu usecase list)")
    click.echo(json.dumps(_uc_json(uc), indent=1))


def _uc_json(uc: Any) -> dict[str, Any]:
    from keys.roles import RemotePartyRole

    roles = []
    for r in sorted(uc.roles):
        try:
            roles.append(RemotePartyRole(r).cli_name)
        except ValueError:
            roles.append(str(r))
    return {
        "name": uc.name,
        "message_code": f"0x{uc.code:04X}",
        "title": uc.title,
        "targets": [t.value for t in uc.targets],
        "roles": roles,
        "critical": uc.critical,
        "replay_protection": uc.replay_protection,
        "payload": uc.payload_kind,
        "future_dated": uc.future_dated,
    }


@usecase_group.command("reference")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the page here (default: standard output).",
)
def reference_cmd(output: Path | None) -> None:
    """The use-case reference page (Markdown), as docs/usecases.md holds it."""
    from emulator.cli.inputs import write_output
    from emulator.headend.catalogue.reference import reference_markdown

    text = reference_markdown()
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text.encode(), "-o/--output")
    click.echo(f"wrote {output}", err=True)
