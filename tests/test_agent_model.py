"""MLXModel on a real tiny MLX model: the agent's prompt is the training rendering byte for byte, settings
reach generation (and a wrong key is refused), usage and finish reasons, streaming, load-once.

The model is real and runs every step; `scripted_replies` only forces which token it picks, so the tests
can follow a conversation a random tiny model would never hold by itself."""

import asyncio

import pytest
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import FunctionToolCallEvent, ModelResponse, PartDeltaEvent, PartStartEvent, TextPart

from mlx_distill import prompting
from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.schema import parse_record
from mlx_distill.tools import Workspace, tool_schemas

NAMES = ["read_file"]
GREP_CALL = '<tool_call>\n{"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}}\n</tool_call>'


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import os\nimport svcs\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    return Workspace(tmp_path)


def test_the_agent_prompt_is_the_training_rendering_byte_for_byte(scripted, workspace):
    names = ["read_file", "grep"]
    model = scripted([GREP_CALL, "Only src/app.py imports svcs (line 2)."])
    out = run_question(create_agent(model, workspace=workspace, tools=names), "Which files import svcs?")
    assert out.outcome == "answered", out.error
    record = parse_record(
        {
            "messages": [
                {"role": "system", "content": prompting.DEFAULT_SYSTEM_PROMPT},
                {"role": "user", "content": "Which files import svcs?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "name": "grep",
                    "content": workspace.call("grep", {"pattern": "import svcs", "path": "."}),
                },
                {"role": "assistant", "content": "Only src/app.py imports svcs (line 2)."},
            ],
            "tools": tool_schemas(names),
            "meta": {"id": "t1", "source": "test", "category": "search", "label": "tool"},
        }
    )
    msgs, tools, tok = record.template_messages(), record.tools, model.tokenizer
    assert list(model.prompts) == [
        prompting.render(msgs[:2], tools, tok, add_generation_prompt=True),
        prompting.render(msgs[:4], tools, tok, add_generation_prompt=True),
    ]
    # the whole run, turned back into record messages, renders exactly like the training record
    assert prompting.render(out.record_messages(), tools, tok) == prompting.render(msgs, tools, tok)


def test_a_wrong_stop_key_is_refused_not_silently_ignored(scripted, tiny_model_dir):
    model = scripted(["fine"])
    with pytest.raises(UserError, match="did you mean 'stop_sequences'"):
        create_agent(model, tools=None, model_settings={"stop": ["END"]})
    with pytest.raises(UserError, match="stop_sequences"):
        MLXModel(str(tiny_model_dir), settings={"stop": ["END"]})
    agent = create_agent(model, tools=None)
    with pytest.raises(UserError, match="'stop'"):
        asyncio.run(agent.run("hi", model_settings={"stop": ["END"]}))


def test_stop_sequences_reach_generation_and_stop_it(scripted):
    model = scripted(["The answer is 42. END and then it rambles on"])
    default = create_agent(model, tools=None)
    assert default.model_settings["stop_sequences"] == prompting.stop_strings(model.tokenizer) == ["<|im_end|>"]
    agent = create_agent(model, tools=None, model_settings={"stop_sequences": ["END"]})
    result = asyncio.run(agent.run("What is the answer?"))
    assert result.output == "The answer is 42."
    assert model.results[-1].stopped_by == "END" and "rambles" not in model.results[-1].text


def test_usage_and_finish_reasons(scripted, workspace):
    model = scripted(
        ['<tool_call>\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n</tool_call>', "The notes say hello."]
    )
    out = run_question(create_agent(model, workspace=workspace, tools=NAMES), "What do the notes say?")
    responses = [m for m in out.messages if isinstance(m, ModelResponse)]
    assert [r.finish_reason for r in responses] == ["tool_call", "stop"]
    for response, prompt, result in zip(responses, model.prompts, model.results):
        assert response.usage.input_tokens == len(model.tokenizer.encode(prompt, add_special_tokens=False))
        assert response.usage.output_tokens == len(result.tokens) > 0
    assert out.input_tokens == sum(r.usage.input_tokens for r in responses)
    assert responses[1].usage.cache_read_tokens > responses[0].usage.input_tokens - 5  # turn 2 reused turn 1
    long = scripted(["one two three four five six seven eight nine ten"])
    result = asyncio.run(create_agent(long, tools=None, model_settings={"max_tokens": 4}).run("Count."))
    assert result.all_messages()[-1].finish_reason == "length" and result.all_messages()[-1].usage.output_tokens == 4


def test_streaming_yields_text_and_still_yields_tool_calls(scripted, workspace):
    model = scripted(
        [
            'Let me look.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n</tool_call>',
            "The notes say hello.",
        ]
    )
    agent = create_agent(model, workspace=workspace, tools=NAMES)
    texts, calls = [], []

    async def handler(ctx, events):
        async for e in events:
            if isinstance(e, PartStartEvent) and isinstance(e.part, TextPart):
                texts.append(e.part.content)
            elif isinstance(e, PartDeltaEvent) and hasattr(e.delta, "content_delta"):
                texts.append(e.delta.content_delta)
            elif isinstance(e, FunctionToolCallEvent):
                calls.append((e.part.tool_name, e.part.args_as_dict(), "".join(texts)))

    result = asyncio.run(agent.run("What do the notes say?", event_stream_handler=handler))
    assert calls == [("read_file", {"path": "notes.txt"}, "Let me look.")]  # text streamed before the call
    assert "".join(texts) == "Let me look.The notes say hello."
    assert result.output == "The notes say hello."


def test_a_model_is_loaded_once_per_process(tiny_model_dir):
    a, b = MLXModel(str(tiny_model_dir)), MLXModel(str(tiny_model_dir) + "/")
    assert a.mlx_model is b.mlx_model and a.generator is b.generator
    assert a.model_name == str(tiny_model_dir) and a.system == "mlx"


def test_every_tool_reaches_the_model_exactly_as_tools_py_defines_it(tmp_path):
    from pydantic_ai.models.function import FunctionModel

    from mlx_distill.agent.model import tool_dicts

    seen = []

    def reply(messages, info):
        seen.append(tool_dicts(info.model_request_parameters))
        return ModelResponse(parts=[TextPart("ok")])

    asyncio.run(create_agent(FunctionModel(reply), workspace=tmp_path).run("hi"))
    assert seen == [tool_schemas()]
