"""The data validator: every rule has a stable id, every finding names file, line, record id and rule.

Rules (severity): see RULES below and docs/data.md. Per-record rules run on each record on its own;
corpus rules (duplicate, near-duplicate, split-overlap, bench-overlap, duplicate-id) compare records
with each other and with the held-out benchmark suites. Template rules (render, mask, too-long) need
a tokenizer; at large scale they can be sampled (`render_sample`) or skipped.

Near duplicates are found with an exact token-set Jaccard join using prefix filtering (AllPairs):
tokens are ordered rarest first, each question is indexed only under its first few tokens, and only
questions sharing one of those are compared, so 100k questions take seconds, not O(n^2).

One concern per module: `rules` (the rule table, Located, Report), `schemas` (arguments against
JSON schemas), `tool_output` (results of our tools), `grounding`, `record` (per-record rules),
`template` (render, mask, too-long), `held_out` (the benchmark questions training data must not overlap), `near` (the Jaccard join),
`corpus` (rules across records), `loader` (JSONL files), `validator` (the entry points).
"""

from ...errors import ERROR, WARNING, Finding
from .held_out import BenchQuestion, load_bench
from .corpus import corpus_findings
from .grounding import grounded
from .loader import load_located
from .near import JaccardJoin
from .record import check_record
from .rules import RULES, SPLITS, Located, Report, no_gc
from .schemas import PATTERN_BUDGET_S, SchemaCache
from .template import check_rendering
from .tool_output import tool_result_problem
from .validator import validate_files, validate_records


__all__ = ["ERROR", "PATTERN_BUDGET_S", "RULES", "SPLITS", "WARNING", "BenchQuestion", "Finding", "JaccardJoin", "Located",
           "Report", "SchemaCache", "check_record", "check_rendering", "corpus_findings", "grounded", "load_bench",
           "load_located", "no_gc", "tool_result_problem", "validate_files", "validate_records"]
