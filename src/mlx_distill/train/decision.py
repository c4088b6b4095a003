"""The call-or-not decision during training, beside the validation loss.

The validation loss says how well the model copies the targets' tokens; what the product needs is the
first of them: call a tool or not. At every evaluation this measures that decision on the validation
split (one prompt forward a record, `agent.probe.first_tokens`): the ROC AUC of the call probability
and the balanced accuracy of the greedy decision. The step-0 evaluation is the base model (LoRA starts
as the identity), so a run that ends ranking the questions worse than its base says so. With
`keep_best` the weights of the best evaluation are the ones saved at the end; with `calibrate` the
opener bias is fitted on the validation split and saved beside the adapter.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import mlx.core as mx
from mlx.utils import tree_flatten, tree_unflatten

from ..agent.calibration import decision_figures, fit, record_prompts
from ..agent.probe import first_tokens, opener_id
from ..errors import InputError

if TYPE_CHECKING:
    import mlx.nn as nn

    from .config import TrainConfig
    from .dataset import Split

KEYS = {"decision_auc": "auc", "decision_balanced_accuracy": "balanced_accuracy"}


def spread(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n) (all of them when k >= n)."""
    if k >= n:
        return list(range(n))
    return [round(i * (n - 1) / max(1, k - 1)) for i in range(k)]


class DecisionEval:
    def __init__(self, cfg: "TrainConfig", prompts: list[list[int]], positive: list[bool], opener: int, source: str):
        self.cfg, self.prompts, self.positive, self.opener, self.source = cfg, prompts, positive, opener, source
        self.rows: list[dict[str, Any]] = []
        self.best: Optional[tuple[float, int, dict]] = None  # (score, step, trainable weights)
        self.kept: Optional[dict[str, Any]] = None  # the row of the weights saved at the end
        self.bias: Optional[float] = None
        # the calibration is fitted once, at the end, on the whole validation split (not the spread)
        self.calibration_set: tuple[list[list[int]], list[bool]] = (prompts, positive)

    @classmethod
    def of(cls, cfg: "TrainConfig", valid: "Split | None", tokenizer: Any) -> "DecisionEval | None":
        """None when there is nothing to measure: switched off, no validation split, no labelled record."""
        if not cfg.decision_eval or valid is None or tokenizer is None:
            return None
        every, every_positive = record_prompts(valid.records, tokenizer)
        every = [p[: cfg.max_seq_length] for p in every]
        keep = spread(len(every), cfg.decision_eval_max)
        if not keep:
            return None
        ev = cls(
            cfg, [every[i] for i in keep], [every_positive[i] for i in keep], opener_id(tokenizer), str(valid.path)
        )
        ev.calibration_set = (every, every_positive)
        return ev

    def _firsts(self, model: "nn.Module", prompts: Optional[list[list[int]]] = None) -> list:
        was_training = model.training
        model.eval()
        try:
            return first_tokens(model, self.opener, prompts or self.prompts, batch_size=max(8, self.cfg.batch_size))
        finally:
            if was_training:
                model.train()

    def measure(self, model: "nn.Module", step: int, val_loss: Optional[float]) -> dict[str, Any]:
        """The decision figures of this evaluation (keys for the val row of metrics.jsonl)."""
        tic = time.perf_counter()
        figs = decision_figures(self._firsts(model), self.positive)
        row = {
            "decision_auc": figs["auc"],
            "decision_balanced_accuracy": figs["balanced_accuracy"],
            "decision_p_call_tool": figs["p_call_tool"],
            "decision_p_call_other": figs["p_call_other"],
            "decision_cases": figs["cases"],
            "decision_tool_cases": figs["tool_cases"],
            "decision_seconds": round(time.perf_counter() - tic, 3),
        }
        self.rows.append({"step": step, "val_loss": val_loss, **row})
        self._track_best(model, step, val_loss, row)
        return row

    def _track_best(self, model: "nn.Module", step: int, val_loss: Optional[float], row: dict[str, Any]) -> None:
        key = self.cfg.keep_best
        if key == "last":
            return
        value = -val_loss if key == "val_loss" and val_loss is not None else row.get(key)
        if value is None or (self.best is not None and value <= self.best[0]):
            return
        self.best = (float(value), step, dict(tree_flatten(model.trainable_parameters())))  # arrays are immutable

    @staticmethod
    def describe(row: dict[str, Any]) -> str:
        auc, bal = row.get("decision_auc"), row.get("decision_balanced_accuracy")
        auc_text = "–" if auc is None else f"{auc:.3f}"
        bal_text = "–" if bal is None else f"{100 * bal:.1f}%"
        return f"; decision AUC {auc_text}, balanced accuracy {bal_text} ({row['decision_cases']} cases)"

    def restore_best(self, model: "nn.Module", last_step: int, log: Callable[[str], None]) -> bool:
        """With keep_best, put the best evaluation's weights back (True when they differ from the last)."""
        self.kept = self.rows[-1] if self.rows else None
        if self.best is None:
            return False
        value, step, weights = self.best
        self.kept = next((r for r in self.rows if r["step"] == step), self.kept)
        if step == last_step:
            return False
        model.update(tree_unflatten(list(weights.items())))
        mx.eval(model.parameters())
        shown = -value if self.cfg.keep_best == "val_loss" else value
        log(f"keep_best: the adapter holds the weights of step {step} ({self.cfg.keep_best} {shown:.4f})")
        return True

    def finish(self, model: "nn.Module", run_dir: Path, log: Callable[[str], None]) -> None:
        """One line comparing the saved weights' decision with the base's, and the calibration if asked."""
        base = self.rows[0] if self.rows and self.rows[0]["step"] == 0 else None
        end = self.kept or (self.rows[-1] if self.rows else None)
        if base is not None and end is not None and end is not base:
            b, e = base.get("decision_auc"), end.get("decision_auc")
            if b is not None and e is not None:
                line = (
                    f"decision on {end['decision_cases']} validation records: AUC {b:.3f} (base) -> {e:.3f}, "
                    f"balanced accuracy {100 * (base['decision_balanced_accuracy'] or 0):.1f}% -> "
                    f"{100 * (end['decision_balanced_accuracy'] or 0):.1f}%"
                )
                if e < b:
                    line = f"[yellow]warning:[/] {line}: this run ranks tool questions WORSE than its base model"
                log(line)
        if self.cfg.calibrate:
            try:
                prompts, positive = self.calibration_set
                cal = fit(
                    self._firsts(model, prompts),
                    positive,
                    model=self.cfg.model,
                    adapter=str(run_dir),
                    fitted_on=self.source,
                )
            except InputError as e:
                log(f"[yellow]warning:[/] no calibration: {e}")
                return
            path = cal.save(run_dir)
            self.bias = cal.bias
            f = cal.figures
            log(
                f"calibration: opener bias {cal.bias:+.3f}, balanced accuracy {100 * (f['balanced_accuracy'] or 0):.1f}% "
                f"raw -> {100 * (f['balanced_accuracy_calibrated'] or 0):.1f}% on the validation records it was "
                f"fitted on ({path.name})"
            )

    def summary(self) -> dict[str, Any]:
        base = self.rows[0] if self.rows and self.rows[0]["step"] == 0 else None
        end = self.kept or (self.rows[-1] if self.rows else None)
        return {
            "cases": len(self.prompts),
            "base_auc": base and base["decision_auc"],
            "base_balanced_accuracy": base and base["decision_balanced_accuracy"],
            "auc": end and end["decision_auc"],
            "balanced_accuracy": end and end["decision_balanced_accuracy"],
            "step": end and end["step"],
            "keep_best": self.cfg.keep_best,
            "calibration_bias": self.bias,
        }
