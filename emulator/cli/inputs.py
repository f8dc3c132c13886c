"""Reading messages from arguments, files and standard input; writing output files.

Every failure becomes a :class:`click.ClickException` of one line that names the path
and what went wrong, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
from collections.abc import Iterator
from pathlib import Path

import click

_HEX = set(string.hexdigits)


def os_reason(e: OSError) -> str:
    """The readable part of an :class:`OSError` (``Permission denied``), without the
    errno and path that the caller's message already names."""
    return e.strerror or str(e) or type(e).__name__


def read_input(path: Path, what: str = "input file") -> bytes:
    """The bytes of ``path``; a one-line error naming it when it cannot be read."""
    if not path.exists():
        raise click.ClickException(f"{what} {path}: no such file")
    if path.is_dir():
        raise click.ClickException(f"{what} {path} is a directory; give a file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise click.ClickException(f"cannot read {what} {path}: {os_reason(e)}") from None


def check_output(path: Path, option: str = "-o/--output") -> None:
    """Fail early, with one line naming ``path`` and what ``option`` needs, when ``path``
    plainly cannot be written (a directory, a missing or read-only parent directory)."""
    need = f"{option} needs a file in an existing, writable directory"
    if path.is_dir():
        raise click.ClickException(f"{option} {path} is a directory; give a file name to write")
    parent = path.parent
    if not parent.exists():
        raise click.ClickException(
            f"cannot write {path}: directory {parent} does not exist ({need})"
        )
    if not parent.is_dir():
        raise click.ClickException(f"cannot write {path}: {parent} is not a directory ({need})")
    if path.exists() and not os.access(path, os.W_OK):
        raise click.ClickException(f"cannot write {path}: the file is read-only ({need})")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise click.ClickException(f"cannot write {path}: directory {parent} is read-only ({need})")


def write_output(path: Path, data: bytes, option: str = "-o/--output") -> None:
    """Write ``data`` to ``path`` (replacing it); a one-line error naming the path, the
    reason and what ``option`` needs when it cannot be written."""
    check_output(path, option)
    try:
        path.write_bytes(data)
    except OSError as e:
        raise click.ClickException(
            f"cannot write {path}: {os_reason(e)} ({option} needs a file in an existing, "
            "writable directory)"
        ) from None


def parse_hex(text: str, where: str = "input") -> bytes:
    """Hex text to bytes; spaces, colons and a leading 0x are ignored."""
    if text[:2] not in ("0x", "0X") and ":" not in text:
        # Plain hex (log lines): bytes.fromhex reads it as the cleaning below would, and
        # skips ASCII whitespace between pairs; anything else takes the general path.
        try:
            data = bytes.fromhex(text)
        except ValueError:
            pass
        else:
            if data:
                return data
    cleaned = "".join(text.split())
    if ":" in cleaned:
        cleaned = cleaned.replace(":", "")
    if cleaned[:2] in ("0x", "0X"):
        cleaned = cleaned[2:]
    if not cleaned:
        raise click.ClickException(f"{where}: no hex data")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        pass  # the slow scan below only runs to say what is wrong
    bad = next((i for i, c in enumerate(cleaned) if c not in _HEX), None)
    if bad is not None:
        c = cleaned[bad]
        found = repr(c) if c.isascii() and c.isprintable() else "a non-ASCII or binary byte"
        raise click.ClickException(
            f"{where}: not hex (found {found} at digit {bad + 1}; allowed: 0-9 a-f A-F, "
            "spaces, colons, a leading 0x)"
        )
    raise click.ClickException(f"{where}: odd number of hex digits ({len(cleaned)})")


_HEX_TEXT = re.compile(r"[0-9A-Fa-f:xX\s]*")


def read_file_bytes(path: Path) -> bytes:
    """A message file: hex text, or raw binary when it is not text."""
    data = read_input(path)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return data
    if text.strip() and _HEX_TEXT.fullmatch(text):
        return parse_hex(text, str(path))
    return data


def iter_lines(lines: Iterator[str], where: str) -> Iterator[tuple[str, str | bytes]]:
    """``(id, bytes-or-error)`` per non-empty line of ``hex`` or ``id<TAB>hex``."""
    for n, line in enumerate(_text_lines(lines, where), 1):
        line = line.rstrip("\r\n")
        head = line.lstrip()
        if not head or head[0] == "#":
            continue
        ident, _, rest = line.partition("\t")
        if not rest:
            ident, rest = str(n), ident
        try:
            yield ident, parse_hex(rest, f"{where} line {n}")
        except click.ClickException as e:
            yield ident, e.message


def read_stdin_text() -> str:
    """All of standard input as text; a one-line error when it is not text."""
    return "".join(_text_lines(iter(lambda: sys.stdin.read(65536), ""), "stdin"))


def _text_lines(lines: Iterator[str], where: str) -> Iterator[str]:
    """``lines``, with a stream that is not text (a binary file on standard input in a
    UTF-8 locale) turned into one clear error."""
    try:
        yield from lines
    except UnicodeDecodeError as e:
        raise click.ClickException(
            f"{where}: not text (byte 0x{e.object[e.start]:02X} at offset {e.start} of a "
            "read block); give hex lines, or a binary message with --file"
        ) from None


def iter_messages(
    path: Path | None, stdin_text: Iterator[str]
) -> Iterator[tuple[str, str | bytes]]:
    """Messages from a JSON vectors file (list of objects with ``hex``), or hex lines."""
    if path is None:
        yield from iter_lines(stdin_text, "stdin")
        return
    text = read_input(path).decode("utf-8", errors="replace")
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
