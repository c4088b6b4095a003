"""Read cases: a value held in a configuration file, a constants module, pyproject.toml or a changelog."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .materials import ADJECTIVES, DEPENDENCIES, NOUNS, distinct_names, package_name, pick, write_text
from .registry import Facts, workspace_builder


@workspace_builder("config_value")
def config_value(root: Path, rng: random.Random, format: str | None = None) -> Facts:
    """A configuration file (json, toml, ini or yaml) with a few keys. Facts: path, key, value."""
    fmt = format or rng.choice(["json", "toml", "ini", "yaml"])
    keys = distinct_names(
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
    write_text(root, path, text)
    # a decoy with different values, so reading the wrong file gives a wrong answer
    write_text(root, f"config/{name}.example.{fmt}", text.replace(str(values[keys[0]]), str(values[keys[0]]) + "0"))
    key = rng.choice(keys)
    return {"path": path, "key": key, "value": str(values[key])}


@workspace_builder("constant_value")
def constant_value(root: Path, rng: random.Random) -> Facts:
    """A module of constants. Facts: path, constant, value."""
    pkg = package_name(rng)
    names = distinct_names(
        rng,
        rng.randint(4, 8),
        lambda: (
            f"{rng.choice(['MAX', 'MIN', 'DEFAULT', 'LIMIT'])}_"
            f"{rng.choice(NOUNS).upper()}_{rng.choice(['COUNT', 'SIZE', 'AGE', 'RETRIES'])}"
        ),
    )
    values = [rng.randint(3, 5000) for _ in names]
    path = f"{pkg}/constants.py"
    write_text(root, path, '"""Tunable limits."""\n\n' + "".join(f"{n} = {v}\n" for n, v in zip(names, values)))
    write_text(root, f"{pkg}/__init__.py", "")
    i = rng.randrange(len(names))
    return {"path": path, "constant": names[i], "value": str(values[i])}


@workspace_builder("package_version")
def package_version(root: Path, rng: random.Random) -> Facts:
    """pyproject.toml with a version and pinned dependencies. Facts: name, version, dependency, pin."""
    name = package_name(rng)
    version = f"{rng.randint(0, 4)}.{rng.randint(0, 19)}.{rng.randint(0, 30)}"
    deps = pick(rng, DEPENDENCIES, rng.randint(3, 6))
    pins = {d: f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}" for d in deps}
    write_text(
        root,
        "pyproject.toml",
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        'requires-python = ">=3.10"\ndependencies = [\n'
        + "".join(f'    "{d}=={p}",\n' for d, p in pins.items())
        + "]\n",
    )
    write_text(root, f"src/{name}/__init__.py", f'__version__ = "{version}"\n')
    dep = rng.choice(deps)
    return {"name": name, "version": version, "dependency": dep, "pin": pins[dep]}


@workspace_builder("changelog")
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
    write_text(root, "CHANGELOG.md", body)
    return {"latest_version": versions[0], "latest_date": dates[0], "oldest_version": versions[-1]}
