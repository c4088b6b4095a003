"""The step loop: batches by schedule, gradient accumulation, optimizer updates (gradients averaged
over the processes of a data-parallel run), metrics rows (train, report, val), progress, and
checkpoints every save_every steps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import mlx.core as mx
import numpy as np
from mlx.utils import tree_map

from ..errors import InputError
from ..progress import Bar
from .checkpoint import all_finite
from .dataset import BatchSchedule, Split, prefix_group

if TYPE_CHECKING:
    from .trainer import Trainer


@dataclass
class LoopTotals:
    last_step: int
    trained_tokens: int  # over every invocation of the run (checkpointed)
    seconds: float = 0.0  # training compute of this invocation (no validation, no saving)
    tokens: int = 0  # input tokens of this invocation
    targets: int = 0


def run_steps(
    trainer: "Trainer",
    splits: dict[str, Split],
    *,
    start_step: int,
    trained_tokens: int,
    emit: Callable[[dict], None],
    save: Callable[[int, LoopTotals], None],
    progress: bool,
) -> LoopTotals:
    """Steps start_step+1 .. iters. `emit` takes each metrics row; `save(step, totals)` writes a checkpoint."""
    cfg, log, model = trainer.cfg, trainer.log, trainer.model
    train_split, valid = splits["train"], splits.get("valid")
    schedule = BatchSchedule(
        [len(e) for e in train_split.examples],
        cfg.batch_size,
        cfg.seed,
        cfg.bucketing,
        groups=[prefix_group(e.ids) for e in train_split.examples] if cfg.share_prompt_prefix else None,
        in_order=cfg.batch_order == "file",
    )
    model.train()
    accum, accum_n = None, 0
    window: list[dict] = []
    totals = LoopTotals(last_step=start_step, trained_tokens=trained_tokens)
    if start_step >= cfg.iters:
        log(f"already at step {start_step} of {cfg.iters}; raise iters to train further")
    if valid is not None and start_step == 0 and start_step < cfg.iters:
        _validate(trainer, valid, 0, emit, log)
    bar = Bar(
        "[bold]train",
        cfg.iters,
        completed=start_step,
        fields={"loss": "-"},
        eta=True,
        enabled=progress and not log.quiet,
        console=log.console,
        echo=log,
    )
    with bar:
        for step in range(start_step + 1, cfg.iters + 1):
            tic = time.perf_counter()
            mx.random.seed(cfg.seed * 1_000_003 + step)  # dropout draws: a function of (seed, step), so resume is exact
            examples = [train_split.examples[i] for i in schedule.batch_at(step)]
            loss, grads, n_tok, n_t = trainer.step_loss_and_grad(examples)
            accum = grads if accum is None else tree_map(lambda a, b: a + b, accum, grads)
            accum_n += 1
            if accum_n == cfg.grad_accumulation_steps or step == cfg.iters:
                accum = trainer.group.average(accum)
                if accum_n > 1:
                    accum = tree_map(lambda g: g / accum_n, accum)
                trainer.optimizer.update(model, accum)
                accum, accum_n = None, 0
            mx.eval(loss, model.trainable_parameters(), trainer.optimizer.state, accum)
            trainer.clear_cache()
            dt = time.perf_counter() - tic
            totals.seconds += dt
            totals.tokens += n_tok
            totals.targets += n_t
            totals.trained_tokens += n_tok
            lr = float(trainer.optimizer.learning_rate.item())
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise diverged(trainer, step, f"the training loss is {loss_value}")
            if (step % cfg.save_every == 0 or step == cfg.iters) and not all_finite(model.trainable_parameters()):
                raise diverged(trainer, step, "the update left NaN or infinite adapter weights")
            row = {
                "kind": "train",
                "step": step,
                "loss": round(loss_value, 6),
                "learning_rate": lr,
                "tokens": n_tok,
                "targets": n_t,
                "seconds": round(dt, 4),
                "epoch": round(schedule.epoch_of(step), 3),
            }
            emit(row)
            window.append(row)
            bar.advance(loss=f"{row['loss']:.4f}")
            totals.last_step = step
            if step % cfg.steps_per_report == 0 or step == cfg.iters:
                rep = _report(window, step, lr, totals.trained_tokens)
                emit(rep)
                bar.print(
                    f"step {step}: train loss {rep['train_loss']:.4f}, lr {lr:.2e}, "
                    f"{rep['tokens_per_s']:.0f} tok/s, peak {rep['peak_memory_gb']:.2f} GB"
                )
                window = []
            if valid is not None and (step % cfg.steps_per_eval == 0 or step == cfg.iters):
                _validate(trainer, valid, step, emit, bar.print)
            if step % cfg.save_every == 0 and step != cfg.iters:
                save(step, totals)
    return totals


def diverged(trainer: "Trainer", step: int, what: str) -> InputError:
    """Training that went NaN/infinite, as one line naming the step and the settings that usually cause it.
    Raised before the step's checkpoint, so no such adapter is ever saved as a good one."""
    cfg = trainer.cfg
    return InputError(
        f"step {step}: {what}; training stopped and this step was not saved. Usually the learning rate "
        f"({cfg.learning_rate:g}) or lora_parameters.scale ({cfg.lora_parameters.scale:g}) is too high: "
        "lower one and start again (the last saved checkpoint, if any, is intact)",
        rule="diverged",
    )


def _report(window: list[dict], step: int, lr: float, trained_tokens: int) -> dict:
    w_s = sum(r["seconds"] for r in window)
    return {
        "kind": "report",
        "step": step,
        "train_loss": float(np.mean([r["loss"] for r in window])),
        "learning_rate": lr,
        "tokens_per_s": sum(r["tokens"] for r in window) / w_s,
        "target_tokens_per_s": sum(r["targets"] for r in window) / w_s,
        "steps_per_s": len(window) / w_s,
        "trained_tokens": trained_tokens,
        "peak_memory_gb": round(mx.get_peak_memory() / 1e9, 3),
    }


def _validate(
    trainer: "Trainer", valid: Split, step: int, emit: Callable[[dict], None], say: Callable[[str], None]
) -> None:
    tic = time.perf_counter()
    val_loss = trainer.evaluate(valid, trainer.cfg.val_batches)
    row = {"kind": "val", "step": step, "val_loss": val_loss, "val_seconds": round(time.perf_counter() - tic, 3)}
    line = f"step {step}: val loss {val_loss:.4f}"
    if trainer.decision is not None:
        row.update(trainer.decision.measure(trainer.model, step, val_loss))
        line += trainer.decision.describe(row)
    emit(row)
    say(line)
