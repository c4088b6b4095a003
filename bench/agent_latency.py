"""Agent latency on the embedded student (or any model): prefix-cache reuse and agent overhead.

1. A 3-turn tool-using conversation (grep -> read_file -> answer) run through the real agent twice: with
   prefix KV-cache reuse and without. The replies are scripted (the model runs every step; only the token
   choice is forced) so both runs process exactly the same prompts. Reported: prompt-processing time on
   turns 2+ without / with reuse (goal: >= 3x).
2. One agent turn (create_agent + run, prefix cache off) against raw `mlx_lm.generate` on the same prompt
   tokens, greedy, same number of generated tokens (goal: overhead within 5%).

    python bench/agent_latency.py [--model embedded:smollm2-135m] [--adapter-path DIR] [--repeats 3] [--skip-cache] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mlx_distill  # noqa: F401  (optimized BLAS before mlx)

SCRIPT = [
    '<tool_call>\n{"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}}\n</tool_call>',
    '<tool_call>\n{"name": "read_file", "arguments": {"path": "src/app.py"}}\n</tool_call>',
    "Only src/app.py imports svcs: it calls svcs.register(Config) in main(), which returns 0.",
]
QUESTION = "Which files import svcs, and what does the importing module do with it?"
APP = "import os\nimport svcs\n\n\nclass Config:\n    debug = False\n\n\ndef main():\n    svcs.register(Config)\n    return 0\n"


def workspace() -> Path:
    root = Path(tempfile.mkdtemp(prefix="agent-latency-"))
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(APP)
    (root / "README.md").write_text("# demo\n")
    return root


def conversation(model_name: str, adapter: str | None, prefix_cache: bool, ws: Path) -> list:
    from mlx_distill.agent import MLXModel, create_agent, run_question
    from mlx_distill.agent.generation import scripted_replies

    model = MLXModel(model_name, adapter_path=adapter, prefix_cache=prefix_cache)
    model.generator.reset_cache()
    model.logits_processors = scripted_replies(model.tokenizer, SCRIPT)
    out = run_question(create_agent(model, workspace=ws), QUESTION)
    if out.outcome != "answered" or len(model.results) != 3:
        raise SystemExit(f"conversation did not go as scripted: {out.outcome} {out.error}")
    return list(model.results)


def bench_prefix_cache(model_name: str, adapter: str | None, repeats: int) -> dict:
    ws = workspace()
    conversation(model_name, adapter, True, ws)  # warm-up (load, first compile)
    cached, fresh = [], []
    for _ in range(repeats):
        fresh.append(conversation(model_name, adapter, False, ws))
        cached.append(conversation(model_name, adapter, True, ws))
    turns = []
    for t in range(3):
        turns.append(
            {
                "turn": t + 1,
                "prompt_tokens": cached[0][t].prompt_tokens,
                "processed_with_reuse": cached[0][t].processed_tokens,
                "prompt_s_without": round(statistics.median(r[t].prompt_s for r in fresh), 4),
                "prompt_s_with": round(statistics.median(r[t].prompt_s for r in cached), 4),
            }
        )
    later_without = sum(t["prompt_s_without"] for t in turns[1:])
    later_with = sum(t["prompt_s_with"] for t in turns[1:])
    same = all(c[t].tokens == f[t].tokens for c, f in zip(cached, fresh) for t in range(3))
    return {"turns": turns, "turns2plus_speedup": round(later_without / later_with, 2), "same_tokens": same}


def bench_overhead(model_name: str, adapter: str | None, repeats: int, max_tokens: int) -> dict:
    from mlx_lm import generate

    from mlx_distill.agent import MLXModel, create_agent

    model = MLXModel(model_name, adapter_path=adapter, prefix_cache=False)
    model.logits_processors = None
    agent = create_agent(model, workspace=workspace(), model_settings={"max_tokens": max_tokens})
    question = "Explain the difference between a list and a tuple in Python."
    agent.run_sync(question)  # warm-up; also captures the exact prompt
    ids = model.tokenizer.encode(model.prompts[-1], add_special_tokens=False)
    n_tokens = len(model.results[-1].tokens)
    generate(model.mlx_model, model.tokenizer, ids, max_tokens=max_tokens)  # warm-up
    agent_s, raw_s, inside_s, raw_text = [], [], [], ""
    for _ in range(repeats):  # interleaved, so both see the same machine load
        tic = time.perf_counter()
        result = agent.run_sync(question)
        agent_s.append(time.perf_counter() - tic)
        inside_s.append(model.results[-1].prompt_s + model.results[-1].generation_s)
        tic = time.perf_counter()
        raw_text = generate(model.mlx_model, model.tokenizer, ids, max_tokens=max_tokens)
        raw_s.append(time.perf_counter() - tic)
    outside = statistics.median(a - i for a, i in zip(agent_s, inside_s))
    return {
        "prompt_tokens": len(ids),
        "generated_tokens": n_tokens,
        "repeats": repeats,
        "agent_s_min": round(min(agent_s), 4),
        "raw_s_min": round(min(raw_s), 4),
        "agent_s_median": round(statistics.median(agent_s), 4),
        "raw_s_median": round(statistics.median(raw_s), 4),
        "overhead_pct": round((min(agent_s) / min(raw_s) - 1) * 100, 2),
        "overhead_pct_median": round((statistics.median(agent_s) / statistics.median(raw_s) - 1) * 100, 2),
        # time the agent spends outside the model's own prompt processing and sampling: rendering,
        # tokenizing, pydantic-ai, parsing, thread hops. Unlike the ratios, barely affected by machine load.
        "outside_model_s": round(outside, 4),
        "outside_model_pct": round(outside / statistics.median(raw_s) * 100, 2),
        "same_text": raw_text.strip() == str(result.output).strip(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded:smollm2-135m")
    ap.add_argument("--adapter-path", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-cache", action="store_true", help="only the overhead comparison")
    ap.add_argument("--max-tokens", type=int, default=32, help="tokens generated in the overhead comparison")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    cache = {"turns": [], "turns2plus_speedup": float("nan"), "same_tokens": None}
    if not args.skip_cache:
        cache = bench_prefix_cache(args.model, args.adapter_path, args.repeats)
        print(f"prefix-cache reuse, 3-turn tool-using conversation on {args.model}:")
        for t in cache["turns"]:
            print(
                f"  turn {t['turn']}: {t['prompt_tokens']:5d} prompt tokens, {t['processed_with_reuse']:5d} processed "
                f"with reuse; prompt {t['prompt_s_without']:.3f} s without, {t['prompt_s_with']:.3f} s with"
            )
        print(
            f"  turns 2+ prompt processing: {cache['turns2plus_speedup']:.1f}x faster with reuse (goal >= 3x); "
            f"same tokens: {cache['same_tokens']}"
        )
    over = bench_overhead(args.model, args.adapter_path, args.repeats, args.max_tokens)
    print(
        f"one agent turn vs raw mlx_lm.generate ({over['prompt_tokens']} prompt tokens, "
        f"{over['generated_tokens']} generated, best of {over['repeats']}): agent {over['agent_s_min']:.3f} s, "
        f"raw {over['raw_s_min']:.3f} s, overhead {over['overhead_pct']:+.1f}% (median "
        f"{over['overhead_pct_median']:+.1f}%; goal within 5%); same text: {over['same_text']}"
    )
    print(
        f"  time outside the model in an agent turn: {over['outside_model_s'] * 1000:.0f} ms "
        f"({over['outside_model_pct']:.2f}% of a raw generation)"
    )
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "prefix_cache": cache, "overhead": over}, indent=2))
    ok = (args.skip_cache or cache["turns2plus_speedup"] >= 3) and min(
        over["overhead_pct"], over["outside_model_pct"]
    ) <= 5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
