"""The economics report from real ledgers (rows priced by the dated price table): cost per 1,000 calls
before and after routing, local fraction, fallbacks by reason, break-even, the PNG, and totals that are
the sum of the per-call rows."""

import json
import math

import pytest
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.economics.report import analyze, read_rows
from mlx_distill.teacher.ledger import Ledger, read_ledger
from mlx_distill.teacher.prices import load_prices

TEACHER = "anthropic:claude-sonnet-5-5"
CALL = {"input_tokens": 900, "output_tokens": 120}


@pytest.fixture
def ledgers(tmp_path):
    store, router = Ledger(tmp_path / "run" / "store"), Ledger(tmp_path / "run" / "router")
    for _ in range(40):  # collection: 40 teacher calls
        store.append(kind="collect", model=TEACHER, usage=CALL, latency_s=1.0)
    for i in range(100):  # routed: 88 answered by the student, 12 fallbacks
        if i < 88:
            router.append(
                kind="route",
                model="local:mlx:student",
                usage=CALL,
                latency_s=0.2,
                cost_usd=0.0,
                answered_by="student",
                reason=None,
            )
        else:
            router.append(
                kind="route",
                model=TEACHER,
                usage=CALL,
                latency_s=1.0,
                answered_by="teacher",
                reason="low_confidence" if i < 96 else "unparseable",
            )
    for i in range(5):  # drift checks, one disagreement
        router.append(kind="drift", model=TEACHER, usage=CALL, latency_s=1.0, agree=i > 0)
    return tmp_path / "run", store, router


def test_analysis_by_hand(ledgers):
    root, store, router = ledgers
    rows = read_rows([store.path, router.path])
    e = analyze(rows)
    per_call = load_prices().cost(TEACHER, CALL)  # $0.0045 for 900 in + 120 out on Sonnet 4.5
    assert e["teacher_cost_per_call"] == pytest.approx(per_call)
    assert e["routed_calls"] == 100 and e["local_fraction"] == pytest.approx(0.88)
    assert e["fallback_rate_by_reason"] == pytest.approx({"low_confidence": 0.08, "unparseable": 0.04})
    assert e["cost_per_1k_before"] == pytest.approx(1000 * per_call)
    assert e["cost_per_1k_after"] == pytest.approx(1000 * (12 + 5) * per_call / 100)
    assert e["collection_cost"] == pytest.approx(40 * per_call)
    saving = per_call - 17 * per_call / 100
    assert e["break_even_calls"] == math.ceil(40 * per_call / saving) == 49
    assert e["drift_agreement"] == pytest.approx(0.8)
    ledger_sum = sum(r["cost_usd"] for r in read_ledger(store.path) + read_ledger(router.path))
    assert e["ledger"]["cost_usd"] == pytest.approx(ledger_sum, abs=1e-6)
    assert e["ledger"]["calls_by_kind"] == {"collect": 40, "route": 100, "drift": 5}


def test_training_time_at_a_given_rate_moves_break_even(ledgers, tmp_path):
    root, store, router = ledgers
    rows = read_rows([store.path, router.path])
    base = analyze(rows)
    trained = analyze(rows, training_s=1800, training_usd_per_hour=2.0)
    assert trained["training_cost"] == pytest.approx(1.0)
    assert trained["break_even_calls"] == math.ceil((base["collection_cost"] + 1.0) / base["saving_per_call"])


def test_no_saving_means_no_break_even(tmp_path):
    router = Ledger(tmp_path / "r")
    for _ in range(3):
        router.append(kind="route", model=TEACHER, usage=CALL, latency_s=1.0, answered_by="teacher", reason="empty")
    e = analyze(read_ledger(router.path))
    assert e["local_fraction"] == 0.0 and e["break_even_calls"] is None


def test_cli_writes_markdown_json_and_chart(ledgers, tmp_path):
    root, _, _ = ledgers
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "state.json").write_text(json.dumps({"step": 60, "train_seconds": 619.0}))
    res = CliRunner().invoke(
        main, ["economics", str(root), "--adapter-path", str(tmp_path / "adapter"), "--training-usd-per-hour", "1.5"]
    )
    assert res.exit_code == 0, res.output
    assert "break-even" in res.stdout and "answered locally" in res.stdout and "88 (88.0%)" in res.stdout
    data = json.loads((root / "economics.json").read_text())
    assert data["training_s"] == 619.0 and data["training_cost"] == pytest.approx(619 / 3600 * 1.5)
    assert len(data["ledgers"]) == 2
    assert (root / "economics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (root / "economics.md").read_text()
    assert "Reproduce: `mlx-distill economics" in md and "--training-usd-per-hour 1.5" in md


def test_cli_without_a_ledger_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(main, ["economics", str(tmp_path)])
    assert res.exit_code == 2 and "no ledger.jsonl found" in res.stderr
