"""Imports point one way: gbcs <- keys <- devices <- emulator <- hil (design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["gbcs", "keys", "devices", "emulator", "hil"]
SANS_IO_FORBIDDEN = {"asyncio", "socket", "serial", "aiomqtt", "sqlite3", "selectors"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_lower_layers(layer: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    forbidden = set(LAYERS) - allowed
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, layer
    for f in files:
        bad = _imports(f) & forbidden
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("layer", ["gbcs", "keys", "devices"])
def test_core_is_sans_io(layer: str) -> None:
    for f in sorted((ROOT / layer).rglob("*.py")):
        bad = _imports(f) & SANS_IO_FORBIDDEN
        assert not bad, f"{f.relative_to(ROOT)} imports {sorted(bad)}"
