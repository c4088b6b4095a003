"""The sampling loop on a real tiny MLX model: stop sequences spanning tokens, EOS, length, seeds, and
prefix KV-cache reuse that gives the same tokens as uncached generation at temperature 0."""

import threading

import pytest

from mlx_distill import prompting
from mlx_distill.agent.generation import Generator, forced_reply
from mlx_distill.agent.model import load_cached
from mlx_distill.tools import tool_schemas

TOOLS = tool_schemas(["read_file"])


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_cached(str(tiny_model_dir))


def prompt(tok, question, extra=()):
    msgs = prompting.conversation(question) + list(extra)
    return prompting.render(msgs, TOOLS, tok, add_generation_prompt=True)


def test_a_stop_sequence_spanning_several_tokens_stops_generation(loaded):
    tok = loaded.tokenizer
    gen = Generator(loaded.model, tok)
    assert len(tok.encode("HALT", add_special_tokens=False)) > 1  # spans several tokens
    chunks = []
    r = gen.generate(
        prompt(tok, "Say something."),
        stop=["HALT"],
        max_tokens=40,
        on_text=chunks.append,
        logits_processors=[forced_reply(tok, "The answer is 42. HALT then more text")],
    )
    assert r.text == "The answer is 42. " and r.finish_reason == "stop" and r.stopped_by == "HALT"
    assert "".join(chunks) == r.text  # the streamed text never showed any part of the stop string
    assert len(r.tokens) < len(tok.encode("The answer is 42. HALT then more text", add_special_tokens=False))


def test_eos_and_length_finish_reasons(loaded):
    tok = loaded.tokenizer
    gen = Generator(loaded.model, tok)
    r = gen.generate(prompt(tok, "Hi"), max_tokens=40, logits_processors=[forced_reply(tok, "Hello there.")])
    assert (r.text, r.finish_reason, r.stopped_by) == ("Hello there.", "stop", "eos")
    assert r.tokens[-1] in tok.eos_token_ids
    r = gen.generate(prompt(tok, "Hi"), max_tokens=3, logits_processors=[forced_reply(tok, "one two three four five")])
    assert r.finish_reason == "length" and len(r.tokens) == 3


def test_prefix_cache_reuses_the_common_prefix_and_gives_the_same_tokens(loaded):
    tok = loaded.tokenizer
    cached, fresh = Generator(loaded.model, tok), Generator(loaded.model, tok)
    convo, previous = [], None
    for turn in range(3):
        p = prompting.render(
            prompting.conversation("Which files import svcs?") + convo, TOOLS, tok, add_generation_prompt=True
        )
        a = cached.generate(p, max_tokens=12, temperature=0.0)
        b = fresh.generate(p, max_tokens=12, temperature=0.0, use_cache=False)
        assert a.tokens == b.tokens, turn
        assert b.cached_tokens == 0
        if previous is not None:
            # the previous prompt was in the cache: only the new suffix was processed
            assert a.cached_tokens >= previous.prompt_tokens
            assert a.processed_tokens < a.prompt_tokens / 5
        previous = a
        convo += [
            {"role": "assistant", "content": a.text.strip() or "ok"},
            {"role": "user", "content": f"And turn {turn + 2}?"},
        ]
    # another run sharing the system prompt and tools reuses that prefix
    other = cached.generate(prompt(tok, "What does main return?"), max_tokens=4)
    system_and_tools = prompting.render([{"role": "system", "content": prompting.DEFAULT_SYSTEM_PROMPT}], TOOLS, tok)
    assert other.cached_tokens >= len(tok.encode(system_and_tools, add_special_tokens=False)) - 2
    assert other.tokens == fresh.generate(prompt(tok, "What does main return?"), max_tokens=4, use_cache=False).tokens


def test_the_same_seed_gives_the_same_sample_and_the_cache_survives_a_thread_switch(loaded):
    tok = loaded.tokenizer
    gen = Generator(loaded.model, tok)
    p = prompt(tok, "Tell me a story.")
    out = {}

    def in_thread():
        out["a"] = gen.generate(p, max_tokens=8, temperature=1.0, seed=7)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    b = gen.generate(p, max_tokens=8, temperature=1.0, seed=7)  # main thread, cache built on the other
    assert out["a"].tokens == b.tokens and b.cached_tokens > 0


def test_generating_on_worker_threads_leaves_the_process_able_to_exit_cleanly(tiny_model_dir):
    """mlx 0.32 aborts at exit ("terminate called without an active exception") in about half of the
    processes whose worker threads leave thread-local streams behind; the generator clears its own."""
    import subprocess
    import sys

    from mlx_distill._blas import blas_env

    code = f"""
import mlx_distill, threading
from concurrent.futures import ThreadPoolExecutor
from mlx_distill.agent.model import load_cached
g = load_cached({str(tiny_model_dir)!r}).generator
pool = ThreadPoolExecutor(1)
for n in range(3):
    pool.submit(g.generate, [1, 2, 3, 4, 5 + n], max_tokens=3, stop=["x"]).result()
t = threading.Thread(target=g.generate, args=([1, 2, 3],), kwargs={{"max_tokens": 2, "use_cache": False}})
t.start(); t.join()
g.generate([1, 2, 3, 4, 5], max_tokens=2)
print("ok")
"""
    for _ in range(3):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=blas_env(), timeout=600)
        assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_batched_generations_match_each_generation_alone_with_their_own_stops_and_limits(loaded):
    """Concurrent requests decode in one batch (mlx-lm's BatchGenerator); at temperature 0 each gets the
    tokens it gets alone, ends at its own stop sequence or token limit, and the shared prefix is reused."""
    from concurrent.futures import ThreadPoolExecutor

    tok = loaded.tokenizer
    asks = [
        ("Which file defines main?", 14, ()),
        ("What is a mutex?", 9, ()),
        ("List the files.", 14, ("HALT",)),
        ("Explain closures, please, in detail.", 5, ()),
        ("Say it.", 20, ("HALT",)),
    ]
    forced = {2: "Sure. HALT and more", 4: "Done now."}
    prompts = [prompt(tok, q) for q, _, _ in asks]

    def run(gen, i):
        q, limit, stops = asks[i]
        processors = [forced_reply(tok, forced[i])] if i in forced else None
        return gen.generate(prompts[i], max_tokens=limit, stop=stops, logits_processors=processors)

    alone = [run(Generator(loaded.model, tok), i) for i in range(len(asks))]
    gen = Generator(loaded.model, tok)
    with gen.batching(3) as scheduler, ThreadPoolExecutor(len(asks)) as pool:
        gen.generate(prompt(tok, "Warm up."), max_tokens=2)  # kept: its system prompt and tools serve the rest
        together = list(pool.map(lambda i: run(gen, i), range(len(asks))))
    assert gen.scheduler is None and scheduler.stats["max_active"] == 3  # batches really formed
    for a, b in zip(alone, together):
        assert (b.tokens, b.text, b.finish_reason, b.stopped_by) == (a.tokens, a.text, a.finish_reason, a.stopped_by)
    assert together[2].text == "Sure. " and together[2].stopped_by == "HALT"
    assert together[4].stopped_by == "eos" and together[1].finish_reason == "length" and len(together[1].tokens) == 9
    assert all(r.cached_tokens > 0 for r in together)  # the shared system prompt and tools: processed once


def test_batching_leaves_the_process_able_to_exit_cleanly(tiny_model_dir):
    """The batch's worker thread ends (its stream cleared) before batching() returns."""
    import subprocess
    import sys

    from mlx_distill._blas import blas_env

    code = f"""
import mlx_distill
from concurrent.futures import ThreadPoolExecutor
from mlx_distill.agent.model import load_cached
g = load_cached({str(tiny_model_dir)!r}).generator
with g.batching(2), ThreadPoolExecutor(3) as pool:
    out = list(pool.map(lambda n: g.generate([1, 2, 3, 4, 5 + n], max_tokens=3), range(3)))
print(len(out))
"""
    for _ in range(3):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=blas_env(), timeout=600)
        assert run.returncode == 0 and run.stdout.strip() == "3", run.stderr[-2000:]
