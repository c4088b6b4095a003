"""Property-based fuzzing of every entry point that reads untrusted input: whatever comes in, only the
project's own error (InputError) may come out, and the parser never raises at all. Examples are bounded so
the suite stays fast; hypothesis keeps failing examples in .hypothesis/ and tries them first next time."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlx_distill.agent.parsing import parse_tool_calls
from mlx_distill.data.sources.converters import FORMATS, convert_file
from mlx_distill.data.validate import validate_files
from mlx_distill.errors import InputError
from mlx_distill.io import read_jsonl
from mlx_distill.tools import TOOL_NAMES, Workspace, tool_schemas
from mlx_distill.train.config import load_config, parse_config

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)

# Pieces the parsers and converters look for, so random text reaches their deeper paths.
MARKERS = [
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
    "```",
    "```json",
    "{",
    "}",
    "[",
    "]",
    '"name"',
    '"arguments"',
    ":",
    ",",
    '"',
    "'",
    "\\",
    "\n",
    "grep",
    "read_file",
    "NaN",
    "1e999",
    "\\ud800",
    "<functioncall>",
    "USER:",
    "ASSISTANT:",
    "<tools>",
    "</tools>",
    "<|endoftext|>",
]
marker_text = st.lists(st.sampled_from(MARKERS) | st.text(max_size=6), max_size=40).map("".join)


def only_input_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except InputError as e:
        assert "\n" not in e.message or e.rule is None, e.message
        return None


@FUZZ
@given(
    lines=st.lists(
        st.binary(max_size=60) | json_values.map(lambda v: json.dumps(v).encode()) | marker_text.map(str.encode),
        max_size=6,
    )
)
def test_read_jsonl(tmp_path_factory, lines):
    p = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    p.write_bytes(b"\n".join(lines))
    only_input_errors(lambda: list(read_jsonl(p, allow_empty=False)))
    errors: list[InputError] = []
    rows = list(read_jsonl(p, errors=errors))
    for _, obj in rows:
        json.dumps(obj, allow_nan=False, ensure_ascii=False).encode("utf-8")  # what was read writes back


def _message():
    return st.fixed_dictionaries(
        {
            "role": st.sampled_from(
                ["system", "user", "assistant", "tool", "human", "gpt", "function_call", "observation"]
            )
            | json_values
        },
        optional={
            "content": marker_text | json_values,
            "from": st.text(max_size=6),
            "value": marker_text,
            "tool_calls": json_values,
            "function_call": json_values,
            "name": st.text(max_size=8),
        },
    )


format_items = (
    st.fixed_dictionaries(
        {},
        optional={
            "messages": st.lists(_message(), max_size=4) | json_values,
            "conversations": st.lists(_message(), max_size=4),
            "tools": json_values | marker_text,
            "chat": marker_text,
            "system": marker_text,
            "query": marker_text,
            "answers": json_values | marker_text,
            "question": json_values,
            "function": json_values,
            "id": json_values,
            "category": json_values,
        },
    )
    | json_values
)


@FUZZ
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    first=format_items.filter(lambda x: not isinstance(x, list)),
    more=st.lists(format_items, max_size=3),
)
def test_converters(tmp_path_factory, fmt, first, more):
    items = [first, *more]  # a first line that is an array makes the file a JSON array (tested below)
    d = tmp_path_factory.mktemp("fuzz")
    (d / "in.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    only_input_errors(convert_file, fmt, d / "in.jsonl", d / "out.jsonl")
    res = convert_file(fmt, d / "in.jsonl", d / "out.jsonl", skip_invalid=True)
    assert res.written + res.rejected == len(items)
    for line in (d / "out.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=pytest.fail)


def test_a_json_array_with_text_after_it_is_an_error_not_a_silent_loss(tmp_path):
    (tmp_path / "in.jsonl").write_text('[]\n{"messages": []}\n')
    with pytest.raises(InputError, match=r"in.jsonl:1 \[json\]: text after the closing \]"):
        convert_file("openai", tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    (tmp_path / "in.jsonl").write_text("[]\n")
    with pytest.raises(InputError, match="empty JSON array"):
        convert_file("openai", tmp_path / "in.jsonl", tmp_path / "out.jsonl")


record_like = st.fixed_dictionaries(
    {"messages": st.lists(_message(), max_size=5) | json_values},
    optional={
        "tools": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("function") | json_values,
                    "function": st.fixed_dictionaries(
                        {"name": st.sampled_from(TOOL_NAMES) | st.text(max_size=5)},
                        optional={"parameters": json_values},
                    ),
                }
            ),
            max_size=2,
        ),
        "meta": st.fixed_dictionaries(
            {
                "id": st.text(max_size=5),
                "source": st.text(max_size=5),
                "category": st.text(max_size=5),
                "label": st.sampled_from(["tool", "direct", "refuse", "x"]),
            }
        )
        | json_values,
    },
)


@settings(FUZZ, max_examples=25)
@given(records=st.lists(record_like, max_size=5))
def test_validator(tmp_path_factory, records):
    p = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = validate_files([p])
    assert report.records >= len(records) or not records
    assert all(isinstance(f.message, str) for f in report.findings)


@settings(max_examples=200, deadline=None)
@given(text=marker_text | st.text(max_size=200))
def test_tool_call_parser(text):
    result = parse_tool_calls(text, tool_schemas())
    assert isinstance(result.content, str) and all(isinstance(e, str) for e in result.errors)
    assert all(isinstance(c.arguments, dict) for c in result.calls)


@FUZZ
@given(
    name=st.sampled_from(TOOL_NAMES) | st.text(max_size=10),
    arguments=marker_text
    | json_values
    | st.dictionaries(
        st.sampled_from(["path", "content", "pattern", "glob", "ignore_case", "start_line", "end_line", "command"]),
        json_values | marker_text,
        max_size=4,
    ),
)
def test_workspace_call_with_json_strings_and_values(tmp_path_factory, name, arguments):
    root = tmp_path_factory.mktemp("ws")
    (root / "a.txt").write_text("alpha\n")
    ws = Workspace(root, allowed_commands=("echo",), timeout_s=2, max_output_chars=300)
    for args in (arguments, json.dumps(arguments) if not isinstance(arguments, str) else arguments):
        out = ws.call(name, args)
        assert isinstance(out, str) and len(out) < 400


config_values = json_values | st.sampled_from(["embedded:smollm2-135m", "data", "adam", "lora", -1, 0, 1e-4])
config_dicts = st.dictionaries(
    st.sampled_from(
        [
            "model",
            "data",
            "iters",
            "batch_size",
            "learning_rate",
            "lora_parameters",
            "optimizer",
            "lr_schedule",
            "num_layers",
            "mask",
            "seed",
            "alpha",
            "fine_tune_type",
            "max_seq_length",
        ]
    )
    | st.text(max_size=6),
    config_values,
    max_size=5,
)


@settings(FUZZ, max_examples=15)
@given(data=config_dicts | json_values, yaml_text=marker_text | st.text(max_size=80))
def test_train_config_loader(tmp_path_factory, data, yaml_text):
    only_input_errors(parse_config, data)
    p = tmp_path_factory.mktemp("fuzz") / "recipe.yaml"
    p.write_text(yaml_text, encoding="utf-8", errors="surrogatepass")
    only_input_errors(load_config, p)
    p.write_bytes(b"model: \xff\xfe\n")
    only_input_errors(load_config, p)
    only_input_errors(load_config, None, [f"{k}={v}" for k, v in (data.items() if isinstance(data, dict) else [])])
