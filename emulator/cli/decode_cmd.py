"""``gbcs-emu decode``: decode GBCS messages, check MACs and signatures, decrypt parts."""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emulator.cli.inputs import iter_messages, parse_hex, read_file_bytes, read_stdin_text
from gbcs.envelope import as_eui
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.inspect import Inspection, inspect_message
from gbcs.security import DEFAULT_ACB, KeyProvider, Verdict
from gbcs.tree import Field

if TYPE_CHECKING:
    from concurrent.futures import Future

    from rich.tree import Tree

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
@click.option(
    "--jobs",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="With --batch: decode in N processes (0: one per CPU); output stays in input order.",
)
def decode_cmd(
    message: str | None,
    file_: Path | None,
    key_dirs: tuple[Path, ...],
    acb: str,
    as_json: bool,
    batch: bool,
    lenient: bool,
    jobs: int,
) -> None:
    """Decode a GBCS message given as HEX, '-' (stdin) or --file.

    Prints the field tree with hex slices and values, the message-code name, the MAC and
    signature verdicts (valid / invalid / no key) and any decrypted parts.
    """
    acb_eui = _acb(acb)
    if jobs != 1 and not batch:
        raise click.UsageError("--jobs goes with --batch (a single message is one job)")
    keys: KeyProvider | None = None
    if key_dirs:  # keys (and X.509) are imported only when a key directory is given
        from emulator.cli.keyload import load_keys

        keys = load_keys(key_dirs)
    if batch:
        if message not in (None, "-"):
            raise click.UsageError("--batch reads --file or standard input, not an argument")
        items = iter_messages(file_, iter(sys.stdin))
        spec = BatchSpec(key_dirs, acb_eui, lenient)
        n = jobs or _cpu_count()
        if n == 1:
            _write_sequential(items, keys, spec)
        else:
            _write_parallel(items, spec, n)
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


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """What every batch worker needs: key directories (each worker loads its own store),
    the ACB and whether payload errors are lenient."""

    key_dirs: tuple[Path, ...]
    acb: bytes
    lenient: bool


BatchItem = tuple[str, str | bytes]


def batch_record(ident: str, item: str | bytes, keys: KeyProvider | None, spec: BatchSpec) -> str:
    """The JSON line (with its newline) ``decode --batch`` writes for one input item: an
    error string from reading the line, or the message bytes to decode and check."""
    rec: dict[str, Any] = {"id": ident}
    if isinstance(item, str):
        rec["error"] = item
    else:
        try:
            r = inspect_message(
                item, keys, acb=spec.acb, lenient_payload=spec.lenient, decode_parts=False
            )
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
    return json.dumps(rec) + "\n"


def _write_sequential(
    items: Iterator[BatchItem], keys: KeyProvider | None, spec: BatchSpec
) -> None:
    write = sys.stdout.write
    for ident, item in items:
        write(batch_record(ident, item, keys, spec))


_CHUNK = 128  # messages per task: large enough that pickling is a small share of the work

_worker_keys: KeyProvider | None = None


def _worker_init(spec: BatchSpec) -> None:
    global _worker_keys
    from keys.store import KeyStore

    # The parent loaded these directories first and reported any warnings.
    _worker_keys = KeyStore(*spec.key_dirs) if spec.key_dirs else None


def _worker_run(spec: BatchSpec, chunk: list[BatchItem]) -> str:
    return "".join(batch_record(ident, item, _worker_keys, spec) for ident, item in chunk)


def _chunks(items: Iterator[BatchItem]) -> Iterator[list[BatchItem]]:
    while chunk := list(islice(items, _CHUNK)):
        yield chunk


def _write_parallel(items: Iterator[BatchItem], spec: BatchSpec, jobs: int) -> None:
    """Decode in ``jobs`` processes, writing chunks in input order; at most two chunks
    per process are in flight, so memory stays bounded on any input size. An error
    reading the input is raised after every line before it has been written, as in one
    process."""
    import multiprocessing as mp  # here, not at import: only --jobs needs it
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    out = sys.stdout
    pending: deque[Future[str]] = deque()
    with ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_worker_init, initargs=(spec,)
    ) as pool:
        try:
            for chunk in _chunks(items):
                pending.append(pool.submit(_worker_run, spec, chunk))
                if len(pending) >= 2 * jobs:
                    out.write(pending.popleft().result())
        finally:
            try:
                while pending:
                    out.write(pending.popleft().result())
            except BrokenProcessPool:
                raise click.ClickException(
                    "a decode worker process died; try fewer --jobs or --jobs 1"
                ) from None


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _label(f: Field) -> str:
    from rich.markup import escape

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
    # rich is imported here, not at module load: --json and --batch never need it.
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

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
