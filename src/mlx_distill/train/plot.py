"""loss.png from metrics.jsonl: train loss per step (and its running mean), validation loss."""

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
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean cross-entropy per target token)")
    ax.set_title(title or Path(metrics).parent.name)
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, out)
