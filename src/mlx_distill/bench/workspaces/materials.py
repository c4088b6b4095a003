"""What the workspace builders share: the word pools every name is drawn from, seeded distinct names, and the
writing of files and of a small Python package."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

VERBS = (
    "load parse merge render sync flush resolve compute validate fetch encode decode rotate prune index "
    "score split pack emit collect normalize archive restore schedule dispatch compact verify hydrate"
).split()
NOUNS = (
    "invoice ledger ticket session token route payload batch report widget cursor bucket shard quota "
    "profile manifest receipt metric snapshot channel voucher parcel order tenant journal catalog beacon "
    "lease segment badge coupon ballot harbor orchard lantern meadow"
).split()
ADJECTIVES = (
    "amber brisk cobalt dusty eager fuzzy gentle hollow ivory jolly keen lunar mellow nimble opal plucky "
    "quiet rusty sunny tidy umber vivid witty zesty"
).split()
LIBRARIES = (
    "requests httpx attrs orjson pydantic click rich yaml toml numpy sqlalchemy jinja2 redis boto3 "
    "structlog tenacity arrow msgpack"
).split()
DEPENDENCIES = (
    "requests httpx attrs orjson pydantic click rich pyyaml jinja2 redis boto3 structlog tenacity arrow "
    "msgpack sqlalchemy uvicorn"
).split()


def pick(rng: random.Random, pool: list[str], n: int) -> list[str]:
    return rng.sample(pool, n)


def distinct_names(rng: random.Random, n: int, make: Callable[[], str]) -> list[str]:
    """n distinct names from a name-making function."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = make()
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def function_names(rng: random.Random, n: int) -> list[str]:
    return distinct_names(rng, n, lambda: f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}")


def module_names(rng: random.Random, n: int) -> list[str]:
    return distinct_names(
        rng, n, lambda: rng.choice([rng.choice(NOUNS), f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}"])
    )


def package_name(rng: random.Random) -> str:
    return f"{rng.choice(ADJECTIVES)}{rng.choice(NOUNS)}"


def write_text(root: Path, rel: str, text: str) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return rel


def function_source(name: str, rng: random.Random, *, calls: str | None = None) -> str:
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


def python_package(
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
    write_text(root, f"src/{pkg}/__init__.py", f'"""The {pkg} package."""\n')
    i = 0
    for mod, k in zip(mods, counts):
        rel = f"src/{pkg}/{mod}.py"
        fns = names[i : i + k]
        i += k
        header = (extra_header or {}).get(rel, "")
        text = f'"""{mod.replace("_", " ").capitalize()} helpers."""\n{header}\n\n' + "".join(
            function_source(f, rng) for f in fns
        )
        write_text(root, rel, text)
        layout[rel] = fns
    write_text(root, "README.md", f"# {pkg}\n\nInternal tools for the {rng.choice(NOUNS)} service.\n")
    return pkg, layout


def basename(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]
