"""`mlx-distill bench` and `mlx-distill compare` through the root CLI: run directories, --json,
sweeps, and one-line errors for bad input."""

import json

import pytest
from click.testing import CliRunner

from mlx_distill.bench.cli import model_specs, parse_temperatures
from mlx_distill.cli import main
from mlx_distill.errors import InputError


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("suite") / "mini.jsonl"
    rows = [
        {
            "id": "t1",
            "question": "How many lines does {path} have?",
            "label": "tool",
            "category": "count",
            "expected_tools": ["read_file"],
            "workspace": {"kind": "line_count"},
            "answer": {"type": "number", "value": "{count}"},
        },
        {
            "id": "d1",
            "question": "What is a mutex?",
            "label": "direct",
            "category": "concept",
            "answer": {"type": "any_of", "keywords": ["lock"]},
        },
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_bench_progress_is_one_line_per_case_when_stderr_is_not_a_terminal(tiny_model_dir, suite_file, tmp_path):
    # a log file gets no rich bar, so each finished case is a line with its outcome and the ETA
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "--model",
            str(tiny_model_dir),
            "--suite",
            str(suite_file),
            "--max-tokens",
            "4",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("bench ")]
    assert [x.split()[1] for x in lines] == ["1/2", "2/2"], res.stderr
    assert "t1: tool -> " in lines[0] and "d1: direct -> " in lines[1]
    assert all("elapsed, ETA" in x and (" correct," in x or " wrong," in x) for x in lines)


def test_bench_sweep_writes_run_directory_and_json(tiny_model_dir, suite_file, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "--model",
            str(tiny_model_dir),
            "--suite",
            str(suite_file),
            "--temperature",
            "0,0.7",
            "--seeds",
            "2",
            "--max-tokens",
            "4",
            "--out",
            str(out),
            "--json",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["config"]["temperatures"] == [0.0, 0.7] and data["config"]["seeds"] == [0, 1]
    assert len(data["cases"]) == 8
    assert set(data["models"][0]["by_temperature"]) == {"0", "0.7"}
    for name in ("report.json", "report.md", "cases.jsonl", "chart.png"):
        assert (out / name).is_file()


def test_bench_table_and_failed_model_line(tiny_model_dir, suite_file, tmp_path):
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "-m",
            str(tiny_model_dir),
            "-m",
            str(tmp_path / "missing"),
            "--suite",
            str(suite_file),
            "--category",
            "concept",
            "--max-tokens",
            "2",
            "--out",
            str(tmp_path / "r"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"error: {tmp_path / 'missing'}: failed to load: InputError" in res.stderr
    assert "decision accuracy" in res.stdout and "report:" in res.stdout
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [c["case_id"] for c in data["cases"]] == ["d1"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--suite", "nosuch"], "error: unknown suite 'nosuch'"),
        (["--suite", "bfcl:cooking"], "error: unknown BFCL category 'cooking'"),
        (["--category", "poetry"], "error: unknown category 'poetry'"),
        (["--temperature", "hot"], "Invalid value for --temperature: 'hot' is not a number"),
        (["--adapter-path", "a", "--adapter-path", "b"], "2 --adapter-path values for 1 --model values"),
        (["--adapter-path", "/no/such/adapter"], "error: /no/such/adapter: adapter directory not found"),
    ],
)
def test_bench_bad_input_is_one_line(args, message, suite_file):
    suite = [] if "--suite" in args else ["--suite", str(suite_file)]
    res = CliRunner().invoke(main, ["bench", "-m", "embedded:smollm2-135m", *suite, *args, "--no-progress"])
    assert res.exit_code == 2 and message in res.stderr, res.output
    assert "Traceback" not in res.output


def test_bench_malformed_suite_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q", "label": "direct", "category": "concept"}\n{oops\n')
    res = CliRunner().invoke(main, ["bench", "-m", "x", "--suite", str(bad), "--no-progress"])
    assert res.exit_code == 2 and f"error: {bad}:2 [json]: invalid JSON" in res.stderr


def test_all_models_failing_exits_nonzero(suite_file, tmp_path):
    res = CliRunner().invoke(
        main,
        [
            "bench",
            "-m",
            str(tmp_path / "gone"),
            "--suite",
            str(suite_file),
            "--out",
            str(tmp_path / "r"),
            "--no-progress",
        ],
    )
    assert res.exit_code == 1 and "failed to load" in res.stderr


def test_model_spec_pairing_and_temperatures(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    specs = model_specs(["m", "m"], [str(a)])
    assert [(s.model, s.adapter_path) for s in specs] == [("m", str(a)), ("m", None)]
    specs = model_specs(["m"], [str(a)], include_base=True)
    assert [(s.label) for s in specs] == ["m", "m + a"]
    assert [s.adapter_path for s in model_specs(["m", "n"], ["-", str(a)])] == [None, str(a)]
    with pytest.raises(InputError):
        model_specs(["m"], [str(a), str(a)])
    assert parse_temperatures(["0,0.7", "1"]) == [0.0, 0.7, 1.0]
    assert parse_temperatures([]) == [0.0]


def test_compare_side_by_side(tiny_model_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# comment\nWhat is a closure?\n\nList the files here.\n")
    out = tmp_path / "cmp"
    res = CliRunner().invoke(
        main,
        [
            "compare",
            "--prompts",
            str(prompts),
            "-m",
            str(tiny_model_dir),
            "-m",
            str(tmp_path / "missing"),
            "--max-tokens",
            "3",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "failed to load" in res.stderr
    md = (out / "compare.md").read_text()
    assert "What is a closure?" in md and "List the files here." in md and str(tiny_model_dir) in md
    html = (out / "compare.html").read_text()
    assert html.startswith("<!doctype html>") and html.count("<tr>") == 3
    data = json.loads((out / "compare.json").read_text())
    assert [r["id"] for r in data["rows"]] == ["p1", "p2"]
    assert data["rows"][0]["cells"][str(tiny_model_dir)]["outcome"] in ("answered", "loop", "limit")


def test_compare_prompt_file_errors(tmp_path):
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"question": "ok"}\n{"id": "x"}\n')
    res = CliRunner().invoke(main, ["compare", "--prompts", str(bad), "-m", "x", "--no-progress"])
    assert res.exit_code == 2 and f"{bad}:2 [prompts]: each line needs a non-empty 'question'" in res.stderr


def test_compare_scores_judgement_when_prompts_carry_labels(tmp_path):
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    from mlx_distill.bench.compare import compare_markdown, load_prompts, run_compare
    from mlx_distill.bench.runner import ModelSpec

    def lister(messages, info):
        if any(isinstance(p, ToolReturnPart) for p in getattr(messages[-1], "parts", [])):
            return ModelResponse(parts=[TextPart("Done.")])
        return ModelResponse(parts=[ToolCallPart("list_files", {})])

    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        '{"question": "List the files.", "label": "tool"}\n'
        '{"question": "What is a closure?", "label": "direct"}\n'
        '{"question": "What is a mutex?", "label": "direct"}\n'
    )
    data = run_compare([ModelSpec(FunctionModel(lister), label="always-call")], load_prompts(str(prompts)))
    v = data["judgement"]["always-call"]
    assert v["balanced_accuracy"] == 0.5 and v["majority_baseline"] == pytest.approx(2 / 3)
    assert v["at_or_below_baseline"] is True
    assert "NO BETTER THAN BASELINE" in compare_markdown(data)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "label": "maybe"}\n')
    with pytest.raises(InputError, match="bad.jsonl:1.*'label' must be one of"):
        load_prompts(str(bad))


TIMINGS = {
    "started",
    "wall_s",
    "load_s",
    "case_seconds",
    "cases_per_min",
    "peak_memory_mb",
    "latency_s",
    "latency_p50_s",
    "latency_p95_s",
    "tokens_per_s",
    "host",
}


def _content(obj):
    """A report without what depends on the clock or the machine."""
    if isinstance(obj, dict):
        return {k: _content(v) for k, v in obj.items() if k not in TIMINGS}
    if isinstance(obj, list):
        return [_content(v) for v in obj]
    return obj


def test_sharded_bench_over_two_processes_writes_the_single_process_report(tiny_model_dir, tmp_path):
    """`mlx.launch -n 2 --backend ring -- mlx-distill bench ...`: two real processes on 127.0.0.1 split the
    cases (one more on rank 0: five cases), rank 0 merges, and the report has the content of one process's."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from mlx_distill._blas import blas_env

    bindir = Path(sys.executable).parent
    args = [
        "bench",
        "-m",
        str(tiny_model_dir),
        "--suite",
        "discrimination",
        "--limit",
        "5",
        "--max-tokens",
        "4",
        "--seeds",
        "2",
        "--concurrency",
        "1",
        "--no-progress",
        "--json",
    ]
    single = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
    assert single.exit_code == 0, single.output
    launch = shutil.which("mlx.launch", path=str(bindir))
    run = subprocess.run(
        [
            launch,
            "-n",
            "2",
            "--backend",
            "ring",
            "--",
            str(bindir / "mlx-distill"),
            *args,
            "--out",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        env=blas_env(),
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "report.json").read_text())
    two = json.loads((tmp_path / "two" / "report.json").read_text())
    assert len(two["cases"]) == 10 and [c["case_id"] for c in two["cases"]] == [c["case_id"] for c in one["cases"]]
    assert _content(two) == _content(one)
    assert run.stdout.count('"started":') == 1  # only rank 0 reported
