"""The unseen-tool suites, generated from the held-out tool catalogue and written to data/bench/.

They measure judgement that has to transfer: every tool a case offers comes from the held-out
catalogue, whose tool and parameter names no training record may use (the validator's
`bench-tool` rule and `catalogue.check_disjoint` enforce it). Three suites:

- `unseen_tools`: a fitting tool is offered (call it, with the right arguments) or the question is
  a hard negative of the same domain: answerable from knowledge (answer) or out of every tool's
  reach (say so);
- `clarify`: the fitting tool is offered but a required argument is missing (ask for it);
- `refuse`: the question needs a tool that is not offered, though its domain's others are.

The files are generated, committed and checked: `python -m mlx_distill.bench.slices data/bench`
rewrites them, and a test proves the committed files equal a fresh generation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..catalogue import Item, items, load_catalogue
from ..io import write_jsonl

HELDOUT_SEED = 1000  # training draws from the `train` catalogue; any seed there is disjoint by name

SLICES: dict[str, dict[str, int]] = {
    "unseen_tools": {"call": 20, "near_miss": 10, "out_of_reach": 10},
    "clarify": {"clarify": 10},
    "refuse": {"missing_tool": 10},
}


def case_of(item: Item, suite: str) -> dict[str, Any]:
    """A catalogue item as a suite line (the `Case` format, scoring "catalogue")."""
    answer: dict[str, Any] = {"type": "catalogue"}
    if item.call:
        answer.update(target_tool=item.call.name, arguments=item.call.arguments)
    elif item.extra.get("target_tool"):
        answer["target_tool"] = item.extra["target_tool"]
    if item.extra.get("absent_tool"):
        answer["absent_tool"] = item.extra["absent_tool"]
    return {
        "id": item.id,
        "question": item.question,
        "label": item.label,
        "category": f"{item.kind}",
        "functions": item.tools,
        "scoring": "catalogue",
        "answer": answer,
        "suite": suite,
    }


def slice_cases(name: str, *, seed: int = HELDOUT_SEED) -> list[dict[str, Any]]:
    cat = load_catalogue("heldout")
    return [case_of(it, name) for it in items(cat, SLICES[name], seed=seed, prefix=name.replace("_", "-"))]


def write_slices(out_dir: str | os.PathLike) -> list[Path]:
    """Every unseen-tool suite as `<out_dir>/<name>.jsonl`."""
    return [write_jsonl(Path(out_dir) / f"{name}.jsonl", slice_cases(name)) for name in SLICES]


if __name__ == "__main__":
    for path in write_slices(sys.argv[1] if len(sys.argv) > 1 else "data/bench"):
        print(path)
