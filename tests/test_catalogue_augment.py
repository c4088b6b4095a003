"""Teaching augmentations of the catalogue source: masked tool names, irrelevance twins, clarify
records built from partial questions, and a data build that uses them, deterministic in its seed."""

import json
import random
import re
from collections import Counter
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from mlx_distill.catalogue import KINDS, items, load_catalogue
from mlx_distill.catalogue.augment import irrelevant, masked
from mlx_distill.data.build import build
from mlx_distill.data.sources.catalogue import generate_catalogue
from mlx_distill.data.config import load_config as load_data_config
from mlx_distill.data.validate import Located, check_record
from mlx_distill.train.config import load_config as load_train_config

TRAIN = load_catalogue("train")
HELDOUT = load_catalogue("heldout")
REAL_NAMES = TRAIN.tool_names() | HELDOUT.tool_names() | TRAIN.parameter_names() | HELDOUT.parameter_names()


def _descriptions(tools):
    """Each tool's description and its parameters' descriptions, in order: what masking must keep."""
    return [
        (t["function"]["description"], [p["description"] for p in t["function"]["parameters"]["properties"].values()])
        for t in tools
    ]


def test_masking_keeps_schemas_valid_and_descriptions_and_renames_the_call_consistently():
    for it in items(TRAIN, {k: 15 for k in KINDS}, seed=5, prefix="m"):
        m = masked(it, random.Random(it.id))
        assert _descriptions(m.tools) == _descriptions(it.tools)
        names = [t["function"]["name"] for t in m.tools]
        assert len(set(names)) == len(names) and all(re.fullmatch(r"fn_[a-z][a-z0-9]{3}", n) for n in names)
        for t in m.tools:
            params = t["function"]["parameters"]
            Draft202012Validator.check_schema(params)  # still a valid JSON schema
            assert all(re.fullmatch(r"arg_[a-z][a-z0-9]", p) for p in params["properties"])
            assert set(params["required"]) <= set(params["properties"])
            assert not ({t["function"]["name"]} | set(params["properties"])) & REAL_NAMES
        if it.call is not None:
            target = next(t for t in m.tools if t["function"]["name"] == m.call.name)
            schema = target["function"]["parameters"]
            assert not list(Draft202012Validator(schema).iter_errors(m.call.arguments))
            assert list(m.call.arguments.values()) == list(it.call.arguments.values())
            original = next(t for t in it.tools if t["function"]["name"] == it.call.name)
            assert target["function"]["description"] == original["function"]["description"]
        if "target_tool" in it.extra:  # a clarify item still points at the (renamed) fitting tool
            assert m.extra["target_tool"] in names and m.extra["target_tool"] != it.extra["target_tool"]
        assert (m.question, m.reply, m.label) == (it.question, it.reply, it.label)


def test_irrelevance_twins_never_offer_the_fitting_tool_or_its_domain():
    rng = random.Random(0)
    for it in items(TRAIN, {"call": 30, "near_miss": 15}, seed=2, prefix="i"):
        twin = irrelevant(TRAIN, it, rng, id=f"{it.id}-x")
        own = {t.name for d in TRAIN.domains if d.domain == it.domain for t in d.tools}
        offered = {t["function"]["name"] for t in twin.tools}
        assert offered and not offered & own and twin.question == it.question
        if it.call is not None:
            assert it.call.name not in offered and twin.label == "refuse" and "can't" in twin.reply
        else:
            assert twin.label == "direct" and twin.reply == it.reply


def _says(question, value):
    return re.search(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", question) is not None


def test_clarify_items_miss_a_required_argument_of_the_offered_tool():
    tools = {t.name: t for t in TRAIN.tools}
    drawn = items(TRAIN, {"clarify": 120}, seed=0, prefix="c")
    assert len({i.question for i in drawn}) == 120
    filled = 0
    for it in drawn:
        tool = tools[it.extra["target_tool"]]
        assert it.extra["target_tool"] in {t["function"]["name"] for t in it.tools}
        missing = it.extra["missing"]
        assert missing and all(tool.parameters[p].required for p in missing)
        assert any(not any(_says(it.question, v) for v in tool.parameters[p].values) for p in missing)
        filled += any(_says(it.question, v) for p in tool.parameters for v in tool.parameters[p].values)
    assert filled >= 20  # partial questions give some arguments, not just vague needs


def test_catalogue_records_carry_their_augmentation_at_the_requested_shares():
    counts = {"call": 40, "near_miss": 20, "unrelated": 10, "out_of_reach": 10, "clarify": 10}
    recs = generate_catalogue(seed=1, counts=counts, pairs=0.4, irrelevance=0.15, mask=0.3)
    plain = generate_catalogue(seed=1, counts=counts, pairs=0.4)
    augment = Counter(part for r in recs for part in (getattr(r.meta, "augment", "") or "").split("+") if part)
    assert abs(augment["irrelevance"] / len(recs) - 0.15) < 0.02 and abs(augment["masked"] / len(recs) - 0.3) < 0.02
    assert len(recs) - augment["irrelevance"] == len(plain)  # masking replaces records, twins add them
    assert not any(getattr(r.meta, "augment", None) for r in plain)
    for r in recs:
        assert not [f for f in check_record(Located(r, None, None)) if f.severity == "error"], r.meta.id
        if getattr(r.meta, "augment", "") and "masked" in r.meta.augment:
            assert all(t["function"]["name"].startswith("fn_") for t in r.tools)
            assert all(name.startswith("fn_") for name in r.tool_call_names())
        if r.meta.category == "catalogue_irrelevance":
            assert r.meta.label in ("refuse", "direct") and not r.tool_call_names()


def _config(tmp_path, seed):
    cfg = {
        "seed": seed,
        "root": str(tmp_path),
        "output_dir": f"out-{seed}",
        "sources": [
            {
                "type": "catalogue",
                "counts": {"call": 30, "near_miss": 12, "out_of_reach": 8, "clarify": 10},
                "pairs": 0.3,
                "max_tools": 4,
                "irrelevance": 0.15,
                "mask": 0.3,
            }
        ],
        "validation": {"model": None, "bench": []},
        "balance": {"ratio": {"tool": 2, "direct": 1, "refuse": 1, "clarify": 1}},
    }
    p = tmp_path / f"data-{seed}.yaml"
    p.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return p


def test_a_build_with_the_augmentations_is_deterministic_in_its_seed(tmp_path):
    first = build(_config(tmp_path, 3))
    again = build(_config(tmp_path, 3))
    other = build(_config(tmp_path, 4))
    assert first.build_hash == again.build_hash != other.build_hash
    assert set(first.manifest["generated"]["catalogue"]["augment"]) == {"irrelevance", "masked"}
    lines = (tmp_path / "out-3" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert any(json.loads(line)["meta"].get("augment") == "masked" for line in lines)


def test_the_quality_recipe_augments_its_data_and_the_main_job_recipe_does_not():
    configs = Path(__file__).resolve().parents[1] / "configs"
    quality_data = load_data_config(configs / "data-quality.yaml")
    (source,) = [s for s in quality_data.sources if s.type == "catalogue"]
    assert 0.25 <= source.mask <= 0.35 and 0.1 <= source.irrelevance <= 0.2
    (main,) = [s for s in load_data_config(configs / "data.yaml").sources if s.type == "catalogue"]
    assert main.mask == main.irrelevance == 0
    quality, default = load_train_config(configs / "quality.yaml"), load_train_config(configs / "default.yaml")
    assert quality.data == quality_data.output_dir != load_data_config(configs / "data.yaml").output_dir
    assert quality.iters > 5 * default.iters
