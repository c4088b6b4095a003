"""The runner end to end through `create_agent` and the real tools in fresh workspaces: a scripted
pydantic-ai model that behaves like a good agent scores well, one that always reaches for a tool is
caught hallucinating, a failing case never aborts the run, a model that fails to load is one line,
BFCL cases end at the first call, and the tiny MLX model runs through the same path."""

import re

import pytest
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mlx_distill.bench.runner import ModelSpec, RunConfig, run_benchmark
from mlx_distill.bench.suites import Suite, load_suite


def _question(messages) -> str:
    return next(p.content for m in messages for p in getattr(m, "parts", []) if isinstance(p, UserPromptPart))


def _last_tool_result(messages) -> str | None:
    parts = getattr(messages[-1], "parts", [])
    returns = [p for p in parts if isinstance(p, ToolReturnPart)]
    return returns[-1].model_response_str() if returns else None


def good_agent(messages, info: AgentInfo) -> ModelResponse:
    """Looks in the workspace when the question is about it, answers from what the tool showed."""
    result = _last_tool_result(messages)
    if result is not None:
        return ModelResponse(parts=[TextPart(f"From the workspace: {result}")])
    q = _question(messages)
    if m := re.search(r"defines the function `(\w+)`", q):
        return ModelResponse(parts=[ToolCallPart("grep", {"pattern": f"def {m.group(1)}\\b"})])
    if m := re.search(r"Run `(python [\w/.]+)`", q):
        return ModelResponse(parts=[ToolCallPart("run_command", {"command": m.group(1)})])
    if m := re.search(r"Create the file (\S+) containing the text (\S+)\.", q):
        return ModelResponse(parts=[ToolCallPart("write_file", {"path": m.group(1), "content": m.group(2)})])
    if "TODO" in q:
        return ModelResponse(parts=[ToolCallPart("grep", {"pattern": "TODO", "path": "src"})])
    return ModelResponse(parts=[TextPart("Two threads each wait for a lock the other holds, so neither proceeds.")])


def always_list_files(messages, info: AgentInfo) -> ModelResponse:
    if _last_tool_result(messages) is not None:
        return ModelResponse(parts=[TextPart("I listed the files.")])
    return ModelResponse(parts=[ToolCallPart("list_files", {})])


def crashes_on_deadlock(messages, info: AgentInfo) -> ModelResponse:
    if "deadlock" in _question(messages):
        raise RuntimeError("the model fell over")
    return good_agent(messages, info)


@pytest.fixture(scope="module")
def small_suite():
    cases = {c.id: c for c in load_suite("discrimination").cases}
    return Suite("mini", [cases[i] for i in ("search-01", "run-01", "write-01", "concept-04", "architecture-05")])


def test_good_agent_scores_well_across_seeds(small_suite):
    result = run_benchmark([ModelSpec(FunctionModel(good_agent), label="good")], [small_suite], RunConfig(seeds=[0, 1]))
    data = result.to_json()
    model = data["models"][0]
    pooled = model["pooled"]
    assert pooled["cases"] == 10 and pooled["errors"] == 0, data["cases"]
    assert pooled["decision_accuracy"] == 1.0 and pooled["macro_f1"] == 1.0
    assert pooled["tool_hallucination_rate"] == 0.0 and pooled["right_tool_rate"] == 1.0
    assert pooled["argument_validity"] == 1.0
    # the tool answers really come from the generated workspaces (and the write landed in it)
    assert pooled["answer_correctness_tool"] == 1.0, [c["why"] for c in data["cases"] if c["correct"] is False]
    by_case = {(c["case_id"], c["seed"]): c for c in data["cases"]}
    assert by_case[("search-01", 0)]["question"] != by_case[("search-01", 1)]["question"]  # seeded contents
    assert by_case[("run-01", 0)]["facts"]["output"] in by_case[("run-01", 0)]["final_text"]
    assert model["by_temperature"]["0"]["decision_accuracy"] == {"mean": 1.0, "std": 0.0, "n": 2}
    assert model["cases_per_min"] > 0 and model["load_error"] is None


def test_hallucinating_model_failing_cases_and_failing_loads(small_suite, tmp_path):
    (tmp_path / "adapter").mkdir()
    specs = [
        ModelSpec(FunctionModel(always_list_files), label="eager"),
        ModelSpec(FunctionModel(crashes_on_deadlock), label="fragile"),
        ModelSpec(str(tmp_path / "no-such-model")),
        ModelSpec("anthropic:claude-sonnet-5-5", adapter_path=str(tmp_path / "adapter")),
        ModelSpec("http://127.0.0.1:9/v1"),
    ]
    errors = []
    result = run_benchmark(specs, [small_suite], on_model_error=lambda spec, msg: errors.append(msg))
    data = result.to_json()
    eager, fragile, missing, teacher, server = data["models"]
    assert eager["pooled"]["tool_hallucination_rate"] == 1.0 and eager["pooled"]["direct_recall"] == 0.0
    assert eager["pooled"]["right_tool_rate"] == 0.0  # list_files is never the right tool for these cases
    assert fragile["pooled"]["errors"] == 1 and fragile["pooled"]["cases"] == 5
    crashed = next(c for c in data["cases"] if c["model"] == "fragile" and c["case_id"] == "concept-04")
    assert crashed["outcome"] == "error" and "the model fell over" in crashed["error"]
    assert missing["load_error"] and missing["pooled"] is None and "\n" not in missing["load_error"]
    assert "adapter" in teacher["load_error"]
    assert "no server answers at http://127.0.0.1:9/v1" in server["load_error"]
    assert len(errors) == 3


def test_bfcl_cases_end_at_the_first_call():
    pytest.importorskip("bfcl_eval")
    simple = load_suite("bfcl:simple_python").cases[:3]
    irrelevant = load_suite("bfcl:irrelevance").cases[:2]
    by_question = {c.question: c for c in simple + irrelevant}
    seen_tools = []

    def oracle(messages, info: AgentInfo) -> ModelResponse:
        case = by_question[_question(messages)]
        seen_tools.append(sorted(t.name for t in info.function_tools))
        if not case.ground_truth:
            return ModelResponse(parts=[TextPart("None of these functions can answer that.")])
        ((name, answer),) = case.ground_truth[0].items()
        shown = {v: k for k, v in case.name_map.items()}[name]
        return ModelResponse(parts=[ToolCallPart(shown, {k: v[0] for k, v in answer.items() if v[0] != ""})])

    data = run_benchmark(
        [ModelSpec(FunctionModel(oracle), label="oracle")], [Suite("bfcl", simple + irrelevant)]
    ).to_json()
    pooled = data["models"][0]["pooled"]
    assert pooled["answer_correctness"] == 1.0 and pooled["decision_accuracy"] == 1.0, data["cases"]
    assert all(c["requests"] == 1 for c in data["cases"])  # nothing executed, no second request
    assert all("Deferred" not in c["final_text"] for c in data["cases"])
    assert all(not set(t) & {"read_file", "grep"} for t in seen_tools)  # only the case's own functions


def test_tiny_mlx_model_through_the_real_agent(tiny_model_dir, small_suite):
    suite = Suite("two", [small_suite.cases[0], small_suite.cases[3]])
    result = run_benchmark([ModelSpec(str(tiny_model_dir))], [suite], RunConfig(max_tokens=8))
    data = result.to_json()
    m = data["models"][0]
    assert m["load_error"] is None and m["pooled"]["cases"] == 2
    assert all(c["outcome"] in ("answered", "loop", "limit") and c["output_tokens"] > 0 for c in data["cases"])
    assert m["peak_memory_mb"] is not None and m["pooled"]["tokens_per_s"] > 0


def test_adapter_for_another_base_is_a_one_line_load_error(tiny_model_dir, tmp_path, small_suite):
    import json

    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from mlx_distill.testing.tiny import build_tiny_model

    model, _ = load(str(tiny_model_dir))
    model.freeze()
    lora = {"rank": 4, "scale": 10.0, "dropout": 0.0}
    linear_to_lora_layers(model, 2, lora)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    mx.save_safetensors(str(adapter / "adapters.safetensors"), dict(tree_flatten(model.trainable_parameters())))
    (adapter / "adapter_config.json").write_text(
        json.dumps({"num_layers": 2, "lora_parameters": lora, "fine_tune_type": "lora"})
    )
    other = build_tiny_model(tmp_path / "other", hidden_size=96)
    specs = [ModelSpec(str(other), str(adapter)), ModelSpec(FunctionModel(good_agent), label="good")]
    data = run_benchmark(specs, [Suite("one", small_suite.cases[3:4])]).to_json()
    wrong, good = data["models"]
    assert "incompatible" in wrong["load_error"] and "\n" not in wrong["load_error"]
    assert len(wrong["load_error"].split("failed to load: ", 1)[1]) <= 320  # shortened, one line
    assert good["pooled"]["cases"] == 1 and good["load_error"] is None


def test_batched_cases_on_a_local_model_give_what_each_case_gives_alone(tiny_model_dir, small_suite):
    """--concurrency: cases run at once, their decoding batched on the one loaded model; at temperature 0
    every case's trajectory and score are the ones it gets when the cases run one by one."""
    from mlx_distill.agent.model import load_cached

    def run(concurrency):
        config = RunConfig(max_tokens=10, seeds=[0, 1], concurrency=concurrency)
        return run_benchmark([ModelSpec(str(tiny_model_dir))], [small_suite], config).models[0]

    alone = run(1)
    stats = load_cached(str(tiny_model_dir)).generator.stats  # the cached model: other tests batch on it too
    stats["max_batch"] = 0
    together = run(3)
    assert 2 <= stats["max_batch"] <= 3  # cases decoded together, never more than --concurrency
    assert together.load_error is None and len(together.scores) == 10
    keys = (
        "case_id",
        "seed",
        "question",
        "final_text",
        "tool_calls",
        "predicted",
        "correct",
        "outcome",
        "requests",
        "input_tokens",
        "output_tokens",
    )
    assert [[getattr(s, k) for k in keys] for s in together.scores] == [
        [getattr(s, k) for k in keys] for s in alone.scores
    ]
    assert [o.tool_calls for o in together.outcomes] == [o.tool_calls for o in alone.outcomes]
