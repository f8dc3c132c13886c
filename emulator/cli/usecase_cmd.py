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
from gbcs.usecases import DeviceType

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
    from emulator.headend.catalogue.described import all_descriptions, explain_named
    from emulator.headend.catalogue.generic import generic_name
    from gbcs.usecases import lookup

    try:
        uc = lookup(int(str(obj.get("message_code")), 16))
    except ValueError:
        uc = None
    name = generic_name(uc) if uc is not None else str(obj.get("use_case") or "")
    desc = all_descriptions().get(name.upper())
    header = obj.get("header") or {}
    try:
        originator = bytes.fromhex(header["originator"])
        recipient = bytes.fromhex(header["recipient"])
    except (KeyError, TypeError, ValueError):
        originator = recipient = None
    counter = header.get("counter") if isinstance(header, dict) else None
    counter = counter if isinstance(counter, int) and not isinstance(counter, bool) else None
    named = (
        None if desc is None else explain_named(desc, obj["args"], originator, recipient, counter)
    )
    if named is None:
        return obj
    named = {k: _jsonable(v) for k, v in named.items()}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[k] = v
        if k == "args":
            out["named"] = named
    return out


def _jsonable(v: Any) -> Any:
    """A named argument as JSON that the parameter converts back to the same value:
    octets as hex, instants as ISO 8601 UTC text (fractions of a second when there are
    any), times of day as ``HH:MM:SS.hh``, schedule entries as ECS18b reports them."""
    from datetime import UTC, datetime

    from devices.behaviours.maxdemand import ScheduleEntry, SwitchTime

    if isinstance(v, bytes | bytearray):
        return bytes(v).hex().upper()
    if isinstance(v, datetime):
        u = v.astimezone(UTC)
        frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
        return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
    if isinstance(v, SwitchTime):
        return str(v)
    if isinstance(v, ScheduleEntry):
        return v.to_dict()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


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
    """The command use cases the head-end builds (optionally those a device type answers):
    name, code, targets, criticality, how arguments are given, title."""
    from emulator.headend.catalogue.docs import argument_style, role_names
    from emulator.headend.catalogue.generic import command_use_cases, generic_name

    rows = [
        uc for uc in command_use_cases() if not device or DeviceType(device.upper()) in uc.targets
    ]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": generic_name(uc),
                        "message_code": f"0x{uc.code:04X}",
                        "title": uc.title,
                        "targets": [t.value for t in uc.targets],
                        "roles": role_names(uc),
                        "critical": uc.critical,
                        "payload": uc.payload_kind,
                        "arguments": argument_style(generic_name(uc)),
                    }
                    for uc in rows
                ],
                indent=1,
            )
        )
        return
    for uc in rows:
        name = generic_name(uc)
        targets = "/".join(t.value for t in uc.targets)
        crit = "critical" if uc.critical else ""
        click.echo(
            f"{name:<13} 0x{uc.code:04X} {targets:<21} {crit:<8} "
            f"{argument_style(name):<10} {uc.title}"
        )


@usecase_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="The same as one JSON object.")
def show_cmd(name: str, as_json: bool) -> None:
    """One use case: code, targets, roles, criticality, its parameters (kind, default or
    required, what each accepts) and its named response values with units."""
    from emulator.headend.catalogue.docs import use_case_doc
    from emulator.headend.usecases import UseCaseError

    try:
        doc = use_case_doc(name)
    except UseCaseError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(doc, indent=1))
        return
    flags = [f for f in ("critical", "future_dated") if doc[f]]
    click.echo(f"{doc['name']}  {doc['message_code']}  {doc['title']}")
    click.echo(
        f"  targets: {'/'.join(doc['targets'])}; roles: {', '.join(doc['roles']) or '-'}"
        f" (default {doc['default_role']}){'; ' + ', '.join(flags) if flags else ''}"
    )
    click.echo(f"  payload: {doc['payload']}; arguments: {doc['arguments']}")
    click.echo("  parameters:")
    for p in doc["params"]:
        need = (
            "required"
            if p.get("required")
            else (f"default {p['default']!r}" if "default" in p else "optional")
        )
        click.echo(f"    {p['name']} ({p['kind']}, {need}): {p['help']}")
    for f in doc.get("asn1_fields", ()):
        kind = f.get("type", "") + (f" ({f['gbcs_type']})" if f.get("gbcs_type") else "")
        opt = ", optional" if f.get("optional") else ""
        click.echo(f"    args.{f['name']} ({kind}{opt}): {f.get('help', '')}")
    if doc["values"]:
        click.echo("  response values:")
        for v in doc["values"]:
            unit = f", {v['unit']}" if v.get("unit") else ""
            click.echo(f"    {v['name']} ({v.get('kind', 'number')}{unit}): {v.get('help', '')}")
    else:
        click.echo("  response values: ok, errors (and the decoded response for structural args)")


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
