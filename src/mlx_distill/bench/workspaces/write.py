"""Write cases: a new note, module or config file the task asks for (checked after the run)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from .materials import ADJECTIVES, NOUNS, function_names, python_package, write_text
from .registry import Facts, workspace_builder


@workspace_builder("write_note")
def write_note(root: Path, rng: random.Random) -> Facts:
    """An existing notes folder; the task writes a new file. Facts: path, token."""
    write_text(root, "notes/README.md", "Team notes.\n")
    path = f"notes/{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}.txt"
    token = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}-{rng.randint(100, 999)}"
    return {"path": path, "token": token}


@workspace_builder("write_function")
def write_function(root: Path, rng: random.Random) -> Facts:
    """A package; the task adds a module defining a named function. Facts: path, function, value."""
    pkg, layout = python_package(root, rng, modules=2, functions=(1, 2))
    function = function_names(rng, 1)[0]
    path = f"src/{pkg}/{rng.choice(NOUNS)}_extra.py"
    return {"path": path, "function": function, "value": str(rng.randint(10, 999)), "package": pkg}


@workspace_builder("write_config")
def write_config(root: Path, rng: random.Random) -> Facts:
    """A config folder; the task writes a JSON file with a key. Facts: path, key, value."""
    write_text(root, "config/base.json", json.dumps({"debug": False}) + "\n")
    key = rng.choice(["max_connections", "retry_limit", "worker_count", "flush_interval"])
    value = str(rng.randint(2, 512))
    path = f"config/{rng.choice(['local', 'staging', 'override'])}.json"
    return {"path": path, "key": key, "value": value}
