"""Damaged run directories and killed training runs: `train --resume` names the damaged file and how to
recover before any model loads, and a run SIGKILLed mid-training resumes with every step exactly once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from mlx_distill.errors import InputError
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.trainer import train

CFG = {
    "batch_size": 4,
    "num_layers": 2,
    "iters": 4,
    "learning_rate": 3e-3,
    "steps_per_eval": 3,
    "val_batches": 0,
    "save_every": 2,
    "steps_per_report": 3,
    "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_small_data(tmp_path_factory.mktemp("fault_data") / "data", n_train=10, n_valid=4, n_test=2)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, data_dir):
    run = tmp_path_factory.mktemp("runs") / "done"
    train(
        {**CFG, "model": str(tiny_model_dir), "data": str(data_dir), "adapter_path": str(run)},
        progress=False,
        quiet=True,
    )
    return run


def _damaged(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    return run


def _resume(run, data_dir, model="/nonexistent/model", iters=6):
    """A model path that does not exist: the error must come before the model is even looked for."""
    return train(
        {**CFG, "iters": iters, "model": model, "data": str(data_dir), "adapter_path": str(run)},
        resume=True,
        progress=False,
        quiet=True,
    )


def test_a_damaged_state_json_is_named_with_the_latest_intact_checkpoint(tmp_path, finished_run, data_dir):
    run = _damaged(tmp_path, finished_run)
    (run / "state.json").write_text('{"step": 4, "adapt')
    with pytest.raises(InputError) as e:
        _resume(run, data_dir)
    msg = str(e.value)
    assert msg.startswith(f"{run / 'state.json'} [resume]: damaged checkpoint state")
    assert f"resume_adapter_file: {run / '0000004_adapters.safetensors'}" in msg and "\n" not in msg


def test_a_truncated_adapter_points_to_the_previous_checkpoint(tmp_path, finished_run, data_dir):
    run = _damaged(tmp_path, finished_run)
    last = run / "0000004_adapters.safetensors"
    last.write_bytes(last.read_bytes()[:-100])
    with pytest.raises(InputError) as e:
        _resume(run, data_dir)
    assert str(e.value).startswith(f"{last} [resume]: damaged checkpoint file: truncated")
    assert "0000002_adapters.safetensors" in str(e.value)


def test_an_optimizer_from_another_save_is_caught_and_deleting_it_resumes(
    tmp_path, finished_run, data_dir, tiny_model_dir
):
    run = _damaged(tmp_path, finished_run)
    shutil.copyfile(run / "0000002_adapters.safetensors", run / "optimizer.safetensors")  # whole, but wrong
    with pytest.raises(
        InputError,
        match=r"optimizer.safetensors \[resume\]: damaged checkpoint file: it is not the "
        r"file of step 4 .* delete it to resume from step 4",
    ):
        _resume(run, data_dir)
    (run / "optimizer.safetensors").unlink()
    assert _resume(run, data_dir, model=str(tiny_model_dir)).steps == 6


def test_a_torn_last_metrics_line_is_dropped_and_a_torn_middle_line_is_named(
    tmp_path, finished_run, data_dir, tiny_model_dir
):
    run = _damaged(tmp_path, finished_run)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"kind": "train", "step": 5, "lo')  # a kill while appending
    r = _resume(run, data_dir, model=str(tiny_model_dir))
    steps = [
        row["step"]
        for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        if row["kind"] == "train"
    ]
    assert r.steps == 6 and steps == list(range(1, 7))
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[2] = lines[2][:10]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"metrics.jsonl:3 \[resume\]: damaged metrics line"):
        _resume(run, data_dir, iters=8)


def test_an_adapter_path_that_is_a_file_fails_before_the_model_loads(tmp_path, data_dir):
    (tmp_path / "taken").write_text("not a directory")
    with pytest.raises(InputError, match="adapter_path: expected a run directory, found a file"):
        train(
            {**CFG, "model": "/nonexistent/model", "data": str(data_dir), "adapter_path": str(tmp_path / "taken")},
            progress=False,
            quiet=True,
        )


def test_sigkill_mid_training_then_resume_loses_and_repeats_nothing(tmp_path, tiny_model_dir, data_dir):
    run = tmp_path / "killed"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {**CFG, "iters": 6, "model": str(tiny_model_dir), "data": str(data_dir), "adapter_path": str(run)}
        )
    )
    cmd = [sys.executable, "-c", "from mlx_distill.train.cli import train; train()", "-c", str(cfg), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads((run / "state.json").read_text())["step"] >= 2:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((run / "state.json").read_text())["step"]
    assert 2 <= killed_at < 6
    done = train(yaml.safe_load(cfg.read_text()), resume=True, progress=False, quiet=True)
    assert done.resumed_from == killed_at and done.steps == 6
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == list(range(1, 7))
    assert json.loads((run / "state.json").read_text())["step"] == 6
