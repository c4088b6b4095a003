"""The first decision of a reply: did the model open a tool call, and how sure was it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence


class DecisionProbe:
    """A logits processor that reads the distribution of the first generated token: the probability that
    the reply opens a tool call (the first token of `<tool_call>`), and the margin between opening one and
    anything else, |p - (1 - p)|. A small margin is a turn the model was unsure whether to call a tool;
    the router sends such turns to the teacher. It sees the logits the sampler sees and changes nothing."""

    def __init__(self, opener_id: int):
        self.opener_id = opener_id
        self.p_call: float | None = None

    def __call__(self, _tokens: Any, logits: Any) -> Any:
        if self.p_call is None:
            import mlx.core as mx

            probs = mx.softmax(logits.astype(mx.float32), axis=-1)
            self.p_call = float(probs.reshape(-1, probs.shape[-1])[-1, self.opener_id].item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
        return logits

    @property
    def margin(self) -> float | None:
        return None if self.p_call is None else abs(2.0 * self.p_call - 1.0)

    def details(self) -> dict[str, Any]:
        if self.p_call is None:
            return {}
        return {"p_tool_call": round(self.p_call, 6), "decision_margin": round(self.margin or 0.0, 6)}


# -- the decision without generating: one prompt forward per case ------------------------------------------


def opener_id(tokenizer: Any) -> int:
    """The first token of `<tool_call>`: the token whose probability is the model's call decision."""
    from .parsing import TOOL_CALL_OPEN

    ids = tokenizer.encode(TOOL_CALL_OPEN, add_special_tokens=False)
    if not ids:
        raise ValueError(f"the tokenizer encodes {TOOL_CALL_OPEN!r} as no tokens")
    return int(ids[0])


@dataclass
class FirstToken:
    """The first reply token's distribution, as far as the decision goes. `margin` is the opener's logit
    minus the best other token's: greedy decoding opens a call iff margin + bias >= 0 (calibration.py).
    `other` is that best other token, what a calibrated reply opens with when it does not call."""

    p_call: float
    margin: float
    other: int = -1


class PrefixState:
    """The keys/values of one prompt prefix at batch size 1, extended and trimmed as prompts change, so
    the system prompt (and a tool set several cases share) goes through the model once, not per case."""

    def __init__(self, model: Any):
        from mlx_lm.models.cache import KVCache, make_prompt_cache

        self.model = model
        self.cache = make_prompt_cache(model)
        self.tokens: list[int] = []
        self.ok = all(type(c) is KVCache for c in self.cache)  # plain KV caches can be trimmed and copied

    def extend_to(self, prefix: Sequence[int]) -> None:
        import mlx.core as mx

        common = 0
        while common < min(len(self.tokens), len(prefix)) and self.tokens[common] == prefix[common]:
            common += 1
        for c in self.cache:
            c.trim(len(self.tokens) - common)
        new = list(prefix[common:])
        if new:  # states only: the prefix's logits are never read
            (self.model.model if _head(self.model) else self.model)(mx.array(new)[None], cache=self.cache)
            mx.eval([c.state[:2] for c in self.cache])
        self.tokens = list(prefix)

    def batch(self, size: int) -> list[Any]:
        """A fresh cache for `size` rows, each starting from this prefix."""
        import mlx.core as mx
        from mlx_lm.models.cache import KVCache

        out = []
        for c in self.cache:
            b = KVCache()
            if self.tokens:
                keys, values = c.keys_and_values()
                b.keys, b.values = mx.repeat(keys, size, axis=0), mx.repeat(values, size, axis=0)
                b.offset = len(self.tokens)
            out.append(b)
        return out


def _head(model: Any) -> Callable[[Any], Any] | None:
    """The output projection of an mlx-lm decoder whose inner model returns normalised states (Llama,
    Qwen2 and their kin), or None for an architecture this does not know."""
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "embed_tokens") or not hasattr(inner, "norm"):
        return None
    tied = getattr(getattr(model, "args", None), "tie_word_embeddings", None)
    if "lm_head" in model and not tied:
        return model.lm_head  # type: ignore[no-any-return]
    return getattr(inner.embed_tokens, "as_linear", None)


def last_logits(model: Any, ids: Any, last: Sequence[int], cache: list[Any] | None) -> Any:
    """(B, vocab) logits at position last[b] of each row: the vocabulary projection for those positions
    only (a 49k-token head costs a fifth of the small student's forward per position) where the
    architecture is known, else through the whole model."""
    import mlx.core as mx

    rows, at = mx.arange(len(last)), mx.array(list(last))
    head = _head(model)
    if head is not None:
        return head(model.model(ids, cache=cache)[rows, at])
    return model(ids, cache=cache)[rows, at]


def _common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    first = prompts[0]
    n = min(len(p) for p in prompts) - 1  # every row keeps at least one token to read the logits after
    for p in prompts[1:]:
        i = 0
        while i < n and p[i] == first[i]:
            i += 1
        n = i
    return max(0, n)


SPLIT_BELOW = 64  # a prompt joins a batch unless it would cut the batch's shared prefix by more tokens


def _batches(order: list[int], prompts: Sequence[Sequence[int]], size: int) -> list[list[int]]:
    """Consecutive runs of the sorted prompts, at most `size` each, cut where a prompt shares much less
    with the batch than the batch shares within itself (the next tool set begins): padding a batch with
    another tool set's prompts would make every row pay for its own."""
    out: list[list[int]] = []
    shared = 0
    for i in order:
        batch = out[-1] if out else None
        if batch and len(batch) < size:
            common = _common_prefix([prompts[batch[0]], prompts[i]])
            if common >= shared - SPLIT_BELOW:
                batch.append(i)
                shared = min(shared, common)
                continue
        out.append([i])
        shared = len(prompts[i])
    return out


def first_tokens(
    model: Any,
    opener: int,
    prompts: Sequence[Sequence[int]],
    *,
    batch_size: int = 8,
    share_prefix: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[FirstToken]:
    """The first-token decision of each prompt (token ids, as rendered for generation): one forward,
    no generation. Prompts are taken in sorted order so that those sharing a tool set sit in one batch;
    each batch's common prefix is computed once (and kept for the next batch while it still matches),
    the rest of each prompt is right-padded: causal attention keeps padding out of the real positions."""
    import mlx.core as mx

    if not prompts:
        return []
    if any(not p for p in prompts):
        raise ValueError("empty prompt")
    order = sorted(range(len(prompts)), key=lambda i: list(prompts[i]))
    state = PrefixState(model)
    share = share_prefix and state.ok
    out: list[FirstToken | None] = [None] * len(prompts)
    done = 0
    for idx in _batches(order, prompts, max(1, batch_size) if share else 1):
        rows = [list(prompts[i]) for i in idx]
        shared = _common_prefix(rows) if share else 0
        if share:
            state.extend_to(rows[0][:shared])
        suffixes = [r[shared:] for r in rows]
        width = max(len(s) for s in suffixes)
        ids = mx.array([s + [0] * (width - len(s)) for s in suffixes])
        logits = last_logits(model, ids, [len(s) - 1 for s in suffixes], state.batch(len(rows)) if share else None)
        logits = logits.astype(mx.float32)
        p = mx.softmax(logits, axis=-1)[:, opener]
        without = mx.where(mx.arange(logits.shape[-1]) == opener, -mx.inf, logits)
        best = mx.argmax(without, axis=-1)
        margin = logits[:, opener] - mx.max(without, axis=-1)
        mx.eval(p, margin, best)
        probs: list[float] = p.tolist()  # type: ignore[assignment]  # mlx types tolist() as any nesting; 1-D here
        margins: list[float] = margin.tolist()  # type: ignore[assignment]
        bests: list[int] = best.tolist()  # type: ignore[assignment]
        for i, pc, m, b in zip(idx, probs, margins, bests):
            out[i] = FirstToken(float(pc), float(m), int(b))
        done += len(idx)
        if on_batch is not None:
            on_batch(done, len(order))
    return [r for r in out if r is not None]
