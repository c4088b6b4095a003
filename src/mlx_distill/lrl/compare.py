"""Several worked-solution formats, each run through the same recipe (same budget, same held-out test
set), and the one with the best held-out balanced accuracy kept: RUN/compare.json and RUN/compare.md,
one row per format, each format's whole run in RUN/<format>/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InputError
from ..io import atomic_write_text, write_json
from .evaluate import p_text, pct
from .pipeline import LRLConfig, Pipeline
from .task import get_task, with_target_format

ADAPTED = "adapted student"


def compare_formats(
    cfg: LRLConfig, formats: Sequence[str], *, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the recipe once per format (every name checked before anything runs); the table and the best."""
    say = log or (lambda _m: None)
    if not formats:
        raise InputError("name at least one target format", rule="config")
    task = get_task(cfg.task)
    for f in formats:
        with_target_format(task, f)
    rows = []
    for f in formats:
        sub = cfg.model_copy(update={"target_format": f, "run_dir": str(Path(cfg.run_dir) / f)})
        say(f"== target format {f} -> {sub.run_dir}")
        tic = time.perf_counter()
        data = Pipeline(sub, log=say).run()
        rows.append(_row(f, data, time.perf_counter() - tic))
    best = max(rows, key=lambda r: r["balanced_accuracy"] or 0.0)  # a tie keeps the first named
    out = {"task": task.name, "formats": rows, "best": best["format"]}
    write_json(Path(cfg.run_dir) / "compare.json", out)
    atomic_write_text(Path(cfg.run_dir) / "compare.md", markdown(out) + "\n")
    say(f"best target format by held-out balanced accuracy: {best['format']}")
    return out


def _row(fmt: str, data: dict[str, Any], seconds: float) -> dict[str, Any]:
    cols = {c["name"]: c for c in data["columns"]}
    if ADAPTED not in cols:
        raise InputError(f"format {fmt}: the run has no adapted student to compare", rule="config")
    a, base = cols[ADAPTED], cols.get("base student")
    keep = ("problems", "accuracy", "balanced_accuracy", "recall", "steps_correct", "contradicts", "p_value")
    return {
        "format": fmt,
        **{k: a.get(k) for k in keep},
        "verdict": a["verdict"],
        "majority_baseline": a["majority_baseline"],
        "base_balanced_accuracy": base["balanced_accuracy"] if base else None,
        "by_difficulty": {d: m["balanced_accuracy"] for d, m in a.get("by_difficulty", {}).items()},
        "seconds": round(seconds),
    }


def markdown(out: dict[str, Any]) -> str:
    """One row per format: the adapted student's held-out scores, the base student's, the wall time."""
    rows = out["formats"]
    classes = list(rows[0]["recall"]) if rows else []
    levels = sorted({d for r in rows for d in r["by_difficulty"]}, key=int)
    header = (
        ["format", "n", "balanced acc.", "base balanced acc."]
        + [f"recall {c}" for c in classes]
        + ["steps all correct", "contradicts steps", "majority baseline", "p", "verdict"]
        + [f"bal. acc. level {d}" for d in levels]
        + ["wall time"]
    )
    lines = [
        f"# Target formats: {out['task']}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in rows:
        cells = (
            [r["format"] + (" (best)" if r["format"] == out["best"] else ""), str(r["problems"])]
            + [pct(r["balanced_accuracy"]), pct(r["base_balanced_accuracy"])]
            + [pct(r["recall"].get(c)) for c in classes]
            + [
                pct(r.get("steps_correct")),
                pct(r.get("contradicts")),
                pct(r["majority_baseline"]),
                p_text(r["p_value"]),
                r["verdict"],
            ]
            + [pct(r["by_difficulty"].get(d)) for d in levels]
            + [f"{r['seconds'] // 60} min {r['seconds'] % 60} s"]
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Best by held-out balanced accuracy: **{out['best']}** (chosen on the test set the table reports)."]
    return "\n".join(lines)
