"""Is an answer right: a workspace suite's answer spec against the reply (and the files it wrote), a
catalogue case's first call against the expected call, a call's arguments against the offered tool's
schema. Pure checks of one reply against one expectation; `scoring.py` turns them into a case's score
and `collection.verify` checks a teacher's answer with the same `check_answer`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from ..schema import ToolCall
from .suites import Case, fill

# -- answer specs -------------------------------------------------------------------------------

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def _values(spec: dict, facts: dict, key_value: str = "value", key_values: str = "values") -> list[str]:
    """Expected strings of an answer spec: `fact` (a str or a list: all needed), `value`, `values`."""
    if spec.get("fact"):
        v = facts[spec["fact"]]
        return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
    if spec.get(key_values):
        return [fill(str(x), facts) for x in spec[key_values]]
    return [fill(str(spec[key_value]), facts)]


def contains_number(text: str, n: int | str) -> bool:
    n = str(n).strip()
    if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d]|\.\d)", text):
        return True
    if n.isdigit() and int(n) < len(_NUMBER_WORDS):
        return re.search(rf"\b{_NUMBER_WORDS[int(n)]}\b", text, re.I) is not None
    return False


def check_answer(
    spec: dict | None, text: str, facts: dict, workspace_root: str | Path | None = None
) -> tuple[bool | None, str]:
    """(correct, why) for a workspace-suite answer spec; (None, ...) when there is nothing to check."""
    if not spec or spec.get("type") in (None, "none"):
        return None, "no check"
    text = text or ""
    low = text.lower()
    t = spec["type"]
    try:
        if t == "contains":
            expected = _values(spec, facts)
            missing = [e for e in expected if e.lower() not in low]
            return (not missing), ("ok" if not missing else f"missing {missing}")
        if t == "number":
            expected = _values(spec, facts)
            missing = [e for e in expected if not contains_number(text, e)]
            return (not missing), ("ok" if not missing else f"number {missing} not in answer")
        if t == "any_of":
            keywords = [k.lower() for k in spec["keywords"]]
            need = int(spec.get("min", 1))
            hits = [k for k in keywords if any(alt in low for alt in k.split("|"))]
            return len(hits) >= need, f"{len(hits)}/{need} keywords ({', '.join(hits) or 'none'})"
        if t == "file_contains":
            if workspace_root is None:
                return False, "no workspace to check"
            rel = fill(str(spec["path"]), facts)
            path = Path(workspace_root) / rel
            if not path.is_file():
                return False, f"{rel} was not written"
            body = path.read_text(encoding="utf-8", errors="replace").lower()
            missing = [e for e in _values(spec, facts) if e.lower() not in body]
            return (not missing), ("ok" if not missing else f"{rel} lacks {missing}")
    except KeyError as e:
        return False, f"answer spec refers to unknown fact {e}"
    return None, f"unknown answer type {t!r}"


# -- argument validity -----------------------------------------------------------------------------


def argument_errors(name: str, arguments: Any, case: Case) -> list[str]:
    """Why a call's arguments do not fit the offered tool's schema ([] when they do)."""
    if case.functions is None:
        from ..tools import validate_arguments

        return validate_arguments(name, arguments)
    schema = next((f["function"] for f in case.functions if f["function"]["name"] == name), None)
    if schema is None:
        return [f"unknown tool {name!r}"]
    if not isinstance(arguments, dict):
        return ["arguments must be a JSON object"]
    try:
        validator = Draft202012Validator(schema.get("parameters") or {"type": "object"})
        return sorted({e.message for e in validator.iter_errors(arguments)})
    except Exception as e:  # a schema the source data got wrong: not the model's fault
        return [] if "schema" in type(e).__name__.lower() else [str(e)]


# -- catalogue calls ---------------------------------------------------------------------------------


def _same_value(got: Any, want: Any) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return float(got) == float(want)
        except (TypeError, ValueError):
            return False
    return " ".join(str(got).split()).lower() == " ".join(str(want).split()).lower()


def catalogue_call_check(answer: dict, calls: list[ToolCall]) -> tuple[bool, str]:
    """A catalogue tool case is answered right when the first call names the fitting tool with
    every expected argument (case- and space-insensitive; numbers by value)."""
    if not calls:
        return False, "no call"
    name, args = calls[0].name, calls[0].arguments
    if name != answer.get("target_tool"):
        return False, f"called {name}, not {answer.get('target_tool')}"
    if not isinstance(args, dict):
        return False, "arguments are not an object"
    wrong = [k for k, v in (answer.get("arguments") or {}).items() if k not in args or not _same_value(args[k], v)]
    return (not wrong), ("ok" if not wrong else f"argument(s) {wrong} differ from {answer.get('arguments')}")
