"""Qwen2.5-Coder's own tokenizer and stock chat template through our one rendering path: tools render in
`<tools>`, masks cover every assistant turn, the validator's template checks pass, generation stops at
`<|im_end|>` and `<|endoftext|>`, and the agent's prompt is the training rendering byte for byte.

The tokenizer files in tests/fixtures/qwen2.5-coder were extracted once from the hash-pinned GGUF
(`mlx_distill.models.qwen.extract_tokenizer`); the model is a tiny random qwen2 built around them."""

import json
from pathlib import Path

import pytest

from mlx_distill import prompting
from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.agent.generation import forced_reply, scripted_replies
from mlx_distill.data.validate import validate_records
from mlx_distill.schema import parse_record
from mlx_distill.tools import Workspace, tool_schemas
from test_prompting import CONV  # the same conversation, rendered by Qwen's template

FIXTURE = Path(__file__).parent / "fixtures" / "qwen2.5-coder"
IM_END = "<|im_end|>"
GREP_CALL = '<tool_call>\n{"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}}\n</tool_call>'


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    from mlx_distill.testing.tiny import build_tiny_qwen_model

    return build_tiny_qwen_model(tmp_path_factory.mktemp("qwen") / "model", FIXTURE)


@pytest.fixture(scope="module")
def qwen_tok(qwen_dir):
    from mlx_lm.utils import load_tokenizer

    return load_tokenizer(qwen_dir)


def test_tools_render_inside_qwen_tools_tags_with_its_own_default_system(qwen_tok):
    tools = tool_schemas(["grep", "read_file"])
    text = prompting.render(CONV, tools, qwen_tok)
    assert text.startswith("<|im_start|>system\nYou help.\n\n# Tools\n\nYou may call one or more functions")
    assert (
        "<tools>\n" + json.dumps(tools[0], ensure_ascii=False) + "\n" + json.dumps(tools[1], ensure_ascii=False) in text
    )
    assert '\n<tool_call>\n{"name": "grep", "arguments": {"pattern": "def main"}}\n</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\napp.py:10:def main():\n</tool_response><|im_end|>" in text
    # without a system message Qwen's own default stands in, not SmolLM2's
    bare = prompting.render(CONV[1:2], None, qwen_tok, add_generation_prompt=True)
    assert bare == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhere is main defined, and what does it return?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_qwen_tokenizer_keeps_its_special_and_tool_tokens_whole_and_round_trips(qwen_tok):
    text = '<|im_start|>user\nHello world 2024 héllo<|im_end|>\n<tool_call>\n{"name": "x"}\n</tool_call>'
    ids = qwen_tok.encode(text, add_special_tokens=False)
    assert ids[:1] == [151644] and 151645 in ids and 151657 in ids and ids[-1] == 151658
    assert ids[3:5] == [9707, 1879]  # "Hello", " world" as in Qwen2.5's vocabulary
    assert qwen_tok.decode(ids) == text


def test_qwen_masks_cover_every_assistant_turn_and_nothing_else(qwen_tok):
    tools = tool_schemas(["grep", "read_file"])
    ids, mask = prompting.tokenize_for_training(CONV, tools, qwen_tok)
    assert ids == qwen_tok.encode(prompting.render(CONV, tools, qwen_tok), add_special_tokens=False)
    supervised = qwen_tok.decode([i for i, m in zip(ids, mask) if m])
    assert supervised == "".join(
        [
            '<tool_call>\n{"name": "grep", "arguments": {"pattern": "def main"}}\n</tool_call>' + IM_END,
            'Let me read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "app.py"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "grep", "arguments": {"pattern": "return"}}\n</tool_call>' + IM_END,
            "main is in app.py line 10 and returns 0." + IM_END,
        ]
    )


def test_the_validator_finds_no_template_fault_in_qwen_renderings(qwen_tok):
    record = parse_record(
        {
            "messages": CONV,
            "tools": tool_schemas(["grep", "read_file"]),
            "meta": {"id": "q1", "source": "test", "category": "search", "label": "tool"},
        }
    )
    report = validate_records([record], tokenizer=qwen_tok, max_seq_length=4096)
    assert [f for f in report.findings if f.rule in ("render", "mask", "too-long")] == []
    short = validate_records([record], tokenizer=qwen_tok, max_seq_length=50)
    assert [f.rule for f in short.findings if f.rule == "too-long"] == ["too-long"]


def test_generation_stops_at_im_end_and_at_endoftext(qwen_dir):
    model = MLXModel(str(qwen_dir))
    assert prompting.stop_strings(model.tokenizer) == [IM_END]
    assert set(model.tokenizer.eos_token_ids) == {151645, 151643}
    for end in (IM_END, "<|endoftext|>"):
        # the forced script repeats its last token: only a stop ends the reply at "Paris."
        model.logits_processors = lambda end=end: [forced_reply(model.tokenizer, "Paris." + end, then_eos=False)]
        out = run_question(create_agent(model, tools=None), "Capital of France?")
        assert out.outcome == "answered", out.error
        assert out.final_text == "Paris.", end


def test_the_agent_prompt_is_the_qwen_training_rendering_byte_for_byte(qwen_dir, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import os\nimport svcs\n")
    workspace = Workspace(tmp_path)
    names = ["read_file", "grep"]
    model = MLXModel(str(qwen_dir))
    model.logits_processors = scripted_replies(model.tokenizer, [GREP_CALL, "Only src/app.py imports svcs."])
    out = run_question(create_agent(model, workspace=workspace, tools=names), "Which files import svcs?")
    assert out.outcome == "answered", out.error
    grep = {"pattern": "import svcs", "path": "."}
    msgs = [
        {"role": "system", "content": prompting.DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": "Which files import svcs?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "grep", "arguments": grep}}],
        },
        {"role": "tool", "name": "grep", "content": workspace.call("grep", grep)},
        {"role": "assistant", "content": "Only src/app.py imports svcs."},
    ]
    record = parse_record(
        {
            "messages": msgs,
            "tools": tool_schemas(names),
            "meta": {"id": "t", "source": "test", "category": "search", "label": "tool"},
        }
    )
    msgs, tools, tok = record.template_messages(), record.tools, model.tokenizer
    prompts = list(model.prompts)
    assert prompts == [
        prompting.render(msgs[:2], tools, tok, add_generation_prompt=True),
        prompting.render(msgs[:4], tools, tok, add_generation_prompt=True),
    ]
    assert "You are Qwen" not in prompts[0] and "<tools>" in prompts[0]
    assert prompting.render(out.record_messages(), tools, tok) == prompting.render(msgs, tools, tok)
