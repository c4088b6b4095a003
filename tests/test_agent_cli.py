"""`mlx-distill chat` shows tool calls and their results as they happen; `serve` and `chat` are click commands."""

from io import StringIO

import pytest
from click.testing import CliRunner
from rich.console import Console

from mlx_distill.agent import MLXModel, create_agent
from mlx_distill.agent.chat import chat_session
from mlx_distill.agent.cli import chat, serve
from mlx_distill.agent.generation import scripted_replies
from mlx_distill.tools import Workspace


def test_a_chat_session_shows_calls_results_and_answers_in_order(tiny_model_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    model = MLXModel(str(tiny_model_dir))
    model.logits_processors = scripted_replies(
        model.tokenizer,
        [
            'Let me look.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "notes.txt"}}\n</tool_call>',
            "The notes say hello.",
            "You asked about the notes.",
        ],
    )
    agent = create_agent(model, workspace=Workspace(tmp_path), tools=["read_file"])
    out = StringIO()
    failures = chat_session(
        agent,
        console=Console(file=out, width=120, color_system=None),
        questions=["What do the notes say?", "What did I ask?"],
    )
    text = out.getvalue()
    assert failures == 0
    order = [
        "you> What do the notes say?",
        "agent> Let me look.",
        '→ read_file({"path": "notes.txt"})',
        "← read_file:",
        "hello",
        "agent> The notes say hello.",
        "you> What did I ask?",
        "agent> You asked about the notes.",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions), text
    # the second question was asked with the first exchange as history
    assert "The notes say hello.<|im_end|>\n<|im_start|>user\nWhat did I ask?" in model.prompts[-1]


def test_the_chat_command_runs_questions_non_interactively(tiny_model_dir, tmp_path):
    # a random tiny model: it answers, or spends its 4 tokens on nothing printable, which is a stop
    # (exit 1, one line), never a crash
    result = CliRunner().invoke(
        chat, ["--model", str(tiny_model_dir), "--workspace", str(tmp_path), "--max-tokens", "4", "-q", "Hello?"]
    )
    assert "you> Hello?" in result.output and "Traceback" not in result.output
    stopped = "stopped: Model token limit (4) exceeded" in result.output
    assert (result.exit_code, stopped or "agent>" in result.output) == (1 if stopped else 0, True), result.output


@pytest.mark.parametrize("command", [chat, serve])
def test_commands_document_their_options(command):
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0 and "--adapter-path" in result.output and "--model" in result.output
