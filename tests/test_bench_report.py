"""Reports from a real (scripted-model) run: rich table, report.md, report.json, cases.jsonl and
the PNG chart, with mean ± spread columns per temperature when sweeping."""

import json

import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from rich.console import Console

from mlx_distill.bench.report import (
    load_report,
    markdown,
    rich_table,
    suite_lines,
    suite_rows,
    table_rows,
    write_run_dir,
)
from mlx_distill.bench.runner import ModelSpec, RunConfig, run_benchmark
from mlx_distill.bench.suites import Suite, load_suite


def lister(messages, info: AgentInfo) -> ModelResponse:
    if any(isinstance(p, ToolReturnPart) for p in getattr(messages[-1], "parts", [])):
        return ModelResponse(parts=[TextPart("Done looking.")])
    return ModelResponse(parts=[ToolCallPart("list_files", {})])


def talker(messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("A load balancer spreads traffic across servers.")])


@pytest.fixture(scope="module")
def data():
    cases = {c.id: c for c in load_suite("discrimination").cases}
    suite = Suite("discrimination", [cases["count-03"], cases["architecture-05"], cases["concept-01"]])
    specs = [
        ModelSpec(FunctionModel(lister), label="lister"),
        ModelSpec(FunctionModel(talker), label="talker"),
        ModelSpec("/nonexistent/model"),
    ]
    return run_benchmark(specs, [suite], RunConfig(temperatures=[0.0, 0.7], seeds=[0, 1])).to_json()


def test_table_has_a_column_per_model_and_temperature(data):
    header, rows = table_rows(data)
    assert header == [
        "metric",
        "lister @T=0",
        "lister @T=0.7",
        "talker @T=0",
        "talker @T=0.7",
        "/nonexistent/model @T=0",
        "/nonexistent/model @T=0.7",
    ]
    cells = dict(rows)
    assert cells["decision accuracy"][:4] == ["33.3% ± 0.0", "33.3% ± 0.0", "66.7% ± 0.0", "66.7% ± 0.0"]
    assert cells["tool hallucination"][0].startswith("100.0%") and cells["tool hallucination"][2].startswith("0.0%")
    assert cells["decision accuracy"][4] == "–"
    console = Console(record=True, width=200)
    console.print(rich_table(data))
    text = console.export_text()
    assert "talker @T=0.7" in text and "macro-F1" in text and "mean ± spread over 2 seeds" in text


def test_run_directory_files(data, tmp_path):
    paths = write_run_dir(data, tmp_path / "run")
    assert load_report(tmp_path / "run") == json.loads(json.dumps(data))
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = paths["cases"].read_text().splitlines()
    assert len(lines) == 2 * 2 * 2 * 3  # two loaded models × temperatures × seeds × cases
    md = paths["markdown"].read_text()
    assert "| metric | lister @T=0 |" in md and "## Per class (pooled)" in md
    assert "## Models that failed to load" in md and "/nonexistent/model: failed to load" in md
    assert "## Cases that went wrong" in md and "count-03" in md
    assert markdown(data) + "\n" == md


def test_reports_put_balanced_accuracy_and_the_baseline_first_and_flag_constant_models(data):
    header, rows = table_rows(data)
    assert [r[0] for r in rows[:4]] == [
        "balanced accuracy",
        "  majority baseline",
        "decision accuracy",
        "  no better than baseline",
    ]
    cells = dict(rows)
    # lister always calls a tool: 1 tool + 2 direct cases -> baseline 66.7%, balanced 50%, flagged
    assert cells["balanced accuracy"][0].startswith("50.0%") and cells["  majority baseline"][0].startswith("66.7%")
    assert cells["  no better than baseline"][:4] == ["YES", "YES", "YES", "YES"]
    by_model = {r[1]: r for r in suite_rows(data)}
    assert by_model["lister"][-1] == "NO BETTER THAN BASELINE" and by_model["lister"][4] == "66.7% (direct)"
    text = "\n".join(suite_lines(data))
    assert "lister  <- NO BETTER THAN BASELINE" in text and "verdict: NO BETTER THAN BASELINE" in text
    assert "## Judgement by suite" in markdown(data)


def test_the_bench_summary_printed_to_a_file_fits_80_columns_and_cuts_no_name(data, tmp_path):
    import copy
    import io

    data = copy.deepcopy(data)
    for m in data["models"]:  # names as long as the main job's
        m["label"] = {"lister": "embedded:smollm2-135m", "talker": "embedded:smollm2-135m + default"}.get(
            m["label"], m["label"]
        )
    out = io.StringIO()  # not a terminal: rich falls back to 80 columns, as in a log file
    console = Console(file=out)
    console.print(rich_table(data))
    text = out.getvalue() + "\n".join(suite_lines(data)) + "\n"
    lines = text.splitlines()
    assert console.width == 80 and all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in text
    body = "\n".join(suite_lines(data))
    assert "\n  embedded:smollm2-135m + default  <- NO BETTER" in body and "\ndiscrimination (12 cases)\n" in body
