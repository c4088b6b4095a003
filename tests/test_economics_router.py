"""The router through the real agent (`create_agent`, real tools in a temporary workspace): a real MLX
student (the tiny model, its generations scripted by a logits processor) answers first, the teacher is
Claude's wire protocol on a loopback fake through the real anthropic SDK. Each kind of unusable turn
goes to the teacher with its reason in the ledger, a valid student turn never does, and the ledger's
totals are the sum of its per-call rows."""

import pytest
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.function import FunctionModel

from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.agent.generation import forced_reply
from mlx_distill.teacher.ledger import Ledger, read_ledger, totals
from mlx_distill.teacher.prices import load_prices
from mlx_distill.economics.router import Router
from mlx_distill.models.names import split_router_name
from mlx_distill.teacher.model import anthropic_model
from mlx_distill.testing.fake_anthropic import FakeAnthropic

TEACHER_ANSWER = "The teacher answers: two files."
TEACHER = "claude-haiku-4-5"


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic(default_reply=TEACHER_ANSWER) as f:
        yield f


@pytest.fixture
def teacher(fake):
    return lambda: anthropic_model(TEACHER, api_key="sk-ant-fake", base_url=fake.base_url, max_retries=0)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(tmp_path / "ledger")


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "b.py").write_text("print(2)\n")
    return tmp_path


@pytest.fixture
def route(teacher, ledger, workspace):
    def run(student, question="Which files are here?", **kwargs):
        router = Router(student, teacher(), ledger=ledger, **kwargs)
        agent = create_agent(router, workspace=workspace, max_requests=6)
        return router, run_question(agent, question)

    return run


@pytest.mark.parametrize(
    "reply,reason",
    [
        ('<tool_call>\n{"name": "list_files", "arguments": {"path": </tool_call>', "unparseable"),
        ("", "empty"),
        ('<tool_call>\n{"name": "delete_everything", "arguments": {}}\n</tool_call>', "unknown_tool"),
        ('<tool_call>\n{"name": "read_file", "arguments": {"path": 3}}\n</tool_call>', "invalid_arguments"),
    ],
)
def test_an_unusable_student_turn_goes_to_the_teacher_with_its_reason(scripted, route, ledger, reply, reason):
    router, out = route(scripted([reply]))
    assert out.outcome == "answered" and out.final_text == TEACHER_ANSWER
    assert router.stats.to_json() == {
        "calls": 1,
        "answered_by_student": 0,
        "answered_by_teacher": 1,
        "local_fraction": 0.0,
        "fallback_reasons": {reason: 1},
    }
    (row,) = read_ledger(ledger.path)
    assert (row["kind"], row["answered_by"], row["reason"]) == ("route", "teacher", reason)
    assert row["model"] == f"anthropic:{TEACHER}" and row["usage"]["output_tokens"] > 0
    assert row["cost_usd"] > 0
    assert row["cost_usd"] == pytest.approx(load_prices().cost(row["model"], row["usage"]), abs=1e-8)


def test_a_student_that_fails_falls_back_with_reason_error(route, ledger):
    def crashes(messages, info):
        raise RuntimeError("the student fell over")

    router, out = route(FunctionModel(crashes))
    assert out.final_text == TEACHER_ANSWER and router.stats.reasons == {"error": 1}
    assert read_ledger(ledger.path)[0]["error"] == "RuntimeError: the student fell over"


def test_a_repeated_call_is_a_loop_and_goes_to_the_teacher(scripted, route, ledger):
    call = '<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>'
    router, out = route(scripted([call, call]))
    assert [c.name for c in out.tool_calls] == ["list_files"]  # the student's first call ran, for real
    assert "a.py" in out.tool_calls[0].result
    assert out.final_text == TEACHER_ANSWER
    assert router.stats.student == 1 and router.stats.reasons == {"loop": 1}
    rows = read_ledger(ledger.path)
    assert [(r["answered_by"], r["reason"], r["cost_usd"] > 0) for r in rows] == [
        ("student", None, False),
        ("teacher", "loop", True),
    ]
    assert totals(rows)["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows), abs=1e-6)
    assert totals(rows)["calls"] == 2


def test_valid_student_turns_never_fall_back(scripted, route, ledger, fake):
    asked = len(fake.message_requests())
    call = '<tool_call>\n{"name": "list_files", "arguments": {"path": "."}}\n</tool_call>'
    router, out = route(scripted([call, "There are two files: a.py and b.py."]), min_margin=0.5)
    assert out.final_text == "There are two files: a.py and b.py."
    assert router.stats.to_json()["fallback_reasons"] == {} and router.stats.local_fraction == 1.0
    router, out = route(scripted(["A mutex is a lock."]), "What is a mutex?", min_margin=0.5)
    assert out.final_text == "A mutex is a lock." and router.stats.teacher == 0
    assert len(fake.message_requests()) == asked  # the teacher was never asked
    rows = read_ledger(ledger.path)
    assert len(rows) == 3 and {r["answered_by"] for r in rows} == {"student"} and totals(rows)["cost_usd"] == 0


def test_a_low_first_token_margin_goes_to_the_teacher(tiny_model_dir, route):
    student = MLXModel(str(tiny_model_dir))
    opener = student.decision_probe().opener_id
    tok = student.tokenizer
    first = tok.encode("Maybe.", add_special_tokens=False)[0]

    def undecided(_tokens, logits):  # first step: the opener and another token equally likely
        import mlx.core as mx

        ids = mx.broadcast_to(mx.arange(logits.shape[-1]), logits.shape)
        return mx.where((ids == opener) | (ids == first), mx.array(0.0), mx.array(-1e9)).astype(logits.dtype)

    student.logits_processors = lambda: [forced_reply(tok, "Maybe."), _first_step_only(undecided)]
    router, out = route(student, min_margin=0.2)
    assert router.stats.reasons == {"low_confidence": 1} and out.final_text == TEACHER_ANSWER
    # the same student with no margin threshold keeps its turn
    router, out = route(student)
    assert router.stats.student == 1 and router.stats.teacher == 0


def _first_step_only(processor):
    state = {"n": 0}

    def wrapped(tokens, logits):
        state["n"] += 1
        return processor(tokens, logits) if state["n"] == 1 else logits

    return wrapped


def test_student_retries_let_the_agent_retry_before_the_teacher(scripted, route):
    bad = '<tool_call>\n{"name": "list_files", "arguments": {"path": </tool_call>'
    router, out = route(scripted([bad, "Two files."]), student_retries=1)
    assert out.final_text == "Two files." and router.stats.teacher == 0
    router, out = route(scripted([bad, bad]), student_retries=1)
    assert out.final_text == TEACHER_ANSWER and router.stats.reasons == {"unparseable": 1}


def test_mlx_responses_carry_the_first_token_margin(scripted, workspace):
    student = scripted(['<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>', "Two."])
    agent = create_agent(student, workspace=workspace)
    out = run_question(agent, "Which files are here?")
    details = [m.provider_details for m in out.messages if isinstance(m, ModelResponse)]
    assert details[0]["p_tool_call"] == pytest.approx(1.0) and details[0]["decision_margin"] == pytest.approx(1.0)
    assert details[1]["p_tool_call"] == pytest.approx(0.0, abs=1e-6)


def test_router_names():
    assert split_router_name("router:embedded:smollm2-135m+anthropic:claude-haiku-4-5") == (
        "embedded:smollm2-135m",
        "anthropic:claude-haiku-4-5",
        {},
    )
    assert split_router_name("router:a/b+c:d?min_margin=0.3&student_retries=1")[2] == {
        "min_margin": 0.3,
        "student_retries": 1,
    }
    with pytest.raises(ValueError, match="router:STUDENT\\+TEACHER"):
        split_router_name("router:only-one")
    with pytest.raises(ValueError, match="unknown router option 'margin'"):
        split_router_name("router:a+b?margin=1")


def test_bench_runs_the_router_as_a_model(tiny_model_dir, fake, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from mlx_distill.cli import main

    for k, v in fake.env().items():
        monkeypatch.setenv(k, v)
    suite = tmp_path / "mini.jsonl"
    suite.write_text(
        json.dumps(
            {
                "id": "d1",
                "question": "What is a mutex?",
                "label": "direct",
                "category": "concept",
                "answer": {"type": "any_of", "keywords": ["two files"]},
            }
        )
        + "\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "-m",
            f"router:{tiny_model_dir}+anthropic:{TEACHER}",
            "--suite",
            str(suite),
            "--max-tokens",
            "4",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "run" / "report.json").read_text())
    routing = data["models"][0]["routing"]
    assert routing["calls"] == routing["answered_by_student"] + routing["answered_by_teacher"] >= 1
    assert "model calls answered by the student" in res.stdout
    rows = read_ledger(tmp_path / "run" / "router")  # the run's ledger, for `mlx-distill economics`
    assert len(rows) == routing["calls"] and {r["kind"] for r in rows} == {"route"}
    res = CliRunner().invoke(main, ["economics", str(tmp_path / "run")])
    assert res.exit_code == 0 and "answered locally" in res.stdout


def test_a_streamed_run_is_judged_too(scripted, teacher, ledger, workspace):
    import asyncio
    import warnings

    router = Router(scripted(["", "unused"]), teacher(), ledger=ledger)
    agent = create_agent(router, workspace=workspace)

    async def run():
        async with agent.run_stream("Which files are here?") as result:
            return await result.get_output()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "response handlers not applied" warning
        assert asyncio.run(run()) == TEACHER_ANSWER
    assert router.stats.reasons == {"empty": 1}
    assert read_ledger(ledger.path)[0]["reason"] == "empty"
