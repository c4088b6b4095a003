"""The call-or-not decision in training and in the agent, on the tiny model: decision figures at every
evaluation, the best checkpoint kept by them, the calibration saved beside the adapter where plain mlx-lm
still loads it, and the agent's first token moved by the calibration."""

import json

import pytest

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx
from mlx.utils import tree_flatten

from mlx_distill.agent.calibration import CALIBRATION_FILE, DecisionCalibration
from mlx_distill.agent.probe import first_tokens, opener_id
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.trainer import train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = write_small_data(tmp_path_factory.mktemp("decision_data") / "data", n_train=8, n_valid=6)
    (d / "manifest.json").write_text('{"built_by": "test"}\n')
    return d


def _cfg(tmp_path, model, data, name, **kw):
    cfg = {
        "model": str(model),
        "data": str(data),
        "adapter_path": str(tmp_path / name),
        "batch_size": 4,
        "num_layers": 2,
        "iters": 6,
        "learning_rate": 5e-3,
        "steps_per_eval": 3,
        "val_batches": -1,
        "save_every": 3,
        "steps_per_report": 3,
        "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
    }
    cfg.update(kw)
    return cfg


def _val_rows(run_dir):
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "val"]


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory, tiny_model_dir, data_dir):
    tmp = tmp_path_factory.mktemp("calibrated")
    return train(_cfg(tmp, tiny_model_dir, data_dir, "cal", calibrate=True), progress=False, quiet=True)


def test_training_logs_the_decision_beside_the_validation_loss_and_saves_a_calibration_mlx_lm_ignores(
    tiny_model_dir, calibrated_run
):
    from mlx_lm import load

    from mlx_distill.agent import MLXModel

    r = calibrated_run
    rows = _val_rows(r.run_dir)
    assert [v["step"] for v in rows] == [0, 3, 6]
    for v in rows:
        assert v["decision_cases"] == 6 and v["decision_tool_cases"] == 3
        assert 0.0 <= v["decision_auc"] <= 1.0 and 0.0 <= v["decision_balanced_accuracy"] <= 1.0
        assert v["val_loss"] is not None
    assert r.decision["base_auc"] == rows[0]["decision_auc"] and r.decision["auc"] == rows[-1]["decision_auc"]
    assert (r.run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"

    cal = DecisionCalibration.load(r.run_dir / CALIBRATION_FILE)
    assert cal.bias == r.decision["calibration_bias"] and cal.fitted_on.endswith("valid.jsonl")
    assert cal.figures["balanced_accuracy_calibrated"] >= cal.figures["balanced_accuracy"]

    model, _ = load(str(tiny_model_dir), adapter_path=str(r.adapter_path))  # plain mlx-lm, the dir unchanged
    params = dict(tree_flatten(model.parameters()))
    saved = mx.load(str(r.run_dir / "adapters.safetensors"))
    assert all(mx.array_equal(params[k], v).item() for k, v in saved.items())

    assert MLXModel(str(tiny_model_dir), adapter_path=r.adapter_path).calibration.bias == cal.bias
    named = MLXModel(str(tiny_model_dir), adapter_path=r.adapter_path).model_name
    assert named.endswith(f"[calibrated {cal.bias:+.2f}]")
    assert MLXModel(str(tiny_model_dir), adapter_path=r.adapter_path, calibration="none").calibration is None


def test_the_calibration_is_fitted_on_the_whole_validation_split_not_the_evaluations_spread(
    tmp_path, tiny_model_dir, data_dir
):
    cfg = _cfg(tmp_path, tiny_model_dir, data_dir, "spread", calibrate=True, decision_eval_max=2, iters=3)
    r = train(cfg, progress=False, quiet=True)
    assert {v["decision_cases"] for v in _val_rows(r.run_dir)} == {2}
    cal = DecisionCalibration.load(r.run_dir / CALIBRATION_FILE)
    assert cal.figures["cases"] == 6 and cal.figures["tool_cases"] == 3


def test_keep_best_saves_the_weights_of_the_best_decision_auc(tmp_path, tiny_model_dir, data_dir):
    r = train(_cfg(tmp_path, tiny_model_dir, data_dir, "best", keep_best="decision_auc"), progress=False, quiet=True)
    rows = _val_rows(r.run_dir)
    best = max(rows, key=lambda v: v["decision_auc"])  # the first of equal bests
    assert r.decision["step"] == best["step"] and r.decision["auc"] == best["decision_auc"]
    saved = mx.load(str(r.run_dir / "adapters.safetensors"))
    if best["step"] == 0:  # the base: LoRA's B matrices are still zero
        assert all(not mx.any(v).item() for k, v in saved.items() if k.endswith("lora_b"))
    else:
        kept = mx.load(str(r.run_dir / f"{best['step']:07d}_adapters.safetensors"))
        assert all(mx.array_equal(saved[k], kept[k]).item() for k in kept)


def test_keep_best_also_keeps_the_last_steps_weights_as_a_numbered_checkpoint(tmp_path, tiny_model_dir, data_dir):
    cfg = _cfg(tmp_path, tiny_model_dir, data_dir, "last", keep_best="decision_auc", iters=5, steps_per_eval=5)
    r = train(cfg, progress=False, quiet=True)
    assert sorted(p.name for p in r.run_dir.glob("0*_adapters.safetensors")) == [
        "0000003_adapters.safetensors",
        "0000005_adapters.safetensors",
    ]
    if r.decision["step"] == 0:  # the base was best: the adapter holds zero B matrices, the last step does not
        last = mx.load(str(r.run_dir / "0000005_adapters.safetensors"))
        assert any(mx.any(v).item() for k, v in last.items() if k.endswith("lora_b"))


def test_a_run_ending_below_its_base_auc_says_so():
    from mlx_distill.train.config import TrainConfig
    from mlx_distill.train.decision import DecisionEval

    ev = DecisionEval(TrainConfig(), [[1, 2]], [True], opener=0, source="valid.jsonl")
    ev.rows = [
        {"step": 0, "decision_auc": 0.9, "decision_balanced_accuracy": 0.5, "decision_cases": 40},
        {"step": 10, "decision_auc": 0.77, "decision_balanced_accuracy": 0.6, "decision_cases": 40},
    ]
    said: list[str] = []
    ev.restore_best(None, 10, said.append)  # keep_best: last
    ev.finish(None, None, said.append)
    assert len(said) == 1 and "AUC 0.900 (base) -> 0.770" in said[0] and "WORSE than its base" in said[0]


def test_the_calibrated_agent_model_opens_a_call_where_the_raw_one_does_not(tmp_path, tiny_model_dir):
    from mlx_distill.agent import MLXModel, create_agent, run_question
    from mlx_distill.prompting import conversation, render
    from mlx_distill.tools import tool_schemas

    question = "Which files import requests?"
    raw = MLXModel(str(tiny_model_dir), calibration="none")
    tok = raw.tokenizer
    opener = opener_id(tok)
    prompt = render(conversation(question), tool_schemas(), tok, add_generation_prompt=True)
    (first,) = first_tokens(raw.mlx_model, opener, [tok.encode(prompt, add_special_tokens=False)])
    assert first.margin < 0  # the random tiny model does not open a call here
    path = DecisionCalibration(bias=-first.margin + 1.0).save(tmp_path / "base_calibration.json")

    settings = {"max_tokens": 4}
    run_question(create_agent(raw, workspace=tmp_path, model_settings=settings, max_requests=1), question)
    calibrated = MLXModel(str(tiny_model_dir), calibration=path)
    run_question(create_agent(calibrated, workspace=tmp_path, model_settings=settings, max_requests=1), question)
    assert raw.prompts[0] == calibrated.prompts[0] == prompt
    assert raw.results[0].tokens[0] != opener
    assert calibrated.results[0].tokens[0] == opener
    assert "calibrated" in calibrated.model_name and "calibrated" not in raw.model_name


def test_decide_and_bench_show_the_raw_and_the_calibrated_adapter_side_by_side(
    tmp_path, tiny_model_dir, calibrated_run
):
    import subprocess
    import sys

    from mlx_distill._blas import blas_env
    from mlx_distill.io import write_jsonl
    from mlx_distill.tools import tool_schemas

    tool = tool_schemas(["grep"])
    cases = [
        {
            "id": "t",
            "question": "Which files import os?",
            "label": "tool",
            "category": "search",
            "functions": tool,
            "scoring": "catalogue",
        },
        {
            "id": "d",
            "question": "What is a tuple?",
            "label": "direct",
            "category": "concept",
            "functions": tool,
            "scoring": "catalogue",
        },
    ]
    suite = write_jsonl(tmp_path / "two.jsonl", cases)
    bias = DecisionCalibration.load(calibrated_run.run_dir).bias
    common = [
        "-m",
        str(tiny_model_dir),
        "--adapter-path",
        str(calibrated_run.adapter_path),
        "-s",
        str(suite),
        "--no-progress",
    ]

    def run(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "mlx_distill.cli", *args],
            env=blas_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    out = run("decide", *common, "--out", str(tmp_path / "decide"))
    report = json.loads((tmp_path / "decide" / "report.json").read_text())
    (m,) = report["models"]
    assert m["calibration"]["bias"] == bias and "calibrated" in m and "raw" in m
    assert f"[calibration {bias:+.2f}]" in out and "  calibrated " in out
    run("decide", *common, "--no-calibration", "--out", str(tmp_path / "decide-raw"))
    raw_only = json.loads((tmp_path / "decide-raw" / "report.json").read_text())["models"][0]
    assert raw_only["calibration"] is None and "calibrated" not in raw_only

    run("bench", *common, "--max-tokens", "4", "--max-requests", "1", "--out", str(tmp_path / "bench"))
    labels = [m["label"] for m in json.loads((tmp_path / "bench" / "report.json").read_text())["models"]]
    assert labels == [f"{tiny_model_dir} + cal", f"{tiny_model_dir} + cal [calibrated {bias:+.2f}]"]


def test_the_learning_curve_measures_the_base_and_every_checkpoint_with_the_final_one_calibrated(
    tmp_path, tiny_model_dir, calibrated_run
):
    import subprocess
    import sys

    from mlx_distill.io import write_jsonl
    from mlx_distill._blas import blas_env
    from mlx_distill.tools import tool_schemas

    tool = tool_schemas(["grep"])
    cases = [
        {"id": f"c{i}", "question": q, "label": label, "category": label, "functions": tool, "scoring": "catalogue"}
        for i, (q, label) in enumerate(
            [("Which files import os?", "tool"), ("Where is main defined?", "tool"), ("What is a list?", "direct")]
            + [("What is recursion?", "direct"), ("Delete the database.", "refuse")]
        )
    ]
    suite = write_jsonl(tmp_path / "suite.jsonl", cases)
    run = calibrated_run.run_dir
    cmd = [sys.executable, "-m", "mlx_distill.cli", "curve", str(run), "-m", str(tiny_model_dir), "-s", str(suite)]
    proc = subprocess.run(
        [*cmd, "--no-progress", "--out", str(tmp_path / "out")],
        env=blas_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "curve.json").read_text())
    points = data["points"]
    assert [(p["point"], p["step"], p["examples_seen"]) for p in points] == [
        ("base", 0, 0),
        (f"{run.name} step 3", 3, 12),
        (f"{run.name} step 6 (final)", 6, 24),
    ]
    assert all(p["cases"] == 5 and p["majority_baseline"] == pytest.approx(0.6) for p in points)
    assert points[1]["train_records"] == points[2]["train_records"] == 8 and points[0]["train_records"] is None
    cal = DecisionCalibration.load(run / CALIBRATION_FILE)
    assert "calibration_bias" not in points[1] and points[2]["calibration_bias"] == cal.bias
    assert (tmp_path / "out" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "| base | 0 |" in proc.stdout and f"| {run.name} step 6 (final) | 24 | 8 |" in proc.stdout

    empty = tmp_path / "empty_run"
    empty.mkdir()
    proc = subprocess.run([*cmd[:4], str(empty)], env=blas_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "not a training run (no adapter_config.json)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
