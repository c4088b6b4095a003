"""Checkpoints of a run directory: saving one, restoring one, and the checks before `train --resume`
loads a model (a damaged state.json, adapter or optimizer file, or a torn metrics.jsonl, is one line
naming the file and how to recover).

state.json is the commit point of a checkpoint (written last, atomically) and records the SHA-256 of the
adapter and optimizer files it belongs to, so a run killed between writing those files and state.json
is recognised instead of resuming with an optimizer from another step.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from ..io import read_jsonl, sha256_file, write_json

ADAPTER_FILE = "adapters.safetensors"
STATE_FILE = "state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
METRICS_FILE = "metrics.jsonl"


def safetensors_problem(path: Path) -> str | None:
    """Why `path` is not a whole safetensors file (header and data length), or None. Reads the header only."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or n <= 0 or 8 + n > size:
                return f"truncated or not a safetensors file ({size} bytes)"
            header = json.loads(f.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        return f"unreadable ({type(e).__name__})"
    if 8 + n + end != size:
        return f"truncated: {size} bytes where its header needs {8 + n + end}"
    return None


def numbered_checkpoints(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("[0-9]*_adapters.safetensors"))


def _recover_hint(run_dir: Path, exclude: Path | None = None) -> str:
    intact = [p for p in numbered_checkpoints(run_dir) if p != exclude and safetensors_problem(p) is None]
    if intact:
        return (
            f"to recover, start a new run from the latest intact checkpoint ({intact[-1].name}): set "
            f"resume_adapter_file: {intact[-1]} and a new adapter_path, or pass --overwrite to start over"
        )
    return "to recover, pass --overwrite to start the run over"


def checkpoint_state(run_dir: Path) -> dict[str, Any]:
    """state.json of a run to resume, after checking everything it points to. Raises InputError."""
    sp = run_dir / STATE_FILE
    try:
        state = json.loads(sp.read_text(encoding="utf-8"))
        int(state["step"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise InputError(
            f"damaged checkpoint state ({type(e).__name__}); {_recover_hint(run_dir)}", path=sp, rule="resume"
        ) from None
    adapter = run_dir / state.get("adapter_file", ADAPTER_FILE)
    if not adapter.exists():
        adapter = run_dir / ADAPTER_FILE
    files = [(adapter, state.get("adapter_sha256"))]
    if (run_dir / OPTIMIZER_FILE).exists():  # missing: resume with a fresh optimizer state (logged)
        files.append((run_dir / OPTIMIZER_FILE, state.get("optimizer_sha256")))
    for path, expected in files:
        problem = safetensors_problem(path)
        if problem is None and expected and sha256_file(path) != expected:
            problem = (
                f"it is not the file of step {state['step']} that {STATE_FILE} records (the run was "
                "stopped while saving a checkpoint)"
            )
        if problem:
            hint = (
                f"delete it to resume from step {state['step']} with a fresh optimizer state, or "
                f"{_recover_hint(run_dir)[len('to recover, ') :]}"
                if path.name == OPTIMIZER_FILE
                else _recover_hint(run_dir, exclude=path)
            )
            raise InputError(f"damaged checkpoint file: {problem}; {hint}", path=path, rule="resume")
    config = run_dir / "adapter_config.json"
    if config.exists():
        try:
            json.loads(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise InputError(
                f"damaged adapter config ({type(e).__name__}); {_recover_hint(run_dir)}", path=config, rule="resume"
            ) from None
    return state


def read_metrics(path: Path, *, tolerate_torn_tail: bool = False) -> list[dict]:
    """Rows of metrics.jsonl. A torn last line (a kill while appending) is dropped when tolerated; any
    other damaged line is an InputError naming it."""
    if not path.exists():
        return []
    errors: list[InputError] = []
    rows = list(read_jsonl(path, errors=errors))
    last = rows[-1][0] if rows else 0
    for e in errors:
        if tolerate_torn_tail and e.line and e.line > last:
            continue
        raise InputError(
            f"damaged metrics line ({e.message}); delete that line (and the ones after it) to resume",
            path=path,
            line=e.line,
            rule="resume",
        )
    return [row for _, row in rows if isinstance(row, dict)]


def state_hashes(run_dir: Path, adapter_file: str) -> dict[str, str]:
    """What state.json records of the files it belongs to."""
    out = {"adapter_sha256": sha256_file(run_dir / adapter_file)}
    if os.path.exists(run_dir / OPTIMIZER_FILE):
        out["optimizer_sha256"] = sha256_file(run_dir / OPTIMIZER_FILE)
    return out


def _save_safetensors(path: Path, arrays: dict) -> None:
    import mlx.core as mx

    tmp = path.with_name(f".tmp-{path.name}")
    mx.save_safetensors(str(tmp), arrays)
    os.replace(tmp, path)


def all_finite(tree: Any) -> bool:
    """Whether every float array in a parameter tree is free of NaN and infinity."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    arrays = [a for _, a in cast(list[tuple[str, Any]], tree_flatten(tree))]
    return all(bool(mx.all(mx.isfinite(a)).item()) for a in arrays if mx.issubdtype(a.dtype, mx.floating))


def save_checkpoint(
    run_dir: Path, step: int, model: Any, optimizer: Any, extra: dict, *, numbered: bool = True
) -> None:
    """The adapter (and a numbered copy, mlx-lm's naming), the optimizer state, then state.json.
    An adapter holding NaN or infinity is refused: it would load, and answer garbage, as a good one."""
    from mlx.utils import tree_flatten

    if not all_finite(model.trainable_parameters()):
        raise InputError(f"step {step}: the adapter holds NaN or infinite weights; not saved", rule="diverged")
    _save_safetensors(run_dir / ADAPTER_FILE, dict(tree_flatten(model.trainable_parameters())))
    name = f"{step:07d}_adapters.safetensors"
    if numbered:
        tmp = run_dir / f".tmp-{name}"
        shutil.copyfile(run_dir / ADAPTER_FILE, tmp)
        os.replace(tmp, run_dir / name)
    _save_safetensors(run_dir / OPTIMIZER_FILE, dict(tree_flatten(optimizer.state)))
    adapter_file = name if numbered else ADAPTER_FILE
    state = {"step": step, "adapter_file": adapter_file, **extra, **state_hashes(run_dir, adapter_file)}
    write_json(run_dir / STATE_FILE, state)  # last: the checkpoint's commit point


def restore_checkpoint(run_dir: Path, model: Any, optimizer: Any) -> tuple[dict[str, Any], bool]:
    """Load the last checkpoint's adapter and optimizer state into `model` and `optimizer`.
    Returns (state.json, whether an optimizer state was there)."""
    import mlx.core as mx
    from mlx.utils import tree_unflatten

    state = checkpoint_state(run_dir)
    adapter = run_dir / state.get("adapter_file", ADAPTER_FILE)
    if not adapter.exists():
        adapter = run_dir / ADAPTER_FILE
    model.load_weights(str(adapter), strict=False)
    opt_path = run_dir / OPTIMIZER_FILE
    if opt_path.exists():
        # mlx types load() as any of its return shapes; a .safetensors file gives a dict of arrays
        optimizer.state = tree_unflatten(list(cast(dict[str, mx.array], mx.load(str(opt_path))).items()))
    mx.eval(model.parameters(), optimizer.state)
    return state, opt_path.exists()
