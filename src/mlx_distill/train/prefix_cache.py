"""The frozen bottom of the model, computed once.

When training touches only the top k layers, the embeddings and the layers below them are constant:
the hidden states entering layer n-k depend only on the tokens. `FrozenBottom` computes them outside
autodiff and, with caching on, keeps them:

* per example: the states of its tokens after the batch's shared prefix (they are reused on every
  later epoch, whatever batch the example lands in: they are cut and padded per batch);
* per shared prompt prefix (system prompt + tool schemas, the same in most records): the bottom
  layers' keys/values and output states, so the prefix goes through the bottom layers once per run,
  not once per batch.

Exact: the same numbers are computed, only fewer times (the equality test compares losses step by step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import mlx.core as mx
import numpy as np

from .forward import BatchPlan, SharedPrefixCache, SplitModel, run_prefix


@dataclass
class _Prefix:
    tokens: np.ndarray  # (Pe,)
    kv: list  # per bottom layer: (keys, values), each (1, H, Pe, d)
    h: mx.array  # (1, Pe, D): bottom output for the prefix tokens

    @property
    def nbytes(self) -> int:
        return int(self.h.nbytes + sum(k.nbytes + v.nbytes for k, v in self.kv))


@dataclass
class _Entry:
    start: int  # the example's states are stored from this position on...
    prefix: Optional[_Prefix]  # ...and positions before it are in this prefix's states
    h: mx.array  # (L - start, D)


class FrozenBottom:
    def __init__(self, split: SplitModel, boundary: int, *, cache: bool = True, max_bytes: float = 4e9):
        self.split, self.boundary, self.cache_on = split, boundary, cache and boundary > 0
        self.max_bytes = max_bytes
        self.prefixes: list[_Prefix] = []
        self.entries: dict = {}
        self.bytes = 0
        self.full = False
        self.hits = self.misses = 0

    # -- prefix (shared tokens) --
    def _find_prefix(self, tokens: np.ndarray) -> Optional[_Prefix]:
        P = len(tokens)
        for p in self.prefixes:
            if len(p.tokens) >= P and np.array_equal(p.tokens[:P], tokens):
                return p
        return None

    def _compute_prefix(self, tokens: np.ndarray) -> _Prefix:
        s = self.split
        hp = s.embed(mx.array(tokens)[None])
        kv = []
        for layer in s.layers[: self.boundary]:
            c = SharedPrefixCache()
            hp = run_prefix(layer, hp, c)
            kv.append((c.keys, c.values))
        mx.eval(hp, kv)
        return _Prefix(tokens=tokens.copy(), kv=kv, h=hp)

    def _prefix(self, tokens: np.ndarray) -> _Prefix:
        p = self._find_prefix(tokens) if self.cache_on else None
        if p is None:
            p = self._compute_prefix(tokens)
            if self.cache_on and self._room(p.nbytes):
                self.prefixes.append(p)
                self.bytes += p.nbytes
        return p

    def _room(self, n: int) -> bool:
        if self.bytes + n > self.max_bytes:
            self.full = True
            return False
        return True

    # -- the batch --
    def __call__(self, plan: BatchPlan) -> tuple[Optional[mx.array], mx.array]:
        """(hp (1, P, D) or None, hs (B, Ls, D)): the states entering layer `boundary`."""
        P = plan.prefix
        s = self.split
        if self.boundary == 0:
            hp = s.embed(mx.array(plan.examples[0].ids[:P])[None]) if P else None
            return hp, s.embed(mx.array(plan.suffix_ids))
        prefix = self._prefix(plan.examples[0].ids[:P]) if P else None
        hp = prefix.h[:, :P] if prefix is not None else None
        if self.cache_on and all(k in self.entries for k in plan.keys):
            self.hits += 1
            return hp, self._assemble(plan)
        self.misses += 1
        hs = s.embed(mx.array(plan.suffix_ids))
        for i, layer in enumerate(s.layers[: self.boundary]):
            if P:
                assert prefix is not None  # built above whenever P > 0
                k, v = prefix.kv[i]
                c = SharedPrefixCache(k[:, :, :P], v[:, :, :P])
                hs = layer(hs, "causal", c)  # bottom-right aligned: the suffix sees the prefix (see forward.py)
            else:
                hs = layer(hs, "causal", None)
        mx.eval(hs)
        if self.cache_on and not self.full:
            for b, key in enumerate(plan.keys):
                if key in self.entries:
                    continue
                h = hs[b, : int(plan.suffix_len[b])]
                if not self._room(h.nbytes):
                    break
                self.entries[key] = _Entry(start=P, prefix=prefix, h=mx.array(h))
                self.bytes += h.nbytes
            mx.eval([e.h for e in self.entries.values()])
        return hp, hs

    def _assemble(self, plan: BatchPlan) -> mx.array:
        P, Ls = plan.prefix, plan.suffix_ids.shape[1]
        rows = []
        for b, key in enumerate(plan.keys):
            e = self.entries[key]
            n = int(plan.suffix_len[b])
            if e.start == P:
                h = e.h
            elif e.start > P:  # this batch shares less: the positions [P, start) come from the stored prefix
                h = mx.concatenate([e.prefix.h[0, P : e.start], e.h], axis=0)
            else:
                h = e.h[P - e.start :]
            if n < Ls:
                h = mx.concatenate([h, mx.zeros((Ls - n, h.shape[-1]), dtype=h.dtype)], axis=0)
            rows.append(h)
        return mx.stack(rows)

    def stats(self) -> dict:
        return {
            "enabled": self.cache_on,
            "boundary": self.boundary,
            "examples": len(self.entries),
            "prefixes": len(self.prefixes),
            "mb": round(self.bytes / 1e6, 1),
            "full": self.full,
            "hits": self.hits,
            "misses": self.misses,
        }
