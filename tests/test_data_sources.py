"""Every source type of the data build is found through the registry by its config `type` and reads
real inputs: the repository's hand-authored examples, a small repository mined with the real tools, a
Markdown file, a public-format file, a JSONL of records, a teacher store written by the store itself,
the training catalogue. The types the config accepts are exactly the registered ones."""

import json
import typing
from pathlib import Path

import pytest

from mlx_distill.data.build import generate_source
from mlx_distill.data.config import DataConfig, SourceSpec
from mlx_distill.data.sources.registry import MODULES, SOURCES, sources
from mlx_distill.data.sources.teacher_store import Verdict
from mlx_distill.schema import parse_record
from mlx_distill.teacher.store import TeacherStore

ROOT = Path(__file__).resolve().parents[1]


def _rec(i):
    messages = [
        {"role": "user", "content": f"Which files mention x{i}?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "grep", "arguments": {"pattern": f"x{i}"}}}],
        },
    ]
    meta = {"id": f"r{i}", "source": "teacher", "category": "search", "label": "tool"}
    return parse_record({"messages": messages, "meta": meta})


def test_the_config_accepts_exactly_the_registered_source_types():
    accepted = set(typing.get_args(SourceSpec.model_fields["type"].annotation))
    assert set(sources()) == accepted
    assert len(MODULES) == len(set(MODULES))


def _xlam(path):
    tools = [{"name": "get_weather", "description": "Weather", "parameters": {"city": {"type": "str"}}}]
    row = {
        "id": 1,
        "query": "Weather in Oslo?",
        "tools": json.dumps(tools),
        "answers": json.dumps([{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
    }
    path.write_text(json.dumps(row) + "\n")


def _store(root):
    store = TeacherStore(root)
    for i, accepted in enumerate((True, False)):
        rec = _rec(i)
        rec.meta.key = f"k{i}"  # type: ignore[attr-defined]
        rec.meta.verdict = (Verdict.accept() if accepted else Verdict.reject("tool-error")).to_json()  # type: ignore[attr-defined]
        store.add(rec)


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "repo" / "pkg").mkdir(parents=True)
    (tmp_path / "repo" / "pkg" / "shapes.py").write_text(
        '"""Shapes."""\n\n\nclass Square:\n    def area(self, side):\n        return side * side\n\n\n'
        "def perimeter(side):\n    return 4 * side\n"
    )
    (tmp_path / "docs.md").write_text(
        "# Notes\n\nA mutex is a lock that lets only one thread at a time into a critical section.\n"
    )
    _xlam(tmp_path / "xlam.jsonl")
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(_rec(i).to_json()) + "\n" for i in range(3)))
    _store(tmp_path / "store")
    return tmp_path


SPECS = {
    "hand_authored": {"paths": [str(ROOT / "data" / "hand_authored")], "limit": 5},
    "domain": {"paths": ["repo"], "limit": 4},
    "direct": {"paths": ["docs.md"], "limit": 3},
    "convert": {"paths": ["xlam.jsonl"], "format": "xlam"},
    "records": {"paths": ["records.jsonl"]},
    "teacher": {"paths": ["store"]},
    "catalogue": {"counts": {"call": 2, "unrelated": 1}, "pairs": 0.0, "max_tools": 2},
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_each_source_type_builds_its_records_through_the_registry(kind, inputs):
    cfg = DataConfig(root=str(inputs), sources=[{"type": kind, **SPECS[kind]}], validation={"model": None})
    spec = cfg.sources[0]
    items, info = generate_source(spec, cfg)
    assert items and info["type"] == kind and info["records"] == len(items)
    assert (items, info) == _run(spec, cfg)  # the registered reader itself, read again
    if kind == "teacher":
        assert [it.record.meta.key for it in items] == ["k0"]  # the rejected record stays out
    if kind == "convert":
        assert items[0].record.tool_call_names() == ["get_weather"] and info["rejected"] == {}
    if kind == "catalogue":
        assert info["catalogue"] == "train" and {it.path for it in items} == {"<catalogue>"}
    if kind in ("domain", "direct"):
        assert [it.line for it in items] == list(range(1, len(items) + 1))


def _run(spec, cfg):
    """A fresh run of `spec`, to read the same source again through the registered reader directly."""
    from mlx_distill.data.sources.registry import SourceRun

    run = SourceRun(spec, cfg, [cfg.resolve(p) for p in spec.paths], cfg.seed, {"type": spec.type, "paths": spec.paths})
    items = SOURCES[spec.type](spec, run)
    run.info["records"] = len(items)
    return items, run.info
