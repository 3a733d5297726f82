"""The import graph of migraseg (an ast walk, no imports run): layered and without circles.

Every subpackage and every top-level module has a layer (:data:`LAYERS`, bottom first). A
module may import from its own layer or a lower one, never from a higher one, and no chain of
imports leads back to where it started. Function-level (lazy) imports count like any other:
they are dependencies all the same; imports under ``if TYPE_CHECKING:`` (annotations only,
never run) do not. A new folder or top-level module must be given a layer.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "migraseg"

# Bottom first. A unit is a subpackage (migraseg/<name>/) or a top-level module (<name>.py).
LAYERS: list[set[str]] = [
    {"__init__", "constants", "utils", "pretrained"},  # pretrained: the shipped models, by name
    {"io", "normalization", "resample", "postprocess", "losses", "model_meta", "visualize"},
    {"metrics", "models"},
    {"measure"},  # objects and tables from label images, with metrics' matching
    {"tracking"},  # time-lapses: drift, linking measured objects over frames, track tables
    {"synth"},  # the simulator: images and truth in memory
    {"data"},  # dataset folders: the contract, annotations, writing simulated sets, loading
    {"baseline", "annotations"},  # the classical segmentation; Fiji/napari annotations to datasets
    {"inference"},  # models run on images of any size, files in and out
    {"export"},  # TorchScript, torch.export, ONNX (checked in ONNX Runtime via inference)
    {"evaluation", "publish"},
    {"training"},  # train(cfg): evaluates and exports what it trained
    {"cli"},
    {"napari"},  # the napari plugin: a front end like cli (it runs training as a process)
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
# Copied into bioimage.io packages as the network's source: it must not import migraseg.
SELF_CONTAINED = {"migraseg.publish.package_network"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """migraseg modules ``name`` imports (a package, or a module of it, as named)."""
    is_package = path.name == "__init__.py"
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {t for t in targets if t in known}
    return found - {name}


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def test_every_folder_and_top_level_module_has_a_layer(graph):
    missing = sorted({unit(m) for m in graph} - set(RANK))
    assert not missing, f"give these a layer in tests/test_imports.py LAYERS: {missing}"


def test_no_module_imports_from_a_higher_layer(graph):
    upward = sorted(
        f"{module} ({unit(module)}) imports {target} ({unit(target)})"
        for module, targets in graph.items()
        for target in targets
        if RANK.get(unit(target), -1) > RANK.get(unit(module), len(LAYERS))
    )
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (as a path that ends where it starts), or None."""
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state[nxt] == 1:
                return [*path[path.index(nxt) :], nxt]
            if state[nxt] == 0 and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0 and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checks_catch_a_circle_and_an_upward_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert RANK["data"] < RANK["inference"] < RANK["evaluation"] < RANK["cli"]


def test_package_network_imports_nothing_of_migraseg(graph):
    for name in SELF_CONTAINED:
        tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
        roots = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert "migraseg" not in roots and graph[name] == set(), name
