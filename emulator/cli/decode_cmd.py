"""``gbcs-emu decode``: decode GBCS messages, check MACs and signatures, decrypt parts."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from json.encoder import encode_basestring_ascii as _js  # json.dumps's own escaper
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from emulator.cli.inputs import iter_messages, parse_hex, read_file_bytes, read_stdin_text
from gbcs.envelope import Cra, Envelope, as_eui
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.inspect import Inspection, header_iso, inspect_message, inspect_messages
from gbcs.security import DEFAULT_ACB, KeyProvider, Verdict
from gbcs.tree import Field
from gbcs.usecases import message_code_name

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
            streaming = file_ is None and not _regular_file(sys.stdin)
            write_batch(items, keys, spec, sys.stdout, streaming=streaming)
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
    error string from reading the line, or the message bytes to decode and check.

    The line is the ``json.dumps`` of ``{"id", **header, "mac", "signature",
    "encrypted_parts", "decrypted_parts"[, "key_notes"]}`` (see :func:`_record_json`).
    The CLI writes many at once with :func:`batch_records`."""
    return batch_records([(ident, item)], keys, spec)


def batch_records(chunk: Sequence[BatchItem], keys: KeyProvider | None, spec: BatchSpec) -> str:
    """The JSON lines of every item of ``chunk``, in order: the text of
    :func:`batch_record` for each, checked together by
    :func:`gbcs.inspect.inspect_messages` (faster over many messages)."""
    messages = [item for _, item in chunk if not isinstance(item, str)]
    done = iter(
        inspect_messages(
            messages, keys, acb=spec.acb, lenient_payload=spec.lenient, decode_parts=False
        )
    )
    out = []
    for ident, item in chunk:
        if isinstance(item, str):
            out.append(_input_error_json(ident, item))
            continue
        r = next(done)
        if isinstance(r, GbcsDecodeError):
            out.append(_decode_error_json(ident, r))
        else:
            out.append(_record_json(ident, r))
    return "".join(out)


def write_batch(
    items: Iterator[BatchItem],
    keys: KeyProvider | None,
    spec: BatchSpec,
    out: TextIO,
    *,
    streaming: bool,
) -> None:
    """Write every item's JSON line to ``out``, in input order, chunk by chunk.

    ``streaming`` is for a source whose next line may be a while coming (a pipe, a
    terminal): each chunk is then what has been read so far (see
    :func:`emulator.cli.readahead.ready_chunks`), and ``out`` is flushed whenever the
    input has nothing more ready, so each answer leaves as soon as its line is in.
    Otherwise the chunks are :data:`_CHUNK` items. An error reading the input is raised
    after every line before it has been written.
    """
    if not streaming:
        for chunk in _chunks(items):
            out.write(batch_records(chunk, keys, spec))
        return
    from emulator.cli.readahead import ready_chunks

    with ready_chunks(items, _CHUNK) as chunks:
        for chunk, idle in chunks:
            out.write(batch_records(chunk, keys, spec))
            if idle:
                out.flush()


def _input_error_json(ident: str, error: str) -> str:
    return json.dumps({"id": ident, "error": error}) + "\n"


def _decode_error_json(ident: str, e: GbcsDecodeError) -> str:
    rec = {"id": ident, "error": str(e), "error_path": e.path, "error_offset": e.offset}
    return json.dumps(rec) + "\n"


def _regular_file(stream: TextIO) -> bool:
    """True when ``stream`` reads a regular file (``< file``): all of it is there."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's StringIO)
        return False


# Fragments of the batch JSON line that depend on one enum value or message code only,
# each exactly as ``json.dumps`` (default separators, ASCII escapes) writes it.
_ENVELOPE_JSON = {e: f'"envelope": {_js(e._value_)}, ' for e in Envelope}
_CRA_JSON = {c: f'"cra_flag": {c._value_}, "cra": {_js(c.name.title())}, ' for c in Cra}
_VERDICT_JSON = {v: _js(v._value_) for v in Verdict}
_KIND_JSON: dict[object, str] = {}
_CODE_JSON: dict[int, str] = {}  # at most 65,536 entries, one per message code


def _code_json(code: int) -> str:
    frag = _CODE_JSON.get(code)
    if frag is None:
        frag = _CODE_JSON[code] = (
            f'"message_code": "0x{code:04X}", "message_code_name": {_js(message_code_name(code))}'
        )
    return frag


_EUI_HEX: dict[bytes, str] = {}  # a log names few parties; bounded all the same


def _eui_hex(eui: bytes) -> str:
    text = _EUI_HEX.get(eui)
    if text is None:
        if len(_EUI_HEX) >= 4096:
            _EUI_HEX.clear()
        text = _EUI_HEX[eui] = eui.hex().upper()
    return text


def _record_json(ident: str, r: Inspection) -> str:
    """``json.dumps`` of a successful batch record, written directly: the same bytes as
    ``json.dumps({"id": ident, **r.header(), ...})`` without building the dicts."""
    m = r.message
    h = m.header
    lay = m.layout
    content_len = (lay.content_end - lay.content_start) if lay else len(m.content())
    dt = h.date_time
    if dt is None:
        dt_json = '"date_time_hex": "00", "date_time": null'
    else:
        iso = header_iso(dt)
        dt_json = (
            f'"date_time_hex": "0C{dt.to_bytes().hex().upper()}", '
            f'"date_time": {"null" if iso is None else _js(iso)}'
        )
    kind = m.payload.kind
    kind_json = _KIND_JSON.get(kind)
    if kind_json is None:
        kind_json = _KIND_JSON[kind] = _js(kind._value_)
    c = h.counter
    out = (
        f'{{"id": {_js(ident)}, {_ENVELOPE_JSON[m.envelope]}{_CRA_JSON[h.cra]}'
        f'"originator_counter": "{c}", "originator_counter_hex": "{c:016X}", '
        f'"originator": "{_eui_hex(h.originator)}", "recipient": "{_eui_hex(h.recipient)}", '
        f"{dt_json}, {_code_json(h.other.message_code)}"
        f', "content_length": {content_len}, "payload_kind": {kind_json}'
    )
    oi = h.other
    if oi.srp_id is not None:
        out += f', "supplementary_remote_party_id": "{oi.srp_id.hex().upper()}"'
    if oi.srp_counter is not None:
        out += f', "supplementary_remote_party_counter": "{oi.srp_counter}"'
    if oi.supplementary_originator_counter is not None:
        out += f', "supplementary_originator_counter": "{oi.supplementary_originator_counter}"'
    if oi.certificate is not None:
        out += f', "supplementary_remote_party_certificate_length": {len(oi.certificate)}'
    parts = r.parts
    decrypted = sum(1 for p in parts if p.part.plaintext is not None) if parts else 0
    out += (
        f', "mac": {_VERDICT_JSON[r.mac.verdict]}'
        f', "signature": {_VERDICT_JSON[r.signature.verdict]}'
        f', "encrypted_parts": {len(parts)}, "decrypted_parts": {decrypted}'
    )
    if r.key_notes:
        out += f', "key_notes": [{", ".join(_js(n) for n in r.key_notes)}]'
    return out + "}\n"


# Messages per chunk: a parallel task (large enough that pickling is a small share of
# the work) and one inspect_messages call.
_CHUNK = 128

_worker_keys: KeyProvider | None = None


def _worker_init(spec: BatchSpec) -> None:
    global _worker_keys
    from keys.store import KeyStore

    # The parent loaded these directories first and reported any warnings.
    _worker_keys = KeyStore(*spec.key_dirs) if spec.key_dirs else None


def _worker_run(spec: BatchSpec, chunk: list[BatchItem]) -> str:
    return batch_records(chunk, _worker_keys, spec)


def _chunks(items: Iterator[BatchItem]) -> Iterator[list[BatchItem]]:
    """``items`` in lists of :data:`_CHUNK`. An error reading them comes after a last
    chunk of the items read before it, so that none of those is lost."""
    while True:
        chunk: list[BatchItem] = []
        try:
            chunk.extend(islice(items, _CHUNK))
        except Exception:
            if chunk:
                yield chunk
            raise
        if not chunk:
            return
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
