"""What every external format's reader shares: where an item comes from (for located errors), what a
reader returns (`Converted`: messages in the record's shape, tools, and what the source says about
label, category and id), and the small decoders (arguments, message content, tool lists)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import InputError
from ..io import parse_json_line, validation_message
from ..schema import ToolCall
from .json_schema import loads_any, to_openai_tool


@dataclass
class Context:
    """One item of one file: its format, path and line (every error names them), and what the file
    brought with it (BFCL's possible answers, its category from the file name)."""

    fmt: str
    path: Path
    line: int
    answers: dict[str, Any] = field(default_factory=dict)  # bfcl: id -> ground truth
    bfcl_category: str | None = None

    def error(self, message: str, rule: str = "schema", record_id: str | None = None) -> InputError:
        return InputError(message, path=self.path, line=self.line, record_id=record_id, rule=rule)


@dataclass
class Converted:
    """One source item in the record's shape. `messages` hold no leading system message: `system` is
    the source's own prompt, and the caller decides whether it or ours opens the record. Label,
    category and id are None where the source does not say (the caller infers them)."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    system: str | None = None
    source_id: str | None = None
    label: str | None = None
    category: str | None = None


def source_id(obj: Any) -> str | None:
    """The item's own id (`id`, `uuid` or `meta.id`), or None."""
    if not isinstance(obj, dict):
        return None
    meta = obj.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    src = obj.get("id") or obj.get("uuid") or meta.get("id")
    return str(src) if src is not None and str(src).strip() else None


def parse_arguments(value: Any, ctx: Context, name: str) -> dict[str, Any]:
    """Arguments as a dict: objects as they are, JSON (or Python-literal) strings decoded. Never {} on failure."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            decoded = parse_json_line(value)
        except ValueError as e:
            try:
                decoded = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
                why = str(e)[len("invalid JSON (") : -1] if str(e).startswith("invalid JSON (") else str(e)
                raise ctx.error(
                    f"arguments of {name!r} are not valid JSON ({why}): {value[:80]!r}", "bad-arguments"
                ) from None
        if isinstance(decoded, str):  # double-encoded
            return parse_arguments(decoded, ctx, name)
        if not isinstance(decoded, dict):
            raise ctx.error(f"arguments of {name!r} decode to {type(decoded).__name__}, not an object", "bad-arguments")
        return decoded
    raise ctx.error(f"arguments of {name!r} are a {type(value).__name__}, not an object", "bad-arguments")


def call(ctx: Context, name: str, raw_arguments: Any, call_id: str | None = None) -> dict[str, Any]:
    """A record message's call (`ToolCall`'s dict) from a source's name and raw arguments."""
    arguments = parse_arguments(raw_arguments, ctx, name)
    try:
        return ToolCall.of(name, arguments, call_id).to_json()
    except ValidationError as e:
        raise ctx.error(f"tool call {name!r}: {validation_message(e)}") from None


def text_of(content: Any) -> str:
    """Message content: a string, null, or a list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def tools_of(ctx: Context, raw: Any) -> list[dict[str, Any]]:
    """A source's tool list (a list, one object, or a JSON string of either) -> OpenAI-style tools."""
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = loads_any(raw) if raw.strip() else []
        except ValueError as e:
            raise ctx.error(f"tools are not valid JSON: {e}", "tool-schema") from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ctx.error(f"tools must be a list, got {type(raw).__name__}", "tool-schema")
    out = []
    for i, t in enumerate(raw):
        try:
            out.append(to_openai_tool(t))
        except ValueError as e:
            raise ctx.error(f"tools[{i}]: {e}", "tool-schema") from None
    return out


def name_results(messages: list[dict[str, Any]]) -> None:
    """Give each tool result the name of the call it answers (by tool_call_id, else by position)."""
    pending: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "assistant":
            pending = list(m.get("tool_calls") or [])
        elif m["role"] == "tool" and pending:
            found = None
            if m.get("tool_call_id"):
                found = next((c for c in pending if c.get("id") == m["tool_call_id"]), None)
            found = found or pending[0]
            pending.remove(found)
            m.setdefault("name", found["function"]["name"])


def refusal_text(tools: list[dict[str, Any]]) -> str:
    """The reply of a refusal a source marks without text (xLAM's empty answers, BFCL's irrelevance)."""
    names = ", ".join(t["function"]["name"] for t in tools)
    if not names:
        return "I can't do that: no tool is available for it, and it needs one."
    return f"I can't do that with the available tools ({names}): none of them fits this request."
