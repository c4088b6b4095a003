"""The call-or-not decision measured without generating: AUC, balanced accuracy and the majority
baseline against hand-made probabilities, the calibration fit on synthetic scores, the batched
shared-prefix forward against plain full forwards, and the `decide` command's 80-column summary."""

import json
import subprocess
import sys

import pytest

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx

from mlx_distill._blas import blas_env
from mlx_distill.agent.calibration import balanced_accuracy_at, fit_bias, roc_auc
from mlx_distill.agent.probe import first_tokens, opener_id
from mlx_distill.bench.decision import NO_CALL, case_messages, case_prompt_ids, figures, opening_kind
from mlx_distill.bench.suites import Case
from mlx_distill.errors import InputError
from mlx_distill.io import write_jsonl
from mlx_distill.prompting import conversation, render
from mlx_distill.tools import tool_schemas


def _row(gold, decided, p, suite="s", category="c"):
    return {"gold": gold, "raw": decided, "p_call": p, "suite": suite, "category": category}


def test_auc_counts_pairs_ranked_right_and_ties_as_half():
    assert roc_auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    # one positive at 0.5 tied with one of two negatives, the other below it: (1 + 0.5) / 2
    assert roc_auc([0.5, 0.5, 0.1], [True, False, False]) == pytest.approx(0.75)
    assert roc_auc([0.3, 0.3, 0.3, 0.3], [True, False, True, False]) == pytest.approx(0.5)
    assert roc_auc([0.3, 0.4], [True, True]) is None


def test_decision_figures_give_balanced_accuracy_the_majority_baseline_and_auc():
    # 2 tool cases, 6 no-call cases; the model calls on one tool case and on one no-call case
    rows = [_row("tool", "tool", 0.9), _row("tool", NO_CALL, 0.4)]
    rows += [_row(NO_CALL, "tool", 0.6)] + [_row(NO_CALL, NO_CALL, p) for p in (0.05, 0.1, 0.2, 0.3, 0.35)]
    f = figures(rows, "raw")
    assert f["cases"] == 8 and f["tool_cases"] == 2
    assert f["balanced_accuracy"] == pytest.approx((1 / 2 + 5 / 6) / 2)
    assert f["majority_baseline"] == pytest.approx(6 / 8) and f["majority_class"] == NO_CALL
    assert f["decision_accuracy"] == pytest.approx(6 / 8)
    assert f["at_or_below_baseline"] is True  # 75% decision accuracy is the baseline's
    # AUC: 0.9 beats all 6 negatives, 0.4 beats 5 of them: 11 / 12
    assert f["auc"] == pytest.approx(11 / 12)
    assert f["tool_recall"] == 0.5 and f["no_call_rate"] == pytest.approx(5 / 6)


def test_a_model_far_above_the_baseline_on_many_cases_is_significant():
    rows = [_row("tool", "tool", 0.9)] * 90 + [_row("tool", NO_CALL, 0.2)] * 10
    rows += [_row(NO_CALL, NO_CALL, 0.1)] * 95 + [_row(NO_CALL, "tool", 0.6)] * 5
    f = figures(rows, "raw")
    assert f["balanced_accuracy"] == pytest.approx(0.925)
    assert f["majority_baseline"] == pytest.approx(0.5) and f["p_value"] < 1e-20 and f["significant"] is True


def test_the_fitted_bias_separates_scores_no_threshold_at_zero_separates():
    # every margin is negative (the raw model never calls) but tool cases rank above the others
    margins = [-1.0, -1.5, -2.0, -4.0, -4.5, -5.0, -6.0]
    positive = [True, True, True, False, False, False, False]
    assert balanced_accuracy_at(margins, positive) == 0.5
    bias = fit_bias(margins, positive)
    assert bias == pytest.approx(3.0)  # halfway between -2.0 and -4.0
    assert balanced_accuracy_at(margins, positive, bias) == 1.0
    # the opposite prior: a model that calls on everything gets a negative bias
    assert fit_bias([m + 10 for m in margins], positive) == pytest.approx(-7.0)


def test_calibrating_on_one_class_is_a_clear_error():
    with pytest.raises(InputError, match="needs both tool and no-call cases; all 3 are tool"):
        fit_bias([0.1, 0.2, 0.3], [True, True, True])
    with pytest.raises(InputError, match="all 2 are no-call"):
        fit_bias([0.1, 0.2], [False, False])


def test_batched_shared_prefix_forward_gives_each_prompts_own_first_token(tiny_model_dir):
    from mlx_lm import load

    model, tok = load(str(tiny_model_dir))
    questions = ["What is a race condition?", "Which files import requests?", "List the files.", "Hi", "Why?"]
    prompts = [
        tok.encode(
            render(conversation(q), tool_schemas() if i % 2 else None, tok, add_generation_prompt=True),
            add_special_tokens=False,
        )
        for i, q in enumerate(questions)
    ]
    opener = opener_id(tok)
    batched = first_tokens(model, opener, prompts, batch_size=3)
    for ids, got in zip(prompts, batched):
        logits = model(mx.array(ids)[None])[0, -1].astype(mx.float32)
        p = mx.softmax(logits)[opener].item()
        best_other = max(v for i, v in enumerate(logits.tolist()) if i != opener)
        assert got.p_call == pytest.approx(p, rel=1e-3)
        assert got.margin == pytest.approx(logits[opener].item() - best_other, abs=1e-3)


def test_the_decision_prompt_is_the_agents_first_prompt(tmp_path, scripted):
    from mlx_distill.agent import create_agent, run_question

    case = Case(id="c1", question="What is a race condition?", label="direct", category="concept")
    model = scripted(["A bug."])
    run_question(create_agent(model, workspace=tmp_path), case.question)  # the workspace tools, as bench offers
    messages, tools = case_messages(case)
    assert tools == tool_schemas()
    assert model.prompts[0] == render(messages, tools, model.tokenizer, add_generation_prompt=True)


def test_decide_prints_an_80_column_summary_to_a_pipe(tmp_path, tiny_model_dir):
    tool = tool_schemas(["grep"])
    cases = [
        {
            "id": f"t{i}",
            "question": f"Which files import mod{i}?",
            "label": "tool",
            "category": "search",
            "functions": tool,
            "scoring": "catalogue",
        }
        for i in range(3)
    ] + [
        {
            "id": f"d{i}",
            "question": f"What is concept {i}?",
            "label": lab,
            "category": "concept",
            "functions": tool,
            "scoring": "catalogue",
        }
        for i, lab in enumerate(["direct", "direct", "refuse", "clarify"])
    ]
    suite = write_jsonl(tmp_path / "a_rather_long_suite_name_for_the_columns.jsonl", cases)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlx_distill.cli",
            "decide",
            "-m",
            str(tiny_model_dir),
            "-s",
            str(suite),
            "--by-category",
            "--opening",
            "5",
            "--no-progress",
            "--out",
            str(tmp_path / "out"),
        ],
        env=blas_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("report: ")]  # a path is as long as it is
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    text = proc.stdout
    assert "bal.acc" in text and "AUC" in text and "majority" in text and "[raw]" in text
    assert "a_rather_long_suite_name_for_the_col" in text and "…" not in text.split("[raw]")[0]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    pooled = report["models"][0]["raw"]["pooled"]
    assert pooled["cases"] == 7 and pooled["tool_cases"] == 3 and pooled["majority_baseline"] == pytest.approx(4 / 7)
    assert len((tmp_path / "out" / "cases.jsonl").read_text().splitlines()) == 7
    opened = report["models"][0]["by_opening"]["pooled"]
    assert sum(opened["opens"].values()) == 7 and "openings (5 greedy tokens)" in text and "by opening" in text


@pytest.mark.parametrize(
    "reply, kind",
    [
        ('<tool_call>\n{"name": "read_file", "arguments": {}}', "call"),
        ('  <tool_call>{"name"', "call"),
        ('{"name": "read_file", "arguments": {"path": "a.py"}}', "pseudo"),
        ('```json\n{\n  "name": "grep"', "pseudo"),
        ('{"function": "grep"', "pseudo"),
        ("```python\ndef add(a, b):", "text"),
        ('{"path": "a.py"}', "text"),
        ("The capital is Paris. <tool_call>", "text"),
    ],
)
def test_an_opening_is_the_trained_call_a_json_pseudo_call_or_text(reply, kind):
    assert opening_kind(reply) == kind


def test_the_openings_are_each_prompts_own_greedy_tokens_and_count_calls_of_either_shape(tiny_model_dir):
    from mlx_lm import load
    from mlx_lm.generate import generate_step

    from mlx_distill.bench.decision import DecisionSpec, run_decision_eval
    from mlx_distill.bench.suites import Suite

    tool = tool_schemas(["grep"])
    labels = ["tool", "direct", "tool", "refuse", "direct"]
    cases = [
        Case(id=f"c{i}", question=q, label=lab, category="x", functions=tool if i % 2 else None, scoring="catalogue")
        for i, (q, lab) in enumerate(zip(["Which files import os?", "Hi", "Why?", "List it.", "What is 2+2?"], labels))
    ]
    seen = []
    data = run_decision_eval(
        [DecisionSpec(str(tiny_model_dir)), DecisionSpec(str(tiny_model_dir))],
        [Suite("s", cases)],
        batch_size=2,
        opening=6,
        progress=lambda done, total, note: seen.append((done, total)),
    )
    assert [d for d, _t in seen] == sorted(d for d, _t in seen) and seen[-1] == (20, 20)  # 2 models x 2 passes x 5
    model, tok = load(str(tiny_model_dir))
    for case, row in zip(cases, data["cases"][:5]):
        ids = mx.array(case_prompt_ids(case, tok))
        greedy = [int(t) for t, _ in zip((t for t, _ in generate_step(ids, model, max_tokens=6)), range(6))]
        assert row["opening"] == tok.decode([t for t in greedy if t not in tok.eos_token_ids])
        assert row["opens"] == opening_kind(row["opening"])
    rows = [dict(r, opens=k) for r, k in zip(data["cases"][:5], ["call", "pseudo", "text", "call", "text"])]
    got = figures([dict(r, by_opening=NO_CALL if r["opens"] == "text" else "tool") for r in rows], "by_opening")
    assert got["opens"] == {"call": 2, "pseudo": 1, "text": 2} and got["trained_format_rate"] == pytest.approx(2 / 3)
    assert got["opens_no_call_cases"] == {"call": 1, "pseudo": 1, "text": 1}


def test_a_calibrated_models_openings_start_as_the_agent_would_run_it(tiny_model_dir, tmp_path):
    """With a calibration the opening's first token is the opener iff margin + bias >= 0, else the best
    other token, and the rest continues greedily from it: a bias of 0 is plain greedy decoding."""
    from mlx_distill.agent.calibration import DecisionCalibration
    from mlx_distill.bench.decision import DecisionSpec, run_decision_eval
    from mlx_distill.bench.suites import Suite

    tool = tool_schemas(["grep"])
    questions = ["Which files import os?", "Hi", "Why?", "List it.", "What is 2+2?"]
    cases = [
        Case(
            id=f"c{i}",
            question=q,
            label="tool" if i % 2 else "direct",
            category="x",
            functions=tool,
            scoring="catalogue",
        )
        for i, q in enumerate(questions)
    ]

    def openings(bias):
        spec = DecisionSpec(
            str(tiny_model_dir), calibration=str(DecisionCalibration(bias=bias).save(tmp_path / f"{bias}.json"))
        )
        data = run_decision_eval([spec], [Suite("s", cases)], batch_size=2, opening=5)
        assert data["models"][0]["calibration"]["bias"] == bias
        return [r["opening"] for r in data["cases"]]

    from mlx_lm import load

    from mlx_distill.agent.probe import opener_id

    _model, tok = load(str(tiny_model_dir))
    opener = tok.decode([opener_id(tok)])  # the tiny tokenizer's first token of "<tool_call>"
    raw = run_decision_eval([DecisionSpec(str(tiny_model_dir), calibration="none")], [Suite("s", cases)], opening=5)
    assert openings(0.0) == [r["opening"] for r in raw["cases"]]
    assert all(o.startswith(opener) for o in openings(1e4))
    assert not any(o.startswith(opener) for o in openings(-1e4))


@pytest.mark.parametrize(
    "opening, name",
    [
        ('<tool_call>\n{"name": "grep", "arguments": {', "grep"),
        ('```json\n{"name": "read_file", "arg', "read_file"),
        ('{"function": "run_command"', "run_command"),
        ('<tool_call>\n{"na', None),
        ("The answer is 4.", None),
    ],
)
def test_a_call_openings_tool_name_is_read_when_its_tokens_reach_it(opening, name):
    from mlx_distill.bench.decision import called_name

    assert called_name(opening) == name


def test_calls_are_counted_by_whether_they_name_an_offered_tool(tiny_model_dir):
    """A pseudo-call naming a tool the case does not offer is a hallucinated call, counted apart."""
    from mlx_distill.bench.decision import DecisionSpec, run_decision_eval
    from mlx_distill.bench.suites import Suite

    cases = [
        Case(
            id="c",
            question="Which files import os?",
            label="tool",
            category="x",
            functions=tool_schemas(["grep"]),
            scoring="catalogue",
        )
    ]
    data = run_decision_eval([DecisionSpec(str(tiny_model_dir))], [Suite("s", cases)], opening=3)
    row = dict(data["cases"][0], by_opening="tool")
    rows = [
        dict(row, opens="call", opening='<tool_call>\n{"name": "grep"', names="offered"),
        dict(row, opens="pseudo", opening='{"name": "read_file"', names="not offered"),
        dict(row, opens="call", opening="<tool_call>\n{", names="unseen"),
        dict(row, opens="text", opening="Sure."),
    ]
    assert figures(rows, "by_opening")["calls_naming"] == {"offered": 1, "not offered": 1, "unseen": 1}
    assert ("names" in data["cases"][0]) == (data["cases"][0]["opens"] != "text")
