"""The learning curve: the call-or-not decision of every checkpoint of one or more training runs.

A run saves its adapter every `save_every` steps (`NNNNNNN_adapters.safetensors`); each is a point on
the curve, measured by the decision-only evaluation (`decision.py`) on held-out suites, with the base
model as the point at step 0. The x axis is training examples seen (steps x batch size) beside the
number of distinct training records of the run, so runs of different recipes (the main job's one
epoch of ~150 records, the quality recipe's epochs of ~600) sit on one plot and the reading is plain:
a curve that is still rising wants more steps; one that is flat at a low level wants other data or a
bigger model. Checkpoints are evaluated raw; the run's final adapter is evaluated with its own
calibration too, when it has one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InputError
from ..io import atomic_write_text, write_json
from ..train.checkpoint import ADAPTER_FILE, numbered_checkpoints
from .decision import DecisionSpec, evaluate_model
from .suites import Case


@dataclass
class CurvePoint:
    """One adapter to evaluate: `weights` is a checkpoint file, the run's final adapter file, or None
    for the base model."""

    run: str
    step: int
    examples: int
    train_records: int | None
    weights: Path | None
    final: bool = False

    @property
    def name(self) -> str:
        if self.weights is None:
            return "base"
        return f"{self.run} step {self.step}" + (" (final)" if self.final else "")


def _run_facts(run_dir: Path) -> tuple[int, int | None, int | None]:
    """(batch size, distinct training records, the step whose weights the final adapter holds)."""
    try:
        cfg = json.loads((run_dir / "adapter_config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}: not a training run (no adapter_config.json)") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{run_dir}/adapter_config.json: unreadable ({e})") from None
    batch = int(cfg.get("batch_size") or 1)
    train = Path(str(cfg.get("data") or "")) / "train.jsonl"
    records = None
    if cfg.get("data") and train.is_file():
        with train.open("rb") as f:
            records = sum(1 for line in f if line.strip())
    result = (
        json.loads((run_dir / "result.json").read_text(encoding="utf-8")) if (run_dir / "result.json").is_file() else {}
    )
    kept = (result.get("decision") or {}).get("step")
    if kept is None:
        kept = result.get("steps")
    return batch, records, kept


def curve_points(run_dirs: Sequence[str | os.PathLike], *, include_base: bool = True) -> list[CurvePoint]:
    """The base, then every checkpoint of each run in step order, then each run's final adapter when it
    holds weights no checkpoint has (keep_best kept an evaluation between checkpoints)."""
    points = [CurvePoint("base", 0, 0, None, None)] if include_base else []
    for d in map(Path, run_dirs):
        batch, records, kept = _run_facts(d)
        checkpoints = numbered_checkpoints(d)
        if not checkpoints and not (d / ADAPTER_FILE).is_file():
            raise InputError(f"{d}: no checkpoint and no {ADAPTER_FILE}: has the run saved anything yet?")
        steps = {int(p.name.split("_", 1)[0]): p for p in checkpoints}
        for step, path in sorted(steps.items()):
            points.append(CurvePoint(d.name, step, step * batch, records, path, final=step == kept))
        if (d / ADAPTER_FILE).is_file() and (kept is None or kept not in steps):
            step = kept if kept is not None else max(steps, default=0)
            points.append(CurvePoint(d.name, step, step * batch, records, d / ADAPTER_FILE, final=True))
    return points


def _adapter_dir(point: CurvePoint, into: Path) -> str:
    """A directory mlx-lm loads as an adapter: the run's config beside this point's weights (and the
    run's calibration for its final adapter)."""
    assert point.weights is not None
    run_dir = point.weights.parent
    out = into / f"{point.run}-{point.step:07d}"
    out.mkdir(parents=True)
    shutil.copyfile(run_dir / "adapter_config.json", out / "adapter_config.json")
    os.symlink(point.weights.resolve(), out / ADAPTER_FILE)
    calibration = run_dir / "decision_calibration.json"
    if point.final and calibration.is_file():
        shutil.copyfile(calibration, out / calibration.name)
    return str(out)


def learning_curve(
    model: str,
    run_dirs: Sequence[str | os.PathLike],
    cases: Sequence[Case],
    *,
    include_base: bool = True,
    base_calibration: str | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Every point's decision on `cases`: the data of curve.json. `base_calibration`: a
    decision_calibration.json for the base model's point (checkpoints are raw, final adapters carry
    their own)."""
    points = curve_points(run_dirs, include_base=include_base)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlx-distill-curve-") as tmp:
        for point in points:
            adapter = _adapter_dir(point, Path(tmp)) if point.weights is not None else None
            if point.weights is None:
                spec = DecisionSpec(model, None, base_calibration or "none")
            else:
                spec = DecisionSpec(model, adapter, None if point.final else "none")
            entry = evaluate_model(spec, cases, batch_size=batch_size, progress=progress)["entry"]
            raw = entry["raw"]["pooled"]
            row = {
                "point": point.name,
                "run": point.run,
                "step": point.step,
                "examples_seen": point.examples,
                "train_records": point.train_records,
                "cases": raw["cases"],
                "balanced_accuracy": raw["balanced_accuracy"],
                "auc": raw["auc"],
                "majority_baseline": raw["majority_baseline"],
                "p_value": raw["p_value"],
                "seconds": entry["seconds"],
            }
            if "calibrated" in entry:
                cal = entry["calibrated"]["pooled"]
                row.update(
                    calibration_bias=entry["calibration"]["bias"],
                    calibrated_balanced_accuracy=cal["balanced_accuracy"],
                    calibrated_p_value=cal["p_value"],
                )
            rows.append(row)
    return {"kind": "learning_curve", "model": model, "runs": [str(d) for d in run_dirs], "points": rows}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _p(x: float | None) -> str:
    return "–" if x is None else ("<0.001" if x < 0.001 else f"{x:.3f}")


def table_lines(data: dict[str, Any]) -> list[str]:
    """The curve as a table that fits 80 columns (markdown-compatible)."""
    out = [
        "| point | examples seen | records | bal.acc | AUC | majority | p | calibrated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["points"]:
        cal = _pct(r.get("calibrated_balanced_accuracy")) if "calibration_bias" in r else "–"
        out.append(
            f"| {r['point']} | {r['examples_seen']} | {r['train_records'] or '–'} | {_pct(r['balanced_accuracy'])} "
            f"| {'–' if r['auc'] is None else format(r['auc'], '.3f')} | {_pct(r['majority_baseline'])} "
            f"| {_p(r['p_value'])} | {cal} |"
        )
    return out


def plot(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Balanced accuracy and AUC against examples seen, one line per run, the base at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    base = [r for r in data["points"] if r["run"] == "base"]
    runs = sorted({r["run"] for r in data["points"]} - {"base"})
    for ax, key, title in ((axes[0], "balanced_accuracy", "balanced accuracy"), (axes[1], "auc", "ROC AUC")):
        for run in runs:
            pts = base + [r for r in data["points"] if r["run"] == run]
            pts = [r for r in pts if r[key] is not None]
            ax.plot([r["examples_seen"] for r in pts], [r[key] for r in pts], marker="o", label=run)
        if key == "balanced_accuracy":
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance / majority")
        ax.set_xlabel("training examples seen (steps x batch)")
        ax.set_title(f"call vs no call: {title}")
        ax.set_ylim(0.4, 1.0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out


def write_curve_dir(data: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(out / "curve.json", data),
        "markdown": atomic_write_text(out / "curve.md", "\n".join(table_lines(data)) + "\n"),
        "plot": plot(data, out / "curve.png"),
    }
