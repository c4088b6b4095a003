"""The model's forward pass cut where training needs it, built from the model's own modules.

Three savings over mlx-lm's `default_loss`, none of which changes the loss:

* shared prompt prefix: the examples of a batch share a long token prefix (system prompt and tool
  schemas). It is run once (batch 1) through each layer, and the batch's suffixes attend to its keys
  and values through a one-entry cache in mlx-lm's own KV-cache protocol (`offset`,
  `update_and_fetch`), so any mlx-lm layer that supports generation supports this;
* logits only where there is a target: the vocabulary projection and the softmax run on the
  supervised positions only (on CPU the exponentials dominate the cost);
* frozen bottom: layers below the first trainable one are run outside autodiff, once, and their
  output can be cached (see prefix_cache.py).

`Trainer.self_check` compares this path with the plain `model(ids)` logits on a real example before
training; a model whose layout differs falls back to the plain path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, cast

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

MIN_SHARED_PREFIX = 32  # below this a separate prefix pass is not worth its overhead
PREFIX_CHUNK = 256  # the prefix goes through a layer in chunks of about this many tokens


@dataclass
class Example:
    ids: np.ndarray  # int32 token ids
    mask: np.ndarray  # bool: token i is a supervised target
    key: Any = None  # identifies the example in the frozen-prefix cache
    rid: str = ""

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.mask[1:].sum())

    @property
    def first_target(self) -> int:
        """Index of the first predictable target token (token 0 has no context and never counts)."""
        nz = np.flatnonzero(self.mask[1:])
        return int(nz[0]) + 1 if nz.size else len(self)


@dataclass
class BatchPlan:
    """A batch cut into the shared prefix (length P, possibly 0) and padded suffixes."""

    examples: list[Example]
    prefix: int  # P
    suffix_ids: np.ndarray  # (B, Ls) int32, right-padded with 0
    suffix_len: np.ndarray  # (B,) real suffix lengths
    gather: np.ndarray  # (N,) flat indices into (B*Ls) of positions that predict a target
    targets: np.ndarray  # (N,) the target token ids
    keys: list = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return int(sum(len(e) for e in self.examples))

    @property
    def n_targets(self) -> int:
        return int(self.targets.shape[0])


def common_prefix(arrays: Sequence[np.ndarray]) -> int:
    first = arrays[0]
    n = min(len(a) for a in arrays)
    for a in arrays[1:]:
        neq = np.flatnonzero(first[:n] != a[:n])
        if neq.size:
            n = int(neq[0])
    return n


def plan_batch(examples: list[Example], share_prefix: bool = True) -> BatchPlan:
    P = 0
    if share_prefix:
        P = common_prefix([e.ids for e in examples])
        # every position that predicts a target (t-1 for target t) must lie in the suffix, and every suffix is non-empty
        P = min(P, min(e.first_target for e in examples) - 1, min(len(e) for e in examples) - 1)
        if P < MIN_SHARED_PREFIX:
            P = 0
    B = len(examples)
    lens = np.array([len(e) - P for e in examples], dtype=np.int64)
    Ls = int(lens.max())
    ids = np.zeros((B, Ls), dtype=np.int32)
    gather, targets = [], []
    for i, e in enumerate(examples):
        ids[i, : lens[i]] = e.ids[P:]
        t = np.flatnonzero(e.mask[1:]) + 1  # target token indices
        gather.append(i * Ls + (t - 1 - P))
        targets.append(e.ids[t])
    return BatchPlan(
        examples=examples,
        prefix=P,
        suffix_ids=ids,
        suffix_len=lens,
        gather=np.concatenate(gather).astype(np.int32),
        targets=np.concatenate(targets).astype(np.int32),
        keys=[e.key for e in examples],
    )


class SharedPrefixCache:
    """One layer's keys/values of the shared prefix (batch 1), in mlx-lm's KV-cache protocol.

    While the prefix goes through the layer (in chunks, each attending to the chunks before it) the
    cache accumulates its keys/values; once sealed, the suffix pass (batch B) attends to them broadcast
    over the batch, with rotary positions starting at the prefix length.
    """

    def __init__(self, keys: Optional[mx.array] = None, values: Optional[mx.array] = None):
        self.keys, self.values = keys, values
        self.offset = 0 if keys is None else keys.shape[2]
        self.sealed = keys is not None

    def update_and_fetch(self, keys: mx.array, values: mx.array):
        if not self.sealed:
            if self.keys is not None:
                assert self.values is not None  # keys and values are set together
                keys = mx.concatenate([self.keys, keys], axis=2)
                values = mx.concatenate([self.values, values], axis=2)
            self.keys, self.values = keys, values
            self.offset = keys.shape[2]
            return keys, values
        assert self.keys is not None and self.values is not None  # sealed only once they are set
        B = keys.shape[0]
        pk = mx.broadcast_to(self.keys, (B,) + self.keys.shape[1:])
        pv = mx.broadcast_to(self.values, (B,) + self.values.shape[1:])
        return mx.concatenate([pk, keys], axis=2), mx.concatenate([pv, values], axis=2)

    def seal(self) -> None:
        self.sealed = True

    @property
    def state(self):
        return self.keys, self.values


def prefix_chunks(P: int, chunk: Optional[int] = None) -> list[tuple[int, int]]:
    """Split a prefix of P tokens into near-equal chunks of about `chunk` tokens. Each chunk attends to
    itself and the chunks before it, so the masked half of the P x P attention is mostly not computed."""
    n = max(1, round(P / (chunk or PREFIX_CHUNK)))
    edges = [round(i * P / n) for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:]))


def run_prefix(layer: nn.Module, hp: mx.array, cache: "SharedPrefixCache") -> mx.array:
    parts = [layer(hp[:, a:b], "causal", cache) for a, b in prefix_chunks(hp.shape[1])]
    cache.seal()
    return parts[0] if len(parts) == 1 else mx.concatenate(parts, axis=1)


class SplitModel:
    """Embedding, layers, final norm and output head of an mlx-lm causal LM, callable separately."""

    def __init__(self, model: nn.Module):
        self.model = model
        inner: Any = getattr(model, "model", None)
        self.ok = all(hasattr(inner, a) for a in ("embed_tokens", "norm")) and hasattr(model, "layers")
        if not self.ok:
            return
        self.inner: Any = inner  # an mlx-lm model's inner module (embed_tokens, norm), checked above
        self.layers = list(model.layers)
        args = getattr(model, "args", None)
        tied = getattr(args, "tie_word_embeddings", None)
        if "lm_head" in model and not tied:
            self.head = model.lm_head
        else:
            self.head = inner.embed_tokens.as_linear

    # -- pieces --
    def embed(self, ids: mx.array) -> mx.array:
        return self.inner.embed_tokens(ids)

    def run_layers(
        self, start: int, stop: int, hp: Optional[mx.array], hs: mx.array, P: int, checkpoint: bool = False
    ) -> tuple[Optional[mx.array], mx.array]:
        """Layers [start, stop) over the prefix hp (1, P, D) (or None) and the suffixes hs (B, Ls, D).

        The suffix pass uses MLX's "causal" mask, which aligns queries to the end of the keys when there
        are more keys (prefix + suffix) than queries: each suffix token sees the whole prefix and, causally,
        its own suffix (right padding comes after every real token, so it is never seen)."""
        for layer in self.layers[start:stop]:
            hp, hs = _layer_fn(layer, checkpoint)(hp, hs)
        return hp, hs

    def frozen_boundary(self) -> int:
        """Index of the first layer with a trainable parameter; 0 if anything before the layers trains."""
        if not self.ok:
            return 0
        trainable = dict(tree_flatten(self.model.trainable_parameters()))
        if any(k.startswith("model.embed_tokens") for k in trainable):
            return 0
        for i, layer in enumerate(self.layers):
            if tree_flatten(layer.trainable_parameters()):
                return i
        return len(self.layers)

    # -- loss --
    def target_logits(self, hs: mx.array, gather: mx.array) -> mx.array:
        D = hs.shape[-1]
        h = hs.reshape(-1, D)[gather]
        return self.head(self.inner.norm(h))


def _layer_fn(layer: nn.Module, checkpoint: bool):
    def run(hp, hs):
        if hp is None:
            return None, layer(hs, "causal", None)
        cache = SharedPrefixCache()
        hp2 = run_prefix(layer, hp, cache)
        hs2 = layer(hs, "causal", cache)
        return hp2, hs2

    if not checkpoint:
        return run

    def ckpt(hp, hs):  # mlx-lm's grad_checkpoint, around the prefix + suffix pair of passes
        def inner(params, *h):
            layer.update(params)
            return run(*h) if len(h) == 2 else run(None, h[0])[1]

        f = mx.checkpoint(inner)
        if hp is None:
            return None, f(layer.trainable_parameters(), hs)
        return f(layer.trainable_parameters(), hp, hs)

    return ckpt


def cross_entropy_sum(logits: mx.array, targets: mx.array) -> mx.array:
    return nn.losses.cross_entropy(logits.astype(mx.float32), targets, reduction="sum")


def reference_loss(model: nn.Module, examples: list[Example]) -> tuple[float, int]:
    """The plain way (mlx-lm's, with a per-token mask): full logits of the padded batch, mean CE over targets.
    Used by the self-check and the tests, never for training."""
    ids, m = pad_batch(examples)
    x = mx.array(ids)
    logits = model(x[:, :-1]).astype(mx.float32)
    ce = nn.losses.cross_entropy(logits, x[:, 1:]) * mx.array(m[:, 1:])
    n = int(m[:, 1:].sum())
    return cast(float, (ce.sum() / n).item()), n  # a scalar float32 array's item() is a float


def plain_loss(
    model: nn.Module, ids: mx.array, tmask: mx.array, denom: Optional[float] = None
) -> tuple[mx.array, mx.array]:
    """Fallback for layouts SplitModel cannot cut: full logits, CE summed over the target mask and divided
    by `denom` (default: the mean over the targets)."""
    logits = model(ids[:, :-1]).astype(mx.float32)
    m = tmask[:, 1:]
    ce = nn.losses.cross_entropy(logits, ids[:, 1:]) * m
    n = m.sum()
    return ce.sum() / (n if denom is None else denom), n


def pad_batch(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    L = max(len(e) for e in examples)
    ids = np.zeros((len(examples), L), dtype=np.int32)
    m = np.zeros((len(examples), L), dtype=bool)
    for i, e in enumerate(examples):
        ids[i, : len(e)] = e.ids
        m[i, : len(e)] = e.mask
    return ids, m
