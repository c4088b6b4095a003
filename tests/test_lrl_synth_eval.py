"""LRL synthesis (verified records the data pipeline accepts, the same prompt at train and test time) and
the honest evaluation (a constant YES model is flagged)."""

import json
import subprocess
import sys

import pytest

from mlx_distill.lrl.evaluate import Subject, evaluate, markdown, model_answerer, student, write_report
from mlx_distill.lrl.prompt import student_prompt
from mlx_distill.lrl.synth import build_data, record_for, synthesize
from mlx_distill.lrl.task import get_task, mixed_set
from mlx_distill.lrl.teacher import JournaledTeacher
from mlx_distill.prompting import render, tokenize_for_training
from mlx_distill.schema import load_records, save_records

STRATEGY = "Sweep through time; at equal times ends come before starts. Peak <= rooms: YES."


@pytest.fixture(scope="module")
def task():
    return get_task("meeting-rooms")


def test_synthetic_records_are_balanced_verified_worked_solutions(task):
    records = synthesize(task, 24, strategy=STRATEGY, seed=0, difficulties=[1, 2])
    assert len(records) == 24
    answers = [r.meta.model_extra["answer"] for r in records]
    assert answers.count("YES") == answers.count("NO") == 12
    for r in records:
        assert r.meta.source == "lrl" and r.meta.label == "direct"
        assert STRATEGY in r.messages[0].content
        target = r.messages[-1].content
        assert "room 1" in target and target.endswith(f"Answer: {r.meta.model_extra['answer']}")  # not a bare answer
        assert len(target.splitlines()) >= 2  # at least one worked step before the answer


def test_synthesis_leaves_out_the_held_out_questions(task):
    test = mixed_set(task, 20, seed=0, difficulties=[1])
    held = {task.render(p) for p in test}
    records = synthesize(task, 100, strategy=None, seed=0, difficulties=[1], exclude=held)
    assert not held & {r.user_text() for r in records}


def test_a_task_whose_worked_solution_contradicts_its_solver_is_refused(task):
    class Liar(type(task)):
        def explain(self, problem):
            return "Answer: " + ("NO" if self.solve(problem) == "YES" else "YES")

    from mlx_distill.errors import InputError

    with pytest.raises(InputError, match="solver says"):
        record_for(Liar(), {"meetings": [[540, 600]], "rooms": 1}, None)


def test_train_and_eval_prompts_are_byte_identical(task, tiny_tokenizer):
    p = mixed_set(task, 2, seed=4, difficulties=[1])[0]
    rec = record_for(task, p, STRATEGY)
    eval_prompt = student_prompt(task, p, STRATEGY, tiny_tokenizer)
    train_prefix = render(rec.template_messages()[:-1], None, tiny_tokenizer, add_generation_prompt=True)
    assert eval_prompt == train_prefix
    assert render(rec.template_messages(), None, tiny_tokenizer).startswith(eval_prompt)
    # and the trainer supervises exactly what comes after that prompt
    ids, mask = tokenize_for_training(rec.template_messages(), None, tiny_tokenizer)
    prompt_ids = tiny_tokenizer.encode(eval_prompt, add_special_tokens=False)
    assert ids[: len(prompt_ids)] == prompt_ids
    assert not any(mask[: len(prompt_ids)]) and mask[len(prompt_ids)]


def test_synthetic_records_pass_data_validate_and_data_build(task, tiny_model_dir, tiny_tokenizer, tmp_path):
    path = save_records(tmp_path / "synthetic.jsonl", synthesize(task, 40, strategy=STRATEGY, seed=1, difficulties=[1]))
    out = subprocess.run(
        [sys.executable, "-m", "mlx_distill.cli", "data", "validate", str(path), "--model", str(tiny_model_dir)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = build_data(path, tmp_path / "data", task=task, tokenizer=tiny_tokenizer)
    train = load_records(result.files["train"])
    valid = load_records(result.files["valid"])
    assert len(train) + len(valid) == 40 and valid
    assert {r.meta.source for r in train} == {"lrl"}


def test_eval_flags_an_always_yes_model_and_not_a_perfect_one(task, scripted, tmp_path):
    problems = mixed_set(task, 6, seed=2, difficulties=[1])
    perfect = Subject("solver", lambda ps: [task.explain(p) for p in ps])
    teacher = JournaledTeacher(scripted(["They fit.\nAnswer: YES"]), tmp_path / "teacher", max_tokens=16)
    always_yes = Subject("always YES", model_answerer(task, teacher))
    data = evaluate(task, problems, [perfect, always_yes])
    by = {c["name"]: c for c in data["columns"]}
    assert by["always YES"]["answers"] == {"YES": 6, "NO": 0, "(none)": 0}
    assert by["always YES"]["accuracy"] == 0.5 and by["always YES"]["balanced_accuracy"] == 0.5
    assert by["always YES"]["recall"] == {"YES": 1.0, "NO": 0.0}
    assert by["always YES"]["at_or_below_baseline"] is True
    assert by["solver"]["balanced_accuracy"] == 1.0 and by["solver"]["at_or_below_baseline"] is False
    md = markdown(data)
    assert "Not above the majority baseline (a constant answer scores as well): always YES." in md
    paths = write_report(data, tmp_path / "eval")
    assert json.loads(paths["json"].read_text())["columns"][1]["majority_baseline"] == 0.5
    assert paths["chart"].stat().st_size > 1000


def test_student_answers_through_the_training_rendering(task, tiny_model_dir):
    problems = mixed_set(task, 4, seed=3, difficulties=[1])
    texts = student(task, str(tiny_model_dir), strategy=STRATEGY, max_tokens=6, batch_size=3)(problems)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)


def test_the_shared_prompt_prefix_is_computed_once_and_changes_no_answer(task, tiny_model_dir):
    from mlx_distill.agent.generation import prefill_shared_prefix
    from mlx_distill.models import load_model

    problems = mixed_set(task, 6, seed=5, difficulties=[1, 2])
    model, tokenizer = load_model(str(tiny_model_dir))
    prompts = [
        tokenizer.encode(student_prompt(task, p, STRATEGY, tokenizer), add_special_tokens=False) for p in problems
    ]
    shared, cache = prefill_shared_prefix(model, prompts)
    system = tokenizer.encode(
        student_prompt(task, problems[0], STRATEGY, tokenizer).split("Meetings:")[0], add_special_tokens=False
    )
    assert shared >= len(system) - 1 and cache[0].offset == shared  # at least the system prompt and the strategy
    assert all(len(p) > shared for p in prompts)
    with_prefix = student(task, str(tiny_model_dir), strategy=STRATEGY, max_tokens=12, batch_size=4)(problems)
    without = student(task, str(tiny_model_dir), strategy=STRATEGY, max_tokens=12, batch_size=4, share_prefix=False)(
        problems
    )
    assert with_prefix == without
