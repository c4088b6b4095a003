"""Small synthetic train/valid/test splits in the record format, for tests and the speed scripts
(bench/) when no built data (data/mlx_format) is at hand. Tool-call conversations (call, result, answer) and
direct answers, rendered with the real tool schemas and system prompt."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional, Sequence

from ..io import write_splits
from ..schema import ToolCall

MODULES = ["svcs", "requests", "numpy", "click", "pydantic", "yaml", "json", "rich", "attrs", "httpx", "flask"]
FILES = ["src/app.py", "src/cli.py", "src/models.py", "tests/test_app.py", "setup.py", "README.md", "src/db.py"]
DIRECT = [
    (
        "What is the difference between a list and a tuple in Python?",
        "A list is mutable; a tuple is immutable. Use a tuple for fixed records and a list when items change.",
    ),
    ("How do I reverse a string in Python?", "Use slicing: `s[::-1]` returns the reversed string."),
    (
        "What does a context manager do?",
        "It sets something up on entry and cleans up on exit, even after an exception: `with open(p) as f:` "
        "closes the file for you.",
    ),
    (
        "What is a race condition?",
        "Two threads touch shared state without coordination and the result depends on timing; use locks or "
        "avoid shared mutable state.",
    ),
    (
        "Explain big-O notation briefly.",
        "It describes how cost grows with input size, ignoring constants: O(n) linear, O(n^2) quadratic.",
    ),
    (
        "What is the difference between a process and a thread?",
        "A process has its own memory; threads share one process's memory, so they are lighter but need locks.",
    ),
    (
        "When should I use a dict instead of a list?",
        "When you look items up by key: a dict lookup is O(1) on average, a list search is O(n).",
    ),
    ("What does `git rebase` do?", "It replays your commits on top of another base, giving a linear history."),
]


def tool_record(i: int, rng: random.Random, tools: list[dict], system: str) -> dict[str, Any]:
    names = {t["function"]["name"] for t in tools}
    kind = rng.choice([k for k in ("grep", "read_file", "run_command") if k in names] or ["grep"])
    if kind == "grep":
        m, f, line = rng.choice(MODULES), rng.choice(FILES), rng.randint(1, 40)
        q = rng.choice(
            [f"Which files import {m}?", f"Where is {m} imported in this project?", f"Does anything here use {m}?"]
        )
        call, result = ToolCall.of("grep", {"pattern": f"import {m}", "path": "."}), f"{f}:{line}:import {m}"
        answer = f"Only {f} imports {m} (line {line})."
    elif kind == "read_file":
        f = rng.choice(FILES)
        q = rng.choice([f"What does {f} contain?", f"Summarise {f} for me.", f"Show me what is in {f}."])
        call, result = ToolCall.of("read_file", {"path": f}), f"def main():\n    return {rng.randint(0, 9)}\n"
        answer = f"{f} defines one function, main(), which returns a constant."
    else:
        n = rng.randint(1, 30)
        q = rng.choice(["Do the tests pass?", "Run the test suite and tell me the result.", "Are the tests green?"])
        call, result = (
            ToolCall.of("run_command", {"command": "pytest -q"}),
            f"{n} passed in 0.{rng.randint(10, 99)}s",
        )
        answer = f"Yes: all {n} tests passed."
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": q},
        {"role": "assistant", "content": "", "tool_calls": [call.to_json()]},
        {"role": "tool", "name": call.name, "content": result},
        {"role": "assistant", "content": answer},
    ]
    return {
        "messages": messages,
        "tools": tools,
        "meta": {"id": f"sample-tool-{i}", "source": "sample", "category": "search", "label": "tool"},
    }


def direct_record(i: int, rng: random.Random, tools: list[dict], system: str) -> dict[str, Any]:
    q, a = DIRECT[i % len(DIRECT)]
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": q},
        {"role": "assistant", "content": a},
    ]
    return {
        "messages": messages,
        "tools": tools,
        "meta": {"id": f"sample-direct-{i}", "source": "sample", "category": "concept", "label": "direct"},
    }


def write_sample_data(
    out: str | os.PathLike,
    n_train: int = 32,
    n_valid: int = 8,
    n_test: int = 8,
    *,
    seed: int = 0,
    tools: Optional[Sequence[str]] = None,
    system: Optional[str] = None,
) -> Path:
    """Write train/valid/test.jsonl (half tool-call conversations, half direct answers) and return the dir."""
    from ..prompting import DEFAULT_SYSTEM_PROMPT
    from ..tools import tool_schemas

    rng = random.Random(seed)
    schemas = tool_schemas(tools)
    system = DEFAULT_SYSTEM_PROMPT if system is None else system
    n = n_train + n_valid + n_test
    records = [(tool_record if i % 2 == 0 else direct_record)(i, rng, schemas, system) for i in range(n)]
    return write_cut(out, records, n_train, n_valid)


SMALL_TOOL = {
    "type": "function",
    "function": {
        "name": "grep",
        "description": "Search the workspace.",
        "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
    },
}


def small_records(n: int, seed: int = 0, *, multi_turn_every: int = 3) -> list[dict[str, Any]]:
    """Short records for tiny-model tests: a one-line system prompt, one small tool; tool-call
    conversations, direct answers, and every `multi_turn_every`-th a two-question conversation."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        m = rng.choice(MODULES)
        f = rng.choice(FILES)
        system = {"role": "system", "content": "You are a coding assistant."}
        if i % 2 == 0:
            msgs = [
                system,
                {"role": "user", "content": f"Which files import {m}?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [ToolCall.of("grep", {"pattern": f"import {m}"}).to_json()],
                },
                {"role": "tool", "name": "grep", "content": f"{f}:3:import {m}"},
                {"role": "assistant", "content": f"Only {f} imports {m}."},
            ]
            label = "tool"
        else:
            q, a = DIRECT[i % len(DIRECT)]
            msgs = [system, {"role": "user", "content": q}, {"role": "assistant", "content": a}]
            label = "direct"
        if multi_turn_every and i % multi_turn_every == 0:
            msgs += [
                {"role": "user", "content": "Thanks. And is that a problem?"},
                {"role": "assistant", "content": "No, it is fine."},
            ]
        out.append(
            {
                "messages": msgs,
                "tools": [SMALL_TOOL],
                "meta": {"id": f"small-{i}", "source": "sample", "category": "search", "label": label},
            }
        )
    return out


def write_small_data(
    out: str | os.PathLike, n_train: int = 16, n_valid: int = 4, n_test: int = 0, *, seed: int = 0
) -> Path:
    return write_cut(out, small_records(n_train + n_valid + n_test, seed), n_train, n_valid)


def write_cut(out: str | os.PathLike, records: list[dict[str, Any]], n_train: int, n_valid: int) -> Path:
    """The records cut in order into train, valid and test (the rest), written by the data build's split
    writer; an empty valid or test split gets no file. Returns the directory."""
    splits = {
        "train": records[:n_train],
        "valid": records[n_train : n_train + n_valid],
        "test": records[n_train + n_valid :],
    }
    write_splits(out, {name: rows for name, rows in splits.items() if name == "train" or rows})
    return Path(out)
