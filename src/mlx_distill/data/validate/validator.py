"""The entry points: every rule over records or files, into one Report."""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

from ...errors import InputError
from ...schema import Record
from ..ids import unit_hash
from ...progress import track
from .held_out import BenchQuestion, load_bench
from .corpus import corpus_findings
from .loader import load_located
from .record import check_record
from .rules import Finding, Located, Report, no_gc
from .schemas import SchemaCache
from .template import check_rendering


def validate_records(records: Iterable[Record | Located], *, tokenizer: Any = None, max_seq_length: int | None = None,
                     bench: Sequence[BenchQuestion] | Iterable[str | os.PathLike] | None = None,
                     near_threshold: float = 0.9, bench_threshold: float = 0.8, render_sample: int | None = None,
                     seed: int = 0, progress: bool = False, findings: Iterable[Finding] = ()) -> Report:
    """Run every rule on records (Record or Located) and return a Report.

    tokenizer: enables render/mask/too-long (and token counts). render_sample: check only that many
    records (chosen by a seeded hash) with the template, for very large sets. bench: BenchQuestions,
    or paths of benchmark suites (files or directories of JSONL)."""
    with no_gc():
        return _validate(records, tokenizer=tokenizer, max_seq_length=max_seq_length, bench=bench,
                         near_threshold=near_threshold, bench_threshold=bench_threshold, render_sample=render_sample,
                         seed=seed, progress=progress, findings=findings)


def _validate(records: Iterable[Record | Located], *, tokenizer: Any, max_seq_length: int | None,
              bench: Sequence[BenchQuestion] | Iterable[str | os.PathLike] | None, near_threshold: float,
              bench_threshold: float, render_sample: int | None, seed: int, progress: bool,
              findings: Iterable[Finding]) -> Report:
    items = [r if isinstance(r, Located) else Located(r, None, None) for r in records]
    report = Report(findings=list(findings), records=len(items))
    bench_qs: list[BenchQuestion] = []
    if bench:
        given: list[Any] = list(bench)  # all BenchQuestions or all paths
        if all(isinstance(b, BenchQuestion) for b in given):
            bench_qs = given
        else:
            bench_qs = load_bench(given, report.findings)
    schemas = SchemaCache()
    for it in track(items, "checking records", enabled=progress):
        report.findings.extend(check_record(it, schemas))

    checked_render = 0
    if tokenizer is not None:
        chosen: Sequence[int] = range(len(items))
        if render_sample is not None and render_sample < len(items):
            order = sorted(range(len(items)), key=lambda i: unit_hash(seed, items[i].record.content_hash()))
            chosen = sorted(order[:render_sample])
        for i in track(list(chosen), "rendering", enabled=progress):
            found, ntok = check_rendering(items[i], tokenizer, max_seq_length)
            report.findings.extend(found)
            checked_render += 1
            if ntok is not None:
                report.token_counts[i] = ntok
    report.findings.extend(corpus_findings(items, bench_qs, near_threshold=near_threshold,
                                           bench_threshold=bench_threshold, progress=progress))
    report.checks = {"template": tokenizer is not None, "rendered": checked_render,
                     "max_seq_length": max_seq_length if tokenizer is not None else None,
                     "bench_questions": len(bench_qs), "near_threshold": near_threshold,
                     "bench_threshold": bench_threshold}
    if tokenizer is None:
        report.checks["skipped"] = ["render", "mask", "too-long"]
    report.findings.sort(key=lambda f: (f.path or "", f.line or 0, f.rule))
    return report


def validate_files(paths: Iterable[str | os.PathLike], **kwargs: Any) -> Report:
    """Validate JSONL record files; files named train/valid/test.jsonl are checked for split overlap."""
    paths = list(paths)
    items, findings, files = load_located(paths)
    if not files:
        raise InputError("no .jsonl record files here (nothing to validate)", path=", ".join(map(str, paths)), rule="empty")
    report = validate_records(items, findings=findings, **kwargs)
    report.files = files
    report.records = len(items) + len(findings)
    return report
