"""JSON lines through the `jsonlines` library: the project's strict parser, size limit, located errors,
atomic writes and torn-tail repair are thin wrappers around its Reader and Writer, and the files they
write are the bytes the project always wrote."""

import json

import pytest
from pydantic import BaseModel

from mlx_distill.append_only import read_rows, repair_tail
from mlx_distill.errors import InputError
from mlx_distill.io import append_jsonl, read_jsonl, write_jsonl


def _old_line(obj) -> bytes:
    """A JSON line as the project wrote it before jsonlines: json.dumps, non-ASCII kept, ", " and ": "."""
    return (json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n").encode("utf-8")


class Point(BaseModel):
    x: int
    label: str | None = None


class Scored:
    def to_json(self):
        return {"score": 0.5, "name": "café"}


def test_an_invalid_line_in_the_middle_of_a_file_is_reported_with_its_line_number(tmp_path):
    p = tmp_path / "cases.jsonl"
    p.write_bytes(b'{"id": "a"}\n\n{"id": "b"}\n{"id": "c", oops}\n{"id": "d"}\n\xff{"id": "e"}\n{"id": "f"}\n')
    with pytest.raises(InputError) as e:
        list(read_jsonl(p))
    assert str(e.value) == (
        f"{p}:4 [json]: invalid JSON (Expecting property name enclosed in double quotes at column 13)"
    )
    assert (e.value.line, e.value.rule) == (4, "json")
    errors: list[InputError] = []
    got = [(n, obj["id"]) for n, obj in read_jsonl(p, errors=errors)]
    assert got == [(1, "a"), (3, "b"), (5, "d"), (7, "f")]  # the blank line 2 still counts
    assert [str(err) for err in errors] == [
        f"{p}:4 [json]: invalid JSON (Expecting property name enclosed in double quotes at column 13)",
        f"{p}:6 [json]: invalid UTF-8 (byte 0xff at column 1)",
    ]


def test_a_line_over_the_size_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr("mlx_distill.io.MAX_LINE_BYTES", 1000)
    p = tmp_path / "big.jsonl"
    # parsed, this line would be a nesting error: the size rule answers first
    p.write_bytes(b'{"n": 1}\n' + b"[" * 5000 + b"]" * 5000 + b'\n{"n": 3}\n')
    errors: list[InputError] = []
    assert [(n, obj) for n, obj in read_jsonl(p, errors=errors)] == [(1, {"n": 1}), (3, {"n": 3})]
    assert [str(err) for err in errors] == [f"{p}:2 [size]: line longer than 1000 bytes"]
    with pytest.raises(InputError, match=r"big.jsonl:2 \[size\]: line longer than 1000 bytes$"):
        list(read_jsonl(p))


def test_the_untrusted_rules_hold_on_the_jsonlines_path(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'null\n{"x": NaN}\n' + b"[" * 100 + b"]" * 100 + b'\n"\\ud800"\n')
    errors: list[InputError] = []
    assert list(read_jsonl(p, errors=errors)) == [(1, None)]  # null is a value (jsonlines refuses it by default)
    assert [(err.line, err.message) for err in errors] == [
        (2, "NaN is not JSON (numbers must be finite)"),
        (3, "nesting deeper than 64 levels"),
        (4, "lone surrogate '\\ud800' in a string (not valid Unicode text)"),
    ]


def test_a_utf8_bom_at_the_start_of_a_file_is_read_past_as_jsonlines_does(tmp_path):
    p = tmp_path / "notepad.jsonl"
    p.write_bytes('\ufeff{"id": "a"}\n{"id": "b"}\n'.encode())
    assert [(n, obj["id"]) for n, obj in read_jsonl(p)] == [(1, "a"), (2, "b")]


def test_written_files_are_byte_identical_to_the_format_before_jsonlines(tmp_path):
    rows = [{"a": 1, "é": "日本\u2028", "nested": [1, 2.5, None, True, {}]}, Point(x=3), Scored(), [1], "s", None]
    plain = [rows[0], {"x": 3}, {"score": 0.5, "name": "café"}, [1], "s", None]
    written = write_jsonl(tmp_path / "out.jsonl", rows).read_bytes()
    assert written == b"".join(_old_line(r) for r in plain)
    assert written.startswith('{"a": 1, "é": "日本\u2028", "nested": [1, 2.5, null, true, {}]}\n'.encode())
    log = tmp_path / "deep" / "log.jsonl"
    for row in ({"step": 1, "loss": float("nan")}, {"note": "über"}):
        append_jsonl(log, row)
    assert log.read_bytes() == b'{"step": 1, "loss": NaN}\n' + _old_line({"note": "über"})


def test_a_row_that_cannot_be_written_leaves_the_old_file_whole(tmp_path):
    p = write_jsonl(tmp_path / "out.jsonl", [{"a": 1}])
    with pytest.raises(UnicodeEncodeError):
        write_jsonl(p, [{"a": 2}, {"b": "\ud800"}])
    with pytest.raises(UnicodeEncodeError):
        append_jsonl(p, {"b": "\ud800"})
    assert p.read_bytes() == b'{"a": 1}\n' and [f.name for f in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_torn_tail_still_repairs_even_when_cut_inside_a_character(tmp_path):
    p = tmp_path / "ledger.jsonl"
    append_jsonl(p, {"call_id": "c1", "cost": 0.25})
    append_jsonl(p, {"call_id": "c2", "model": "é"})
    whole = p.read_bytes()
    with open(p, "ab") as f:
        f.write('{"call_id": "c3", "model": "é'.encode()[:-1])  # a kill mid-write, mid-character
    rows = list(read_rows(p))  # a reader skips the torn line and does not repair
    assert [r["call_id"] for r in rows] == ["c1", "c2"] and rows[0]["cost"] == 0.25
    assert p.read_bytes() != whole
    assert repair_tail(p) == len('{"call_id": "c3", "model": "é'.encode()) - 1
    assert p.read_bytes() == whole and repair_tail(p) == 0
    with open(p, "ab") as f:
        f.write(b'{"call_id": "c4", "mod\n')  # a complete line that is not JSON: damage, named; repair cuts it
    with pytest.raises(InputError, match=r"ledger.jsonl:3 \[jsonl\]: damaged line"):
        list(read_rows(p))
    assert repair_tail(p) == len(b'{"call_id": "c4", "mod\n') and p.read_bytes() == whole
    append_jsonl(p, {"call_id": "c5"})
    assert [r["call_id"] for r in read_rows(p)] == ["c1", "c2", "c5"]


def test_the_one_split_writer_writes_a_file_per_split_and_the_sample_data_leaves_out_an_empty_one(tmp_path):
    from mlx_distill.io import write_splits
    from mlx_distill.testing.sample_data import small_records, write_small_data

    paths = write_splits(tmp_path / "a", {"train": [{"x": 1}, {"x": 2}], "valid": [], "test": [{"x": 3}]})
    assert list(paths) == ["train", "valid", "test"]
    assert [obj for _line, obj in read_jsonl(paths["train"])] == [{"x": 1}, {"x": 2}]
    assert paths["valid"].read_bytes() == b""  # the data build writes an empty split too
    assert [obj for _line, obj in read_jsonl(paths["test"])] == [{"x": 3}]

    out = write_small_data(tmp_path / "b", 4, 2, 0)
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl", "valid.jsonl"]
    records = json.loads(json.dumps(small_records(6)))
    assert [obj for _line, obj in read_jsonl(out / "train.jsonl")] == records[:4]
    assert [obj for _line, obj in read_jsonl(out / "valid.jsonl")] == records[4:]
