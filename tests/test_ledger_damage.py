"""Damaged ledger rows never change a total without a word: a bad line anywhere (not only a torn tail)
is named by file and line and `economics` refuses, or with --skip-damaged says how many rows it left
out; a ledger of only invalid rows is not "0 calls, exit 0"; a FIFO ledger is refused, not ignored."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.economics.report import read_rows
from mlx_distill.teacher.ledger import Ledger, read_ledger
from mlx_distill.errors import InputError

TEACHER = "anthropic:claude-sonnet-4-5"
CALL = {"input_tokens": 900, "output_tokens": 120}


def _ledger(tmp_path, n: int = 120):
    """A real ledger of `n` collection calls (priced by the price table)."""
    ledger = Ledger(tmp_path / "store")
    for _ in range(n):
        ledger.append(kind="collect", model=TEACHER, usage=CALL, latency_s=1.0)
    return ledger.path


def _damage(path, lineno: int, text: bytes) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[lineno - 1] = text + b"\n"
    path.write_bytes(b"".join(lines))


@pytest.mark.parametrize(
    "bad, reason",
    [
        (b'{"kind": "collect", "cost_usd": 0.01', "invalid JSON"),
        (b'{"kind": "collect", "cost_usd": \xff}', "invalid UTF-8"),
        (b'{"kind": "collect", "cost_usd": NaN}', "NaN is not JSON"),
        (b'{"kind": "collect", "cost_usd": -0.5}', "`cost_usd` is -0.5, not a finite number >= 0"),
        (b'{"kind": "collect", "cost_usd": "0.01"}', "`cost_usd` is '0.01'"),
        (b'{"cost_usd": 0.01}', "no `kind`"),
        (b"[1, 2]", "expected a JSON object"),
    ],
)
def test_a_damaged_middle_row_is_named_by_its_line(tmp_path, bad, reason):
    path = _ledger(tmp_path)
    _damage(path, 60, bad)
    with pytest.raises(InputError) as e:
        read_ledger(path)
    assert str(e.value).startswith(f"{path}:60 [ledger]: damaged ") and reason in str(e.value)
    skipped: list[InputError] = []
    assert len(read_ledger(path, skipped=skipped)) == 119 and [s.line for s in skipped] == [60]


def test_economics_refuses_a_damaged_row_and_with_the_flag_counts_what_it_skipped(tmp_path):
    path = _ledger(tmp_path)
    _damage(path, 60, b"{not json")
    refused = CliRunner().invoke(main, ["economics", str(path.parent), "--out", str(tmp_path / "r")])
    assert refused.exit_code == 2 and not (tmp_path / "r").exists()
    assert refused.stderr.strip() == (
        f"error: {path}:60 [ledger]: damaged line: invalid JSON (Expecting property name enclosed in double quotes "
        "at column 2); pass --skip-damaged to leave damaged rows out"
    )
    ok = CliRunner().invoke(main, ["economics", str(path.parent), "--skip-damaged", "--out", str(tmp_path / "r")])
    assert ok.exit_code == 0, ok.output
    assert f"warning: skipped {path}:60 [ledger]" in ok.stderr
    assert "ledger rows counted                      119 (1 damaged rows skipped)" in ok.stdout
    data = json.loads((tmp_path / "r" / "economics.json").read_text())
    assert data["ledger"]["calls"] == 119 and len(data["skipped_rows"]) == 1
    assert "--skip-damaged" in (tmp_path / "r" / "economics.md").read_text()  # the reproduce line says so


def test_a_ledger_of_only_invalid_rows_is_not_zero_calls_and_exit_0(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"kind": "collect"}\nnot json\n{"cost_usd": 1}\n')
    result = CliRunner().invoke(main, ["economics", str(path)])
    assert result.exit_code == 2 and f"{path}:1 [ledger]: damaged row: `cost_usd` is None" in result.stderr
    result = CliRunner().invoke(main, ["economics", str(path), "--skip-damaged", "--json"])
    assert result.exit_code == 0 and result.stderr.count("warning: skipped") == 3
    assert json.loads(result.stdout)["ledger"]["calls"] == 0 and len(json.loads(result.stdout)["skipped_rows"]) == 3


def test_a_torn_last_line_is_still_left_alone_for_a_writer_mid_append(tmp_path):
    path = _ledger(tmp_path, 5)
    with open(path, "ab") as f:
        f.write(b'{"kind": "collect", "cost')
    assert len(read_ledger(path)) == 5
    assert len(Ledger(path.parent).rows()) == 5 and path.read_bytes().endswith(b"}\n")  # the writer cut it off


def test_a_fifo_ledger_is_refused_not_ignored(tmp_path):
    _ledger(tmp_path, 3)
    fifo = tmp_path / "more.jsonl"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["economics", str(tmp_path / "store"), "--ledger", str(fifo)])
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {fifo} [ledger]: a FIFO, not a regular file"
    with pytest.raises(InputError, match="a FIFO"):
        read_rows([fifo])
