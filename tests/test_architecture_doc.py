"""docs/architecture.md lists every module of the package, one line each, under the floor its package
stands on (the floors of tests/test_layers.py), so the list stays whole as modules come and go; and every
module stays under 450 lines unless its docstring says why.

`python tests/test_architecture_doc.py` prints what is missing, extra or misplaced, and the largest modules."""

from __future__ import annotations

import ast
import re
import sys

from test_layers import FLOOR_OF, FLOORS, PACKAGE, module_name

DOC = PACKAGE.parents[1] / "docs" / "architecture.md"
SECTION = "## Every module, floor by floor"
MAX_LINES = 450
FLOOR_HEADING = re.compile(r"^### Floor (\d+): (.+)$")
MODULE_LINE = re.compile(r"^- `([^`]+\.py)`: \S")


def package_floor(path: str) -> int:
    """The floor of the package a module belongs to (an area's `cli.py` is listed with its package)."""
    parts = module_name(PACKAGE / path).split(".")
    return FLOOR_OF[parts[1] if len(parts) > 1 else parts[0]]


def listed(text: str) -> list[tuple[int, str, int]]:
    """(floor, module path, line) for every module line of the doc's module section."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    lines = text[start : end if end != -1 else len(text)].splitlines()
    first = text[:start].count("\n") + 1
    out, floor = [], 0
    for i, line in enumerate(lines):
        heading = FLOOR_HEADING.match(line)
        if heading:
            floor = int(heading.group(1))
            assert FLOORS[floor - 1][0] == heading.group(2), f"docs/architecture.md:{first + i}: {line!r}"
        found = MODULE_LINE.match(line)
        if found:
            out.append((floor, found.group(1), first + i))
    return out


def problems(text: str, modules: set[str]) -> list[str]:
    """What keeps the doc's list from being every module of the package, each once, on its floor."""
    entries = listed(text)
    seen: dict[str, int] = {}
    out = []
    for floor, path, line in entries:
        if path in seen:
            out.append(f"docs/architecture.md:{line}: {path} listed twice (first at line {seen[path]})")
        seen.setdefault(path, line)
        if path not in modules:
            out.append(f"docs/architecture.md:{line}: {path} is not a module of src/mlx_distill")
        elif floor != package_floor(path):
            out.append(
                f"docs/architecture.md:{line}: {path} is under floor {floor}, its package is on {package_floor(path)}"
            )
    out += [f"docs/architecture.md: {path} is missing from '{SECTION}'" for path in sorted(modules - set(seen))]
    return out


def package_modules() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")}


def oversized() -> list[str]:
    """Modules over MAX_LINES lines whose docstring does not say why (a sentence naming '450 lines')."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_LINES and f"{MAX_LINES} lines" not in (ast.get_docstring(ast.parse(text)) or ""):
            out.append(f"{path.relative_to(PACKAGE).as_posix()}: {n} lines")
    return out


def test_the_architecture_doc_lists_every_module_once_under_its_floor():
    assert problems(DOC.read_text(encoding="utf-8"), package_modules()) == []


def test_a_missing_an_extra_a_repeated_and_a_misplaced_module_are_caught():
    doc = (
        f"intro\n{SECTION}\n\n### Floor 1: foundation\n\n- `io.py`: files.\n- `gone.py`: removed.\n"
        "- `io.py`: again.\n- `bench/runner.py`: the loop.\n\n### Floor 4: benchmark\n\n- `bench/cli.py`: commands.\n"
        "\n## Next section\n\n- `vocab.py`: after the section, not counted.\n"
    )
    modules = {"io.py", "vocab.py", "bench/runner.py", "bench/cli.py"}
    assert problems(doc, modules) == [
        "docs/architecture.md:7: gone.py is not a module of src/mlx_distill",
        "docs/architecture.md:8: io.py listed twice (first at line 6)",
        "docs/architecture.md:9: bench/runner.py is under floor 1, its package is on 4",
        "docs/architecture.md: vocab.py is missing from '## Every module, floor by floor'",
    ]


def test_every_module_is_under_450_lines_or_says_why_in_its_docstring():
    assert oversized() == []


if __name__ == "__main__":
    found = problems(DOC.read_text(encoding="utf-8"), package_modules()) + oversized()
    print("\n".join(found) or "docs/architecture.md lists every module; none over 450 lines without a reason")
    sizes = sorted(
        (len(p.read_text(encoding="utf-8").splitlines()), p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
    )
    for n, path in sizes[-5:]:
        print(f"{n:5} {path}")
    sys.exit(1 if found else 0)
