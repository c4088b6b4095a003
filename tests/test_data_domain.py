"""Domain examples: mined from a real (fixture) repository, with results from really running the tools."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mlx_distill.data.sources.domain import generate_domain, scan_repo
from mlx_distill.data.validate import validate_records
from mlx_distill.tools import Workspace, read_result

FILES = {
    "inventory/__init__.py": '"""Inventory tracking for a small warehouse."""\n',
    "inventory/models.py": '''"""Data models: items and stock levels."""

from dataclasses import dataclass
import json


@dataclass
class Item:
    """A product that can be stocked."""

    sku: str
    name: str
    price: float = 0.0

    def label(self) -> str:
        """Return the printable label of the item."""
        return f"{self.sku} {self.name}"


class Shelf(dict):
    """Items on one shelf, by SKU."""

    def add(self, item: Item, count: int = 1) -> None:
        """Put `count` units of an item on the shelf."""
        self[item.sku] = self.get(item.sku, 0) + count

    def remove(self, sku: str) -> None:
        del self[sku]

    def total(self) -> int:
        return sum(self.values())
''',
    "inventory/store.py": '''"""Persistence of shelves as JSON files."""

import json
import os

DEFAULT_PATH = "inventory.json"
MAX_SHELVES = 40


def save(shelves, path=DEFAULT_PATH):
    """Write all shelves to a JSON file atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(shelves, f)
    os.replace(tmp, path)


def load(path=DEFAULT_PATH, *, strict: bool = False):
    """Read shelves back; a missing file means no shelves."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)
''',
    "inventory/report.py": '''"""Stock reports."""

from dataclasses import dataclass


@dataclass
class Line:
    sku: str
    count: int


def low_stock(shelf, threshold=3):
    """SKUs whose count is below the threshold."""
    return sorted(sku for sku, n in shelf.items() if n < threshold)
''',
    "README.md": "# Inventory\n\nTrack stock.\n\n## Usage\n\nCall `save` after every change, so that a crash loses "
    "nothing. Shelves are plain dicts.\n\nMore text here.\n\n## Limits\n\nAt most 40 shelves are "
    "supported by the JSON store.\n",
    "settings.toml": 'name = "inventory"\nmax_shelves = 40\n[store]\npath = "inventory.json"\n',
}


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "inventory-repo"
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def snapshot(root: Path):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_scan_finds_python_facts_and_text(repo):
    r = scan_repo(repo)
    mods = {m.path: m for m in r.modules}
    assert set(mods) == {"inventory/__init__.py", "inventory/models.py", "inventory/store.py", "inventory/report.py"}
    models = mods["inventory/models.py"]
    assert [c.name for c in models.classes] == ["Item", "Shelf"]
    assert models.classes[1].bases == ["dict"] and models.classes[0].decorators == ["dataclass"]
    assert {f.name for f in models.functions} == {"label", "add", "remove", "total"}
    assert mods["inventory/store.py"].constants == [("DEFAULT_PATH", 6), ("MAX_SHELVES", 7)]
    assert set(mods["inventory/store.py"].imports) == {"json", "os"}
    texts = {t.path: t for t in r.texts}
    assert [h[2] for h in texts["README.md"].headings] == ["Inventory", "Usage", "Limits"]
    assert [k for _, k in texts["settings.toml"].keys] == ["name", "max_shelves", "path"]


def test_records_replay_exactly_and_answers_come_from_results(repo):
    before = snapshot(repo)
    recs = generate_domain([repo], seed=1)
    assert snapshot(repo) == before  # write examples ran in a scratch copy
    cats = Counter(r.meta.category for r in recs)
    assert set(cats) == {"search", "read", "count", "structure", "run", "write"}
    assert {r.meta.source for r in recs} == {"domain"} and {r.meta.label for r in recs} == {"tool"}
    ws = Workspace(repo)
    for r in recs:
        msgs = r.messages
        assert msgs[-1].role == "assistant" and msgs[-1].content
        for i, m in enumerate(msgs):
            if not m.tool_calls:
                continue
            c = m.tool_calls[0].function
            out = msgs[i + 1].content
            assert not out.startswith("Error")
            if c.name != "write_file":  # everything else replays byte for byte on the repository
                assert ws.call(c.name, c.arguments) == out, (r.user_text(), c.arguments)
    assert validate_records(recs).errors == []
    # answers carry facts of the results
    for r in recs:
        kind = r.meta.template
        first = r.messages[3].content
        if kind == "def-location":
            hit = read_result("grep", {}, first).data.hits[0]
            path, line = hit.path, hit.line
            assert f"`{path}` at line {line}" in r.messages[-1].content
        elif kind == "line-count":
            n = first.split("\n")[1].split()[0]
            assert f"has {n} lines" in r.messages[-1].content
        elif kind == "count-py-files":
            assert f"{len(first.splitlines())} Python file" in r.messages[-1].content


def test_deterministic_for_a_seed_and_limited_evenly(repo):
    a = generate_domain([repo], seed=7, limit=12)
    b = generate_domain([repo], seed=7, limit=12)
    c = generate_domain([repo], seed=8, limit=12)
    assert [r.to_json() for r in a] == [r.to_json() for r in b]
    assert [r.user_text() for r in a] != [r.user_text() for r in c]
    counts = Counter(r.meta.category for r in a)
    assert len(a) == 12 and len(counts) == 6 and max(counts.values()) <= 3  # round robin over the categories
    assert len({r.user_text().lower() for r in a}) == 12


def test_phrasings_vary_within_a_template(repo):
    recs = generate_domain([repo], seed=0)
    loc = [r.user_text().split("`")[0].split(" ")[0] for r in recs if r.meta.template in ("function-doc", "signature")]
    assert len(set(loc)) >= 2


def test_include_restricts_mining_and_tool_paths(repo):
    recs = generate_domain([repo], include=["inventory"], seed=0)
    for r in recs:
        for m in r.messages:
            for c in m.tool_calls or []:
                a = c.function.arguments
                assert a.get("path", "inventory").startswith("inventory") or "inventory/" in a.get("command", "")
    assert not any("settings.toml" in r.user_text() or "README.md?" in r.user_text() for r in recs)
    assert {r.meta.template for r in recs}.isdisjoint({"doc-section", "config-key"})


def test_cli_domain_subprocess(repo, tmp_path):
    out = tmp_path / "domain.jsonl"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlx_distill.data.cli import data; data()",
            "domain",
            str(repo),
            "-o",
            str(out),
            "--seed",
            "3",
            "--limit",
            "9",
            "--no-run",
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 9 and "9 records written" in p.stdout
    assert not any(r["meta"]["category"] == "run" for r in rows)


def test_answers_come_from_the_data_not_from_splitting_text(tmp_path):
    """A directory named `v:2:x` makes the grep text ambiguous ('v:2:x/mod.py:5:def ...'); the miner reads
    the tools' data, so the answer names the whole path."""
    (tmp_path / "v:2:x").mkdir()
    (tmp_path / "v:2:x" / "mod.py").write_text('"""Helpers."""\n\n\n\ndef helper(n: int) -> int:\n    return n\n')
    recs = [r for r in generate_domain([tmp_path], categories=["search"]) if r.meta.template == "def-location"]
    assert [r.messages[-1].content for r in recs] == ["`helper` is defined in `v:2:x/mod.py` at line 5."]
