"""Continuous batching of concurrent generations on one loaded model (`Generator.batching()`): several agent
runs (benchmark cases) decode together, one forward pass per token for all of them, with mlx-lm's
`BatchGenerator`. Each request keeps its own stop sequences and token limit (`generation.Decoding`)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .generation import Decoding, GenerationResult, Generator, common_prefix_length


@dataclass
class _Request:
    ids: list[int]
    decoding: Decoding
    max_tokens: int
    sampler: Callable | None
    logits_processors: list[Callable] | None
    use_cache: bool
    done: threading.Event = field(default_factory=threading.Event)
    reused: int = 0
    tic: float = 0.0
    prompt_s: float = 0.0
    result: GenerationResult | None = None
    error: BaseException | None = None


class BatchScheduler:
    """Continuous batching on one model with mlx-lm's `BatchGenerator`: requests from concurrent agent runs
    join and leave the batch as they come and end, so one forward pass decodes a token for each of them.

    A worker thread owns the batch while any request is pending and ends when none is (its MLX stream
    cleared, as `Generator.generate` does on other threads). Prefix reuse: the KV caches of finished
    requests are kept (the newest `keep` of them); a new request starts from a copy of the one sharing
    its longest prefix (the system prompt and tool schemas every case shares, or the earlier turns of
    the same run) and only its new suffix is processed."""

    def __init__(self, generator: Generator, max_batch: int, keep: int | None = None):
        self.generator, self.max_batch = generator, max(1, int(max_batch))
        self.keep = keep if keep is not None else self.max_batch + 2
        self.prefixes: deque[tuple[list[int], list[Any]]] = deque(maxlen=self.keep)
        self.cond = threading.Condition()
        self.pending: list[_Request] = []
        self.worker: threading.Thread | None = None
        self.started: list[threading.Thread] = []  # workers to join on close()
        self.stats = {"steps": 0, "max_active": 0}

    def generate(
        self,
        ids: list[int],
        decoding: Decoding,
        *,
        max_tokens: int,
        sampler: Callable | None,
        logits_processors: list[Callable] | None,
        use_cache: bool = True,
    ) -> GenerationResult:
        request = _Request(ids, decoding, max_tokens, sampler, logits_processors, use_cache, tic=time.perf_counter())
        with self.cond:
            self.pending.append(request)
            if self.worker is None:
                self.worker = threading.Thread(target=self._run, name="mlx-distill-batch", daemon=True)
                self.worker.start()
                self.started.append(self.worker)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def close(self) -> None:
        """Wait for the workers to end (each does once no request is pending): a thread left inside MLX when
        the interpreter exits aborts the process."""
        with self.cond:
            started, self.started = self.started, []
        for worker in started:
            worker.join()

    # -- the worker -------------------------------------------------------------------------------------
    def _prefix(self, request: _Request) -> tuple[list[Any] | None, int]:
        """A copy of the kept cache sharing the longest prefix with the request, trimmed to it."""
        import copy

        if not request.use_cache:
            return None, 0
        best, common = None, 0
        for tokens, cache in self.prefixes:
            n = common_prefix_length(tokens, request.ids)
            if n > common:
                best, common = (tokens, cache), n
        common = min(common, len(request.ids) - 1)  # generation needs at least one token to feed
        if best is None or common <= 0:
            return None, 0
        cache = copy.deepcopy(best[1])
        for c in cache:
            c.trim(c.offset - common)
        return cache, common

    def _share_prefixes(self, new: list[_Request], stream: Any) -> None:
        """Requests arriving together that share a prefix no kept cache covers (the first wave of cases: the
        same system prompt and tools): process that prefix once and keep it, so each request starts from it."""
        import mlx.core as mx
        from mlx_lm.models.cache import make_prompt_cache

        for i, request in enumerate(new):
            if not request.use_cache:
                continue
            shared = max(
                (common_prefix_length(request.ids, o.ids) for j, o in enumerate(new) if j != i and o.use_cache),
                default=0,
            )
            shared = min(shared, len(request.ids) - 1)
            covered = max((common_prefix_length(request.ids, t) for t, _ in self.prefixes), default=0)
            if shared - covered < 16:
                continue
            gen = self.generator
            cache = make_prompt_cache(gen.model, max_kv_size=gen.max_kv_size)
            with mx.stream(stream):
                for k in range(0, shared, gen.prefill_step_size):
                    gen.model(mx.array(request.ids[k : min(shared, k + gen.prefill_step_size)])[None], cache=cache)
                    mx.eval([c.state for c in cache])
            self._keep(request.ids[:shared], cache)

    def _keep(self, tokens: list[int], cache: list[Any] | None) -> None:
        import mlx.core as mx

        if not cache or not hasattr(cache[0], "offset") or cache[0].offset != len(tokens):
            return  # not a cache we can account for: nothing kept
        mx.eval([c.state for c in cache])
        self.prefixes.append((list(tokens), cache))

    def _run(self) -> None:
        import mlx.core as mx
        from mlx_lm.generate import BatchGenerator, StopSequences

        stream = mx.new_stream(mx.default_device())
        try:
            with mx.stream(stream):  # every array of this thread on its own stream, cleared when it ends
                self._loop(BatchGenerator, StopSequences, stream)
        finally:
            mx.synchronize(stream)
            mx.clear_streams()

    def _loop(self, BatchGenerator: Any, StopSequences: Any, stream: Any) -> None:
        gen = self.generator
        batch = BatchGenerator(
            gen.model,
            completion_batch_size=self.max_batch,
            prefill_batch_size=self.max_batch,
            prefill_step_size=gen.prefill_step_size,
            max_kv_size=gen.max_kv_size,
            stream=stream,
        )
        active: dict[int, _Request] = {}
        try:
            while True:
                with self.cond:
                    if not self.pending and not active:
                        self.worker = None
                        return
                    room = self.max_batch - len(active)
                    new, self.pending = self.pending[:room], self.pending[room:]
                self._share_prefixes(new, stream)
                for request in new:
                    cache, request.reused = self._prefix(request)
                    (uid,) = batch.insert(
                        [request.ids[request.reused :]],
                        max_tokens=[request.max_tokens],
                        caches=[cache] if cache is not None else None,
                        all_tokens=[request.ids[: request.reused]],
                        samplers=[request.sampler],
                        logits_processors=[request.logits_processors or []],
                        stop_sequences=[StopSequences()],
                    )
                    active[uid] = request
                self.stats["max_active"] = max(self.stats["max_active"], len(active))
                _, responses = batch.next()
                self.stats["steps"] += 1
                for r in responses:
                    request = active[r.uid]
                    if not request.decoding.tokens:
                        request.prompt_s = time.perf_counter() - request.tic
                        request.tic = time.perf_counter()
                    ended = request.decoding.add(int(r.token))
                    if r.finish_reason is not None:  # the token limit: mlx-lm has already taken it out
                        cache, tokens = r.prompt_cache, r.all_tokens
                    elif ended:
                        cache, tokens = batch.remove([r.uid], return_prompt_caches=True)[r.uid]
                    else:
                        continue
                    del active[r.uid]
                    if request.use_cache:
                        self._keep(tokens, cache)
                    self._finish(request)
        except BaseException as e:  # noqa: BLE001 - every waiting caller gets the error
            with self.cond:
                failed, self.pending = [*active.values(), *self.pending], []
                self.worker = None
            for request in failed:
                request.error = e
                request.done.set()
        finally:
            batch.close()

    def _finish(self, request: _Request) -> None:
        request.decoding.close()
        gen_s = time.perf_counter() - request.tic
        with self.generator.lock:
            self.generator._count(len(request.ids), request.reused)
        request.result = request.decoding.result(request.ids, request.reused, request.prompt_s, gen_s)
        request.done.set()
