"""Drift watch through the router and the real agent, with the teacher on the loopback Messages API: the
sampled fraction of student turns matches the configured rate, agreement is tracked in the ledger, and
when the student stops agreeing a DriftWarning fires, the gate fails on the ledger, and the teacher's
turns are kept as valid training records."""

import warnings

import pytest
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mlx_distill.agent import create_agent, run_question
from mlx_distill.data.validate import validate_records
from mlx_distill.economics.drift import DriftWarning, DriftWatch, apply_drift, ledger_drift
from mlx_distill.teacher.ledger import Ledger, read_ledger
from mlx_distill.economics.router import Router
from mlx_distill.data.sources.teacher_store import read_store
from mlx_distill.teacher.model import anthropic_model
from mlx_distill.testing.fake_anthropic import FakeAnthropic

ANSWER = "A mutex lets one thread at a time into a critical section."
WORKSPACE_QUESTIONS = [f"Which files are in folder {i}?" for i in range(4)]


def direct_student(messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(ANSWER)])


@pytest.fixture(scope="module")
def fake():
    script = {
        q: [{"tool": "list_files", "input": {"path": f"folder{i}"}}, "Two files."]
        for i, q in enumerate(WORKSPACE_QUESTIONS)
    }
    with FakeAnthropic(script, default_reply=ANSWER) as f:
        yield f


def _router(fake, tmp_path, drift):
    teacher = anthropic_model("claude-haiku-4-5", api_key="sk-ant-fake", base_url=fake.base_url, max_retries=0)
    return Router(FunctionModel(direct_student), teacher, ledger=drift.ledger, drift=drift)


def test_sampling_rate_is_within_tolerance_and_agreement_is_tracked(fake, tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    drift = DriftWatch(rate=0.2, seed=7, ledger=ledger, window=500)
    router = _router(fake, tmp_path, drift)
    agent = create_agent(router, workspace=tmp_path, tools=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DriftWarning)
        for i in range(300):
            assert run_question(agent, f"What is a mutex? ({i})").final_text == ANSWER
    assert drift.offered == 300
    assert abs(drift.sampled / 300 - 0.2) < 0.05
    rows = read_ledger(ledger.path)
    checks = [r for r in rows if r["kind"] == "drift"]
    assert len(checks) == drift.sampled  # every check finished before its run returned
    assert all(r["agree"] for r in checks) and drift.rolling_agreement == 1.0 and not drift.below()
    assert sum(r["kind"] == "route" for r in rows) == 300 and router.stats.local_fraction == 1.0


def test_disagreement_warns_fails_the_gate_and_becomes_training_data(fake, tmp_path):
    ledger = Ledger(tmp_path / "ledger")
    drift = DriftWatch(rate=1.0, min_samples=3, ledger=ledger, store=tmp_path / "store")
    router = _router(fake, tmp_path, drift)
    agent = create_agent(router, workspace=tmp_path)
    with pytest.warns(DriftWarning, match="agreed with the teacher on 0.0% of the last 3"):
        for q in WORKSPACE_QUESTIONS[:3]:
            assert run_question(agent, q).final_text == ANSWER  # the user still got the student's answer
    status = ledger_drift(ledger.path, threshold=0.95, min_samples=3)
    assert status["below"] and status["rolling_agreement"] == 0.0 and status["checks"] == 3
    kept = [r for _, r in read_store(tmp_path / "store")]
    assert len(kept) == 3 and {r.meta.label for r in kept} == {"tool"}
    assert kept[0].messages[-1].tool_calls[0].function.name == "list_files"
    assert validate_records(kept).errors == []

    from mlx_distill.economics.gate import GateResult

    passing = GateResult(
        student="s", against="a", kind="records", threshold=0.95, passed=True, agreement={}, decision={}, cases=[]
    )
    failed = apply_drift(passing, ledger.path, min_samples=3)
    assert not failed.passed and "drift" in failed.reasons[0]


def test_drift_rate_must_be_a_fraction():
    with pytest.raises(ValueError, match="0..1"):
        DriftWatch(rate=5)
