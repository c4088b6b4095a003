"""Everything a training run can check before a model is loaded: the run directory, the data splits,
a resumable checkpoint, the model's tokenizer and what is left of each example after masking."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import InputError
from .checkpoint import METRICS_FILE, checkpoint_state, read_metrics
from .config import TrainConfig
from .dataset import Split, read_split, tokenize_split
from .rundir import check_resume_compatible, check_run_dir


def _required_split(data_dir: str, name: str) -> Split:
    split = read_split(data_dir, name)
    assert split is not None  # a required split that is missing raises instead
    return split


def load_splits(cfg: TrainConfig) -> dict[str, Split]:
    splits = {"train": _required_split(cfg.data, "train")}
    if cfg.val_batches != 0:
        splits["valid"] = _required_split(cfg.data, "valid")
    if cfg.test:
        splits["test"] = _required_split(cfg.data, "test")
    n = len(splits["train"].records)
    if cfg.batch_size > n:
        raise InputError(
            f"batch_size {cfg.batch_size} is larger than the train split ({n} records); set "
            f"batch_size to at most {n} or add data",
            path=splits["train"].path,
            rule="batch_size",
        )
    return splits


def resolve(cfg: TrainConfig) -> str:
    from ..models import resolve_model

    return resolve_model(cfg.model)


def load_tokenizer_for(path: str, cfg: TrainConfig):
    from mlx_lm.utils import hf_repo_to_path, load_tokenizer

    try:
        p = Path(path)
        if not p.exists():
            p = hf_repo_to_path(path)
        return load_tokenizer(p, {"trust_remote_code": cfg.trust_remote_code} if cfg.trust_remote_code else None)
    except InputError:
        raise
    except Exception as e:  # hub errors, missing files
        hint = (
            " (no network here: use embedded:smollm2-135m or a local model directory)"
            if not Path(path).exists()
            else ""
        )
        raise InputError(
            f"model {cfg.model!r} cannot be found or read: {str(e).splitlines()[0]}{hint}", rule="model"
        ) from None


def tokenize_splits(cfg: TrainConfig, splits: dict[str, Split], tokenizer, log: Callable[[str], None]) -> None:
    for name, sp in splits.items():
        tokenize_split(sp, tokenizer, mask=cfg.mask, max_seq_length=cfg.max_seq_length)
        if not sp.examples:
            raise InputError(
                f"no example of the {name} split has a supervised token left (mask {cfg.mask}, "
                f"max_seq_length {cfg.max_seq_length}); raise max_seq_length",
                path=sp.path,
                rule="data",
            )
    train_split = splits["train"]
    if cfg.batch_size > len(train_split.examples):
        raise InputError(
            f"batch_size {cfg.batch_size} is larger than the {len(train_split.examples)} usable train "
            f"examples; lower batch_size",
            path=train_split.path,
            rule="batch_size",
        )
    for name, sp in splits.items():
        st = sp.stats()
        extra = []
        if st["truncated"]:
            extra.append(f"{st['truncated']} truncated to {cfg.max_seq_length} tokens")
        if st["dropped_no_target"]:
            extra.append(f"{st['dropped_no_target']} dropped: no target token left")
        log(
            f"{name}: {st['examples']} examples, {st['tokens']} tokens ({st['target_tokens']} targets, mask "
            f"{cfg.mask}), max {st['max_len']}" + (f"; {', '.join(extra)}" if extra else "")
        )


def preflight(
    cfg: TrainConfig, *, resume: bool, overwrite: bool, log: Callable[[str], None], run_dir_checks: bool = True
) -> tuple[dict[str, Split], str]:
    """(tokenized splits, model path), or an InputError naming what to fix. `run_dir_checks`: False in
    the processes of a data-parallel run that never touch the run directory (all but rank 0)."""
    run_dir = cfg.run_dir()
    if run_dir_checks:
        check_run_dir(run_dir, resume, overwrite)
    splits = load_splits(cfg)
    if resume and run_dir_checks:
        checkpoint_state(run_dir)  # damaged files: one line naming the file and how to recover
        read_metrics(run_dir / METRICS_FILE, tolerate_torn_tail=True)
        check_resume_compatible(run_dir, cfg)
    model_path = resolve(cfg)
    tokenize_splits(cfg, splits, load_tokenizer_for(model_path, cfg), log)
    return splits, model_path
