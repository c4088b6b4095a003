"""The validator: every rule fires on a record built to break it, and stays quiet on a good one."""

import json
import random
import subprocess
import sys
import time

import pytest

from mlx_distill.questions import question_tokens
from mlx_distill.data.validate import RULES, JaccardJoin, load_bench, validate_files, validate_records
from mlx_distill.prompting import DEFAULT_SYSTEM_PROMPT
from mlx_distill.schema import parse_record
from mlx_distill.tools import tool_schemas

SYSTEM = {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


def call(name, **args):
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}],
    }


def result(name, content):
    return {"role": "tool", "name": name, "content": content}


def rec(messages, *, id="r1", label=None, tools=None, category="search"):
    if label is None:
        label = "tool" if any(m.get("tool_calls") for m in messages) else "direct"
    return parse_record(
        {
            "messages": messages,
            "tools": tool_schemas() if tools is None else tools,
            "meta": {"id": id, "source": "test", "category": category, "label": label},
        }
    )


def good_tool(id="good", q="Where is main defined?"):
    return rec(
        [
            SYSTEM,
            {"role": "user", "content": q},
            call("grep", pattern="def main", path="src"),
            result("grep", "src/app.py:10:def main():"),
            {"role": "assistant", "content": "In `src/app.py`, line 10."},
        ],
        id=id,
    )


def good_direct(id="gd", q="What is a closure?"):
    return rec(
        [
            SYSTEM,
            {"role": "user", "content": q},
            {"role": "assistant", "content": "A function that keeps variables of its enclosing scope."},
        ],
        id=id,
    )


def rules(report):
    return sorted({f.rule for f in report.findings})


def check(*records, **kw):
    return validate_records(list(records), **kw)


def test_good_records_have_no_findings(tiny_tokenizer):
    r = check(good_tool(), good_direct(), tokenizer=tiny_tokenizer, max_seq_length=4096)
    assert r.findings == [] and r.ok and r.checks["rendered"] == 2 and len(r.token_counts) == 2


@pytest.mark.parametrize(
    "messages,label,expected",
    [
        # unknown tool
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("delete_everything"),
                result("delete_everything", "done"),
                {"role": "assistant", "content": "done"},
            ],
            "tool",
            "unknown-tool",
        ),
        # arguments not matching our tool schema
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("read_file", file="a.py"),
                result("read_file", "x"),
                {"role": "assistant", "content": "x"},
            ],
            "tool",
            "bad-arguments",
        ),
        # role order: starts with the assistant
        ([SYSTEM, {"role": "assistant", "content": "hi"}], "direct", "role-order"),
        # role order: ends with a user turn
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "more?"},
            ],
            "direct",
            "role-order",
        ),
        # role order: two user turns in a row
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "a"},
            ],
            "direct",
            "role-order",
        ),
        # empty assistant turn
        ([SYSTEM, {"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}], "direct", "empty-message"),
        # a call followed by the answer, with no result in between
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("grep", pattern="x"),
                {"role": "assistant", "content": "a"},
            ],
            "tool",
            "unmatched-tool-call",
        ),
        # a result nobody asked for
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "let me see"},
                result("grep", "a.py:1:x"),
                {"role": "assistant", "content": "a.py"},
            ],
            "direct",
            "unmatched-tool-result",
        ),
        # a result named after another tool than its call
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("grep", pattern="x"),
                result("read_file", "a.py:1:x"),
                {"role": "assistant", "content": "a.py"},
            ],
            "tool",
            "unmatched-tool-result",
        ),
        # grep output that grep cannot produce
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("grep", pattern="x"),
                result("grep", "found it in a.py"),
                {"role": "assistant", "content": "a.py"},
            ],
            "tool",
            "tool-result",
        ),
        # write_file reporting another length than the content's
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("write_file", path="n.md", content="hello\n"),
                result("write_file", "Created n.md (99 characters)"),
                {"role": "assistant", "content": "Created n.md."},
            ],
            "tool",
            "tool-result",
        ),
        # run_command output without its exit code line
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("run_command", command="pytest -q"),
                result("run_command", "3 passed"),
                {"role": "assistant", "content": "3 passed"},
            ],
            "tool",
            "tool-result",
        ),
        # label disagrees with the conversation
        ([SYSTEM, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "tool", "label"),
        # the answer ignores the tool result
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("grep", pattern="def main"),
                result("grep", "src/app.py:10:def main():"),
                {"role": "assistant", "content": "I think it is fine."},
            ],
            "tool",
            "ungrounded",
        ),
        # an empty tool result
        (
            [
                SYSTEM,
                {"role": "user", "content": "q"},
                call("grep", pattern="x"),
                result("grep", ""),
                {"role": "assistant", "content": "nothing"},
            ],
            "tool",
            "empty-tool-result",
        ),
    ],
)
def test_per_record_rules_fire(messages, label, expected):
    r = check(rec(messages, label=label))
    assert expected in rules(r), r.findings
    f = next(f for f in r.findings if f.rule == expected)
    assert f.record_id == "r1" and f.severity == RULES[expected][0]


def test_call_only_final_turn_is_allowed():
    r = check(rec([SYSTEM, {"role": "user", "content": "Weather in Oslo?"}, call("grep", pattern="Oslo")]))
    assert r.findings == []


def test_own_tool_schemas_are_checked_with_jsonschema():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    ok = rec([{"role": "user", "content": "q"}, call("get_weather", city="Oslo")], tools=tools)
    bad = rec([{"role": "user", "content": "q2"}, call("get_weather", town="Oslo")], id="r2", tools=tools)
    unknown = rec([{"role": "user", "content": "q3"}, call("grep", pattern="x")], id="r3", tools=tools)
    broken = rec(
        [{"role": "user", "content": "q4"}, call("get_weather", city="x")],
        id="r4",
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "banana"}}}],
    )
    r = check(ok, bad, unknown, broken)
    by = {(f.record_id, f.rule) for f in r.findings}
    assert ("r2", "bad-arguments") in by and ("r3", "unknown-tool") in by and ("r4", "tool-schema") in by
    assert not any(rid == "r1" for rid, _ in by)


def test_duplicates_near_duplicates_and_ids():
    recs = [
        good_direct("a", "What is a closure in Python?"),
        good_direct("b", "what is a CLOSURE in python"),  # same after normalisation
        good_direct("c", "What exactly is a closure in Python?"),  # near (Jaccard 6/7 < 0.9) -> not flagged
        good_direct("d", "What is a closure in Python, really?"),  # near: 6/7
        good_direct("a", "Something else entirely?"),
    ]  # duplicate id
    r = check(*recs, near_threshold=0.85)
    by = {(f.record_id, f.rule) for f in r.findings}
    assert ("b", "duplicate") in by and ("a", "duplicate-id") in by
    assert ("c", "near-duplicate") in by and ("d", "near-duplicate") in by
    assert ("a", "duplicate") not in by
    r = check(*recs[:1], recs[2], near_threshold=0.9)
    assert r.findings == []


def test_split_overlap_between_files(tmp_path):
    d = tmp_path / "mlx"
    d.mkdir()
    (d / "train.jsonl").write_text(json.dumps(good_direct("t1", "What is a closure?").to_json()) + "\n")
    (d / "valid.jsonl").write_text(json.dumps(good_direct("v1", "What is a generator?").to_json()) + "\n")
    (d / "test.jsonl").write_text(json.dumps(good_direct("x1", "what is a closure").to_json()) + "\n")
    r = validate_files([d])
    assert [(f.rule, f.record_id, f.path.endswith("test.jsonl"), f.line) for f in r.findings] == [
        ("split-overlap", "x1", True, 1)
    ]


def test_bench_overlap_exact_near_and_template(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "suite.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"id": "1", "question": "What is tail-call optimization?"}),
                json.dumps({"id": "2", "question": "How many lines does {path} have?"}),
                json.dumps({"messages": [{"role": "user", "content": "Explain the CQRS pattern in detail please."}]}),
                json.dumps({"id": "4", "note": "no question here"}),
            ]
        )
        + "\n"
    )
    recs = [
        good_direct("a", "what is tail call optimization"),
        good_tool("b", "How many lines does src/app.py have?"),
        good_direct("c", "Explain the CQRS pattern in detail, please!"),
        good_direct("d", "Explain the CQRS pattern in full detail please."),
        good_direct("e", "What is a closure?"),
    ]
    r = check(*recs, bench=[bench])
    by = {(f.record_id, f.rule) for f in r.findings}
    assert {("a", "bench-overlap"), ("b", "bench-overlap"), ("c", "bench-overlap"), ("d", "bench-overlap")} <= by
    assert not any(rid == "e" for rid, _ in by)
    assert any(f.rule == "bench-file" and f.line == 4 for f in r.findings)
    assert len(load_bench([bench])) == 3


def test_schema_findings_name_file_and_line(tmp_path):
    p = tmp_path / "recs.jsonl"
    p.write_text(
        json.dumps(good_direct().to_json()) + "\n{not json\n" + json.dumps({"messages": [], "meta": {"id": "x"}}) + "\n"
    )
    r = validate_files([p])
    assert [(f.rule, f.line) for f in r.findings] == [("schema", 2), ("schema", 3)]
    assert r.records == 3 and not r.ok


# ---- template rules -------------------------------------------------------------------------


def _with_template(tiny_model_dir, template):
    """A Hugging Face tokenizer (prompting accepts one as well as mlx-lm's wrapper) with another template."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    hf.chat_template = template
    return hf


def test_render_rule_when_the_template_fails_or_is_not_prefix_stable(tiny_model_dir):
    raising = _with_template(
        tiny_model_dir,
        "{% for m in messages %}{% if m['role'] == 'tool' %}"
        "{{ raise_exception('no tool role') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}",
    )
    r = check(good_tool(), tokenizer=raising)
    assert rules(r) == ["render"] and "no tool role" in r.findings[0].message
    unstable = _with_template(
        tiny_model_dir,
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}"
        "<|im_start|>bot\n{% endif %}",
    )
    r = check(good_direct(), tokenizer=unstable)
    assert rules(r) == ["render"] and "prefix" in r.findings[0].message


def test_mask_rule_when_assistant_text_is_not_supervised(tiny_model_dir):
    # a template that drops the assistant's text: what the trainer would supervise is not the answer
    dropping = _with_template(
        tiny_model_dir,
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}"
        "<|im_start|>assistant\n{% endif %}",
    )
    r = check(good_direct(), tokenizer=dropping)
    assert rules(r) == ["mask"] and "not inside its supervised span" in r.findings[0].message


def test_too_long(tiny_tokenizer):
    r = check(good_direct(), tokenizer=tiny_tokenizer, max_seq_length=50)
    assert rules(r) == ["too-long"] and "> max_seq_length 50" in r.findings[0].message
    assert check(good_direct(), tokenizer=tiny_tokenizer, max_seq_length=100000).findings == []


def test_render_sample_checks_a_subset(tiny_tokenizer):
    recs = [good_direct(f"d{i}", f"What is thing number {i}?") for i in range(6)]
    r = check(*recs, tokenizer=tiny_tokenizer, render_sample=2)
    assert r.checks["rendered"] == 2 and len(r.token_counts) == 2
    assert check(*recs).checks["skipped"] == ["render", "mask", "too-long"]


# ---- near-duplicate join ---------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.7, 0.8, 0.9])
def test_jaccard_join_matches_brute_force(t):
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(40)]
    sets = []
    for k in range(300):
        base = set(rng.sample(vocab, rng.randint(3, 12)))
        if rng.random() < 0.5:
            base.add(f"unique{k}")  # a name only this question has
        sets.append(frozenset(base))
        if rng.random() < 0.3:  # a near copy
            s = set(base)
            s.add(rng.choice(vocab))
            sets.append(frozenset(s))
    join = JaccardJoin(sets, t)
    found = set()
    for i, s in enumerate(sets):
        for j, _ in join.query(s):
            found.add((j, i))
        join.add(s)
    brute = {(j, i) for i in range(len(sets)) for j in range(i) if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= t}
    assert found == brute and brute


def test_near_duplicate_join_is_fast_on_many_templated_questions():
    # 50k questions from a few templates, differing in one name: an O(n^2) comparison would take hours
    rng = random.Random(0)
    templates = [
        "Where is {} defined in the package?",
        "Which module contains def {} and its helpers?",
        "What does {} return when the input list is empty?",
        "Find all references to {} in the code base.",
        "How many lines of the project mention {} at least once?",
    ]
    sets = [question_tokens(rng.choice(templates).format(f"name_{i}")) for i in range(50000)]
    sets += sets[:10]  # ten exact repeats: Jaccard 1
    t = time.perf_counter()
    join = JaccardJoin(sets, 0.9)
    found = 0
    for s in sets:
        pre = join.prefix(s)
        found += bool(join.query(s, pre))
        join.add(s, pre)
    assert time.perf_counter() - t < 8
    assert found == 10


def test_question_tokens_keep_paths_whole():
    assert question_tokens("Which modules does `src/a/__init__.py` use?") == {
        "which",
        "modules",
        "does",
        "src/a/__init__.py",
        "use",
    }


# ---- the command -------------------------------------------------------------------------------


def test_cli_validate_json_and_exit_status(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(good_tool().to_json()) + "\n" + json.dumps(good_direct().to_json()) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(rec([SYSTEM, {"role": "user", "content": "q"}, call("nope")], label="tool").to_json()) + "\n"
    )
    base = [sys.executable, "-c", "from mlx_distill.data.cli import data; data()", "validate", "--no-bench"]
    p = subprocess.run(base + [str(good), "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["ok"] and out["records"] == 2 and out["errors"] == 0
    p = subprocess.run(base + [str(bad), "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 1
    f = json.loads(p.stdout)["findings"][0]
    assert (f["rule"], f["line"], f["record_id"]) == ("unknown-tool", 1, "r1") and f["path"].endswith("bad.jsonl")
    p = subprocess.run(base + [str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 1 and "unknown-tool" in p.stdout and "FAILED" in p.stdout


def test_a_real_grep_result_whose_path_holds_colon_number_colon_is_accepted(tmp_path):
    """The validator checks the data `tools.read_result` reads back, not a first-colon regex: a real
    result on `v:7:x/mod.py` (which a split at the first ':7:' would call path 'v', outside the glob)
    validates clean."""
    from mlx_distill.tools import Workspace

    (tmp_path / "v:7:x").mkdir()
    (tmp_path / "v:7:x" / "mod.py").write_text("a = 1\ndef helper():\n    pass\n")
    out = Workspace(tmp_path).call("grep", {"pattern": "def helper", "glob": "*.py"})
    assert out == "v:7:x/mod.py:2:def helper():"
    r = rec(
        [
            SYSTEM,
            {"role": "user", "content": "Where is helper defined?"},
            call("grep", pattern="def helper", glob="*.py"),
            result("grep", out),
            {"role": "assistant", "content": "In `v:7:x/mod.py`, line 2."},
        ]
    )
    assert check(r).findings == []
    wrong = rec(
        [
            SYSTEM,
            {"role": "user", "content": "Where is helper defined?"},
            call("grep", pattern="def helper", glob="*.md"),
            result("grep", out),
            {"role": "assistant", "content": "In `v:7:x/mod.py`, line 2."},
        ]
    )
    assert [f.message for f in check(wrong).findings] == [
        "message 3 (grep): grep matched 'v', which does not match glob '*.md'"
    ]


def test_one_finding_type_raised_as_an_input_error_keeps_its_severity():
    from mlx_distill.errors import WARNING, Finding, InputError

    f = Finding("bench-file", "no question field", "suite.jsonl", 3, "r9", WARNING)
    e = f.error()
    assert isinstance(e, InputError) and e.finding == f and e.severity == WARNING
    assert str(e) == "suite.jsonl:3 record r9 [bench-file]: no question field"
    assert str(f) == "suite.jsonl:3 record r9: warning [bench-file] no question field"
    raised = InputError("bad line", path="a.jsonl", line=2, rule="schema")
    assert (raised.message, raised.path, raised.line, raised.rule, raised.severity) == (
        "bad line",
        "a.jsonl",
        2,
        "schema",
        "error",
    )
