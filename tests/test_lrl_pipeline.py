"""The offline LRL path end to end on a tiny model: strategy file -> synthesis -> data build -> training ->
evaluation, through the CLI in a subprocess; a re-run resumes from the run directory and redoes nothing."""

import json
import subprocess
import sys

import yaml


def _recipe(tmp_path, model_dir):
    strategy = tmp_path / "strategy.md"
    strategy.write_text("Sweep the events in time order, ends before starts; peak <= rooms means YES.\n")
    cfg = {
        "task": "meeting-rooms",
        "strategy": str(strategy),
        "student": str(model_dir),
        "run_dir": str(tmp_path / "run"),
        "synth": {"n": 24, "difficulties": [1], "valid": 0.2},
        "train": {
            "num_layers": 2,
            "batch_size": 2,
            "iters": 3,
            "learning_rate": 1e-4,
            "max_seq_length": 512,
            "val_batches": 1,
            "steps_per_eval": 3,
            "save_every": 3,
            "steps_per_report": 1,
        },
        "eval": {"n": 4, "difficulties": [1], "max_tokens": 4, "batch_size": 4},
    }
    path = tmp_path / "lrl.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "mlx_distill.cli", "lrl", *args], capture_output=True, text=True, timeout=600
    )


def test_offline_run_trains_and_reports_and_a_rerun_redoes_nothing(tmp_path, tiny_model_dir):
    recipe = _recipe(tmp_path, tiny_model_dir)
    out = _run("run", "-c", str(recipe))
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "run"
    assert "held-out test set: 4 problems, YES 2 (50%), NO 2 (50%)" in out.stderr
    assert "synthesized 24 records: YES 12 (50%), NO 12 (50%)" in out.stderr
    assert (run / "adapter" / "adapters.safetensors").exists()
    report = json.loads((run / "eval" / "report.json").read_text())
    assert [c["name"] for c in report["columns"]] == ["base student", "adapted student"]
    assert report["test_balance"] == {"YES": 2, "NO": 2}
    assert "| balanced accuracy |" in out.stdout and (run / "eval" / "chart.png").exists()
    # the test problems were held out of training
    test_q = {json.dumps(p, sort_keys=True) for p in map(json.loads, (run / "test.jsonl").read_text().splitlines())}
    train = [json.loads(x) for x in (run / "synthetic.jsonl").read_text().splitlines()]
    assert len(test_q) == 4 and len(train) == 24

    stamp = (run / "adapter" / "adapters.safetensors").stat().st_mtime_ns
    again = _run("run", "-c", str(recipe))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "training" not in again.stderr and "synthesized" not in again.stderr
    assert (run / "adapter" / "adapters.safetensors").stat().st_mtime_ns == stamp
    strip = [{k: v for k, v in c.items() if k != "seconds"} for c in report["columns"]]
    rerun = json.loads((run / "eval" / "report.json").read_text())["columns"]
    assert [{k: v for k, v in c.items() if k != "seconds"} for c in rerun] == strip  # cached answers, same scores


def test_without_strategy_or_teacher_the_run_is_a_one_line_error(tmp_path, tiny_model_dir):
    out = _run("run", "--student", str(tiny_model_dir), "--run-dir", str(tmp_path / "r"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: ") and "--strategy FILE" in out.stderr


def _format_recipe(tmp_path, model_dir, formats):
    for f in formats:
        (tmp_path / f"mr.{f}.strategy.md").write_text(f"Write the {f} steps, then the answer.\n")
    cfg = yaml.safe_load(_recipe(tmp_path, model_dir).read_text())
    cfg["strategy"] = str(tmp_path / "mr.{target_format}.strategy.md")
    cfg["synth"] = {"n": 16, "difficulties": [2, 1], "valid": 0.25, "curriculum": True}
    cfg["eval"] = {"n": 4, "difficulties": [1, 2], "max_tokens": 4, "batch_size": 4}
    cfg["train"]["iters"] = 2
    cfg["train"]["steps_per_eval"] = cfg["train"]["save_every"] = 2
    path = tmp_path / "formats.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_compare_formats_runs_each_format_on_the_same_test_set_and_keeps_the_best(tmp_path, tiny_model_dir):
    recipe = _format_recipe(tmp_path, tiny_model_dir, ["event-sweep", "per-room"])
    out = _run("compare-formats", "-c", str(recipe), "--formats", "event-sweep,per-room")
    assert out.returncode == 0, out.stderr[-3000:]
    run = tmp_path / "run"
    table = json.loads((run / "compare.json").read_text())
    assert [r["format"] for r in table["formats"]] == ["event-sweep", "per-room"]
    assert table["best"] in ("event-sweep", "per-room")
    assert "| format | n | balanced acc. |" in out.stdout and "(best)" in out.stdout
    assert (run / "event-sweep" / "test.jsonl").read_text() == (run / "per-room" / "test.jsonl").read_text()
    for fmt, mark in (("event-sweep", "start A -> 1 in use"), ("per-room", ": room 1 free")):
        sub = run / fmt
        assert (sub / "strategy.md").read_text() == f"Write the {fmt} steps, then the answer.\n"
        synthetic = [json.loads(x) for x in (sub / "synthetic.jsonl").read_text().splitlines()]
        assert all(mark in r["messages"][-1]["content"] for r in synthetic)
        # the curriculum: the train file easiest first, trained in file order
        train = [json.loads(x) for x in (sub / "data" / "train.jsonl").read_text().splitlines()]
        levels = [r["meta"]["difficulty"] for r in train]
        assert levels == sorted(levels) and set(levels) == {1, 2}
        assert yaml.safe_load((sub / "adapter" / "config.yaml").read_text())["batch_order"] == "file"
        report = json.loads((sub / "eval" / "report.json").read_text())
        adapted = report["columns"][1]
        assert adapted["name"] == "adapted student" and 0 <= adapted["steps_correct"] <= 1
        assert set(adapted["by_difficulty"]) == {"1", "2"}
        assert sum(m["problems"] for m in adapted["by_difficulty"].values()) == 4


def test_an_unknown_target_format_stops_the_run_before_anything_is_written(tmp_path, tiny_model_dir):
    recipe = _format_recipe(tmp_path, tiny_model_dir, ["pairwise"])
    for args in (["compare-formats", "--formats", "pairwise,sweep"], ["run", "--target-format", "sweep"]):
        out = _run(*args, "-c", str(recipe))
        assert out.returncode == 2, out.stderr[-2000:]
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "unknown target format 'sweep'" in last
        assert "known: pairwise, event-sweep, per-room" in last
        assert not (tmp_path / "run" / "test.jsonl").exists()


def test_auto_reply_budget_is_the_longest_worked_solution_of_the_test_set(tmp_path, tiny_model_dir, tiny_tokenizer):
    from mlx_distill.lrl.pipeline import AUTO_MARGIN, Pipeline, load_config

    recipe = _format_recipe(tmp_path, tiny_model_dir, ["per-room"])
    cfg = load_config(recipe, {"target_format": "per-room"})
    cfg.eval.max_tokens = "auto"
    p = Pipeline(cfg)
    problems = p.test_problems()
    longest = max(len(tiny_tokenizer.encode(p.task.explain(q), add_special_tokens=False)) for q in problems)
    assert p.max_tokens(problems) == longest + AUTO_MARGIN
    cfg.eval.max_tokens = 7
    assert p.max_tokens(problems) == 7


def test_a_new_target_format_in_the_same_run_directory_retrains_and_asks_again(tmp_path, tiny_model_dir):
    recipe = _format_recipe(tmp_path, tiny_model_dir, ["pairwise", "per-room"])
    first = _run("run", "-c", str(recipe), "--target-format", "pairwise")
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    base_answers = (run / "eval" / "answers-base-student.jsonl").read_text()
    assert _run("run", "-c", str(recipe), "--target-format", "pairwise").stderr.count("training") == 0
    second = _run("run", "-c", str(recipe), "--target-format", "per-room")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "synthesized 16 records" in second.stderr
    assert "trained on other data: training again" in second.stderr
    assert (run / "strategy.md").read_text() == "Write the per-room steps, then the answer.\n"
    before = [json.loads(x)["asked"] for x in base_answers.splitlines()]
    redone = [json.loads(x)["asked"] for x in (run / "eval" / "answers-base-student.jsonl").read_text().splitlines()]
    assert all(" pairwise " in a for a in before) and all(" per-room " in a for a in redone)  # asked again
    run_json = json.loads((run / "adapter" / "run.json").read_text())
    assert run_json["resumed_from"] in (None, 0)
