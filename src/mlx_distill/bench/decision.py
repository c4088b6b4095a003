"""Decision-only evaluation: does the model open a tool call, on many held-out cases, without generating.

Each case is rendered exactly as the agent prompts it (system prompt, offered tools, question) and run
through the model once; the first reply token's distribution gives the call probability and the greedy
decision (`agent.probe.first_tokens`: cases batched, shared prefixes computed once). The figures are
call vs no call (labels direct, clarify and refuse are "no call"): balanced accuracy beside the majority
baseline and a binomial test against it (`scoring.baseline_verdict`), and the ROC AUC of the call
probability, per suite, per category and pooled; with a calibration, raw and calibrated side by side.
A case costs one prompt forward, so this measures the decision on hundreds of cases where the agent
benchmark affords a handful.

With `opening=N` each reply's first N tokens are also generated greedily and sorted by how they open
(`opening_kind`): `<tool_call>` (the trained format), a JSON pseudo-call (the bare or fenced object a stock
Qwen2.5-Coder writes instead, which the first-token probability cannot see), or text. That gives the share
of calls in the trained format and a second decision, by opening, beside the first-token one. With a
calibration the openings are the calibrated model's, as the agent runs it: the bias decides the first token.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..agent.calibration import resolve_calibration, roc_auc
from ..io import atomic_write_text, write_json, write_jsonl
from .scoring import baseline_verdict, verdict_text
from .suites import Case, Suite, fill

NO_CALL = "no call"
OPENINGS = ("call", "pseudo", "text")
NAMINGS = ("offered", "not offered", "unseen")  # the tool a call opening names: offered, hallucinated, cut off
_PSEUDO_CALL = re.compile(r'\A\s*(?:```[\w-]*\s*)?\{\s*"(?:name|function)"')
_CALLED_NAME = re.compile(r'"(?:name|function)"\s*:\s*"([^"]+)"')


def opening_kind(text: str) -> str:
    """How a reply opens: "call" (`<tool_call>`, the format we train), "pseudo" (a bare or ```-fenced JSON
    object whose first key is "name" or "function": a call in another shape, which the agent also reads
    when it names an offered tool and the benchmark counts as a call either way), or "text"."""
    from ..agent.parsing import TOOL_CALL_OPEN

    if text.lstrip().startswith(TOOL_CALL_OPEN):
        return "call"
    return "pseudo" if _PSEUDO_CALL.match(text) else "text"


@dataclass
class DecisionSpec:
    """A model to evaluate: name, optional adapter, and calibration (None: the adapter's own when it has
    one; "none": raw only; a path: that file)."""

    model: str
    adapter_path: str | None = None
    calibration: str | None = None

    @property
    def label(self) -> str:
        return self.model + (f" + {Path(self.adapter_path).name}" if self.adapter_path else "")


def case_messages(case: Case, *, system_prompt: str | None = None, seed: int = 0) -> tuple[list[dict], list | None]:
    """(messages, tools) of the agent's first request for `case`: its question (placeholders filled from
    the case's generated workspace, as the benchmark does) under the system prompt, with the tools the
    benchmark offers it (the case's own functions, else the workspace tools for workspace cases)."""
    from ..prompting import conversation
    from .workspaces import build_workspace

    question = case.question
    if case.workspace is not None and "{" in question:
        with tempfile.TemporaryDirectory(prefix="mlx-distill-decide-") as tmp:
            question = fill(question, build_workspace(case.workspace, tmp, case_id=case.id, seed=seed))
    return conversation(question, system_prompt), case_tools(case)


def case_tools(case: Case) -> list | None:
    """The tool schemas the benchmark offers `case`: its own functions, else the workspace tools for a
    workspace case, else none."""
    from ..tools import tool_schemas

    if case.functions is not None:
        return list(case.functions) or None
    return tool_schemas() if case.scoring == "workspace" else None


def _tool_name(schema: dict[str, Any]) -> str | None:
    return (schema.get("function") or schema).get("name")


def called_name(opening: str) -> str | None:
    """The tool name an opening call shows (`"name": "x"`), or None when its first tokens do not reach it."""
    m = _CALLED_NAME.search(opening)
    return m.group(1) if m else None


def case_prompt_ids(case: Case, tokenizer: Any, *, system_prompt: str | None = None) -> list[int]:
    from ..prompting import render

    messages, tools = case_messages(case, system_prompt=system_prompt)
    return list(
        tokenizer.encode(render(messages, tools, tokenizer, add_generation_prompt=True), add_special_tokens=False)
    )


def figures(rows: Sequence[dict[str, Any]], decided: str) -> dict[str, Any]:
    """Call-vs-no-call figures of `rows` by the decision column `decided` ("raw" or "calibrated")."""
    gold = [r["gold"] for r in rows]
    pred = [r[decided] for r in rows]
    positive = [g == "tool" for g in gold]
    return {
        "cases": len(rows),
        "tool_cases": sum(positive),
        **baseline_verdict(gold, pred),
        "auc": roc_auc([r["p_call"] for r in rows], positive),
        "tool_recall": _rate(sum(p == "tool" for g, p in zip(gold, pred) if g == "tool"), sum(positive)),
        "no_call_rate": _rate(sum(p == NO_CALL for g, p in zip(gold, pred) if g != "tool"), len(rows) - sum(positive)),
        **(_opening_figures(rows) if rows and "opens" in rows[0] else {}),
    }


def _opening_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How the replies opened: counts per kind (all cases, and the no-call cases alone) and the share of
    calls, of either shape, written in the trained format."""
    opens = {k: sum(r["opens"] == k for r in rows) for k in OPENINGS}
    no_call = [r for r in rows if r["gold"] != "tool"]
    return {
        "opens": opens,
        "opens_no_call_cases": {k: sum(r["opens"] == k for r in no_call) for k in OPENINGS},
        "trained_format_rate": _rate(opens["call"], opens["call"] + opens["pseudo"]),
        "calls_naming": {k: sum(r.get("names") == k for r in rows) for k in NAMINGS},
    }


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _grouped(rows: Sequence[dict[str, Any]], decided: str) -> dict[str, Any]:
    def by(key: str) -> dict[str, Any]:
        groups: dict[str, list] = {}
        for r in rows:
            groups.setdefault(r[key], []).append(r)
        return {k: figures(v, decided) for k, v in groups.items()}

    return {"pooled": figures(rows, decided), "by_suite": by("suite"), "by_category": by("category")}


def evaluate_model(
    spec: DecisionSpec,
    cases: Sequence[Case],
    *,
    batch_size: int = 8,
    system_prompt: str | None = None,
    opening: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """One model's decision on every case: per-case rows and the figures, raw and (when a calibration
    applies) calibrated; with `opening` > 0, also how its first `opening` greedy tokens open."""
    from ..agent.generation import greedy_batch
    from ..agent.probe import first_tokens, opener_id
    from ..models import load_model

    calibration = resolve_calibration(spec.calibration, spec.adapter_path)
    model, tokenizer = load_model(spec.model, spec.adapter_path)
    model.eval()
    prompts = [case_prompt_ids(c, tokenizer, system_prompt=system_prompt) for c in cases]
    tic = time.perf_counter()
    n = len(prompts)
    steps = n * (2 if opening > 0 else 1)  # the first-token pass, then the openings: one bar for both
    on_batch = (lambda done, _total: progress(done, steps, spec.label)) if progress else None
    opener = opener_id(tokenizer)
    firsts = first_tokens(model, opener, prompts, batch_size=batch_size, on_batch=on_batch)
    bias = calibration.bias if calibration else None
    openings: list[str | None] = [None] * len(prompts)
    if opening > 0:
        # As the agent runs the model: with a calibration its first token is the opener iff margin + bias >= 0
        # (else the best other token), and the rest of the opening continues greedily from it.
        lead = [[] if bias is None else [opener if f.margin + bias >= 0 else f.other] for f in firsts]
        order = sorted(range(len(prompts)), key=lambda i: prompts[i])  # neighbours share their tools
        on_gen = (lambda done, _total: progress(n + done, steps, f"{spec.label}: openings")) if progress else None
        texts = greedy_batch(
            model,
            tokenizer,
            [list(prompts[i]) + lead[i] for i in order],
            max_tokens=opening - (bias is not None),
            batch_size=batch_size,
            on_batch=on_gen,
        )
        for i, said in zip(order, texts):
            openings[i] = tokenizer.decode(lead[i]) + said
    seconds = time.perf_counter() - tic
    rows = []
    for case, ids, f, opened in zip(cases, prompts, firsts, openings):
        row = {
            "model": spec.label,
            "suite": case.suite,
            "case_id": case.id,
            "category": case.category,
            "label": case.label,
            "gold": "tool" if case.label == "tool" else NO_CALL,
            "p_call": round(f.p_call, 6),
            "margin": round(f.margin, 4),
            "prompt_tokens": len(ids),
            "raw": "tool" if f.margin >= 0 else NO_CALL,
        }
        if bias is not None:
            row["calibrated"] = "tool" if f.margin + bias >= 0 else NO_CALL
        if opened is not None:
            kind = opening_kind(opened)
            row.update(opening=opened, opens=kind, by_opening=NO_CALL if kind == "text" else "tool")
            if kind != "text":
                named = called_name(opened)
                offered = {_tool_name(t) for t in case_tools(case) or []}
                row["names"] = "unseen" if named is None else "offered" if named in offered else "not offered"
        rows.append(row)
    entry: dict[str, Any] = {
        "label": spec.label,
        "model": spec.model,
        "adapter_path": spec.adapter_path,
        "calibration": None if calibration is None else {"bias": calibration.bias, "source": calibration.source},
        "seconds": round(seconds, 2),
        "cases_per_min": round(60 * len(cases) / seconds, 1) if seconds else None,
        "prompt_tokens_mean": round(sum(len(p) for p in prompts) / len(prompts), 1) if prompts else None,
        "raw": _grouped(rows, "raw"),
    }
    if bias is not None:
        entry["calibrated"] = _grouped(rows, "calibrated")
    if opening > 0:
        entry["opening_tokens"] = opening
        entry["opening_calibrated"] = bias is not None
        entry["by_opening"] = _grouped(rows, "by_opening")
    return {"entry": entry, "rows": rows}


def run_decision_eval(
    specs: Sequence[DecisionSpec],
    suites: Sequence[Suite],
    *,
    batch_size: int = 8,
    system_prompt: str | None = None,
    opening: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Every model on every case of `suites`: the data of report.json."""
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    tic = time.perf_counter()
    cases = [c.model_copy(update={"suite": c.suite or s.name}) for s in suites for c in s.cases]
    models, rows = [], []
    per_model = len(cases) * (2 if opening > 0 else 1)
    for j, spec in enumerate(specs):
        out = evaluate_model(
            spec,
            cases,
            batch_size=batch_size,
            system_prompt=system_prompt,
            opening=opening,
            progress=_whole_run(progress, j * per_model, len(specs) * per_model),
        )
        models.append(out["entry"])
        rows += out["rows"]
    return {
        "kind": "decision",
        "started": started,
        "wall_s": round(time.perf_counter() - tic, 1),
        "suites": [{"name": s.name, "cases": len(s.cases), "labels": s.counts()} for s in suites],
        "batch_size": batch_size,
        "models": models,
        "cases": rows,
    }


def _whole_run(
    progress: Callable[[int, int, str], None] | None, before: int, total: int
) -> Callable[[int, int, str], None] | None:
    """One model's progress as steps of the whole run (every model, every pass), so a log shows each
    step, not only the first model's."""
    if progress is None:
        return None
    return lambda done, _total, note: progress(before + done, total, note)


# -- the report: lines that fit 80 columns, in a terminal and in a log file ------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _p(x: float | None) -> str:
    return "–" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")


def summary_lines(data: dict[str, Any], *, by_category: bool = False) -> list[str]:
    """The summary: per model, one block; per suite (and pooled), one line each for raw and calibrated
    decisions: n, balanced accuracy, AUC, majority baseline, p against it, verdict."""
    import textwrap

    title = "decision only (call vs no call, one forward a case): " + ", ".join(
        f"{s['name']} ({s['cases']})" for s in data["suites"]
    )
    out = textwrap.wrap(title, 80, subsequent_indent="  ")
    head = f"  {'suite':<22} {'n':>5} {'bal.acc':>7} {'AUC':>6} {'majority':>8} {'p':>7}  verdict"
    for m in data["models"]:
        cal = m.get("calibration")
        out += ["", f"{m['label']}" + (f"  [calibration {cal['bias']:+.2f}]" if cal else "  [raw]")]
        if m.get("cases_per_min"):
            out.append(
                f"  {m['cases_per_min']:.0f} cases/min; prompts of {m['prompt_tokens_mean']:.0f} tokens on average"
            )
        out.append(head)
        modes = ["raw"] + (["calibrated"] if "calibrated" in m else []) + (["by_opening"] if "by_opening" in m else [])
        groups = list(m["raw"]["by_suite"]) + (["(pooled)"] if len(m["raw"]["by_suite"]) > 1 else [])
        if by_category:
            groups += [f"category {c}" for c in m["raw"]["by_category"]]
        for g in groups:
            for mode in modes:
                block = m[mode]
                if g == "(pooled)":
                    v = block["pooled"]
                elif g.startswith("category "):
                    v = block["by_category"][g[len("category ") :]]
                else:
                    v = block["by_suite"][g]
                name = g if mode == "raw" else {"calibrated": "  calibrated", "by_opening": "  by opening"}[mode]
                out.append(
                    f"  {_cut(name, 22):<22} {v['cases']:>5} {_pct(v['balanced_accuracy']):>7} {_num(v['auc']):>6} "
                    f"{_pct(v['majority_baseline']):>8} {_p(v['p_value']):>7}  {_verdict(v)}"
                )
        if "by_opening" in m:
            out += opening_lines(m)
    return out


def opening_lines(m: dict[str, Any]) -> list[str]:
    """One model's openings, pooled: how many replies opened `<tool_call>`, a JSON pseudo-call or text,
    the share of calls in the trained format, and no call on the no-call cases."""
    v = m["by_opening"]["pooled"]
    o, nc, named = v["opens"], v["opens_no_call_cases"], v["calls_naming"]
    calls = o["call"] + o["pseudo"]
    no_call_cases = sum(nc.values())
    return [
        f"  openings ({m['opening_tokens']} greedy tokens{', calibrated' if m.get('opening_calibrated') else ''}): <tool_call> {o['call']}, JSON pseudo-call "
        f"{o['pseudo']}, text {o['text']}",
        f"    trained format on {o['call']}/{calls} calls ({_pct(v['trained_format_rate'])}); no call on "
        f"{nc['text']}/{no_call_cases} no-call cases ({_pct(nc['text'] / no_call_cases if no_call_cases else None)})",
        f"    calls naming an offered tool {named['offered']}, a tool not offered {named['not offered']}, no name "
        f"yet {named['unseen']}",
    ]


def _verdict(v: dict[str, Any]) -> str:
    """`scoring.verdict_text` in a word (the p-value has its own column)."""
    text = verdict_text(v)
    if text.startswith("above baseline, not"):
        return "not sig."
    return {"NO BETTER THAN BASELINE": "NO BETTER", "one class: recall only": "one class"}.get(text, "better")


def _cut(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def markdown(data: dict[str, Any]) -> str:
    lines = ["# Decision-only report", "", f"- started: {data['started']} ({data['wall_s']:.0f} s)", ""]
    lines += ["```", *summary_lines(data, by_category=True), "```", ""]
    return "\n".join(lines)


def write_decision_dir(data: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """report.json, report.md and cases.jsonl in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "report.json", data),
        "markdown": atomic_write_text(out / "report.md", markdown(data) + "\n"),
        "cases": write_jsonl(out / "cases.jsonl", data["cases"]),
    }
