"""Balancing to a label ratio (tool:direct = 2:1 by default) with per-category caps, and the stable split.

Both are deterministic and depend only on record content (Record.content_hash) and the seed:
- balance keeps the preferred sources (hand-authored) first, then takes records round-robin across
  categories in a seeded hash order, so downsampling keeps every category represented;
- split assigns each record by a hash of its content alone, so adding records never moves an existing
  record to another split (and the seed does not matter to it).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence, TypeVar

from ..schema import Record
from .common import unit_hash

T = TypeVar("T")
SPLITS = ("train", "valid", "test")


def _rec(x: object) -> Record:
    return x if isinstance(x, Record) else x.record  # type: ignore[attr-defined,return-value]


@dataclass
class BalanceReport:
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)  # category -> records dropped by its cap

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after, "targets": self.targets, "capped": self.capped}


def balance(items: Sequence[T], *, ratio: Mapping[str, float] | None = None, max_per_category: int | None = None,
            category_caps: Mapping[str, int] | None = None, total: int | None = None,
            keep_sources: Iterable[str] = ("hand_authored",), other_labels: str = "keep",
            seed: int = 0, hash_of: Callable[[T], str] | None = None) -> tuple[list[T], BalanceReport]:
    """Records (or anything with `.record`) downsampled to `ratio` between labels; input order is kept.
    hash_of: the content hash of an item, when the caller already has it."""
    ratio = dict(ratio or {"tool": 2.0, "direct": 1.0})
    caps = dict(category_caps or {})
    keep = set(keep_sources)
    report = BalanceReport(before=dict(Counter(_rec(x).meta.label for x in items)))

    hashes = [hash_of(x) if hash_of else _rec(x).content_hash() for x in items]
    keys = [(0 if _rec(x).meta.source in keep else 1, unit_hash(seed, h)) for x, h in zip(items, hashes)]

    def key(i: int) -> tuple[int, float]:
        return keys[i]

    # category caps
    by_cat: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, x in enumerate(items):
        r = _rec(x)
        by_cat[(r.meta.label, r.meta.category)].append(i)
    alive: list[int] = []
    for (label, cat), idx in by_cat.items():
        cap = caps.get(cat, max_per_category)
        idx = sorted(idx, key=key)
        if cap is not None and len(idx) > cap:
            report.capped[cat] = report.capped.get(cat, 0) + len(idx) - cap
            idx = idx[:cap]
        alive.extend(idx)

    # label targets: the largest multiple of the ratio that the counts allow (and `total`)
    counts = Counter(_rec(items[i]).meta.label for i in alive)
    scale = min(counts.get(lab, 0) / w for lab, w in ratio.items())
    if total is not None:
        scale = min(scale, total / sum(ratio.values()))
    targets = {lab: int(math.floor(scale * w + 1e-9)) for lab, w in ratio.items()}
    report.targets = targets

    chosen: set[int] = set()
    for lab, target in targets.items():
        idx = [i for i in alive if _rec(items[i]).meta.label == lab]
        chosen.update(_round_robin(idx, target, items, key))
    if other_labels == "keep":
        chosen.update(i for i in alive if _rec(items[i]).meta.label not in ratio)
    kept = [items[i] for i in sorted(chosen)]
    report.after = dict(Counter(_rec(x).meta.label for x in kept))
    return kept, report


def _round_robin(idx: list[int], target: int, items: Sequence[T], key) -> list[int]:
    """Preferred records first; then one per category in turn, each category in hash order."""
    if target >= len(idx):
        return idx
    ordered = sorted(idx, key=key)
    preferred = [i for i in ordered if key(i)[0] == 0]
    if len(preferred) >= target:
        return preferred[:target]
    picked = list(preferred)
    queues: dict[str, list[int]] = defaultdict(list)
    for i in ordered:
        if key(i)[0] != 0:
            queues[_rec(items[i]).meta.category].append(i)
    # categories the preferred records already fill go last in the rotation
    have = Counter(_rec(items[i]).meta.category for i in picked)
    cats = sorted(queues, key=lambda c: (have.get(c, 0), c))
    pos = {c: 0 for c in cats}
    while len(picked) < target:
        progressed = False
        for c in cats:
            if len(picked) >= target:
                break
            if pos[c] < len(queues[c]):
                picked.append(queues[c][pos[c]])
                pos[c] += 1
                progressed = True
        if not progressed:
            break
    return picked


def assign_split(content_hash: str, *, valid: float = 0.1, test: float = 0.1, salt: str = "") -> str:
    """train / valid / test from the record's content alone (stable as data is added)."""
    h = unit_hash("split", salt, content_hash)
    if h < test:
        return "test"
    if h < test + valid:
        return "valid"
    return "train"


def split(items: Iterable[T], *, valid: float = 0.1, test: float = 0.1, salt: str = "",
          hash_of: Callable[[T], str] | None = None) -> dict[str, list[T]]:
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    for x in items:
        h = hash_of(x) if hash_of else _rec(x).content_hash()
        out[assign_split(h, valid=valid, test=test, salt=salt)].append(x)
    return out
