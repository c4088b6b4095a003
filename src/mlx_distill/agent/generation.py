"""The sampling loop behind the agent: mlx-lm's `generate_step`, stop sequences on the decoded text
(so a stop string that spans several tokens still stops generation), and prefix KV-cache reuse.

Prefix reuse: one prompt cache per loaded model holds the keys/values of the last prompt plus what was
generated after it, and the token list of exactly that. A new prompt is compared with the list; the cache is
trimmed back to the longest common prefix and only the new suffix is processed. Turns of one agent run
share everything up to the last turn; runs with the same system prompt and tools share that prefix.
At temperature 0 the tokens generated are the same as without the cache (a test checks it).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Sequence

if TYPE_CHECKING:
    from .batching import BatchScheduler

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass
class GenerationResult:
    text: str  # the reply, ending before any stop sequence
    tokens: list[int]  # generated token ids (an EOS or stop token included when one ended it)
    finish_reason: FinishReason  # "stop": EOS or a stop sequence; "length": max_tokens reached
    stopped_by: str | None  # the stop sequence that matched, "eos", or None
    prompt_tokens: int  # tokens in the prompt
    cached_tokens: int  # of which were reused from the prefix cache
    prompt_s: float  # time to process the (uncached part of the) prompt and sample the first token
    generation_s: float  # time for the rest
    prompt_ids: list[int] = field(default_factory=list, repr=False)

    @property
    def processed_tokens(self) -> int:
        return self.prompt_tokens - self.cached_tokens


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _stop_token_ids(tokenizer: Any, stops: Iterable[str]) -> set[int]:
    """Stop strings that are one special token: matched by id as well (fast, and safe when a detokenizer
    would not print special tokens)."""
    ids: set[int] = set()
    added = set(getattr(getattr(tokenizer, "_tokenizer", tokenizer), "all_special_tokens", []) or [])
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    for s in stops:
        if s in added and s in vocab:
            ids.add(vocab[s])
    return ids


def _find_stop(text: str, stops: Sequence[str], start: int) -> tuple[int, str] | None:
    best = None
    for s in stops:
        i = text.find(s, start)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, s)
    return best


def _partial_stop(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of a stop string."""
    longest = max((len(s) for s in stops), default=0)
    for k in range(min(len(text), longest - 1), 0, -1):
        tail = text[-k:]
        if any(s.startswith(tail) for s in stops):
            return k
    return 0


class Generator:
    """Generation for one loaded model. Thread-safe (one generation at a time); owns the prefix cache."""

    def __init__(self, model: Any, tokenizer: Any, *, max_kv_size: int | None = None, prefill_step_size: int = 2048):
        self.model, self.tokenizer = model, tokenizer
        self.max_kv_size, self.prefill_step_size = max_kv_size, prefill_step_size
        self.lock = threading.Lock()
        self.cache: list[Any] | None = None
        self.cache_tokens: list[int] = []
        self.stats = {"generations": 0, "prompt_tokens": 0, "cached_tokens": 0, "max_batch": 0}
        self.scheduler: BatchScheduler | None = None  # set while batching() is open

    # -- prompt cache -------------------------------------------------------------------------------------
    def reset_cache(self) -> None:
        with self.lock:
            self.cache, self.cache_tokens = None, []

    def _fresh_cache(self) -> list[Any]:
        from mlx_lm.models.cache import make_prompt_cache

        return make_prompt_cache(self.model, max_kv_size=self.max_kv_size)

    def _reuse(self, ids: list[int]) -> tuple[list[Any], int]:
        """The shared cache trimmed to the longest common prefix with `ids`, and that prefix's length."""
        from mlx_lm.models.cache import can_trim_prompt_cache, trim_prompt_cache

        if self.cache is None:
            self.cache, self.cache_tokens = self._fresh_cache(), []
        common = common_prefix_length(self.cache_tokens, ids)
        if common >= len(ids):  # generation needs at least one token to feed
            common = len(ids) - 1
        drop = len(self.cache_tokens) - common
        if drop > 0:
            if not can_trim_prompt_cache(self.cache) or trim_prompt_cache(self.cache, drop) != drop:
                self.cache, self.cache_tokens, common = self._fresh_cache(), [], 0
            else:
                self.cache_tokens = self.cache_tokens[:common]
        if self.cache and hasattr(self.cache[0], "offset") and self.cache[0].offset != len(self.cache_tokens):
            self.cache, self.cache_tokens, common = self._fresh_cache(), [], 0  # out of step: start over
        return self.cache, common

    # -- generation ---------------------------------------------------------------------------------------
    def encode(self, prompt: str | Sequence[int]) -> list[int]:
        """Prompt ids exactly as training tokenizes the rendered text (no extra special tokens)."""
        if isinstance(prompt, str):
            return list(self.tokenizer.encode(prompt, add_special_tokens=False))
        return [int(t) for t in prompt]

    def generate(
        self,
        prompt: str | Sequence[int],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_k: int = 0,
        seed: int | None = None,
        stop: Sequence[str] = (),
        logits_processors: list[Callable] | None = None,
        use_cache: bool = True,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate a reply to `prompt` (text or token ids). `on_text` receives the text as it becomes final
        (never any part of a stop sequence). `cancel` ends generation early (finish reason "cancelled").
        Inside `batching()`, the request joins the batch of concurrent requests instead (`seed` then does not
        apply: the batch samples from one random stream)."""
        import mlx.core as mx
        from mlx_lm.generate import generate_step, generation_stream

        ids = self.encode(prompt)
        if not ids:
            raise ValueError("empty prompt")
        decoding = Decoding(self.tokenizer, stop, on_text=on_text, cancel=cancel)
        sampler = _sampler(temperature, top_p, top_k)
        scheduler = self.scheduler
        if scheduler is not None:
            return scheduler.generate(
                ids,
                decoding,
                max_tokens=max_tokens,
                sampler=sampler,
                logits_processors=logits_processors,
                use_cache=use_cache,
            )
        with self.lock:
            if seed is not None:
                mx.random.seed(int(seed))
            if use_cache:
                cache, reused = self._reuse(ids)
            else:
                cache, reused = self._fresh_cache(), 0
            tic = time.perf_counter()
            prompt_s = 0.0
            # On the main thread, mlx-lm's generation stream. On any other thread a stream of our own, cleared
            # before returning: thread-local streams left behind by worker threads make the process abort
            # at exit ("terminate called without an active exception", seen in ~half of runs with mlx 0.32).
            main = threading.current_thread() is threading.main_thread()
            stream = generation_stream if main else mx.new_stream(mx.default_device())
            steps = generate_step(
                mx.array(ids[reused:]),
                self.model,
                stream,
                max_tokens=max_tokens,
                sampler=sampler or _greedy,
                logits_processors=logits_processors,
                prompt_cache=cache,
                prefill_step_size=self.prefill_step_size,
            )
            try:
                for n, (token, _logprobs) in enumerate(steps):
                    if n == 0:
                        prompt_s = time.perf_counter() - tic
                        tic = time.perf_counter()
                    if decoding.add(int(token)):
                        break
            finally:
                steps.close()
                # Materialise the cache now, on this thread: its pending graph lives on this thread's stream,
                # and the next generation may run on another thread.
                mx.eval([c.state for c in cache])
                mx.synchronize(stream)  # the look-ahead step generate_step queued
                if not main:
                    mx.clear_streams()
            decoding.close()
            gen_s = time.perf_counter() - tic
            generated = decoding.tokens
            if use_cache:
                self.cache_tokens = ids + generated  # what the cache now holds (each yielded token was fed)
                if hasattr(cache[0], "offset") and cache[0].offset != len(self.cache_tokens):
                    self.cache, self.cache_tokens = None, []
            self._count(len(ids), reused)
        return decoding.result(ids, reused, prompt_s, gen_s)

    def _count(self, prompt_tokens: int, reused: int) -> None:
        self.stats["generations"] += 1
        self.stats["prompt_tokens"] += prompt_tokens
        self.stats["cached_tokens"] += reused

    # -- batching ------------------------------------------------------------------------------------------
    @contextmanager
    def batching(self, max_batch: int) -> Iterator["BatchScheduler"]:
        """While open, concurrent `generate` calls (one per agent run, from any threads) decode together in
        one batch of up to `max_batch`, each keeping its own stop sequences and token limit."""
        from .batching import BatchScheduler

        if self.scheduler is not None:
            raise RuntimeError("batching() is already open on this model")
        self.scheduler = BatchScheduler(self, max_batch)
        try:
            yield self.scheduler
        finally:
            self.scheduler.close()
            self.stats["max_batch"] = max(self.stats["max_batch"], self.scheduler.stats["max_active"])
            self.scheduler = None


def _greedy(logprobs: Any) -> Any:
    import mlx.core as mx

    return mx.argmax(logprobs, axis=-1)


def _sampler(temperature: float, top_p: float | None, top_k: int | None) -> Callable | None:
    """mlx-lm's sampler for these settings; None for greedy decoding (a batch then takes one argmax)."""
    from mlx_lm.sample_utils import make_sampler

    temp, p, k = float(temperature or 0.0), float(top_p if top_p is not None else 1.0), int(top_k or 0)
    return None if temp == 0 else make_sampler(temp=temp, top_p=p, top_k=k)


class Decoding:
    """One reply's text as tokens arrive: the detokenizer, stop sequences matched on the decoded text (and
    by id when a stop string is one special token), EOS, cancellation, and streaming of the final text."""

    def __init__(
        self,
        tokenizer: Any,
        stop: Sequence[str] = (),
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ):
        self.tokenizer, self.on_text, self.cancel = tokenizer, on_text, cancel
        self.stops = [s for s in dict.fromkeys(stop or ()) if s]
        self.stop_ids = _stop_token_ids(tokenizer, self.stops)
        self.eos_ids = set(tokenizer.eos_token_ids)
        self.detok = tokenizer.detokenizer
        self.tokens: list[int] = []
        self.text, self.emitted, self.searched, self.text_stop = "", 0, 0, False
        self.finish: FinishReason = "length"
        self.stopped_by: str | None = None

    def add(self, token: int) -> bool:
        """Take one generated token; True when the reply ends with it."""
        self.tokens.append(token)
        if token in self.eos_ids:
            self.finish, self.stopped_by = "stop", "eos"
            return True
        if token in self.stop_ids:
            self.finish = "stop"
            self.stopped_by = next(s for s in self.stops if self.tokenizer.get_vocab().get(s) == token)
            return True
        self.detok.add_token(token)
        self.text = self.detok.text
        if self.stops:
            hit = _find_stop(self.text, self.stops, max(0, self.searched - max(len(s) for s in self.stops)))
            self.searched = len(self.text)
            if hit:
                self.text, self.text_stop = self.text[: hit[0]], True
                self.finish, self.stopped_by = "stop", hit[1]
                return True
        if self.on_text is not None:
            safe = len(self.text) - _partial_stop(self.text, self.stops)
            if safe > self.emitted:
                self.on_text(self.text[self.emitted : safe])
                self.emitted = safe
        if self.cancel is not None and self.cancel.is_set():
            self.finish = "cancelled"
            return True
        return False

    def close(self) -> None:
        """The reply is over: flush what the detokenizer held back, then look for a stop string once more."""
        if not self.text_stop:
            self.detok.finalize()
            self.text = self.detok.text
            hit = _find_stop(self.text, self.stops, 0) if self.stops else None
            if hit:
                self.text, self.finish, self.stopped_by = self.text[: hit[0]], "stop", hit[1]
        if self.on_text is not None and len(self.text) > self.emitted:
            self.on_text(self.text[self.emitted :])

    def result(self, ids: list[int], reused: int, prompt_s: float, gen_s: float) -> GenerationResult:
        return GenerationResult(
            text=self.text,
            tokens=self.tokens,
            finish_reason=self.finish,
            stopped_by=self.stopped_by,
            prompt_tokens=len(ids),
            cached_tokens=reused,
            prompt_s=prompt_s,
            generation_s=gen_s,
            prompt_ids=ids,
        )


def forced_reply(tokenizer: Any, text: str, *, then_eos: bool = True) -> Callable[[Any, Any], Any]:
    """A logits processor that makes the model write exactly `text` (then its EOS token): constrained
    output for tests, demos and scripted turns. The real model still runs for every token."""
    import mlx.core as mx

    script = list(tokenizer.encode(text, add_special_tokens=False))
    if then_eos:
        eos = getattr(tokenizer, "eos_token_id", None)
        if eos is None:
            eos = next(iter(tokenizer.eos_token_ids))
        script.append(int(eos))
    state = {"i": 0}

    def processor(_tokens: Any, logits: Any) -> Any:
        i = state["i"]
        state["i"] += 1
        target = script[min(i, len(script) - 1)]
        hot = mx.broadcast_to(mx.arange(logits.shape[-1]) == target, logits.shape)
        return mx.where(hot, mx.array(0.0, dtype=logits.dtype), mx.array(-1e9, dtype=logits.dtype))

    return processor


def scripted_replies(tokenizer: Any, replies: Sequence[str]) -> Callable[[], list[Callable]]:
    """A `logits_processors` factory for `MLXModel`: request i is forced to write `replies[i]` (the last one
    repeats). The real model runs every step; only the choice of token is scripted."""
    state = {"i": 0}

    def factory() -> list[Callable]:
        text = replies[min(state["i"], len(replies) - 1)]
        state["i"] += 1
        return [forced_reply(tokenizer, text)]

    factory.state = state  # type: ignore[attr-defined]
    return factory


# -- many prompts at once, greedily: evaluations that read replies, not conversations ------------------------


def prefill_shared_prefix(model: Any, prompts: Sequence[Sequence[int]], *, min_tokens: int = 16) -> tuple[int, Any]:
    """The prompts' longest common prefix (leaving every prompt at least one token of its own) run once
    through `model`: (its length, its KV cache), or (0, None) when it is shorter than `min_tokens`."""
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    if not prompts:
        return 0, None
    shared = min(len(p) for p in prompts) - 1
    for ids in prompts[1:]:
        shared = min(shared, common_prefix_length(prompts[0], ids))
    if shared < min_tokens:
        return 0, None
    cache = make_prompt_cache(model)
    model(mx.array([list(prompts[0][:shared])]), cache=cache)
    mx.eval([c.state for c in cache])
    return shared, cache


def greedy_batch(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_tokens: int,
    batch_size: int = 16,
    share_prefix: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[str]:
    """The greedy reply to each prompt (token ids, rendered for generation), in batches (mlx-lm's
    `batch_generate`: many prompts per forward, far faster on a CPU than one by one). Each batch's common
    prefix goes through the model once and every prompt continues from a copy of its KV cache
    (`share_prefix`): the same tokens as without it (a test checks it). Sort prompts that share a prefix
    next to each other before calling."""
    import copy

    from mlx_lm.generate import batch_generate

    if max_tokens <= 0:
        return [""] * len(prompts)
    out: list[str] = []
    for i in range(0, len(prompts), batch_size):
        batch = prompts[i : i + batch_size]
        shared, prefix_cache = prefill_shared_prefix(model, batch) if share_prefix else (0, None)
        chunk = [list(ids[shared:]) for ids in batch]
        caches = [copy.deepcopy(prefix_cache) for _ in chunk] if prefix_cache is not None else None
        out.extend(
            batch_generate(
                model, tokenizer, chunk, prompt_caches=caches, max_tokens=max_tokens, completion_batch_size=batch_size
            ).texts
        )
        if on_batch is not None:
            on_batch(len(out), len(prompts))
    return out
