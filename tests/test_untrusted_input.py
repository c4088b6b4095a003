"""Hostile and careless input to the data commands: each probe gets one located line (file, line, rule)
or is skipped with --skip-invalid; nothing ends in a traceback, a hang or a silently wrong file.
docs/reliability.md lists every probe and the test that covers it."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from click.testing import CliRunner

from mlx_distill.agent.parsing import parse_tool_calls
from mlx_distill.cli import main
from mlx_distill.data.build import build
from mlx_distill.data.sources.converters import FORMATS, convert_file
from mlx_distill.data.validate import validate_files
from mlx_distill.errors import InputError
from mlx_distill.io import MAX_DEPTH, read_jsonl
from mlx_distill.tools import tool_schemas


def record(rid: str, *, tools=None, args=None, user: str | None = None) -> dict:
    msgs = [{"role": "user", "content": user or f"Where is the function number {rid} defined?"}]
    if tools is None:
        msgs.append({"role": "assistant", "content": f"Answer {rid}."})
        label = "direct"
    else:
        msgs += [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": args or {}}}],
            },
            {"role": "tool", "name": "lookup", "content": f"found {rid}"},
            {"role": "assistant", "content": f"found {rid}"},
        ]
        label = "tool"
    rec = {"messages": msgs, "meta": {"id": rid, "source": "test", "category": "search", "label": label}}
    if tools is not None:
        rec["tools"] = [
            {"type": "function", "function": {"name": "lookup", "description": "Look up.", "parameters": tools}}
        ]
    return rec


GOOD = json.dumps(record("good")).encode() + b"\n"

# name -> (the bad line, a phrase its one-line error must hold)
BAD_LINES = {
    "invalid-utf8": (b'{"messages": "\xff\xfe"}', "invalid UTF-8 (byte 0xff"),
    "lone-surrogate": (json.dumps(record("sur", user="bad \ud800 text")).encode(), "lone surrogate"),
    "deep-nesting": (b"[" * 10_000 + b"]" * 10_000, f"nesting deeper than {MAX_DEPTH} levels"),
    "deep-nesting-unclosed": (b'{"a": ' + b"[" * 10_000, "nesting deeper than"),
    "huge-integer": (b'{"meta": {"id": ' + b"9" * 5000 + b"}}", "Exceeds the limit (4300 digits)"),
    "nan": (b'{"x": NaN}', "NaN is not JSON"),
    "infinity": (b'{"x": -Infinity}', "-Infinity is not JSON"),
    "float-overflow": (b'{"x": 1e999}', "too large for a float"),
    "truncated": (GOOD[:40], "invalid JSON"),
}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_read_jsonl_gives_a_located_one_line_error(tmp_path, name):
    line, phrase = BAD_LINES[name]
    p = tmp_path / "in.jsonl"
    p.write_bytes(GOOD + line + b"\n" + GOOD)
    with pytest.raises(InputError) as e:
        list(read_jsonl(p))
    assert str(e.value).startswith(f"{p}:2 [json]: ") and phrase in str(e.value) and "\n" not in str(e.value)
    errors: list[InputError] = []
    assert [n for n, _ in read_jsonl(p, errors=errors)] == [1, 3]  # skipped, the rest read
    assert [e.line for e in errors] == [2]


def test_huge_lines_hit_a_clear_size_limit_without_reading_them_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("mlx_distill.io.MAX_LINE_BYTES", 1000)
    p = tmp_path / "big.jsonl"
    p.write_bytes(GOOD + b'{"x": "' + b"y" * 50_000 + b'"}\n' + GOOD)
    errors: list[InputError] = []
    assert [n for n, _ in read_jsonl(p, errors=errors)] == [1, 3]
    assert str(errors[0]) == f"{p}:2 [size]: line longer than 1000 bytes"


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_input_files_are_errors_for_validate_convert_and_build(tmp_path, content):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(content)
    report = validate_files([p])
    assert not report.ok and report.findings[0].message == "the file is empty (no JSON lines)"
    with pytest.raises(InputError, match="empty"):
        convert_file("openai", p, tmp_path / "out.jsonl")
    result = CliRunner().invoke(main, ["data", "validate", "--no-bench", str(p)])
    assert result.exit_code == 1 and "empty" in result.output


def test_validate_and_build_agree_on_a_lone_surrogate(tmp_path):
    recs = [record(f"d{i}") for i in range(6)] + [record(f"t{i}", tools={"type": "object"}) for i in range(6)]
    lines = [json.dumps(r) for r in recs]
    lines.insert(3, json.dumps(record("sur", user="bad \udc00 text")))
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    report = validate_files([tmp_path / "in.jsonl"])
    assert [(f.line, f.rule) for f in report.errors] == [(4, "schema")]
    cfg = _config(tmp_path, [{"type": "records", "paths": ["in.jsonl"]}])
    with pytest.raises(InputError, match=r"in.jsonl:4 .*lone surrogate"):
        build(cfg)


def _config(tmp_path, sources, **extra) -> str:
    cfg = {
        "seed": 0,
        "root": str(tmp_path),
        "output_dir": "out",
        "sources": sources,
        "validation": {"model": None, "bench": []},
        "balance": {"ratio": {"tool": 1, "direct": 1}},
        **extra,
    }
    p = tmp_path / "data.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


# -- converters: wrong JSON types in every field ------------------------------------------------

WRONG_SHAPES = [
    5,
    "text",
    None,
    [],
    [1, 2],
    {"messages": 5},
    {"messages": [5]},
    {"messages": [{"role": 5, "content": []}]},
    {"messages": [{"role": "user", "content": {"a": 1}}]},
    {"conversations": "x"},
    {"conversations": [{"from": 1}]},
    {"chat": 123, "system": []},
    {"chat": ["x"]},
    {"query": 1, "tools": 2, "answers": 3},
    {"query": "q", "tools": '[{"name": 5}]', "answers": '[{"name": []}]'},
    {"question": 5, "function": "f"},
    {"id": [], "question": [[{"role": "user", "content": 5}]], "function": [{"name": {}}]},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": "x"}]},
    {
        "messages": [
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": '{"a": NaN}'}}]}
        ]
    },
    {"messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function", "function": 7}]},
]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_converters_reject_wrong_json_types_item_by_item(tmp_path, fmt):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in WRONG_SHAPES))
    with pytest.raises(InputError) as e:
        convert_file(fmt, src, tmp_path / "out.jsonl")
    assert str(e.value).startswith(f"{src}:") and "\n" not in str(e.value)
    res = convert_file(fmt, src, tmp_path / "out.jsonl", skip_invalid=True)
    assert res.written + res.rejected == len(WRONG_SHAPES) and res.rejected >= len(WRONG_SHAPES) - 2
    for line in (tmp_path / "out.jsonl").read_text().splitlines():  # whatever was kept is strict JSON
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} written"))


def test_convert_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n"
    )
    before = src.read_bytes()
    result = CliRunner().invoke(main, ["data", "convert", "--from", "openai", str(src), str(src)])
    assert result.exit_code == 2 and "refusing to overwrite the input" in result.output
    assert src.read_bytes() == before


# -- tool schemas inside records -------------------------------------------------------------------


def test_remote_refs_and_slow_patterns_in_a_records_tool_schema_are_findings(tmp_path, monkeypatch):
    monkeypatch.setattr("mlx_distill.data.validate.schemas.PATTERN_BUDGET_S", 0.05)
    rows = [
        record(
            "slow",
            tools={"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a|aa)+$"}}},
            args={"q": "a" * 30_000 + "b"},
        ),
        record(
            "remote",
            tools={"type": "object", "properties": {"q": {"$ref": "http://127.0.0.1:9/s.json"}}},
            args={"q": "x"},
        ),
        record("nowhere", tools={"type": "object", "properties": {"q": {"$ref": "#/nowhere"}}}, args={"q": "x"}),
        record(
            "keys",
            tools={"type": "object", "patternProperties": {"^(a|aa)+$": {"type": "integer"}}},
            args={"a" * 30_000 + "b": 1},
        ),
    ]
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    start = time.monotonic()
    report = validate_files([p])
    assert time.monotonic() - start < 20  # a hang guard, not a timing
    found = {f.record_id: f.message for f in report.errors}
    assert "is too slow to check" in found["slow"] and "is too slow to check" in found["keys"]
    assert "remote refs are refused" in found["remote"]
    assert "cannot be applied" in found["nowhere"]


# -- the tool-call parser ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>" * 90_000,
        "</tool_call>" * 80_000,
        "<function=" * 100_000,
        "```" * 300_000,
        '<tool_call></tool_call>```{"name": 1}```<function=a></function>' * 15_000,
        "<tool_call>" + "[" * 100_000 + "</tool_call>",
        '<tool_call>{"name": "grep", "arguments": ' + "1" * 9000 + "}",
    ],
)
def test_the_parser_never_raises_and_stays_linear_on_a_megabyte(text):
    start = time.monotonic()
    result = parse_tool_calls(text, tool_schemas())
    assert time.monotonic() - start < 10  # a hang guard (quadratic passes took minutes), not a timing
    assert isinstance(result.content, str) and all(isinstance(e, str) for e in result.errors)


# -- the build's paths ------------------------------------------------------------------------------


def test_build_refuses_bad_paths_in_one_line_before_anything_loads(tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps(record("a")) + "\n")
    (tmp_path / "out").write_text("a file, not a directory")
    cfg = _config(
        tmp_path, [{"type": "records", "paths": ["in.jsonl"]}], validation={"model": "/nonexistent/model", "bench": []}
    )
    with pytest.raises(InputError, match=r"out \[config\]: output_dir: expected a directory, found a file"):
        build(cfg)  # before the (missing) tokenizer is looked for
    (tmp_path / "out").unlink()
    for sources, validation, phrase in [
        ([{"type": "records", "paths": ["missing.jsonl"]}], {"model": None, "bench": []}, "path 'missing.jsonl'"),
        ([{"type": "direct", "paths": ["docs-missing"]}], {"model": None, "bench": []}, "path 'docs-missing'"),
        (
            [{"type": "records", "paths": ["in.jsonl"]}],
            {"model": None, "bench": ["bench-missing"]},
            "validation.bench path 'bench-missing' does not exist",
        ),
    ]:
        cfg = _config(tmp_path, sources, validation=validation)
        result = CliRunner().invoke(main, ["data", "build", "-c", cfg])
        assert result.exit_code == 2 and phrase in result.output and len(result.output.strip().splitlines()) == 1


def test_thousands_of_broken_calls_give_a_short_retry_prompt():
    result = parse_tool_calls("<tool_call>{}</tool_call>" * 5000, tool_schemas())
    assert len(result.errors) == 11 and result.errors[-1] == "... and 4990 more calls that could not be read"


def test_an_explicit_benchmark_path_that_does_not_exist_is_an_error(tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps(record("a")) + "\n")
    result = CliRunner().invoke(
        main, ["data", "validate", "--bench", str(tmp_path / "nope"), str(tmp_path / "in.jsonl")]
    )
    assert result.exit_code == 2 and "nope [bench-file]: benchmark path does not exist" in result.output
