"""Access to the shared interop material (vectors, parsed trees, public test keys).

Tests locate it through ``GBCS_INTEROP_DIR`` (default ``../shared/interop`` relative to
the project root). When it is missing, interop tests skip, unless
``GBCS_REQUIRE_INTEROP=1`` (CI), in which case they fail.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent


def interop_candidate() -> Path:
    """Where the interop material is looked for (``GBCS_INTEROP_DIR`` or the default)."""
    env = os.environ.get("GBCS_INTEROP_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "interop"


def interop_dir() -> Path | None:
    """The interop directory, or None when it holds no ``vectors.json``."""
    d = interop_candidate()
    return d if (d / "vectors.json").is_file() else None


def require_interop() -> Path:
    """The interop directory; skips the test without it (fails with GBCS_REQUIRE_INTEROP=1)."""
    d = interop_dir()
    if d is None:
        msg = (
            f"interop vectors not found: no vectors.json in {interop_candidate()}"
            " (set GBCS_INTEROP_DIR to the public interop material)"
        )
        if os.environ.get("GBCS_REQUIRE_INTEROP") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@functools.cache
def _vectors(d: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((Path(d) / "vectors.json").read_text()))


@functools.cache
def _parsed(d: str) -> dict[str, dict[str, Any]]:
    out = {}
    with open(Path(d) / "vectors-parsed.jsonl") as f:
        for line in f:
            rec = json.loads(line)
            out[rec["id"]] = rec
    return out


def vectors() -> tuple[dict[str, Any], ...]:
    """All 615 interop vectors (skips or fails when absent)."""
    return _vectors(str(require_interop()))


def parsed(vector_id: str) -> dict[str, Any]:
    """The independent parser's full decode of one vector."""
    return _parsed(str(require_interop()))[vector_id]


def keys_dir() -> Path:
    return require_interop() / "keys"


def vector_ids() -> list[str]:
    """Vector ids for parametrisation (empty when the interop data are absent)."""
    d = interop_dir()
    return [v["id"] for v in _vectors(str(d))] if d else []


def by_id(vector_id: str) -> dict[str, Any]:
    for v in vectors():
        if v["id"] == vector_id:
            return v
    raise KeyError(vector_id)


class ContentSlice(NamedTuple):
    """Where a message's content lies, found without the codec under test."""

    start: int
    end: int
    message_code: int
    cra: int
    counter: int


def _ber(b: bytes, i: int) -> tuple[int, int]:
    f = b[i]
    if f < 0x80:
        return f, i + 1
    n = f & 0x7F
    return int.from_bytes(b[i + 1 : i + 1 + n], "big"), i + 1 + n


def content_slice(b: bytes) -> ContentSlice:
    """Minimal walk of a (well-formed) GBCS header, independent of ``gbcs.envelope``.

    Payload tests use it to find the content, so a bug in the envelope decoder cannot
    hide one in a payload decoder.
    """
    i = 0
    if b[0] == 0xDD:
        _, i = _ber(b, 7)
        i += 5
    assert b[i] == 0xDF
    cra = b[i + 2]
    counter = int.from_bytes(b[i + 3 : i + 11], "big")
    i += 29
    i += 1 + b[i]  # date-time
    olen, i = _ber(b, i)
    code = int.from_bytes(b[i : i + 2], "big")
    i += olen
    clen, i = _ber(b, i)
    return ContentSlice(i, i + clen, code, cra, counter)
