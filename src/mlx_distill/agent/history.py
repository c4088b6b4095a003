"""PydanticAI's message history and offered tools, turned back into the record format (docs/data.md):
what `prompting.render` takes, so the agent's prompt is the training rendering of the same conversation."""

from __future__ import annotations

from typing import Any, Sequence

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters


def _user_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for item in content or ():
        if isinstance(item, str):
            parts.append(item)
        elif hasattr(item, "content") and isinstance(getattr(item, "content"), str):
            parts.append(item.content)
        else:
            parts.append(f"[{type(item).__name__} not supported by a text-only local model]")
    return "\n".join(parts)


def _arguments(part: ToolCallPart) -> dict[str, Any] | None:
    try:
        args = part.args_as_dict()
    except Exception:  # noqa: BLE001 - malformed JSON string from another provider
        return None
    return args if isinstance(args, dict) else None


def to_record_messages(messages: Sequence[ModelMessage], instructions: str | None = None) -> list[dict[str, Any]]:
    """PydanticAI history -> the record format's message dicts (what `prompting.render` takes)."""
    out: list[dict[str, Any]] = []
    system: list[str] = []
    first_request = True
    for message in messages:
        if isinstance(message, ModelRequest):
            leading = first_request
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    if leading:
                        system.append(part.content)
                    else:
                        out.append({"role": "system", "content": part.content})
                    continue
                leading = False
                if isinstance(part, UserPromptPart):
                    out.append({"role": "user", "content": _user_text(part.content)})
                elif isinstance(part, ToolReturnPart):
                    out.append({"role": "tool", "name": part.tool_name, "content": part.model_response_str()})
                elif isinstance(part, (RetryPromptPart, RetryFeedbackPart)):  # direct calls, unprepared
                    text = part.model_response() if hasattr(part, "model_response") else str(part.content)
                    tool_name = getattr(part, "tool_name", None)
                    if tool_name:
                        out.append({"role": "tool", "name": tool_name, "content": text})
                    else:
                        out.append({"role": "user", "content": text})
                # other parts (deltas, notes for other providers) carry nothing a local model renders
            first_request = False
        elif isinstance(message, ModelResponse):
            texts = [p.content for p in message.parts if isinstance(p, TextPart)]
            calls, raw = [], []
            for p in message.parts:
                if isinstance(p, ToolCallPart):
                    args = _arguments(p)
                    if args is None:
                        raw.append(f'<tool_call>\n{{"name": "{p.tool_name}", "arguments": {p.args}}}\n</tool_call>')
                    else:
                        calls.append({"type": "function", "function": {"name": p.tool_name, "arguments": args}})
            msg: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(t for t in texts + raw if t)}
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
    if instructions:
        system.append(instructions)
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def tool_dicts(params: ModelRequestParameters) -> list[dict[str, Any]]:
    """The offered tools as OpenAI-style schemas, in the exact shape of `tools.tool_schemas()`."""
    out = []
    for td in list(params.function_tools) + list(params.output_tools):
        fn: dict[str, Any] = {"name": td.name}
        if td.description is not None:
            fn["description"] = td.description
        fn["parameters"] = td.parameters_json_schema
        out.append({"type": "function", "function": fn})
    return out
