"""Honest evaluation: several models answer the same held-out, class-balanced problems through the same
prompt, and each is scored with accuracy, balanced accuracy, per-class recall, the majority-class baseline
and its answer distribution. A model that does not beat the majority baseline is labelled so: answering
YES to everything must never look like learning.

For a task that reads worked steps back (`check_steps`), what the model computed is scored too: the
share of replies whose steps are all the solver's, and the share whose final answer is not the one its
own steps lead to. Every score is also given per difficulty level.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..io import atomic_write_text, save_figure, write_json, write_jsonl
from .prompt import messages, student_prompt
from .task import Problem, Task, check_steps, class_balance, describe_balance

UNPARSED = "(none)"

Answerer = Callable[[Sequence[Problem]], list[str]]


@dataclass
class Subject:
    """One column of the report: a model (with or without the strategy) and how to get its answers."""

    name: str
    answer: Answerer
    strategy_used: bool = False
    info: dict[str, Any] = field(default_factory=dict)


def score(task: Task, problems: Sequence[Problem], texts: Sequence[str]) -> dict[str, Any]:
    """The metrics of one model's answers (texts) to `problems`: the bench's baseline verdict (accuracy,
    balanced accuracy, majority baseline, at-or-below-baseline flag, p-value), recall per class, answers
    given, the step shares (tasks that read steps), and accuracy and balanced accuracy per difficulty."""
    out = _scores(task, problems, texts)
    levels = sorted({int(p["difficulty"]) for p in problems if p.get("difficulty") is not None})
    keep = ("problems", "accuracy", "balanced_accuracy", "recall", "steps_correct", "contradicts")
    out["by_difficulty"] = {}
    for d in levels:
        at = [i for i, p in enumerate(problems) if p.get("difficulty") == d]
        m = _scores(task, [problems[i] for i in at], [texts[i] for i in at])
        out["by_difficulty"][str(d)] = {k: m[k] for k in keep if k in m}
    return out


def _scores(task: Task, problems: Sequence[Problem], texts: Sequence[str]) -> dict[str, Any]:
    from ..bench.scoring import baseline_verdict, classification, verdict_text

    gold = [task.solve(p) for p in problems]
    pred = []
    for t in texts:
        a = task.parse(t)
        pred.append(a if a in task.classes else UNPARSED)
    verdict = baseline_verdict(gold, pred)
    per_class = classification(gold, pred)
    out = {
        "problems": len(gold),
        "accuracy": verdict["decision_accuracy"],
        "balanced_accuracy": verdict["balanced_accuracy"],
        "recall": {c: per_class.get(c, {}).get("recall") for c in task.classes},
        "majority_baseline": verdict["majority_baseline"],
        "majority_class": verdict["majority_class"],
        "at_or_below_baseline": verdict["at_or_below_baseline"],
        "verdict": verdict_text(verdict),
        "p_value": verdict["p_value"],
        "significant": verdict["significant"],
        "answers": {c: pred.count(c) for c in (*task.classes, UNPARSED)},
        "gold": {c: gold.count(c) for c in task.classes},
    }
    steps = [check_steps(task, p, t) for p, t in zip(problems, texts)]
    if steps and all(c is not None for c in steps):
        out["steps_correct"] = sum(c.correct for c in steps if c is not None) / len(steps)
        out["contradicts"] = sum(c.contradicts for c in steps if c is not None) / len(steps)
    return out


def evaluate(
    task: Task, problems: Sequence[Problem], subjects: Sequence[Subject], *, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every subject answers every problem; returns the report data (scores, answers, timings)."""
    say = log or (lambda _m: None)
    balance = class_balance(task, list(problems))
    say(f"test set: {len(problems)} problems, {describe_balance(balance)}")
    columns, rows = [], []
    for s in subjects:
        tic = time.perf_counter()
        texts = s.answer(problems)
        seconds = time.perf_counter() - tic
        m = score(task, problems, texts)
        m.update(name=s.name, strategy=s.strategy_used, seconds=round(seconds, 1), **s.info)
        columns.append(m)
        said = f"{s.name}: accuracy {m['accuracy']:.1%}, balanced {m['balanced_accuracy']:.1%}"
        if "steps_correct" in m:
            said += f", steps all correct {m['steps_correct']:.1%}, answer contradicts its steps {m['contradicts']:.1%}"
        say(f"{said} ({m['verdict']}) [{seconds:.0f} s]")
        for i, (p, t) in enumerate(zip(problems, texts)):
            a = task.parse(t)
            row = {
                "subject": s.name,
                "problem": i,
                "difficulty": p.get("difficulty"),
                "gold": task.solve(p),
                "parsed": a,
                "correct": task.verify(p, a),
            }
            steps = check_steps(task, p, t)
            if steps is not None:
                row.update(steps_correct=steps.correct, contradicts=steps.contradicts)
            rows.append({**row, "text": t})
    return {"task": task.name, "test_balance": balance, "columns": columns, "answers": rows}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def p_text(p: float | None) -> str:
    return "–" if p is None else f"{p:.2g}"


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Metric rows × model columns (what the markdown table and the CLI print)."""
    cols = data["columns"]
    classes = list(data["test_balance"])
    header = ["metric"] + [c["name"] for c in cols]
    rows = [
        ["accuracy"] + [pct(c["accuracy"]) for c in cols],
        ["balanced accuracy"] + [pct(c["balanced_accuracy"]) for c in cols],
    ]
    rows += [[f"recall {k}"] + [pct(c["recall"].get(k)) for c in cols] for k in classes]
    if any("steps_correct" in c for c in cols):
        rows.append(["steps all correct"] + [pct(c.get("steps_correct")) for c in cols])
        rows.append(["answer contradicts its steps"] + [pct(c.get("contradicts")) for c in cols])
    rows.append(["majority baseline"] + [pct(c["majority_baseline"]) for c in cols])
    rows.append(["p (one-sided binomial vs the baseline)"] + [p_text(c.get("p_value")) for c in cols])
    rows.append(
        ["answers " + " / ".join([*classes, UNPARSED])]
        + [" / ".join(str(c["answers"].get(k, 0)) for k in [*classes, UNPARSED]) for c in cols]
    )
    rows.append(["verdict"] + [f"**{c['verdict']}**" if c["at_or_below_baseline"] else c["verdict"] for c in cols])
    return header, rows


def difficulty_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Difficulty rows × model columns: accuracy / balanced accuracy (and steps all correct) per level."""
    cols = data["columns"]
    levels = sorted({d for c in cols for d in c.get("by_difficulty", {})}, key=int)
    header = ["difficulty (problems)"] + [f"{c['name']}: acc. / bal." for c in cols]
    rows = []
    for d in levels:
        n = next(c["by_difficulty"][d]["problems"] for c in cols if d in c.get("by_difficulty", {}))
        cells = []
        for c in cols:
            m = c.get("by_difficulty", {}).get(d)
            cell = "–" if m is None else f"{pct(m['accuracy'])} / {pct(m['balanced_accuracy'])}"
            if m is not None and "steps_correct" in m:
                cell += f" (steps {pct(m['steps_correct'])})"
            cells.append(cell)
        rows.append([f"{d} ({n})"] + cells)
    return header, rows


def markdown(data: dict[str, Any]) -> str:
    header, rows = table_rows(data)
    bal = ", ".join(f"{k} {v}" for k, v in data["test_balance"].items())
    out = [
        f"# LRL evaluation: {data['task']}",
        "",
        f"Held-out test set: {sum(data['test_balance'].values())} problems ({bal}); "
        "the same prompt for every model, the strategy in it where the column says so.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    dheader, drows = difficulty_rows(data)
    if len(drows) > 1:
        out += ["", "By difficulty:", "", "| " + " | ".join(dheader) + " |", "|" + "---|" * len(dheader)]
        out += ["| " + " | ".join(r) + " |" for r in drows]
    flagged = [c["name"] for c in data["columns"] if c["at_or_below_baseline"]]
    if flagged:
        out += ["", "Not above the majority baseline (a constant answer scores as well): " + ", ".join(flagged) + "."]
    weak = [c["name"] for c in data["columns"] if not c["at_or_below_baseline"] and not c.get("significant", True)]
    if weak:
        out += [
            "",
            "Above the majority baseline by less than chance often gives a constant answer on this many "
            "problems (one-sided binomial test, p >= 0.05): " + ", ".join(weak) + ".",
        ]
    return "\n".join(out)


def chart(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Grouped bars (accuracy, balanced accuracy, recall per class) per model, the majority baseline as a
    dashed line, and each model's answer distribution beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = data["columns"]
    classes = list(data["test_balance"])
    metrics = [("accuracy", "accuracy"), ("balanced_accuracy", "balanced acc.")] + [(k, f"recall {k}") for k in classes]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(1, len(cols))
    for i, c in enumerate(cols):
        vals = [100 * (c[k] if k in c else (c["recall"].get(k) or 0.0)) for k, _ in metrics]
        ax.bar([x + (i - (len(cols) - 1) / 2) * width for x in range(len(metrics))], vals, width, label=c["name"])
    if cols:
        ax.axhline(
            100 * cols[0]["majority_baseline"], color="black", linestyle="--", linewidth=1, label="majority baseline"
        )
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels([label for _, label in metrics])
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(f"{data['task']}: held-out, class-balanced")
    ax.legend(fontsize=8, loc="lower right")
    answers = [*classes, UNPARSED]
    bottom = [0.0] * len(cols)
    for k in answers:
        vals = [c["answers"].get(k, 0) for c in cols]
        ax2.bar(range(len(cols)), vals, 0.6, bottom=bottom, label=k)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax2.set_xticks(range(len(cols)))
    ax2.set_xticklabels([c["name"] for c in cols], rotation=20, ha="right", fontsize=8)
    ax2.set_title("answers given")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def write_report(data: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """report.json, report.md, answers.jsonl and chart.png in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "report.json", data),
        "markdown": atomic_write_text(out / "report.md", markdown(data) + "\n"),
        "answers": write_jsonl(out / "answers.jsonl", data["answers"]),
        "chart": chart(data, out / "chart.png"),
    }


# -- answerers ---------------------------------------------------------------------------------------------


def student(
    task: Task,
    model_name: str,
    *,
    adapter_path: str | None = None,
    strategy: str | None = None,
    max_tokens: int = 256,
    batch_size: int = 16,
    share_prefix: bool = True,
) -> Answerer:
    """A local MLX model answering greedily through `prompting.render` (the training rendering), in
    batches (`agent.generation.greedy_batch`). The prompts share a long prefix (system prompt, strategy,
    the question's opening), which goes through the model once."""

    def answer(problems: Sequence[Problem]) -> list[str]:
        from ..agent.generation import greedy_batch
        from ..models import load_model

        model, tokenizer = load_model(model_name, adapter_path)
        prompts = [
            tokenizer.encode(student_prompt(task, p, strategy, tokenizer), add_special_tokens=False) for p in problems
        ]
        return greedy_batch(
            model, tokenizer, prompts, max_tokens=max_tokens, batch_size=batch_size, share_prefix=share_prefix
        )

    return answer


def model_answerer(task: Task, teacher: Any, *, strategy: str | None = None) -> Answerer:
    """A teacher (`teacher.JournaledTeacher`: Claude, a local MLX model, the loopback fake) answering the
    same messages, one journaled request per problem (a re-run pays nothing again)."""

    def answer(problems: Sequence[Problem]) -> list[str]:
        return [teacher.ask(messages(task, p, strategy), purpose="eval") for p in problems]

    return answer
