"""Training throughput: plain mlx_lm.lora vs `mlx-distill train`, same data, same hyperparameters, one run.

Three trainings of the same examples for the same number of steps:
  mlx-lm        mlx-lm's own lora path (load, load_dataset, train_model) in a subprocess with the optimized
                BLAS (blas_env), --mask-prompt; a training callback records every step's loss and time
  ours (exact)  mlx-distill train with mask: last and no bucketing: the same batches in the same order as
                mlx-lm, and the same LoRA initialisation, so the two loss curves can be compared step by step
  ours          the same with bucketing (the default)
It prints seconds per step, tokens/s and the ratio to mlx-lm, and the loss curves side by side; the
result JSON and a loss plot go to --out.

mlx-lm's --mask-prompt also supervises the newline after the last <|im_end|> and one padding token (its
mask runs to `length` inclusive). By default the mlx-lm run gets a loss function with the mask aligned to
our targets (passed through mlx-lm's own `train(loss=...)` parameter; nothing else changes), so the two
curves can be compared step by step; --mlx-lm-native-mask keeps mlx-lm's targets.

Usage: python bench/train_throughput.py [--data DIR] [--n-train 16] [--iters 8] [--num-layers 8] ...
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlx_distill  # noqa: F401  (BLAS before mlx)

DRIVER = r"""
# mlx_lm.lora's own path (lora.main -> lora.run -> train_model), plus a callback recording each step.
import json, sys, time, types
import numpy as np
from mlx_lm import lora
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.datasets import load_dataset
from mlx_lm.utils import load

cfg, out = json.load(open(sys.argv[1])), sys.argv[2]
aligned = cfg.pop("aligned_mask", False)
args = dict(lora.CONFIG_DEFAULTS)
args.update(cfg)
args = types.SimpleNamespace(**args)

class Record(TrainingCallback):
    def on_train_loss_report(self, info):
        with open(out, "a") as f:
            f.write(json.dumps(info) + "\n")

if aligned:
    # Same targets as ours: mlx-lm's mask runs to `length` inclusive, which also supervises the newline after
    # the last <|im_end|> and one padding token. Only the loss's mask changes; the training loop is mlx-lm's.
    import functools
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.tuner import trainer

    def aligned_loss(model, batch, lengths):
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)
        steps = mx.arange(1, targets.shape[1] + 1)
        mask = mx.logical_and(steps >= lengths[:, 0:1], steps < lengths[:, 1:] - 1)
        ce = nn.losses.cross_entropy(logits, targets) * mask
        ntoks = mask.sum()
        return ce.astype(mx.float32).sum() / ntoks, ntoks

    lora.train = functools.partial(trainer.train, loss=aligned_loss)  # train_model calls lora.train

t0 = time.perf_counter()
np.random.seed(args.seed)
model, tokenizer = load(args.model)
train_set, valid_set, _ = load_dataset(args, tokenizer)
lora.train_model(args, model, train_set, valid_set, Record())
with open(out, "a") as f:
    f.write(json.dumps({"total_seconds": time.perf_counter() - t0}) + "\n")
"""


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_mlx_lm(model_path: str, data_dir: Path, work: Path, a) -> dict:
    from mlx_distill.runtime import subprocess_env

    cfg = {
        "model": model_path,
        "train": True,
        "data": str(data_dir),
        "fine_tune_type": "lora",
        "num_layers": a.num_layers,
        "batch_size": a.batch_size,
        "iters": a.iters,
        "learning_rate": a.learning_rate,
        "lora_parameters": {"rank": a.rank, "scale": 20.0, "dropout": 0.0},
        "mask_prompt": True,
        "max_seq_length": a.max_seq_length,
        "steps_per_report": 1,
        "steps_per_eval": a.iters + 1,
        "save_every": 10**9,
        "adapter_path": str(work / "mlx-lm-adapter"),
        "seed": a.seed,
        "val_batches": 0,
        "aligned_mask": not a.mlx_lm_native_mask,
    }
    (work / "mlx_lm.json").write_text(json.dumps(cfg))
    out = work / "mlx_lm_metrics.jsonl"
    out.unlink(missing_ok=True)
    (work / "driver.py").write_text(DRIVER)
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(work / "driver.py"), str(work / "mlx_lm.json"), str(out)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"mlx-lm run failed:\n{proc.stderr[-3000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    steps = [r for r in rows if "iteration" in r]
    return {
        "losses": [r["train_loss"] for r in steps],
        "step_seconds": [1.0 / r["iterations_per_second"] for r in steps],
        "peak_memory_gb": max(r["peak_memory"] for r in steps),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "load_and_train_seconds": next(r["total_seconds"] for r in rows if "total_seconds" in r),
    }


def run_ours(model: str, data_dir: Path, work: Path, a, *, bucketing: bool, name: str) -> dict:
    from mlx_distill.train.trainer import train

    cfg = {
        "model": model,
        "data": str(data_dir),
        "fine_tune_type": "lora",
        "num_layers": a.num_layers,
        "batch_size": a.batch_size,
        "iters": a.iters,
        "learning_rate": a.learning_rate,
        "lora_parameters": {"rank": a.rank, "scale": 20.0, "dropout": 0.0},
        "mask": "last",
        "max_seq_length": a.max_seq_length,
        "steps_per_report": a.iters,
        "val_batches": 0,
        "save_every": 10**9,
        "adapter_path": str(work / name),
        "seed": a.seed,
        "bucketing": bucketing,
    }
    cpu0, t0 = time.process_time(), time.perf_counter()
    r = train(cfg, overwrite=True, progress=False, quiet=not a.verbose)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rows = [json.loads(line) for line in open(r.run_dir / "metrics.jsonl")]
    steps = [x for x in rows if x["kind"] == "train"]
    return {
        "losses": [x["loss"] for x in steps],
        "step_seconds": [x["seconds"] for x in steps],
        "tokens": [x["tokens"] for x in steps],
        "targets": [x["targets"] for x in steps],
        "peak_memory_gb": max(x["peak_memory_gb"] for x in rows if x["kind"] == "report"),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "tokens_per_s": r.tokens_per_s,
        "cache": r.stats,
    }


def prepare_data(a, work: Path) -> Path:
    from mlx_distill.io import read_jsonl, write_jsonl

    d = work / "data"
    d.mkdir(parents=True, exist_ok=True)
    if a.data:
        rows = [obj for _, obj in read_jsonl(Path(a.data) / "train.jsonl")][: a.n_train]
        if len(rows) < a.n_train:
            sys.exit(f"{a.data}/train.jsonl has only {len(rows)} records (--n-train {a.n_train})")
        write_jsonl(d / "train.jsonl", rows)
    else:
        from mlx_distill.testing.sample_data import write_sample_data

        write_sample_data(d, a.n_train, 0, 0, seed=a.seed)
    return d  # train.jsonl only: mlx-lm trains without validation, ours with val_batches: 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="embedded:smollm2-135m")
    p.add_argument("--data", default=None, help="a data dir (its train.jsonl); default: synthetic sample records")
    p.add_argument("--n-train", type=int, default=16, help="training examples (a multiple of --batch-size)")
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--num-layers", type=int, default=8)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--max-seq-length", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/train_throughput")
    p.add_argument("--skip-mlx-lm", action="store_true", help="only our two runs (no ratio)")
    p.add_argument(
        "--mlx-lm-native-mask",
        action="store_true",
        help="keep mlx-lm's own --mask-prompt targets (two more per example) instead of ours",
    )
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    if a.n_train % a.batch_size:
        sys.exit("--n-train must be a multiple of --batch-size (mlx-lm drops the remainder; we do not)")

    from mlx_distill.models import resolve_model

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = resolve_model(a.model)
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        work = Path(tmp)
        data = prepare_data(a, work)
        print(
            f"model {a.model}, {a.n_train} examples, {a.iters} steps of batch {a.batch_size}, LoRA rank {a.rank} "
            f"on the top {a.num_layers} layers, lr {a.learning_rate}, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        res = {"args": vars(a), "loadavg_start": os.getloadavg()}
        # ours, mlx-lm, ours: load from other processes changes over minutes; this spreads it over both
        res["ours_exact"] = run_ours(a.model, data, work, a, bucketing=False, name="ours-exact")
        print(f"ours (exact order): {sum(res['ours_exact']['step_seconds']):.1f}s", flush=True)
        if not a.skip_mlx_lm:
            res["mlx_lm"] = run_mlx_lm(model_path, data, work, a)
            print(f"mlx-lm:             {sum(res['mlx_lm']['step_seconds']):.1f}s", flush=True)
        res["ours"] = run_ours(a.model, data, work, a, bucketing=True, name="ours")
        print(f"ours (bucketing):   {sum(res['ours']['step_seconds']):.1f}s", flush=True)
        res["loadavg_end"] = os.getloadavg()

    tokens = sum(res["ours_exact"]["tokens"])  # the same examples in every run (whole epochs)
    print(f"\n{'run':18} {'s/step':>8} {'tokens/s':>9} {'train s':>8} {'wall s':>8} {'cpu s':>8} {'peak GB':>8}  ratio")
    base = sum(res["mlx_lm"]["step_seconds"]) if "mlx_lm" in res else None
    for key, label in (("mlx_lm", "mlx-lm"), ("ours_exact", "ours (exact order)"), ("ours", "ours (bucketing)")):
        if key not in res:
            continue
        r = res[key]
        secs = sum(r["step_seconds"])
        r["tokens_per_s_same_data"] = tokens / secs
        ratio = f"{base / secs:5.2f}x" if base else "-"
        print(
            f"{label:18} {secs / len(r['step_seconds']):8.2f} {tokens / secs:9.1f} {secs:8.1f} {r['wall_seconds']:8.1f}"
            f" {r['cpu_seconds']:8.1f} {r['peak_memory_gb']:8.2f}  {ratio}"
        )
    if base:
        res["speedup"] = base / sum(res["ours"]["step_seconds"])
        res["speedup_exact_order"] = base / sum(res["ours_exact"]["step_seconds"])
        res["speedup_cpu"] = res["mlx_lm"]["cpu_seconds"] / res["ours"]["cpu_seconds"]
        diffs = [abs(x - y) for x, y in zip(res["mlx_lm"]["losses"], res["ours_exact"]["losses"])]
        res["max_abs_loss_diff_exact_order"] = max(diffs)
    print("\nloss per step")
    print(f"{'step':>4} " + " ".join(f"{n:>12}" for n in ("mlx-lm", "ours exact", "ours")))
    for i in range(a.iters):
        cells = [res[k]["losses"][i] if k in res else float("nan") for k in ("mlx_lm", "ours_exact", "ours")]
        print(f"{i + 1:>4} " + " ".join(f"{c:12.4f}" for c in cells))
    if base:
        print(
            f"\nspeed-up (training time, same examples): {res['speedup']:.2f}x with bucketing, "
            f"{res['speedup_exact_order']:.2f}x in mlx-lm's batch order; CPU time {res['speedup_cpu']:.2f}x. "
            f"Max |loss difference| mlx-lm vs ours in the same order: {res['max_abs_loss_diff_exact_order']:.4f} "
            + (
                "(mlx-lm's own mask: it also counts the newline after the last <|im_end|> and one padding token)"
                if a.mlx_lm_native_mask
                else "(mlx-lm with the same targets as ours)"
            )
        )
    print(
        f"load average: {res['loadavg_start'][0]:.1f} at start, {res['loadavg_end'][0]:.1f} at end "
        "(other processes on the machine slow every run)"
    )
    (out / "result.json").write_text(json.dumps(res, indent=2) + "\n")
    _plot(res, out / "loss.png")
    print(f"wrote {out / 'result.json'} and {out / 'loss.png'}")


def _plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for key, label, style in (
        ("mlx_lm", "plain mlx-lm (--mask-prompt)", "o-"),
        ("ours_exact", "mlx-distill, mlx-lm's batch order", "s--"),
        ("ours", "mlx-distill, bucketing", "^:"),
    ):
        if key in res:
            ys = res[key]["losses"]
            ax.plot(range(1, len(ys) + 1), ys, style, label=label, ms=4)
    ax.set_xlabel("step")
    ax.set_ylabel("train loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
