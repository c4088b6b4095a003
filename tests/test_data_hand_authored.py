"""The shipped hand-authored examples, and the loader's checks."""

from pathlib import Path

import pytest

from mlx_distill.vocab import DIRECT_CATEGORIES
from mlx_distill.data.sources.hand_authored import coverage, load_hand_authored
from mlx_distill.data.validate import validate_records
from mlx_distill.errors import InputError
from mlx_distill.tools import TOOL_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "hand_authored"


@pytest.fixture(scope="module")
def shipped():
    return load_hand_authored([SHIPPED])


def test_shipped_set_covers_every_tool_and_direct_category(shipped):
    recs = [it.record for it in shipped]
    assert len(recs) >= 40
    cov = coverage(recs)
    assert all(cov["tools"][t] for t in TOOL_NAMES)
    assert all(cov["direct_categories"][c] >= 5 for c in DIRECT_CATEGORIES)
    assert {r.meta.source for r in recs} == {"hand_authored"}
    assert {r.meta.label for r in recs} == {"tool", "direct"}
    assert all(it.path.startswith(str(SHIPPED)) and it.line for it in shipped)


def test_shipped_set_passes_the_validator_with_the_template_and_the_benchmark(shipped, tiny_tokenizer):
    bench = [ROOT / "data" / "bench"] if (ROOT / "data" / "bench").exists() else []
    report = validate_records(shipped, tokenizer=tiny_tokenizer, max_seq_length=4096, bench=bench)
    assert report.errors == [], [str(f) for f in report.errors[:5]]
    assert not [f for f in report.warnings if f.rule != "bench-file"]


def test_tool_examples_answer_from_their_results(shipped):
    for it in shipped:
        r = it.record
        if r.meta.label != "tool":
            continue
        results = [m.content for m in r.messages if m.role == "tool"]
        assert results and all(x.strip() for x in results), r.id
        assert r.messages[-1].role == "assistant" and r.messages[-1].content and not r.messages[-1].tool_calls


def write(tmp_path, text, name="ex.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_loader_reports_file_line_and_rule(tmp_path):
    p = write(
        tmp_path,
        """
- id: ok-1
  category: concept
  question: What is a closure?
  answer: A function that captures variables from its enclosing scope.
- id: bad-write
  category: write
  question: Create notes.md
  steps:
    - tool: write_file
      arguments: {path: notes.md, content: "hi\\n"}
      result: Created notes.md (10 characters)
  answer: Created notes.md.
""",
    )
    with pytest.raises(InputError) as e:
        load_hand_authored([p])
    assert e.value.line == 6 and e.value.rule == "tool-result" and e.value.record_id == "bad-write"
    assert "3" in e.value.message and str(p) in str(e.value)
    errors = []
    assert [it.record.id for it in load_hand_authored([p], errors=errors)] == ["ok-1"] and len(errors) == 1


@pytest.mark.parametrize(
    "body,rule",
    [
        ("- category: search\n  question: q\n  answer: a\n  colour: blue\n", "schema"),
        (
            "- category: search\n  question: q\n  steps:\n    - tool: rm_rf\n      arguments: {}\n      result: ok\n"
            "  answer: ok\n",
            "unknown-tool",
        ),
        (
            "- category: search\n  question: q\n  steps:\n    - tool: grep\n      arguments: {regex: x}\n"
            "      result: No matches.\n  answer: No matches.\n",
            "bad-arguments",
        ),
        ("- category: search\n  question: q\n  answer: [oops\n", "yaml"),
        (
            "- category: search\n  question: q\n  steps:\n    - tool: grep\n      arguments: {1: x}\n"
            "      result: No matches.\n  answer: No matches.\n",
            "bad-arguments",
        ),
    ],
)
def test_loader_rejects(tmp_path, body, rule):
    with pytest.raises(InputError) as e:
        load_hand_authored([write(tmp_path, body)])
    assert e.value.rule == rule and e.value.line


def test_jsonl_records_and_parallel_steps(tmp_path):
    import json

    compact = {
        "category": "read",
        "question": "Which two files?",
        "steps": [
            {
                "parallel": [
                    {"tool": "list_files", "arguments": {"path": "a"}, "result": "a/x.py"},
                    {"tool": "list_files", "arguments": {"path": "b"}, "result": "b/y.py"},
                ]
            }
        ],
        "answer": "a/x.py and b/y.py.",
    }
    full = {
        "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}],
        "meta": {"id": "f1", "source": "elsewhere", "category": "concept", "label": "direct"},
    }
    p = write(tmp_path, json.dumps(compact) + "\n" + json.dumps(full) + "\n", "ex.jsonl")
    a, b = [it.record for it in load_hand_authored([p])]
    assert len(a.messages[2].tool_calls) == 2 and [m.role for m in a.messages[3:5]] == ["tool", "tool"]
    assert a.meta.label == "tool" and a.meta.id.startswith("ha-")
    assert b.meta.source == "hand_authored" and b.meta.id == "f1"
