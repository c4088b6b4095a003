"""Seeded workspace generators: each writes a small randomized project into an empty directory and
returns the facts about it (names, paths, counts, values) that fill a case's question and decide
whether an answer is right.

Everything a question asks about is drawn from the seed — file names, how many there are, the
values in them, function names — so the same case asks about different things under different
seeds, and a model that memorised an answer instead of looking fails. Counts are measured from the
files after they are written, so the ground truth is what the workspace really holds.

A generator is `fn(root: Path, rng: random.Random, **params) -> dict[str, Any]`; register it with
`@generator("kind")`. Facts are JSON-able (str, int, list of str).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any, Callable

from ..io import InputError

Facts = dict[str, Any]
Generator = Callable[..., Facts]

GENERATORS: dict[str, Generator] = {}


def generator(kind: str) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        GENERATORS[kind] = fn
        return fn

    return register


def case_rng(case_id: str, seed: int) -> random.Random:
    """The random stream of one case under one seed (stable across Python runs and platforms)."""
    return random.Random(f"mlx-distill-bench:{seed}:{case_id}")


def build_workspace(spec: dict[str, Any], root: str | Path, *, case_id: str = "case", seed: int = 0) -> Facts:
    """Generate the workspace described by `spec` ({"kind": ..., **params}) into `root` (created
    if missing, expected empty) and return its facts."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in GENERATORS:
        raise InputError(
            f"unknown workspace kind {kind!r} (known: {', '.join(sorted(GENERATORS))})",
            record_id=case_id,
            rule="workspace",
        )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        facts = GENERATORS[kind](root, case_rng(case_id, seed), **spec)
    except TypeError as e:  # unknown or missing parameters of the generator
        raise InputError(f"workspace {kind!r}: {e}", record_id=case_id, rule="workspace") from None
    facts.setdefault("kind", kind)
    return facts


# -- word pools ---------------------------------------------------------------------------------

VERBS = [
    "load",
    "parse",
    "merge",
    "render",
    "sync",
    "flush",
    "resolve",
    "compute",
    "validate",
    "fetch",
    "encode",
    "decode",
    "rotate",
    "prune",
    "index",
    "score",
    "split",
    "pack",
    "emit",
    "collect",
    "normalize",
    "archive",
    "restore",
    "schedule",
    "dispatch",
    "compact",
    "verify",
    "hydrate",
]
NOUNS = [
    "invoice",
    "ledger",
    "ticket",
    "session",
    "token",
    "route",
    "payload",
    "batch",
    "report",
    "widget",
    "cursor",
    "bucket",
    "shard",
    "quota",
    "profile",
    "manifest",
    "receipt",
    "metric",
    "snapshot",
    "channel",
    "voucher",
    "parcel",
    "order",
    "tenant",
    "journal",
    "catalog",
    "beacon",
    "lease",
    "segment",
    "badge",
    "coupon",
    "ballot",
    "harbor",
    "orchard",
    "lantern",
    "meadow",
]
ADJECTIVES = [
    "amber",
    "brisk",
    "cobalt",
    "dusty",
    "eager",
    "fuzzy",
    "gentle",
    "hollow",
    "ivory",
    "jolly",
    "keen",
    "lunar",
    "mellow",
    "nimble",
    "opal",
    "plucky",
    "quiet",
    "rusty",
    "sunny",
    "tidy",
    "umber",
    "vivid",
    "witty",
    "zesty",
]
LIBRARIES = [
    "requests",
    "httpx",
    "attrs",
    "orjson",
    "pydantic",
    "click",
    "rich",
    "yaml",
    "toml",
    "numpy",
    "sqlalchemy",
    "jinja2",
    "redis",
    "boto3",
    "structlog",
    "tenacity",
    "arrow",
    "msgpack",
]
DEPENDENCIES = [
    "requests",
    "httpx",
    "attrs",
    "orjson",
    "pydantic",
    "click",
    "rich",
    "pyyaml",
    "jinja2",
    "redis",
    "boto3",
    "structlog",
    "tenacity",
    "arrow",
    "msgpack",
    "sqlalchemy",
    "uvicorn",
]


def _pick(rng: random.Random, pool: list[str], n: int) -> list[str]:
    return rng.sample(pool, n)


def _names(rng: random.Random, n: int, make: Callable[[], str]) -> list[str]:
    """n distinct names from a generator function."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = make()
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def function_names(rng: random.Random, n: int) -> list[str]:
    return _names(rng, n, lambda: f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}")


def module_names(rng: random.Random, n: int) -> list[str]:
    return _names(rng, n, lambda: rng.choice([rng.choice(NOUNS), f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}"]))


def package_name(rng: random.Random) -> str:
    return f"{rng.choice(ADJECTIVES)}{rng.choice(NOUNS)}"


def _write(root: Path, rel: str, text: str) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return rel


def _function_source(name: str, rng: random.Random, *, calls: str | None = None) -> str:
    arg = rng.choice(["items", "value", "record", "payload", "rows"])
    body = rng.choice(
        [
            f"    return [x for x in {arg} if x]\n",
            f"    return len({arg}) * {rng.randint(2, 9)}\n",
            f"    result = dict({arg})\n    result['seen'] = True\n    return result\n",
            f"    if not {arg}:\n        return None\n    return {arg}[0]\n",
            f"    return sorted({arg})\n",
        ]
    )
    if calls:
        body = f"    {arg} = {calls}({arg})\n" + body
    return f'def {name}({arg}):\n    """{name.replace("_", " ").capitalize()}."""\n{body}\n\n'


def _python_package(
    root: Path,
    rng: random.Random,
    *,
    modules: int,
    functions: tuple[int, int],
    extra_header: dict[str, str] | None = None,
) -> tuple[str, dict[str, list[str]]]:
    """A package src/<pkg>/ with `modules` modules; returns (pkg, {relative path: [function names]})."""
    pkg = package_name(rng)
    mods = module_names(rng, modules)
    counts = [rng.randint(*functions) for _ in mods]
    names = function_names(rng, sum(counts))
    layout: dict[str, list[str]] = {}
    _write(root, f"src/{pkg}/__init__.py", f'"""The {pkg} package."""\n')
    i = 0
    for mod, k in zip(mods, counts):
        rel = f"src/{pkg}/{mod}.py"
        fns = names[i : i + k]
        i += k
        header = (extra_header or {}).get(rel, "")
        text = f'"""{mod.replace("_", " ").capitalize()} helpers."""\n{header}\n\n' + "".join(
            _function_source(f, rng) for f in fns
        )
        _write(root, rel, text)
        layout[rel] = fns
    _write(root, "README.md", f"# {pkg}\n\nInternal tools for the {rng.choice(NOUNS)} service.\n")
    return pkg, layout


def _basename(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


# -- search --------------------------------------------------------------------------------------


@generator("function_definition")
def function_definition(root: Path, rng: random.Random, modules: tuple[int, int] = (4, 7)) -> Facts:
    """A package of modules; one function, defined in exactly one module, is also called from another.
    Facts: function, file, file_name, package."""
    pkg, layout = _python_package(root, rng, modules=rng.randint(*modules), functions=(2, 4))
    files = sorted(layout)
    target_file = rng.choice(files)
    function = rng.choice(layout[target_file])
    caller = rng.choice([f for f in files if f != target_file])
    mod = _basename(target_file)[:-3]
    with open(root / caller, "a", encoding="utf-8") as f:
        f.write(f"from .{mod} import {function}\n\n\ndef uses_{function}(x):\n    return {function}(x)\n")
    return {"function": function, "file": target_file, "file_name": _basename(target_file), "package": pkg}


@generator("importers")
def importers(root: Path, rng: random.Random) -> Facts:
    """Modules some of which import one library. Facts: library, importers (paths), importer_names,
    importer_count."""
    library, other = _pick(rng, LIBRARIES, 2)
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
        _write(root, f"{pkg}/{mod}.py", "\n".join(lines) + "\n\n\n" + "".join(_function_source(f, rng) for f in fns))
    _write(root, "requirements.txt", f"{library}\n{other}\n")
    found = sorted(
        rel.as_posix()
        for rel in (p.relative_to(root) for p in root.rglob("*.py"))
        if re.search(rf"^(import|from) {re.escape(library)}\b", (root / rel).read_text(), re.M)
    )
    return {
        "library": library,
        "importers": found,
        "importer_names": [_basename(f) for f in found],
        "importer_count": len(found),
    }


@generator("error_code")
def error_code(root: Path, rng: random.Random) -> Facts:
    """An error code string raised in exactly one module (others raise different codes).
    Facts: code, file, file_name, function."""
    pkg, layout = _python_package(root, rng, modules=rng.randint(4, 6), functions=(1, 3))
    codes = _names(rng, len(layout), lambda: f"E{rng.randint(1000, 9999)}")
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
            facts = {"code": codes[i], "file": rel, "file_name": _basename(rel), "function": fn}
    return facts


@generator("env_var")
def env_var(root: Path, rng: random.Random) -> Facts:
    """One module reads an environment variable. Facts: variable, file, file_name."""
    pkg, layout = _python_package(root, rng, modules=rng.randint(3, 6), functions=(1, 3))
    variable = f"{rng.choice(ADJECTIVES).upper()}_{rng.choice(NOUNS).upper()}_{rng.choice(['URL', 'TOKEN', 'DIR', 'MODE', 'LIMIT'])}"
    rel = rng.choice(sorted(layout))
    with open(root / rel, "a", encoding="utf-8") as f:
        f.write(f'import os\n\nSETTING = os.environ.get("{variable}", "")\n')
    return {"variable": variable, "file": rel, "file_name": _basename(rel)}


# -- read ----------------------------------------------------------------------------------------


@generator("config_value")
def config_value(root: Path, rng: random.Random, format: str | None = None) -> Facts:
    """A configuration file (json, toml, ini or yaml) with a few keys. Facts: path, key, value."""
    fmt = format or rng.choice(["json", "toml", "ini", "yaml"])
    keys = _names(
        rng,
        rng.randint(4, 7),
        lambda: rng.choice(
            [
                "port",
                "timeout_s",
                "max_workers",
                "retries",
                "batch_size",
                "cache_ttl",
                "pool_size",
                "log_level",
                "region",
                "queue_name",
                "page_size",
                "backoff_ms",
            ]
        ),
    )
    values: dict[str, Any] = {}
    for k in keys:
        if k == "log_level":
            values[k] = rng.choice(["debug", "info", "warning", "error"])
        elif k == "region":
            values[k] = rng.choice(["eu-west-1", "us-east-2", "ap-south-1", "eu-central-1"])
        elif k == "queue_name":
            values[k] = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        elif k == "port":
            values[k] = rng.randint(3000, 9999)
        else:
            values[k] = rng.randint(2, 900)
    name = rng.choice(["settings", "app", "service", "config"])
    path = f"config/{name}.{fmt}"
    if fmt == "json":
        text = json.dumps({"service": values}, indent=2) + "\n"
    elif fmt == "toml":
        text = "[service]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    elif fmt == "ini":
        text = "[service]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    else:
        text = "service:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items())
    _write(root, path, text)
    # a decoy with different values, so reading the wrong file gives a wrong answer
    _write(root, f"config/{name}.example.{fmt}", text.replace(str(values[keys[0]]), str(values[keys[0]]) + "0"))
    key = rng.choice(keys)
    return {"path": path, "key": key, "value": str(values[key])}


@generator("constant_value")
def constant_value(root: Path, rng: random.Random) -> Facts:
    """A module of constants. Facts: path, constant, value."""
    pkg = package_name(rng)
    names = _names(
        rng,
        rng.randint(4, 8),
        lambda: (
            f"{rng.choice(['MAX', 'MIN', 'DEFAULT', 'LIMIT'])}_"
            f"{rng.choice(NOUNS).upper()}_{rng.choice(['COUNT', 'SIZE', 'AGE', 'RETRIES'])}"
        ),
    )
    values = [rng.randint(3, 5000) for _ in names]
    path = f"{pkg}/constants.py"
    _write(root, path, '"""Tunable limits."""\n\n' + "".join(f"{n} = {v}\n" for n, v in zip(names, values)))
    _write(root, f"{pkg}/__init__.py", "")
    i = rng.randrange(len(names))
    return {"path": path, "constant": names[i], "value": str(values[i])}


@generator("package_version")
def package_version(root: Path, rng: random.Random) -> Facts:
    """pyproject.toml with a version and pinned dependencies. Facts: name, version, dependency, pin."""
    name = package_name(rng)
    version = f"{rng.randint(0, 4)}.{rng.randint(0, 19)}.{rng.randint(0, 30)}"
    deps = _pick(rng, DEPENDENCIES, rng.randint(3, 6))
    pins = {d: f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}" for d in deps}
    _write(
        root,
        "pyproject.toml",
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        'requires-python = ">=3.10"\ndependencies = [\n'
        + "".join(f'    "{d}=={p}",\n' for d, p in pins.items())
        + "]\n",
    )
    _write(root, f"src/{name}/__init__.py", f'__version__ = "{version}"\n')
    dep = rng.choice(deps)
    return {"name": name, "version": version, "dependency": dep, "pin": pins[dep]}


@generator("changelog")
def changelog(root: Path, rng: random.Random) -> Facts:
    """CHANGELOG.md with several releases. Facts: latest_version, latest_date, oldest_version."""
    n = rng.randint(3, 6)
    major = rng.randint(0, 3)
    minors = sorted(rng.sample(range(1, 30), n), reverse=True)
    versions = [f"{major}.{m}.{rng.randint(0, 9)}" for m in minors]
    year = rng.randint(2019, 2024)
    days = sorted(rng.sample(range(1, 28), n), reverse=True)
    months = sorted(rng.sample(range(1, 13), n), reverse=True) if n <= 12 else [1] * n
    dates = [f"{year}-{mo:02d}-{d:02d}" for mo, d in zip(months, days)]
    body = "# Changelog\n\n" + "".join(
        f"## {v} ({d})\n\n- {rng.choice(['Fixed', 'Added', 'Improved'])} {rng.choice(NOUNS)} handling.\n\n"
        for v, d in zip(versions, dates)
    )
    _write(root, "CHANGELOG.md", body)
    return {"latest_version": versions[0], "latest_date": dates[0], "oldest_version": versions[-1]}


# -- count ---------------------------------------------------------------------------------------


@generator("todo_count")
def todo_count(root: Path, rng: random.Random) -> Facts:
    """TODO comments spread over modules. Facts: count (lines containing 'TODO' under src/), files."""
    pkg, layout = _python_package(root, rng, modules=rng.randint(3, 6), functions=(1, 3))
    for rel in layout:
        k = rng.randint(0, 3)
        with open(root / rel, "a", encoding="utf-8") as f:
            for _ in range(k):
                f.write(f"# TODO: {rng.choice(VERBS)} the {rng.choice(NOUNS)} before release\n")
    _write(root, "NOTES.md", "Nothing to do here.\n")
    count = sum(1 for p in (root / "src").rglob("*.py") for line in p.read_text().splitlines() if "TODO" in line)
    with_todo = sorted(p.relative_to(root).as_posix() for p in (root / "src").rglob("*.py") if "TODO" in p.read_text())
    return {"count": count, "files": with_todo, "package": pkg}


@generator("file_count")
def file_count(root: Path, rng: random.Random) -> Facts:
    """A folder with files of mixed extensions. Facts: folder, ext, count."""
    folder = rng.choice(["docs", "assets", "notes", "reports", "migrations"])
    ext, other = _pick(rng, ["md", "txt", "sql", "csv", "json", "yaml"], 2)
    n, m = rng.randint(2, 9), rng.randint(1, 5)
    for name in module_names(rng, n):
        _write(root, f"{folder}/{name}.{ext}", f"{name}\n")
    for name in module_names(rng, m):
        _write(root, f"{folder}/{name}_extra.{other}", f"{name}\n")
    # files of the same extension outside the folder must not be counted
    for name in module_names(rng, rng.randint(1, 3)):
        _write(root, f"archive/{name}.{ext}", f"{name}\n")
    count = sum(1 for p in (root / folder).rglob(f"*.{ext}"))
    return {"folder": folder, "ext": ext, "count": count}


@generator("line_count")
def line_count(root: Path, rng: random.Random) -> Facts:
    """A data file with a random number of lines. Facts: path, count."""
    name = rng.choice(["customers", "events", "orders", "readings", "users"])
    n = rng.randint(5, 40)
    rows = "".join(f"{rng.choice(NOUNS)},{rng.randint(1, 999)}\n" for _ in range(n))
    path = _write(root, f"data/{name}.csv", rows)
    _write(root, "data/README.md", "Sample data.\n")
    count = len((root / path).read_text().splitlines())
    return {"path": path, "count": count}


@generator("function_count")
def function_count(root: Path, rng: random.Random) -> Facts:
    """Modules with several top-level functions. Facts: path, count (top-level `def`s in path)."""
    pkg, layout = _python_package(root, rng, modules=rng.randint(2, 4), functions=(2, 9))
    path = rng.choice(sorted(layout))
    count = len(re.findall(r"^def ", (root / path).read_text(), re.M))
    return {"path": path, "count": count, "package": pkg}


# -- run -----------------------------------------------------------------------------------------


@generator("script_output")
def script_output(root: Path, rng: random.Random) -> Facts:
    """A script printing a checksum of data generated from the seed (hard to compute by hand).
    Facts: script, output."""
    words = function_names(rng, rng.randint(3, 6))
    salt = rng.randint(1000, 99999)
    name = rng.choice(["checksum", "digest", "fingerprint", "signature"])
    script = f"tools/{name}.py"
    _write(
        root,
        script,
        (
            "import hashlib\n\n"
            f"WORDS = {words!r}\nSALT = {salt}\n\n"
            "def main():\n"
            "    text = '|'.join(WORDS) + str(SALT)\n"
            "    print(hashlib.sha256(text.encode()).hexdigest()[:12])\n\n\n"
            "if __name__ == '__main__':\n    main()\n"
        ),
    )
    output = hashlib.sha256(("|".join(words) + str(salt)).encode()).hexdigest()[:12]
    return {"script": script, "output": output}


@generator("failing_check")
def failing_check(root: Path, rng: random.Random) -> Facts:
    """checks.py runs several checks and reports the one that fails. Facts: script, failing, checks."""
    names = [f"check_{n}" for n in function_names(rng, rng.randint(3, 6))]
    bad = rng.choice(names)
    body = ["import sys\n\n"]
    for n in names:
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        expected = a * b + (rng.randint(1, 5) if n == bad else 0)
        body.append(f"def {n}():\n    return {a} * {b} == {expected}\n\n\n")
    body.append(
        "def main():\n    failed = [f.__name__ for f in CHECKS if not f()]\n"
        "    for name in failed:\n        print('FAILED', name)\n"
        "    print(len(CHECKS) - len(failed), 'passed')\n    return 1 if failed else 0\n\n\n"
        f"CHECKS = [{', '.join(names)}]\n\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n"
    )
    _write(root, "checks.py", "".join(body))
    return {"script": "checks.py", "failing": bad, "checks": names}


@generator("exit_code")
def exit_code(root: Path, rng: random.Random) -> Facts:
    """A validation script whose exit status depends on data files. Facts: script, code."""
    n = rng.randint(3, 8)
    bad = rng.randint(0, n)
    rows = ["ok"] * (n - bad) + ["broken"] * bad
    rng.shuffle(rows)
    _write(root, "data/rows.txt", "\n".join(rows) + "\n")
    _write(
        root,
        "validate.py",
        (
            "import sys\n\n"
            "rows = open('data/rows.txt').read().split()\n"
            "bad = sum(1 for r in rows if r != 'ok')\n"
            "print(f'{bad} bad rows')\n"
            "sys.exit(min(bad, 100))\n"
        ),
    )
    return {"script": "validate.py", "code": str(min(bad, 100)), "bad_rows": bad}


# -- write ---------------------------------------------------------------------------------------


@generator("write_note")
def write_note(root: Path, rng: random.Random) -> Facts:
    """An existing notes folder; the task writes a new file. Facts: path, token."""
    _write(root, "notes/README.md", "Team notes.\n")
    path = f"notes/{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}.txt"
    token = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{rng.randint(100, 999)}"
    return {"path": path, "token": token}


@generator("write_function")
def write_function(root: Path, rng: random.Random) -> Facts:
    """A package; the task adds a module defining a named function. Facts: path, function, value."""
    pkg, layout = _python_package(root, rng, modules=2, functions=(1, 2))
    function = function_names(rng, 1)[0]
    path = f"src/{pkg}/{rng.choice(NOUNS)}_extra.py"
    return {"path": path, "function": function, "value": str(rng.randint(10, 999)), "package": pkg}


@generator("write_config")
def write_config(root: Path, rng: random.Random) -> Facts:
    """A config folder; the task writes a JSON file with a key. Facts: path, key, value."""
    _write(root, "config/base.json", json.dumps({"debug": False}) + "\n")
    key = rng.choice(["max_connections", "retry_limit", "worker_count", "flush_interval"])
    value = str(rng.randint(2, 512))
    path = f"config/{rng.choice(['local', 'staging', 'override'])}.json"
    return {"path": path, "key": key, "value": value}
