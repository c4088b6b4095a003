"""The same prompts through several models, side by side (Markdown and HTML).

Prompts come from a text file (one per line; blank lines and lines starting with '#' skipped), a
JSONL file of objects with `question` (or `prompt`) and optionally `id`/`workspace` (suite cases
work as they are), or a suite name. Each prompt runs in a fresh workspace: generated when the
prompt has a `workspace` spec, else a copy of `--workspace DIR`, else empty.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import InputError
from ..io import atomic_write_text, check_regular_file, read_objects, read_text, write_json
from ..questions import Question
from ..schema import LABELS
from .runner import ModelLoader, ModelSpec, RunConfig, run_benchmark
from .suites import Case, Suite, builtin_suites, load_suite

if TYPE_CHECKING:
    from ..agent.outcome import RunOutcome


@dataclass
class Cell:
    text: str = ""
    calls: list[dict] = field(default_factory=list)
    outcome: str = "answered"
    error: str | None = None
    latency_s: float = 0.0
    question: str = ""


def load_prompts(spec: str) -> list[Question]:
    """Prompts from a .txt file, a .jsonl file, or a built-in suite name, as `Question`s (a gold `label`,
    when known, makes compare score judgement too)."""
    if spec in builtin_suites() or spec.startswith(("bfcl:", "when2call:")):
        return [
            Question(id=c.id, question=c.question, workspace=c.workspace, label=c.label)
            for c in load_suite(spec).cases
            if c.functions is None
        ]
    path = Path(spec)
    check_regular_file(path, rule="prompts")
    if not path.is_file():
        raise InputError("prompts file not found", path=path, rule="prompts")
    prompts: list[Question] = []
    if path.suffix == ".jsonl":

        def prompt(obj: Any, _line: int) -> Question:
            if isinstance(obj, str):
                obj = {"question": obj}
            q = obj.get("question") or obj.get("prompt") if isinstance(obj, dict) else None
            if not isinstance(q, str) or not q.strip():
                raise ValueError("each line needs a non-empty 'question' (or 'prompt')")
            ws = obj.get("workspace")
            if ws is not None and not isinstance(ws, dict):
                raise ValueError("'workspace' must be an object like {\"kind\": ...}")
            label = obj.get("label")
            if label is not None and label not in LABELS:
                raise ValueError(f"'label' must be one of {', '.join(LABELS)}")
            return Question(id=str(obj.get("id") or ""), question=q, workspace=ws, label=label)

        prompts = read_objects(path, prompt, rule="prompts", objects=False)
        for i, p in enumerate(prompts):
            p.id = p.id or f"p{i + 1}"
    else:
        for line in read_text(path, rule="prompts").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                prompts.append(Question(id=f"p{len(prompts) + 1}", question=line.strip()))
    if not prompts:
        raise InputError("no prompts in file", path=path, rule="prompts")
    return prompts


def prompt_cases(prompts: Sequence[Question]) -> list[Case]:
    """Prompts as unscored cases for the runner: its scores are not what compare shows, only the trajectories.
    Built without validation: a prompt's label (possibly none) only feeds `judgement`."""
    return [
        Case.model_construct(
            id=p.id,
            question=p.question,
            label=p.label,
            category="prompt",
            workspace=p.workspace,
            expected_tools=[],
            scoring="workspace",
            suite="compare",
        )
        for p in prompts
    ]


def run_compare(
    specs: Sequence[ModelSpec],
    prompts: Sequence[Question],
    *,
    workspace: str | None = None,
    seed: int = 0,
    temperature: float = 0.0,
    max_tokens: int = 512,
    max_requests: int = 8,
    max_tool_calls: int = 6,
    progress: Callable[[int, int, str], None] | None = None,
    load_model: ModelLoader | None = None,
) -> dict[str, Any]:
    """{"models": [...labels], "load_errors": {...}, "rows": [{"id", "question", "cells": {label: Cell}}]}:
    every prompt through every model by the benchmark runner, rendered as cells."""
    config = RunConfig(
        temperatures=[temperature],
        seeds=[seed],
        max_tokens=max_tokens,
        max_requests=max_requests,
        max_tool_calls=max_tool_calls,
        workspace_template=workspace,
    )
    result = run_benchmark(
        specs, [Suite("compare", prompt_cases(prompts))], config, progress=progress, load_model=load_model
    )
    rows: list[dict[str, Any]] = [{"id": p.id, "question": p.question, "label": p.label, "cells": {}} for p in prompts]
    for run in result.models:
        for row, score, out in zip(rows, run.scores, run.outcomes):
            row["cells"][run.spec.label] = cell(score.question, out).__dict__
    data = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "models": [s.label for s in specs],
        "load_errors": {m.spec.label: m.load_error for m in result.models if m.load_error},
        "rows": rows,
    }
    data["judgement"] = judgement(data)
    return data


def cell(question: str, out: RunOutcome) -> Cell:
    return Cell(
        text=out.final_text,
        calls=[c.to_json() for c in out.tool_calls],
        outcome=out.outcome,
        error=out.error,
        latency_s=out.latency_s,
        question=question,
    )


def judgement(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model, when every prompt has a gold label: balanced accuracy beside the majority baseline
    (a call is a tool decision; a reply is classified direct/clarify/refuse)."""
    from .scoring import baseline_verdict, classify_reply

    rows = data["rows"]
    if not rows or any(r.get("label") is None for r in rows):
        return {}
    out = {}
    for model in data["models"]:
        cells = [(r["label"], r["cells"].get(model)) for r in rows]
        if any(c is None for _, c in cells):
            continue
        four = any(label in ("clarify", "refuse") for label, _ in cells)
        pred = [
            "tool"
            if c["calls"]
            else "error"
            if c["outcome"] == "error"
            else (classify_reply(c["text"]) if four else "direct")
            for _, c in cells
        ]
        out[model] = baseline_verdict([label for label, _ in cells], pred)
    return out


def _call_text(call: dict) -> str:
    return f"{call['name']}({json.dumps(call['arguments'], ensure_ascii=False)})"


def _cell_md(cell: dict | None) -> str:
    if cell is None:
        return "(not run)"
    parts = [f"`{_call_text(c)}`" for c in cell["calls"]]
    if cell["text"]:
        parts.append(cell["text"])
    if cell["outcome"] != "answered":
        parts.append(f"**{cell['outcome']}**" + (f": {cell['error']}" if cell.get("error") else ""))
    return "<br>".join(p.replace("|", "\\|").replace("\n", "<br>") for p in parts) or "(empty)"


def compare_markdown(data: dict[str, Any]) -> str:
    models = data["models"]
    out = ["# Model comparison", "", f"{len(data['rows'])} prompts, {len(models)} models ({data['created']}).", ""]
    for label, err in data["load_errors"].items():
        out.append(f"- {err}")
    if data["load_errors"]:
        out.append("")
    if data.get("judgement"):
        from .scoring import verdict_text

        out += ["| model | balanced acc. | majority baseline | decision acc. | verdict |", "|---|---:|---:|---:|---|"]
        for model, v in data["judgement"].items():
            out.append(
                f"| {model.replace('|', chr(92) + '|')} | {_pct(v['balanced_accuracy'])} | "
                f"{_pct(v['majority_baseline'])} ({v['majority_class']}) | {_pct(v['decision_accuracy'])} | "
                f"{verdict_text(v)} |"
            )
        out.append("")
    out.append("| prompt | " + " | ".join(m.replace("|", "\\|") for m in models) + " |")
    out.append("|" + "---|" * (len(models) + 1))
    for row in data["rows"]:
        q = next((c["question"] for c in row["cells"].values()), row["question"])
        out.append(
            f"| **{row['id']}** {q.replace('|', chr(92) + '|')} | "
            + " | ".join(_cell_md(row["cells"].get(m)) for m in models)
            + " |"
        )
    return "\n".join(out) + "\n"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _cell_html(cell: dict | None) -> str:
    if cell is None:
        return "<em>not run</em>"
    parts = [f"<div class='call'><code>{html.escape(_call_text(c))}</code></div>" for c in cell["calls"]]
    if cell["text"]:
        parts.append(f"<div class='text'>{html.escape(cell['text'])}</div>")
    if cell["outcome"] != "answered":
        parts.append(
            f"<div class='bad'>{html.escape(cell['outcome'])}"
            + (f": {html.escape(cell['error'])}" if cell.get("error") else "")
            + "</div>"
        )
    parts.append(f"<div class='meta'>{cell.get('latency_s', 0):.1f} s</div>")
    return "".join(parts)


def compare_html(data: dict[str, Any]) -> str:
    models = data["models"]
    head = "".join(f"<th>{html.escape(m)}</th>" for m in models)
    body = []
    for row in data["rows"]:
        q = next((c["question"] for c in row["cells"].values()), row["question"])
        cells = "".join(f"<td>{_cell_html(row['cells'].get(m))}</td>" for m in models)
        body.append(
            f"<tr><th class='q'><span class='id'>{html.escape(row['id'])}</span><br>{html.escape(q)}</th>{cells}</tr>"
        )
    errors = "".join(f"<li>{html.escape(e)}</li>" for e in data["load_errors"].values())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mlx-distill compare</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
th, td {{ border: 1px solid #ccc; padding: .5em; vertical-align: top; text-align: left; }}
td .text {{ white-space: pre-wrap; }}
.call code {{ background: #eef; padding: 0 .2em; white-space: pre-wrap; word-break: break-all; }}
.bad {{ color: #a00; }} .meta {{ color: #888; font-size: .8em; }} .id {{ color: #888; font-weight: normal; }}
</style></head><body>
<h1>Model comparison</h1>
<p>{len(data["rows"])} prompts, {len(models)} models ({html.escape(data["created"])}).</p>
{f"<ul>{errors}</ul>" if errors else ""}
<table><thead><tr><th>prompt</th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def write_compare(data: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "compare.json", data),
        "markdown": atomic_write_text(out / "compare.md", compare_markdown(data)),
        "html": atomic_write_text(out / "compare.html", compare_html(data)),
    }
