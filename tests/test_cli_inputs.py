"""Every path a one-line error: FIFOs and special files refused before reading (a regression fails on its
timeout instead of hanging), invalid UTF-8 in every text input, an unknown model name, empty input
directories, and read-only or full output directories (a private mount namespace holds a read-only and a
full tmpfs; `chmod` would not stop root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.data.sources.teacher_store import read_store
from mlx_distill.teacher.store import TeacherStore
from mlx_distill.errors import InputError
from mlx_distill.io import check_regular_file, read_text

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "mlx_distill.cli"]


def _cli(args: list[str], timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command in a subprocess; a hang fails the test at `timeout` instead of blocking the suite."""
    return subprocess.run(
        CLI + args,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "args",
    [
        "data direct {fifo} -o {t}/out.jsonl",
        "data validate {fifo} --no-bench",
        "data convert --from legacy {fifo} {t}/out.jsonl",
        "train -c {fifo} --print-config",
        "economics {fifo}",
        "economics {t} --ledger {fifo}",
        "compare --prompts {fifo} --model embedded:smollm2-135m",
        "lrl synth --strategy {fifo}",
        "collect --teacher test --prompts {fifo} --out {t}/store",
    ],
)
def test_a_fifo_given_as_any_input_is_refused_before_it_is_opened(tmp_path, fifo, args):
    proc = _cli(args.format(fifo=fifo, t=tmp_path).split(), timeout=60)
    line = _one_line(proc)
    assert proc.returncode == 2 and str(fifo) in line and "not a regular file" in line
    assert not (tmp_path / "out.jsonl").exists()


def test_check_regular_file_names_the_kind_and_leaves_missing_paths_to_the_reader(tmp_path, fifo):
    with pytest.raises(InputError, match="a FIFO, not a regular file"):
        check_regular_file(fifo)
    with pytest.raises(InputError, match="a special file, not a regular file"):
        check_regular_file("/dev/zero")
    with pytest.raises(InputError, match="a directory, not a regular file"):
        check_regular_file(tmp_path)
    check_regular_file(tmp_path / "missing")  # "not found" is the reader's own message
    with pytest.raises(InputError, match="file not found"):
        read_text(tmp_path / "missing")


@pytest.mark.parametrize(
    "name, args, rule",
    [
        ("prompts.txt", "compare --prompts {bad} --model embedded:smollm2-135m", "[prompts]"),
        ("strategy.md", "lrl synth --strategy {bad}", "[config]"),
        ("recipe.yaml", "train -c {bad} --print-config", "[config]"),
        ("examples.yaml", "data hand-authored {bad}", "[yaml]"),
    ],
)
def test_invalid_utf8_in_a_text_input_is_one_line_naming_the_file(tmp_path, name, args, rule):
    bad = tmp_path / name
    bad.write_bytes(b"What is \xff\xfe?\n")
    result = CliRunner().invoke(main, args.format(bad=bad).split())
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {bad} {rule}: invalid UTF-8")
    assert len(result.output.strip().splitlines()) == 1


def test_collect_on_a_store_with_an_invalid_utf8_line_names_the_line(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "records.jsonl").write_bytes(b"\n\xff\xfe not text\n{}\n")  # line 2, in the middle
    proc = _cli(["collect", "--teacher", "test", "--limit", "1", "--out", str(store)])
    line = _one_line(proc)
    assert proc.returncode == 2
    assert line.startswith(f"error: {store / 'records.jsonl'}:2 [store]: damaged line: invalid UTF-8 (byte 0xff")
    with pytest.raises(InputError, match=r"records.jsonl:2 \[store\]: damaged line: invalid UTF-8"):
        TeacherStore(store)


def test_a_damaged_middle_line_of_a_store_is_named_by_its_real_line_number(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "records.jsonl").write_bytes(b"\n\n{not json\n")
    with pytest.raises(InputError, match=r"records.jsonl:3 \[store\]: damaged line: invalid JSON"):
        list(read_store(store, accepted=None))


def test_an_unknown_model_name_is_one_line():
    result = CliRunner().invoke(main, ["chat", "--model", "bogus:thing", "-q", "hi"])
    assert result.exit_code == 2 and result.output.strip() == "error: Unknown model: bogus:thing"


def test_validate_on_a_directory_without_record_files_is_an_error_not_ok(tmp_path):
    (tmp_path / "notes.txt").write_text("no records here\n")
    result = CliRunner().invoke(main, ["data", "validate", str(tmp_path), "--no-bench"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path} [empty]: no .jsonl record files here (nothing to validate)"


# -- read-only and full output directories ------------------------------------------------------------

LEGACY = {
    "id": "old-1",
    "category": "search",
    "messages": [{"role": "user", "content": "Where is main?"}, {"role": "assistant", "content": "In app.py."}],
}


def _in_private_mounts(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`script` (sh) with $RO a read-only tmpfs and $FULL a full one, in a private mount namespace."""
    if not shutil.which("unshare"):
        pytest.skip("no `unshare` here to make a private mount namespace")
    ro, full = tmp_path / "ro", tmp_path / "full"
    ro.mkdir()
    full.mkdir()
    setup = (
        f"mount -t tmpfs -o size=256k tmpfs {ro} && mkdir {ro}/home && mount -o remount,ro {ro} && "
        f"mount -t tmpfs -o size=16k tmpfs {full} && (dd if=/dev/zero of={full}/fill bs=1k count=64 2>/dev/null; true) "
        f"&& export RO={ro} FULL={full} || exit 99\n"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", setup + script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    if proc.returncode == 99 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {proc.stderr.strip()[:200]}")
    return proc


def test_read_only_and_full_output_directories_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "legacy.jsonl").write_text(json.dumps(LEGACY) + "\n")
    (tmp_path / "data.yaml").write_text(
        f"root: {tmp_path}\noutput_dir: out\nvalidation: {{model: null, bench: []}}\n"
        f"sources: [{{type: hand_authored, paths: [{ROOT / 'data' / 'hand_authored'}]}}]\n"
    )
    cli = " ".join(CLI)
    commands = {
        "convert": f"data convert --from legacy {tmp_path}/legacy.jsonl $D/x.jsonl",
        "domain": f"data domain {ROOT}/src/mlx_distill/tools --limit 3 --no-run -o $D/x.jsonl",
        "build": f"data build -c {tmp_path}/data.yaml -o $D/out --no-template --json",
    }
    script = "".join(
        f'for D in "$RO" "$FULL"; do echo "== {name} $D" >&2; {cli} {command}; echo "rc=$?" >&2; done\n'
        for name, command in commands.items()
    )
    script += f'echo "== prepare" >&2; MLX_DISTILL_HOME=$RO/home {cli} model prepare; echo "rc=$?" >&2\n'
    script += 'echo "== left on the full disk:" $(ls -A "$FULL") >&2\n'
    proc = _in_private_mounts(script, tmp_path)
    *blocks, left = [b.strip().splitlines() for b in proc.stderr.split("== ")[1:]]
    assert len(blocks) == 7, proc.stderr
    assert left == ["left on the full disk: fill"]  # no temp file or staging directory left behind
    ro, full = tmp_path / "ro", tmp_path / "full"
    for lines in blocks:
        header, rc = lines[0], lines[-1]
        errors = [line for line in lines[1:-1] if line.startswith("error: ")]
        assert rc == "rc=1" and len(errors) == 1, lines
        assert "Traceback" not in proc.stderr
        if header.endswith(str(ro)) or header == "prepare":
            assert errors[0].endswith("Read-only file system [Errno 30]") and str(ro) in errors[0], errors
        else:
            assert errors[0].endswith("No space left on device [Errno 28]") and str(full) in errors[0], errors
