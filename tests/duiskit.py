"""Access to the shared DUIS material (templates, signed samples, XSD, signing keys, SRVs).

Tests locate it through ``GBCS_DUIS_DIR`` (default ``../shared/duis`` relative to the
project root), as :mod:`tests.interop` does for ``GBCS_INTEROP_DIR``. When it is missing,
DUIS tests skip with the reason, unless ``GBCS_REQUIRE_INTEROP=1`` (CI), in which case
they fail. Nothing here is copied into the package; it is read at test time only.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

XSD_NAME = "DUIS Schema V5.4.xsd"


def duis_candidate() -> Path:
    """Where the DUIS material is looked for (``GBCS_DUIS_DIR`` or the default)."""
    env = os.environ.get("GBCS_DUIS_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "duis"


def duis_dir() -> Path | None:
    """The DUIS directory, or None when it holds no ``samples/manifest.json``."""
    d = duis_candidate()
    return d if (d / "samples" / "manifest.json").is_file() else None


def require_duis() -> Path:
    """The DUIS directory; skips the test without it (fails with GBCS_REQUIRE_INTEROP=1)."""
    d = duis_dir()
    if d is None:
        msg = (
            f"DUIS material not found: no samples/manifest.json in {duis_candidate()}"
            " (set GBCS_DUIS_DIR to the shared DUIS test data)"
        )
        if os.environ.get("GBCS_REQUIRE_INTEROP") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return d


def keys_dir() -> Path:
    """The shared XML-signing certificates and keys."""
    return require_duis() / "keys"


def xsd_path() -> Path:
    """The DUIS 5.4 XSD (its imports sit next to it)."""
    return require_duis() / "xsd" / XSD_NAME


@functools.cache
def _manifest(d: str) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((Path(d) / "samples" / "manifest.json").read_text())["samples"])


def samples() -> tuple[dict[str, Any], ...]:
    """Every sample's manifest row (skips or fails when absent)."""
    return _manifest(str(require_duis()))


def sample_files() -> list[str]:
    """Sample paths (relative to the DUIS dir) for parametrisation; empty when absent."""
    d = duis_dir()
    return [s["file"] for s in _manifest(str(d))] if d else []


def sample(file: str) -> dict[str, Any]:
    """The manifest row of one sample."""
    for s in samples():
        if s["file"] == file:
            return s
    raise KeyError(file)


@functools.cache
def _srv(d: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(d) / "srv.json").read_text())
    return data


def srv_json() -> dict[str, Any]:
    """The shared SRV and command-variant tables (``srv.json``)."""
    return _srv(str(require_duis()))


def templates() -> list[Path]:
    """The RTDS DUIS request templates."""
    return sorted((require_duis() / "templates").glob("*.XML"))
