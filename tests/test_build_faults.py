"""SIGKILL of `data build` at several points, then a re-run: the output directory always holds one whole
build (the old or the new, never a mix), and the re-run cleans up and gives exactly a clean build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlx_distill.data.build import build, clean_leftovers
from mlx_distill.io import sha256_file


def record(i: int, label: str) -> dict:
    msgs = [{"role": "user", "content": f"How does part {i} of the system work, exactly?"}]
    if label == "tool":
        msgs += [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": "grep", "arguments": {"pattern": f"part_{i}"}}}
                ],
            },
            {"role": "tool", "name": "grep", "content": f"src/p{i}.py:1:part_{i} = {i}"},
            {"role": "assistant", "content": f"part_{i} is set to {i} in src/p{i}.py."},
        ]
    else:
        msgs += [{"role": "assistant", "content": f"Part {i} is explained in the guide."}]
    return {
        "messages": msgs,
        "meta": {
            "id": f"r{i}",
            "source": "test",
            "category": "search" if label == "tool" else "concept",
            "label": label,
        },
    }


def write_inputs(root: Path, n: int) -> Path:
    rows = [record(i, "tool" if i % 3 else "direct") for i in range(n)]
    (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # Paths relative to the working directory: the same config (and build hash) in every directory.
    cfg = {
        "seed": 0,
        "output_dir": "out",
        "sources": [{"type": "records", "paths": ["in.jsonl"]}],
        "validation": {"model": None, "bench": [], "drop_near_duplicates": False},
        "balance": {"ratio": {"tool": 2, "direct": 1}},
    }
    (root / "data.yaml").write_text(yaml.safe_dump(cfg))
    return root / "data.yaml"


def whole_build(out: Path) -> str:
    """The build hash of the one whole build in `out` (every split matches the manifest)."""
    m = json.loads((out / "manifest.json").read_text())
    for name, info in m["files"].items():
        assert sha256_file(out / f"{name}.jsonl") == info["sha256"], f"{name}.jsonl is not the manifest's"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.jsonl", "train.jsonl", "valid.jsonl"]
    return m["build_hash"]


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".out."))


CLI = [sys.executable, "-c", "from mlx_distill.data.cli import data; data()", "build", "--json", "-c"]


def _kill_when(cfg: Path, ready) -> None:
    proc = subprocess.Popen(CLI + [str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cfg.parent)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.001)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def hashes(tmp_path_factory):
    """Clean builds of the old inputs (90 records) and the new ones (150)."""
    out = {}
    here = os.getcwd()
    for n in (90, 150):
        root = tmp_path_factory.mktemp(f"clean{n}")
        os.chdir(root)
        try:
            out[n] = build(write_inputs(root, n)).build_hash
        finally:
            os.chdir(here)
    return out


def _staged(root: Path, name: str | None = None):
    def ready() -> bool:
        for p in root.glob(".out.build-*"):
            if name is None or (p / name).exists():
                return True
        return False

    return ready


@pytest.mark.parametrize("point", ["staging-created", "train-written", "manifest-written", "after-0.5s"])
def test_a_killed_build_leaves_the_old_build_whole_and_a_rerun_finishes_it(tmp_path, hashes, point, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_inputs(tmp_path, 90)
    build(cfg)
    assert whole_build(tmp_path / "out") == hashes[90]
    write_inputs(tmp_path, 150)  # new inputs: the killed build would write a different build
    if point.startswith("after-"):
        delay = float(point[len("after-") : -1])
        start = time.monotonic()
        _kill_when(cfg, lambda: time.monotonic() - start > delay)
    else:
        _kill_when(
            cfg,
            _staged(
                tmp_path,
                {"staging-created": None, "train-written": "train.jsonl", "manifest-written": "manifest.json"}[point],
            ),
        )
    assert whole_build(tmp_path / "out") in (hashes[90], hashes[150])  # old or new, never a mix
    done = subprocess.run(CLI + [str(cfg)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert whole_build(tmp_path / "out") == hashes[150] and json.loads(done.stdout)["build_hash"] == hashes[150]
    assert leftovers(tmp_path) == []


def test_leftovers_of_dead_builds_are_cleaned_and_a_moved_aside_build_is_restored(tmp_path, hashes, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write_inputs(tmp_path, 90)
    build(cfg)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    os.rename(tmp_path / "out", tmp_path / f".out.old-{dead}-abc")  # a swap killed between its two renames
    (tmp_path / f".out.build-{dead}-xyz").mkdir()
    (tmp_path / f".out.build-{dead}-xyz" / "train.jsonl").write_text("half")
    (tmp_path / f".out.build-{os.getppid()}-live").mkdir()  # a build still running: left alone
    removed = clean_leftovers(tmp_path / "out")
    assert [p.name for p in removed] == [f".out.build-{dead}-xyz"]
    assert whole_build(tmp_path / "out") == hashes[90]
    assert leftovers(tmp_path) == [f".out.build-{os.getppid()}-live"]
