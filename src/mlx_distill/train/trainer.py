"""The training loop: mlx-lm's building blocks (LoRA layers, optimizers, schedules, adapter format),
our data path (every assistant turn supervised, bucketing), and a cheaper forward (forward.py,
prefix_cache.py) that computes the same loss.

Run directory (`adapters/<run>/` or `adapter_path`):
  adapter_config.json, adapters.safetensors   what mlx_lm.load/generate/server/fuse read
  NNNNNNN_adapters.safetensors                checkpoints every save_every steps (mlx-lm's naming)
  optimizer.safetensors, state.json           the latest checkpoint's optimizer state, step, RNG (for --resume)
  config.yaml, run.json                       the resolved config; data hashes, model, versions, data stats
  metrics.jsonl, loss.png                     per-step train loss, reports, validation
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from ..io import InputError, append_jsonl, atomic_write_text, write_json
from .checkpoint import (ADAPTER_FILE, METRICS_FILE, OPTIMIZER_FILE, STATE_FILE, checkpoint_state, read_metrics,
                         state_hashes)
from .config import TrainConfig, _optimizer_class, as_config
from .fastmath import fast_math
from .dataset import BatchSchedule, Split, data_fingerprint, eval_batches, prefix_group, read_split, tokenize_split
from .forward import (Example, SplitModel, cross_entropy_sum, pad_batch, plain_loss, plan_batch, reference_loss)
from .prefix_cache import FrozenBottom

# keys whose change makes a checkpoint unusable
SHAPE_KEYS = ("fine_tune_type", "num_layers", "lora_parameters")


@dataclass
class TrainResult:
    run_dir: Path
    adapter_path: Path  # the directory mlx_lm.load(..., adapter_path=...) takes (= run_dir)
    first_loss: Optional[float]  # mean train loss over the first steps_per_report steps
    last_loss: Optional[float]  # mean train loss over the last steps_per_report steps
    val_loss: Optional[float]  # the last validation loss
    steps: int
    seconds: float  # training compute time of this invocation (no validation, no saving)
    tokens_per_s: float  # input tokens (without padding) trained per second
    test_loss: Optional[float] = None
    target_tokens_per_s: float = 0.0
    resumed_from: int = 0
    stats: dict = field(default_factory=dict)
    first_val_loss: Optional[float] = None  # validation loss before training (step 0)

    def to_json(self) -> dict:
        d = asdict(self)
        d["run_dir"], d["adapter_path"] = str(self.run_dir), str(self.adapter_path)
        return d


class Log:
    """Console lines (stderr) and an optional callback for each metrics row."""

    def __init__(self, quiet: bool = False, on_row: Optional[Callable[[dict], None]] = None):
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.quiet, self.on_row = quiet, on_row

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            self.console.print(msg, soft_wrap=True)  # whole lines in log files (rich wraps at 80 columns there)


def tune_malloc() -> None:
    """Keep freed memory in glibc's heap instead of returning it to the kernel after every step:
    plain mlx-lm runs spend ~1/4 of their CPU time in page faults from that churn."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(M_TOP_PAD, 64 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------- preflight (no model loaded)

def _run_dir_state(run_dir: Path, resume: bool, overwrite: bool) -> None:
    for p in (run_dir, *run_dir.parents):
        if p.exists():
            if not p.is_dir():
                raise InputError("adapter_path: expected a run directory, found a file", path=p, rule="adapter_path")
            break
    has_run = (run_dir / STATE_FILE).exists() or (run_dir / ADAPTER_FILE).exists()
    if resume:
        if not (run_dir / STATE_FILE).exists():
            raise InputError(f"nothing to resume in {run_dir} (no {STATE_FILE}); start the run without --resume",
                             rule="resume")
        return
    if has_run and not overwrite:
        raise InputError(f"{run_dir} already holds a run; pass --resume to continue it, --overwrite to replace it, "
                         "or choose another --run-name", rule="run-dir")


def load_splits(cfg: TrainConfig) -> dict[str, Split]:
    splits = {"train": read_split(cfg.data, "train")}
    if cfg.val_batches != 0:
        splits["valid"] = read_split(cfg.data, "valid")
    if cfg.test:
        splits["test"] = read_split(cfg.data, "test")
    n = len(splits["train"].records)
    if cfg.batch_size > n:
        raise InputError(f"batch_size {cfg.batch_size} is larger than the train split ({n} records); set "
                         f"batch_size to at most {n} or add data", path=splits["train"].path, rule="batch_size")
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
        hint = (" (no network here: use embedded:smollm2-135m or a local model directory)"
                if not Path(path).exists() else "")
        raise InputError(f"model {cfg.model!r} cannot be found or read: {str(e).splitlines()[0]}{hint}",
                         rule="model") from None


# ---------------------------------------------------------------- model set-up

def apply_fine_tune(model: nn.Module, cfg: TrainConfig) -> None:
    """mlx-lm's own set-up (lora.train_model): seed, freeze, LoRA/DoRA layers or unfrozen top layers."""
    from mlx_lm.tuner.utils import linear_to_lora_layers

    n = len(model.layers)
    if cfg.num_layers > n:
        raise InputError(f"num_layers {cfg.num_layers} is more than the model's {n} layers; set num_layers to at "
                         f"most {n} (or -1 for all)", rule="num_layers")
    mx.random.seed(cfg.seed)
    model.freeze()
    if cfg.fine_tune_type == "full":
        for layer in model.layers[-max(cfg.num_layers, 0):]:
            layer.unfreeze()
    else:
        params = cfg.lora_parameters.model_dump()
        if params.get("keys") is None:
            params.pop("keys")
        linear_to_lora_layers(model, cfg.num_layers, params, use_dora=cfg.fine_tune_type == "dora")
    if not tree_flatten(model.trainable_parameters()):
        keys = sorted({k for layer in model.layers[-1:] for k, m in layer.named_modules()
                       if isinstance(m, (nn.Linear, nn.QuantizedLinear))})
        raise InputError(f"nothing to train: lora_parameters.keys {cfg.lora_parameters.keys} matched no module; "
                         f"modules of a layer: {', '.join(keys)}", rule="lora_parameters")


def make_optimizer(cfg: TrainConfig):
    from mlx_lm.tuner.utils import build_schedule

    lr = build_schedule(cfg.lr_schedule.model_dump()) if cfg.lr_schedule else cfg.learning_rate
    return _optimizer_class(cfg.optimizer)(learning_rate=lr, **cfg.optimizer_kwargs())


def adapter_config(cfg: TrainConfig, model_path: str, run_dir: Path) -> dict[str, Any]:
    """mlx-lm's adapter_config.json (vars(args) of mlx_lm.lora) plus our keys, which mlx-lm ignores."""
    d = cfg.model_dump(mode="json")
    d.update({"model": model_path, "base_model": cfg.model, "adapter_path": str(run_dir),
              "lora_parameters": cfg.lora_parameters.model_dump(mode="json"),
              "mask_prompt": cfg.mask == "last"})
    return dict(sorted(d.items()))


# ---------------------------------------------------------------- the trainer

class Trainer:
    def __init__(self, cfg: TrainConfig, model: nn.Module, splits: dict[str, Split], *, log: Log):
        self.cfg, self.model, self.splits, self.log = cfg, model, splits, log
        self.split = SplitModel(model)
        self.fast = self.split.ok
        self.boundary = self.split.frozen_boundary() if self.fast else 0
        self.bottom = FrozenBottom(self.split, self.boundary, cache=cfg.cache_frozen_prefix,
                                   max_bytes=cfg.cache_max_gb * 1e9) if self.fast else None
        self.optimizer = make_optimizer(cfg)
        self.fast_math = cfg.fast_math is True or (cfg.fast_math == "auto" and mx.default_device() == mx.cpu)
        self._lvg = nn.value_and_grad(model, self._fast_loss if self.fast else self._plain_loss)

    # -- losses --
    def _fast_loss(self, hp, hs, P, gather, targets):
        _, hs = self.split.run_layers(self.boundary, len(self.split.layers), hp, hs, P,
                                      checkpoint=self.cfg.grad_checkpoint)
        logits = self.split.target_logits(hs, gather)
        n = targets.shape[0]
        return cross_entropy_sum(logits, targets) / n, mx.array(n)

    def _plain_loss(self, ids, tmask):
        return plain_loss(self.model, ids, tmask)

    def _math(self):
        return fast_math(self.model, self.fast_math and self.fast)

    def _inputs(self, examples: list[Example]):
        if self.fast:
            plan = plan_batch(examples, self.cfg.share_prompt_prefix)
            hp, hs = self.bottom(plan)
            args = (hp, hs, plan.prefix, mx.array(plan.gather), mx.array(plan.targets))
            return args, plan.n_tokens, plan.n_targets
        ids, m = pad_batch(examples)
        n_t = int(m[:, 1:].sum())
        return (mx.array(ids), mx.array(m)), int(sum(len(e) for e in examples)), n_t

    def loss_and_grad(self, examples: list[Example]):
        with self._math():
            args, n_tok, n_t = self._inputs(examples)
            (loss, _), grads = self._lvg(*args)
        return loss, grads, n_tok, n_t

    def loss(self, examples: list[Example]) -> tuple[mx.array, int, int]:
        with self._math():
            args, n_tok, n_t = self._inputs(examples)
            loss, _ = (self._fast_loss if self.fast else self._plain_loss)(*args)
        return loss, n_tok, n_t

    def evaluate(self, split: Split, num_batches: int) -> Optional[float]:
        if split is None or not split.examples:
            return None
        self.model.eval()
        total, count = 0.0, 0
        for idx in eval_batches(split.examples, self.cfg.batch_size, num_batches, self.cfg.seed):
            loss, _, n_t = self.loss([split.examples[i] for i in idx])
            mx.eval(loss)
            total += loss.item() * n_t
            count += n_t
            self._clear_cache()
        self.model.train()
        return total / count if count else None

    def _clear_cache(self) -> None:
        if self.cfg.clear_cache_threshold and mx.get_cache_memory() > self.cfg.clear_cache_threshold:
            mx.clear_cache()

    def self_check(self) -> Optional[float]:
        """Compare the fast forward with the plain `model(ids)` loss on real examples; fall back if they differ."""
        if not self.fast:
            return None
        ex = sorted(self.splits["train"].examples, key=len)[:2]
        ex = [Example(e.ids[: e.first_target + 16], e.mask[: e.first_target + 16], key=("check", i))
              for i, e in enumerate(ex)]
        self.model.eval()
        saved = self.bottom
        self.bottom = FrozenBottom(self.split, self.boundary, cache=False)
        try:
            ref, _ = reference_loss(self.model, ex)

            def rel_diff():
                fast = self.loss(ex)[0].item()
                return abs(fast - ref) / max(1.0, abs(ref)) if math.isfinite(fast) else math.inf, fast

            diff, fast = rel_diff()
            if diff > 1e-3 and self.fast_math:
                self.fast_math = False
                diff, fast = rel_diff()
                if diff <= 1e-3:
                    self.log("[yellow]warning:[/] exp2 softmax/SiLU do not reproduce this model's loss; using the "
                             "model's own functions")
        finally:
            self.bottom = saved
            self.model.train()
        if diff > 1e-3:
            self.log(f"[yellow]warning:[/] the fast forward does not reproduce this model's loss ({fast:.5f} vs "
                     f"{ref:.5f}); training with the plain forward (slower, same loss)")
            self.fast = False
            self._lvg = nn.value_and_grad(self.model, self._plain_loss)
        return diff


def _save_safetensors(path: Path, arrays: dict[str, mx.array]) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    mx.save_safetensors(str(tmp), arrays)
    os.replace(tmp, path)


def save_checkpoint(run_dir: Path, step: int, trainer: Trainer, extra: dict, *, numbered: bool = True) -> None:
    weights = dict(tree_flatten(trainer.model.trainable_parameters()))
    _save_safetensors(run_dir / ADAPTER_FILE, weights)
    name = f"{step:07d}_adapters.safetensors"
    if numbered:
        tmp = run_dir / f".tmp-{name}"
        shutil.copyfile(run_dir / ADAPTER_FILE, tmp)
        os.replace(tmp, run_dir / name)
    _save_safetensors(run_dir / OPTIMIZER_FILE, dict(tree_flatten(trainer.optimizer.state)))
    adapter_file = name if numbered else ADAPTER_FILE
    state = {"step": step, "adapter_file": adapter_file, **extra, **state_hashes(run_dir, adapter_file)}
    write_json(run_dir / STATE_FILE, state)  # last: the checkpoint's commit point


def _summarize(rows: list[dict], window: int) -> tuple[Optional[float], ...]:
    """(first, last train loss, first, last validation loss). Train losses are window means: one batch's
    loss depends on what it holds (bucketing groups short direct answers apart from long tool
    conversations), so a single step says little; validation runs the same examples every time."""
    steps = [r for r in rows if r.get("kind") == "train"]
    vals = [r for r in rows if r.get("kind") == "val"]
    first = float(np.mean([r["loss"] for r in steps[:window]])) if steps else None
    last = float(np.mean([r["loss"] for r in steps[-window:]])) if steps else None
    return first, last, (vals[0]["val_loss"] if vals else None), (vals[-1]["val_loss"] if vals else None)


def train(config: "TrainConfig | dict | str | os.PathLike", *, resume: bool = False, overwrite: bool = False,
          progress: bool = True, quiet: bool = False, on_row: Optional[Callable[[dict], None]] = None) -> TrainResult:
    """Train per `config` (a TrainConfig, a dict of config keys, or a YAML path). See docs/training.md."""
    cfg = as_config(config)
    log = Log(quiet=quiet, on_row=on_row)
    run_dir = cfg.run_dir()

    # ---- preflight: everything that can be checked before a model is loaded
    _run_dir_state(run_dir, resume, overwrite)
    splits = load_splits(cfg)
    if resume:
        checkpoint_state(run_dir)  # damaged files: one line naming the file and how to recover
        read_metrics(run_dir / METRICS_FILE, tolerate_torn_tail=True)
        _check_resume_compatible(run_dir, cfg)
    model_path = resolve(cfg)
    tokenizer = load_tokenizer_for(model_path, cfg)
    for name, sp in splits.items():
        tokenize_split(sp, tokenizer, mask=cfg.mask, max_seq_length=cfg.max_seq_length)
        if not sp.examples:
            raise InputError(f"no example of the {name} split has a supervised token left (mask {cfg.mask}, "
                             f"max_seq_length {cfg.max_seq_length}); raise max_seq_length", path=sp.path, rule="data")
    train_split = splits["train"]
    if cfg.batch_size > len(train_split.examples):
        raise InputError(f"batch_size {cfg.batch_size} is larger than the {len(train_split.examples)} usable train "
                         f"examples; lower batch_size", path=train_split.path, rule="batch_size")
    for name, sp in splits.items():
        st = sp.stats()
        extra = []
        if st["truncated"]:
            extra.append(f"{st['truncated']} truncated to {cfg.max_seq_length} tokens")
        if st["dropped_no_target"]:
            extra.append(f"{st['dropped_no_target']} dropped: no target token left")
        log(f"{name}: {st['examples']} examples, {st['tokens']} tokens ({st['target_tokens']} targets, mask "
            f"{cfg.mask}), max {st['max_len']}" + (f"; {', '.join(extra)}" if extra else ""))

    # ---- model
    log(f"loading {cfg.model}")
    from mlx_lm.utils import load as mlx_load

    try:
        model, _ = mlx_load(model_path, tokenizer_config={"trust_remote_code": True} if cfg.trust_remote_code else None)
    except Exception as e:
        raise InputError(f"could not load model {cfg.model!r}: {str(e).splitlines()[0]}", rule="model") from None
    apply_fine_tune(model, cfg)
    if cfg.resume_adapter_file and not resume:
        if not Path(cfg.resume_adapter_file).exists():
            raise InputError("resume_adapter_file not found", path=cfg.resume_adapter_file, rule="resume")
        model.load_weights(cfg.resume_adapter_file, strict=False)
    tune_malloc()
    trainer = Trainer(cfg, model, splits, log=log)
    n_train = sum(v.size for _, v in tree_flatten(model.trainable_parameters()))
    n_total = sum(v.size for _, v in tree_flatten(model.parameters()))
    log(f"{cfg.fine_tune_type} on the top {cfg.num_layers if cfg.num_layers >= 0 else len(model.layers)} of "
        f"{len(model.layers)} layers, rank {cfg.lora_parameters.rank}: {n_train / 1e6:.3f}M trainable parameters "
        f"({100 * n_train / n_total:.3f}%)")
    diff = trainer.self_check()
    if trainer.fast:
        log(f"forward: frozen layers 0-{trainer.boundary - 1} run once per example"
            f"{' and cached' if trainer.bottom.cache_on else ''}; shared prompt prefix "
            f"{'on' if cfg.share_prompt_prefix else 'off'}; logits at targets only; exp2 math "
            f"{'on' if trainer.fast_math else 'off'} (checked against the plain forward: rel. diff {diff:.1e})")

    # ---- run directory
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = run_dir / METRICS_FILE
    start_step, trained_tokens, prior_seconds = 0, 0, 0.0
    if resume:
        start_step, trained_tokens, prior_seconds = _restore(run_dir, trainer, log)
        rows = [r for r in read_metrics(metrics_path, tolerate_torn_tail=True) if r.get("step", 0) <= start_step]
        atomic_write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
    else:
        for p in list(run_dir.glob("*_adapters.safetensors")) + [run_dir / n for n in
                                                                (METRICS_FILE, STATE_FILE, OPTIMIZER_FILE,
                                                                 ADAPTER_FILE, "loss.png")]:
            if p.exists():
                p.unlink()
    with open(run_dir / "adapter_config.json", "w") as f:
        json.dump(adapter_config(cfg, model_path, run_dir), f, indent=4)
    atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    fingerprint = data_fingerprint(cfg.data)
    write_json(run_dir / "run.json", {
        "config": cfg.model_dump(mode="json"), "model_path": model_path,
        "data": {**fingerprint, "splits": {n: s.stats() for n, s in splits.items()}},
        "data_manifest_sha256": fingerprint["manifest_sha256"], "versions": _versions(),
        "forward": {"fast": trainer.fast, "frozen_layers": trainer.boundary, "self_check_rel_diff": diff},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed_from": start_step if resume else None})

    def emit(row: dict) -> None:
        append_jsonl(metrics_path, row)
        if log.on_row:
            log.on_row(row)

    # ---- loop
    schedule = BatchSchedule([len(e) for e in train_split.examples], cfg.batch_size, cfg.seed, cfg.bucketing,
                             groups=[prefix_group(e.ids) for e in train_split.examples] if cfg.share_prompt_prefix else None)
    valid = splits.get("valid")
    model.train()
    accum, accum_n = None, 0
    window: list[dict] = []
    seconds = 0.0
    run_tokens = run_targets = 0
    val_loss = None
    last_step = start_step
    if start_step >= cfg.iters:
        log(f"already at step {start_step} of {cfg.iters}; raise iters to train further")
    if valid is not None and start_step == 0 and start_step < cfg.iters:
        tic = time.perf_counter()
        val_loss = trainer.evaluate(valid, cfg.val_batches)
        emit({"kind": "val", "step": 0, "val_loss": val_loss, "val_seconds": round(time.perf_counter() - tic, 3)})
        log(f"step 0: val loss {val_loss:.4f}")
    bar = _Progress(progress and not quiet, cfg.iters, start_step, log)
    with bar:
        for step in range(start_step + 1, cfg.iters + 1):
            tic = time.perf_counter()
            mx.random.seed(cfg.seed * 1_000_003 + step)  # dropout draws: a function of (seed, step), so resume is exact
            examples = [train_split.examples[i] for i in schedule.batch_at(step)]
            loss, grads, n_tok, n_t = trainer.loss_and_grad(examples)
            accum = grads if accum is None else tree_map(lambda a, b: a + b, accum, grads)
            accum_n += 1
            if accum_n == cfg.grad_accumulation_steps or step == cfg.iters:
                if accum_n > 1:
                    accum = tree_map(lambda g: g / accum_n, accum)
                trainer.optimizer.update(model, accum)
                accum, accum_n = None, 0
            mx.eval(loss, model.trainable_parameters(), trainer.optimizer.state, accum)
            trainer._clear_cache()
            dt = time.perf_counter() - tic
            seconds += dt
            run_tokens += n_tok
            run_targets += n_t
            trained_tokens += n_tok
            lr = float(trainer.optimizer.learning_rate.item())
            row = {"kind": "train", "step": step, "loss": round(loss.item(), 6), "learning_rate": lr,
                   "tokens": n_tok, "targets": n_t, "seconds": round(dt, 4),
                   "epoch": round(schedule.epoch_of(step), 3)}
            emit(row)
            window.append(row)
            bar.advance(row["loss"])
            last_step = step
            if step % cfg.steps_per_report == 0 or step == cfg.iters:
                w_s = sum(r["seconds"] for r in window)
                rep = {"kind": "report", "step": step, "train_loss": float(np.mean([r["loss"] for r in window])),
                       "learning_rate": lr, "tokens_per_s": sum(r["tokens"] for r in window) / w_s,
                       "target_tokens_per_s": sum(r["targets"] for r in window) / w_s,
                       "steps_per_s": len(window) / w_s, "trained_tokens": trained_tokens,
                       "peak_memory_gb": round(mx.get_peak_memory() / 1e9, 3)}
                emit(rep)
                bar.print(f"step {step}: train loss {rep['train_loss']:.4f}, lr {lr:.2e}, "
                          f"{rep['tokens_per_s']:.0f} tok/s, peak {rep['peak_memory_gb']:.2f} GB")
                window = []
            if valid is not None and (step % cfg.steps_per_eval == 0 or step == cfg.iters):
                tic = time.perf_counter()
                val_loss = trainer.evaluate(valid, cfg.val_batches)
                emit({"kind": "val", "step": step, "val_loss": val_loss,
                      "val_seconds": round(time.perf_counter() - tic, 3)})
                bar.print(f"step {step}: val loss {val_loss:.4f}")
            if step % cfg.save_every == 0 and step != cfg.iters:
                save_checkpoint(run_dir, step, trainer, {"trained_tokens": trained_tokens,
                                                         "train_seconds": prior_seconds + seconds})
                _plot(run_dir)
    if last_step > start_step or not (run_dir / ADAPTER_FILE).exists():
        save_checkpoint(run_dir, last_step, trainer, {"trained_tokens": trained_tokens,
                                                      "train_seconds": prior_seconds + seconds},
                        numbered=last_step % cfg.save_every == 0)
    test_loss = None
    if "test" in splits:
        test_loss = trainer.evaluate(splits["test"], cfg.test_batches)
        emit({"kind": "test", "step": last_step, "test_loss": test_loss})
        log(f"test loss {test_loss:.4f} (ppl {math.exp(test_loss):.3f})")
    _plot(run_dir)
    rows = read_metrics(metrics_path)
    first, last, vfirst, vloss = _summarize(rows, cfg.steps_per_report)
    stats = {"frozen_prefix_cache": trainer.bottom.stats() if trainer.bottom else None, "fast_forward": trainer.fast}
    result = TrainResult(run_dir=run_dir, adapter_path=run_dir, first_loss=first, last_loss=last, val_loss=vloss,
                         steps=last_step, seconds=seconds, tokens_per_s=run_tokens / seconds if seconds else 0.0,
                         test_loss=test_loss, target_tokens_per_s=run_targets / seconds if seconds else 0.0,
                         resumed_from=start_step, stats=stats, first_val_loss=vfirst)
    write_json(run_dir / "result.json", result.to_json())
    if last_step > start_step:
        n = min(cfg.steps_per_report, last_step)
        log(f"done: {last_step - start_step} steps in {seconds:.1f}s ({result.tokens_per_s:.0f} tok/s); train loss "
            f"{first:.4f} (first {n} steps) -> {last:.4f} (last {n})"
            + (f"; val loss {vfirst:.4f} -> {vloss:.4f}" if vloss is not None else "") + f"; adapter: {run_dir}")
    return result


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("mlx-distill", "mlx", "mlx-lm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _check_resume_compatible(run_dir: Path, cfg: TrainConfig) -> None:
    p = run_dir / "adapter_config.json"
    if not p.exists():
        return
    old = json.loads(p.read_text())
    new = adapter_config(cfg, "", run_dir)
    for k in SHAPE_KEYS + ("base_model",):
        if k in old and old[k] != new[k]:
            raise InputError(f"cannot resume: {k} was {old[k]!r} in {run_dir} and is now {new[k]!r}; keep it or "
                             "start a new run", rule="resume")


def _restore(run_dir: Path, trainer: Trainer, log: Log) -> tuple[int, int, float]:
    state = checkpoint_state(run_dir)
    step = int(state["step"])
    adapter = run_dir / state.get("adapter_file", ADAPTER_FILE)
    if not adapter.exists():
        adapter = run_dir / ADAPTER_FILE
    trainer.model.load_weights(str(adapter), strict=False)
    opt_path = run_dir / OPTIMIZER_FILE
    if opt_path.exists():
        trainer.optimizer.state = tree_unflatten(list(mx.load(str(opt_path)).items()))
    mx.eval(trainer.model.parameters(), trainer.optimizer.state)
    log(f"resuming {run_dir} from step {step}" + ("" if opt_path.exists() else " (no optimizer state: fresh)"))
    return step, int(state.get("trained_tokens", 0)), float(state.get("train_seconds", 0.0))


def _plot(run_dir: Path) -> None:
    try:
        from .plot import plot_losses

        plot_losses(run_dir / METRICS_FILE, run_dir / "loss.png")
    except Exception as e:  # a plot must never fail a run
        print(f"warning: loss.png not written: {e}", file=sys.stderr)


class _Progress:
    """A rich progress bar with the loss and the ETA (stderr); silent when disabled."""

    def __init__(self, enabled: bool, total: int, done: int, log: Log):
        self.enabled, self.log = enabled, log
        if enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                                     TextColumn("ETA"), TimeRemainingColumn(), console=log.console, transient=False)
            self.task = self.progress.add_task("train", total=total, completed=done, loss="-")

    def __enter__(self):
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)

    def advance(self, loss: float) -> None:
        if self.enabled:
            self.progress.update(self.task, advance=1, loss=f"{loss:.4f}")

    def print(self, msg: str) -> None:
        if self.enabled:
            self.progress.console.print(msg, soft_wrap=True)
        else:
            self.log(msg)
