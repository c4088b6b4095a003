"""Data-parallel training: two processes over MLX's ring backend on 127.0.0.1 (real `mlx.launch`
subprocesses) train what one process trains on the same global batches, step by step, across a resume."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx

from mlx_distill.runtime import subprocess_env
from mlx_distill.train.distributed import local_launch
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.trainer import train

# 10 examples in batches of 3: every epoch ends with a 1-example batch, so one process has nothing to do
# at that step; a 3-example batch splits 2 + 1, so the shards carry different target counts. Plain SGD:
# its update is linear in the gradient, so a wrongly weighted average shows (Adam's normalized update
# would hide a scale error and amplify float noise in near-zero gradients into sign flips)
CFG = {
    "batch_size": 3,
    "num_layers": 2,
    "optimizer": "sgd",
    "learning_rate": 0.2,
    "steps_per_eval": 3,
    "val_batches": -1,
    "save_every": 3,
    "steps_per_report": 3,
    "test": True,
    "test_batches": -1,
    "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
}


def _rows(run_dir, kind):
    return [r for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def _launch(cfg_path, *args):
    argv = [
        sys.executable,
        "-c",
        "from mlx_distill.train.cli import train; train()",
        "-c",
        str(cfg_path),
        "--no-progress",
        *args,
    ]
    p = subprocess.run(
        local_launch(2, argv),
        env=subprocess_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_two_processes_train_what_one_trains_on_the_same_global_batches(tmp_path, tiny_model_dir):
    data = write_small_data(tmp_path / "data", n_train=10, n_valid=4, n_test=3)
    one = train(
        {**CFG, "iters": 6, "model": str(tiny_model_dir), "data": str(data), "adapter_path": str(tmp_path / "one")},
        progress=False,
        quiet=True,
    )

    run = tmp_path / "two"
    cfg = tmp_path / "two.yaml"
    cfg.write_text(
        yaml.safe_dump({**CFG, "iters": 3, "model": str(tiny_model_dir), "data": str(data), "adapter_path": str(run)})
    )
    first = _launch(cfg)
    assert "data parallel: 2 processes" in first.stderr
    assert "the processes share this machine:" in first.stderr  # 2 ring ranks on 127.0.0.1 split the cores
    assert json.loads((run / "state.json").read_text())["step"] == 3
    second = _launch(cfg, "--resume", "--iters", "6", "--json")  # a restart continues from the step-3 checkpoint
    assert "resuming" in second.stderr
    result = json.loads(second.stdout)  # rank 0 alone prints (and writes) the result
    assert result["resumed_from"] == 3 and result["steps"] == 6

    # every step once (rank 0 alone writes metrics), with the one-process losses
    a, b = _rows(one.run_dir, "train"), _rows(run, "train")
    assert [r["step"] for r in b] == list(range(1, 7))
    assert [(r["tokens"], r["targets"]) for r in b] == [(r["tokens"], r["targets"]) for r in a]
    assert np.allclose([r["loss"] for r in b], [r["loss"] for r in a], atol=2e-5, rtol=0)
    va, vb = _rows(one.run_dir, "val"), _rows(run, "val")
    assert [r["step"] for r in vb] == [r["step"] for r in va] == [0, 3, 6]
    assert np.allclose([r["val_loss"] for r in vb], [r["val_loss"] for r in va], atol=2e-5, rtol=0)
    assert _rows(run, "test")[-1]["step"] == 6  # the first launch's test row (step 3) stays, as on one machine
    assert _rows(run, "test")[-1]["test_loss"] == pytest.approx(_rows(one.run_dir, "test")[-1]["test_loss"], abs=2e-5)

    wa, wb = mx.load(str(one.run_dir / "adapters.safetensors")), mx.load(str(run / "adapters.safetensors"))
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        assert np.allclose(np.array(wb[k]), np.array(wa[k]), atol=1e-5, rtol=1e-3), k
    assert int(mx.load(str(run / "optimizer.safetensors"))["step"].item()) == 6
    assert any(np.abs(np.array(v)).max() > 1e-3 for k, v in wb.items() if k.endswith("lora_b"))  # lora_b starts at 0
    assert json.loads((run / "run.json").read_text())["forward"]["processes"] == 2
