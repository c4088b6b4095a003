"""The `catalogue` source: training records on tool sets the agent's workspace never offers.

Each record offers 1 to 10 tools drawn from the training tool catalogue (`mlx_distill.catalogue`,
never the held-out one) and teaches one judgement: call the fitting tool with the arguments the
question gives, then answer from its result; answer directly when knowledge is enough, even next
to tools of the same domain; ask for a missing required argument; and say so when no offered tool
can do what is needed. Call records come in relevance pairs: the same question once with its tool
and once without it, so the decision has to depend on what is offered. Optional augmentations
(`irrelevance`, `mask`; meta.augment names them) add irrelevance twins and mask tool names.

The tool results are the tool's realistic JSON result for those arguments, and the final answer
is read from it; the system prompt is the agent's own, so training and runtime prompts match.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from ...catalogue import KINDS, Item, items, load_catalogue, result_text, without_fitting_tool
from ...catalogue.augment import irrelevant, masked
from ...schema import Record, build_record
from ..ids import stable_id
from .registry import SourceRun, source

SOURCE = "catalogue"
DEFAULT_COUNTS = {"call": 60, "near_miss": 30, "unrelated": 20, "out_of_reach": 20, "clarify": 30}


def item_messages(item: Item, system_prompt: str) -> list[dict[str, Any]]:
    """The conversation a good assistant has for `item`."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system_prompt},
                                  {"role": "user", "content": item.question}]
    if item.call:
        msgs += [{"role": "assistant", "content": "", "tool_calls": [item.call.to_json()]},
                 {"role": "tool", "name": item.call.name, "content": result_text(item.result or {})}]
    msgs.append({"role": "assistant", "content": item.reply})
    return msgs


def augment_of(item: Item) -> str | None:
    """meta.augment: the augmentations that made the record (`irrelevance`, `masked`, or both joined by +)."""
    parts = ["irrelevance"] * (item.kind == "irrelevance") + ["masked"] * bool(item.extra.get("masked"))
    return "+".join(parts) or None


def to_record(item: Item, system_prompt: str) -> Record:
    return build_record(item_messages(item, system_prompt), item.tools,
                        id=stable_id(SOURCE, item.kind, item.question, [t["function"]["name"] for t in item.tools]),
                        source=SOURCE, category=f"catalogue_{item.kind}", label=item.label, domain=item.domain,
                        augment=augment_of(item))


def generate_catalogue(catalogue: str = "train", *, seed: int = 0, counts: dict[str, int] | None = None,
                       pairs: float = 0.5, max_tools: int = 10, irrelevance: float = 0.0, mask: float = 0.0,
                       system_prompt: str | None = None) -> list[Record]:
    """Records of every kind in `counts` (default DEFAULT_COUNTS) plus, for a `pairs` share of the
    call items, their relevance twin without the fitting tool (kind missing_tool); then irrelevance
    twins (the same call or near-miss question next to other domains' tools only) until they are an
    `irrelevance` share of the records; then a `mask` share of all records with their tool and
    parameter names masked (`catalogue.augment`)."""
    from ...prompting import DEFAULT_SYSTEM_PROMPT

    cat = load_catalogue(catalogue)
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    unknown = sorted(set(counts) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown catalogue kind(s) {unknown} (known: {', '.join(KINDS)})")
    if not 0 <= irrelevance < 1 or not 0 <= mask <= 1:
        raise ValueError(f"irrelevance must be in [0, 1) and mask in [0, 1] (got {irrelevance}, {mask})")
    drawn = items(cat, counts, seed=seed, prefix=f"catalogue-{seed}", max_tools=max_tools)
    rng = random.Random(f"mlx-distill-catalogue-pairs:{seed}")
    calls = [it for it in drawn if it.kind == "call"]
    twins = [without_fitting_tool(cat, it, rng, id=f"{it.id}-twin") for it in calls[:int(len(calls) * pairs)]]
    out = drawn + twins
    if irrelevance:
        rng = random.Random(f"mlx-distill-catalogue-irrelevance:{seed}")
        eligible = [it for it in drawn if it.kind in ("call", "near_miss")]
        rng.shuffle(eligible)
        wanted = min(len(eligible), round(irrelevance * len(out) / (1 - irrelevance)))
        out += [irrelevant(cat, it, rng, id=f"{it.id}-irrelevant") for it in eligible[:wanted]]
    if mask:
        rng = random.Random(f"mlx-distill-catalogue-mask:{seed}")
        chosen = set(rng.sample(range(len(out)), round(mask * len(out))))
        out = [masked(it, rng) if i in chosen else it for i, it in enumerate(out)]
    system = system_prompt or DEFAULT_SYSTEM_PROMPT
    return [to_record(it, system) for it in out]


@source("catalogue")
def read_catalogue(spec: Any, run: SourceRun) -> list[Any]:
    recs = generate_catalogue(spec.catalogue, seed=run.seed, counts=spec.counts, pairs=spec.pairs,
                              max_tools=spec.max_tools, irrelevance=spec.irrelevance, mask=spec.mask)
    run.info["catalogue"] = spec.catalogue
    augmented = Counter(a for r in recs for a in (getattr(r.meta, "augment", None) or "").split("+") if a)
    if augmented:
        run.info["augment"] = dict(sorted(augmented.items()))
    return run.located(recs)
