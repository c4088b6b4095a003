"""What Qwen2.5-Coder writes with its stock template instead of `<tool_call>` tags: bare and ```json-fenced
`{"name", "arguments"}` objects. Naming an offered tool they are calls, for the agent and the benchmark;
naming no offered tool, the benchmark counts a hallucinated call, not a direct answer."""

from pathlib import Path

from mlx_distill.agent import MLXModel, create_agent, parse_tool_calls, run_question
from mlx_distill.agent.generation import scripted_replies
from mlx_distill.agent.outcome import RunOutcome
from mlx_distill.agent.parsing import pseudo_calls
from mlx_distill.bench.scoring import aggregate, score_case
from mlx_distill.bench.suites import Case
from mlx_distill.tools import Workspace, tool_schemas

TOOLS = tool_schemas(["read_file", "grep"])
# Replies of the kind Qwen2.5-Coder-0.5B/1.5B-Instruct wrote, given one read_file schema.
BARE = '{"name": "read_file", "arguments": {"path": "src/app.py"}}'
FENCED = 'To see it I will read the file:\n```json\n{"name": "read_file", "arguments": {"path": "src/app.py"}}\n```'
AMID_PROSE = 'Sure.\n{"name": "read_file", "arguments": {"path": "src/app.py"}}\nThis reads the file.'
PSEUDO = '{"name": "calculator", "arguments": {"expression": "2+2"}}'

DIRECT = Case(id="d", question="What is 2+2?", label="direct", category="concept")


def _answer(text: str) -> RunOutcome:
    return RunOutcome(
        question="q", final_text=text, tool_calls=[], requests=1, outcome="answered", error=None,
        input_tokens=10, output_tokens=10, latency_s=0.1,
    )  # fmt: skip


def test_bare_fenced_and_in_prose_json_naming_an_offered_tool_are_calls():
    for text, rest in (
        (BARE, ""),
        (FENCED, "To see it I will read the file:"),
        (AMID_PROSE, "Sure.\n\nThis reads the file."),
    ):
        r = parse_tool_calls(text, TOOLS)
        assert [(c.name, c.arguments) for c in r.calls] == [("read_file", {"path": "src/app.py"})], text
        assert r.ok and r.content == rest, text


def test_a_bare_object_naming_no_offered_tool_stays_text_but_is_a_pseudo_call():
    r = parse_tool_calls(PSEUDO, TOOLS)
    assert r.calls == [] and r.content == PSEUDO
    assert [(c.name, c.arguments) for c in pseudo_calls(PSEUDO)] == [("calculator", {"expression": "2+2"})]
    assert [c.name for c in pseudo_calls("The answer:\n```json\n" + PSEUDO + "\n```")] == ["calculator"]
    assert pseudo_calls('2+2 is 4. As JSON: {"result": 4}\n{"value": 4}') == []


def test_the_benchmark_counts_a_pseudo_call_on_a_direct_question_as_a_hallucinated_call():
    hallucinated = score_case(DIRECT, _answer(PSEUDO))
    assert hallucinated.predicted == "tool" and hallucinated.args_total == 1
    assert [c.name for c in hallucinated.tool_calls] == ["calculator"]
    plain = score_case(DIRECT, _answer("2+2 is 4."))
    assert plain.predicted == "direct" and plain.args_total == 0
    metrics = aggregate([hallucinated, plain])
    assert metrics["tool_hallucination_rate"] == 0.5 and metrics["direct_recall"] == 0.5


def test_the_agent_runs_a_bare_json_call_of_an_offered_tool(tmp_path):
    from mlx_distill.testing.tiny import build_tiny_qwen_model

    model_dir = build_tiny_qwen_model(tmp_path / "model", Path(__file__).parent / "fixtures" / "qwen2.5-coder")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("hello\n")
    model = MLXModel(str(model_dir))
    model.logits_processors = scripted_replies(
        model.tokenizer, ['{"name": "read_file", "arguments": {"path": "notes.txt"}}', "It says hello."]
    )
    out = run_question(
        create_agent(model, workspace=Workspace(tmp_path / "ws"), tools=["read_file"]), "What is in notes.txt?"
    )
    assert out.outcome == "answered", out.error
    assert [(c.name, c.arguments) for c in out.tool_calls] == [("read_file", {"path": "notes.txt"})]
    assert "hello" in (out.tool_calls[0].result or "") and out.final_text == "It says hello."
