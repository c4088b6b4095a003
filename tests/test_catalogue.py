"""Tool catalogues, the unseen-tool suites generated from the held-out one, and the `catalogue`
training source: seeded, disjoint by tool and parameter name, and every case checked against its
ground truth."""

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mlx_distill.bench.unseen_suites import (
    FIRST_DOMAINS,
    FIRST_DRAW,
    GROWTH_SEED,
    HELDOUT_SEED,
    SHARED_DISTRACTORS,
    suite_cases,
)
from mlx_distill.bench.suites import builtin_dir, load_suite
from mlx_distill.catalogue import KINDS, check_disjoint, generate, items, load_catalogue
from mlx_distill.data.sources.catalogue import generate_catalogue
from mlx_distill.data.validate import Located, check_record, load_bench, validate_records
from mlx_distill.errors import InputError

HELDOUT = load_catalogue("heldout")
TRAIN = load_catalogue("train")


def test_shipped_catalogues_share_no_tool_or_parameter_name():
    check_disjoint()
    assert len(HELDOUT.domains) >= 8 and len(TRAIN.domains) >= 8
    assert not TRAIN.tool_names() & HELDOUT.tool_names()
    assert not TRAIN.parameter_names() & HELDOUT.parameter_names()


def test_a_shared_name_is_caught(tmp_path):
    leak = tmp_path / "leak.yaml"
    leak.write_text((Path(HELDOUT.source)).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(InputError, match="tool name"):
        check_disjoint(load_catalogue(str(leak)), HELDOUT)


@pytest.mark.parametrize(
    "questions, rule",
    [
        ('asks: ["When is high tide in {harbour}?", "When is high tide today?"]', "lacks required parameter"),
        (  # a clarify question must leave a required argument out
            'asks: ["When is high tide in {harbour}?", "Tide times for {harbour}, please."]\n'
            '      partial: [{question: "Tides in {harbour} today?", reply: "Which day?"}]',
            "gives every required parameter",
        ),
    ],
)
def test_a_question_with_the_wrong_arguments_is_refused_with_file_and_domain(tmp_path, questions, rule):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"""
- domain: tides
  tools:
    - name: tide_table
      description: High and low tides for a harbour.
      purpose: look up tides
      parameters: {{harbour: {{description: a harbour, values: [Brest, Dover]}}}}
      {questions}
      vague: [{{question: "When is high tide?", reply: "Which harbour?"}}]
      result: {{low: "{{int:1:5}}"}}
      answer: "Low tide at {{low}}."
  near_misses: [{{question: "What causes tides?", reply: "Mainly the Moon's gravity."}}]
  out_of_reach: [{{question: "What was the tide in 1066?", reply: "I can't know that."}}]
""",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=rf"bad\.yaml.*domain tides.*{rule}"):
        load_catalogue(str(bad))


@pytest.mark.parametrize("cat", [HELDOUT, TRAIN], ids=["heldout", "train"])
def test_items_are_seeded_and_right_by_construction(cat):
    counts = {k: 12 for k in KINDS}
    a = items(cat, counts, seed=3, prefix="t")
    assert [(i.question, i.tools) for i in a] == [(i.question, i.tools) for i in items(cat, counts, seed=3, prefix="t")]
    assert [i.question for i in a] != [i.question for i in items(cat, counts, seed=4, prefix="t")]
    tools_by_name = {t.name: t for t in cat.tools}
    for it in a:
        offered = [t["function"]["name"] for t in it.tools]
        assert 1 <= len(offered) <= 10 and len(set(offered)) == len(offered)
        assert it.label == KINDS[it.kind]
        if it.kind == "call":  # the fitting tool is offered and the arguments fit its schema
            schema = tools_by_name[it.call.name].schema()["function"]["parameters"]
            assert it.call.name in offered
            assert not list(Draft202012Validator(schema).iter_errors(it.call.arguments))
            assert all(str(v) in it.question for v in it.call.arguments.values())
        elif it.kind == "missing_tool":  # provably absent
            assert it.extra["absent_tool"] not in offered and "can't" in it.reply
        elif it.kind == "clarify":  # the tool is there, the required argument is not in the question
            assert it.extra["target_tool"] in offered and it.reply.rstrip().endswith("?")
        elif it.kind == "unrelated":
            domain = next(d for d in cat.domains if d.domain == it.domain)
            assert not {t.name for t in domain.tools} & set(offered)
        else:  # near_miss / out_of_reach: next to every tool of its own domain
            domain = next(d for d in cat.domains if d.domain == it.domain)
            assert {t.name for t in domain.tools} <= set(offered)


def test_committed_unseen_tool_suites_equal_a_fresh_generation():
    for name in FIRST_DRAW:
        path = builtin_dir() / f"{name}.jsonl"
        committed = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert committed == json.loads(json.dumps(suite_cases(name))), (
            f"regenerate {path} with python -m mlx_distill.bench.unseen_suites data/bench"
        )


def test_unseen_tool_suites_load_and_are_balanced_between_call_and_no_call():
    s = load_suite("unseen_tools")
    counts = Counter(c.label for c in s.cases)
    assert counts["tool"] == counts["direct"] + counts["refuse"] + counts["clarify"] >= 200
    assert min(counts[label] for label in ("direct", "refuse", "clarify")) >= 40  # all four classes
    assert len({c.id for c in s.cases}) == len(s.cases)
    assert all(c.scoring == "catalogue" and c.functions for c in s.cases)
    for c in s.cases:
        offered = {f["function"]["name"] for f in c.functions}
        assert offered <= HELDOUT.tool_names()
        if c.label == "tool":
            assert c.answer["target_tool"] in offered
        if c.category == "missing_tool":
            assert c.answer["absent_tool"] not in offered
    assert {c.label for c in load_suite("clarify").cases} == {"clarify"}
    refuse = load_suite("refuse").cases
    assert refuse and all(c.answer["absent_tool"] not in {f["function"]["name"] for f in c.functions} for c in refuse)


def test_the_grown_suite_keeps_its_first_draw_and_repeats_no_question_of_the_other_suites():
    cases = load_suite("unseen_tools").cases
    first_tools = {t.name for d in HELDOUT.domains[:FIRST_DOMAINS] for t in d.tools}
    first = [c for c in cases if int(c.id.rsplit("-", 1)[1]) <= FIRST_DRAW["unseen_tools"].get(c.category, 0)]
    assert [c.id for c in first] == [c.id for c in cases[:40]] and len(first) == 40
    assert all({f["function"]["name"] for f in c.functions} <= first_tools for c in first)
    assert {f["function"]["name"] for c in cases for f in c.functions} - first_tools  # grown by new domains
    others = {c.question for name in ("clarify", "refuse") for c in load_suite(name).cases}
    assert not others & {c.question for c in cases[40:]}


def test_a_question_shared_by_the_catalogues_is_caught(tmp_path):
    domain = HELDOUT.domains[0].model_dump(mode="json", exclude_defaults=False)
    domain["near_misses"] = [{"question": TRAIN.domains[0].near_misses[0].question, "reply": "An answer."}]
    for tool in domain["tools"]:  # renamed, so only the question is shared
        tool["name"] += "_x"
        tool["parameters"] = {f"{k}_x": v for k, v in tool["parameters"].items()}
        tool["asks"] = [q.replace("}", "_x}") for q in tool["asks"]]
    leak = tmp_path / "leak.yaml"
    leak.write_text(json.dumps([domain]), encoding="utf-8")
    with pytest.raises(InputError, match="question in both catalogues"):
        check_disjoint(TRAIN, load_catalogue(str(leak)))


def test_suite_seeds_are_not_training_seeds_and_no_suite_question_is_a_training_question():
    from mlx_distill.data.config import load_config

    configs = sorted(Path(__file__).resolve().parents[1].glob("configs/data*.yaml"))
    seeds = {load_config(p).seed for p in configs} | {
        s.seed for p in configs for s in load_config(p).sources if s.seed is not None
    }
    assert configs and not seeds & {HELDOUT_SEED, GROWTH_SEED}
    train_questions = {r.user_text() for r in generate_catalogue(seed=0, counts={k: 40 for k in KINDS})}
    suite_questions = {c.question for name in FIRST_DRAW for c in load_suite(name).cases}
    assert not train_questions & suite_questions


def test_catalogue_records_are_valid_paired_and_never_offer_held_out_tools():
    recs = generate_catalogue(
        seed=0, counts={"call": 10, "near_miss": 4, "unrelated": 4, "out_of_reach": 4, "clarify": 4}
    )
    assert Counter(r.meta.label for r in recs) == {"tool": 10, "direct": 8, "refuse": 9, "clarify": 4}
    for r in recs:
        assert not [f for f in check_record(Located(r, None, None)) if f.severity == "error"], r.meta.id
        assert not {t["function"]["name"] for t in r.tools} & HELDOUT.tool_names()
    by_question: dict[str, set[str]] = {}
    for r in recs:
        by_question.setdefault(r.user_text(), set()).add(r.meta.label)
    assert sum(labels == {"tool", "refuse"} for labels in by_question.values()) == 5  # relevance pairs
    call = next(r for r in recs if r.meta.label == "tool")
    result = json.loads(call.messages[3].content)  # the tool's JSON result, and the answer reads from it
    assert any(str(v) in call.messages[4].content for v in result.values())


def test_the_held_out_catalogue_cannot_be_a_training_source():
    from mlx_distill.data.config import SourceSpec

    with pytest.raises(ValueError, match="benchmark only"):
        SourceSpec(type="catalogue", catalogue="heldout")


def test_validator_flags_a_training_record_that_offers_a_held_out_tool():
    heldout_item = generate(HELDOUT, "call", random.Random(0), id="x")
    from mlx_distill.data.sources.catalogue import to_record

    rec = to_record(heldout_item, "You are a helpful assistant.")
    report = validate_records([rec], tokenizer=None, bench=load_bench([builtin_dir()]))
    rules = {f.rule for f in report.findings}
    assert "bench-tool" in rules
    assert any(
        "unseen_tools.jsonl" in f.message or "refuse.jsonl" in f.message or "clarify.jsonl" in f.message
        for f in report.findings
        if f.rule == "bench-tool"
    )


def test_the_grown_suite_asks_several_questions_of_each_domains_tool_set():
    grown = load_suite("unseen_tools").cases[40:]

    def names(c):
        return tuple(f["function"]["name"] for f in c.functions)

    shared = {names(c) for c in grown if c.category != "missing_tool"}
    assert len(shared) <= len(HELDOUT.domains) and len(grown) / len(shared | {names(c) for c in grown}) >= 5
    for c in grown:
        if c.category == "missing_tool":  # its domain's shared set, less the tool it needs
            absent = c.answer["absent_tool"]
            assert any(absent in s and tuple(n for n in s if n != absent) == names(c) for s in shared)
        else:
            assert len(c.functions) > SHARED_DISTRACTORS
