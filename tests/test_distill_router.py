"""The router through the real agent (`create_agent`, real tools in a temporary workspace): a real MLX
student (the tiny model, its generations scripted by a logits processor) answers first; each kind of
unusable turn goes to the teacher with its reason recorded, and a valid student turn never does."""

import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.agent.generation import forced_reply, scripted_replies
from mlx_distill.distill.router import Router, split_router_name

TEACHER_ANSWER = "The teacher answers: two files."


def teacher_fn(messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(TEACHER_ANSWER)], model_name="teacher")


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "b.py").write_text("print(2)\n")
    return tmp_path


def _route(student, workspace, question="Which files are here?", **kwargs):
    router = Router(student, FunctionModel(teacher_fn, model_name="teacher"), **kwargs)
    agent = create_agent(router, workspace=workspace, max_requests=6)
    return router, run_question(agent, question)


@pytest.mark.parametrize("reply,reason", [
    ('<tool_call>\n{"name": "list_files", "arguments": {"path": </tool_call>', "unparseable"),
    ("", "empty"),
    ('<tool_call>\n{"name": "delete_everything", "arguments": {}}\n</tool_call>', "unknown_tool"),
    ('<tool_call>\n{"name": "read_file", "arguments": {"path": 3}}\n</tool_call>', "invalid_arguments"),
])
def test_an_unusable_student_turn_goes_to_the_teacher_with_its_reason(scripted, workspace, reply, reason):
    router, out = _route(scripted([reply]), workspace)
    assert out.outcome == "answered" and out.final_text == TEACHER_ANSWER
    assert router.stats.to_json() == {"calls": 1, "answered_by_student": 0, "answered_by_teacher": 1,
                                      "local_fraction": 0.0, "fallback_reasons": {reason: 1}}


def test_a_student_that_fails_falls_back_with_reason_error(workspace):
    def crashes(messages, info):
        raise RuntimeError("the student fell over")

    router, out = _route(FunctionModel(crashes), workspace)
    assert out.final_text == TEACHER_ANSWER and router.stats.reasons == {"error": 1}


def test_a_repeated_call_is_a_loop_and_goes_to_the_teacher(scripted, workspace):
    call = '<tool_call>\n{"name": "list_files", "arguments": {}}\n</tool_call>'
    router, out = _route(scripted([call, call]), workspace)
    assert [c.name for c in out.tool_calls] == ["list_files"]  # the student's first call ran, for real
    assert "a.py" in out.tool_calls[0].result
    assert out.final_text == TEACHER_ANSWER
    assert router.stats.student == 1 and router.stats.reasons == {"loop": 1}


def test_valid_student_turns_never_fall_back(scripted, workspace):
    call = '<tool_call>\n{"name": "list_files", "arguments": {"path": "."}}\n</tool_call>'
    router, out = _route(scripted([call, "There are two files: a.py and b.py."]), workspace, min_margin=0.5)
    assert out.final_text == "There are two files: a.py and b.py."
    assert router.stats.to_json()["fallback_reasons"] == {} and router.stats.local_fraction == 1.0
    router, out = _route(scripted(["A mutex is a lock."]), workspace, "What is a mutex?", min_margin=0.5)
    assert out.final_text == "A mutex is a lock." and router.stats.teacher == 0


def test_a_low_first_token_margin_goes_to_the_teacher(tiny_model_dir, workspace):
    student = MLXModel(str(tiny_model_dir))
    opener = student.decision_probe().opener_id
    tok = student.tokenizer
    first = tok.encode("Maybe.", add_special_tokens=False)[0]

    def undecided(_tokens, logits):  # first step: the opener and another token equally likely
        import mlx.core as mx

        ids = mx.broadcast_to(mx.arange(logits.shape[-1]), logits.shape)
        return mx.where((ids == opener) | (ids == first), mx.array(0.0), mx.array(-1e9)).astype(logits.dtype)

    student.logits_processors = lambda: [forced_reply(tok, "Maybe."), _first_step_only(undecided)]
    router, out = _route(student, workspace, min_margin=0.2)
    assert router.stats.reasons.get("error") is None, out.messages
    assert router.stats.reasons == {"low_confidence": 1} and out.final_text == TEACHER_ANSWER
    # the same student with no margin threshold keeps its turn
    router, out = _route(student, workspace)
    assert router.stats.student == 1 and router.stats.teacher == 0


def _first_step_only(processor):
    state = {"n": 0}

    def wrapped(tokens, logits):
        state["n"] += 1
        return processor(tokens, logits) if state["n"] == 1 else logits

    return wrapped


def test_student_retries_let_the_agent_retry_before_the_teacher(scripted, workspace):
    bad = '<tool_call>\n{"name": "list_files", "arguments": {"path": </tool_call>'
    router, out = _route(scripted([bad, "Two files."]), workspace, student_retries=1)
    assert out.final_text == "Two files." and router.stats.teacher == 0
    router, out = _route(scripted([bad, bad]), workspace, student_retries=1)
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
        "embedded:smollm2-135m", "anthropic:claude-haiku-4-5")
    with pytest.raises(ValueError, match="router:STUDENT\\+TEACHER"):
        split_router_name("router:only-one")
