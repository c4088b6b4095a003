"""Shadow recording: a real agent over the teacher (the real anthropic SDK against the loopback fake
Messages API, real tools in a real workspace) with the `ShadowRecorder` capability added. Each run
becomes one verified, redacted teacher record that the validator accepts and `data build` reads;
every request is a ledger row; segments rotate by size."""

import json

import pytest
import yaml

from mlx_distill.agent import create_agent, run_question
from mlx_distill.data.build import build
from mlx_distill.data.validate import validate_records
from mlx_distill.teacher.ledger import read_ledger, totals
from mlx_distill.teacher.redact import PLACEHOLDER, redact_text
from mlx_distill.data.sources.teacher_store import read_store, shadow_segments
from mlx_distill.economics.shadow import ShadowRecorder
from mlx_distill.teacher.model import anthropic_model
from mlx_distill.testing.fake_anthropic import FakeAnthropic

TOKEN = "sk-ant-api03-" + "Q" * 40
ENV_SECRET = "hunter2-very-secret-value"
QUESTIONS = {
    "What is in config.py?": [
        {"tool": "read_file", "input": {"path": "config.py"}},
        "config.py sets the API key and the port 8080.",
    ],
    "Which file sets the port?": [{"tool": "grep", "input": {"pattern": "PORT"}}, "config.py sets PORT = 8080."],
    "What is a mutex?": ["A mutex is a lock that lets one thread at a time into a critical section."],
}


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "config.py").write_text(f'API_KEY = "{TOKEN}"\nDB_PASSWORD = "{ENV_SECRET}"\nPORT = 8080\n')
    return ws


@pytest.fixture
def agent_factory(workspace, monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_SECRET)

    def make(fake, root, **kw):
        teacher = anthropic_model("claude-sonnet-5-5", api_key="sk-ant-fake", base_url=fake.base_url, max_retries=0)
        return create_agent(teacher, workspace=workspace, capabilities=[ShadowRecorder(root, **kw)])

    return make


def test_each_teacher_run_becomes_one_valid_redacted_record_that_data_build_reads(agent_factory, tmp_path):
    root = tmp_path / "shadow"
    with FakeAnthropic(QUESTIONS) as fake:
        agent = agent_factory(fake, root)
        for q in QUESTIONS:
            assert run_question(agent, q).outcome == "answered"
    (segment,) = shadow_segments(root)
    records = [r for _, r in read_store(segment, accepted=None)]
    assert len(records) == 3 and all(r.meta.verdict["accepted"] for r in records)
    first = records[0]
    assert [m.role for m in first.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert first.messages[3].name == "read_file" and "PORT = 8080" in first.messages[3].content  # the real result
    assert {t["function"]["name"] for t in first.tools} >= {"read_file", "grep"}
    assert first.meta.teacher == "anthropic:claude-sonnet-5-5" and first.meta.requests == 2
    assert first.meta.cost_usd > 0 and first.meta.usage["output_tokens"] > 0 and first.meta.timestamp
    assert [r.meta.label for r in records] == ["tool", "tool", "direct"]
    text = (segment / "records.jsonl").read_text()
    assert TOKEN not in text and ENV_SECRET not in text and PLACEHOLDER in text
    assert validate_records(records).errors == []

    rows = read_ledger(root)
    assert [r["kind"] for r in rows] == ["shadow"] * 5  # 2 + 2 + 1 requests
    assert sum(r.meta.cost_usd for r in records) == pytest.approx(totals(rows)["cost_usd"], abs=1e-6)

    config = tmp_path / "data.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "seed": 0,
                "output_dir": str(tmp_path / "built"),
                "sources": [{"type": "teacher", "paths": [str(root)]}],
                "validation": {"model": None, "bench": []},
                "split": {"valid": 0.0, "test": 0.0},
            }
        )
    )
    build(config, use_template=False)
    built = [json.loads(line) for line in (tmp_path / "built" / "train.jsonl").read_text().splitlines()]
    assert sorted(r["meta"]["id"] for r in built) == sorted(r.meta.id for r in records)


def test_recording_moves_to_a_new_segment_when_one_is_full(agent_factory, tmp_path):
    root = tmp_path / "shadow"
    with FakeAnthropic(QUESTIONS) as fake:
        agent = agent_factory(fake, root, max_bytes=1)
        for q in list(QUESTIONS)[:2]:
            run_question(agent, q)
    assert [p.name for p in shadow_segments(root)] == ["000001", "000002"]
    assert [len(list(read_store(p))) for p in shadow_segments(root)] == [1, 1]


def test_nothing_is_recorded_without_the_capability(workspace, tmp_path):
    with FakeAnthropic(QUESTIONS) as fake:
        teacher = anthropic_model("claude-sonnet-5-5", api_key="sk-ant-fake", base_url=fake.base_url)
        run_question(create_agent(teacher, workspace=workspace), "What is a mutex?")
    assert not any(tmp_path.rglob("records.jsonl"))


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "ghp_" + "a" * 36,
        "AKIAABCDEFGHIJKLMNOP",
        "xoxb-1234567890-abcdef",
        "hf_" + "b" * 34,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ],
)
def test_redaction_catches_common_token_formats(secret):
    out = redact_text(f"token here: {secret} end", env_values=[])
    assert secret not in out and PLACEHOLDER in out and out.endswith(" end")


def test_redaction_of_assignments_and_env_values_leaves_ordinary_text():
    out = redact_text('password = "correcthorse" and Authorization: Bearer abc.def.ghi123', env_values=["s3cr3t-v@lue"])
    assert "correcthorse" not in out and "abc.def.ghi123" not in out
    assert redact_text("deploy with s3cr3t-v@lue now", env_values=["s3cr3t-v@lue"]) == f"deploy with {PLACEHOLDER} now"
    plain = "The function reads the config and returns the port number 8080."
    assert redact_text(plain, env_values=[]) == plain
