"""Corpus rules: duplicate-id, duplicate, near-duplicate, split-overlap, bench-overlap and bench-tool."""

from __future__ import annotations

import re
from typing import Sequence

from ...schema import Record
from ...questions import normalize_question, question_tokens
from ...progress import track
from .held_out import BenchQuestion
from .near import JaccardJoin
from .rules import Finding, Located, add_finding, split_of


_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_SENTINEL = "zzslotzz"


def _bench_templates(bench: Sequence[BenchQuestion]) -> list[tuple[frozenset[str], re.Pattern[str], BenchQuestion]]:
    """Benchmark questions with {placeholders} (filled in at benchmark time) as regexes over normalised text:
    a training question that is the same sentence with some value in each slot is an overlap."""
    out = []
    for b in bench:
        if not _PLACEHOLDER.search(b.question):
            continue
        norm = normalize_question(_PLACEHOLDER.sub(f" {_SENTINEL} ", b.question))
        parts = [re.escape(p) for p in norm.split(_SENTINEL)]
        rx = re.compile(r"\S+(?: \S+){0,5}".join(parts))
        lit = frozenset(t for t in norm.split() if t != _SENTINEL)
        out.append((lit, rx, b))
    return out


def _toolset_key(record: Record) -> str:
    """'' for the agent's own tools (or none); else the sorted names of the tools offered."""
    from ...tools import TOOL_NAMES

    names = sorted({t.get("function", {}).get("name") or "" for t in record.tools if isinstance(t, dict)})
    return "" if set(names) <= set(TOOL_NAMES) else "\x00tools:" + ",".join(names)


def corpus_findings(items: Sequence[Located], bench: Sequence[BenchQuestion] = (), *, near_threshold: float = 0.9,
                    bench_threshold: float = 0.8, progress: bool = False) -> list[Finding]:
    """duplicate-id, duplicate, near-duplicate, split-overlap, bench-overlap and bench-tool (later
    records are flagged)."""
    out: list[Finding] = []
    ids: dict[str, Located] = {}
    for it in items:
        rid = it.record.meta.id
        if rid in ids:
            first = ids[rid]
            add_finding(out, "duplicate-id", f"meta.id {rid!r} is also used at {first.path}:{first.line}", it)
        else:
            ids[rid] = it

    bench_tools: dict[str, BenchQuestion] = {}
    for b in bench:
        for name in b.tools:
            bench_tools.setdefault(name, b)
    if bench_tools:
        for it in items:
            offered = {t.get("function", {}).get("name") for t in it.record.tools if isinstance(t, dict)}
            for name in sorted(n for n in offered if n in bench_tools):
                b = bench_tools[name]
                add_finding(out, "bench-tool", f"offers {name!r}, a tool of the held-out case at {b.path}:{b.line}", it)

    questions = [it.record.user_text() for it in items]
    norms = [normalize_question(q) for q in questions]
    toks = [question_tokens(q) for q in questions]
    # The same question next to another tool set is another example (relevance pairs teach exactly
    # that): duplicates and near-duplicates are counted within one tool set. The agent's own tools
    # form one set, so records that offer them compare as before.
    sets = [_toolset_key(it.record) for it in items]
    near_toks = [t | {sig} if sig else t for t, sig in zip(toks, sets)]
    bench_norm: dict[str, BenchQuestion] = {}
    for b in bench:
        bench_norm.setdefault(normalize_question(b.question), b)
    bench_toks = [question_tokens(b.question) for b in bench]

    # exact
    first_by_norm: dict[tuple[str, str], int] = {}
    distinct: list[int] = []
    for i, (it, nq) in enumerate(zip(items, norms)):
        if not nq:
            continue
        same = bench_norm.get(nq)
        if same is not None:
            add_finding(out, "bench-overlap", f"question is identical to {same.path}:{same.line}", it)
        j = first_by_norm.get((nq, sets[i]))
        if j is None:
            first_by_norm[(nq, sets[i])] = i
            distinct.append(i)
            continue
        other = items[j]
        s1, s2 = it.split or split_of(it.path), other.split or split_of(other.path)
        rule = "split-overlap" if s1 and s2 and s1 != s2 else "duplicate"
        where = f" ({s2} vs {s1})" if rule == "split-overlap" else ""
        add_finding(out, rule, f"same question as record {other.record.meta.id} at {other.path}:{other.line}{where}", it)

    # near: a self-join over distinct questions (each probes the ones before it, then joins them)
    join = JaccardJoin([near_toks[i] for i in distinct], near_threshold)
    pos_to_item: list[int] = []
    for i in track(distinct, "near-duplicates", enabled=progress):
        pre = join.prefix(near_toks[i])
        for p, jac in join.query(near_toks[i], pre):
            j = pos_to_item[p]
            it, other = items[i], items[j]
            s1, s2 = it.split or split_of(it.path), other.split or split_of(other.path)
            if s1 and s2 and s1 != s2:
                add_finding(out, "split-overlap", f"question nearly identical (Jaccard {jac:.2f}) to record "
                                           f"{other.record.meta.id} at {other.path}:{other.line} ({s2} vs {s1})", it)
            else:
                add_finding(out, "near-duplicate", f"question nearly identical (Jaccard {jac:.2f}) to record "
                                            f"{other.record.meta.id} at {other.path}:{other.line}", it)
            break
        join.add(near_toks[i], pre)
        pos_to_item.append(i)
    templates = _bench_templates(bench)
    matched: set[int] = set()
    if templates:
        for i in distinct:
            if norms[i] in bench_norm:
                continue
            toks_i = toks[i]
            for lit, rx, b in templates:
                if lit <= toks_i and rx.fullmatch(norms[i]):
                    add_finding(out, "bench-overlap", f"question is an instance of the benchmark template {b.question!r} "
                                               f"({b.path}:{b.line})", items[i])
                    matched.add(i)
                    break
    if bench:
        # index the training questions and probe with the (few) benchmark questions
        cand = [i for i in distinct if norms[i] not in bench_norm and i not in matched]
        bjoin = JaccardJoin(bench_toks + [toks[i] for i in cand], bench_threshold)
        for i in cand:
            bjoin.add(toks[i])
        best: dict[int, tuple[float, int]] = {}
        for k, s in enumerate(bench_toks):
            for p, jac in bjoin.query(s):
                if p not in best or jac > best[p][0]:
                    best[p] = (jac, k)
        for p in sorted(best):
            jac, k = best[p]
            b = bench[k]
            add_finding(out, "bench-overlap", f"question nearly identical (Jaccard {jac:.2f}) to {b.path}:{b.line}",
                 items[cand[p]])
    return out
