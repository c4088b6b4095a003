"""The rule table (stable ids and severities) and what every rule works on: a located record, a report."""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ERROR, WARNING, Finding
from ...schema import Record
from ...vocab import SPLITS

RULES: dict[str, tuple[str, str]] = {
    "schema": (ERROR, "the line is not valid JSON or not a valid record (schema.py)"),
    "tool-schema": (ERROR, "a tool schema in `tools` is not an OpenAI-style function schema with a valid JSON schema"),
    "unknown-tool": (ERROR, "a tool call names a tool that the record does not offer"),
    "bad-arguments": (ERROR, "tool-call arguments do not match the tool's JSON schema"),
    "role-order": (ERROR, "messages are not system? user (assistant|tool)* ... ending with an assistant turn"),
    "empty-message": (ERROR, "a user or assistant message has no content (and no tool calls)"),
    "unmatched-tool-call": (ERROR, "a tool call has no tool result after it (only a final call may stand alone)"),
    "unmatched-tool-result": (ERROR, "a tool result answers no call, or names another tool than its call"),
    "tool-result": (ERROR, "a result of one of our tools does not look like that tool's real output"),
    "label": (ERROR, "meta.label disagrees with the conversation (label tool <=> some assistant turn calls a tool)"),
    "duplicate-id": (ERROR, "two records share a meta.id"),
    "render": (ERROR, "the record does not render prefix-consistently through the model's chat template"),
    "mask": (ERROR, "supervised tokens are not exactly the assistant turns"),
    "too-long": (ERROR, "the rendered record is longer than max_seq_length tokens"),
    "duplicate": (ERROR, "same normalised user question, next to the same tools, as an earlier record"),
    "split-overlap": (ERROR, "the same (or a nearly identical) question is in two splits"),
    "bench-overlap": (ERROR, "the question is (nearly) a question of a held-out benchmark suite"),
    "bench-tool": (ERROR, "the record offers a tool that only held-out benchmark suites may offer"),
    "near-duplicate": (WARNING, "token-set Jaccard similarity >= threshold with an earlier record's question"),
    "ungrounded": (WARNING, "the final answer shares no name, path or number with the tool results"),
    "empty-tool-result": (WARNING, "a tool result is empty"),
    "bench-file": (WARNING, "a line of a benchmark suite has no question and was ignored"),
}



@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector during bulk work: loading 100k records builds millions of
    long-lived containers, and collections triggered by them traverse everything again and again
    (this more than halves load time). Reference counting still frees what is dropped."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class Located:
    """A record and where it came from (file and line, or a generator name and index)."""
    record: Record
    path: str | None = None
    line: int | None = None
    split: str | None = None


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    records: int = 0
    files: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    token_counts: dict[int, int] = field(default_factory=dict)  # index into the validated items -> tokens

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule for f in self.findings if f.rule is not None).items()))  # validator findings always name a rule

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "files": self.files, "errors": len(self.errors),
                "warnings": len(self.warnings), "by_rule": self.by_rule(), "checks": self.checks,
                "findings": [f.to_json() for f in self.findings]}


def add_finding(out: list[Finding], rule: str, message: str, item: Located) -> None:
    out.append(Finding(rule, message, item.path, item.line, item.record.meta.id, RULES[rule][0]))


def split_of(path: str | None) -> str | None:
    if not path:
        return None
    stem = Path(path).stem
    return stem if stem in SPLITS else None
