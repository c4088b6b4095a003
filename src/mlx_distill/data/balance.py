"""Balancing to a label ratio (tool:direct = 2:1 by default, or all four classes) with per-category
caps and, within each label, a ratio of tool-set kinds (the agent's workspace tools vs other tool
sets); and the stable split.

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
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ..schema import Record
from ..vocab import SPLITS
from .ids import unit_hash

T = TypeVar("T")


def _rec(x: object) -> Record:
    return x if isinstance(x, Record) else x.record  # type: ignore[attr-defined,return-value]


def toolset_kind(record: Record) -> str:
    """`workspace` when the record offers only the agent's own tools, `none` when it offers none,
    else `other` (tool sets the agent never offers: catalogues, converted public data)."""
    from ..tools import TOOL_NAMES

    names = {t.get("function", {}).get("name") for t in record.tools if isinstance(t, dict)}
    if not names:
        return "none"
    return "workspace" if names <= set(TOOL_NAMES) else "other"


@dataclass
class BalanceReport:
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    targets: dict[str, int] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)  # category -> records dropped by its cap
    toolsets_before: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> toolset kind -> n
    toolsets_after: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"before": self.before, "after": self.after, "targets": self.targets, "capped": self.capped,
                "toolsets_before": self.toolsets_before, "toolsets_after": self.toolsets_after}


def _toolset_counts(records: Iterable[Record]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        out[r.meta.label][toolset_kind(r)] += 1
    return {lab: dict(sorted(c.items())) for lab, c in sorted(out.items())}


def balance(items: Sequence[T], *, ratio: Mapping[str, float] | None = None, max_per_category: int | None = None,
            category_caps: Mapping[str, int] | None = None, total: int | None = None,
            keep_sources: Iterable[str] = ("hand_authored",), other_labels: str = "keep",
            toolsets: Mapping[Any, float] | None = None,  # toolset kind -> weight
            seed: int = 0, hash_of: Callable[[T], str] | None = None) -> tuple[list[T], BalanceReport]:
    """Records (or anything with `.record`) downsampled to `ratio` between labels; input order is kept.
    toolsets: within each label, the ratio between tool-set kinds (`toolset_kind`), as far as the
    records allow (a kind short of records leaves its share to the others).
    hash_of: the content hash of an item, when the caller already has it."""
    ratio = dict(ratio or {"tool": 2.0, "direct": 1.0})
    caps = dict(category_caps or {})
    keep = set(keep_sources)
    report = BalanceReport(before=dict(Counter(_rec(x).meta.label for x in items)),
                           toolsets_before=_toolset_counts(_rec(x) for x in items))

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
    counts: Counter[str] = Counter(_rec(items[i]).meta.label for i in alive)
    scale = min(counts.get(lab, 0) / w for lab, w in ratio.items())
    if total is not None:
        scale = min(scale, total / sum(ratio.values()))
    targets = {lab: int(math.floor(scale * w + 1e-9)) for lab, w in ratio.items()}
    report.targets = targets

    chosen: set[int] = set()
    for lab, target in targets.items():
        idx = [i for i in alive if _rec(items[i]).meta.label == lab]
        if not toolsets:
            chosen.update(_round_robin(idx, target, items, key))
            continue
        by_kind: dict[str, list[int]] = defaultdict(list)
        for i in idx:
            by_kind[toolset_kind(_rec(items[i]))].append(i)
        for kind, n in _shares(target, {k: len(v) for k, v in by_kind.items()}, toolsets).items():
            chosen.update(_round_robin(by_kind[kind], n, items, key))
    if other_labels == "keep":
        chosen.update(i for i in alive if _rec(items[i]).meta.label not in ratio)
    kept = [items[i] for i in sorted(chosen)]
    report.after = dict(Counter(_rec(x).meta.label for x in kept))
    report.toolsets_after = _toolset_counts(_rec(x) for x in kept)
    return kept, report


def _shares(target: int, available: Mapping[str, int], weights: Mapping[str, float]) -> dict[str, int]:
    """Split `target` over kinds by `weights` (largest remainders), capped by what is available; a
    kind short of records leaves the rest to the others. Kinds without a weight get none while a
    weighted kind has records."""
    kinds = [k for k in available if weights.get(k, 0) > 0] or list(available)
    out = {k: 0 for k in kinds}
    left = min(target, sum(available[k] for k in kinds))
    while left > 0:
        open_ = [k for k in kinds if out[k] < available[k]]
        total_w = sum(weights.get(k, 1.0) for k in open_)
        exact = {k: left * weights.get(k, 1.0) / total_w for k in open_}
        give = {k: int(exact[k]) for k in open_}
        for k in sorted(open_, key=lambda k: (give[k] - exact[k], k))[:left - sum(give.values())]:
            give[k] += 1
        for k in open_:
            n = min(give[k], available[k] - out[k])
            out[k] += n
            left -= n
    return out


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
