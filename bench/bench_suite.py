"""Benchmark throughput: the built-in discrimination suite on the embedded student (or any model),
cases per minute run one by one without prefix KV-cache reuse (what a plain agent loop does), one by
one with reuse, and batched (several cases at once, their decoding in one batch, the shared prefix
computed once), side by side.

Every case runs through the real agent (create_agent + run_question, real tools, a fresh generated
workspace), exactly as `mlx-distill bench` runs it. All passes use greedy decoding on the same cases
and seeds, so they generate the same tokens (checked).

    python bench/bench_suite.py [--model embedded:smollm2-135m] [--adapter-path DIR] [--limit 10]
                                [--max-tokens 96] [--concurrency N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import mlx_distill  # noqa: F401  (optimized BLAS before mlx)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="embedded:smollm2-135m")
    ap.add_argument("--adapter-path", default=None)
    ap.add_argument("--suite", default="discrimination")
    ap.add_argument("--limit", type=int, default=10, help="cases (balanced tool/direct); 0 = all")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="cases at once in the batched pass (default: what `mlx-distill bench` uses on this machine)",
    )
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args()

    from mlx_distill.bench.runner import ModelSpec, RunConfig, default_concurrency, run_benchmark
    from mlx_distill.bench.suites import Suite, load_suite, select
    from mlx_distill.resolve import load_for_bench

    suite = load_suite(args.suite)
    cases = select(suite.cases, limit=args.limit or None)
    width = args.concurrency or default_concurrency()
    # warm-up: load the model and compile kernels outside the timed passes
    t0 = time.perf_counter()
    warm = run_benchmark(
        [ModelSpec(args.model, args.adapter_path)],
        [Suite("warm", cases[:1])],
        RunConfig(max_tokens=args.max_tokens),
        load_model=load_for_bench,
    )
    if warm.models[0].load_error:
        print(f"error: {warm.models[0].load_error}", file=sys.stderr)
        return 2
    print(f"model loaded and warmed up in {time.perf_counter() - t0:.1f} s; {len(cases)} cases", file=sys.stderr)

    passes = {"sequential": (False, 1), "prefix_reuse": (True, 1), "batched": (True, width)}
    results, outputs = {}, {}
    for name, (reuse, concurrency) in passes.items():
        spec = ModelSpec(args.model, args.adapter_path, label=name, prefix_cache=reuse)
        config = RunConfig(max_tokens=args.max_tokens, concurrency=concurrency)
        run = run_benchmark([spec], [Suite(suite.name, cases)], config, load_model=load_for_bench).models[0]
        pooled = run.to_json(config.temperatures, config.seeds)["pooled"]
        results[name] = {
            "concurrency": concurrency,
            "prefix_reuse": reuse,
            "cases": len(run.scores),
            "wall_s": round(run.wall_s, 2),
            "cases_per_min": round(60.0 * len(run.scores) / run.wall_s, 2),
            "latency_p50_s": round(pooled["latency_p50_s"], 2),
            "output_tokens": pooled["output_tokens"],
            "input_tokens": pooled["input_tokens"],
            "decision_accuracy": pooled["decision_accuracy"],
            "errors": pooled["errors"],
        }
        outputs[name] = [(s.case_id, s.final_text, s.tool_calls, s.outcome) for s in run.scores]
        print(f"{name}: {results[name]}", file=sys.stderr)
    base = results["sequential"]["cases_per_min"]
    same = outputs["prefix_reuse"] == outputs["sequential"] == outputs["batched"]
    summary = {
        "model": args.model,
        "adapter_path": args.adapter_path,
        "suite": suite.name,
        "cases": len(cases),
        "max_tokens": args.max_tokens,
        "passes": results,
        "speedup_vs_sequential": {k: round(v["cases_per_min"] / base, 2) for k, v in results.items()},
        "identical_outputs": same,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if not same:
        for name in ("prefix_reuse", "batched"):
            for a, b in zip(outputs["sequential"], outputs[name]):
                if a != b:
                    print(f"warning: {name} differs from sequential on {a[0]}: {a[1:]!r} vs {b[1:]!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
