"""Seeded workspace builders: deterministic per seed, different across seeds, and their facts are
what the files really say (scripts are run, counts recounted, paths exist)."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from mlx_distill.bench.suites import fill, load_suite
from mlx_distill.bench.workspaces import WORKSPACE_BUILDERS, build_workspace
from mlx_distill.errors import InputError
from mlx_distill.tools import Workspace


def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", sorted(WORKSPACE_BUILDERS))
def test_same_seed_same_workspace_other_seed_other_contents(tmp_path, kind):
    a = build_workspace({"kind": kind}, tmp_path / "a", case_id="c", seed=1)
    b = build_workspace({"kind": kind}, tmp_path / "b", case_id="c", seed=1)
    assert a == b and _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    others = [build_workspace({"kind": kind}, tmp_path / f"o{s}", case_id="c", seed=s) for s in range(2, 6)]
    assert any(o != a for o in others), "facts must change with the seed"
    json.dumps(a)  # facts are JSON-able: they go into report.json


def test_unknown_kind_and_bad_parameter_are_clear(tmp_path):
    with pytest.raises(InputError, match="unknown workspace kind 'nope'"):
        build_workspace({"kind": "nope"}, tmp_path)
    with pytest.raises(InputError, match="workspace 'line_count'"):
        build_workspace({"kind": "line_count", "colour": "red"}, tmp_path)


@pytest.mark.parametrize("seed", [0, 7])
def test_facts_are_the_workspace_truth(tmp_path, seed):
    root = tmp_path / "w"

    def make(kind):
        d = root / f"{kind}-{seed}"
        return build_workspace({"kind": kind}, d, case_id=kind, seed=seed), d

    py = shutil.which("python3") or sys.executable
    facts, d = make("script_output")
    out = subprocess.run([py, facts["script"]], cwd=d, capture_output=True, text=True, check=True).stdout
    assert out.strip() == facts["output"]

    facts, d = make("failing_check")
    proc = subprocess.run([py, facts["script"]], cwd=d, capture_output=True, text=True)
    assert proc.returncode == 1 and re.findall(r"FAILED (\w+)", proc.stdout) == [facts["failing"]]

    facts, d = make("exit_code")
    proc = subprocess.run([py, facts["script"]], cwd=d, capture_output=True, text=True)
    assert str(proc.returncode) == facts["code"] and f"{facts['bad_rows']} bad rows" in proc.stdout

    facts, d = make("function_definition")
    ws = Workspace(d)
    hits = ws.grep(rf"^def {facts['function']}\(").data.hits
    assert [h.path for h in hits] == [facts["file"]]

    facts, d = make("importers")
    found = {h.path for h in Workspace(d).grep(rf"^(import|from) {facts['library']}\b").data.hits}
    assert found == set(facts["importers"]) and facts["importer_count"] == len(found) >= 1

    facts, d = make("todo_count")
    assert len(Workspace(d).grep("TODO", path="src").data.hits) == facts["count"]

    facts, d = make("file_count")
    listed = Workspace(d).list_files(facts["folder"], pattern=f"*.{facts['ext']}").data.paths
    assert len(listed) == facts["count"]

    facts, d = make("line_count")
    assert len((d / facts["path"]).read_text().splitlines()) == facts["count"]

    facts, d = make("config_value")
    assert facts["value"] in (d / facts["path"]).read_text()

    facts, d = make("error_code")
    hits = Workspace(d).grep(re.escape(facts["code"])).data.hits
    assert len(hits) == 1 and hits[0].path == facts["file"]

    facts, d = make("write_note")
    assert not (d / facts["path"]).exists()  # the task creates it


def test_every_builtin_question_fills_under_many_seeds(tmp_path):
    suite = load_suite("discrimination")
    for seed in range(3):
        for case in suite.cases:
            if case.workspace is None:
                continue
            facts = build_workspace(case.workspace, tmp_path / f"{case.id}-{seed}", case_id=case.id, seed=seed)
            question = fill(case.question, facts)
            assert "{" not in question and "}" not in question, (case.id, question)
