"""Count cases: TODO lines, files of one extension, lines of a file, top-level functions."""

from __future__ import annotations

import random
import re
from pathlib import Path

from .materials import NOUNS, VERBS, module_names, pick, python_package, write_text
from .registry import Facts, workspace_builder


@workspace_builder("todo_count")
def todo_count(root: Path, rng: random.Random) -> Facts:
    """TODO comments spread over modules. Facts: count (lines containing 'TODO' under src/), files."""
    pkg, layout = python_package(root, rng, modules=rng.randint(3, 6), functions=(1, 3))
    for rel in layout:
        k = rng.randint(0, 3)
        with open(root / rel, "a", encoding="utf-8") as f:
            for _ in range(k):
                f.write(f"# TODO: {rng.choice(VERBS)} the {rng.choice(NOUNS)} before release\n")
    write_text(root, "NOTES.md", "Nothing to do here.\n")
    count = sum(1 for p in (root / "src").rglob("*.py") for line in p.read_text().splitlines() if "TODO" in line)
    with_todo = sorted(p.relative_to(root).as_posix() for p in (root / "src").rglob("*.py") if "TODO" in p.read_text())
    return {"count": count, "files": with_todo, "package": pkg}


@workspace_builder("file_count")
def file_count(root: Path, rng: random.Random) -> Facts:
    """A folder with files of mixed extensions. Facts: folder, ext, count."""
    folder = rng.choice(["docs", "assets", "notes", "reports", "migrations"])
    ext, other = pick(rng, ["md", "txt", "sql", "csv", "json", "yaml"], 2)
    n, m = rng.randint(2, 9), rng.randint(1, 5)
    for name in module_names(rng, n):
        write_text(root, f"{folder}/{name}.{ext}", f"{name}\n")
    for name in module_names(rng, m):
        write_text(root, f"{folder}/{name}_extra.{other}", f"{name}\n")
    # files of the same extension outside the folder must not be counted
    for name in module_names(rng, rng.randint(1, 3)):
        write_text(root, f"archive/{name}.{ext}", f"{name}\n")
    count = sum(1 for p in (root / folder).rglob(f"*.{ext}"))
    return {"folder": folder, "ext": ext, "count": count}


@workspace_builder("line_count")
def line_count(root: Path, rng: random.Random) -> Facts:
    """A data file with a random number of lines. Facts: path, count."""
    name = rng.choice(["customers", "events", "orders", "readings", "users"])
    n = rng.randint(5, 40)
    rows = "".join(f"{rng.choice(NOUNS)},{rng.randint(1, 999)}\n" for _ in range(n))
    path = write_text(root, f"data/{name}.csv", rows)
    write_text(root, "data/README.md", "Sample data.\n")
    count = len((root / path).read_text().splitlines())
    return {"path": path, "count": count}


@workspace_builder("function_count")
def function_count(root: Path, rng: random.Random) -> Facts:
    """Modules with several top-level functions. Facts: path, count (top-level `def`s in path)."""
    pkg, layout = python_package(root, rng, modules=rng.randint(2, 4), functions=(2, 9))
    path = rng.choice(sorted(layout))
    count = len(re.findall(r"^def ", (root / path).read_text(), re.M))
    return {"path": path, "count": count, "package": pkg}
