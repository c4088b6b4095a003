"""Hermes / ShareGPT conversations: `conversations` of system/human/gpt/tool turns, tools in a
`<tools>` block of the system prompt (or a `tools` field), calls in `<tool_call>` tags and results
in `<tool_response>` tags; bodies are JSON or Python literals."""

from __future__ import annotations

import json
import re
from typing import Any

from .conversion import Context, Converted, call, name_results, source_id, text_of, tools_of
from .json_schema import loads_any

_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_TOOL_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)


def _tools_block(text: str, ctx: Context) -> list[Any]:
    body = text.strip()
    if not body:
        return []
    try:
        parsed = loads_any(body)
    except ValueError:
        parsed = None
    if parsed is None:  # several objects one after another
        items = []
        for chunk in re.split(r"\n(?=\s*[\[{])", body):
            chunk = chunk.strip()
            if chunk:
                try:
                    items.append(loads_any(chunk))
                except ValueError as e:
                    raise ctx.error(f"<tools> block does not parse: {e}", "tool-schema") from None
        parsed = items
    return parsed if isinstance(parsed, list) else [parsed]


def _call(body: str, ctx: Context) -> dict[str, Any]:
    try:
        obj = loads_any(body.strip())
    except ValueError as e:
        raise ctx.error(f"<tool_call> body does not parse: {e}: {body.strip()[:80]!r}", "bad-arguments") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ctx.error("<tool_call> body has no name", "bad-arguments")
    return call(ctx, obj["name"], obj.get("arguments"))


def _results(value: str) -> list[dict[str, Any]]:
    out = []
    for b in _TOOL_RESPONSE.findall(value) or [value]:
        b = b.strip()
        tm: dict[str, Any] = {"role": "tool", "content": b}
        try:
            parsed = loads_any(b)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "name" in parsed and "content" in parsed:
            tm["name"] = str(parsed["name"])
            c = parsed["content"]
            tm["content"] = c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)
        out.append(tm)
    return out


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
        raise ctx.error("expected an object with a 'conversations' list")
    raw_tools: list[Any] = []
    if obj.get("tools"):
        raw_tools = obj["tools"] if isinstance(obj["tools"], list) else _tools_block(str(obj["tools"]), ctx)
    messages: list[dict[str, Any]] = []
    source_system = None
    for i, turn in enumerate(obj["conversations"]):
        if not isinstance(turn, dict):
            raise ctx.error(f"conversations[{i}] is not an object")
        who = turn.get("from", turn.get("role"))
        value = text_of(turn.get("value", turn.get("content")))
        if who == "system":
            # the prompt usually says "within <tools> </tools> XML tags" before the real block: take the
            # blocks that hold something
            for block in _TOOLS_BLOCK.finditer(value):
                if block.group(1).strip() and not raw_tools:
                    raw_tools = _tools_block(block.group(1), ctx)
            source_system = _TOOLS_BLOCK.sub("", value).strip()
        elif who in ("human", "user"):
            messages.append({"role": "user", "content": value})
        elif who in ("gpt", "assistant"):
            calls = [_call(b, ctx) for b in _TOOL_CALL.findall(value)]
            msg: dict[str, Any] = {"role": "assistant", "content": _TOOL_CALL.sub("", value).strip()}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)
        elif who in ("tool", "function", "observation"):
            messages.extend(_results(value))
        else:
            raise ctx.error(f"conversations[{i}] has unknown 'from' {who!r}")
    name_results(messages)
    return Converted(messages, tools_of(ctx, raw_tools), system=source_system, source_id=source_id(obj))
