"""The Berkeley Function Calling Leaderboard's files: items `{id, question, function}` and, in
`possible_answer/`, `{id, ground_truth}` where each call is `{function name: {param: [acceptable
values]}}`. The data converter (`data convert bfcl`) and the benchmark (`bfcl:<category>` suites)
both read them here: the same question, the same tools, the same answers."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError
from .conversion import Context, Converted, call, refusal_text, text_of, tools_of

# Categories that need an executable environment: neither converted nor benchmarked.
UNSUPPORTED = ("multi_turn", "memory", "web_search", "format_sensitivity")


def category_of(item_id: str) -> str:
    """'live_multiple_3-2-1' -> 'live_multiple', 'simple_python_12' -> 'simple_python'."""
    return re.sub(r"_\d+(?:-\d+)*$", "", item_id)


def category_of_file(path: str | os.PathLike) -> str:
    """'BFCL_v3_simple_python.json' -> 'simple_python'."""
    return re.sub(r"^BFCL_v\d+_", "", Path(path).stem)


def data_dir() -> Path:
    """The data directory of the installed bfcl-eval package (its data ships in the wheel)."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "BFCL suites need the bfcl-eval package: pip install 'mlx-distill[bfcl]' "
            "(or pip install --no-deps bfcl-eval: only its data is used)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def data_file(data: Path, stem: str) -> Path:
    """The newest `BFCL_v<N>_<stem>.json` in `data`."""
    pattern = re.compile(rf"^BFCL_v(\d+)_{re.escape(stem)}\.json$")
    found = sorted((int(m.group(1)), p) for p in data.glob("BFCL_v*.json") if (m := pattern.match(p.name)))
    if found:
        return found[-1][1]
    raise InputError(f"bfcl-eval has no data file for {stem!r} in {data}", rule="suite")


def answers_by_id(items: Iterable[Any]) -> dict[str, Any]:
    """Possible-answer items -> {item id: ground truth}."""
    return {str(obj["id"]): obj.get("ground_truth") for obj in items if isinstance(obj, dict) and "id" in obj}


def flatten(question: Any) -> list[Any]:
    """BFCL's `question` is a list of turns, each a list of messages (single-turn categories have one)."""
    if not isinstance(question, list):
        return []
    return [m for t in question for m in (t if isinstance(t, list) else [t])]


def question_messages(flat: list[Any]) -> list[dict[str, str]]:
    """The flattened question as {role, content} messages; ValueError when one is not a message."""
    out = []
    for m in flat:
        if not isinstance(m, dict) or m.get("role") not in ("user", "system", "assistant"):
            raise ValueError("a question message is not {role, content}")
        out.append({"role": m["role"], "content": text_of(m.get("content"))})
    return out


def question_text(question: Any) -> str:
    """The question as one string, as the benchmark asks it: system text as a preamble, then the user's."""
    messages = question_messages(flatten(question))
    return "\n\n".join(
        [m["content"] for m in messages if m["role"] == "system"]
        + [m["content"] for m in messages if m["role"] == "user"]
    )


def _choose(options: Any) -> tuple[bool, Any]:
    """(present, value) from a BFCL list of acceptable values: omitted when "" or None is acceptable (the
    parameter may be left out), else the first value. Dicts, also inside a chosen list, hold option lists."""
    if not isinstance(options, list):
        return True, options
    if any(v == "" or v is None for v in options):
        return False, None
    for v in options:
        return True, _resolve(v)
    return False, None


def _resolve(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: val for k, (present, val) in ((k, _choose(o)) for k, o in v.items()) if present}
    if isinstance(v, list):
        return [_resolve(x) if isinstance(x, dict) else x for x in v]
    return v


def _calls(truth: Any, ctx: Context) -> list[dict[str, Any]]:
    """One call per ground-truth entry, each argument its first acceptable value."""
    if not isinstance(truth, list) or not truth:
        raise ctx.error("ground truth must be a non-empty list of calls", "bad-arguments")
    calls = []
    for entry in truth:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ctx.error("each ground-truth entry must be {function_name: {param: [options]}}", "bad-arguments")
        ((name, params),) = entry.items()
        if not isinstance(params, dict):
            raise ctx.error(f"ground truth of {name!r} is not an object", "bad-arguments")
        args = {}
        for k, options in params.items():
            present, value = _choose(options)
            if present:
                args[k] = value
        calls.append(call(ctx, name, args))
    return calls


def convert(obj: Any, ctx: Context) -> Converted:
    """A BFCL item as a record: irrelevance items are refusals, the others call the first possible answer."""
    if not isinstance(obj, dict) or "question" not in obj:
        raise ctx.error("expected an object with 'id', 'question' and 'function'")
    item_id = str(obj.get("id", ""))
    category = category_of(item_id) if item_id else (ctx.bfcl_category or "bfcl")
    if any(category.startswith(u) for u in UNSUPPORTED) or "function" not in obj:
        raise ctx.error(
            f"BFCL category {category!r} is not supported (multi-turn, memory and web-search "
            "items need an executable environment)",
            "unsupported",
        )
    flat = flatten(obj["question"])
    if not flat:
        raise ctx.error("'question' has no messages")
    tools = tools_of(ctx, obj.get("function"))
    try:
        question = question_messages(flat)
    except ValueError as e:
        raise ctx.error(str(e)) from None
    system = next((m["content"] for m in reversed(question) if m["role"] == "system"), None)
    messages: list[dict[str, Any]] = [m for m in question if m["role"] != "system"]
    sid = item_id or None
    if "irrelevance" in category:
        messages.append({"role": "assistant", "content": refusal_text(tools)})
        return Converted(messages, tools, system=system, source_id=sid, label="refuse", category=category)
    truth = ctx.answers.get(item_id)
    if truth is None:
        truth = obj.get("ground_truth")
    if truth is None:
        raise ctx.error(f"no ground truth for {item_id!r} (pass the possible_answer file)", "no-answer")
    messages.append({"role": "assistant", "content": "", "tool_calls": _calls(truth, ctx)})
    return Converted(messages, tools, system=system, source_id=sid, category=category)
