"""One rendering path: prefix-stable, masks exactly the assistant turns, stock SmolLM2 without tools."""

import json

import pytest

from mlx_distill import prompting
from mlx_distill.chat_template import END_OF_TURN

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "grep",
            "description": "Search files.",
            "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    },
]

CONV = [
    {"role": "system", "content": "You help."},
    {"role": "user", "content": "Where is main defined, and what does it return?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "grep", "arguments": {"pattern": "def main"}}}],
    },
    {"role": "tool", "name": "grep", "content": "app.py:10:def main():"},
    {
        "role": "assistant",
        "content": "Let me read it.",
        "tool_calls": [
            {"type": "function", "function": {"name": "read_file", "arguments": {"path": "app.py"}}},
            {"type": "function", "function": {"name": "grep", "arguments": {"pattern": "return"}}},
        ],
    },
    {"role": "tool", "name": "read_file", "content": "def main():\n    return 0"},
    {"role": "tool", "name": "grep", "content": "app.py:11:    return 0"},
    {"role": "assistant", "content": "main is in app.py line 10 and returns 0."},
]


def test_tool_calls_render_qwen_style_with_object_arguments(tiny_tokenizer):
    text = prompting.render(CONV, TOOLS, tiny_tokenizer)
    assert '<tool_call>\n{"name": "grep", "arguments": {"pattern": "def main"}}\n</tool_call>' in text
    assert text.count("<tool_response>") == 3
    # consecutive tool results share one user turn
    assert "</tool_response>\n<tool_response>" in text
    assert "<tools>\n" + json.dumps(TOOLS[0]) in text


def test_every_prefix_renders_as_a_prefix(tiny_tokenizer):
    full = prompting.render(CONV, TOOLS, tiny_tokenizer)
    for k in range(1, len(CONV)):
        prefix = prompting.render(CONV[:k], TOOLS, tiny_tokenizer, add_generation_prompt=True)
        if CONV[k]["role"] == "assistant":
            assert full.startswith(prefix), k


def test_masks_cover_exactly_the_assistant_turns(tiny_tokenizer):
    ids, mask = prompting.tokenize_for_training(CONV, TOOLS, tiny_tokenizer)
    assert len(ids) == len(mask)
    supervised = tiny_tokenizer.decode([i for i, m in zip(ids, mask) if m])
    expected = "".join(
        [
            '<tool_call>\n{"name": "grep", "arguments": {"pattern": "def main"}}\n</tool_call>' + END_OF_TURN,
            'Let me read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "app.py"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "grep", "arguments": {"pattern": "return"}}\n</tool_call>' + END_OF_TURN,
            "main is in app.py line 10 and returns 0." + END_OF_TURN,
        ]
    )
    assert supervised == expected
    # last-only: just the final answer (what mlx-lm's --mask-prompt does); none: everything
    _, last = prompting.tokenize_for_training(CONV, TOOLS, tiny_tokenizer, mask="last")
    assert (
        tiny_tokenizer.decode([i for i, m in zip(ids, last) if m])
        == "main is in app.py line 10 and returns 0." + END_OF_TURN
    )
    _, none = prompting.tokenize_for_training(CONV, TOOLS, tiny_tokenizer, mask="none")
    assert all(none)
    with pytest.raises(ValueError, match="unknown mask"):
        prompting.tokenize_for_training(CONV, TOOLS, tiny_tokenizer, mask="assistant")


def test_tokens_equal_tokenizing_the_rendered_text(tiny_tokenizer):
    ids, _ = prompting.tokenize_for_training(CONV, TOOLS, tiny_tokenizer)
    assert ids == tiny_tokenizer.encode(prompting.render(CONV, TOOLS, tiny_tokenizer), add_special_tokens=False)


def test_stop_strings_are_the_end_of_turn(tiny_tokenizer):
    assert prompting.stop_strings(tiny_tokenizer) == [END_OF_TURN]


def test_conversation_uses_the_default_system_prompt():
    msgs = prompting.conversation("hi")
    assert msgs[0] == {"role": "system", "content": prompting.DEFAULT_SYSTEM_PROMPT}
    assert prompting.conversation("hi", "custom")[0]["content"] == "custom"
