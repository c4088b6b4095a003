"""Augmentations of catalogue items that make the call-or-not decision depend on what the tools
*do*, not on what they are called or on which tool set is usual.

- `masked`: every offered tool and parameter name is replaced by a meaningless identifier
  (`fn_3k9q`, `arg_x7`), descriptions kept, the expected call renamed to match: a student can only
  pick the tool, or see that none fits, by reading the descriptions (function masking, as in
  Hammer's recipe).
- `irrelevant`: the same question next to tools of other domains only, so no offered tool is even
  related: a call question becomes a refusal, a knowledge question stays a direct answer
  (irrelevance augmentation). `without_fitting_tool` is the harder twin that keeps the domain's
  other tools.
"""

from __future__ import annotations

import random
import string
from dataclasses import replace
from typing import Any

from ..schema import ToolCall
from . import Catalogue, Item, _offered

_ALPHABET = string.ascii_lowercase + string.digits


def _identifier(prefix: str, length: int, rng: random.Random, taken: set[str]) -> str:
    """A fresh `prefix_xxxx` name (a letter first, so it is a valid identifier everywhere)."""
    while True:
        name = prefix + rng.choice(string.ascii_lowercase) + "".join(rng.choices(_ALPHABET, k=length - 1))
        if name not in taken:
            taken.add(name)
            return name


def _masked_schema(schema: dict[str, Any], name: str, params: dict[str, str]) -> dict[str, Any]:
    fn = schema["function"]
    body = fn.get("parameters") or {}
    masked_params = {
        **body,
        "properties": {params[p]: spec for p, spec in (body.get("properties") or {}).items()},
        "required": [params[p] for p in body.get("required") or []],
    }
    return {**schema, "function": {**fn, "name": name, "parameters": masked_params}}


def masked(item: Item, rng: random.Random) -> Item:
    """`item` with every tool and parameter name replaced by a meaningless identifier, consistently
    in the schemas, the expected call and the item's notes; descriptions unchanged."""
    taken: set[str] = set()
    names: dict[str, str] = {}
    params: dict[str, dict[str, str]] = {}
    for schema in item.tools:
        original = schema["function"]["name"]
        names[original] = _identifier("fn_", 4, rng, taken)
        props = schema["function"].get("parameters", {}).get("properties") or {}
        arg_taken: set[str] = set()
        params[original] = {p: _identifier("arg_", 2, rng, arg_taken) for p in props}
    tools = [_masked_schema(s, names[s["function"]["name"]], params[s["function"]["name"]]) for s in item.tools]
    call = None
    if item.call is not None:
        renamed = params[item.call.name]
        call = ToolCall.of(names[item.call.name], {renamed[k]: v for k, v in item.call.arguments.items()})
    extra = {k: names.get(v, v) if k in ("target_tool", "absent_tool") else v for k, v in item.extra.items()}
    if "missing" in extra and item.extra.get("target_tool") in params:
        extra["missing"] = [params[item.extra["target_tool"]][p] for p in extra["missing"]]
    return replace(item, id=f"{item.id}-masked", tools=tools, call=call, extra={**extra, "masked": True})


def irrelevant(cat: Catalogue, item: Item, rng: random.Random, *, id: str) -> Item:
    """The same question offered only tools of other domains: a call item becomes a refusal that
    says no offered tool can do it; a knowledge question keeps its direct answer."""
    domain = next(d for d in cat.domains if d.domain == item.domain)
    own = {t.name for t in domain.tools}
    tools = _offered(cat, rng, [], own, max(1, len(item.tools)))
    if item.call is None:
        return replace(item, id=id, kind="irrelevance", tools=tools, extra={**item.extra, "irrelevant_to": item.kind})
    tool = next(t for t in domain.tools if t.name == item.call.name)
    reply = f"None of the tools I have here can {tool.purpose}, so I can't answer that. With a tool that can, I would."
    return Item(
        id,
        "irrelevance",
        "refuse",
        item.domain,
        item.question,
        tools,
        reply=reply,
        extra={"absent_tool": tool.name, "irrelevant_to": item.kind},
    )
