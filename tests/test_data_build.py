"""Balance, stable split and the whole build (including the shipped configs/data.yaml)."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from mlx_distill.data.balance import assign_split, balance, split
from mlx_distill.data.build import build
from mlx_distill.data.config import load_config
from mlx_distill.errors import InputError
from mlx_distill.schema import load_records, parse_record

ROOT = Path(__file__).resolve().parents[1]


def rec(i, label="tool", category="search", source="domain"):
    msgs = [{"role": "user", "content": f"question {i}?"}]
    if label == "tool":
        msgs += [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": "grep", "arguments": {"pattern": f"x{i}"}}}],
            }
        ]
    else:
        msgs += [{"role": "assistant", "content": f"answer {i}."}]
    return parse_record(
        {"messages": msgs, "meta": {"id": f"r{i}", "source": source, "category": category, "label": label}}
    )


def test_balance_hits_the_ratio_keeps_preferred_sources_and_categories():
    recs = (
        [rec(i, "tool", ["search", "read", "run"][i % 3]) for i in range(90)]
        + [rec(100 + i, "direct", "concept") for i in range(20)]
        + [rec(200 + i, "tool", "write", source="hand_authored") for i in range(5)]
        + [rec(300 + i, "refuse", "irrelevance") for i in range(3)]
    )
    kept, rep = balance(recs, ratio={"tool": 2, "direct": 1}, seed=0)
    labels = Counter(r.meta.label for r in kept)
    assert labels == {"tool": 40, "direct": 20, "refuse": 3}
    assert sum(r.meta.source == "hand_authored" for r in kept) == 5  # never dropped first
    cats = Counter(r.meta.category for r in kept if r.meta.label == "tool")
    assert max(cats[c] for c in ("search", "read", "run")) - min(cats[c] for c in ("search", "read", "run")) <= 1
    assert [r.meta.id for r in kept] == [r.meta.id for r in recs if r in kept]  # input order kept
    again, _ = balance(recs, ratio={"tool": 2, "direct": 1}, seed=0)
    assert again == kept
    capped, rep = balance(
        recs, ratio={"tool": 1, "direct": 1}, max_per_category=8, category_caps={"read": 2}, other_labels="drop"
    )
    c = Counter(r.meta.category for r in capped)
    assert c["read"] <= 2 and c["concept"] == 8 and "irrelevance" not in c and rep.capped["read"] == 28
    assert Counter(r.meta.label for r in capped) == {"tool": 8, "direct": 8}
    total, _ = balance(recs, ratio={"tool": 2, "direct": 1}, total=30, other_labels="drop")
    assert Counter(r.meta.label for r in total) == {"tool": 20, "direct": 10}


def test_split_is_stable_when_data_is_added():
    recs = [rec(i) for i in range(400)]
    first = split(recs, valid=0.1, test=0.1)
    more = split(recs + [rec(1000 + i) for i in range(400)], valid=0.1, test=0.1)
    for name in first:
        ids = {r.meta.id for r in first[name]}
        assert ids <= {r.meta.id for r in more[name]}
    sizes = {k: len(v) for k, v in first.items()}
    assert 20 <= sizes["valid"] <= 60 and 20 <= sizes["test"] <= 60
    r = recs[0]
    assert assign_split(r.content_hash()) == assign_split(r.content_hash())


def write_config(tmp_path, sources, **extra):
    cfg = {
        "seed": 0,
        "root": str(tmp_path),
        "output_dir": "out",
        "sources": sources,
        "validation": {"model": None, "bench": []},
        **extra,
    }
    p = tmp_path / "data.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def records_source(tmp_path, name, recs):
    p = tmp_path / name
    p.write_text("".join(json.dumps(r.to_json()) + "\n" for r in recs))
    return {"type": "records", "paths": [name]}


def test_build_writes_splits_manifest_and_is_reproducible(tmp_path):
    recs = [rec(i, "tool", ["search", "read"][i % 2]) for i in range(60)] + [rec(100 + i, "direct") for i in range(20)]
    bad = parse_record(
        {
            "messages": [{"role": "user", "content": "broken?"}],
            "meta": {"id": "bad", "source": "domain", "category": "search", "label": "direct"},
        }
    )
    cfg = write_config(tmp_path, [records_source(tmp_path, "in.jsonl", recs + [bad])])
    res = build(cfg)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.jsonl", "train.jsonl", "valid.jsonl"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["by_label"] == {"direct": 20, "tool": 40} and m["counts"]["total"] == 60
    assert sum(m["counts"]["by_split"].values()) == 60
    assert m["validation"]["dropped"]["errors"] == 1 and m["validation"]["by_rule"]["role-order"] == 1
    for name in ("train", "valid", "test"):
        got = load_records(out / f"{name}.jsonl")
        assert [r.content_hash() for r in got] == m["content_hashes"][name]
        assert m["files"][name]["records"] == len(got)
    h = res.build_hash
    assert build(cfg).build_hash == h  # same inputs, same bytes
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_adding_data_never_moves_a_record_to_another_split(tmp_path):
    base = [rec(i, "tool") for i in range(80)] + [rec(500 + i, "direct") for i in range(40)]
    cfg = write_config(
        tmp_path, [records_source(tmp_path, "a.jsonl", base)], balance={"ratio": {"tool": 2, "direct": 1}}
    )
    build(cfg)
    before = json.loads((tmp_path / "out" / "manifest.json").read_text())["content_hashes"]
    extra = [rec(1000 + i, "tool") for i in range(40)] + [rec(2000 + i, "direct") for i in range(20)]
    cfg = write_config(
        tmp_path,
        [records_source(tmp_path, "a.jsonl", base), records_source(tmp_path, "b.jsonl", extra)],
        balance={"ratio": {"tool": 2, "direct": 1}},
    )
    build(cfg)
    after = json.loads((tmp_path / "out" / "manifest.json").read_text())["content_hashes"]
    where = {h: s for s, hs in after.items() for h in hs}
    for s, hs in before.items():
        for h in hs:
            assert where.get(h, s) == s


def test_build_refuses_a_ratio_it_cannot_meet_and_bad_configs(tmp_path):
    cfg = write_config(tmp_path, [records_source(tmp_path, "a.jsonl", [rec(i) for i in range(5)])])
    with pytest.raises(InputError, match="no valid records with label direct"):
        build(cfg)
    p = tmp_path / "bad.yaml"
    p.write_text("sources: [{type: domain}]\nbalance: {ratio: {tool: 2, maybe: 1}}\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert "sources.0" in str(e.value) and "maybe" in str(e.value)


def test_shipped_config_builds_offline_with_the_ratio(tmp_path, tiny_tokenizer, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(ROOT / "configs" / "data.yaml")
    cfg.validation.max_seq_length = 16384  # the tiny test tokenizer has a 512-token vocabulary: ~2x the tokens
    res = build(cfg, output_dir=tmp_path / "mlx", tokenizer=tiny_tokenizer)
    m = res.manifest
    labels = m["counts"]["by_label"]
    assert 180 <= m["counts"]["total"] <= 300
    # all four classes at 4:3:1:1.5, and within tool and direct the agent's tools beside unseen ones
    assert labels["tool"] * 3 == labels["direct"] * 4 and labels["tool"] == labels["clarify"] * 4
    assert abs(labels["refuse"] * 2 - labels["clarify"] * 3) <= 1  # 1.5 x an odd count rounds down
    toolsets = m["balance"]["toolsets_after"]
    assert set(toolsets["tool"]) == set(toolsets["direct"]) == {"workspace", "other"}
    assert set(m["counts"]["by_source"]) >= {"hand_authored", "domain", "catalogue"}
    assert m["validation"]["checks"]["rendered"] == m["validation"]["records"]
    assert m["tokens"]["max"] <= cfg.validation.max_seq_length
    assert all(m["counts"]["by_split"][s] > 0 for s in ("train", "valid", "test"))
    assert not (ROOT / "src" / "mlx_distill" / "README.md").exists()  # the write examples touched nothing


def test_cli_build_and_scripts(tmp_path):
    recs = [rec(i, "tool") for i in range(20)] + [rec(100 + i, "direct") for i in range(10)]
    cfg = write_config(tmp_path, [records_source(tmp_path, "in.jsonl", recs)])
    p = subprocess.run(
        [sys.executable, "-c", "from mlx_distill.data.cli import data; data()", "build", "-c", str(cfg), "--json"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["counts"]["total"] == 30
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_training_data.py"), "-c", str(cfg), "--json"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["counts"]["total"] == 30
    for script in ("convert_training_data.py", "generate_domain_examples.py"):
        p = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and "Usage" in p.stdout


def test_balance_keeps_the_toolset_ratio_within_each_label():
    from mlx_distill.data.balance import _shares, balance, toolset_kind
    from mlx_distill.schema import build_record
    from mlx_distill.tools import tool_schemas

    other = [
        {"type": "function", "function": {"name": "get_lyrics", "parameters": {"type": "object", "properties": {}}}}
    ]

    def rec(i, label, tools):
        msgs = [{"role": "user", "content": f"question {i} {label}"}, {"role": "assistant", "content": f"answer {i}"}]
        return build_record(msgs, tools, id=f"r{i}", source="s", category=f"c{i % 3}", label=label)

    recs = [rec(i, "direct", tool_schemas()) for i in range(30)] + [rec(100 + i, "direct", other) for i in range(6)]
    assert {toolset_kind(r) for r in recs} == {"workspace", "other"} and toolset_kind(rec(0, "direct", [])) == "none"
    kept, report = balance(recs, ratio={"direct": 1}, total=20, toolsets={"workspace": 1, "other": 1}, keep_sources=())
    assert report.toolsets_after == {"direct": {"other": 6, "workspace": 14}}  # other has only 6: the rest goes on
    kept, report = balance(recs, ratio={"direct": 1}, total=10, toolsets={"workspace": 1, "other": 1}, keep_sources=())
    assert report.toolsets_after == {"direct": {"other": 5, "workspace": 5}}
    assert report.toolsets_before == {"direct": {"other": 6, "workspace": 30}}
    assert _shares(7, {"a": 10, "b": 10}, {"a": 3, "b": 1}) == {"a": 5, "b": 2}
    assert sum(_shares(9, {"a": 2, "b": 3, "c": 50}, {"a": 1, "b": 1, "c": 1}).values()) == 9
