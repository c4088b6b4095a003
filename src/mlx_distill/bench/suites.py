"""Benchmark suites: the built-in held-out discrimination suite, suite files, BFCL categories read
from the installed `bfcl-eval` package, and When2Call files — all as one `Case` type.

Suite file format (JSON lines, one case per line)::

    {"id": "search-def-1", "question": "Which file defines `{function}`?", "label": "tool",
     "category": "search", "expected_tools": ["grep"],
     "workspace": {"kind": "function_definition"},
     "answer": {"type": "contains", "value": "{file_name}"}}

    {"id": "concept-1", "question": "What is a race condition?", "label": "direct",
     "category": "concept", "answer": {"type": "any_of", "keywords": ["thread", "concurren"]}}

`{placeholders}` in the question and the answer are filled from the facts of the case's generated
workspace (`bench/workspaces.py`). Every error names the file and line.
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..io import InputError, claim_id, read_jsonl
from ..tools import TOOL_NAMES
from .workspaces import GENERATORS

Label = Literal["tool", "direct", "clarify", "refuse"]
Scoring = Literal["workspace", "bfcl", "when2call", "catalogue"]
FOUR_CLASS_SCORING = ("when2call", "catalogue")  # a reply without a call is classified direct/clarify/refuse

TOOL_CATEGORIES = ("search", "read", "count", "run", "write")
DIRECT_CATEGORIES = ("concept", "comparison", "best_practice", "syntax", "architecture")
ANSWER_TYPES = ("contains", "number", "any_of", "file_contains", "none")

BUILTIN_DIR_ENV = "MLX_DISTILL_BENCH_DIR"


class Case(BaseModel):
    """One benchmark question: what the model is asked, what it should decide, how to check it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    label: Label
    category: str = Field(min_length=1)
    expected_tools: list[str] = Field(default_factory=list)
    workspace: dict[str, Any] | None = None
    answer: dict[str, Any] | None = None
    # BFCL / When2Call / catalogue: tools of the case itself (OpenAI-style schemas). They never
    # execute: the case ends at the model's first call. `ground_truth` is BFCL's possible answer list;
    # a catalogue case's `answer` holds the expected call ({"target_tool", "arguments"}).
    functions: list[dict[str, Any]] | None = None
    ground_truth: list[dict[str, Any]] | None = None
    name_map: dict[str, str] | None = None  # tool name shown to the model -> original function name
    source_functions: list[dict[str, Any]] | None = None  # the original function documents (BFCL types)
    scoring: Scoring = "workspace"
    suite: str = ""

    @field_validator("expected_tools")
    @classmethod
    def _known_tools(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in TOOL_NAMES]
        if unknown:
            raise ValueError(f"unknown tool(s) {unknown} (known: {', '.join(TOOL_NAMES)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Case":
        if self.scoring != "workspace":
            return self
        if self.workspace is not None:
            kind = self.workspace.get("kind")
            if kind not in GENERATORS:
                raise ValueError(f"workspace.kind {kind!r} is not a known generator "
                                 f"(known: {', '.join(sorted(GENERATORS))})")
        if self.label == "tool" and not self.expected_tools:
            raise ValueError("a tool case needs expected_tools")
        if self.label == "direct" and self.expected_tools:
            raise ValueError("a direct case must not list expected_tools")
        if self.answer is not None:
            t = self.answer.get("type")
            if t not in ANSWER_TYPES:
                raise ValueError(f"answer.type {t!r} is not one of {', '.join(ANSWER_TYPES)}")
            if t == "any_of" and not self.answer.get("keywords"):
                raise ValueError("answer of type any_of needs a non-empty keywords list")
            if t in ("contains", "number") and not (self.answer.get("value") or self.answer.get("fact")):
                raise ValueError(f"answer of type {t} needs value or fact")
            if t == "file_contains" and not (self.answer.get("path") and (self.answer.get("value") or self.answer.get("values"))):
                raise ValueError("answer of type file_contains needs path and value(s)")
        fields = _placeholders(self.question) | _answer_placeholders(self.answer)
        if fields and self.workspace is None:
            raise ValueError(f"placeholders {sorted(fields)} need a workspace to fill them")
        return self

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered for this case (case functions, else the workspace tools)."""
        if self.functions is not None:
            return [f["function"]["name"] for f in self.functions]
        return list(TOOL_NAMES)


@dataclass
class Suite:
    name: str
    cases: list[Case]
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cases:
            out[c.label] = out.get(c.label, 0) + 1
        return out


def _placeholders(text: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError:
        return set()


def _answer_placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return _placeholders(value)
    if isinstance(value, dict):
        return set().union(*(_answer_placeholders(v) for k, v in value.items() if k != "keywords"))
    if isinstance(value, list):
        return set().union(*(_answer_placeholders(v) for v in value))
    return set()


def fill(template: str, facts: dict[str, Any]) -> str:
    """Fill {placeholders} from facts; lists are joined with ', '. Unknown names raise KeyError."""
    values = {k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in facts.items()}
    return template.format_map(values)


# -- built-in and file suites -------------------------------------------------------------------

def builtin_dir() -> Path:
    """data/bench of the source tree (or $MLX_DISTILL_BENCH_DIR)."""
    env = os.environ.get(BUILTIN_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "data" / "bench"


def builtin_suites() -> dict[str, Path]:
    d = builtin_dir()
    return {p.stem: p for p in sorted(d.glob("*.jsonl"))} if d.is_dir() else {}


def load_suite_file(path: str | os.PathLike, *, name: str | None = None) -> Suite:
    """Read and validate a suite file; the first bad line raises InputError naming file:line."""
    path = Path(path)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno, rule="suite")
        rid = obj.get("id") if isinstance(obj.get("id"), str) else None
        try:
            case = Case.model_validate({**obj, "suite": obj.get("suite") or name or path.stem})
        except ValidationError as e:
            msg = "; ".join(f"{'.'.join(map(str, err['loc'])) or '<case>'}: {err['msg']}" for err in e.errors())
            raise InputError(msg, path=path, line=lineno, record_id=rid, rule="suite") from None
        claim_id(seen, case.id, path=path, line=lineno, rule="suite")
        cases.append(case)
    if not cases:
        raise InputError("suite file has no cases", path=path, rule="suite")
    return Suite(name=name or path.stem, cases=cases, source=str(path))


def available_suites() -> list[str]:
    """Names `load_suite` accepts (besides file paths)."""
    names = list(builtin_suites())
    names += [f"bfcl:{c}" for c in BFCL_CATEGORIES]
    return names


def load_suite(spec: str) -> Suite:
    """A suite by name or path: a built-in name (`discrimination`), `bfcl:<category>`,
    `when2call:<file>`, or a suite JSONL file."""
    if spec.startswith("bfcl:"):
        return load_bfcl(spec.split(":", 1)[1])
    if spec.startswith("when2call:"):
        return load_when2call(spec.split(":", 1)[1])
    builtins = builtin_suites()
    if spec in builtins:
        return load_suite_file(builtins[spec], name=spec)
    path = Path(spec)
    if path.exists():
        if path.is_dir():
            raise InputError("is a directory, not a suite file", path=path, rule="suite")
        return load_suite_file(path)
    known = ", ".join(available_suites()) or "(none)"
    raise InputError(f"unknown suite {spec!r}: not a built-in name, bfcl:<category>, when2call:<file> or an "
                     f"existing file (built-in: {known})")


def select(cases: list[Case], *, limit: int | None = None, categories: list[str] | None = None,
           labels: list[str] | None = None) -> list[Case]:
    """Cases of the given categories/labels; with `limit`, a spread: round-robin over labels, and
    within a label over categories (so `--limit 10` on the built-in suite is 5 tool + 5 direct from
    ten categories), returned in suite order."""
    out = [c for c in cases if (not categories or c.category in categories) and (not labels or c.label in labels)]
    if not limit or limit >= len(out):
        return out
    streams: list[list[Case]] = []
    for label in dict.fromkeys(c.label for c in out):
        pools: dict[str, list[Case]] = {}
        for c in out:
            if c.label == label:
                pools.setdefault(c.category, []).append(c)
        order: list[Case] = []
        while any(pools.values()):
            for pool in pools.values():
                if pool:
                    order.append(pool.pop(0))
        streams.append(order)
    chosen: set[int] = set()
    while len(chosen) < limit:
        for stream in streams:
            if stream and len(chosen) < limit:
                chosen.add(id(stream.pop(0)))
    return [c for c in out if id(c) in chosen]


# -- function documents -> tool schemas ---------------------------------------------------------

_TYPE_MAP = {
    "dict": "object", "object": "object", "float": "number", "double": "number", "number": "number",
    "int": "integer", "integer": "integer", "long": "integer", "str": "string", "string": "string",
    "char": "string", "bool": "boolean", "boolean": "boolean", "list": "array", "array": "array",
    "tuple": "array", "set": "array", "arraylist": "array", "hashmap": "object", "null": "null",
}


def convert_schema(schema: Any) -> Any:
    """A BFCL/When2Call parameter schema -> JSON Schema: dict->object, float->number, tuple->array,
    str->string, int->integer, any->(no type); nested properties and items converted too."""
    if isinstance(schema, list):
        return [convert_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if isinstance(value, str):
                t = value.strip().lower()
                if t == "any":
                    continue
                t = re.sub(r"[<\[(].*$", "", t).strip()  # "List[str]", "array<string>" -> "list"/"array"
                out["type"] = _TYPE_MAP.get(t, "string")
            elif isinstance(value, list):
                out["type"] = [_TYPE_MAP.get(str(v).lower(), "string") for v in value]
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: convert_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            out[key] = convert_schema(value)
        elif key == "optional":  # some BFCL docs mark optional parameters this way; not JSON Schema
            continue
        else:
            out[key] = value
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out.setdefault("properties", {})
    return out


_SAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def function_to_tool(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A BFCL function document -> (OpenAI-style tool schema, name shown to the model).
    Names are made API-safe ('math.factorial' -> 'math_factorial'); scoring maps them back."""
    name = str(doc.get("name", ""))
    safe = _SAFE_NAME.sub("_", name)[:64] or "function"
    params = convert_schema(doc.get("parameters") or {"type": "object", "properties": {}})
    if params.get("type") != "object":
        params = {"type": "object", "properties": params.get("properties", {}), **{
            k: v for k, v in params.items() if k not in ("type", "properties")}}
    params.setdefault("properties", {})
    if isinstance(params.get("required"), list):
        params["required"] = [r for r in params["required"] if r in params["properties"]]
    return {"type": "function", "function": {"name": safe, "description": str(doc.get("description", "")),
                                             "parameters": params}}, safe


def functions_to_tools(docs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    tools, name_map = [], {}
    for doc in docs:
        tool, safe = function_to_tool(doc)
        if safe in name_map:  # two names that collide once made safe: keep them apart
            safe = f"{safe}_{len(name_map)}"
            tool["function"]["name"] = safe
        name_map[safe] = str(doc.get("name", ""))
        tools.append(tool)
    return tools, name_map


# -- BFCL -----------------------------------------------------------------------------------------

# category -> (how it is scored, gold label). Scoring: irrelevance = no call, relevance = any call,
# ast = BFCL's AST match of the first response's calls against the possible answers.
BFCL_CATEGORIES: dict[str, tuple[str, str]] = {
    "irrelevance": ("irrelevance", "direct"),
    "live_irrelevance": ("irrelevance", "direct"),
    "live_relevance": ("relevance", "tool"),
    "simple_python": ("ast", "tool"),
    "simple": ("ast", "tool"),  # alias of simple_python
    "multiple": ("ast", "tool"),
    "parallel": ("ast", "tool"),
    "parallel_multiple": ("ast", "tool"),
    "live_simple": ("ast", "tool"),
    "live_multiple": ("ast", "tool"),
    "live_parallel": ("ast", "tool"),
    "live_parallel_multiple": ("ast", "tool"),
}


def bfcl_data_dir() -> Path:
    """The data directory of the installed bfcl-eval package (its data ships in the wheel)."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("BFCL suites need the bfcl-eval package: pip install 'mlx-distill[bfcl]' "
                         "(or pip install --no-deps bfcl-eval: only its data is used)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _bfcl_file(data: Path, stem: str) -> Path:
    pattern = re.compile(rf"^BFCL_v(\d+)_{re.escape(stem)}\.json$")
    found = sorted((int(m.group(1)), p) for p in data.glob("BFCL_v*.json") if (m := pattern.match(p.name)))
    if found:
        return found[-1][1]
    raise InputError(f"bfcl-eval has no data file for {stem!r} in {data}", rule="suite")


def _bfcl_question(turns: Any) -> str:
    """The first turn's messages -> one question string (a system message is kept as a preamble)."""
    turn = turns[0] if turns and isinstance(turns[0], list) else turns
    system = [m["content"] for m in turn if isinstance(m, dict) and m.get("role") == "system"]
    user = [m["content"] for m in turn if isinstance(m, dict) and m.get("role") == "user"]
    return "\n\n".join(system + user)


def load_bfcl(category: str, *, data_dir: str | os.PathLike | None = None) -> Suite:
    """BFCL category `category` as cases (scoring "bfcl"); its possible answers become ground_truth."""
    if category not in BFCL_CATEGORIES:
        raise InputError(f"unknown BFCL category {category!r} (supported: {', '.join(BFCL_CATEGORIES)})")
    stem = "simple_python" if category == "simple" else category
    data = Path(data_dir) if data_dir else bfcl_data_dir()
    path = _bfcl_file(data, stem)
    kind, label = BFCL_CATEGORIES[category]
    answers: dict[str, list] = {}
    if kind == "ast":
        apath = _bfcl_file(data / "possible_answer", stem)
        for lineno, obj in read_jsonl(apath):
            answers[obj["id"]] = obj["ground_truth"]
    cases = []
    for lineno, obj in read_jsonl(path):
        try:
            tools, name_map = functions_to_tools(obj.get("function") or [])
            gt = answers.get(obj["id"]) if kind == "ast" else None
            if kind == "ast" and gt is None:
                raise InputError("no possible answer for this case", path=path, line=lineno, record_id=obj["id"],
                                 rule="bfcl")
            cases.append(Case(id=obj["id"], question=_bfcl_question(obj["question"]), label=label,
                              category=f"bfcl_{category}", functions=tools, name_map=name_map,
                              ground_truth=gt, scoring="bfcl", suite=f"bfcl:{category}",
                              source_functions=obj.get("function") or [],
                              answer={"type": kind}))
        except (KeyError, TypeError, IndexError, ValidationError) as e:
            raise InputError(f"unexpected BFCL record shape: {e}", path=path, line=lineno, rule="bfcl") from None
    return Suite(name=f"bfcl:{category}", cases=cases, source=str(path))


# -- When2Call ------------------------------------------------------------------------------------

WHEN2CALL_LABELS = {"tool_call": "tool", "direct": "direct", "request_for_info": "clarify", "cannot_answer": "refuse"}


def load_when2call(path: str | os.PathLike) -> Suite:
    """A When2Call test file (when2call_test_mcq.jsonl / _llm_judge.jsonl): four classes —
    tool_call -> tool, direct -> direct, request_for_info -> clarify, cannot_answer -> refuse."""
    path = Path(path)
    cases = []
    for lineno, obj in read_jsonl(path):
        try:
            cls = obj["correct_answer"]
            if cls not in WHEN2CALL_LABELS:
                raise InputError(f"correct_answer {cls!r} is not one of {', '.join(WHEN2CALL_LABELS)}",
                                 path=path, line=lineno, rule="when2call")
            docs = [json.loads(t) if isinstance(t, str) else t for t in obj.get("tools") or []]
            tools, name_map = functions_to_tools(docs)
            target = obj.get("target_tool")
            if isinstance(target, str) and target.strip().startswith("{"):
                target = json.loads(target).get("name")
            answer = {"type": "when2call"}
            if target:
                answer["target_tool"] = target
            cases.append(Case(id=str(obj.get("uuid") or f"when2call-{lineno}"), question=str(obj["question"]),
                              label=WHEN2CALL_LABELS[cls], category=f"when2call_{cls}", functions=tools,
                              name_map=name_map, scoring="when2call", suite="when2call", answer=answer))
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, ValidationError) as e:
            raise InputError(f"unexpected When2Call record shape: {e}", path=path, line=lineno,
                             rule="when2call") from None
    if not cases:
        raise InputError("When2Call file has no cases", path=path, rule="when2call")
    return Suite(name="when2call", cases=cases, source=str(path))
