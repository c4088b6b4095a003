"""The teacher core: the loopback Messages API fake (through the real anthropic SDK), the price table,
the ledger, the store and teacher resolution."""

import asyncio
import json

import anthropic
import pytest

from mlx_distill.teacher.ledger import Ledger, read_ledger, totals
from mlx_distill.teacher.prices import Usage, cost
from mlx_distill.data.sources.teacher_store import Verdict, read_store
from mlx_distill.teacher.store import TeacherStore, record_key
from mlx_distill.teacher.model import TeacherError, resolve_teacher, teacher_id
from mlx_distill.schema import Record
from mlx_distill.testing.fake_anthropic import FakeAnthropic, Fault, count_tokens

MODEL = "claude-sonnet-5-5"


@pytest.fixture
def fake():
    with FakeAnthropic(
        {"Which file defines main?": [{"tool": "grep", "input": {"pattern": "def main"}}, "src/app.py defines main."]}
    ) as f:
        yield f


def client(fake, **kw):
    kw.setdefault("max_retries", 2)
    return anthropic.Anthropic(api_key="sk-ant-fake", base_url=fake.base_url, **kw)


def ask(c, question, **kw):
    return c.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": question}], **kw)


def test_fake_answers_scripted_turns_with_tool_use_then_text(fake):
    c = client(fake)
    first = ask(c, "Which file defines main?")
    assert first.stop_reason == "tool_use"
    assert first.content[0].type == "tool_use" and first.content[0].name == "grep"
    assert first.content[0].input == {"pattern": "def main"}
    second = c.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=[
            {"role": "user", "content": "Which file defines main?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": first.content[0].id, "name": "grep", "input": {"pattern": "def main"}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": first.content[0].id, "content": "src/app.py:1:def main():"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn" and second.content[0].text == "src/app.py defines main."
    assert ask(c, "What is a tuple?").content[0].text == fake.default_reply


def test_fake_reports_cache_writes_then_reads_for_marked_system_prompt(fake):
    c = client(fake)
    system = [{"type": "text", "text": "You are a coding assistant. " * 20, "cache_control": {"type": "ephemeral"}}]
    one = ask(c, "What is a tuple?", system=system).usage
    two = ask(c, "What is a list?", system=system).usage
    assert one.cache_creation_input_tokens == count_tokens(system) and one.cache_read_input_tokens == 0
    assert two.cache_read_input_tokens == count_tokens(system) and two.cache_creation_input_tokens == 0
    plain = ask(c, "What is a set?", system="no cache mark").usage
    assert plain.cache_read_input_tokens == 0 and plain.cache_creation_input_tokens == 0
    counted = c.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "What is a list?"}])
    assert counted.input_tokens == count_tokens([{"role": "user", "content": "What is a list?"}])


@pytest.mark.parametrize(
    "fault", [Fault(429, retry_after_s=0.01), Fault(500), Fault(529), Fault("drop"), Fault("slow", delay_s=1.5)]
)
def test_sdk_retries_every_transient_fault_and_gets_the_answer(fake, fault):
    fake.inject(fault)
    c = client(fake, timeout=0.5)
    reply = ask(c, "What is a tuple?")
    assert reply.content[0].text == fake.default_reply
    assert len(fake.message_requests()) == 2  # the failed attempt and the retry


def test_429_carries_retry_after_and_a_persistent_fault_surfaces_after_retries(fake):
    fake.inject(Fault(429, retry_after_s=0.2, times=5))
    with pytest.raises(anthropic.RateLimitError) as e:
        ask(client(fake, max_retries=1), "What is a tuple?")
    assert e.value.response.headers["retry-after"] == "0.2"
    assert len(fake.message_requests()) == 2


@pytest.mark.parametrize(
    "status, error",
    [(400, anthropic.BadRequestError), (401, anthropic.AuthenticationError), (403, anthropic.PermissionDeniedError)],
)
def test_client_errors_are_not_retried(fake, status, error):
    fake.inject(Fault(status))
    with pytest.raises(error):
        ask(client(fake), "What is a tuple?")
    assert len(fake.message_requests()) == 1


def test_fake_refuses_a_request_without_key():
    with FakeAnthropic(api_keys=("right",)) as f:
        with pytest.raises(anthropic.AuthenticationError):
            ask(anthropic.Anthropic(api_key="wrong", base_url=f.base_url, max_retries=0), "hi")


def test_batches_end_and_return_results_in_shuffled_order_matched_by_custom_id():
    questions = [f"What is thing {i}?" for i in range(12)]
    with FakeAnthropic({q: [f"answer {i}"] for i, q in enumerate(questions)}, batch_polls=1, seed=3) as f:
        f.batch_expire[questions[2]] = 1
        c = client(f)
        batch = c.messages.batches.create(
            requests=[
                {
                    "custom_id": f"r{i}",
                    "params": {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": q}]},
                }
                for i, q in enumerate(questions)
            ]
        )
        assert batch.processing_status == "in_progress"
        assert c.messages.batches.retrieve(batch.id).processing_status == "in_progress"
        ended = c.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended" and ended.request_counts.expired == 1
        results = list(c.messages.batches.results(batch.id))
        ids = [r.custom_id for r in results]
        assert sorted(ids) == sorted(f"r{i}" for i in range(12)) and ids != [f"r{i}" for i in range(12)]
        by_id = {r.custom_id: r.result for r in results}
        assert by_id["r2"].type == "expired"
        assert by_id["r5"].type == "succeeded" and by_id["r5"].message.content[0].text == "answer 5"


# -- prices --------------------------------------------------------------------------------------


def test_usage_of_pydantic_ai_usage_splits_out_cache_tokens():
    from pydantic_ai.usage import RequestUsage

    u = Usage.of(RequestUsage(input_tokens=100, output_tokens=7, cache_write_tokens=30, cache_read_tokens=50))
    assert u == Usage(20, 7, 30, 50) and u.prompt_tokens == 100


# -- ledger --------------------------------------------------------------------------------------


def test_ledger_appends_rows_with_cost_and_sums_them(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append(kind="collect", model=f"anthropic:{MODEL}", usage=Usage(1000, 100, 800, 0), latency_s=0.5, key="k1")
    ledger.append(
        kind="collect",
        model=f"anthropic:{MODEL}",
        usage=Usage(1000, 100, 0, 800),
        latency_s=0.5,
        key="k2",
        batch=True,
        call_id="c2",
    )
    ledger.append(
        kind="shadow", model=f"anthropic:{MODEL}", usage=Usage(1000, 100, 0, 800), latency_s=0.5, call_id="c2"
    )  # the same call again: not written twice
    rows = read_ledger(tmp_path)
    assert [r["key"] for r in rows] == ["k1", "k2"]
    assert rows[0]["cost_usd"] == pytest.approx(cost(f"anthropic:{MODEL}", Usage(1000, 100, 800, 0)))
    assert rows[1]["cost_usd"] == pytest.approx(cost(f"anthropic:{MODEL}", Usage(1000, 100, 0, 800), batch=True))
    t = totals(rows)
    assert t["calls"] == 2 and t["batch_calls"] == 1
    assert t["cost_usd"] == pytest.approx(rows[0]["cost_usd"] + rows[1]["cost_usd"], abs=1e-6)
    assert t["cache_hit_rate"] == pytest.approx(800 / 3600, abs=1e-4)
    assert t["saved_usd"] > 0 and rows[1]["saved_usd"] > 0 > rows[0]["saved_usd"]  # a write costs, a read saves
    assert {"timestamp", "latency_s", "usage", "kind", "model"} <= set(rows[0])


def test_a_torn_last_ledger_line_is_cut_off_on_open(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append(kind="collect", model=f"anthropic:{MODEL}", usage=Usage(10, 10), latency_s=0.1)
    with open(ledger.path, "a") as f:
        f.write('{"kind": "collect", "model": "anthr')
    assert len(read_ledger(tmp_path)) == 1  # readers skip it
    Ledger(tmp_path).append(kind="collect", model=f"anthropic:{MODEL}", usage=Usage(10, 10), latency_s=0.1)
    lines = ledger.path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)


# -- store ---------------------------------------------------------------------------------------


def _record(key, accepted=True, qid="q1"):
    verdict = Verdict.accept() if accepted else Verdict.reject("tool-error", "grep failed")
    return Record.model_validate(
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "q?"},
                {"role": "assistant", "content": "a."},
            ],
            "meta": {
                "id": qid,
                "source": "teacher",
                "category": "read",
                "label": "direct",
                "key": key,
                "verdict": verdict.to_json(),
            },
        }
    )


def test_record_key_changes_with_everything_that_decides_the_answer():
    base = dict(
        prompt={"id": "q1", "question": "Q?", "workspace": {"generator": "todo_count", "seed": 1000}},
        teacher="anthropic:x",
        settings={"temperature": 0},
        system_prompt="S",
        tools=[{"name": "grep"}],
    )
    key = record_key(**base)
    assert key == record_key(**{**base, "prompt": {**base["prompt"], "id": "other id"}})
    for change in (
        {"prompt": {**base["prompt"], "workspace": {"generator": "todo_count", "seed": 1001}}},
        {"teacher": "anthropic:y"},
        {"settings": {"temperature": 1}},
        {"system_prompt": "T"},
        {"tools": []},
        {"prompt": {**base["prompt"], "question": "Q2?"}},
    ):
        assert record_key(**{**base, **change}) != key


def test_store_keeps_each_key_once_and_survives_a_torn_line(tmp_path):
    store = TeacherStore(tmp_path)
    assert store.add(_record("k1")) and not store.add(_record("k1"))
    store.add(_record("k2", accepted=False, qid="q2"))
    store.add_turn("k3", "fp0", {"response": {"x": 1}})
    with open(store.records_path, "a") as f:
        f.write('{"messages": [{"role": "sys')
    again = TeacherStore(tmp_path)
    assert again.repaired == {"records.jsonl": len('{"messages": [{"role": "sys')}
    assert "k1" in again and "k2" in again and len(again) == 2
    assert again.turn("k3", "fp0")["response"] == {"x": 1}
    assert [r.meta.key for r in again.records(accepted=True)] == ["k1"]
    rejected = again.records(accepted=False)[0]
    assert rejected.meta.verdict == {"accepted": False, "reason": "tool-error", "detail": "grep failed"}
    assert [r.meta.key for _line, r in read_store(tmp_path)] == ["k1"]
    assert [r.meta.key for _line, r in read_store(tmp_path, accepted=None)] == ["k1", "k2"]


# -- teacher -------------------------------------------------------------------------------------


def test_anthropic_teacher_runs_the_real_agent_against_the_fake_with_cache_marks(fake, tmp_path, monkeypatch):
    from mlx_distill.agent import create_agent

    for k, v in fake.env().items():
        monkeypatch.setenv(k, v)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def main():\n    return 0\n")
    teacher = resolve_teacher(f"anthropic:{MODEL}")
    agent = create_agent(teacher, workspace=tmp_path)
    result = asyncio.run(agent.run("Which file defines main?"))
    assert result.output == "src/app.py defines main."
    first, second = fake.message_requests()
    assert first["model"] == MODEL
    assert first["tools"][-1]["cache_control"]["type"] == "ephemeral"
    assert first["system"][-1]["cache_control"]["type"] == "ephemeral"
    tool_result = second["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and "src/app.py:1:def main():" in json.dumps(tool_result)


def test_teacher_resolution_errors_and_ids(monkeypatch, tiny_model_dir):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(TeacherError, match="anthropic:claude"):
        resolve_teacher(f"anthropic:{MODEL}")
    with pytest.raises(TeacherError, match="adapter"):
        resolve_teacher(f"anthropic:{MODEL}", adapter_path="adapters")
    assert resolve_teacher("test").system == "test"
    local = resolve_teacher(str(tiny_model_dir))
    assert type(local).__name__ == "MLXModel"
    assert teacher_id(str(tiny_model_dir)) == f"mlx:{tiny_model_dir}"
    assert teacher_id(f"anthropic:{MODEL}") == f"anthropic:{MODEL}"


def test_the_teacher_transforms_each_tool_schema_once_and_exactly_as_pydantic_ai_does(fake, monkeypatch):
    from pydantic_ai.models import ModelRequestParameters
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.tools import ToolDefinition

    from mlx_distill.tools import tool_schemas

    for k, v in fake.env().items():
        monkeypatch.setenv(k, v)
    teacher = resolve_teacher(f"anthropic:{MODEL}")
    plain = AnthropicModel(MODEL, provider=teacher._provider)
    params = ModelRequestParameters(
        function_tools=[
            ToolDefinition(
                name=s["function"]["name"],
                description=s["function"]["description"],
                parameters_json_schema=s["function"]["parameters"],
            )
            for s in tool_schemas()
        ]
    )
    ours, theirs = teacher.customize_request_parameters(params), plain.customize_request_parameters(params)
    assert ours == theirs and isinstance(teacher, AnthropicModel)
    assert len(teacher._schema_cache) == 5
    again = teacher.customize_request_parameters(params)
    assert again == theirs and len(teacher._schema_cache) == 5
    again.function_tools[0].parameters_json_schema["mutated"] = True  # a caller's change never reaches the cache
    assert teacher.customize_request_parameters(params) == theirs
