"""The distillation loop end to end on the loopback fake and the tiny model: collect from the teacher,
build the data (teacher source), train a few steps, then benchmark and compare teacher, base student and
distilled student side by side."""

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.data.build import build
from mlx_distill.collection.collect import collect
from mlx_distill.collection.prompts import Prompt
from mlx_distill.testing.fake_anthropic import FakeAnthropic
from mlx_distill.testing.teacher_scripts import line_count_teacher
from mlx_distill.train.trainer import train

TEACHER = "anthropic:claude-sonnet-5-5"
DIRECT = ["What is a mutex?", "What is a closure?", "Explain what a hash table is.", "What is a coroutine?"]


@pytest.fixture
def fake(monkeypatch):
    with FakeAnthropic(line_count_teacher) as f:
        for k, v in f.env().items():
            monkeypatch.setenv(k, v)
        yield f


def test_collected_store_builds_trains_and_benchmarks_beside_the_teacher(fake, tmp_path, tiny_model_dir):
    prompts = [
        Prompt(
            id=f"lines-{i}",
            question="Count the lines of {path} for me.",
            label="tool",
            category="count",
            workspace={"generator": "line_count", "seed": 1000 + i},
            answer={"type": "number", "value": "{count}"},
        )
        for i in range(8)
    ]
    prompts += [Prompt(id=f"d{i}", question=q, label="direct", category="concept") for i, q in enumerate(DIRECT)]
    summary = collect(TEACHER, prompts, tmp_path / "store", concurrency=4)
    assert summary.accepted == 12, summary.lines()

    config = {
        "output_dir": str(tmp_path / "data"),
        "sources": [{"type": "teacher", "paths": [str(tmp_path / "store")]}],
        "validation": {"model": None, "bench": []},
        "split": {"valid": 0.25, "test": 0.0},
    }
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(config))
    result = build(tmp_path / "data.yaml")
    counts = result.manifest["counts"]
    assert counts["by_source"] == {"teacher": counts["total"]} and counts["by_label"]["direct"] >= 1
    # the same through the CLI, the store given on the command line (what train_lora.sh does)
    config["sources"][0]["enabled"] = False
    (tmp_path / "cli.yaml").write_text(yaml.safe_dump(config))
    res = CliRunner().invoke(
        main, ["data", "build", "-c", str(tmp_path / "cli.yaml"), "--teacher-store", str(tmp_path / "store"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"] == counts
    row = json.loads(Path(result.files["train"]).read_text().splitlines()[0])
    assert row["meta"]["source"] == "teacher" and row["meta"]["verdict"]["accepted"]

    run = train(
        {
            "model": str(tiny_model_dir),
            "data": str(tmp_path / "data"),
            "adapter_path": str(tmp_path / "adapter"),
            "batch_size": 2,
            "num_layers": 2,
            "iters": 3,
            "val_batches": 0,
            "save_every": 3,
            "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
        },
        progress=False,
        quiet=True,
    )
    assert run.steps == 3 and (tmp_path / "adapter" / "adapters.safetensors").is_file()

    suite = tmp_path / "mini.jsonl"
    suite.write_text(
        json.dumps(
            {
                "id": "t1",
                "question": "How many lines does {path} have?",
                "label": "tool",
                "category": "count",
                "expected_tools": ["read_file"],
                "workspace": {"kind": "line_count"},
                "answer": {"type": "number", "value": "{count}"},
            }
        )
        + "\n"
        + json.dumps({"id": "d1", "question": "What is a semaphore?", "label": "direct", "category": "concept"})
        + "\n"
    )
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "-m",
            str(tiny_model_dir),
            "--adapter-path",
            str(tmp_path / "adapter"),
            "--include-base",
            "--teacher",
            TEACHER,
            "--suite",
            str(suite),
            "--max-tokens",
            "4",
            "--out",
            str(tmp_path / "bench"),
            "--json",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    labels = [m["label"] for m in data["models"]]
    assert labels == [str(tiny_model_dir), f"{tiny_model_dir} + adapter", f"teacher {TEACHER}"]
    teacher_col = data["models"][2]["pooled"]
    assert teacher_col["decision_accuracy"] == 1.0 and teacher_col["answer_correctness_tool"] == 1.0
    assert f"teacher {TEACHER}" in (tmp_path / "bench" / "report.md").read_text()


def test_compare_shows_the_teacher_beside_the_student(fake, tmp_path, tiny_model_dir):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "p1", "question": "What is a mutex?"}) + "\n")
    res = CliRunner().invoke(
        main,
        [
            "compare",
            "--prompts",
            str(prompts),
            "-m",
            str(tiny_model_dir),
            "--teacher",
            TEACHER,
            "--max-tokens",
            "4",
            "--out",
            str(tmp_path / "cmp"),
            "--json",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["models"] == [str(tiny_model_dir), f"teacher {TEACHER}"]
    cell = data["rows"][0]["cells"][f"teacher {TEACHER}"]
    assert cell["text"].startswith("A short, correct explanation") and cell["outcome"] == "answered"


def test_bench_without_a_teacher_key_notes_it_and_runs_the_student(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "p1", "question": "What is a mutex?"}) + "\n")
    res = CliRunner().invoke(
        main,
        [
            "compare",
            "--prompts",
            str(prompts),
            "-m",
            str(tiny_model_dir),
            "--teacher",
            TEACHER,
            "--max-tokens",
            "2",
            "--out",
            str(tmp_path / "cmp"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"note: teacher {TEACHER} skipped:" in res.stderr and "ANTHROPIC_API_KEY" in res.stderr
