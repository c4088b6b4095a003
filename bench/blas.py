"""Matmul speed of MLX on the CPU with the reference BLAS vs the optimized one, side by side.

Each variant runs in its own subprocess (the BLAS choice is fixed once mlx is imported).
Usage: python bench/blas.py [--size 1024] [--repeats 5]
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import mlx_distill  # applies (or, with MLX_DISTILL_BLAS=off, skips) the BLAS preload
from mlx_distill._blas import _loaded
import mlx.core as mx
n, reps = int(sys.argv[1]), int(sys.argv[2])
a = mx.random.normal((n, n)); b = mx.random.normal((n, n)); mx.eval(a, b)
mx.eval(a @ b)  # warm-up
times = []
for _ in range(reps):
    t = time.perf_counter(); mx.eval(a @ b); times.append(time.perf_counter() - t)
print(json.dumps({"blas": _loaded, "best_s": min(times), "median_s": sorted(times)[len(times) // 2]}))
"""


def run(size: int, repeats: int, blas: str) -> dict:
    env = dict(os.environ, MLX_DISTILL_BLAS=blas)
    env.pop("LD_PRELOAD", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(size), str(repeats)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    ref = run(args.size, args.repeats, "off")
    opt = run(args.size, args.repeats, "")
    print(f"{args.size}x{args.size} float32 matmul, best of {args.repeats}")
    print(f"  reference BLAS : {ref['median_s'] * 1000:9.1f} ms (median)  {ref['best_s'] * 1000:9.1f} ms (best)")
    print(
        f"  optimized BLAS : {opt['median_s'] * 1000:9.1f} ms (median)  {opt['best_s'] * 1000:9.1f} ms (best)  [{opt['blas']}]"
    )
    print(f"  speed-up       : {ref['median_s'] / opt['median_s']:.1f}x")


if __name__ == "__main__":
    main()
