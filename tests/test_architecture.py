"""The package layout of docs/architecture.md, checked from the source (lazy, function-level imports included):
packages import only downward through the layers below, no import cycle at file or package level, and the kernels
import nothing above them."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import spikeforge

ROOT = Path(spikeforge.__file__).resolve().parent
PACKAGE = "spikeforge"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its body (top level or inside functions)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                # "from pkg import a, b": each name that is a module, else the module it comes from
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if not target or target == mod:
                    continue
                if mod.startswith(target + "."):  # a package's own __init__ seen from inside it
                    continue
                edges[mod].add(target)
    return edges


def _cycles(edges: dict[str, set[str]], nodes) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def _package(mod: str) -> str:
    """The top-level part a module belongs to: ``spikeforge.kernels.cpu._lif`` -> ``kernels``."""
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


#: the layers of docs/architecture.md, bottom first: a part may import only parts of lower layers
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units", "_files", "_tensorfile", "state", "init"),
    ("kernels", "_choice"),
    ("surrogate",),
    ("neurons",),
    ("functional", "nn", "synapses", "encoding", "data", "sim", "viz", "graph"),
    ("models", "metrics", "quant"),
    ("learning", "interop"),
    ("(root)",),  # the spikeforge facade (curated re-exports, __version__)
    ("cli",),
    ("__main__",),  # `python -m spikeforge`: runs the command
)
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def test_every_part_has_a_layer():
    assert {_package(m) for m in _modules()} == set(LAYER)


def test_parts_import_only_lower_layers():
    upward = sorted(
        f"{mod} -> {target}"
        for mod, targets in _imports(_modules()).items()
        for target in targets
        if _package(mod) != _package(target) and LAYER[_package(target)] >= LAYER[_package(mod)]
    )
    assert not upward


def test_no_file_level_import_cycle():
    mods = _modules()
    assert not _cycles(_imports(mods), mods)


def test_no_package_level_import_cycle():
    mods = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, targets in _imports(mods).items():
        for target in targets:
            if _package(mod) != _package(target):
                edges[_package(mod)].add(_package(target))
    assert not _cycles(edges, {_package(m) for m in mods})


def test_kernels_import_nothing_above_them():
    mods = _modules()
    bad = [
        f"{mod} -> {target}"
        for mod, targets in _imports(mods).items()
        if _package(mod) == "kernels"
        for target in targets
        if _package(target) != "kernels"
    ]
    assert not bad


def test_the_checker_sees_lazy_imports_and_cycles():
    """The detector itself: a function-level import counts, and a two-module loop is a cycle."""
    edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(edges, edges) == [["a", "b"]]
    mods = _modules()
    lazy = _imports(mods)["spikeforge.kernels.gpu"]  # imports _triton_lif inside a function only
    assert "spikeforge.kernels._triton_lif" in lazy
    cli = _imports(mods)["spikeforge.cli"]  # "from . import _evaluate, _profile, ...": every one of them
    assert {"spikeforge.cli._train", "spikeforge.cli._profile"} <= cli
