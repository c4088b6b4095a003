"""The unseen-tool suites, generated from the held-out tool catalogue and written to data/bench/.

They measure judgement that has to transfer: every tool a case offers comes from the held-out
catalogue, whose tool and parameter names no training record may use (the validator's
`bench-tool` rule and `catalogue.check_disjoint` enforce it). Three suites:

- `unseen_tools`: a fitting tool is offered (call it, with the right arguments) or the question is
  a hard negative of the same domain: answerable from knowledge (answer) or out of every tool's
  reach (say so);
- `clarify`: the fitting tool is offered but a required argument is missing (ask for it);
- `refuse`: the question needs a tool that is not offered, though its domain's others are.

`unseen_tools` is large enough to measure the call-or-not decision (at least 200 cases a side,
all four When2Call classes): its first 40 cases are its first draw, from the catalogue's first ten
domains, so their ids and contents stay what earlier results refer to; the rest (`GROWTH`) come
from the whole catalogue with another seed and never repeat a question of any suite. The growth
offers one tool set per domain (`shared_tool_sets`), as a user asks many questions of one set of
tools: a decision evaluation then computes each set once, not once a question.

The files are generated, committed and checked: `python -m mlx_distill.bench.unseen_suites data/bench`
rewrites them, and a test proves the committed files equal a fresh generation.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..catalogue import Catalogue, Item, items, load_catalogue
from ..io import write_jsonl

HELDOUT_SEED = 1000  # training draws from the `train` catalogue; any seed there is disjoint by name
GROWTH_SEED = 1001
FIRST_DOMAINS = 10  # the held-out catalogue's domains when the suites were first drawn

# the suites this module writes, each with its first draw's cases per kind
FIRST_DRAW: dict[str, dict[str, int]] = {
    "unseen_tools": {"call": 20, "near_miss": 10, "out_of_reach": 10},
    "clarify": {"clarify": 10},
    "refuse": {"missing_tool": 10},
}
# drawn after FIRST_DRAW, from the whole catalogue: call 200 vs no call 200 in all
GROWTH: dict[str, dict[str, int]] = {
    "unseen_tools": {"call": 180, "near_miss": 40, "out_of_reach": 25, "missing_tool": 70, "clarify": 45},
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


SHARED_DISTRACTORS = 2  # tools of other domains beside each domain's own in a shared tool set


def shared_tool_sets(drawn: list[Item], cat: Catalogue, *, seed: int) -> list[Item]:
    """The items with one tool set per domain: the domain's tools and SHARED_DISTRACTORS tools of
    other domains, in a seeded order; a missing-tool question gets that set without its absent tool.
    Questions, labels and answers are unchanged. Eight or so questions share each set, so the
    decision-only evaluation, which computes a shared prompt prefix once, pays for each set once
    instead of once a question (the prompt is mostly tool schemas)."""
    sets: dict[str, list[dict[str, Any]]] = {}
    for d in cat.domains:
        rng = random.Random(f"mlx-distill-shared-tools:{cat.name}:{seed}:{d.domain}")
        others = [t for o in cat.domains if o.domain != d.domain for t in o.tools]
        chosen = list(d.tools) + rng.sample(others, SHARED_DISTRACTORS)
        rng.shuffle(chosen)
        sets[d.domain] = [t.schema() for t in chosen]
    out = []
    for it in drawn:
        absent = it.extra.get("absent_tool")
        tools = [t for t in sets[it.domain] if t["function"]["name"] != absent]
        out.append(replace(it, tools=tools))
    return out


def _prefix(name: str) -> str:
    return name.replace("_", "-")


def _first_items(name: str, cat: Catalogue) -> list[Item]:
    first = Catalogue(cat.name, cat.domains[:FIRST_DOMAINS], cat.source)
    return items(first, FIRST_DRAW[name], seed=HELDOUT_SEED, prefix=_prefix(name))


def suite_cases(name: str) -> list[dict[str, Any]]:
    """The suite `name`: its first draw, then its growth (no question another suite asks)."""
    cat = load_catalogue("heldout")
    drawn = _first_items(name, cat)
    if name in GROWTH:
        asked = frozenset(it.question for other in FIRST_DRAW for it in _first_items(other, cat))
        start = {kind: FIRST_DRAW[name].get(kind, 0) + 1 for kind in GROWTH[name]}
        grown = items(cat, GROWTH[name], seed=GROWTH_SEED, prefix=_prefix(name), exclude=asked, first=start)
        drawn += shared_tool_sets(grown, cat, seed=GROWTH_SEED)
    return [case_of(it, name) for it in drawn]


def write_suites(out_dir: str | os.PathLike) -> list[Path]:
    """Every unseen-tool suite as `<out_dir>/<name>.jsonl`."""
    return [write_jsonl(Path(out_dir) / f"{name}.jsonl", suite_cases(name)) for name in FIRST_DRAW]


if __name__ == "__main__":
    for path in write_suites(sys.argv[1] if len(sys.argv) > 1 else "data/bench"):
        print(path)
