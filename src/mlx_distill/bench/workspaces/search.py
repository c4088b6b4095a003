"""Search cases: where is something defined, imported, raised or read (answered with grep)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from .materials import (
    ADJECTIVES,
    LIBRARIES,
    NOUNS,
    basename,
    distinct_names,
    function_names,
    function_source,
    module_names,
    package_name,
    pick,
    python_package,
    write_text,
)
from .registry import Facts, workspace_builder


@workspace_builder("function_definition")
def function_definition(root: Path, rng: random.Random, modules: tuple[int, int] = (4, 7)) -> Facts:
    """A package of modules; one function, defined in exactly one module, is also called from another.
    Facts: function, file, file_name, package."""
    pkg, layout = python_package(root, rng, modules=rng.randint(*modules), functions=(2, 4))
    files = sorted(layout)
    target_file = rng.choice(files)
    function = rng.choice(layout[target_file])
    caller = rng.choice([f for f in files if f != target_file])
    mod = basename(target_file)[:-3]
    with open(root / caller, "a", encoding="utf-8") as f:
        f.write(f"from .{mod} import {function}\n\n\ndef uses_{function}(x):\n    return {function}(x)\n")
    return {"function": function, "file": target_file, "file_name": basename(target_file), "package": pkg}


@workspace_builder("importers")
def importers(root: Path, rng: random.Random) -> Facts:
    """Modules some of which import one library. Facts: library, importers (paths), importer_names,
    importer_count."""
    library, other = pick(rng, LIBRARIES, 2)
    n = rng.randint(4, 7)
    mods = module_names(rng, n)
    k = rng.randint(1, min(3, n - 1))
    chosen = set(rng.sample(mods, k))
    pkg = package_name(rng)
    for mod in mods:
        lines = ["import os"]
        if mod in chosen:
            lines.append(rng.choice([f"import {library}", f"from {library} import *"]))
        elif rng.random() < 0.5:
            lines.append(f"import {other}")
        fns = function_names(rng, 2)
        write_text(root, f"{pkg}/{mod}.py", "\n".join(lines) + "\n\n\n" + "".join(function_source(f, rng) for f in fns))
    write_text(root, "requirements.txt", f"{library}\n{other}\n")
    found = sorted(
        rel.as_posix()
        for rel in (p.relative_to(root) for p in root.rglob("*.py"))
        if re.search(rf"^(import|from) {re.escape(library)}\b", (root / rel).read_text(), re.M)
    )
    return {
        "library": library,
        "importers": found,
        "importer_names": [basename(f) for f in found],
        "importer_count": len(found),
    }


@workspace_builder("error_code")
def error_code(root: Path, rng: random.Random) -> Facts:
    """An error code string raised in exactly one module (others raise different codes).
    Facts: code, file, file_name, function."""
    pkg, layout = python_package(root, rng, modules=rng.randint(4, 6), functions=(1, 3))
    codes = distinct_names(rng, len(layout), lambda: f"E{rng.randint(1000, 9999)}")
    target = rng.randrange(len(layout))
    facts: Facts = {}
    for i, (rel, fns) in enumerate(sorted(layout.items())):
        fn = f"check_{rng.choice(NOUNS)}_{i}"
        with open(root / rel, "a", encoding="utf-8") as f:
            f.write(
                f'def {fn}(value):\n    if value is None:\n        raise ValueError("{codes[i]}: missing value")\n'
                "    return value\n"
            )
        if i == target:
            facts = {"code": codes[i], "file": rel, "file_name": basename(rel), "function": fn}
    return facts


@workspace_builder("env_var")
def env_var(root: Path, rng: random.Random) -> Facts:
    """One module reads an environment variable. Facts: variable, file, file_name."""
    pkg, layout = python_package(root, rng, modules=rng.randint(3, 6), functions=(1, 3))
    variable = f"{rng.choice(ADJECTIVES).upper()}_{rng.choice(NOUNS).upper()}_{rng.choice(['URL', 'TOKEN', 'DIR', 'MODE', 'LIMIT'])}"
    rel = rng.choice(sorted(layout))
    with open(root / rel, "a", encoding="utf-8") as f:
        f.write(f'import os\n\nSETTING = os.environ.get("{variable}", "")\n')
    return {"variable": variable, "file": rel, "file_name": basename(rel)}
