"""OpenAI chat messages: `tools` (or legacy `functions`), assistant `tool_calls` (or a legacy
`function_call`) whose arguments are JSON strings, and `tool` results named by `tool_call_id`."""

from __future__ import annotations

from typing import Any

from .conversion import Context, Converted, call, name_results, source_id, text_of, tools_of


def _assistant(m: dict[str, Any], i: int, content: str, names_by_id: dict[str, str], ctx: Context) -> dict[str, Any]:
    calls = []
    for c in m.get("tool_calls") or []:
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ctx.error(f"messages[{i}]: a tool call has no function name", "bad-arguments")
        made = call(ctx, fn["name"], fn.get("arguments"), c.get("id"))
        if c.get("id"):
            names_by_id[c["id"]] = fn["name"]
        calls.append(made)
    fc = m.get("function_call")
    if isinstance(fc, dict) and fc.get("name"):
        calls.append(call(ctx, fc["name"], fc.get("arguments")))
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = calls
    return msg


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise ctx.error("expected an object with a 'messages' list")
    tools = tools_of(ctx, obj.get("tools") or obj.get("functions"))
    messages: list[dict[str, Any]] = []
    source_system = None
    names_by_id: dict[str, str] = {}
    for i, m in enumerate(obj["messages"]):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        role = m.get("role")
        content = text_of(m.get("content"))
        if role in ("system", "developer"):
            if not messages and source_system is None:
                source_system = content
            else:
                messages.append({"role": "system", "content": content})
        elif role == "user":
            messages.append({"role": "user", "content": content})
        elif role == "assistant":
            messages.append(_assistant(m, i, content, names_by_id, ctx))
        elif role in ("tool", "function"):
            tm: dict[str, Any] = {"role": "tool", "content": content}
            tid = m.get("tool_call_id")
            if tid:
                tm["tool_call_id"] = tid
            name = m.get("name") or names_by_id.get(tid or "")
            if name:
                tm["name"] = name
            messages.append(tm)
        else:
            raise ctx.error(f"messages[{i}] has unknown role {role!r}")
    name_results(messages)
    return Converted(messages, tools, system=source_system, source_id=source_id(obj))
