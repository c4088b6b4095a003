"""Data-parallel training overhead: the same global batches trained by one process and by N processes
(`mlx.launch` over the ring backend on 127.0.0.1), both through `mlx-distill train`.

On one machine the N processes share its cores, so this measures what splitting a batch and
all-reducing the gradients costs per step, not a speed-up; across N Macs each process has a machine
of its own (docs/scale.md). It prints the median seconds per step (the first step, which pays for
warm-up, left out), the ratio N-process / 1-process, the largest loss difference between the two runs
step by step, and the load average while it ran.

Usage: python bench/train_distributed.py [--model embedded:smollm2-135m] [--processes 2] [--iters 8]
       [--batch-size 8] [--num-layers 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlx_distill  # noqa: F401  (BLAS before mlx)
import yaml

TRAIN = [sys.executable, "-c", "from mlx_distill.train.cli import train; train()"]


def run(cmd: list[str], run_dir: Path, verbose: bool) -> float:
    from mlx_distill.runtime import subprocess_env

    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=subprocess_env(), stdin=subprocess.DEVNULL, capture_output=not verbose, text=True)
    if p.returncode != 0 or not (run_dir / "metrics.jsonl").exists():
        sys.exit(f"training failed:\n{(p.stderr or '')[-3000:]}")
    return time.perf_counter() - t0


def step_rows(run_dir: Path) -> list[dict]:
    return [r for r in map(json.loads, open(run_dir / "metrics.jsonl")) if r["kind"] == "train"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="embedded:smollm2-135m")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--num-layers", type=int, default=8)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the result here")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()

    from mlx_distill.train.distributed import local_launch
    from mlx_distill.testing.sample_data import write_sample_data

    work = Path(tempfile.mkdtemp(prefix="train_distributed-"))
    data = work / "data"
    write_sample_data(data, a.iters * a.batch_size, 0, 0, seed=a.seed)
    base = {
        "model": a.model,
        "data": str(data),
        "num_layers": a.num_layers,
        "batch_size": a.batch_size,
        "iters": a.iters,
        "learning_rate": 2e-4,
        "lora_parameters": {"rank": a.rank, "dropout": 0.0},
        "val_batches": 0,
        "save_every": 10**9,
        "steps_per_report": a.iters,
        "seed": a.seed,
    }
    load0 = os.getloadavg()
    results = {}
    for name, n in (("1 process", 1), (f"{a.processes} processes", a.processes)):
        cfg_path, run_dir = work / f"p{n}.yaml", work / f"p{n}"
        cfg_path.write_text(yaml.safe_dump({**base, "adapter_path": str(run_dir)}))
        argv = [*TRAIN, "-c", str(cfg_path), "--no-progress"]
        wall = run(argv if n == 1 else local_launch(n, argv), run_dir, a.verbose)
        rows = step_rows(run_dir)
        results[name] = {
            "processes": n,
            "wall_seconds": round(wall, 2),
            "losses": [r["loss"] for r in rows],
            "step_seconds": [r["seconds"] for r in rows],
            "median_step_seconds": statistics.median(r["seconds"] for r in rows[1:]),
        }
    load1 = os.getloadavg()
    one, many = results["1 process"], results[f"{a.processes} processes"]
    ratio = many["median_step_seconds"] / one["median_step_seconds"]
    diff = max(abs(x - y) for x, y in zip(one["losses"], many["losses"]))
    print(
        f"model {a.model}, global batch {a.batch_size}, {a.iters} steps, LoRA on {a.num_layers} layers; "
        f"{os.cpu_count()} cores; load average {load0[0]:.1f} before, {load1[0]:.1f} after"
    )
    for name, r in results.items():
        print(
            f"  {name:12s} median {r['median_step_seconds']:.3f} s/step  (run incl. start-up {r['wall_seconds']:.0f} s)"
        )
    print(f"  {a.processes}-process / 1-process step time: {ratio:.2f}x; largest loss difference per step {diff:.2e}")
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {"args": vars(a), "results": results, "ratio": ratio, "max_loss_diff": diff, "loadavg": [load0, load1]},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
