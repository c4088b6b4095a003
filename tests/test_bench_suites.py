"""Suites: the built-in held-out suite, suite files with located errors, BFCL categories from the
installed bfcl-eval package, When2Call files, and function documents converted to tool schemas."""

import json
from collections import Counter

import pytest
from jsonschema import Draft202012Validator

from mlx_distill.bench.suites import load_suite, load_suite_file, load_when2call
from mlx_distill.formats.json_schema import function_to_tool, normalize_schema
from mlx_distill.errors import InputError
from mlx_distill.tools import TOOL_NAMES
from mlx_distill.vocab import DIRECT_CATEGORIES, TOOL_CATEGORIES


def test_builtin_suite_is_large_balanced_and_covers_every_category():
    suite = load_suite("discrimination")
    assert len(suite.cases) >= 60
    labels = Counter(c.label for c in suite.cases)
    assert labels["tool"] == labels["direct"]
    cats = Counter(c.category for c in suite.cases)
    for cat in TOOL_CATEGORIES + DIRECT_CATEGORIES:
        if cat != "structure":  # no directory-structure questions in the suite yet (vocab.py)
            assert cats[cat] >= 5, cat
    for c in suite.cases:
        if c.label == "tool":
            assert c.category in TOOL_CATEGORIES and c.workspace and c.expected_tools and c.answer
            assert set(c.expected_tools) <= set(TOOL_NAMES)
        else:
            assert c.category in DIRECT_CATEGORIES and c.workspace is None
            assert c.answer["type"] == "any_of"
    assert len({c.id for c in suite.cases}) == len(suite.cases)
    assert len({c.question for c in suite.cases}) == len(suite.cases)


def _write(tmp_path, lines):
    p = tmp_path / "suite.jsonl"
    p.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return p


GOOD = {
    "id": "a",
    "question": "What is a mutex?",
    "label": "direct",
    "category": "concept",
    "answer": {"type": "any_of", "keywords": ["lock"]},
}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", r"suite.jsonl:2 \[json\]: invalid JSON"),
        ({**GOOD, "id": "b", "label": "maybe"}, r"suite.jsonl:2 record b \[suite\]: label"),
        ({**GOOD, "id": "b", "label": "tool"}, r"suite.jsonl:2 record b \[suite\]: .*needs expected_tools"),
        ({**GOOD, "id": "b", "label": "tool", "expected_tools": ["teleport"]}, "unknown tool"),
        ({**GOOD, "id": "b", "workspace": {"kind": "nope"}}, "workspace.kind 'nope' is not a known workspace builder"),
        ({**GOOD, "id": "b", "question": "Where is {function}?"}, "placeholders \\['function'\\] need a workspace"),
        ({**GOOD, "id": "b", "answer": {"type": "regex"}}, "answer.type 'regex'"),
        ({**GOOD, "id": "b", "colour": 1}, "colour: Extra inputs"),
        (GOOD, r"suite.jsonl:2 record a \[suite\]: duplicate id \(first on line 1\)"),
        ("[1, 2]", r"suite.jsonl:2 \[suite\]: expected a JSON object"),
    ],
)
def test_malformed_suite_lines_are_located(tmp_path, bad, message):
    with pytest.raises(InputError, match=message):
        load_suite_file(_write(tmp_path, [GOOD, bad]))


def test_suite_file_and_unknown_names(tmp_path):
    suite = load_suite(str(_write(tmp_path, [GOOD])))
    assert suite.name == "suite" and suite.cases[0].suite == "suite"
    with pytest.raises(InputError, match="unknown suite 'nosuch'.*built-in: .*discrimination"):
        load_suite("nosuch")
    with pytest.raises(InputError, match="no cases"):
        load_suite(str(_write(tmp_path, [])))
    with pytest.raises(InputError, match="unknown BFCL category 'cooking'"):
        load_suite("bfcl:cooking")


def test_function_documents_map_bfcl_and_when2call_types_to_json_schema():
    doc = {
        "name": "math.hypot",
        "description": "norm",
        "parameters": {
            "type": "dict",
            "required": ["x", "ghost"],
            "properties": {
                "x": {"type": "float"},
                "n": {"type": "int"},
                "s": {"type": "str"},
                "flag": {"type": "bool"},
                "pair": {"type": "tuple", "items": {"type": "float"}},
                "opts": {"type": "dict", "properties": {"k": {"type": "integer"}}},
                "anything": {"type": "any", "description": "?"},
                "names": {"type": "List[str]"},
            },
        },
    }
    tool, name = function_to_tool(doc)
    assert name == "math_hypot" and tool["function"]["name"] == "math_hypot"
    params = tool["function"]["parameters"]
    Draft202012Validator.check_schema(params)
    p = params["properties"]
    assert params["type"] == "object" and params["required"] == ["x"]  # unknown required names dropped
    assert (p["x"]["type"], p["n"]["type"], p["s"]["type"], p["flag"]["type"]) == (
        "number",
        "integer",
        "string",
        "boolean",
    )
    assert p["pair"] == {"type": "array", "items": {"type": "number"}}
    assert p["opts"]["type"] == "object" and p["opts"]["properties"]["k"]["type"] == "integer"
    assert "type" not in p["anything"] and p["names"]["type"] == "array"
    assert normalize_schema({"type": "dict"}) == {"type": "object"}


def test_bfcl_categories_read_from_the_installed_package():
    pytest.importorskip("bfcl_eval")
    simple = load_suite("bfcl:simple_python")
    assert len(simple.cases) == 400
    c = simple.cases[0]
    assert c.scoring == "bfcl" and c.label == "tool" and c.ground_truth and c.source_functions
    for f in c.functions:
        Draft202012Validator.check_schema(f["function"]["parameters"])
    irr = load_suite("bfcl:irrelevance")
    assert len(irr.cases) == 240 and {x.label for x in irr.cases} == {"direct"}
    assert all(x.answer["type"] == "irrelevance" for x in irr.cases)
    rel = load_suite("bfcl:live_relevance")
    assert rel.cases and all(x.answer["type"] == "relevance" and x.label == "tool" for x in rel.cases)
    multiple = load_suite("bfcl:multiple")
    assert len(multiple.cases) == 200 and all(len(x.functions) >= 2 for x in multiple.cases[:20])
    names = {f["function"]["name"] for x in multiple.cases for f in x.functions}
    assert all("." not in n for n in names)


def test_when2call_reader_maps_four_classes(tmp_path):
    tool = json.dumps(
        {
            "name": "get_service_id",
            "description": "Find a service id.",
            "parameters": {"type": "dict", "required": ["service_id"], "properties": {"service_id": {"type": "int"}}},
        }
    )
    rows = [
        {
            "uuid": "u1",
            "question": "Get the id of service 2",
            "correct_answer": "tool_call",
            "target_tool": tool,
            "tools": [tool],
        },
        {"uuid": "u2", "question": "What is a service id?", "correct_answer": "direct", "tools": [tool]},
        {"uuid": "u3", "question": "Get the id of the service", "correct_answer": "request_for_info", "tools": [tool]},
        {"uuid": "u4", "question": "Book a flight", "correct_answer": "cannot_answer", "tools": []},
    ]
    p = tmp_path / "when2call_test_mcq.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = load_suite(f"when2call:{p}")
    assert [c.label for c in suite.cases] == ["tool", "direct", "clarify", "refuse"]
    assert suite.cases[0].answer["target_tool"] == "get_service_id"
    assert suite.cases[0].functions[0]["function"]["parameters"]["properties"]["service_id"]["type"] == "integer"
    assert suite.cases[3].functions == []
    p.write_text(json.dumps({**rows[0], "correct_answer": "shrug"}) + "\n")
    with pytest.raises(InputError, match=r"when2call_test_mcq.jsonl:1 \[when2call\]: correct_answer 'shrug'"):
        load_when2call(p)


def test_limit_picks_a_balanced_spread():
    from mlx_distill.bench.suites import select

    cases = load_suite("discrimination").cases
    ten = select(cases, limit=10)
    assert Counter(c.label for c in ten) == {"tool": 5, "direct": 5}
    assert len({c.category for c in ten}) == 10
    assert [c.id for c in ten] == [c.id for c in cases if c in ten]  # suite order
    assert {c.category for c in select(cases, categories=["syntax"])} == {"syntax"}
