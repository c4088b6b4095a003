"""Hand-authored examples: YAML (compact) or JSONL (compact or full records) under data/hand_authored/.

Compact form (one YAML list item or one JSONL line):

    id: ha-search-todo             # optional; derived from the question when absent
    category: search               # a tool category or a direct-answer category
    question: Are there any TODO comments left?
    steps:                         # absent for direct answers
      - tool: grep
        arguments: {pattern: TODO}
        result: "src/db.py:7:# TODO: pool connections"
        say: optional text before the call
      - parallel: [{tool: ..., arguments: ..., result: ...}, ...]   # several calls in one turn
    answer: One, in src/db.py at line 7.
    label: tool | direct | clarify | refuse      # optional; inferred (steps -> tool)
    system: optional system prompt (default: prompting.DEFAULT_SYSTEM_PROMPT)

A full record (`messages`, `tools`, `meta`) is taken as is. Every example is tagged
`source: hand_authored`, offered all the agent's tools, and checked with the validator's per-record
rules (tool names, arguments, result formats, grounding) when loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from ...errors import InputError
from ...io import read_jsonl
from ...schema import Record, ToolCall, build_record
from ...vocab import DIRECT_CATEGORIES, TOOL_CATEGORIES
from ..ids import stable_id
from ..inputs import iter_input_files, load_yaml_items
from ..validate import ERROR, Located, check_record
from .registry import SourceRun, source

SOURCE = "hand_authored"
DEFAULT_DIR = Path("data/hand_authored")
_KEYS = {"id", "category", "question", "steps", "answer", "label", "system"}


def _system_prompt(override: str | None) -> str:
    if override:
        return override
    from ...prompting import DEFAULT_SYSTEM_PROMPT

    return DEFAULT_SYSTEM_PROMPT


def _agent_tools() -> list[dict[str, Any]]:
    from ...tools import tool_schemas

    return tool_schemas()


def compact_to_record(item: Any, *, path: str | os.PathLike | None = None, line: int | None = None,
                      source: str = SOURCE, tools: list[dict[str, Any]] | None = None) -> Record:
    """Turn one compact example into a Record; InputError (with path and line) when malformed."""
    def fail(msg: str, rule: str = "schema") -> InputError:
        return InputError(msg, path=path, line=line, record_id=item.get("id") if isinstance(item, dict) else None,
                          rule=rule)

    if not isinstance(item, dict):
        raise fail(f"expected a mapping, got {type(item).__name__}")
    unknown = set(item) - _KEYS
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})")
    for key in ("category", "question", "answer"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise fail(f"missing or empty {key!r}")
    steps = item.get("steps") or []
    if not isinstance(steps, list):
        raise fail("'steps' must be a list")
    messages: list[dict[str, Any]] = [{"role": "system", "content": _system_prompt(item.get("system"))},
                                      {"role": "user", "content": item["question"].strip()}]
    for k, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise fail(f"step {k} must be a mapping")
        calls = step.get("parallel") if "parallel" in step else [step]
        if not isinstance(calls, list) or not calls:
            raise fail(f"step {k}: 'parallel' must be a non-empty list")
        tool_msgs = []
        call_objs = []
        for c in calls:
            if not isinstance(c, dict) or not isinstance(c.get("tool"), str):
                raise fail(f"step {k}: each call needs 'tool', 'arguments' and 'result'")
            args = c.get("arguments") if c.get("arguments") is not None else {}
            if not isinstance(args, dict):
                raise fail(f"step {k}: arguments of {c['tool']} must be a mapping", "bad-arguments")
            if not isinstance(c.get("result"), str):
                raise fail(f"step {k}: the result of {c['tool']} must be a string")
            try:
                call_objs.append(ToolCall.of(c["tool"], args).to_json())
            except ValidationError as e:  # an empty tool name, an argument name that is not a string
                raise fail(f"step {k}: the call of {c['tool']!r} is not valid ({e.errors()[0]['msg']})",
                           "bad-arguments") from None
            tool_msgs.append({"role": "tool", "name": c["tool"], "content": c["result"]})
        messages.append({"role": "assistant", "content": (step.get("say") or "").strip(), "tool_calls": call_objs})
        messages.extend(tool_msgs)
    messages.append({"role": "assistant", "content": item["answer"].strip()})
    label = item.get("label") or ("tool" if steps else "direct")
    rid = item.get("id") or stable_id("ha", item["question"])
    return build_record(messages, _agent_tools() if tools is None else tools, id=str(rid), source=source,
                        category=item["category"], label=label, path=path, line=line)


def load_hand_authored(paths: Iterable[str | os.PathLike] = (DEFAULT_DIR,), *, check: bool = True,
                       errors: list[InputError] | None = None) -> list[Located]:
    """Every example under `paths` (YAML/JSONL files or directories of them), in file order.

    check: run the validator's per-record rules and raise on the first error (or collect into `errors`)."""
    out: list[Located] = []
    tools = _agent_tools()
    for f in iter_input_files(paths, (".yaml", ".yml", ".jsonl")):
        if f.suffix in (".yaml", ".yml"):
            items = load_yaml_items(f)
        else:
            items = list(read_jsonl(f))
        for line, obj in items:
            try:
                if isinstance(obj, dict) and "messages" in obj:
                    from ...schema import parse_record

                    obj = dict(obj)
                    meta = dict(obj.get("meta") or {})
                    meta["source"] = SOURCE
                    obj["meta"] = meta
                    rec = parse_record(obj, path=f, line=line)
                else:
                    rec = compact_to_record(obj, path=f, line=line, tools=tools)
                loc = Located(rec, str(f), line)
                if check:
                    bad = [x for x in check_record(loc) if x.severity == ERROR]
                    if bad:
                        raise bad[0].error()
                out.append(loc)
            except InputError as e:
                if errors is None:
                    raise
                errors.append(e)
    return out


def coverage(records: Iterable[Record]) -> dict[str, Any]:
    """Which tools and categories the examples cover (a test asserts every tool and direct category)."""
    from ...tools import TOOL_NAMES

    tools_used: set[str] = set()
    cats: dict[str, int] = {}
    for r in records:
        tools_used.update(r.tool_call_names())
        cats[r.meta.category] = cats.get(r.meta.category, 0) + 1
    return {"tools": {t: t in tools_used for t in TOOL_NAMES},
            "direct_categories": {c: cats.get(c, 0) for c in DIRECT_CATEGORIES},
            "tool_categories": {c: cats.get(c, 0) for c in TOOL_CATEGORIES},
            "categories": cats}


@source("hand_authored")
def read_hand_authored(spec: Any, run: SourceRun) -> list[Located]:
    return run.limited(load_hand_authored(run.paths))
