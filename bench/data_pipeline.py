#!/usr/bin/env python3
"""Benchmark of the data pipeline at scale (not a test): validate and build N synthetic records.

    .venv/bin/python bench/data_pipeline.py [--n 100000] [--model embedded:smollm2-135m --render-sample 500]

Synthetic records look like the real ones (system prompt, all five tool schemas, tool calls with real-looking
grep/read/run results, direct answers) with unique questions, plus a few percent of duplicates, near-duplicates
and broken records so every stage has work to do. Timings are printed per stage with records/s.
At this scale the chat-template checks (render, mask, too-long) are skipped unless --model is given,
and then they run on a --render-sample of the records (they cost ~10 ms per record).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import mlx_distill  # noqa: F401  (BLAS preload first)

from mlx_distill.data.build import build
from mlx_distill.data.config import DataConfig
from mlx_distill.data.validate import validate_files
from mlx_distill.prompting import DEFAULT_SYSTEM_PROMPT
from mlx_distill.tools import tool_schemas

WORDS = (
    "cache config parser token stream buffer session router handler client server queue worker batch "
    "index schema record model layer loader writer reader report metric event job task plan graph node"
).split()
TEMPLATES_TOOL = [
    "Where is `{f}` defined?",
    "Which module contains def {f}?",
    "What does {f} in {p} do?",
    "How many lines is {p}?",
    "Which files import {m}?",
    "List the methods of the `{c}` class.",
    "What is the signature of {f} in {p}?",
    "How many top-level functions does {p} define?",
]
TEMPLATES_DIRECT = [
    "What is a {a} {b}?",
    "How does a {a} {b} differ from a {b} {a}?",
    "What is the best practice for naming a {a} {b}?",
    "How do I write a {a} {b} in Python?",
    "How should a {a} {b} be organised in a large system?",
]


def synthetic(n: int, seed: int = 0):
    rng = random.Random(seed)
    tools = tool_schemas()
    q_prev = "What is a cache?"
    for i in range(n):
        f = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}"
        p = f"src/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{i % 997}.py"
        sys_msg = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
        if i % 3:
            q = rng.choice(TEMPLATES_TOOL).format(f=f, p=p, m=f"mod{i}", c=f"Class{i}")
            line = rng.randint(1, 400)
            out = "\n".join(f"{p}:{line + k}:    def {f}_{k}(self):" for k in range(rng.randint(1, 6)))
            msgs = [
                sys_msg,
                {"role": "user", "content": q},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {
                                "name": "grep",
                                "arguments": {"pattern": f"def {f}", "path": "src", "glob": "*.py"},
                            },
                        }
                    ],
                },
                {"role": "tool", "name": "grep", "content": out},
                {"role": "assistant", "content": f"`{f}` is defined in `{p}` at line {line}."},
            ]
            meta = {
                "id": f"syn-{i}",
                "source": "synthetic",
                "category": rng.choice(["search", "read", "count"]),
                "label": "tool",
            }
        else:
            q = rng.choice(TEMPLATES_DIRECT).format(a=f"{rng.choice(WORDS)}{i}", b=rng.choice(WORDS))
            msgs = [
                sys_msg,
                {"role": "user", "content": q},
                {"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(60)) + "."},
            ]
            meta = {
                "id": f"syn-{i}",
                "source": "synthetic",
                "category": rng.choice(["concept", "comparison", "best_practice", "syntax", "architecture"]),
                "label": "direct",
            }
        if i % 50 == 7:  # an exact duplicate question of an earlier record
            msgs[1] = {"role": "user", "content": q_prev}
        if i % 97 == 11:  # a broken record: a call with no result before the answer
            msgs = msgs[:3] + msgs[-1:] if len(msgs) == 5 else msgs
        q_prev = msgs[1]["content"]
        yield {"messages": msgs, "tools": tools, "meta": meta}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--model", default=None, help="tokenizer for the template checks (default: skipped)")
    ap.add_argument("--render-sample", type=int, default=500)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mlx-distill-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "synthetic.jsonl"
    t0 = time.perf_counter()
    with open(src, "w") as f:
        for row in synthetic(args.n):
            f.write(json.dumps(row) + "\n")
    t_gen = time.perf_counter() - t0
    size_mb = src.stat().st_size / 1e6
    print(f"generated {args.n} records ({size_mb:.0f} MB) in {t_gen:.1f}s")

    tok = None
    if args.model:
        from mlx_distill.models import load_tokenizer

        tok = load_tokenizer(args.model)
    t0 = time.perf_counter()
    report = validate_files(
        [src],
        tokenizer=tok,
        render_sample=args.render_sample if tok else None,
        bench=[p for p in [Path("data/bench")] if p.exists()],
    )
    t_val = time.perf_counter() - t0
    print(
        f"validate: {report.records} records in {t_val:.1f}s = {report.records / t_val:,.0f} records/s; "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings; by rule {report.by_rule()}"
    )

    cfg = DataConfig.model_validate(
        {
            "root": str(work),
            "output_dir": "mlx_format",
            "sources": [{"type": "records", "paths": [str(src)]}],
            "validation": {
                "model": args.model,
                "render_sample": args.render_sample if args.model else None,
                "bench": [str(Path("data/bench").resolve())],
            },
        }
    )
    t0 = time.perf_counter()
    res = build(cfg, tokenizer=tok, use_template=tok is not None)
    t_build = time.perf_counter() - t0
    c = res.manifest["counts"]
    print(
        f"build: {args.n} records in {t_build:.1f}s = {args.n / t_build:,.0f} records/s -> {c['total']} kept "
        f"({c['by_label']}), splits {c['by_split']}"
    )
    print(
        f"template checks: {'on ' + str(res.manifest['validation']['checks']['rendered']) + ' records' if tok else 'skipped'}"
    )
    print(f"output: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
