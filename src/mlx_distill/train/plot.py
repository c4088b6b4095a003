"""loss.png from metrics.jsonl: train loss per step (and its running mean), validation loss, and on a
second axis the call-or-not decision on the validation split (AUC, balanced accuracy) when measured."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from ..io import read_jsonl, save_figure


def plot_losses(
    metrics: str | os.PathLike,
    out: str | os.PathLike,
    *,
    title: Optional[str] = None,
    others: Iterable[tuple[str, list[tuple[int, float]]]] = (),
) -> Path:
    """Write a PNG of the run's losses; `others` adds named (step, loss) curves (e.g. a plain mlx-lm run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for _, r in read_jsonl(metrics)] if Path(metrics).exists() else []
    train = [(r["step"], r["loss"]) for r in rows if r.get("kind") == "train"]
    val = [(r["step"], r["val_loss"]) for r in rows if r.get("kind") == "val" and r.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        xs, ys = zip(*train)
        ax.plot(xs, ys, lw=0.8, alpha=0.45, color="tab:blue", label="train (per step)")
        k = max(1, len(ys) // 20)
        if k > 1:
            smooth = [sum(ys[max(0, i - k + 1) : i + 1]) / len(ys[max(0, i - k + 1) : i + 1]) for i in range(len(ys))]
            ax.plot(xs, smooth, lw=1.6, color="tab:blue", label=f"train (mean of {k})")
    if val:
        xs, ys = zip(*val)
        ax.plot(xs, ys, "o-", lw=1.6, color="tab:orange", label="validation")
    for name, curve in others:
        if curve:
            xs, ys = zip(*curve)
            ax.plot(xs, ys, lw=1.0, label=name)
    decision = [
        (r["step"], r.get("decision_auc"), r.get("decision_balanced_accuracy"))
        for r in rows
        if r.get("kind") == "val" and r.get("decision_cases")
    ]
    handles = []
    if decision:
        ax2 = ax.twinx()
        for i, (name, color) in enumerate((("decision AUC", "tab:green"), ("decision balanced acc.", "tab:red"))):
            points = [(d[0], d[1 + i]) for d in decision if d[1 + i] is not None]
            if points:
                xs, ys = zip(*points)
                ax2.plot(xs, ys, "s--", lw=1.2, color=color, label=f"{name} (right axis)")
        ax2.set_ylim(0, 1.02)
        ax2.set_ylabel("decision on the validation split (call vs no call)")
        handles += ax2.get_legend_handles_labels()[0]
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean cross-entropy per target token)")
    ax.set_title(title or Path(metrics).parent.name)
    ax.grid(alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + handles
    if handles:
        ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, out)
