"""The quality gate: is the student good enough to take over the teacher's calls?

The student runs through the benchmark runner (`bench.runner.run_case`, the real agent) on held-out
teacher records or on a benchmark suite. Each case is scored for agreement with the reference:

- a teacher record: the student's first decision against the teacher's first turn. The record's own
  tools are offered as non-executing tools, so a case ends at the student's first call; it agrees when
  it answers directly where the teacher did, or calls the teacher's tool with equivalent arguments
  (`equivalent_arguments`: compared after schema normalisation);
- a suite case: the suite's label and expected tools are the reference; answer correctness is
  reported beside it where the workspace builder knows the ground truth.

The verdict is balanced agreement (the mean of per-class recalls, from `bench.scoring.aggregate`)
against a threshold, printed beside the majority-class baseline: a student that always calls a tool,
or never does, scores at most 50% on a set with both classes and never passes.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from ..bench.runner import ModelLoader, ModelSpec, RunConfig, run_benchmark
from ..bench.scoring import CaseScore, aggregate
from ..bench.suites import Case, Suite, load_suite
from ..errors import InputError
from ..io import atomic_write_text, read_jsonl, write_json
from ..schema import Record, parse_record
from ..data.sources.teacher_store import RECORDS_FILE, read_store

DEFAULT_THRESHOLD = 0.95
MISMATCH = ":mismatch"  # suffix of a predicted class that made the right decision with the wrong call


@dataclass
class Reference:
    """What the teacher did first on a record: its decision and, for a call, the tool and arguments."""

    decision: Literal["tool", "direct"]
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None  # the tool's parameters schema, for normalisation


@dataclass
class Against:
    """What the student is measured against: a suite of cases and, for teacher records, references."""

    suite: Suite
    references: dict[str, Reference] = field(default_factory=dict)
    system_prompt: str | None = None
    kind: str = "suite"  # "records" | "suite"


# -- what to replay ----------------------------------------------------------------------------------


def _first_turn(record: Record) -> Reference:
    schemas = {t["function"]["name"]: t["function"].get("parameters") for t in record.tools if "function" in t}
    for m in record.messages:
        if m.role != "assistant":
            continue
        if m.tool_calls:
            call = m.tool_calls[0].function
            return Reference("tool", call.name, dict(call.arguments), schemas.get(call.name))
        return Reference("direct")
    raise InputError("the record has no assistant turn", record_id=record.id, rule="role-order")


def case_from_record(record: Record) -> tuple[Case, Reference]:
    """A record as a replay case: its first question, its tools (offered, never executed), and the
    teacher's first decision as the label (`relevance` / `irrelevance`: call or no call)."""
    ref = _first_turn(record)
    answer: dict[str, Any] = {"type": "relevance" if ref.decision == "tool" else "irrelevance"}
    if ref.tool:
        answer["target_tool"] = ref.tool
    case = Case(
        id=record.id,
        question=record.user_text() or "(no question)",
        label=ref.decision,
        category=record.meta.category,
        functions=list(record.tools),
        answer=answer,
        scoring="bfcl",
        suite="teacher-records",
    )
    return case, ref


def _looks_like_records(path: Path) -> bool:
    for _line, obj in read_jsonl(path):
        return isinstance(obj, dict) and "messages" in obj
    return False


def record_files(path: Path) -> list[Path]:
    """A JSONL file of records, or a directory: every `*.jsonl` of records in it."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if _looks_like_records(p))
    return [path]


def load_against(spec: str | os.PathLike, *, limit: int | None = None) -> Against:
    """Records (a teacher store's accepted ones, a JSONL file, or a directory of them) or a benchmark suite
    (built-in name or file)."""
    path = Path(spec).expanduser()
    if path.is_dir() or (path.is_file() and _looks_like_records(path)):
        if (path / RECORDS_FILE).is_file():  # a teacher store: its accepted records
            records = [r for _line, r in read_store(path, accepted=True)]
        else:
            records = [parse_record(obj, path=f, line=line) for f in record_files(path) for line, obj in read_jsonl(f)]
        if not records:
            raise InputError("no teacher records found", path=path)
        pairs = [case_from_record(r) for r in records]
        if limit:
            keep = {c.id for c in _balanced_head([c for c, _ in pairs], limit)}
            pairs = [(c, ref) for c, ref in pairs if c.id in keep]
        systems = Counter(m.content for r in records for m in r.messages[:1] if m.role == "system")
        return Against(
            Suite(path.name, [c for c, _ in pairs], str(path)),
            {c.id: ref for c, ref in pairs},
            systems.most_common(1)[0][0] if systems else None,
            kind="records",
        )
    suite = load_suite(str(spec))
    if limit:
        suite = Suite(suite.name, _balanced_head(suite.cases, limit), suite.source)
    return Against(suite)


def _balanced_head(cases: Sequence[Case], limit: int) -> list[Case]:
    """The first `limit` cases, alternating labels, so a small gate still sees every class."""
    by_label: dict[str, list[Case]] = {}
    for c in cases:
        by_label.setdefault(c.label, []).append(c)
    out: list[Case] = []
    while len(out) < limit and any(by_label.values()):
        for group in by_label.values():
            if group and len(out) < limit:
                out.append(group.pop(0))
    return out


# -- agreement ----------------------------------------------------------------------------------------


def _coerce(value: Any, schema: dict[str, Any] | None) -> Any:
    kind = (schema or {}).get("type")
    if isinstance(value, str):
        text = value.strip()
        try:
            if kind == "integer" and text.lstrip("-").isdigit():
                return int(text)
            if kind == "number":
                return float(text)
        except ValueError:
            return text
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text
    if isinstance(value, float) and value.is_integer() and kind in ("integer", "number"):
        return int(value)
    if isinstance(value, list):
        return [_coerce(v, (schema or {}).get("items")) for v in value]
    if isinstance(value, dict):
        return normalize_arguments(value, schema)
    return value


def _path_like(name: str) -> bool:
    return name in ("path", "directory", "dir", "file", "filename") or name.endswith(("_path", "_dir", "_file"))


def normalize_arguments(arguments: Any, schema: dict[str, Any] | None) -> Any:
    """Arguments as the schema means them: values coerced to the declared types, strings stripped,
    path-like values normalised (`./src/` is `src`), and arguments equal to their default dropped."""
    if not isinstance(arguments, dict):
        return arguments
    props = (schema or {}).get("properties") or {}
    out = {}
    for key, value in arguments.items():
        prop = props.get(key) or {}
        value = _coerce(value, prop)
        if isinstance(value, str) and _path_like(key):
            value = posixpath.normpath(value) if value else value
        if "default" in prop and value == _coerce(prop["default"], prop):
            continue
        out[key] = value
    return dict(sorted(out.items()))


def equivalent_arguments(a: Any, b: Any, schema: dict[str, Any] | None = None) -> bool:
    return normalize_arguments(a, schema) == normalize_arguments(b, schema)


def agreement(score: CaseScore, ref: Reference | None) -> tuple[bool, str]:
    """(agrees, why) for one case: the same decision and, for a call, the same tool and equivalent
    arguments (records) or an expected tool (suites)."""
    if score.predicted != score.label:
        return False, f"decided {score.predicted}, reference {score.label}"
    if score.label != "tool":
        return True, "same decision"
    first = score.tool_calls[0] if score.tool_calls else None
    name, arguments = (first.name, first.arguments) if first else (None, None)
    if ref is None:
        return (bool(score.right_tool), "expected tool" if score.right_tool else f"wrong tool {name}")
    if name != ref.tool:
        return False, f"called {name}, teacher called {ref.tool}"
    if ref.arguments is not None and not equivalent_arguments(arguments, ref.arguments, ref.schema):
        return False, (
            f"arguments {json.dumps(arguments, sort_keys=True)} differ from the teacher's "
            f"{json.dumps(ref.arguments, sort_keys=True)}"
        )
    return True, "same call"


def agreement_scores(scores: Sequence[CaseScore], references: dict[str, Reference]) -> list[tuple[CaseScore, str]]:
    """Each score with `predicted` set to the label when the student agrees, else to what it did (a right
    decision with the wrong call becomes `tool:mismatch`), so `aggregate` measures agreement per class."""
    out = []
    for s in scores:
        ok, why = agreement(s, references.get(s.case_id))
        predicted = s.label if ok else (s.predicted + MISMATCH if s.predicted == s.label else s.predicted)
        out.append((replace(s, predicted=predicted), why))
    return out


# -- the gate -----------------------------------------------------------------------------------------


@dataclass
class GateResult:
    student: str
    against: str
    kind: str
    threshold: float
    passed: bool
    agreement: dict[str, Any]  # aggregate() over agreement-scored cases: balanced_accuracy, per_class, ...
    decision: dict[str, Any]  # aggregate() over the raw decisions (call vs answer only)
    cases: list[dict[str, Any]]
    reasons: list[str] = field(default_factory=list)
    drift: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "against": self.against,
            "kind": self.kind,
            "threshold": self.threshold,
            "passed": self.passed,
            "reasons": self.reasons,
            "agreement": self.agreement,
            "decision": self.decision,
            "drift": self.drift,
            "cases": self.cases,
        }


def verdict(metrics: dict[str, Any], threshold: float) -> tuple[bool, list[str]]:
    """(passed, why not): both decisions present in the reference, balanced agreement at or above the threshold,
    and above the majority baseline."""
    reasons = []
    balanced = metrics.get("balanced_accuracy")
    classes = [c for c, v in (metrics.get("per_class") or {}).items() if v.get("support")]
    if balanced is None:
        reasons.append("no cases were scored")
    elif len(classes) < 2:
        reasons.append(
            f"the reference has only {', '.join(classes) or 'no'} cases: a student that always decides "
            "the same way would pass; add cases of the other decision"
        )
    elif balanced < threshold:
        reasons.append(f"balanced agreement {balanced:.1%} is below the threshold {threshold:.0%}")
    if metrics.get("at_or_below_baseline"):
        reasons.append(f"no better than always predicting the majority class ({metrics['majority_baseline']:.1%})")
    return not reasons, reasons


def run_gate(
    student: ModelSpec,
    against: Against,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    config: RunConfig | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    load_model: ModelLoader | None = None,
) -> GateResult:
    """Replay `against` through the student in the real agent and score agreement per decision class."""
    config = config or RunConfig()
    if against.system_prompt and config.system_prompt is None:
        config = replace(config, system_prompt=against.system_prompt)
    result = run_benchmark([student], [against.suite], config, progress=progress, load_model=load_model)
    run = result.models[0]
    if run.load_error:
        raise InputError(run.load_error)
    scored = agreement_scores(run.scores, against.references)
    agreed = aggregate([s for s, _ in scored])
    passed, reasons = verdict(agreed, threshold)
    cases = [
        {
            "id": s.case_id,
            "category": s.category,
            "reference": orig.label,
            "student": orig.predicted,
            "agrees": s.predicted == s.label,
            "why": why,
            "calls": [c.to_json() for c in orig.tool_calls],
            "correct": orig.correct,
            "outcome": orig.outcome,
            "final_text": orig.final_text[:500],
        }
        for (s, why), orig in zip(scored, run.scores)
    ]
    return GateResult(
        student=student.label,
        against=against.suite.source or against.suite.name,
        kind=against.kind,
        threshold=threshold,
        passed=passed,
        agreement=agreed,
        decision=aggregate(run.scores),
        cases=cases,
        reasons=reasons,
    )


# -- reports ------------------------------------------------------------------------------------------


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def summary_rows(result: GateResult) -> list[tuple[str, str]]:
    a, d = result.agreement, result.decision
    rows = [
        ("balanced agreement", _pct(a.get("balanced_accuracy"))),
        ("majority baseline", _pct(a.get("majority_baseline"))),
        ("threshold", _pct(result.threshold)),
    ]
    for cls, v in sorted((a.get("per_class") or {}).items()):
        if v.get("support"):
            rows.append((f"recall {cls} ({v['support']} cases)", _pct(v.get("recall"))))
    rows += [
        ("decision accuracy (call vs answer)", _pct(d.get("decision_accuracy"))),
        ("decision balanced accuracy", _pct(d.get("balanced_accuracy"))),
        ("same tool", _pct(d.get("right_tool_rate"))),
        ("argument validity", _pct(d.get("argument_validity"))),
        ("answer correct (where known)", _pct(d.get("answer_correctness") if result.kind == "suite" else None)),
        ("cases", str(a.get("cases", 0))),
    ]
    if result.drift:
        rows.append(("drift agreement (rolling)", _pct(result.drift.get("rolling_agreement"))))
    return rows


def verdict_line(result: GateResult) -> str:
    head = "PASS" if result.passed else "FAIL"
    tail = "" if result.passed else ": " + "; ".join(result.reasons)
    return (
        f"{head} {result.student} against {result.against}: balanced agreement "
        f"{_pct(result.agreement.get('balanced_accuracy'))} (majority baseline "
        f"{_pct(result.agreement.get('majority_baseline'))}, threshold {_pct(result.threshold)}){tail}"
    )


def to_markdown(result: GateResult) -> str:
    lines = [f"# Gate: {result.student}", "", f"**{verdict_line(result)}**", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(result)]
    bad = [c for c in result.cases if not c["agrees"]]
    if bad:
        lines += ["", f"## Disagreements ({len(bad)})", "", "| case | reference | student | why |", "|---|---|---|---|"]
        lines += [f"| {c['id']} | {c['reference']} | {c['student']} | {c['why'].replace('|', '/')} |" for c in bad]
    return "\n".join(lines) + "\n"


def write_gate_report(result: GateResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    out = Path(out_dir)
    return {
        "json": write_json(out / "gate.json", result.to_json()),
        "markdown": atomic_write_text(out / "gate.md", to_markdown(result)),
    }
