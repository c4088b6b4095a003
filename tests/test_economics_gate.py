"""The quality gate on real record files, replayed through the real agent and the benchmark runner: a
student that copies the teacher's decisions (with differently written but equivalent arguments)
passes; one that always calls a tool, one that never does, and one that calls the wrong tool fail on
the same data; the CLI writes its report and exits 1 on a fail."""

import json

import pytest
from click.testing import CliRunner
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mlx_distill.bench.runner import ModelSpec, RunConfig
from mlx_distill.cli import main
from mlx_distill.economics.gate import equivalent_arguments, load_against, normalize_arguments, run_gate
from mlx_distill.schema import parse_record, save_records
from mlx_distill.tools import tool_schemas

SYSTEM = "You are a coding assistant with workspace tools."
TOOL_CASES = [
    ("Which files import svcs?", "grep", {"pattern": "import svcs", "path": "."}, "src/app.py:3:import svcs"),
    (
        "Show me the first ten lines of src/app.py.",
        "read_file",
        {"path": "src/app.py", "start_line": 1, "end_line": 10},
        "import os\n",
    ),
    ("What is in the README?", "read_file", {"path": "README.md"}, "# demo\n"),
    ("Run the test suite and tell me if it passes.", "run_command", {"command": "pytest -q"}, "exit code 0\n3 passed"),
]
DIRECT_CASES = [
    "What is a mutex?",
    "Explain big-O notation briefly.",
    "What does git rebase do?",
    "What is the difference between a list and a tuple in Python?",
]
# How the good student writes the same calls: other spellings the schema says are equal.
GOOD_SPELLING = {
    "Which files import svcs?": ("grep", {"pattern": " import svcs", "path": "./"}),
    "Show me the first ten lines of src/app.py.": (
        "read_file",
        {"path": "./src/app.py", "start_line": "1", "end_line": 10.0},
    ),
    "What is in the README?": ("read_file", {"path": "README.md"}),
    "Run the test suite and tell me if it passes.": ("run_command", {"command": "pytest -q"}),
}


def teacher_records() -> list:
    tools = tool_schemas()
    out = []
    for i, (q, name, args, result) in enumerate(TOOL_CASES):
        out.append(
            parse_record(
                {
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": q},
                        {
                            "role": "assistant",
                            "content": "",
                            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}],
                        },
                        {"role": "tool", "name": name, "content": result},
                        {"role": "assistant", "content": f"Done: {result.splitlines()[0]}"},
                    ],
                    "tools": tools,
                    "meta": {"id": f"t{i}", "source": "teacher", "category": "read", "label": "tool"},
                }
            )
        )
    for i, q in enumerate(DIRECT_CASES):
        out.append(
            parse_record(
                {
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": q},
                        {"role": "assistant", "content": "A short, direct answer."},
                    ],
                    "tools": tools,
                    "meta": {"id": f"d{i}", "source": "teacher", "category": "concept", "label": "direct"},
                }
            )
        )
    return out


@pytest.fixture
def records_file(tmp_path):
    return save_records(tmp_path / "heldout.jsonl", teacher_records())


def _question(messages) -> str:
    return next(p.content for m in messages for p in m.parts if isinstance(p, UserPromptPart))


def good(messages, info: AgentInfo) -> ModelResponse:
    call = GOOD_SPELLING.get(_question(messages))
    if call:
        return ModelResponse(parts=[ToolCallPart(*call)])
    return ModelResponse(parts=[TextPart("A mutex is a lock that lets one thread at a time in.")])


def always_tool(messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart("read_file", {"path": "README.md"})])


def never_tool(messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("I think the answer is 42.")])


def wrong_tool(messages, info: AgentInfo) -> ModelResponse:
    if GOOD_SPELLING.get(_question(messages)):
        return ModelResponse(parts=[ToolCallPart("list_files", {})])
    return never_tool(messages, info)


def always_list(messages, info: AgentInfo) -> ModelResponse:
    """Lists the files, then says so: runs to the end with the real tools in a suite's workspace."""
    if any(p.part_kind == "tool-return" for m in messages for p in m.parts):
        return ModelResponse(parts=[TextPart("I listed the files.")])
    return ModelResponse(parts=[ToolCallPart("list_files", {})])


def _gate(fn, records_file, label):
    return run_gate(ModelSpec(FunctionModel(fn), label=label), load_against(records_file), config=RunConfig())


def test_a_student_that_agrees_with_the_teacher_passes(records_file):
    result = _gate(good, records_file, "good")
    assert result.passed, result.reasons
    assert result.agreement["balanced_accuracy"] == 1.0
    assert result.agreement["majority_baseline"] == 0.5
    assert all(c["agrees"] for c in result.cases)


@pytest.mark.parametrize("fn,label", [(always_tool, "always-tool"), (never_tool, "never-tool")])
def test_always_tool_and_never_tool_students_fail_on_the_same_data(records_file, fn, label):
    result = _gate(fn, records_file, label)
    assert not result.passed
    assert result.agreement["balanced_accuracy"] <= 0.5
    recalls = {k: v["recall"] for k, v in result.agreement["per_class"].items() if v["support"]}
    assert sorted(recalls.values())[0] == 0.0  # one whole class is missed
    assert any("below the threshold" in r for r in result.reasons)


def test_right_decision_with_the_wrong_call_is_not_agreement(records_file):
    result = _gate(wrong_tool, records_file, "wrong-tool")
    assert not result.passed
    assert result.decision["decision_accuracy"] == 1.0  # call-vs-answer alone would look perfect
    assert result.agreement["per_class"]["tool"]["recall"] == 0.0
    assert {c["why"].split()[0] for c in result.cases if c["reference"] == "tool"} == {"called"}


def test_arguments_are_compared_after_schema_normalisation():
    schema = tool_schemas(["read_file"])[0]["function"]["parameters"]
    assert normalize_arguments({"path": "./src//app.py", "start_line": "3"}, schema) == {
        "path": "src/app.py",
        "start_line": 3,
    }
    assert equivalent_arguments({"path": "src/app.py"}, {"path": "src/app.py/"}, schema)
    assert not equivalent_arguments({"path": "src/app.py"}, {"path": "src/main.py"}, schema)
    with_default = {"properties": {"n": {"type": "integer", "default": 5}}}
    assert equivalent_arguments({"n": 5}, {}, with_default) and not equivalent_arguments({"n": 6}, {}, with_default)


def test_gate_against_a_suite_uses_its_labels(tmp_path):
    against = load_against("discrimination", limit=4)
    assert sorted(c.label for c in against.suite.cases) == ["direct", "direct", "tool", "tool"]
    eager = run_gate(ModelSpec(FunctionModel(always_list), label="eager"), against)
    assert not eager.passed and eager.agreement["per_class"]["direct"]["recall"] == 0.0
    assert eager.kind == "suite"


def test_cli_writes_report_and_exits_1_when_the_student_fails(tiny_model_dir, records_file, tmp_path):
    from mlx_distill.teacher.ledger import Ledger

    ledger = Ledger(tmp_path / "router")
    for i in range(12):  # a router's drift checks: 10 of the last 12 agreed
        ledger.append(
            kind="drift", model="anthropic:claude-haiku-4-5", usage={"input_tokens": 10}, latency_s=0.1, agree=i >= 2
        )
    out = tmp_path / "gate"
    res = CliRunner().invoke(
        main,
        [
            "gate",
            "--student",
            str(tiny_model_dir),
            "--against",
            str(records_file),
            "--max-tokens",
            "4",
            "--out",
            str(out),
            "--no-progress",
            "--ledger",
            str(ledger.path),
        ],
    )
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.stdout and "majority baseline" in res.stdout and "recall tool" in res.stdout
    assert "drift agreement (rolling)" in res.stdout and "83.3%" in res.stdout
    assert "warning: drift: the student agreed with the teacher on 83.3% of the last 12" in res.stderr
    data = json.loads((out / "gate.json").read_text())
    assert data["passed"] is False and len(data["cases"]) == 8
    assert "# Gate:" in (out / "gate.md").read_text()


def test_cli_bad_against_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}], "meta": {"id": "x"}}\n')
    res = CliRunner().invoke(main, ["gate", "--student", "test", "--against", str(bad), "--no-progress"])
    assert res.exit_code == 2
    assert "bad.jsonl" in res.stderr and ":1" in res.stderr and "meta" in res.stderr


def test_gate_reads_a_teacher_store_accepted_records_only(tmp_path):
    from mlx_distill.data.sources.teacher_store import Verdict
    from mlx_distill.teacher.store import TeacherStore

    store = TeacherStore(tmp_path / "store")
    for i, rec in enumerate(teacher_records()):
        verdict = Verdict.reject("tool-error", "scripted") if i == 0 else Verdict.accept()
        rec.meta.key, rec.meta.verdict = f"k{i}", verdict.to_json()
        store.add(rec)
    against = load_against(tmp_path / "store")
    assert against.kind == "records" and len(against.suite.cases) == 7 and "t0" not in against.references
    small = load_against(tmp_path / "store", limit=4)  # the first 4 would all be tool records: both classes kept
    assert sorted(c.label for c in small.suite.cases) == ["direct", "direct", "tool", "tool"]
    result = run_gate(ModelSpec(FunctionModel(good), label="good"), against)
    assert result.passed and result.agreement["cases"] == 7


def test_a_reference_with_one_class_never_passes(tmp_path):
    only_direct = [r for r in teacher_records() if r.meta.label == "direct"]
    path = save_records(tmp_path / "direct.jsonl", only_direct)
    result = run_gate(ModelSpec(FunctionModel(never_tool), label="never-tool"), load_against(path))
    assert result.agreement["balanced_accuracy"] == 1.0  # trivially: every case is direct
    assert not result.passed and "only direct cases" in result.reasons[0]
