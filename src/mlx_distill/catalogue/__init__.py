"""Tool catalogues: families of realistic tools (weather, calendar, currency, ...) with the
questions each tool answers, the questions it cannot, and what a good assistant says to each.

They exist to teach and to measure judgement that transfers: call a tool when an *offered* tool
fits the question, answer directly when knowledge is enough, ask when a required argument is
missing, and say so when no offered tool can give what is needed. Two catalogues ship:

- `train`: domains, tool names and parameter names used for training data (`catalogue` source);
- `heldout`: other domains, tool names and parameter names, used only by the benchmark's
  unseen-tool suites. `check_disjoint()` proves the two share no tool or parameter name, and the
  validator's leakage rule refuses a training record that offers a held-out tool.

A catalogue file is YAML (see `heldout.yaml` for the format). `generate(catalogue, kind, rng)`
draws one `Item`: a question, the tools offered (the fitting one and distractors from other
domains, 1 to 10 in all, shuffled), the gold label, and the expected call or reply.
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import read_yaml, validation_errors
from ..questions import question_tokens
from ..errors import InputError
from ..schema import ToolCall

CATALOGUE_DIR = Path(__file__).resolve().parent
CATALOGUES = ("train", "heldout")

# What a good assistant does with an item, and the label it carries (When2Call's four classes).
KINDS: dict[str, str] = {
    "call": "tool",  # an offered tool fits and the question gives every required argument
    "near_miss": "direct",  # same domain, a capability no offered tool has, answerable from knowledge
    "out_of_reach": "refuse",  # same domain, needs data no offered tool gives and no one knows
    "missing_tool": "refuse",  # a call question whose fitting tool is not offered (its domain's others are)
    "clarify": "clarify",  # the fitting tool is offered but a required argument is missing
    "unrelated": "direct",  # a knowledge question next to tools of other domains only
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Param(_Strict):
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str = Field(min_length=1)
    values: list[Any] = Field(default_factory=list)  # what questions fill in; required params need some
    enum: list[str] | None = None
    required: bool = True


class Reply(_Strict):
    question: str = Field(min_length=1)
    reply: str = Field(min_length=1)


class Tool(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    description: str = Field(min_length=1)
    purpose: str = Field(min_length=1)  # a verb phrase: "look up the current weather"
    parameters: dict[str, Param]
    asks: list[str] = Field(min_length=2)  # questions it answers; {param} placeholders
    vague: list[Reply] = Field(min_length=1)  # the need with a required argument missing -> ask for it
    partial: list[Reply] = Field(default_factory=list)  # like vague, with {param} placeholders for what is given
    result: dict[str, Any]  # what the tool returns: {param}, {int:A:B}, {num:A:B}, {pick:a|b|c} fill in
    answer: str = Field(min_length=1)  # the final answer from the result's fields and the arguments

    @model_validator(mode="after")
    def _consistent(self) -> "Tool":
        required = [p for p, spec in self.parameters.items() if spec.required]
        for p in required:
            if not self.parameters[p].values:
                raise ValueError(f"tool {self.name}: required parameter {p!r} needs `values`")
        for q in self.asks:
            used = _fields(q)
            if missing := [p for p in required if p not in used]:
                raise ValueError(f"tool {self.name}: ask {q!r} lacks required parameter(s) {missing}")
            if unknown := sorted(set(used) - set(self.parameters)):
                raise ValueError(f"tool {self.name}: ask {q!r} uses unknown placeholder(s) {unknown}")
        for v in self.vague:
            if _fields(v.question) or _fields(v.reply):
                raise ValueError(f"tool {self.name}: a vague question takes no placeholders: {v.question!r}")
        for v in self.partial:
            given = _fields(v.question)
            if unknown := sorted(set(given) - set(self.parameters)):
                raise ValueError(f"tool {self.name}: partial {v.question!r} uses unknown placeholder(s) {unknown}")
            if not [p for p in required if p not in given]:
                raise ValueError(f"tool {self.name}: partial {v.question!r} gives every required parameter")
            if extra := sorted(set(_fields(v.reply)) - set(given)):
                raise ValueError(f"tool {self.name}: partial reply {v.reply!r} uses {extra}, not in its question")
        return self

    def schema(self) -> dict[str, Any]:  # type: ignore[override]  # shadows pydantic's deprecated v1 classmethod `schema`
        """The OpenAI-style tool schema the model is shown."""
        props: dict[str, Any] = {}
        for name, p in self.parameters.items():
            prop: dict[str, Any] = {"type": p.type, "description": p.description}
            if p.enum:
                prop["enum"] = list(p.enum)
            props[name] = prop
        params = {
            "type": "object",
            "properties": props,
            "required": [n for n, p in self.parameters.items() if p.required],
        }
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }


class Domain(_Strict):
    domain: str = Field(min_length=1)
    tools: list[Tool] = Field(min_length=1)
    near_misses: list[Reply] = Field(min_length=1)  # reply = the direct answer
    out_of_reach: list[Reply] = Field(min_length=1)  # reply = saying it cannot be looked up, and why


@dataclass
class Catalogue:
    name: str
    domains: list[Domain]
    source: str = ""

    @property
    def tools(self) -> list[Tool]:
        return [t for d in self.domains for t in d.tools]

    def tool_names(self) -> set[str]:
        return {t.name for t in self.tools}

    def parameter_names(self) -> set[str]:
        return {p for t in self.tools for p in t.parameters}

    def questions(self) -> list[str]:
        """Every question text the catalogue can ask (templates with their placeholders dropped)."""
        asks = [re.sub(r"\{[^}]*\}", " ", q) for t in self.tools for q in t.asks]
        vague = [re.sub(r"\{[^}]*\}", " ", v.question) for t in self.tools for v in t.vague + t.partial]
        replies = [r.question for d in self.domains for r in d.near_misses + d.out_of_reach]
        return asks + vague + replies


def _fields(text: str) -> list[str]:
    """Placeholder names in order of appearance (a list, not a set: draws must not depend on the
    interpreter's hash seed)."""
    return list(dict.fromkeys(f.split(":")[0] for _, f, _, _ in string.Formatter().parse(text) if f))


@lru_cache(maxsize=None)
def load_catalogue(name_or_path: str) -> Catalogue:
    """A shipped catalogue by name (`train`, `heldout`) or a YAML file of domains; errors name the
    file and the domain."""
    path = CATALOGUE_DIR / f"{name_or_path}.yaml" if name_or_path in CATALOGUES else Path(name_or_path)
    if not path.is_file():
        raise InputError(
            f"no catalogue {name_or_path!r} (shipped: {', '.join(CATALOGUES)})", path=path, rule="catalogue"
        )
    raw = read_yaml(path, rule="catalogue", top=list, what="a non-empty YAML list of domains")
    if not raw:
        raise InputError("a catalogue is a non-empty YAML list of domains", path=path, rule="catalogue")
    domains = []
    for i, obj in enumerate(raw):
        label = obj.get("domain", f"#{i + 1}") if isinstance(obj, dict) else f"#{i + 1}"
        try:
            domains.append(Domain.model_validate(obj))
        except ValidationError as e:
            raise InputError(f"domain {label}: {validation_errors(Domain, e)}", path=path, rule="catalogue") from None
    cat = Catalogue(name=path.stem, domains=domains, source=str(path))
    names = [t.name for t in cat.tools]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise InputError(f"tool name(s) defined twice: {dup}", path=path, rule="catalogue")
    return cat


def check_disjoint(train: Catalogue | None = None, heldout: Catalogue | None = None, *, threshold: float = 0.8) -> None:
    """Held-out tools must be unseen: no tool name, no parameter name and no question (word-set
    Jaccard similarity >= `threshold`, as the validator's bench-overlap rule) in common with training."""
    train = train or load_catalogue("train")
    heldout = heldout or load_catalogue("heldout")
    if shared := sorted(train.tool_names() & heldout.tool_names()):
        raise InputError(f"tool name(s) in both catalogues: {shared}", rule="catalogue-leak")
    if shared := sorted(train.parameter_names() & heldout.parameter_names()):
        raise InputError(f"parameter name(s) in both catalogues: {shared}", rule="catalogue-leak")
    held = [(q, question_tokens(q)) for q in heldout.questions()]
    for q in train.questions():
        words = question_tokens(q)
        for other, other_words in held:
            if words and len(words & other_words) / len(words | other_words) >= threshold:
                raise InputError(f"question in both catalogues: {q!r} ~ {other!r}", rule="catalogue-leak")


# -- items ------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One question with the tools offered and what a good assistant does with it."""

    id: str
    kind: str
    label: str
    domain: str
    question: str
    tools: list[dict[str, Any]]
    call: ToolCall | None = None  # for kind "call"
    result: dict[str, Any] | None = None  # what that call returns (training records)
    reply: str = ""  # the final answer (after the result, for calls) or the direct reply
    extra: dict[str, Any] = field(default_factory=dict)


def _fill_result(value: Any, args: dict[str, Any], rng: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _fill_result(v, args, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_result(v, args, rng) for v in value]
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\{(int|num):(-?[\d.]+):(-?[\d.]+)\}", value)
    if whole:
        lo, hi = float(whole.group(2)), float(whole.group(3))
        return rng.randint(int(lo), int(hi)) if whole.group(1) == "int" else round(rng.uniform(lo, hi), 2)
    if value.startswith("{pick:") and value.endswith("}"):
        return rng.choice(value[6:-1].split("|"))
    if re.fullmatch(r"\{\w+\}", value) and value[1:-1] in args:
        return args[value[1:-1]]
    return value.format_map(_Defaulting(args))


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _offered(cat: Catalogue, rng: random.Random, keep: list[Tool], exclude: set[str], size: int) -> list[dict]:
    """`keep` plus distractors from other domains (never a name in `exclude`), shuffled."""
    domains_of_keep = {d.domain for d in cat.domains for t in d.tools if t in keep}
    pool = [t for d in cat.domains if d.domain not in domains_of_keep for t in d.tools if t.name not in exclude]
    rng.shuffle(pool)
    tools = keep + pool[: max(0, size - len(keep))]
    rng.shuffle(tools)
    return [t.schema() for t in tools]


def generate(cat: Catalogue, kind: str, rng: random.Random, *, id: str, max_tools: int = 10) -> Item:
    """One item of `kind` (see KINDS) drawn from `cat`: 1..max_tools tools offered."""
    if kind not in KINDS:
        raise ValueError(f"unknown item kind {kind!r} (known: {', '.join(KINDS)})")
    domain = rng.choice(cat.domains)
    tool = rng.choice(domain.tools)
    size = rng.randint(1, max_tools)
    label = KINDS[kind]
    if kind == "call":
        template = rng.choice(tool.asks)
        args = {p: rng.choice(tool.parameters[p].values) for p in _fields(template)}
        question = template.format_map(args)
        result = _fill_result(tool.result, args, rng)
        reply = tool.answer.format_map(_Defaulting({**args, **result}))
        return Item(
            id,
            kind,
            label,
            domain.domain,
            question,
            _offered(cat, rng, [tool], set(), size),
            call=ToolCall.of(tool.name, args),
            result=result,
            reply=reply,
        )
    if kind == "missing_tool":
        return without_fitting_tool(cat, generate(cat, "call", rng, id=id, max_tools=max_tools), rng, id=id)
    if kind == "clarify":  # a vague need, or a partial one with the arguments it does give filled in
        v = rng.choice(tool.vague + tool.partial)
        given = {p: rng.choice(tool.parameters[p].values) for p in _fields(v.question)}
        missing = [p for p, spec in tool.parameters.items() if spec.required and p not in given]
        return Item(
            id,
            kind,
            label,
            domain.domain,
            v.question.format_map(given),
            _offered(cat, rng, [tool], set(), size),
            reply=v.reply.format_map(given),
            extra={"target_tool": tool.name, "missing": missing},
        )
    pick = rng.choice(domain.near_misses if kind in ("near_miss", "unrelated") else domain.out_of_reach)
    if kind == "unrelated":
        tools = _offered(cat, rng, [], {t.name for t in domain.tools}, size)
    else:
        tools = _offered(cat, rng, list(domain.tools), set(), size)
    return Item(id, kind, label, domain.domain, pick.question, tools, reply=pick.reply)


def without_fitting_tool(cat: Catalogue, item: Item, rng: random.Random, *, id: str) -> Item:
    """The relevance twin of a call item: the same question with the fitting tool taken away (its
    domain's other tools stay), so the right reply is to say no offered tool can do it."""
    assert item.call is not None
    domain = next(d for d in cat.domains if d.domain == item.domain)
    tool = next(t for t in domain.tools if t.name == item.call.name)
    siblings = [t for t in domain.tools if t is not tool]
    tools = _offered(cat, rng, siblings, {tool.name}, max(len(item.tools), len(siblings) or 1))
    reply = f"None of the tools I have here can {tool.purpose}, so I can't answer that. With a tool that can, I would."
    return Item(
        id,
        "missing_tool",
        KINDS["missing_tool"],
        item.domain,
        item.question,
        tools,
        reply=reply,
        extra={"absent_tool": tool.name},
    )


def items(
    cat: Catalogue,
    counts: dict[str, int],
    *,
    seed: int,
    prefix: str,
    max_tools: int = 10,
    exclude: frozenset[str] = frozenset(),
    first: dict[str, int] | None = None,
) -> list[Item]:
    """`counts[kind]` items of each kind, deterministic in (catalogue, seed); no question repeats
    within a kind while the catalogue has unused ones, and none is in `exclude` (questions another
    suite already asks). Ids count from `first[kind]` (default 1)."""
    out: list[Item] = []
    for kind, n in counts.items():
        rng = random.Random(f"mlx-distill-catalogue:{cat.name}:{seed}:{kind}")
        seen: set[str] = set()
        start = (first or {}).get(kind, 1)
        tries = 0
        while len(seen) < n and tries < 50 * (n + 1):
            tries += 1
            it = generate(cat, kind, rng, id=f"{prefix}-{kind}-{start + len(seen):03d}", max_tools=max_tools)
            if it.question in seen or it.question in exclude:
                continue
            seen.add(it.question)
            out.append(it)
    return out


def result_text(result: dict[str, Any]) -> str:
    """A tool result as the model sees it (compact JSON, as an API would return it)."""
    return json.dumps(result, ensure_ascii=False)
