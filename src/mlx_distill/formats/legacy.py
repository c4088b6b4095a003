"""Our older in-house records: `{"messages": [...]}` where calls are `{"tool": name, "arguments": ...}`
(in `tool_calls`, or as ```json blocks in the assistant text) and tool results may name the tool
with `tool`; label and category may be given at the top level or in `meta`."""

from __future__ import annotations

import json
import re
from typing import Any

from .conversion import Context, Converted, call, name_results, source_id, text_of, tools_of

_FENCE = re.compile(r"```(?:json|tool|tool_call)?\s*\n(.*?)\n?```", re.DOTALL)
_ROLES: dict[Any, str] = {"human": "user", "bot": "assistant", "function": "tool", "observation": "tool"}


def _call(c: Any, ctx: Context) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise ctx.error(f"a tool call must be an object, got {type(c).__name__}")
    fn = c.get("function")
    if not isinstance(fn, dict):
        fn = c
    name = fn.get("name") or fn.get("tool")
    if not isinstance(name, str) or not name:
        raise ctx.error("a tool call has neither 'tool' nor 'name'")
    raw = fn.get("arguments", fn.get("args", fn.get("parameters", fn.get("input"))))
    return call(ctx, name, raw, c.get("id"))


def _fenced_calls(content: str, i: int, ctx: Context) -> tuple[list[dict[str, Any]], str]:
    """Calls written as ```json blocks, and the text without them."""
    calls: list[dict[str, Any]] = []
    for block in _FENCE.finditer(content):
        try:
            body = json.loads(block.group(1))
        except json.JSONDecodeError as e:
            if re.search(r'"(tool|name)"\s*:', block.group(1)):
                raise ctx.error(
                    f"messages[{i}]: a ```json tool call is not valid JSON ({e.msg} at "
                    f"line {e.lineno} column {e.colno})",
                    "bad-arguments",
                ) from None
            continue
        bodies = body if isinstance(body, list) else [body]
        if all(isinstance(b, dict) and ("tool" in b or "name" in b) for b in bodies):
            calls.extend(_call(b, ctx) for b in bodies)
            content = content.replace(block.group(0), "")
    return calls, content


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected an object, got {type(obj).__name__}")
    raw_msgs = obj.get("messages") or obj.get("conversation")
    if not isinstance(raw_msgs, list) or not raw_msgs:
        raise ctx.error("no 'messages' list")
    messages: list[dict[str, Any]] = []
    source_system = None
    for i, m in enumerate(raw_msgs):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        role = _ROLES.get(m.get("role"), m.get("role"))
        content = text_of(m.get("content"))
        if role == "system":
            if i == 0:
                source_system = content
                continue
            messages.append({"role": "system", "content": content})
        elif role == "user":
            messages.append({"role": "user", "content": content})
        elif role == "assistant":
            calls = [_call(c, ctx) for c in (m.get("tool_calls") or [])]
            if not calls:
                calls, content = _fenced_calls(content, i, ctx)
            msg: dict[str, Any] = {"role": "assistant", "content": content.strip()}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)
        elif role == "tool":
            tm: dict[str, Any] = {"role": "tool", "content": content}
            name = m.get("name") or m.get("tool")
            if name:
                tm["name"] = name
            if m.get("tool_call_id"):
                tm["tool_call_id"] = m["tool_call_id"]
            messages.append(tm)
        else:
            raise ctx.error(f"messages[{i}] has unknown role {m.get('role')!r}")
    tools = tools_of(ctx, obj.get("tools"))
    if not tools:
        from ..tools import TOOL_NAMES, tool_schemas

        used = {c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
        if used <= set(TOOL_NAMES):
            tools = tool_schemas()
    name_results(messages)
    meta = obj.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    return Converted(
        messages,
        tools,
        system=source_system,
        source_id=source_id(obj),
        label=obj.get("label") or meta.get("label"),
        category=obj.get("category") or meta.get("category"),
    )
