"""The package's floors, read from its own imports: a module imports only its own floor or the ones
below, and no two packages import each other (directly or round a circle). Every import counts, also
one inside a function or a module's name handed to `importlib`: a lazy import is still a
dependency. docs/architecture.md draws the same table.

`python tests/test_layers.py` prints every upward import and every circle (the measure of issue 26)."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mlx_distill"

# Lowest first. A room is a top-level module or package of mlx_distill; an area's click commands
# (`X/cli.py`, `X/*_cli.py`) are the CLI's own room wherever they live, so they may wire any floor.
FLOORS: list[tuple[str, set[str]]] = [
    (
        "foundation",
        {
            "mlx_distill",
            "_blas",
            "runtime",
            "io",
            "errors",
            "vocab",
            "replies",
            "schema",
            "config",
            "prompting",
            "sandbox",
            "chat_template",
            "progress",
            "cli_errors",
            "cli_options",
            "append_only",
            "questions",
        },
    ),
    ("shapes, models, tools", {"formats", "models", "tools", "catalogue", "testing"}),
    ("agent, training, data", {"agent", "train", "data"}),
    ("benchmark", {"bench"}),
    ("teacher side", {"teacher", "collection", "economics"}),
    ("top", {"lrl", "cli", "resolve"}),
]
FLOOR_OF = {room: level for level, (_name, rooms) in enumerate(FLOORS, 1) for room in rooms}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str:
    parts = module.split(".")
    if parts[-1] == "cli" or parts[-1].endswith("_cli"):
        return "cli"
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(module: str, is_package: bool, node: ast.AST, modules: set[str]) -> list[tuple[int, str]]:
    """The mlx_distill modules one import statement names (or a string that is a module's full name)."""
    if isinstance(node, ast.Import):
        return [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "mlx_distill"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in modules:
        return [(node.lineno, node.value)]  # a module named for importlib (the CLI's registration table)
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    if base.split(".")[0] != "mlx_distill":
        return []
    return [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base) for a in node.names]


def import_edges() -> list[tuple[str, int, str]]:
    """(importing module, line, imported module) for every in-package import of the package."""
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    modules = set(files)
    edges: set[tuple[str, int, str]] = set()
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for line, target in _imported(module, path.name == "__init__.py", node, modules):
                edges.add((module, line, target))
    return sorted(edges)


def upward_imports(edges: list[tuple[str, int, str]]) -> list[str]:
    return [
        f"{src}:{line} imports {dst} ({room_of(src)}, floor {FLOOR_OF[room_of(src)]} -> "
        f"{room_of(dst)}, floor {FLOOR_OF[room_of(dst)]})"
        for src, line, dst in edges
        if FLOOR_OF[room_of(dst)] > FLOOR_OF[room_of(src)]
    ]


def circles(edges: list[tuple[str, int, str]]) -> list[list[str]]:
    """Groups of rooms that reach each other through imports (strongly connected, Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for src, _line, dst in edges:
        if room_of(src) != room_of(dst):
            graph[room_of(src)].add(room_of(dst))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for nxt in sorted(graph[room]):
            if nxt not in index:
                visit(nxt)
                low[room] = min(low[room], low[nxt])
            elif nxt in stack:
                low[room] = min(low[room], index[nxt])
        if low[room] == index[room]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == room:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for room in sorted(set(graph) | {r for targets in graph.values() for r in targets}):
        if room not in index:
            visit(room)
    return found


def test_every_module_of_the_package_sits_on_a_floor():
    rooms = {room_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert rooms - set(FLOOR_OF) == set()
    assert set(FLOOR_OF) - rooms == set(), "a room in the table that the package no longer has"


def test_the_import_reader_sees_imports_inside_functions_relative_imports_and_import_module():
    edges = {(src, dst) for src, _line, dst in import_edges()}
    assert ("mlx_distill.cli", "mlx_distill.models") in edges  # `from .models import prepare` in a command
    assert ("mlx_distill.cli", "mlx_distill.data.cli") in edges  # the registration table, for importlib
    assert ("mlx_distill.testing.tiny", "mlx_distill.tools") in edges  # `from ..tools import` in a function
    assert ("mlx_distill", "mlx_distill._blas") in edges  # `from ._blas import` in the package's __init__


def test_no_module_imports_from_a_floor_above_its_own():
    assert upward_imports(import_edges()) == []


def test_no_two_packages_import_each_other_round_a_circle():
    assert circles(import_edges()) == []


def test_a_made_up_upward_import_and_circle_are_caught():
    edges = [("mlx_distill.io", 3, "mlx_distill.bench.runner"), ("mlx_distill.bench.runner", 9, "mlx_distill.io")]
    assert upward_imports(edges) == [
        "mlx_distill.io:3 imports mlx_distill.bench.runner (io, floor 1 -> bench, floor 4)"
    ]
    assert circles(edges) == [["bench", "io"]]


if __name__ == "__main__":
    every = import_edges()
    up, round_ = upward_imports(every), circles(every)
    print(f"{len(every)} in-package imports; {len(up)} upward; {len(round_)} circles")
    print("\n".join(up))
    for group in round_:
        print("circle:", " <-> ".join(group))
    sys.exit(1 if up or round_ else 0)
