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
