"""The distillation economics, end to end and offline: collect from a teacher, then benchmark student
alone, teacher alone and the router (student first, teacher on unusable turns) side by side, and
compute the break-even from the ledgers.

The teacher is Claude's wire protocol on the loopback fake (`testing.fake_anthropic`), scripted as a
label oracle: it calls a tool (`list_files`, then answers from its result) exactly on the questions
whose label is `tool`, and answers the others directly. Its token counts are the fake's
(~4 characters a token) priced as `--teacher` by the dated price table. The point is the router's
mechanics and what they cost, not the teacher's prose.

    python bench/router_economics.py [--student embedded:smollm2-135m] [--adapter-path DIR]
        [--limit 4] [--skip 0] [--collect 20] [--max-tokens 64] [--min-margin 0.999] [--out runs/economics-demo]

Then: `mlx-distill economics OUT` (the script runs it too and prints the summary).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import mlx_distill  # noqa: F401  (optimized BLAS before mlx)

ROOT = Path(__file__).resolve().parents[1]


def oracle(direct_questions: set[str]):
    from mlx_distill.testing.teacher_scripts import tool_results

    def reply(question: str, turn: int, body: dict):
        if question in direct_questions:
            return "Here is a short, direct answer from general knowledge."
        if turn == 0:
            return {"tool": "list_files", "input": {}}
        listing = (tool_results(body) or [""])[-1]
        return f"From the workspace: {' '.join(listing.split())[:200]}"

    return reply


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="embedded:smollm2-135m")
    ap.add_argument("--adapter-path", default=None)
    ap.add_argument("--teacher", default="anthropic:claude-sonnet-5-5", help="the model id the fake is priced as")
    ap.add_argument("--suite", default="discrimination")
    ap.add_argument("--limit", type=int, default=4, help="benchmark cases (balanced tool/direct)")
    ap.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first N balanced cases (e.g. the ones a margin threshold was chosen on)",
    )
    ap.add_argument("--collect", type=int, default=20, help="prompts of data/teacher/prompts.jsonl to collect")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--min-margin", type=float, default=None, help="router: first-token margin threshold")
    ap.add_argument("--out", default="runs/economics-demo")
    args = ap.parse_args()

    from mlx_distill.bench.report import write_run_dir
    from mlx_distill.bench.runner import ModelSpec, RunConfig, run_benchmark
    from mlx_distill.bench.suites import Suite, load_suite, select
    from mlx_distill.collection.collect import collect
    from mlx_distill.collection.prompts import load_prompts
    from mlx_distill.economics.report import analyze, find_ledgers, read_rows, summary_rows, write_report
    from mlx_distill.resolve import load_for_bench
    from mlx_distill.testing.fake_anthropic import FakeAnthropic

    out = Path(args.out)
    suite = load_suite(args.suite)
    seen = {c.id for c in select(suite.cases, limit=args.skip)} if args.skip else set()
    cases = [c for c in select(suite.cases, limit=args.skip + args.limit) if c.id not in seen]
    prompts = load_prompts(ROOT / "data" / "teacher" / "prompts.jsonl")[: args.collect]
    direct = {c.question for c in suite.cases if c.label != "tool"} | {
        p.question for p in prompts if p.label == "direct"
    }
    with FakeAnthropic(oracle(direct), model=args.teacher.split(":", 1)[1]) as fake:
        os.environ.update(fake.env())
        tic = time.perf_counter()
        summary = collect(args.teacher, prompts, out / "store")
        print(f"collect: {len(prompts)} prompts in {time.perf_counter() - tic:.1f}s", file=sys.stderr)
        for line in summary.lines():
            print(f"  {line}", file=sys.stderr)
        router = f"router:{args.student}+{args.teacher}"
        if args.min_margin is not None:
            router += f"?min_margin={args.min_margin}"
        specs = [
            ModelSpec(args.student, args.adapter_path, label="student"),
            ModelSpec(args.teacher, label="teacher"),
            ModelSpec(router, args.adapter_path, label="router"),
        ]
        config = RunConfig(max_tokens=args.max_tokens, ledger_dir=str(out / "bench" / "router"))
        tic = time.perf_counter()
        result = run_benchmark(
            specs,
            [Suite(suite.name, cases, suite.source)],
            config,
            progress=lambda d, t, s: print(f"bench {d}/{t} {s}", file=sys.stderr) if "->" in s else None,
            load_model=load_for_bench,
        )
        bench_s = time.perf_counter() - tic
    data = result.to_json()
    write_run_dir(data, out / "bench")
    economics = analyze(read_rows([p for p in find_ledgers(out)]))
    write_report(economics, out, command=f"mlx-distill economics {out}")
    rows = {}
    for m in data["models"]:
        p = m.get("pooled") or {}
        rows[m["label"]] = {
            "decision_accuracy": p.get("decision_accuracy"),
            "balanced_accuracy": p.get("balanced_accuracy"),
            "tool_recall": p.get("tool_recall"),
            "direct_recall": p.get("direct_recall"),
            "latency_p50_s": p.get("latency_p50_s"),
            "routing": m.get("routing"),
        }
    report = {"cases": len(cases), "bench_s": round(bench_s, 1), "models": rows, "economics": economics}
    (out / "demo.json").write_text(json.dumps(report, indent=2))
    for label, r in rows.items():
        print(
            f"{label:8} decision {r['decision_accuracy']}, balanced {r['balanced_accuracy']}, tool recall "
            f"{r['tool_recall']}, direct recall {r['direct_recall']}, p50 {r['latency_p50_s']}s, routing {r['routing']}"
        )
    for k, v in summary_rows(economics):
        print(f"  {k:40} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
