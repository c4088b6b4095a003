"""Scores, as pure functions over what the agent did (a trajectory) and what the case expected.

A trajectory is the agent's own `mlx_distill.agent.outcome.RunOutcome` (a case that could not run is
`RunOutcome.failed`).

`score_case` turns one (case, trajectory) into a `CaseScore`; `aggregate` turns many into the
metrics of a model: decision accuracy, per-class precision/recall/F1 and macro-F1, the
tool-hallucination rate, right-tool rate, argument validity, answer correctness, turns, loops and
limit hits, latency percentiles and tokens/s. Whether an answer, a catalogue call or a call's
arguments are right is `bench/answers.py`; BFCL's AST checker is `bench/bfcl_check.py`; the reply
classes (`classify_reply`) are `mlx_distill.replies`.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..agent.parsing import pseudo_calls
from ..replies import classify_reply
from ..schema import RecordedCall, ToolCall
from .answers import argument_errors, catalogue_call_check, check_answer
from .bfcl_check import bfcl_ast_match
from .suites import FOUR_CLASS_SCORING, Case

if TYPE_CHECKING:
    from ..agent.outcome import RunOutcome

# -- trajectories -------------------------------------------------------------------------------


def _calls(traj: RunOutcome) -> list[ToolCall]:
    """The calls the agent made; when it made none, the call-shaped JSON its answer still wrote (a
    pseudo-call naming no offered tool is a hallucinated call, not a direct answer)."""
    made = [c.call for c in traj.tool_calls]
    return made or pseudo_calls(traj.final_text)


# -- decision ------------------------------------------------------------------------------------


def decide(case: Case, traj: RunOutcome) -> str:
    """What the model decided: 'tool' when it made any call, 'error' when the run failed before
    deciding, else 'direct' (or, for four-class suites, the class of its reply)."""
    if _calls(traj):
        return "tool"
    if traj.outcome == "error":
        return "error"
    if case.scoring in FOUR_CLASS_SCORING:
        return classify_reply(traj.final_text)
    return "direct"


# -- one case ---------------------------------------------------------------------------------------


@dataclass
class ScoredCall(RecordedCall):
    """A call of a scored case: the call (the one `ToolCall` type) and why its arguments do not fit
    the offered tool's schema (`errors`, [] when they do)."""

    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": copy.deepcopy(self.arguments), "errors": list(self.errors)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ScoredCall":
        return cls(ToolCall.as_made(obj["name"], obj["arguments"]), list(obj.get("errors") or []))


@dataclass
class CaseScore:
    """One case of one model at one temperature and seed: what happened and how it scored."""

    model: str
    case_id: str
    suite: str
    category: str
    label: str
    predicted: str
    temperature: float = 0.0
    seed: int = 0
    question: str = ""
    final_text: str = ""
    tool_calls: list[ScoredCall] = field(default_factory=list)  # JSON: {name, arguments, errors}
    right_tool: bool | None = None
    args_valid: int = 0
    args_total: int = 0
    correct: bool | None = None
    why: str = ""
    outcome: str = "answered"
    error: str | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    facts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(replace(self, tool_calls=[]))
        d["tool_calls"] = [c.to_json() for c in self.tool_calls]
        return d

    @classmethod
    def from_json(cls, obj: dict) -> "CaseScore":
        kept = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        if "tool_calls" in kept:
            kept["tool_calls"] = [ScoredCall.from_json(c) for c in kept["tool_calls"]]
        return cls(**kept)


def score_case(
    case: Case,
    traj: RunOutcome,
    *,
    model: str = "",
    facts: dict | None = None,
    workspace_root: str | Path | None = None,
    question: str | None = None,
    temperature: float = 0.0,
    seed: int = 0,
) -> CaseScore:
    facts = facts or {}
    calls = _calls(traj)
    predicted = decide(case, traj)
    text = traj.final_text
    records, valid = [], 0
    for call in calls:
        errs = argument_errors(call.name, call.arguments, case)
        valid += not errs
        records.append(ScoredCall(call, errs))
    called = {c.name for c in calls}
    right_tool = None
    if case.label == "tool" and calls:
        if case.scoring == "workspace":
            right_tool = bool(called & set(case.expected_tools))
        elif case.ground_truth:
            wanted = {next(iter(g)) for g in case.ground_truth}
            right_tool = bool({(case.name_map or {}).get(n, n) for n in called} & wanted)
        elif case.answer and case.answer.get("target_tool"):
            right_tool = case.answer["target_tool"] in {(case.name_map or {}).get(n, n) for n in called}
    outcome, error = traj.outcome, traj.error
    correct, why = _correctness(case, traj, predicted, calls, text, facts, workspace_root)
    if outcome == "error" and correct is not None and case.scoring == "workspace":
        correct, why = False, f"error: {error}"
    return CaseScore(
        model=model,
        case_id=case.id,
        suite=case.suite,
        category=case.category,
        label=case.label,
        predicted=predicted,
        temperature=temperature,
        seed=seed,
        question=question or case.question,
        final_text=text,
        tool_calls=records,
        right_tool=right_tool,
        args_valid=valid,
        args_total=len(calls),
        correct=correct,
        why=why,
        outcome=outcome,
        error=error,
        requests=traj.requests,
        input_tokens=traj.input_tokens,
        output_tokens=traj.output_tokens,
        latency_s=traj.latency_s,
        facts=facts,
    )


def _correctness(
    case: Case, traj: RunOutcome, predicted: str, calls: list[ToolCall], text: str, facts: dict, workspace_root: Any
) -> tuple[bool | None, str]:
    kind = (case.answer or {}).get("type")
    if case.scoring == "bfcl":
        if kind == "irrelevance":
            return (not calls), ("no call" if not calls else "called a function")
        if kind == "relevance":
            return bool(calls), ("called a function" if calls else "no call")
        if not calls:
            return False, "no call"
        names = case.name_map or {}
        model_calls = [{names.get(c.name, c.name): c.arguments} for c in calls]
        category = case.category.removeprefix("bfcl_")
        return bfcl_ast_match(case.source_functions or [], model_calls, case.ground_truth or [], category)
    if case.scoring == "when2call":
        return predicted == case.label, f"predicted {predicted}"
    if case.scoring == "catalogue":
        return (
            catalogue_call_check(case.answer or {}, calls)
            if case.label == "tool"
            else (predicted == case.label, f"predicted {predicted}")
        )
    return check_answer(case.answer, text, facts, workspace_root)


# -- aggregation ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def classification(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float | int | None]]:
    """Precision, recall, F1 and support per gold class."""
    out = {}
    for cls in sorted(set(gold)):
        tp = sum(g == cls and p == cls for g, p in zip(gold, pred))
        fp = sum(g != cls and p == cls for g, p in zip(gold, pred))
        fn = sum(g == cls and p != cls for g, p in zip(gold, pred))
        precision = _ratio(tp, tp + fp)
        recall = _ratio(tp, tp + fn)
        if precision is None or recall is None:
            f1 = 0.0 if (tp + fn) else None
        else:
            f1 = 2 * precision * recall / (precision + recall) if (precision + recall) else 0.0
        out[cls] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return out


def balanced_accuracy(gold: Sequence[str], pred: Sequence[str]) -> float | None:
    """The mean of the per-class recalls over the gold classes present. A model that always gives
    one answer scores 1/k on k classes, however skewed the suite is; None for no cases."""
    recalls = [v["recall"] for v in classification(gold, pred).values() if v["recall"] is not None]
    return sum(recalls) / len(recalls) if recalls else None


def majority_baseline(gold: Sequence[str]) -> tuple[str | None, float | None]:
    """(the most frequent gold class, the decision accuracy of always predicting it)."""
    if not gold:
        return None, None
    counts: dict[str, int] = {}
    for g in gold:
        counts[g] = counts.get(g, 0) + 1
    cls = max(sorted(counts), key=counts.__getitem__)
    return cls, counts[cls] / len(gold)


def baseline_verdict(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """What a constant model would score beside what this one scored, and whether this one is
    no better: decision accuracy at or below the majority baseline, or balanced accuracy at or
    below 1/k (what always calling a tool, or never calling one, scores). With one gold class
    there is nothing to discriminate: the flag is None and balanced accuracy is that class's recall."""
    n = len(gold)
    cls, base = majority_baseline(gold)
    acc = _ratio(sum(g == p for g, p in zip(gold, pred)), n)
    bal = balanced_accuracy(gold, pred)
    k = len(set(gold))
    chance = 1.0 / k if k else None
    flagged = None if k < 2 else (acc <= base + 1e-9 or bal <= chance + 1e-9)  # type: ignore[operator]
    correct = sum(g == p for g, p in zip(gold, pred))
    p_value = None if k < 2 or base is None else binomial_tail(correct, n, base)
    return {
        "decision_accuracy": acc,
        "balanced_accuracy": bal,
        "majority_class": cls,
        "majority_baseline": base,
        "constant_balanced_accuracy": chance,
        "at_or_below_baseline": flagged,
        "p_value": p_value,
        "significant": None if p_value is None else (not flagged and p_value < SIGNIFICANCE),
    }


SIGNIFICANCE = 0.05  # a lead over the baseline that chance gives more often than this is not shown as one


def binomial_tail(correct: int, n: int, rate: float) -> float:
    """P(at least `correct` of `n` right) for a model right at `rate` (the majority baseline): how often
    a constant model would look this good on a sample this small. One answer in 40 above the baseline
    has p ~ 0.44; a small suite needs a large lead."""
    return min(1.0, sum(math.comb(n, i) * rate**i * (1 - rate) ** (n - i) for i in range(correct, n + 1)))


def verdict_text(verdict: dict[str, Any]) -> str:
    """The verdict column of the reports."""
    flagged = verdict.get("at_or_below_baseline")
    if flagged is None:
        return "one class: recall only"
    if flagged:
        return "NO BETTER THAN BASELINE"
    p = verdict.get("p_value")
    if p is not None and p >= SIGNIFICANCE:
        return f"above baseline, not significantly (p={p:.2f})"
    return "above baseline"


def aggregate(scores: Iterable[CaseScore]) -> dict[str, Any]:
    """The metrics of one model over its case scores (one temperature, one seed, or pooled)."""
    scores = list(scores)
    gold = [s.label for s in scores]
    pred = [s.predicted for s in scores]
    per_class = classification(gold, pred)
    f1s = [v["f1"] for v in per_class.values() if v["f1"] is not None]
    direct = [s for s in scores if s.label != "tool"]
    tool = [s for s in scores if s.label == "tool"]
    with_call = [s for s in tool if s.right_tool is not None]
    checked = [s for s in scores if s.correct is not None]
    latencies = [s.latency_s for s in scores if s.outcome != "error" or s.latency_s]
    total_latency = sum(s.latency_s for s in scores)
    n = len(scores)
    return {
        "cases": n,
        "tool_cases": len(tool),
        "direct_cases": len(direct),
        **baseline_verdict(gold, pred),
        "per_class": per_class,
        "recall_by_class": {c: v["recall"] for c, v in per_class.items()},
        "macro_f1": (sum(f1s) / len(f1s)) if f1s else None,
        "tool_recall": per_class.get("tool", {}).get("recall"),
        "direct_recall": per_class.get("direct", {}).get("recall"),
        "tool_hallucination_rate": _ratio(sum(bool(s.args_total) for s in direct), len(direct)),
        "right_tool_rate": _ratio(sum(bool(s.right_tool) for s in with_call), len(with_call)),
        "argument_validity": _ratio(sum(s.args_valid for s in scores), sum(s.args_total for s in scores)),
        "answer_correctness": _ratio(sum(bool(s.correct) for s in checked), len(checked)),
        "answer_correctness_tool": _ratio(
            sum(bool(s.correct) for s in checked if s.label == "tool"), sum(1 for s in checked if s.label == "tool")
        ),
        "answer_correctness_direct": _ratio(
            sum(bool(s.correct) for s in checked if s.label != "tool"), sum(1 for s in checked if s.label != "tool")
        ),
        "turns_mean": _ratio(sum(s.requests for s in scores), n),
        "tool_calls_mean": _ratio(sum(s.args_total for s in scores), n),
        "loops": sum(s.outcome == "loop" for s in scores),
        "limit_hits": sum(s.outcome == "limit" for s in scores),
        "errors": sum(s.outcome == "error" for s in scores),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "tokens_per_s": _ratio(sum(s.output_tokens for s in scores), total_latency),
        "output_tokens": sum(s.output_tokens for s in scores),
        "input_tokens": sum(s.input_tokens for s in scores),
        "by_suite": {suite: suite_metrics(group) for suite, group in _group(scores, lambda s: s.suite).items()},
        "by_category": {
            cat: {
                "cases": len(group),
                "decision_accuracy": _ratio(sum(s.label == s.predicted for s in group), len(group)),
                "answer_correctness": _ratio(
                    sum(bool(s.correct) for s in group if s.correct is not None),
                    sum(1 for s in group if s.correct is not None),
                ),
            }
            for cat, group in _group(scores, lambda s: s.category).items()
        },
    }


def suite_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """The judgement figures of one suite: balanced accuracy beside the majority baseline, tool
    recall, how often the model kept from calling when no call was wanted, argument validity."""
    gold = [s.label for s in scores]
    no_call = [s for s in scores if s.label != "tool"]
    tool = [s for s in scores if s.label == "tool"]
    return {
        "cases": len(scores),
        "labels": {c: gold.count(c) for c in sorted(set(gold))},
        **baseline_verdict(gold, [s.predicted for s in scores]),
        "tool_recall": _ratio(sum(s.predicted == "tool" for s in tool), len(tool)),
        "no_call_rate": _ratio(sum(not s.args_total for s in no_call), len(no_call)),
        "argument_validity": _ratio(sum(s.args_valid for s in scores), sum(s.args_total for s in scores)),
    }


def _group(items: Iterable[Any], key: Any) -> dict[Any, list]:
    out: dict[Any, list] = {}
    for x in items:
        out.setdefault(key(x), []).append(x)
    return out


# Scalar metrics in the order reports show them; True = higher is better.
HEADLINE: list[tuple[str, str, bool]] = [
    ("balanced_accuracy", "balanced accuracy", True),
    ("majority_baseline", "  majority baseline", True),
    ("decision_accuracy", "decision accuracy", True),
    ("at_or_below_baseline", "  no better than baseline", False),
    ("macro_f1", "macro-F1", True),
    ("tool_recall", "tool recall", True),
    ("direct_recall", "direct recall", True),
    ("tool_hallucination_rate", "tool hallucination", False),
    ("right_tool_rate", "right tool", True),
    ("argument_validity", "argument validity", True),
    ("answer_correctness", "answer correct", True),
    ("answer_correctness_tool", "  tool answers", True),
    ("answer_correctness_direct", "  direct answers", True),
    ("turns_mean", "turns (mean)", False),
    ("loops", "loops", False),
    ("limit_hits", "limit hits", False),
    ("errors", "errors", False),
    ("latency_p50_s", "latency p50 (s)", False),
    ("latency_p95_s", "latency p95 (s)", False),
    ("tokens_per_s", "tokens/s", True),
]


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Mean and spread (sample standard deviation; 0 for one run) of each scalar metric over runs
    (the seeds of a sweep)."""
    out: dict[str, dict[str, float | None]] = {}
    keys = [k for k, v in (runs[0].items() if runs else []) if isinstance(v, (int, float)) or v is None]
    for k in keys:
        xs = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
        if not xs:
            out[k] = {"mean": None, "std": None, "n": 0}
            continue
        out[k] = {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}
    return out
