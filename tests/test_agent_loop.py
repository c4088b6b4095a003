"""The agent loop end to end through MLXModel on a real tiny model: a tool executed in a temporary workspace,
its result fed back, a final answer; malformed calls retried with the reason; loops and limits ended with a
clear outcome. Plus the same capabilities behind a text-only model (pydantic-ai's FunctionModel)."""

import json

import pytest
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import FunctionModel

from mlx_distill.agent import create_agent, run_question
from mlx_distill.tools import Workspace


def call(name, **arguments):
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "todo.txt").write_text("ship it\n")
    return Workspace(tmp_path)


def test_tool_executed_result_fed_back_final_answer(scripted, workspace):
    model = scripted([call("read_file", path="notes.txt"), "The notes say hello."])
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"]), "What do the notes say?")
    assert (out.outcome, out.error, out.final_text) == ("answered", None, "The notes say hello.")
    assert [(c.name, c.arguments, c.result) for c in out.tool_calls] == [
        ("read_file", {"path": "notes.txt"}, "hello\n")
    ]
    assert out.requests == 2 and out.input_tokens > 0 and out.output_tokens > 0 and out.latency_s > 0
    assert "<tool_response>\nhello\n" in model.prompts[1]  # the real file's content reached the model


def test_a_malformed_call_goes_back_as_a_retry_saying_what_was_wrong(scripted, workspace):
    model = scripted(
        [
            '<tool_call>\n{"name": "read_file", "arguments": {"path": }\n</tool_call>',
            call("read_file", path="notes.txt"),
            "hello",
        ]
    )
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"]), "What do the notes say?")
    assert out.outcome == "answered" and out.final_text == "hello" and out.requests == 3
    retry = model.prompts[1]
    assert "could not be read" in retry and "not valid JSON" in retry and '{"path": }' in retry
    assert [c.result for c in out.tool_calls] == ["hello\n"]


def test_bad_arguments_are_retried_with_the_schema_error(scripted, workspace):
    model = scripted([call("read_file", file="notes.txt"), call("read_file", path="notes.txt"), "hello"])
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"]), "Notes?")
    assert out.outcome == "answered"
    assert "Invalid arguments for read_file" in model.prompts[1] and "path" in model.prompts[1]


def test_the_same_call_repeated_ends_the_run_as_a_loop(scripted, workspace):
    model = scripted([call("read_file", path="notes.txt")])  # says the same thing forever
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"]), "Notes?")
    assert out.outcome == "loop" and "repeated the call read_file" in out.error
    assert out.requests == 3  # the call, one refused repeat (with a nudge), the repeat that ends it
    assert "Do not repeat the call" in model.prompts[2]
    assert out.tool_calls[0].result == "hello\n"


def test_request_and_tool_call_limits_end_the_run(scripted, workspace):
    model = scripted([call("read_file", path="notes.txt"), call("read_file", path="todo.txt"), "done"])
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"], max_tool_calls=1), "Both?")
    assert out.outcome == "limit" and "tool call limit" in out.error
    model = scripted([call("read_file", path="notes.txt"), call("read_file", path="todo.txt"), "done"])
    out = run_question(create_agent(model, workspace=workspace, tools=["read_file"], max_requests=2), "Both?")
    assert out.outcome == "limit" and "request limit" in out.error and out.requests == 2


def test_text_only_models_get_their_markup_parsed_and_stop_sequences_are_not_forced_on_them(workspace):
    """A teacher or an OpenAI-compatible server that returns calls as text: the calls still run."""
    seen = []

    def reply(messages, info):
        seen.append(info.model_settings)
        if len(messages) == 1:
            return ModelResponse(parts=[TextPart(call("read_file", path="todo.txt"))])
        return ModelResponse(parts=[TextPart("It says ship it.")])

    agent = create_agent(FunctionModel(reply), workspace=workspace, tools=["read_file"])
    out = run_question(agent, "What is on the todo list?")
    assert out.outcome == "answered" and out.final_text == "It says ship it."
    assert [(c.name, c.result) for c in out.tool_calls] == [("read_file", "ship it\n")]
    assert "stop_sequences" not in seen[0]  # the template's end-of-turn strings mean nothing to a teacher


def test_errors_become_an_outcome_not_an_exception(workspace):
    def broken(messages, info):
        raise RuntimeError("the model fell over")

    out = run_question(create_agent(FunctionModel(broken), workspace=workspace, tools=["read_file"]), "Hi")
    assert out.outcome == "error" and "the model fell over" in out.error and out.final_text == ""
