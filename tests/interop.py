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
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def interop_dir() -> Path | None:
    env = os.environ.get("GBCS_INTEROP_DIR")
    d = Path(env) if env else ROOT.parent / "shared" / "interop"
    return d if (d / "vectors.json").is_file() else None


def require_interop() -> Path:
    d = interop_dir()
    if d is None:
        msg = "interop vectors not found (set GBCS_INTEROP_DIR)"
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
