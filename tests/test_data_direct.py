"""Direct-answer mining: general statements become questions per category; workspace-specific ones are dropped."""

import json
import subprocess
import sys

from mlx_distill.data.sources.direct import generate_direct, workspace_specific

NOTES = """# Python notes

## Closures

A closure is a function that remembers the variables of the scope it was created in.

## Tuples

Use tuples instead of lists for fixed records. They are hashable, so they can be dictionary keys.

## Defaults

Never share a mutable default argument between calls. It is created once, when the function is defined.

## Concurrency

Threads vs processes: threads share one memory space, processes each get their own.

## Formatting

Format a float with two decimals:

```python
print(f"{value:.2f}")
```

## Design

The web layer stays thin and calls the service layer for every business rule.

## Project specifics

`load_settings` is a helper that reads the settings file of this project.
Run `python scripts/build.py` to build, as described here.
"""

CODE = '''"""Settings loader."""


def load_settings(path):
    """Read settings. Tool-call arguments are JSON objects, never JSON strings."""
    return {}
'''


def make(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text(NOTES)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "settings.py").write_text(CODE)
    return [tmp_path / "docs", tmp_path / "pkg"]


def test_every_category_and_answers_from_the_text(tmp_path):
    recs = generate_direct(make(tmp_path), seed=0)
    by = {r.meta.category: r for r in recs}
    assert set(by) == {"concept", "comparison", "best_practice", "syntax", "architecture"}
    assert {r.meta.source for r in recs} == {"direct"} and {r.meta.label for r in recs} == {"direct"}
    assert "closure" in by["concept"].user_text().lower()
    assert "remembers the variables" in by["concept"].messages[-1].content
    assert 'f"{value:.2f}"' in by["syntax"].messages[-1].content and "```python" in by["syntax"].messages[-1].content
    assert all(len(r.messages) == 3 and not r.messages[-1].tool_calls for r in recs)
    assert all(r.meta.origin.split(":")[0].endswith((".md", ".py")) for r in recs)


def test_workspace_specific_questions_are_dropped(tmp_path):
    recs = generate_direct(make(tmp_path), seed=0)
    text = " ".join(r.user_text() + r.messages[-1].content for r in recs)
    assert "load_settings" not in text and "scripts/build.py" not in text
    assert workspace_specific("What does src/app.py do?", set())
    assert workspace_specific("What is load_settings?", {"load_settings"})
    assert not workspace_specific("What is a closure?", {"load_settings"})


def test_deterministic_and_limited(tmp_path):
    paths = make(tmp_path)
    a = generate_direct(paths, seed=3)
    assert [r.to_json() for r in a] == [r.to_json() for r in generate_direct(paths, seed=3)]
    two = generate_direct(paths, seed=3, limit=2)
    assert len(two) == 2 and two[0].meta.category != two[1].meta.category


def test_cli_direct(tmp_path):
    paths = make(tmp_path)
    out = tmp_path / "direct.jsonl"
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlx_distill.data.cli import data; data()",
            "direct",
            *map(str, paths),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert len(out.read_text().splitlines()) >= 5 and "records written" in p.stdout
    assert all(json.loads(x)["meta"]["label"] == "direct" for x in out.read_text().splitlines())
