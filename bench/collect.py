"""Teacher collection throughput: prompts per second at concurrency 1 vs N against the loopback fake of the
Messages API with simulated model latency, through the whole path (real anthropic SDK over HTTP, the
agent, real tools in a generated workspace, verification, journal, ledger, store). Concurrency 1 is what a
user gets from a plain loop over prompts; the goal is >= 6x at concurrency 8 with 20 ms latency.

Each prompt is a two-turn trajectory (a tool call, then the answer); half the prompts are direct (one
turn). Every run writes a fresh store. It also prints one full collection summary and the ledger totals.

Usage: python bench/collect.py [--prompts 48] [--latency-ms 20] [--concurrency 8] [--out runs/bench-collect]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

import mlx_distill  # noqa: F401
from mlx_distill.collection.collect import collect
from mlx_distill.teacher.ledger import read_ledger, totals
from mlx_distill.collection.prompts import Prompt
from mlx_distill.testing.fake_anthropic import FakeAnthropic
from mlx_distill.testing.teacher_scripts import line_count_teacher

TEACHER = "anthropic:claude-sonnet-5-5"


def prompts(n: int) -> list[Prompt]:
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(
                Prompt(
                    id=f"t{i}",
                    question="Count the lines of {path} for me.",
                    label="tool",
                    category="count",
                    workspace={"generator": "line_count", "seed": 1000 + i},
                    answer={"type": "number", "value": "{count}"},
                )
            )
        else:
            out.append(Prompt(id=f"d{i}", question=f"What is concept number {i}?", label="direct", category="concept"))
    return out


def _serve(latency_s: float, conn) -> None:
    with FakeAnthropic(line_count_teacher, latency_s=latency_s) as fake:
        conn.send(fake.env())
        conn.recv()  # until told to stop


def run(n: int, latency_s: float, concurrency: int, store: Path) -> tuple[float, object]:
    """One collection of n prompts; the fake serves from its own process, as a remote API would (its
    threads would otherwise share this process's interpreter lock with the client)."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(latency_s, child), daemon=True)
    server.start()
    try:
        os.environ.update(parent.recv())
        tic = time.perf_counter()
        summary = collect(TEACHER, prompts(n), store, concurrency=concurrency)
        wall = time.perf_counter() - tic
    finally:
        parent.send("stop")
        server.join(10)
    assert summary.accepted == n, summary.lines()
    return n / wall, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--latency-ms", type=float, default=20.0, help="Simulated model latency per call.")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--out", default=None, help="Keep the stores and result.json here (default: a temp dir).")
    args = ap.parse_args()
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-collect-"))
    shutil.rmtree(root, ignore_errors=True)
    run(4, args.latency_ms / 1000, 2, root / "warmup")  # imports, first connections
    results = {}
    for c in (1, args.concurrency):
        rate, summary = run(args.prompts, args.latency_ms / 1000, c, root / f"c{c}")
        results[c] = {"prompts_per_s": round(rate, 2), "wall_s": round(summary.wall_s, 2)}
        print(f"concurrency {c}: {args.prompts} prompts in {summary.wall_s:.2f}s = {rate:.1f} prompts/s")
    ratio = results[args.concurrency]["prompts_per_s"] / results[1]["prompts_per_s"]
    print(f"speed-up at concurrency {args.concurrency}: {ratio:.1f}x (goal: >= 6x)")
    print("\none full collection (concurrency %d):" % args.concurrency)
    for line in summary.lines():
        print("  " + line)
    t = totals(read_ledger(root / f"c{args.concurrency}"))
    print(
        "ledger totals: " + json.dumps({k: t[k] for k in ("calls", "usage", "cost_usd", "saved_usd", "cache_hit_rate")})
    )
    (root / "result.json").write_text(
        json.dumps({"args": vars(args), "results": results, "ratio": ratio, "ledger": t}, indent=2)
    )
    if not args.out:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
