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


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(root: Path, layer: str) -> dict[str, set[str]]:
    """Module -> modules of ``layer`` it imports, from every import statement anywhere in
    the file (function-level and ``TYPE_CHECKING`` ones included), relative ones resolved.
    ``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``.
    The implicit import of a package ``__init__`` by its submodules is not an edge."""
    files = {_module_name(root, f): f for f in sorted((root / layer).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.extend(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    src = ".".join([*base, node.module] if node.module else base)
                else:
                    src = node.module or ""
                targets.extend(
                    f"{src}.{a.name}" if f"{src}.{a.name}" in files else src for a in node.names
                )
        edges: set[str] = set()
        for t in targets:
            while t and t not in files:
                t = t.rpartition(".")[0]
            if t and t != mod:
                edges.add(t)
        graph[mod] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected components of more than
    one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_cycle_finder_reads_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("from pkg import b\n\nA = 1\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n    return c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("import json\n\n\ndef g():\n    from .. import a\n")
    (pkg / "d.py").write_text("import pkg.sub.c\nfrom pkg.a import A\n")
    graph = _import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},  # function-level, relative
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a"},  # function-level, relative to the parent package
        "pkg.d": {"pkg.sub.c", "pkg.a"},
    }
    assert _cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (pkg / "sub" / "c.py").write_text("import json\n")
    assert _cycles(_import_graph(tmp_path, "pkg")) == []
    assert _cycles({"x": {"y"}, "y": {"x"}, "z": {"z"}}) == [["x", "y"]]


@pytest.mark.parametrize("layer", LAYERS)
def test_no_import_cycles(layer: str) -> None:
    cycles = _cycles(_import_graph(ROOT, layer))
    assert not cycles, f"import circles in {layer}: {cycles}"
