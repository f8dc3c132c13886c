"""Reading messages from arguments, files and standard input."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path

import click

_HEX = set(string.hexdigits)


def parse_hex(text: str, where: str = "input") -> bytes:
    """Hex text to bytes; spaces, colons and a leading 0x are ignored."""
    cleaned = "".join(text.split()).replace(":", "")
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    if not cleaned:
        raise click.ClickException(f"{where}: no hex data")
    bad = next((c for c in cleaned if c not in _HEX), None)
    if bad is not None:
        raise click.ClickException(f"{where}: not hex (found {bad!r})")
    if len(cleaned) % 2:
        raise click.ClickException(f"{where}: odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)


def read_file_bytes(path: Path) -> bytes:
    """A message file: hex text, or raw binary when it is not text."""
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return data
    if text.strip() and all(c in _HEX or c.isspace() or c in ":xX" for c in text):
        return parse_hex(text, str(path))
    return data


def iter_lines(lines: Iterator[str], where: str) -> Iterator[tuple[str, str | bytes]]:
    """``(id, bytes-or-error)`` per non-empty line of ``hex`` or ``id<TAB>hex``."""
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ident, _, rest = line.partition("\t")
        if not rest:
            ident, rest = str(n), ident
        try:
            yield ident, parse_hex(rest, f"{where} line {n}")
        except click.ClickException as e:
            yield ident, e.message


def iter_messages(
    path: Path | None, stdin_text: Iterator[str]
) -> Iterator[tuple[str, str | bytes]]:
    """Messages from a JSON vectors file (list of objects with ``hex``), or hex lines."""
    if path is None:
        yield from iter_lines(stdin_text, "stdin")
        return
    text = path.read_text(errors="replace")
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise click.ClickException(f"{path}: invalid JSON ({e})") from None
        for i, rec in enumerate(records):
            if not isinstance(rec, dict) or "hex" not in rec:
                yield str(i), f"{path}: record {i} has no 'hex'"
                continue
            try:
                yield str(rec.get("id", i)), parse_hex(str(rec["hex"]), f"{path} record {i}")
            except click.ClickException as e:
                yield str(rec.get("id", i)), e.message
        return
    yield from iter_lines(iter(text.splitlines()), str(path))
