"""The run directory (`adapters/<run>/` or `adapter_path`): what may start or resume in it, the files a
run writes besides checkpoints (checkpoint.py), and the summary read back from its metrics.

  adapter_config.json, adapters.safetensors   what mlx_lm.load/generate/server/fuse read
  NNNNNNN_adapters.safetensors                checkpoints every save_every steps (mlx-lm's naming)
  optimizer.safetensors, state.json           the latest checkpoint's optimizer state, step, RNG (for --resume)
  config.yaml, run.json                       the resolved config; data hashes, model, versions, data stats
  metrics.jsonl, loss.png                     per-step train loss, reports, validation
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from ..io import atomic_write_text, write_json, write_jsonl
from .checkpoint import ADAPTER_FILE, METRICS_FILE, OPTIMIZER_FILE, STATE_FILE, read_metrics
from .config import TrainConfig
from .dataset import Split, data_fingerprint

# keys whose change makes a checkpoint unusable
SHAPE_KEYS = ("fine_tune_type", "num_layers", "lora_parameters")


def adapter_config(cfg: TrainConfig, model_path: str, run_dir: Path) -> dict[str, Any]:
    """mlx-lm's adapter_config.json (vars(args) of mlx_lm.lora) plus our keys, which mlx-lm ignores."""
    d = cfg.model_dump(mode="json")
    d.update(
        {
            "model": model_path,
            "base_model": cfg.model,
            "adapter_path": str(run_dir),
            "lora_parameters": cfg.lora_parameters.model_dump(mode="json"),
            "mask_prompt": cfg.mask == "last",
        }
    )
    return dict(sorted(d.items()))


def check_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """A run may start only in a free (or --overwrite) directory, and resume only where a checkpoint is."""
    for p in (run_dir, *run_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise InputError("adapter_path: expected a run directory, found a file", path=p, rule="adapter_path")
            break
    has_run = (run_dir / STATE_FILE).exists() or (run_dir / ADAPTER_FILE).exists()
    if resume:
        if not (run_dir / STATE_FILE).exists():
            raise InputError(
                f"nothing to resume in {run_dir} (no {STATE_FILE}); start the run without --resume", rule="resume"
            )
        return
    if has_run and not overwrite:
        raise InputError(
            f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to replace it, "
            "or choose another --run-name",
            rule="run-dir",
        )


def check_resume_compatible(run_dir: Path, cfg: TrainConfig) -> None:
    p = run_dir / "adapter_config.json"
    if not p.exists():
        return
    old = json.loads(p.read_text())
    new = adapter_config(cfg, "", run_dir)
    for k in SHAPE_KEYS + ("base_model",):
        if k in old and old[k] != new[k]:
            raise InputError(
                f"cannot resume: {k} was {old[k]!r} in {run_dir} and is now {new[k]!r}; keep it or start a new run",
                rule="resume",
            )


def open_run_dir(
    run_dir: Path,
    cfg: TrainConfig,
    model_path: str,
    splits: dict[str, Split],
    *,
    resumed_from: Optional[int],
    forward: dict[str, Any],
) -> None:
    """Make the directory ready for step `resumed_from` + 1 (None: a new run, whose leftovers go) and write
    adapter_config.json, config.yaml and run.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / METRICS_FILE
    if resumed_from is not None:  # rows of steps after the checkpoint are trained again
        rows = [r for r in read_metrics(metrics_path, tolerate_torn_tail=True) if r.get("step", 0) <= resumed_from]
        write_jsonl(metrics_path, rows)
    else:
        for p in list(run_dir.glob("*_adapters.safetensors")) + [
            run_dir / n for n in (METRICS_FILE, STATE_FILE, OPTIMIZER_FILE, ADAPTER_FILE, "loss.png")
        ]:
            if p.exists():
                p.unlink()
    with open(run_dir / "adapter_config.json", "w") as f:
        json.dump(adapter_config(cfg, model_path, run_dir), f, indent=4)
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    fingerprint = data_fingerprint(cfg.data)
    write_json(
        run_dir / "run.json",
        {
            "config": cfg.model_dump(mode="json"),
            "model_path": model_path,
            "data": {**fingerprint, "splits": {n: s.stats() for n, s in splits.items()}},
            "data_manifest_sha256": fingerprint["manifest_sha256"],
            "versions": versions(),
            "forward": forward,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "resumed_from": resumed_from,
        },
    )


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg in ("mlx-distill", "mlx", "mlx-lm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def plot(run_dir: Path) -> None:
    try:
        from .plot import plot_losses

        plot_losses(run_dir / METRICS_FILE, run_dir / "loss.png")
    except Exception as e:  # a plot must never fail a run
        print(f"warning: loss.png not written: {e}", file=sys.stderr)


def loss_summary(rows: list[dict], window: int) -> tuple[Optional[float], ...]:
    """(first, last train loss, first, last validation loss). Train losses are window means: one batch's
    loss depends on what it holds (bucketing groups short direct answers apart from long tool
    conversations), so a single step says little; validation runs the same examples every time."""
    steps = [r for r in rows if r.get("kind") == "train"]
    vals = [r for r in rows if r.get("kind") == "val"]
    first = float(np.mean([r["loss"] for r in steps[:window]])) if steps else None
    last = float(np.mean([r["loss"] for r in steps[-window:]])) if steps else None
    return first, last, (vals[0]["val_loss"] if vals else None), (vals[-1]["val_loss"] if vals else None)
