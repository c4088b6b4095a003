"""Questions of the held-out benchmark suites, which training data must not overlap."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

from ...errors import WARNING, Finding, InputError
from ...io import read_objects


@dataclass
class BenchQuestion:
    question: str
    path: str
    line: int
    tools: frozenset[str] = frozenset()  # names of the case's own tools (unseen-tool suites)


def _case_tool_names(obj: dict) -> frozenset[str]:
    names = set()
    for f in obj.get("functions") or []:
        fn = f.get("function", f) if isinstance(f, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.add(fn["name"])
    return frozenset(names)


def load_bench(paths: Iterable[str | os.PathLike], findings: list[Finding] | None = None) -> list[BenchQuestion]:
    """Questions of the held-out suites: JSONL files (or directories of them); each line has a
    `question` (or `prompt`) field, or is a record whose first user message is the question."""
    out: list[BenchQuestion] = []
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.glob("*.jsonl") if f.is_file()))
        elif p.exists():
            files.append(p)
        else:  # a silently skipped suite would silently switch the overlap check off
            raise InputError("benchmark path does not exist", path=p, rule="bench-file")
    for f in files:
        errors: list[InputError] = []

        def question(obj: Any, lineno: int) -> BenchQuestion:
            q = None
            if isinstance(obj, dict):
                q = obj.get("question") or obj.get("prompt")
                if q is None and isinstance(obj.get("messages"), list):
                    q = next((m.get("content") for m in obj["messages"]
                              if isinstance(m, dict) and m.get("role") == "user"), None)
            if isinstance(q, list):  # BFCL-style [[{"role": "user", ...}]]
                flat = [m for turn in q for m in (turn if isinstance(turn, list) else [turn])]
                q = next((m.get("content") for m in flat if isinstance(m, dict) and m.get("role") == "user"), None)
            if not (isinstance(q, str) and q.strip()):
                raise ValueError("no question field; line ignored")
            return BenchQuestion(q, str(f), lineno, _case_tool_names(obj))

        out += read_objects(f, question, rule="bench-file", objects=False, errors=errors)
        if findings is not None:
            for e in errors:
                findings.append(replace(e.finding, rule="bench-file", path=str(f), record_id=None, severity=WARNING))
    return out
