"""The shared lower layer: one JSON-schema normaliser, one reading of BFCL and When2Call for training
data and benchmark alike, one tool-call type, and one place for the vocabulary."""

import ast
import json
from pathlib import Path

from jsonschema import Draft202012Validator

from mlx_distill.agent.parsing import parse_tool_calls
from mlx_distill.bench.suites import load_bfcl, load_when2call
from mlx_distill.data.sources.converters import convert_file
from mlx_distill.formats.json_schema import normalize_parameters, normalize_schema
from mlx_distill.schema import ToolCall, load_records

SRC = Path(__file__).resolve().parents[1] / "src" / "mlx_distill"

HYPOT = {
    "name": "math.hypot",
    "description": "Euclidean norm.",
    "parameters": {
        "type": "dict",
        "required": ["x", "y", "ghost"],
        "properties": {
            "x": {"type": "integer"},
            "y": {"type": "float"},
            "shape": {"type": "Widget"},
            "tags": {"type": "array", "items": {"type": "string"}, "enum": ["a", "b"]},
            "opts": {"type": "dict", "properties": {"round": {"type": "boolean"}}},
        },
    },
}


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_an_unknown_type_name_leaves_the_property_untyped_so_any_value_is_valid():
    params = normalize_parameters(HYPOT["parameters"])
    assert params["properties"]["shape"] == {}  # "Widget" says nothing about the value
    assert normalize_schema({"type": "Widget", "description": "d"}) == {"description": "d"}
    validator = Draft202012Validator(params)
    for value in ("round", 3, [1, 2], {"w": 1}):
        assert not list(validator.iter_errors({"x": 1, "y": 2.0, "shape": value})), value
    # the known spellings still map, and BFCL's enum on an array constrains its items
    assert params["properties"]["y"] == {"type": "number"} and params["required"] == ["x", "y"]
    assert params["properties"]["tags"] == {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}
    assert normalize_schema({"type": "array<string>"}) == {"type": "array"}
    assert normalize_schema({"type": "HashMap"}) == {"type": "object"}


def test_converters_and_suites_read_the_same_bfcl_item(tmp_path):
    (tmp_path / "possible_answer").mkdir()
    name = "BFCL_v4_simple_python.json"
    question = [[{"role": "user", "content": "Hypotenuse of 4 and 5?"}]]
    _jsonl(tmp_path / name, [{"id": "simple_python_2", "question": question, "function": [HYPOT]}])
    _jsonl(
        tmp_path / "possible_answer" / name,
        [{"id": "simple_python_2", "ground_truth": [{"math.hypot": {"x": [4], "y": [5.0], "shape": ["", "box"]}}]}],
    )
    convert_file("bfcl", tmp_path / name, tmp_path / "out.jsonl")
    (record,) = load_records(tmp_path / "out.jsonl")
    (case,) = load_bfcl("simple_python", data_dir=tmp_path).cases

    assert record.user_text() == case.question == "Hypotenuse of 4 and 5?"
    record_tool, case_tool = record.tools[0]["function"], case.functions[0]["function"]
    assert record_tool["parameters"] == case_tool["parameters"]  # one normaliser
    assert (record_tool["name"], case_tool["name"], case.name_map) == (
        "math.hypot",
        "math_hypot",
        {"math_hypot": "math.hypot"},
    )  # the benchmark shows API-safe names
    (call,) = [c for m in record.messages if m.tool_calls for c in m.tool_calls]
    assert (call.name, call.arguments) == ("math.hypot", {"x": 4, "y": 5.0})  # "" acceptable: left out
    assert case.ground_truth == [{"math.hypot": {"x": [4], "y": [5.0], "shape": ["", "box"]}}]


def test_converters_and_suites_read_the_same_when2call_row(tmp_path):
    tool = json.dumps(
        {
            "name": "get_service_id",
            "description": "Find a service id.",
            "parameters": {
                "type": "dict",
                "required": ["service_id"],
                "properties": {"service_id": {"type": "int"}, "region": {"type": "Region"}},
            },
        }
    )
    answers = {
        "tool_call": {"name": "get_service_id", "arguments": {"service_id": 2}},
        "direct": "A service id names a service.",
        "request_for_info": "Which service?",
        "cannot_answer": "I can't do that.",
    }
    rows = [
        {
            "uuid": f"u{i}",
            "question": "Get the id of service 2",
            "correct_answer": kind,
            "answers": answers,
            "target_tool": tool,
            "tools": [tool],
        }
        for i, kind in enumerate(["tool_call", "direct", "request_for_info", "cannot_answer"])
    ]
    path = _jsonl(tmp_path / "when2call_test_mcq.jsonl", rows)
    convert_file("when2call", path, tmp_path / "out.jsonl")
    records = load_records(tmp_path / "out.jsonl")
    cases = load_when2call(path).cases

    assert [r.meta.label for r in records] == [c.label for c in cases] == ["tool", "direct", "clarify", "refuse"]
    for r, c in zip(records, cases):
        assert r.user_text() == c.question
        assert r.tools[0]["function"]["parameters"] == c.functions[0]["function"]["parameters"]
    assert records[0].tools[0]["function"]["parameters"]["properties"] == {
        "service_id": {"type": "integer"},
        "region": {},
    }
    assert cases[0].answer["target_tool"] == records[0].tool_call_names()[0] == "get_service_id"


def test_a_parsed_call_is_the_records_tool_call():
    tools = [{"type": "function", "function": {"name": "grep", "parameters": {"type": "object"}}}]
    (call,) = parse_tool_calls('<tool_call>{"name": "grep", "arguments": {"pattern": "x"}}</tool_call>', tools).calls
    assert isinstance(call, ToolCall) and (call.name, call.arguments) == ("grep", {"pattern": "x"})
    assert call.to_json() == {"type": "function", "function": {"name": "grep", "arguments": {"pattern": "x"}}}
    bad = parse_tool_calls("<tool_call>{'name': 'grep', 'arguments': {1: 'x'}}</tool_call>", tools)
    assert not bad.calls and "argument names of grep must be strings" in bad.errors[0]


# Files that still define a vocabulary name themselves; the lead switches them to mlx_distill.vocab
# when merging the restructured modules. A new definition anywhere else fails this test.
PENDING: set[tuple[str, str]] = set()
VOCABULARY = {
    "Label",
    "LABELS",
    "SPLITS",
    "CATEGORIES",
    "TOOL_CATEGORIES",
    "DIRECT_CATEGORIES",
    "WHEN2CALL_LABELS",
    "CATEGORY_OF_TOOL",
    "OUR_TOOL_CATEGORY",
}


def test_the_vocabulary_is_defined_only_in_vocab_py():
    found = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel == "vocab.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            found |= {(rel, t.id) for t in targets if isinstance(t, ast.Name) and t.id in VOCABULARY}
    assert found <= PENDING, sorted(found - PENDING)
