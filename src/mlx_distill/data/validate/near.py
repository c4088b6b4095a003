"""Near duplicates: an exact token-set Jaccard join with prefix filtering, so 100k questions take seconds."""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence


class JaccardJoin:
    """Exact token-set Jaccard >= t join: prefix filtering with positional filtering (PPJoin).

    Tokens are ordered rarest first (by frequency over all sets the join will see). Two sets with
    Jaccard >= t share a token among the first |s| - ceil(t|s|) + 1 of each (the prefix), so each set is
    indexed under its prefix tokens only, by (position, size). A probe skips a whole (position, size)
    bucket when even a perfect overlap of the remaining tokens could not reach the required overlap
    ceil(t/(1+t) (|x|+|y|)): templated questions that differ in one rare name then cost almost nothing."""

    def __init__(self, token_sets: Sequence[frozenset[str]], threshold: float):
        self.t = threshold
        self._c = threshold / (1 + threshold)
        df: Counter[str] = Counter()
        for s in token_sets:
            df.update(s)
        self.rank = {tok: (c, tok) for tok, c in df.items()}
        self.index: dict[str, dict[tuple[int, int], list[int]]] = {}
        self.sets: list[frozenset[str]] = []

    def prefix(self, s: frozenset[str]) -> list[str]:
        """The tokens a set is indexed and probed under, rarest first."""
        if not s:
            return []
        n = len(s) - math.ceil(self.t * len(s) - 1e-9) + 1
        rank = self.rank
        if n == 1:
            return [min(s, key=lambda tok: rank.get(tok, (0, tok)))]
        return sorted(s, key=lambda tok: rank.get(tok, (0, tok)))[:n]

    def query(self, s: frozenset[str], prefix: list[str] | None = None) -> list[tuple[int, float]]:
        if not s:
            return []
        size = len(s)
        lo, hi = self.t * size - 1e-9, size / self.t + 1e-9
        c = self._c
        overlap: dict[int, int] = {}
        before = 0  # earlier prefix tokens that another set can share (a token only this set has cannot)
        rank = self.rank
        for i, tok in enumerate(prefix if prefix is not None else self.prefix(s)):
            buckets = self.index.get(tok)
            shared = rank.get(tok, (1,))[0] > 1
            if not buckets:
                before += shared
                continue
            for (j, ny), ids in buckets.items():
                if ny < lo or ny > hi:
                    continue
                need = math.ceil(c * (size + ny) - 1e-9)
                ub = 1 + min(size - i - 1, ny - j - 1)
                if before + ub < need:  # even every earlier shareable prefix token matching would not do
                    continue
                for y in ids:
                    a = overlap.get(y, 0)
                    if a < 0:
                        continue
                    overlap[y] = a + 1 if a + ub >= need else -1
            before += shared
        hits = []
        sets = self.sets
        for y, a in overlap.items():
            if a <= 0:
                continue
            other = sets[y]
            inter = len(s & other)
            jac = inter / (size + len(other) - inter)
            if jac >= self.t:
                hits.append((y, jac))
        return hits

    def add(self, s: frozenset[str], prefix: list[str] | None = None) -> int:
        idx = len(self.sets)
        self.sets.append(s)
        size = len(s)
        for j, tok in enumerate(prefix if prefix is not None else self.prefix(s)):
            self.index.setdefault(tok, {}).setdefault((j, size), []).append(idx)
        return idx
