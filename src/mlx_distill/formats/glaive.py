"""glaive-function-calling-v2: a `system` string holding the function definitions as JSON objects,
and a `chat` string of SYSTEM/USER/ASSISTANT/FUNCTION RESPONSE turns; calls are
`<functioncall> {"name": ..., "arguments": '<JSON in single quotes>'}`."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Iterator

from .conversion import Context, Converted, call, source_id
from .json_schema import to_openai_tool

_TURN = re.compile(r"(?:^|\n+)\s*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):\s?")
_CALL = re.compile(r"<functioncall>\s*(.*)$", re.DOTALL)
_QUOTED = re.compile(
    r'^\{\s*"name"\s*:\s*"(?P<name>[^"]+)"\s*,\s*"arguments"\s*:\s*\'(?P<args>.*)\'\s*\}\s*$', re.DOTALL
)


def _json_objects(text: str) -> Iterator[Any]:
    dec = json.JSONDecoder()
    i = text.find("{")
    while i >= 0:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        yield obj
        i = text.find("{", end)


def _call(body: str, ctx: Context) -> dict[str, Any]:
    body = body.replace("<|endoftext|>", "").strip()
    m = _QUOTED.match(body)
    if m:
        return call(ctx, m.group("name"), m.group("args"))
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(body)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ctx.error(f"<functioncall> body does not parse: {body[:80]!r}", "bad-arguments") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ctx.error("<functioncall> body has no name", "bad-arguments")
    return call(ctx, obj["name"], obj.get("arguments"))


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict) or not isinstance(obj.get("chat"), str):
        raise ctx.error("expected an object with 'system' and 'chat' strings")
    system = obj.get("system") or ""
    system = re.sub(r"^\s*SYSTEM:\s*", "", system)
    tools = []
    for fn in _json_objects(system):
        try:
            tools.append(to_openai_tool(fn))
        except ValueError as e:
            raise ctx.error(f"function definition in the system prompt: {e}", "tool-schema") from None
    intro = system.split("{", 1)[0].strip() if tools else system.strip()
    parts = _TURN.split(obj["chat"])
    messages: list[dict[str, Any]] = []
    last_call: str | None = None
    for role, text in zip(parts[1::2], parts[2::2]):
        text = text.replace("<|endoftext|>", "").strip()
        if role == "USER":
            messages.append({"role": "user", "content": text})
        elif role == "ASSISTANT":
            m = _CALL.search(text)
            if m:
                made = _call(m.group(1), ctx)
                last_call = made["function"]["name"]
                messages.append({"role": "assistant", "content": text[: m.start()].strip(), "tool_calls": [made]})
            else:
                messages.append({"role": "assistant", "content": text})
        elif role == "FUNCTION RESPONSE":
            msg = {"role": "tool", "content": text}
            if last_call:
                msg["name"] = last_call
            messages.append(msg)
    if not messages:
        raise ctx.error("no USER/ASSISTANT turns in 'chat'")
    return Converted(messages, tools, system=intro, source_id=source_id(obj))
