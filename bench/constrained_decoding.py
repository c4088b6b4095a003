"""Decoding speed with and without the tool-call constraint (agent/constrain.py), side by side in one run.

The same reply is generated twice per repeat, with and without the constraint, alternating so that load
drifts hit both alike: a tool call in the trained form and a direct answer. The model runs every step;
a processor after the constraint forces the token choice, so both runs decode exactly the same tokens and
the only difference is the constraint's work (finding the opener, then masking). Reported: decoded
tokens/s without and with it (median over repeats) and their ratio (constrained/unconstrained, 1 = no
cost), and the same ratio from the process's CPU time per token, which other jobs disturb far less. On the embedded student and, with
--tiny, on the test suite's tiny model (where a step is so cheap that the constraint's own cost shows).

--calls N writes the call itself on N tool questions of the unseen-tools suite (tools the student never
saw): the reply is opened with `<tool_call>`, as when the student decides to call, and the student writes
the rest greedily, with and without the constraint. Reported: calls read, invented tool names, arguments
valid for the tool's schema. This isolates the call from the decision (the base student seldom decides to
call; `mlx-distill bench [--unconstrained]` measures both together).

--libraries also compares the structured-generation libraries on the embedded tokenizer: grammar compile
time for the call schema of the four workspace tools and mean time per token to compute the mask along
the trained call (llguidance; outlines-core when installed).

    PYTHONPATH=src python bench/constrained_decoding.py [--model embedded:smollm2-135m] [--tiny] [--repeats 5]
        [--calls 20] [--libraries] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from typing import Any

import mlx_distill  # noqa: F401  (optimized BLAS before mlx)

TOOL_CALL_OPEN = "<tool_call>"
CALL = '<tool_call>\n{"name": "grep", "arguments": {"pattern": "import svcs", "path": "src"}}\n</tool_call>'
ANSWER = (
    "A list is mutable: you can append and remove items in place. A tuple is immutable, so it can be a "
    "dictionary key, and it says the sequence has a fixed shape."
)
QUESTION = "Which files import svcs?"


def measure(model_name: str, repeats: int) -> list[dict]:
    from mlx_distill import prompting
    from mlx_distill.agent.constrain import constraint_for
    from mlx_distill.agent.generation import forced_reply
    from mlx_distill.agent.model import load_cached
    from mlx_distill.tools import tool_schemas

    loaded = load_cached(model_name)
    tok, gen = loaded.tokenizer, loaded.generator
    tools = tool_schemas()
    prompt = prompting.render(prompting.conversation(QUESTION), tools, tok, add_generation_prompt=True)
    rows = []
    for kind, text in (("tool call", CALL), ("direct answer", ANSWER)):
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        n_tokens, calls, broken = 0, 0, 0
        for i in range(repeats + 1):  # the first round warms up (prompt cache, llguidance tokenizer)
            for constrained in (False, True) if i % 2 else (True, False):
                processors = []
                constraint = constraint_for(tok, tools) if constrained else None
                if constraint is not None:
                    processors.append(constraint)
                processors.append(forced_reply(tok, text))
                cpu_tic = time.process_time()
                r = gen.generate(prompt, max_tokens=512, logits_processors=processors)
                cpu_s = time.process_time() - cpu_tic
                if i == 0:
                    continue
                n_tokens = len(r.tokens)
                times[constrained].append(r.generation_s / max(1, len(r.tokens) - 1))
                cpu[constrained].append(cpu_s / len(r.tokens))
                if constraint is not None:
                    calls, broken = constraint.calls, constraint.broken
        plain, held = statistics.median(times[False]), statistics.median(times[True])
        rows.append(
            {
                "model": model_name,
                "reply": kind,
                "tokens": n_tokens,
                "tokens_per_s_unconstrained": round(1.0 / plain, 1),
                "tokens_per_s_constrained": round(1.0 / held, 1),
                "ratio": round(plain / held, 3),  # constrained speed / unconstrained speed (wall clock)
                # the same from the process's CPU time, which other jobs on the machine disturb far less
                "cpu_ratio": round(statistics.median(cpu[False]) / statistics.median(cpu[True]), 3),
                "calls_constrained": calls,
                "calls_broken": broken,
            }
        )
    return rows


def opened(tokenizer: Any) -> Any:
    """A logits processor that writes `<tool_call>` and then leaves every choice to the model."""
    import mlx.core as mx

    script = list(tokenizer.encode(TOOL_CALL_OPEN, add_special_tokens=False))
    state = {"i": 0}

    def processor(_tokens: Any, logits: Any) -> Any:
        i = state["i"]
        state["i"] += 1
        if i >= len(script):
            return logits
        hot = mx.broadcast_to(mx.arange(logits.shape[-1]) == script[i], logits.shape)
        return mx.where(hot, mx.array(0.0, dtype=logits.dtype), mx.array(-1e9, dtype=logits.dtype))

    return processor


def written_calls(model_name: str, n: int, max_tokens: int = 128) -> list[dict]:
    """Per mode: calls read, invented names and schema-valid arguments over `n` opened calls."""
    import jsonschema

    from mlx_distill import prompting
    from mlx_distill.agent.constrain import constraint_for
    from mlx_distill.agent.model import load_cached
    from mlx_distill.agent.parsing import parse_tool_calls
    from mlx_distill.bench.suites import load_suite

    loaded = load_cached(model_name)
    tok, gen = loaded.tokenizer, loaded.generator
    cases = [c for c in load_suite("unseen_tools").cases if c.label == "tool" and c.functions][:n]
    counts = {mode: {"cases": 0, "read": 0, "invented": 0, "valid": 0, "tokens": 0} for mode in ("free", "held")}
    examples: dict[str, list[str]] = {"free": [], "held": []}
    for case in cases:
        tools = list(case.functions or [])
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
        prompt = prompting.render(prompting.conversation(case.question), tools, tok, add_generation_prompt=True)
        for mode in ("free", "held"):
            processors = [opened(tok)]
            constraint = constraint_for(tok, tools) if mode == "held" else None
            if constraint is not None:
                processors.append(constraint)
            r = gen.generate(prompt, max_tokens=max_tokens, logits_processors=processors, stop=["<|im_end|>"])
            print(f"  {case.id} {mode}: {r.text[:120]!r}", flush=True)
            c = counts[mode]
            c["cases"] += 1
            c["tokens"] += len(r.tokens)
            parsed = parse_tool_calls(r.text, tools)
            if len(examples[mode]) < 3:
                examples[mode].append(r.text[:160])
            if not parsed.calls:
                continue
            call = parsed.calls[0]
            c["read"] += 1
            if call.name not in schemas:
                c["invented"] += 1
                continue
            try:
                jsonschema.validate(call.arguments, schemas[call.name])
                c["valid"] += 1
            except jsonschema.ValidationError:
                pass
    return [{"mode": mode, **counts[mode], "examples": examples[mode]} for mode in ("free", "held")]


def libraries(model_name: str) -> list[dict]:
    """Compile time and per-token mask time of llguidance and (when installed) outlines-core."""
    import numpy as np

    from mlx_distill.agent.constrain import CallGrammars, call_grammar, call_schema
    from mlx_distill.agent.model import load_cached
    from mlx_distill.tools import tool_schemas

    tok = load_cached(model_name).tokenizer
    tools = tool_schemas()
    body = CALL[len(TOOL_CALL_OPEN) :]
    ids = list(tok.encode(body, add_special_tokens=False))
    out = []

    import llguidance
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    tic = time.perf_counter()
    grammars = CallGrammars(tok)  # not the cached one: its build time is part of the cost
    tokenizer_s = time.perf_counter() - tic
    tic = time.perf_counter()
    matcher = llguidance.LLMatcher(grammars.lltokenizer, call_grammar(tools))
    compile_s = time.perf_counter() - tic
    words = allocate_token_bitmask(1, grammars.vocab_size)
    tic = time.perf_counter()
    for t in ids:
        fill_next_token_bitmask(matcher, words)
        allowed = np.unpackbits(words.view(np.uint8), bitorder="little")
        assert allowed[t], "the trained call must be allowed"
        matcher.consume_token(t)
    out.append(
        {
            "library": f"llguidance {llguidance.__version__}",
            "tokenizer_s": round(tokenizer_s, 3),
            "compile_s": round(compile_s, 4),
            "mask_ms_per_token": round(1000 * (time.perf_counter() - tic) / len(ids), 3),
            "note": "full JSON Schema (const, enum, minimum, additionalProperties)",
        }
    )
    try:
        import outlines_core
        from outlines_core.json_schema import build_regex_from_schema
    except ImportError:
        return out
    from importlib.metadata import version

    tic = time.perf_counter()
    vocab: dict[bytes, list[int]] = {}
    eos = int(tok.eos_token_id)
    for i in range(grammars.vocab_size):
        piece = grammars.token_bytes(i)
        if i != eos and piece and not grammars.lltokenizer.is_special_token(i):
            vocab.setdefault(piece, []).append(i)
    vocabulary = outlines_core.Vocabulary(eos, vocab)
    tokenizer_s = time.perf_counter() - tic
    schema = {k: v for k, v in call_schema(tools).items() if k != "x-guidance"}
    regex = r"[ \t\r\n]{0,3}" + build_regex_from_schema(json.dumps(schema)) + r"[ \t\r\n]{0,3}</tool_call>"
    tic = time.perf_counter()
    index = outlines_core.Index(regex, vocabulary)
    compile_s = time.perf_counter() - tic
    guide = outlines_core.Guide(index)
    mask = np.zeros((grammars.vocab_size + 31) // 32, dtype=np.int32)
    tic = time.perf_counter()
    for t in ids:
        guide.write_mask_into(mask.ctypes.data, mask.size, mask.itemsize)
        guide.advance(t)
    out.append(
        {
            "library": f"outlines-core {version('outlines-core')}",
            "tokenizer_s": round(tokenizer_s, 3),
            "compile_s": round(compile_s, 4),
            "mask_ms_per_token": round(1000 * (time.perf_counter() - tic) / len(ids), 3),
            "note": "regex from the schema: minimum/maximum not enforced",
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--tiny", action="store_true", help="Also measure the test suite's tiny model.")
    parser.add_argument("--repeats", type=int, default=5, help="0 skips the speed comparison.")
    parser.add_argument("--calls", type=int, default=0, help="Opened calls to write on unseen-tools questions.")
    parser.add_argument("--call-tokens", type=int, default=128, help="Token limit of each opened call.")
    parser.add_argument("--libraries", action="store_true", help="Also compare llguidance and outlines-core.")
    parser.add_argument("--json", default=None, help="Write the results here.")
    args = parser.parse_args(argv)

    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    models = [args.model]
    if args.tiny:
        from mlx_distill.testing.tiny import build_tiny_model

        models.append(str(build_tiny_model(Path(tempfile.mkdtemp(prefix="constrained-decoding-")) / "tiny")))
    rows = [row for m in models for row in measure(m, args.repeats)] if args.repeats else []
    if rows:
        print(
            f"{'model':<24} {'reply':<14} {'tokens':>6} {'tok/s free':>10} {'tok/s held':>10} {'ratio':>6} "
            f"{'cpu ratio':>9}"
        )
    for r in rows:
        name = r["model"] if len(r["model"]) <= 24 else "tiny (" + Path(r["model"]).name + ")"
        print(
            f"{name:<24} {r['reply']:<14} {r['tokens']:>6} {r['tokens_per_s_unconstrained']:>10} "
            f"{r['tokens_per_s_constrained']:>10} {r['ratio']:>6.3f} {r['cpu_ratio']:>9.3f}"
        )
    written = written_calls(args.model, args.calls, args.call_tokens) if args.calls else []
    for w in written:
        label = "unconstrained" if w["mode"] == "free" else "constrained"
        print(
            f"{label:<14} opened calls {w['cases']}: read {w['read']}, invented names {w['invented']}, "
            f"schema-valid arguments {w['valid']}/{w['cases']} ({w['tokens']} tokens)"
        )
        for text in w["examples"]:
            print(f"    e.g. {text!r}")
    libs = libraries(args.model) if args.libraries else []
    for lib in libs:
        print(
            f"{lib['library']}: tokenizer {lib['tokenizer_s']} s, compile {lib['compile_s']} s, "
            f"mask {lib['mask_ms_per_token']} ms/token ({lib['note']})"
        )
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "calls": written, "libraries": libs}, indent=2) + "\n")
    return 0 if all(r["calls_broken"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
