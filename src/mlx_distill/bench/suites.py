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

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ..formats import bfcl, when2call
from ..formats.json_schema import functions_to_tools
from ..errors import InputError
from ..io import read_jsonl, read_objects, validation_message
from ..questions import Question
from ..tools import TOOL_NAMES
from ..vocab import Label
from .workspaces import WORKSPACE_BUILDERS

Scoring = Literal["workspace", "bfcl", "when2call", "catalogue"]
FOUR_CLASS_SCORING = ("when2call", "catalogue")  # a reply without a call is classified direct/clarify/refuse

ANSWER_TYPES = ("contains", "number", "any_of", "file_contains", "none")

BUILTIN_DIR_ENV = "MLX_DISTILL_BENCH_DIR"


class Case(Question):
    """One benchmark question: what the model is asked, what it should decide, how to check it (the
    shared `Question`, with an id, a label and a category required, and how the benchmark scores it)."""

    id: str = Field(min_length=1)
    label: Label
    category: str = Field(min_length=1)
    workspace: dict[str, Any] | None = None
    expected_tools: list[str] = Field(default_factory=list)
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
            if kind not in WORKSPACE_BUILDERS:
                raise ValueError(
                    f"workspace.kind {kind!r} is not a known workspace builder (known: {', '.join(sorted(WORKSPACE_BUILDERS))})"
                )
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
            if t == "file_contains" and not (
                self.answer.get("path") and (self.answer.get("value") or self.answer.get("values"))
            ):
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

    def case(obj: dict[str, Any], _line: int) -> Case:
        try:
            return Case.model_validate({**obj, "suite": obj.get("suite") or name or path.stem})
        except ValidationError as e:
            raise ValueError(validation_message(e, "<case>")) from None

    cases = read_objects(path, case, rule="suite", empty="suite file has no cases", id_of=lambda c: c.id)
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
    raise InputError(
        f"unknown suite {spec!r}: not a built-in name, bfcl:<category>, when2call:<file> or an "
        f"existing file (built-in: {known})"
    )


def select(
    cases: list[Case], *, limit: int | None = None, categories: list[str] | None = None, labels: list[str] | None = None
) -> list[Case]:
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


# -- BFCL -----------------------------------------------------------------------------------------

# category -> (how it is scored, gold label). Scoring: irrelevance = no call, relevance = any call,
# ast = BFCL's AST match of the first response's calls against the possible answers.
BFCL_CATEGORIES: dict[str, tuple[str, Label]] = {
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


def load_bfcl(category: str, *, data_dir: str | os.PathLike | None = None) -> Suite:
    """BFCL category `category` as cases (scoring "bfcl"); its possible answers become ground_truth."""
    if category not in BFCL_CATEGORIES:
        raise InputError(f"unknown BFCL category {category!r} (supported: {', '.join(BFCL_CATEGORIES)})")
    stem = "simple_python" if category == "simple" else category
    data = Path(data_dir) if data_dir else bfcl.data_dir()
    path = bfcl.data_file(data, stem)
    kind, label = BFCL_CATEGORIES[category]
    answers: dict[str, list] = {}
    if kind == "ast":
        answers = bfcl.answers_by_id(obj for _line, obj in read_jsonl(bfcl.data_file(data / "possible_answer", stem)))
    cases = []
    for lineno, obj in read_jsonl(path):
        try:
            tools, name_map = functions_to_tools(obj.get("function") or [])
            gt = answers.get(obj["id"]) if kind == "ast" else None
            if kind == "ast" and gt is None:
                raise InputError(
                    "no possible answer for this case", path=path, line=lineno, record_id=obj["id"], rule="bfcl"
                )
            cases.append(
                Case(
                    id=obj["id"],
                    question=bfcl.question_text(obj["question"]),
                    label=label,
                    category=f"bfcl_{category}",
                    functions=tools,
                    name_map=name_map,
                    ground_truth=gt,
                    scoring="bfcl",
                    suite=f"bfcl:{category}",
                    source_functions=obj.get("function") or [],
                    answer={"type": kind},
                )
            )
        except (KeyError, TypeError, IndexError, ValueError) as e:  # ValueError: also pydantic's ValidationError
            raise InputError(f"unexpected BFCL record shape: {e}", path=path, line=lineno, rule="bfcl") from None
    return Suite(name=f"bfcl:{category}", cases=cases, source=str(path))


# -- When2Call ------------------------------------------------------------------------------------


def load_when2call(path: str | os.PathLike) -> Suite:
    """A When2Call test file (when2call_test_mcq.jsonl / _llm_judge.jsonl): four classes —
    tool_call -> tool, direct -> direct, request_for_info -> clarify, cannot_answer -> refuse."""
    path = Path(path)
    cases = []
    for lineno, obj in read_jsonl(path):
        try:
            cls = obj["correct_answer"]
            try:
                label = when2call.label_of(cls)
            except ValueError as e:
                raise InputError(str(e), path=path, line=lineno, rule="when2call") from None
            tools, name_map = functions_to_tools(when2call.tool_docs(obj))
            answer = {"type": "when2call"}
            target = when2call.target_tool(obj)
            if target:
                answer["target_tool"] = target
            cases.append(
                Case(
                    id=str(obj.get("uuid") or f"when2call-{lineno}"),
                    question=str(obj["question"]),
                    label=label,
                    category=f"when2call_{cls}",
                    functions=tools,
                    name_map=name_map,
                    scoring="when2call",
                    suite="when2call",
                    answer=answer,
                )
            )
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:  # ValueError: also pydantic's
            raise InputError(
                f"unexpected When2Call record shape: {e}", path=path, line=lineno, rule="when2call"
            ) from None
    if not cases:
        raise InputError("When2Call file has no cases", path=path, rule="when2call")
    return Suite(name="when2call", cases=cases, source=str(path))
