"""Benchmark throughput: the built-in discrimination suite on the embedded student (or any model),
cases per minute with and without prefix KV-cache reuse across cases.

Every case runs through the real agent (create_agent + run_question, real tools, a fresh generated
workspace), exactly as `mlx-distill bench` runs it. Both passes use greedy decoding on the same
cases and seeds, so they generate the same tokens (checked) and differ only in prompt processing:
with reuse, the system prompt and tool schemas every case shares are processed once.

    python bench/bench_suite.py [--model embedded:smollm2-135m] [--adapter-path DIR] [--limit 10]
                                [--max-tokens 96] [--json OUT]
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
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args()

    from mlx_distill.bench.runner import ModelSpec, RunConfig, run_benchmark
    from mlx_distill.bench.suites import Suite, load_suite, select

    suite = load_suite(args.suite)
    cases = select(suite.cases, limit=args.limit or None)
    config = RunConfig(max_tokens=args.max_tokens)
    # warm-up: load the model and compile kernels outside the timed passes
    t0 = time.perf_counter()
    warm = run_benchmark([ModelSpec(args.model, args.adapter_path)], [Suite("warm", cases[:1])], config)
    if warm.models[0].load_error:
        print(f"error: {warm.models[0].load_error}", file=sys.stderr)
        return 2
    print(f"model loaded and warmed up in {time.perf_counter() - t0:.1f} s; {len(cases)} cases", file=sys.stderr)

    results = {}
    texts = {}
    for reuse in (False, True):
        spec = ModelSpec(args.model, args.adapter_path, label=f"prefix reuse {'on' if reuse else 'off'}",
                         prefix_cache=reuse)
        res = run_benchmark([spec], [Suite(suite.name, cases)], config)
        run = res.models[0]
        data = run.to_json(config.temperatures, config.seeds)
        pooled = data["pooled"]
        results["on" if reuse else "off"] = {
            "cases": len(run.scores), "wall_s": round(run.wall_s, 2), "cases_per_min": round(data["cases_per_min"], 2),
            "latency_p50_s": round(pooled["latency_p50_s"], 2), "latency_p95_s": round(pooled["latency_p95_s"], 2),
            "tokens_per_s": round(pooled["tokens_per_s"], 2), "output_tokens": pooled["output_tokens"],
            "input_tokens": pooled["input_tokens"], "decision_accuracy": pooled["decision_accuracy"],
            "errors": pooled["errors"],
        }
        texts[reuse] = [(s.case_id, s.final_text, [c["name"] for c in s.tool_calls]) for s in run.scores]
        print(f"{spec.label}: {results['on' if reuse else 'off']}", file=sys.stderr)
    same = texts[False] == texts[True]
    speedup = results["on"]["cases_per_min"] / results["off"]["cases_per_min"]
    summary = {"model": args.model, "adapter_path": args.adapter_path, "suite": suite.name,
               "max_tokens": args.max_tokens, "without_reuse": results["off"], "with_reuse": results["on"],
               "speedup": round(speedup, 2), "identical_outputs": same}
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    if not same:
        print("warning: outputs differ with and without prefix reuse at temperature 0", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
