"""Training: mlx-lm's building blocks (LoRA layers, optimizers, schedules, adapter format), our data
path (every assistant turn supervised, bucketing), and a cheaper forward (forward.py, prefix_cache.py)
that computes the same loss. `train()` runs preflight.py (checks before a model loads), sets the model
up (fine_tune.py), opens the run directory (rundir.py, checkpoint.py) and runs the step loop (loop.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_map

from ..io import append_jsonl, write_json
from .checkpoint import ADAPTER_FILE, METRICS_FILE, read_metrics, restore_checkpoint, save_checkpoint
from .config import TrainConfig, as_config
from .dataset import Split, eval_batches
from .decision import DecisionEval
from .distributed import Group
from .fastmath import fast_math
from .fine_tune import load_trainable, make_optimizer
from .forward import Example, SplitModel, cross_entropy_sum, pad_batch, plain_loss, plan_batch, reference_loss
from .loop import LoopTotals, run_steps
from .preflight import preflight
from .prefix_cache import FrozenBottom
from .rundir import loss_summary, open_run_dir, plot


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
    decision: dict = field(default_factory=dict)  # call-or-not AUC / balanced accuracy: base, last, best step

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


class Trainer:
    """One model's training computation: loss and gradients of a batch (fast forward or the plain one),
    evaluation, and the check that the fast forward reproduces the plain loss."""

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        splits: dict[str, Split],
        *,
        log: Log,
        group: Optional[Group] = None,
        tokenizer: Any = None,
    ):
        self.cfg, self.model, self.splits, self.log = cfg, model, splits, log
        self.group = group or Group()
        self.decision = DecisionEval.of(cfg, splits.get("valid"), tokenizer) if self.group.root else None
        self.split = SplitModel(model)
        self.fast = self.split.ok
        self.boundary = self.split.frozen_boundary() if self.fast else 0
        self.bottom = (
            FrozenBottom(self.split, self.boundary, cache=cfg.cache_frozen_prefix, max_bytes=cfg.cache_max_gb * 1e9)
            if self.fast
            else None
        )
        self.optimizer = make_optimizer(cfg)
        self.fast_math = cfg.fast_math is True or (cfg.fast_math == "auto" and mx.default_device() == mx.cpu)
        self._lvg = nn.value_and_grad(model, self._fast_loss if self.fast else self._plain_loss)

    # -- losses --
    # `denom` divides the summed cross-entropy: the batch's target count, or a share of the global
    # batch's in data-parallel training (distributed.py)
    def _fast_loss(self, hp, hs, P, gather, targets, denom):
        _, hs = self.split.run_layers(
            self.boundary, len(self.split.layers), hp, hs, P, checkpoint=self.cfg.grad_checkpoint
        )
        logits = self.split.target_logits(hs, gather)
        return cross_entropy_sum(logits, targets) / denom, mx.array(targets.shape[0])

    def _plain_loss(self, ids, tmask, denom):
        return plain_loss(self.model, ids, tmask, denom)

    def _math(self):
        return fast_math(self.model, self.fast_math and self.fast)

    def _inputs(self, examples: list[Example]):
        if self.fast:
            plan = plan_batch(examples, self.cfg.share_prompt_prefix)
            assert self.bottom is not None  # built whenever self.fast
            hp, hs = self.bottom(plan)
            args = (hp, hs, plan.prefix, mx.array(plan.gather), mx.array(plan.targets))
            return args, plan.n_tokens, plan.n_targets
        ids, m = pad_batch(examples)
        n_t = int(m[:, 1:].sum())
        return (mx.array(ids), mx.array(m)), int(sum(len(e) for e in examples)), n_t

    def loss_and_grad(self, examples: list[Example], denom: Optional[float] = None):
        """(loss, gradients, input tokens, targets) of a batch; the loss is the mean over its targets
        unless `denom` says what to divide the sum by."""
        if not examples:  # a process's empty shard of a short global batch
            return mx.array(0.0), tree_map(mx.zeros_like, self.model.trainable_parameters()), 0, 0
        with self._math():
            args, n_tok, n_t = self._inputs(examples)
            (loss, _), grads = self._lvg(*args, denom or n_t)
        return loss, grads, n_tok, n_t

    def step_loss_and_grad(self, examples: list[Example]):
        """loss_and_grad of a global batch, of which this process computes its shard: the global batch's
        mean loss, this process's share of its gradients (`Group.average` completes them), its input
        tokens and targets."""
        g = self.group
        if g.size == 1:
            return self.loss_and_grad(examples)
        n_t = sum(e.n_targets for e in examples)
        loss, grads, _, _ = self.loss_and_grad(g.shard(examples), denom=n_t / g.size)
        mx.eval(loss, grads)  # computed here, so every process reaches the all-reduces in the same order
        return g.sum(loss) / g.size, grads, sum(len(e) for e in examples), n_t

    def loss(self, examples: list[Example]) -> tuple[mx.array, int, int]:
        with self._math():
            args, n_tok, n_t = self._inputs(examples)
            loss_fn: Callable[..., tuple[mx.array, mx.array]] = self._fast_loss if self.fast else self._plain_loss
            loss, _ = loss_fn(*args, n_t)
        return loss, n_tok, n_t

    def evaluate(self, split: Split, num_batches: int) -> Optional[float]:
        if split is None or not split.examples:
            return None
        self.model.eval()
        total, count = 0.0, 0
        for idx in eval_batches(split.examples, self.cfg.batch_size, num_batches, self.cfg.seed):
            shard = self.group.shard([split.examples[i] for i in idx])
            if not shard:
                continue
            loss, _, n_t = self.loss(shard)
            mx.eval(loss)
            total += loss.item() * n_t  # type: ignore[operator,assignment]  # mlx types item() as int | float | complex
            count += n_t
            self.clear_cache()
        self.model.train()
        if self.group.size > 1:
            total, count = self.group.sum(mx.array([total, count])).tolist()  # type: ignore[misc,assignment]  # mlx types tolist() as any nesting; this is a 1-D pair
        return total / count if count else None

    def clear_cache(self) -> None:
        if self.cfg.clear_cache_threshold and mx.get_cache_memory() > self.cfg.clear_cache_threshold:
            mx.clear_cache()

    def self_check(self) -> Optional[float]:
        """Compare the fast forward with the plain `model(ids)` loss on real examples; fall back if they differ."""
        if not self.fast:
            return None
        ex = sorted(self.splits["train"].examples, key=len)[:2]
        ex = [
            Example(e.ids[: e.first_target + 16], e.mask[: e.first_target + 16], key=("check", i))
            for i, e in enumerate(ex)
        ]
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
                    self.log(
                        "[yellow]warning:[/] exp2 softmax/SiLU do not reproduce this model's loss; using the "
                        "model's own functions"
                    )
        finally:
            self.bottom = saved
            self.model.train()
        if diff > 1e-3:
            self.log(
                f"[yellow]warning:[/] the fast forward does not reproduce this model's loss ({fast:.5f} vs "
                f"{ref:.5f}); training with the plain forward (slower, same loss)"
            )
            self.fast = False
            self._lvg = nn.value_and_grad(self.model, self._plain_loss)
        return diff


def train(
    config: "TrainConfig | dict | str | os.PathLike",
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    quiet: bool = False,
    on_row: Optional[Callable[[dict], None]] = None,
) -> TrainResult:
    """Train per `config` (a TrainConfig, a dict of config keys, or a YAML path). See docs/training.md.
    Under `mlx.launch` every process calls this; rank 0 alone writes the run directory and logs."""
    cfg = as_config(config)
    group = Group()
    root = group.root
    log = Log(quiet=quiet or not root, on_row=on_row if root else None)
    run_dir = cfg.run_dir()
    splits, model_path = preflight(cfg, resume=resume, overwrite=overwrite, log=log, run_dir_checks=root)
    trainer, diff = _set_up(cfg, model_path, splits, log, group=group, load_adapter=root and not resume)
    if group.size > 1:
        log(f"data parallel: {group.size} processes, each on its 1/{group.size} of every batch of {cfg.batch_size}")
        if group.blas_threads:
            log(f"the processes share this machine: {group.blas_threads} BLAS thread(s) each")

    start_step, trained_tokens, prior_seconds = 0, 0, 0.0
    if resume and root:
        state, had_optimizer = restore_checkpoint(run_dir, trainer.model, trainer.optimizer)
        start_step, trained_tokens = int(state["step"]), int(state.get("trained_tokens", 0))
        prior_seconds = float(state.get("train_seconds", 0.0))
        log(f"resuming {run_dir} from step {start_step}" + ("" if had_optimizer else " (no optimizer state: fresh)"))
    start_step = group.share_state(trainer.model, trainer.optimizer, start_step)
    if root:
        open_run_dir(
            run_dir,
            cfg,
            model_path,
            splits,
            resumed_from=start_step if resume else None,
            forward={
                "fast": trainer.fast,
                "frozen_layers": trainer.boundary,
                "self_check_rel_diff": diff,
                "processes": group.size,
            },
        )
    metrics_path = run_dir / METRICS_FILE
    rows: list[dict] = []  # this invocation's, for the result of a process that writes no metrics

    def emit(row: dict) -> None:
        rows.append(row)
        if root:
            append_jsonl(metrics_path, row)
        if log.on_row:
            log.on_row(row)

    def save(step: int, totals: LoopTotals, numbered: bool = True) -> None:
        if root:
            save_checkpoint(
                run_dir,
                step,
                trainer.model,
                trainer.optimizer,
                {"trained_tokens": totals.trained_tokens, "train_seconds": prior_seconds + totals.seconds},
                numbered=numbered,
            )
            plot(run_dir)

    totals = run_steps(
        trainer, splits, start_step=start_step, trained_tokens=trained_tokens, emit=emit, save=save, progress=progress
    )
    last_step = totals.last_step
    restored = False
    if trainer.decision is not None:  # keep_best: the final checkpoint holds the best evaluation's weights
        if cfg.keep_best != "last" and last_step > start_step and last_step % cfg.save_every:
            save(last_step, totals)  # the last step's own weights stay too, numbered (a learning curve's end)
        restored = trainer.decision.restore_best(trainer.model, last_step, log)
    if last_step > start_step or not (run_dir / ADAPTER_FILE).exists():
        save(last_step, totals, numbered=last_step % cfg.save_every == 0 and not restored)
    if trainer.decision is not None:
        trainer.decision.finish(trainer.model, run_dir, log)
    test_loss = None
    if "test" in splits:
        test_loss = trainer.evaluate(splits["test"], cfg.test_batches)
        emit({"kind": "test", "step": last_step, "test_loss": test_loss})
        if test_loss is not None:  # None when no test batch had a target token
            log(f"test loss {test_loss:.4f} (ppl {math.exp(test_loss):.3f})")
    if root:
        plot(run_dir)
    return _result(cfg, trainer, totals, start_step, test_loss, log, rows=read_metrics(metrics_path) if root else rows)


def _set_up(
    cfg: TrainConfig, model_path: str, splits: dict[str, Split], log: Log, *, group: Group, load_adapter: bool
) -> tuple[Trainer, Optional[float]]:
    """The model made trainable (`fine_tune.load_trainable`; resume_adapter_file's weights when
    `load_adapter`), the trainer over it, and the check of its fast forward."""
    model, tokenizer = load_trainable(cfg, model_path, log, load_adapter=load_adapter)
    trainer = Trainer(cfg, model, splits, log=log, group=group, tokenizer=tokenizer)
    diff = trainer.self_check()
    if trainer.fast:
        assert trainer.bottom is not None  # built whenever trainer.fast
        log(
            f"forward: frozen layers 0-{trainer.boundary - 1} run once per example"
            f"{' and cached' if trainer.bottom.cache_on else ''}; shared prompt prefix "
            f"{'on' if cfg.share_prompt_prefix else 'off'}; logits at targets only; exp2 math "
            f"{'on' if trainer.fast_math else 'off'} (checked against the plain forward: rel. diff {diff:.1e})"
        )
    return trainer, diff


def _result(
    cfg: TrainConfig,
    trainer: Trainer,
    totals: LoopTotals,
    start_step: int,
    test_loss: Optional[float],
    log: Log,
    *,
    rows: list[dict],
) -> TrainResult:
    """The run's TrainResult (losses summarized from the metrics `rows`), written to result.json by rank 0
    and summarized in one line."""
    run_dir, seconds, last_step = cfg.run_dir(), totals.seconds, totals.last_step
    first, last, vfirst, vloss = loss_summary(rows, cfg.steps_per_report)
    stats = {"frozen_prefix_cache": trainer.bottom.stats() if trainer.bottom else None, "fast_forward": trainer.fast}
    result = TrainResult(
        run_dir=run_dir,
        adapter_path=run_dir,
        first_loss=first,
        last_loss=last,
        val_loss=vloss,
        steps=last_step,
        seconds=seconds,
        tokens_per_s=totals.tokens / seconds if seconds else 0.0,
        test_loss=test_loss,
        target_tokens_per_s=totals.targets / seconds if seconds else 0.0,
        resumed_from=start_step,
        stats=stats,
        first_val_loss=vfirst,
        decision=trainer.decision.summary() if trainer.decision is not None else {},
    )
    if trainer.group.root:
        write_json(run_dir / "result.json", result.to_json())
    if last_step > start_step:
        n = min(cfg.steps_per_report, last_step)
        log(
            f"done: {last_step - start_step} steps in {seconds:.1f}s ({result.tokens_per_s:.0f} tok/s); train loss "
            f"{first:.4f} (first {n} steps) -> {last:.4f} (last {n})"
            + (f"; val loss {vfirst:.4f} -> {vloss:.4f}" if vloss is not None else "")
            + f"; adapter: {run_dir}"
        )
    return result
