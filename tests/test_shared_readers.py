"""The shared pieces every area reads through: the question-file reader, the YAML config reader, the
one-line CLI errors and the tool-call shape of run outcomes and case scores (their JSON unchanged)."""

import json

import click
import pytest
from click.testing import CliRunner

from mlx_distill.agent.outcome import RunOutcome, ToolCallRecord
from mlx_distill.bench.scoring import CaseScore, score_case
from mlx_distill.bench.suites import Case
from mlx_distill.catalogue import load_catalogue
from mlx_distill.cli_errors import one_line, one_line_errors
from mlx_distill.config import read_yaml
from mlx_distill.data.config import load_config as load_data_config
from mlx_distill.teacher.prices import load_prices
from mlx_distill.errors import InputError
from mlx_distill.io import read_objects
from mlx_distill.lrl.pipeline import load_config as load_lrl_config
from mlx_distill.schema import ToolCall
from mlx_distill.train.config import load_config as load_train_config


def _question(obj, line):
    if not obj.get("question"):
        raise ValueError("needs a question")
    return (obj.get("id") or f"q{line}", obj["question"])


def test_read_objects_names_file_line_record_and_rule(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "x"}\n\n{"id": "b"}\n')
    with pytest.raises(InputError, match=r"q.jsonl:3 record b \[questions\]: needs a question"):
        read_objects(f, _question, rule="questions", id_of=lambda q: q[0])
    f.write_text('{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n')
    with pytest.raises(InputError, match=r"q.jsonl:2 record a \[questions\]: duplicate id \(first on line 1\)"):
        read_objects(f, _question, rule="questions", id_of=lambda q: q[0])
    f.write_text("[1]\n")
    with pytest.raises(InputError, match=r"q.jsonl:1 \[questions\]: expected a JSON object, got list"):
        read_objects(f, _question, rule="questions")
    f.write_text("")
    with pytest.raises(InputError, match=r"q.jsonl \[questions\]: no questions"):
        read_objects(f, _question, rule="questions", empty="no questions")


def test_read_objects_lenient_keeps_the_good_lines_and_every_problem(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "x"}\n{bad\n{"id": "b"}\n"text"\n{"question": "y"}\n')
    errors: list[InputError] = []
    got = read_objects(f, _question, rule="questions", errors=errors)
    assert got == [("q1", "x"), ("q5", "y")]
    assert [(e.line, e.rule) for e in errors] == [(3, "questions"), (4, "questions"), (2, "json")]


def test_one_yaml_reader_for_every_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n")
    for load in (load_data_config, load_train_config, load_lrl_config, load_prices):
        with pytest.raises(InputError, match=r"bad.yaml:2 \[(config|prices)\]: invalid YAML"):
            load(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(InputError, match="expected a YAML mapping of keys to values"):
        read_yaml(listed)
    assert read_yaml(listed, top=list) == [1]
    with pytest.raises(InputError, match="config file not found"):
        load_data_config(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match=r"domain #1: Input should be a valid dictionary"):
        load_catalogue(str(listed))


def test_unknown_keys_get_a_did_you_mean_in_every_config(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("sources: [{type: records, paths: [a.jsonl]}]\nsplitt: {valid: 0.1}\n")
    with pytest.raises(InputError, match=r"unknown configuration key 'splitt' \(did you mean 'split'\?\)"):
        load_data_config(data)
    data.write_text("sources: [{type: records, paths: [a.jsonl], limt: 3}]\n")
    with pytest.raises(InputError, match=r"unknown configuration key 'sources.0.limt' \(did you mean 'limit'\?\)"):
        load_data_config(data)
    lrl = tmp_path / "lrl.yaml"
    lrl.write_text("tsk: meeting-rooms\n")
    with pytest.raises(InputError, match=r"unknown configuration key 'tsk' \(did you mean 'task'\?\)"):
        load_lrl_config(lrl)
    with pytest.raises(InputError, match=r"unknown configuration key 'studnet' \(did you mean 'student'\?\)"):
        load_lrl_config(None, {"studnet": "x"})


def test_command_line_overrides_win_and_null_resets(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("iters: 5\nlr_schedule: {name: cosine_decay, arguments: [1e-4, 100]}\n")
    cfg = load_train_config(recipe, ["iters=7", "lr_schedule=null", "learning_rate=2e-4"])
    assert (cfg.iters, cfg.lr_schedule, cfg.learning_rate) == (7, None, 2e-4)
    lrl = tmp_path / "lrl.yaml"
    lrl.write_text("student: from-file\nteacher: t\n")
    cfg_lrl = load_lrl_config(lrl, {"student": "from-cli", "teacher": None})
    assert (cfg_lrl.student, cfg_lrl.teacher) == ("from-cli", "t")


def test_one_line_errors_exit_2_for_input_and_the_named_status_for_run_errors():
    class RunFailed(Exception):
        pass

    @click.command()
    @click.argument("what")
    @one_line_errors
    def cmd(what: str) -> None:
        if what == "input":
            raise InputError("bad input", path="f.jsonl", line=3, rule="r")
        with one_line(RunFailed, status=1):
            raise RunFailed("the run failed")

    res = CliRunner().invoke(cmd, ["input"])
    assert res.exit_code == 2 and res.stderr == "error: f.jsonl:3 [r]: bad input\n"
    res = CliRunner().invoke(cmd, ["run"])
    assert res.exit_code == 1 and res.stderr == "error: the run failed\n"


def test_run_outcomes_and_case_scores_hold_tool_calls_with_json_unchanged():
    call = ToolCall.as_made("grep", {"pattern": "def main"})
    out = RunOutcome("q", "in a.py", [ToolCallRecord(call, "a.py:1:def main")], 2, "answered", None, 10, 5, 0.5)
    assert out.to_json()["tool_calls"] == [
        {"name": "grep", "arguments": {"pattern": "def main"}, "result": "a.py:1:def main"}
    ]
    case = Case(
        id="c",
        question="Where?",
        label="tool",
        category="search",
        expected_tools=["grep"],
        workspace={"kind": "function_definition"},
    )
    score = score_case(case, out)
    assert score.tool_calls[0].call == call and score.tool_calls[0].errors == []
    data = json.loads(json.dumps(score.to_json()))
    assert data["tool_calls"] == [{"name": "grep", "arguments": {"pattern": "def main"}, "errors": []}]
    assert CaseScore.from_json(data) == score


def test_a_suite_case_a_teacher_prompt_and_a_compare_prompt_are_one_question_model(tmp_path):
    from mlx_distill.bench.compare import load_prompts as load_compare_prompts
    from mlx_distill.collection.prompts import load_prompts
    from mlx_distill.questions import Question

    line = {"id": "q1", "question": "What is a closure?", "label": "direct", "category": "concept"}
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps(line) + "\n")
    case, prompt, compared = Case.model_validate(line), load_prompts(f)[0], load_compare_prompts(str(f))[0]
    for q in (case, prompt, compared):
        assert isinstance(q, Question)
        assert (q.id, q.question, q.label) == ("q1", "What is a closure?", "direct")
    # the prompt's store key hashes the same fields as before there was a shared model
    assert prompt.key_fields() == {"question": "What is a closure?", "label": "direct", "category": "concept"}
    assert Question.model_validate({**line, "label": None}).label is None
    with pytest.raises(ValueError, match="label"):
        Case.model_validate({**line, "label": None})  # a case must say what it should decide
