"""The record format: good records round-trip; bad ones are reported with file, line, id and field."""

import json

import pytest

from mlx_distill.errors import InputError
from mlx_distill.io import atomic_write_text, read_jsonl, write_jsonl
from mlx_distill.schema import Record, iter_records, load_records, load_records_lenient, parse_record

GOOD = {
    "messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Which files import svcs?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "grep", "arguments": {"pattern": "import svcs"}}}],
        },
        {"role": "tool", "name": "grep", "content": "src/app.py:3:import svcs"},
        {"role": "assistant", "content": "Only src/app.py."},
    ],
    "tools": [],
    "meta": {"id": "r1", "source": "domain", "category": "search", "label": "tool"},
}


def test_good_record_round_trips_exactly(tmp_path):
    p = tmp_path / "a.jsonl"
    write_jsonl(p, [GOOD])
    (rec,) = load_records(p)
    assert rec.to_json() == GOOD
    assert rec.tool_call_names() == ["grep"] and rec.user_text() == "Which files import svcs?"


def test_string_arguments_are_refused_with_location(tmp_path):
    bad = json.loads(json.dumps(GOOD))
    bad["meta"]["id"] = "r2"
    bad["messages"][2]["tool_calls"][0]["function"]["arguments"] = '{"pattern": "x"}'
    p = tmp_path / "b.jsonl"
    p.write_text(json.dumps(GOOD) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(InputError) as e:
        load_records(p)
    msg = str(e.value)
    assert f"{p}:2" in msg and "record r2" in msg and "arguments" in msg and "not a JSON string" in msg


def test_lenient_reading_collects_every_error_and_keeps_good_records(tmp_path):
    p = tmp_path / "c.jsonl"
    bad_role = json.loads(json.dumps(GOOD))
    bad_role["messages"][1]["role"] = "human"
    bad_role["meta"]["id"] = "x"
    no_label = json.loads(json.dumps(GOOD))
    del no_label["meta"]["label"]
    p.write_text(
        "\n".join([json.dumps(GOOD), "{not json", json.dumps(bad_role), json.dumps(no_label), json.dumps(GOOD)]) + "\n"
    )
    recs, errs = load_records_lenient(p)
    assert len(recs) == 2
    assert [e.line for e in errs] == [2, 3, 4]
    assert errs[0].rule == "json" and "messages.1.role" in str(errs[1]) and "meta.label" in str(errs[2])


def test_unknown_keys_are_refused_not_dropped():
    bad = json.loads(json.dumps(GOOD))
    bad["messages"][2]["tool_calls"][0]["function"]["tool"] = "grep"  # the old "tool" key
    with pytest.raises(InputError, match="tool.*Extra inputs"):
        parse_record(bad)


def test_content_hash_ignores_meta_but_not_messages():
    a = Record.model_validate(GOOD)
    b = Record.model_validate({**GOOD, "meta": {**GOOD["meta"], "id": "other"}})
    c = Record.model_validate({**GOOD, "messages": GOOD["messages"][:2] + [{"role": "assistant", "content": "x"}]})
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_atomic_write_never_leaves_a_partial_file(tmp_path):
    p = tmp_path / "out.jsonl"
    atomic_write_text(p, "old\n")

    class Boom:
        def to_json(self):
            raise RuntimeError("generator failed midway")

    with pytest.raises(RuntimeError):
        write_jsonl(p, [{"a": 1}, Boom()])
    assert p.read_text() == "old\n"
    assert [x.name for x in tmp_path.iterdir()] == ["out.jsonl"]


def test_read_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"a": 1}\n\n{"b": \n')
    it = read_jsonl(p)
    assert next(it) == (1, {"a": 1})
    with pytest.raises(InputError, match=r"d.jsonl:3.*invalid JSON"):
        next(it)
    with pytest.raises(InputError, match="file not found"):
        list(iter_records(tmp_path / "missing.jsonl"))
