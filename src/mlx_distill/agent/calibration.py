"""Calibrating the call-or-not decision: one bias on the logit of the tool-call opener token.

A small student can rank questions well (tool questions get a higher opener probability than the others)
and still never open a call, or open one every time: its threshold is off, not its judgement. Under greedy
decoding the reply opens a call iff the opener's logit beats every other token's, i.e. iff
`margin + bias >= 0` (`probe.FirstToken.margin`). `fit_bias` picks the bias that maximises balanced
accuracy on labelled prompts (the validation split); `OpenerBias` adds it to the first reply token's
logits at inference. The fitted value lives in `decision_calibration.json`, beside an adapter's
`adapters.safetensors` (plain mlx-lm reads only its own two files there) or anywhere for a base model.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import InputError
from ..io import atomic_write_text
from .probe import FirstToken

CALIBRATION_FILE = "decision_calibration.json"
NO_CALIBRATION = "none"


# -- figures of a set of first-token decisions ----------------------------------------------------------


def roc_auc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count half): the
    Mann-Whitney U over both classes. None with one class only."""
    n_pos = sum(1 for p in positive if p)
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):  # average ranks over runs of tied scores
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        rank_sum += mean_rank * sum(1 for k in order[i : j + 1] if positive[k])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def balanced_accuracy_at(margins: Sequence[float], positive: Sequence[bool], bias: float = 0.0) -> float | None:
    """Mean of tool recall and no-call recall when a call is made iff margin + bias >= 0."""
    pos = [m for m, p in zip(margins, positive) if p]
    neg = [m for m, p in zip(margins, positive) if not p]
    recalls = [sum(m + bias >= 0 for m in pos) / len(pos)] if pos else []
    recalls += [sum(m + bias < 0 for m in neg) / len(neg)] if neg else []
    return sum(recalls) / len(recalls) if recalls else None


def fit_bias(margins: Sequence[float], positive: Sequence[bool]) -> float:
    """The bias maximising balanced accuracy, halfway between the two margins it separates (of equal
    best biases, the one nearest 0: the smallest change to the model). Needs both classes."""
    n_pos = sum(1 for p in positive if p)
    if not n_pos or n_pos == len(positive):
        only = "tool" if n_pos else "no-call"
        raise InputError(
            f"calibration needs both tool and no-call cases; all {len(positive)} are {only}", rule="calibration"
        )
    cuts = sorted(set(margins))
    candidates = [-(cuts[0] - 1.0)] + [-(a + b) / 2 for a, b in zip(cuts, cuts[1:])] + [-(cuts[-1] + 1.0)]
    return max(candidates, key=lambda b: (balanced_accuracy_at(margins, positive, b) or 0.0, -abs(b)))


def decision_figures(
    firsts: Sequence[FirstToken], positive: Sequence[bool], bias: float | None = None
) -> dict[str, Any]:
    """AUC of the call probability, balanced accuracy of the raw decision and (with a bias) of the
    calibrated one, and how many cases of each class: what the trainer logs at each evaluation."""
    margins = [f.margin for f in firsts]
    out: dict[str, Any] = {
        "cases": len(firsts),
        "tool_cases": sum(1 for p in positive if p),
        "auc": roc_auc([f.p_call for f in firsts], positive),
        "balanced_accuracy": balanced_accuracy_at(margins, positive),
        "p_call_tool": _mean([f.p_call for f, p in zip(firsts, positive) if p]),
        "p_call_other": _mean([f.p_call for f, p in zip(firsts, positive) if not p]),
    }
    if bias is not None:
        out["bias"] = bias
        out["balanced_accuracy_calibrated"] = balanced_accuracy_at(margins, positive, bias)
    return out


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# -- prompts of labelled training records --------------------------------------------------------------


def record_prompts(records: Iterable[dict[str, Any]], tokenizer: Any) -> tuple[list[list[int]], list[bool]]:
    """(prompt ids, whether a call is wanted) of each record of a data split: its messages before the first
    assistant turn, rendered for generation with its tools; the label is `meta.label`. Records without a
    label or without an assistant turn are left out."""
    from ..prompting import as_message_dicts, render

    prompts, positive = [], []
    for rec in records:
        label = (rec.get("meta") or {}).get("label")
        msgs = as_message_dicts(rec.get("messages") or [])
        first = next((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), None)
        if label is None or not first:
            continue
        text = render(msgs[:first], rec.get("tools"), tokenizer, add_generation_prompt=True)
        prompts.append(list(tokenizer.encode(text, add_special_tokens=False)))
        positive.append(label == "tool")
    return prompts, positive


def read_labelled(path: str | os.PathLike, tokenizer: Any) -> tuple[list[list[int]], list[bool]]:
    """`record_prompts` of a JSONL split (data/mlx_format/valid.jsonl)."""
    from ..io import read_jsonl

    prompts, positive = record_prompts((obj for _, obj in read_jsonl(path)), tokenizer)
    if not prompts:
        raise InputError("no labelled records (meta.label) with an assistant turn", path=path, rule="calibration")
    return prompts, positive


# -- the saved calibration and applying it --------------------------------------------------------------


@dataclass
class DecisionCalibration:
    """A bias on the opener token's logit, and where it came from."""

    bias: float
    opener: str = "<tool_call>"
    model: str = ""
    adapter: str | None = None
    fitted_on: str = ""
    figures: dict[str, Any] = field(default_factory=dict)  # raw and calibrated, on the cases it was fitted on
    source: str = ""  # the file it was read from (not saved)

    @property
    def label(self) -> str:
        """How reports name it."""
        return f"calibrated {self.bias:+.2f}"

    def save(self, path: str | os.PathLike) -> Path:
        """Write to `path` (a directory gets decision_calibration.json)."""
        p = Path(path)
        if p.is_dir():
            p = p / CALIBRATION_FILE
        data = {k: v for k, v in asdict(self).items() if k != "source"}
        return atomic_write_text(p, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DecisionCalibration":
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / CALIBRATION_FILE
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            cal = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "source"})
            cal.bias = float(cal.bias)
        except FileNotFoundError:
            raise InputError("calibration file not found", path=p, rule="calibration") from None
        except (ValueError, TypeError) as e:
            raise InputError(f"not a decision calibration: {e}", path=p, rule="calibration") from None
        cal.source = str(p)
        return cal


def resolve_calibration(
    calibration: "str | os.PathLike | DecisionCalibration | None", adapter_path: str | os.PathLike | None
) -> DecisionCalibration | None:
    """None: the adapter directory's calibration when it has one; "none": raw; a path: that file."""
    if isinstance(calibration, DecisionCalibration):
        return calibration
    if calibration is None:
        if adapter_path and (Path(adapter_path).expanduser() / CALIBRATION_FILE).is_file():
            return DecisionCalibration.load(Path(adapter_path).expanduser() / CALIBRATION_FILE)
        return None
    if str(calibration).lower() == NO_CALIBRATION:
        return None
    return DecisionCalibration.load(calibration)


class OpenerBias:
    """An mlx-lm logits processor adding `bias` to the opener token's logit for the reply's first token
    only: it moves the call-or-not threshold and leaves the rest of the reply alone."""

    def __init__(self, opener_id: int, bias: float):
        self.opener_id, self.bias = opener_id, float(bias)
        self.calls = 0

    def __call__(self, _tokens: Any, logits: Any) -> Any:
        self.calls += 1
        if self.calls > 1 or not self.bias:
            return logits
        import mlx.core as mx

        hot = mx.arange(logits.shape[-1]) == self.opener_id
        return logits + mx.where(hot, mx.array(self.bias, dtype=logits.dtype), mx.array(0.0, dtype=logits.dtype))


def fit(
    firsts: Sequence[FirstToken],
    positive: Sequence[bool],
    *,
    model: str = "",
    adapter: str | None = None,
    fitted_on: str = "",
) -> DecisionCalibration:
    """The calibration of these first-token decisions, with the raw and calibrated figures it gives them."""
    bias = fit_bias([f.margin for f in firsts], positive)
    figures = decision_figures(firsts, positive, bias)
    return DecisionCalibration(bias=bias, model=model, adapter=adapter, fitted_on=fitted_on, figures=figures)


def calibrate(
    model: str,
    data: str | os.PathLike,
    *,
    adapter_path: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    batch_size: int = 8,
) -> tuple[DecisionCalibration, Path]:
    """Fit the bias of `model` (+ adapter) on a labelled split and save it: by default in the adapter's
    directory (where the agent picks it up), for a base model at `out`."""
    from ..models import load_model
    from .probe import first_tokens, opener_id

    if out is None and adapter_path is None:
        raise InputError("a base model's calibration needs a file to go to (--out PATH)", rule="calibration")
    mdl, tokenizer = load_model(model, adapter_path)
    prompts, positive = read_labelled(data, tokenizer)
    firsts = first_tokens(mdl, opener_id(tokenizer), prompts, batch_size=batch_size)
    adapter = str(adapter_path) if adapter_path else None
    cal = fit(firsts, positive, model=model, adapter=adapter, fitted_on=str(data))
    return cal, cal.save(out if out is not None else Path(str(adapter_path)))
