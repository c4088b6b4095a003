"""Converters: one small fixture per public format, mirroring its real shape; bad arguments are
located errors (never {}); --skip-invalid writes rejects with reasons."""

import json
import subprocess
import sys

import pytest

from mlx_distill.data.sources.converters import convert_file, rejects_path_for
from mlx_distill.formats.json_schema import normalize_parameters
from mlx_distill.errors import InputError
from mlx_distill.schema import load_records

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
        "required": ["city"],
    },
}


def write(path, rows, *, array=False):
    if array:
        path.write_text(json.dumps(rows, indent=2))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def convert(tmp_path, fmt, rows, **kw):
    src = write(tmp_path / f"{fmt}.json", rows, array=kw.pop("array", False))
    out = tmp_path / f"{fmt}.out.jsonl"
    res = convert_file(fmt, src, out, **kw)
    return res, load_records(out)


def calls(rec):
    return [(c.function.name, c.function.arguments) for m in rec.messages if m.tool_calls for c in m.tool_calls]


# ---- legacy --------------------------------------------------------------------------------


def test_legacy_tool_key_and_fenced_json_become_name_and_object_arguments(tmp_path):
    rows = [
        {
            "id": "old-1",
            "category": "search",
            "messages": [
                {"role": "user", "content": "Where is main defined?"},
                {
                    "role": "assistant",
                    "content": 'Let me search.\n```json\n{"tool": "grep", "arguments": {"pattern": "def main"}}\n```',
                },
                {"role": "tool", "tool": "grep", "content": "app.py:3:def main():"},
                {"role": "assistant", "content": "In app.py, line 3."},
            ],
        },
        {
            "messages": [
                {"role": "user", "content": "Show the README"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"tool": "read_file", "arguments": '{"path": "README.md"}'}],
                },
                {"role": "tool", "content": "# Demo\n"},
                {"role": "assistant", "content": "It is a one-line README titled Demo."},
            ]
        },
    ]
    res, recs = convert(tmp_path, "legacy", rows)
    assert res.written == 2 and res.rejected == 0
    a, b = recs
    assert calls(a) == [("grep", {"pattern": "def main"})]
    assert a.messages[2].content == "Let me search."  # the fenced block left the text
    assert a.meta.id == "legacy-old-1" and a.meta.source == "legacy" and a.meta.category == "search"
    assert a.meta.label == "tool" and {t["function"]["name"] for t in a.tools} >= {"grep", "read_file"}
    assert calls(b) == [("read_file", {"path": "README.md"})]
    assert b.messages[3].name == "read_file" and b.meta.category == "read"


def test_legacy_bad_fenced_json_is_a_located_error(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": '```json\n{"tool": "grep", "arguments": {pattern}}\n```'},
                {"role": "tool", "content": "x"},
                {"role": "assistant", "content": "a"},
            ]
        }
    ]
    with pytest.raises(InputError) as e:
        convert(tmp_path, "legacy", rows)
    assert e.value.line == 1 and e.value.rule == "bad-arguments" and "legacy.json" in str(e.value)


# ---- glaive --------------------------------------------------------------------------------

GLAIVE_SYSTEM = (
    "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n"
    + json.dumps(
        {
            "name": "get_exchange_rate",
            "description": "Get the exchange rate",
            "parameters": {
                "type": "object",
                "properties": {"base_currency": {"type": "string"}, "target_currency": {"type": "string"}},
                "required": ["base_currency", "target_currency"],
            },
        },
        indent=4,
    )
    + "\n"
)


def test_glaive_single_quoted_arguments_and_function_response(tmp_path):
    rows = [
        {
            "system": GLAIVE_SYSTEM,
            "chat": (
                'USER: How many euros is one dollar?\n\n\nASSISTANT: <functioncall> {"name": "get_exchange_rate", '
                '"arguments": \'{"base_currency": "USD", "target_currency": "EUR"}\'} <|endoftext|>\n\n\n'
                'FUNCTION RESPONSE: {"exchange_rate": 0.92}\n\n\nASSISTANT: One dollar is 0.92 euros. <|endoftext|>\n\n\n'
            ),
        },
        {
            "system": "SYSTEM: You are a helpful assistant, with no access to external functions.",
            "chat": "USER: Tell me a joke\n\n\nASSISTANT: Why did the developer go broke? He used up all his cache. "
            "<|endoftext|>\n\n\n",
        },
    ]
    res, (tool, plain) = convert(tmp_path, "glaive", rows, array=True)
    assert res.written == 2
    assert calls(tool) == [("get_exchange_rate", {"base_currency": "USD", "target_currency": "EUR"})]
    assert tool.messages[3].role == "tool" and tool.messages[3].name == "get_exchange_rate"
    assert tool.messages[-1].content == "One dollar is 0.92 euros."
    assert tool.tools[0]["function"]["parameters"]["required"] == ["base_currency", "target_currency"]
    assert tool.meta.label == "tool" and tool.meta.category == "function_call"
    assert plain.meta.label == "direct" and plain.tools == [] and "<|endoftext|>" not in plain.messages[-1].content


def test_glaive_unparseable_arguments_name_file_line_and_reason_never_empty_object(tmp_path):
    rows = [
        {
            "system": GLAIVE_SYSTEM,
            "chat": (
                'USER: rate?\n\n\nASSISTANT: <functioncall> {"name": "get_exchange_rate", "arguments": '
                '\'{"base_currency": "USD", target}\'} <|endoftext|>\n\n\nASSISTANT: done'
            ),
        }
    ]
    src = write(tmp_path / "g.jsonl", rows * 3)
    with pytest.raises(InputError) as e:
        convert_file("glaive", src, tmp_path / "out.jsonl")
    msg = str(e.value)
    assert "g.jsonl:1" in msg and "not valid JSON" in msg and e.value.rule == "bad-arguments"
    assert not (tmp_path / "out.jsonl").exists()
    res = convert_file("glaive", src, tmp_path / "out.jsonl", skip_invalid=True)
    assert (res.written, res.rejected) == (0, 3)
    rejects = [json.loads(x) for x in rejects_path_for(tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [1, 2, 3] and all("not valid JSON" in r["reason"] for r in rejects)


# ---- hermes --------------------------------------------------------------------------------


def test_hermes_python_literal_tool_calls_and_tools_block(tmp_path):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_stock_price",
                "description": "Price of a stock",
                "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}, "required": ["symbol"]},
            },
        }
    ]
    system = (
        "You are a function calling AI model. You are provided with function signatures within <tools> "
        f"</tools> XML tags. <tools> {repr(tools)} </tools> Use them when needed."
    )
    rows = [
        {
            "id": "h1",
            "conversations": [
                {"from": "system", "value": system},
                {"from": "human", "value": "What are Apple and Tesla trading at?"},
                {
                    "from": "gpt",
                    "value": "<tool_call>\n{'arguments': {'symbol': 'AAPL'}, 'name': 'get_stock_price'}\n</tool_call>\n"
                    "<tool_call>\n{'arguments': {'symbol': 'TSLA'}, 'name': 'get_stock_price'}\n</tool_call>",
                },
                {
                    "from": "tool",
                    "value": "<tool_response>\n{'name': 'get_stock_price', 'content': {'price': 189.5}}\n"
                    "</tool_response>\n<tool_response>\n{'name': 'get_stock_price', 'content': "
                    "{'price': 172.1}}\n</tool_response>",
                },
                {"from": "gpt", "value": "Apple is at $189.50 and Tesla at $172.10."},
            ],
        }
    ]
    res, (rec,) = convert(tmp_path, "hermes", rows)
    assert calls(rec) == [("get_stock_price", {"symbol": "AAPL"}), ("get_stock_price", {"symbol": "TSLA"})]
    results = [m for m in rec.messages if m.role == "tool"]
    assert [json.loads(m.content) for m in results] == [{"price": 189.5}, {"price": 172.1}]
    assert rec.tools[0]["function"]["name"] == "get_stock_price"
    assert rec.meta.id == "hermes-h1" and rec.meta.category == "parallel_function_call"
    # the boilerplate system prompt (which only described the tools) was replaced by ours
    assert "<tools>" not in rec.messages[0].content


def test_hermes_bad_tool_call_body_is_rejected_with_reason(tmp_path):
    rows = [
        {
            "conversations": [
                {"from": "human", "value": "q"},
                {"from": "gpt", "value": "<tool_call>\n{'name': 'x', 'arguments': {'a': }\n</tool_call>"},
            ]
        }
    ]
    res, recs = convert(tmp_path, "hermes", rows, skip_invalid=True)
    assert res.rejected == 1 and recs == [] and res.reasons == {"bad-arguments": 1}


# ---- xlam ----------------------------------------------------------------------------------


def test_xlam_json_string_fields_and_python_types(tmp_path):
    tools = [
        {
            "name": "live_giveaways_by_type",
            "description": "Giveaways by type",
            "parameters": {"type": {"description": "game, loot or beta", "type": "str", "default": "game"}},
        },
        {
            "name": "get_ids",
            "description": "ids",
            "parameters": {
                "ids": {"description": "List of ids", "type": "List[int]"},
                "limit": {"description": "max", "type": "Optional[int]"},
            },
        },
    ]
    answers = [
        {"name": "live_giveaways_by_type", "arguments": {"type": "beta"}},
        {"name": "get_ids", "arguments": {"ids": [1, 2]}},
    ]
    rows = [
        {
            "id": 7,
            "query": "Beta giveaways, and ids 1 and 2?",
            "tools": json.dumps(tools),
            "answers": json.dumps(answers),
        },
        {"id": 8, "query": "What's the meaning of life?", "tools": json.dumps(tools), "answers": "[]"},
    ]
    res, (rec, refuse) = convert(tmp_path, "xlam", rows, array=True)
    assert calls(rec) == [("live_giveaways_by_type", {"type": "beta"}), ("get_ids", {"ids": [1, 2]})]
    params = rec.tools[1]["function"]["parameters"]
    assert params["properties"]["ids"] == {"type": "array", "items": {"type": "integer"}, "description": "List of ids"}
    assert params["required"] == ["ids"]  # Optional and defaulted parameters are not required
    assert "required" not in rec.tools[0]["function"]["parameters"]
    assert rec.messages[-1].tool_calls and rec.meta.label == "tool"  # a call-only record
    assert refuse.meta.label == "refuse" and refuse.meta.category == "irrelevance"


def test_xlam_bad_answers_json(tmp_path):
    rows = [{"query": "q", "tools": "[]", "answers": '[{"name": "x", "arguments": {]'}]
    with pytest.raises(InputError, match="answers"):
        convert(tmp_path, "xlam", rows)


# ---- openai --------------------------------------------------------------------------------


def test_openai_string_arguments_are_decoded_and_results_named_by_call_id(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are a weather bot."},
                {"role": "user", "content": "Weather in Oslo?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
                {"role": "assistant", "content": "It's 3 degrees in Oslo."},
            ],
            "tools": [{"type": "function", "function": WEATHER}],
        }
    ]
    res, (rec,) = convert(tmp_path, "openai", rows)
    assert calls(rec) == [("get_weather", {"city": "Oslo"})]
    assert rec.messages[0].content == "You are a weather bot."  # openai keeps its own system prompt
    assert rec.messages[3].name == "get_weather" and rec.messages[3].tool_call_id == "call_1"


def test_openai_non_object_arguments_are_an_error(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "[1, 2]"}}
                    ],
                },
            ],
            "tools": [{"type": "function", "function": WEATHER}],
        }
    ]
    with pytest.raises(InputError, match="decode to list, not an object"):
        convert(tmp_path, "openai", rows)


def test_openai_arguments_not_matching_the_schema_are_rejected(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"type": "function", "function": {"name": "get_weather", "arguments": '{"unit": "K"}'}}
                    ],
                },
            ],
            "tools": [{"type": "function", "function": WEATHER}],
        }
    ]
    res, recs = convert(tmp_path, "openai", rows, skip_invalid=True)
    assert res.reasons == {"bad-arguments": 1}


# ---- bfcl ----------------------------------------------------------------------------------


def test_bfcl_question_function_and_possible_answer(tmp_path):
    fn = {
        "name": "math.hypot",
        "description": "Euclidean norm.",
        "parameters": {
            "type": "dict",
            "properties": {
                "x": {"type": "integer"},
                "y": {"type": "integer"},
                "z": {"type": "float"},
                "opts": {"type": "dict", "properties": {"round": {"type": "boolean"}}},
            },
            "required": ["x", "y"],
        },
    }
    (tmp_path / "possible_answer").mkdir()
    name = "BFCL_v4_simple_python.json"
    write(
        tmp_path / name,
        [
            {
                "id": "simple_python_2",
                "question": [[{"role": "user", "content": "Hypotenuse of 4 and 5?"}]],
                "function": [fn],
            },
            {
                "id": "irrelevance_0",
                "question": [[{"role": "user", "content": "Area of a triangle?"}]],
                "function": [fn],
            },
            {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "cd"}]], "involved_classes": ["X"]},
            {"id": "simple_python_9", "question": [[{"role": "user", "content": "no answer"}]], "function": [fn]},
        ],
    )
    write(
        tmp_path / "possible_answer" / name,
        [
            {
                "id": "simple_python_2",
                "ground_truth": [
                    {"math.hypot": {"x": [4], "y": [5], "z": ["", 0], "opts": [{"round": [True, False]}]}}
                ],
            }
        ],
    )
    res = convert_file("bfcl", tmp_path / name, tmp_path / "out.jsonl", skip_invalid=True)
    simple, irrelevant = load_records(tmp_path / "out.jsonl")
    assert calls(simple) == [("math.hypot", {"x": 4, "y": 5, "opts": {"round": True}})]  # "" = may be omitted
    params = simple.tools[0]["function"]["parameters"]
    assert params["type"] == "object" and params["properties"]["z"]["type"] == "number"
    assert params["properties"]["opts"]["type"] == "object"
    assert simple.meta.category == "simple_python" and simple.meta.id == "bfcl-simple_python_2"
    assert irrelevant.meta.label == "refuse" and "math.hypot" in irrelevant.messages[-1].content
    assert res.reasons == {"unsupported": 1, "no-answer": 1}


def test_bfcl_installed_package_data_converts_when_present(tmp_path):
    pytest.importorskip("bfcl_eval")
    from pathlib import Path

    import bfcl_eval

    src = Path(bfcl_eval.__file__).parent / "data" / "BFCL_v4_simple_python.json"
    if not src.exists():
        pytest.skip("bfcl_eval ships no BFCL_v4 data")
    lines = src.read_text().splitlines()[:25]
    (tmp_path / "possible_answer").mkdir()
    (tmp_path / "BFCL_v4_simple_python.json").write_text("\n".join(lines) + "\n")
    answers = (src.parent / "possible_answer" / src.name).read_text().splitlines()[:25]
    (tmp_path / "possible_answer" / src.name).write_text("\n".join(answers) + "\n")
    res = convert_file("bfcl", tmp_path / src.name, tmp_path / "out.jsonl", skip_invalid=True)
    assert res.written >= 20 and res.by_label == {"tool": res.written}


# ---- when2call -----------------------------------------------------------------------------


def test_when2call_mcq_labels_and_sft_toolcall(tmp_path):
    tool = json.dumps(
        {
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "dict", "properties": {"city": {"type": "str"}}, "required": ["city"]},
        }
    )
    answers = {
        "direct": "It is sunny.",
        "tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}},
        "request_for_info": "Which city do you mean?",
        "cannot_answer": "I'm unable to check that.",
    }
    rows = [
        dict(uuid=f"u{i}", question="Weather?", correct_answer=kind, answers=answers, tools=[tool])
        for i, kind in enumerate(["tool_call", "request_for_info", "cannot_answer", "direct"])
    ]
    rows.append(
        {
            "tools": [tool],
            "messages": [
                {"role": "user", "content": "Weather in Rome?"},
                {
                    "role": "assistant",
                    "content": '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Rome"}}]</TOOLCALL>',
                },
            ],
        }
    )
    rows.append(
        {
            "tools": [tool],
            "messages": [{"role": "user", "content": "Weather?"}],
            "chosen_response": {"role": "assistant", "content": "For which city?"},
        }
    )
    res, recs = convert(tmp_path, "when2call", rows)
    assert [r.meta.label for r in recs] == ["tool", "clarify", "refuse", "direct", "tool", "clarify"]
    assert [r.meta.category for r in recs[:4]] == ["tool_call", "request_for_info", "cannot_answer", "direct"]
    assert calls(recs[0]) == [("get_weather", {"city": "Paris"})] and calls(recs[4]) == [
        ("get_weather", {"city": "Rome"})
    ]
    assert recs[1].messages[-1].content == "Which city do you mean?"
    assert recs[0].tools[0]["function"]["parameters"]["properties"]["city"]["type"] == "string"


def test_normalize_parameters_handles_both_schema_styles():
    assert normalize_parameters(
        {"type": "dict", "properties": {"n": {"type": "float"}}, "required": ["n", "gone"]}
    ) == {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    assert normalize_parameters({"q": {"type": "str, optional", "description": "query"}}) == {
        "type": "object",
        "properties": {"q": {"type": "string", "description": "query"}},
    }


def test_cli_convert_counts_and_exit_status(tmp_path):
    rows = [
        {
            "query": "ok",
            "tools": json.dumps([WEATHER]),
            "answers": json.dumps([{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
        },
        {"query": "bad", "tools": json.dumps([WEATHER]), "answers": '[{"name": "get_weather", "arguments": "{oops"}]'},
    ]
    src = write(tmp_path / "x.jsonl", rows)
    out = tmp_path / "x.out.jsonl"
    run = [
        sys.executable,
        "-c",
        "from mlx_distill.data.cli import data; data()",
        "convert",
        "--from",
        "xlam",
        str(src),
        str(out),
    ]
    p = subprocess.run(run, capture_output=True, text=True)
    assert p.returncode == 2 and f"{src}:2" in p.stderr and "not valid JSON" in p.stderr
    p = subprocess.run(run + ["--skip-invalid"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "1 records written" in p.stdout and "1 rejected" in p.stdout and "x.out.rejects.jsonl" in p.stdout
    assert json.loads(rejects_path_for(out).read_text())["line"] == 2
