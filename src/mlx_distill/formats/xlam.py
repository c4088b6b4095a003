"""xLAM function-calling-60k: `query`, and `tools` and `answers` as JSON strings. An empty answer
list means no offered tool fits: the record is a refusal."""

from __future__ import annotations

import json
from typing import Any

from .conversion import Context, Converted, call, refusal_text, source_id, tools_of


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict) or "query" not in obj:
        raise ctx.error("expected an object with 'query', 'tools' and 'answers'")
    tools = tools_of(ctx, obj.get("tools"))
    raw = obj.get("answers", "[]")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as e:
            raise ctx.error(f"'answers' is not valid JSON ({e.msg} at column {e.colno})", "bad-arguments") from None
    if not isinstance(raw, list):
        raise ctx.error("'answers' must be a list of calls")
    calls = []
    for a in raw:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise ctx.error("an answer has no name", "bad-arguments")
        calls.append(call(ctx, a["name"], a.get("arguments")))
    messages: list[dict[str, Any]] = [{"role": "user", "content": str(obj["query"])}]
    if calls:
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        return Converted(messages, tools, source_id=source_id(obj))
    messages.append({"role": "assistant", "content": refusal_text(tools)})
    return Converted(messages, tools, source_id=source_id(obj), label="refuse", category="irrelevance")
