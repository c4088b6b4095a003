"""Agent capabilities that keep a small model's run well-behaved.

- `ToolCallParsing`: a reply whose tool calls could not be read goes back to the model as a retry
  message saying what was wrong (never a crash, never a silent final answer). For models that return
  plain text (an OpenAI-compatible local server without a tool parser) it also turns tool-call markup
  in the text into real tool calls.
- `LoopGuard`: limits on requests and executed tool calls, and detection of the same call repeated:
  the first repeat is refused with a nudge, the next ends the run with `LoopDetected`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import AgentRunError, ModelRetry, UsageLimitExceeded
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart

from .parsing import CALL_MARKERS, parse_tool_calls, retry_message


class LoopDetected(AgentRunError):
    """The model kept making the same tool call: the run was ended instead of going round forever."""


class RequestLimitReached(UsageLimitExceeded):
    """The run used its model requests without reaching a final answer."""


class ToolCallLimitReached(UsageLimitExceeded):
    """The run used its tool calls without reaching a final answer."""


def _tool_dicts(request_context: Any) -> list[dict]:
    from .model import tool_dicts

    params = getattr(request_context, "model_request_parameters", None)
    return tool_dicts(params) if params is not None else []


@dataclass
class ToolCallParsing(AbstractCapability[Any]):
    """Retry on unreadable tool calls; parse tool-call markup out of plain-text replies."""

    parse_text: bool = True

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    async def after_model_request(self, ctx: Any, *, request_context: Any, response: ModelResponse) -> ModelResponse:
        tools = _tool_dicts(request_context)
        errors = list((response.provider_details or {}).get("tool_call_errors") or [])
        if not errors and self.parse_text and not any(isinstance(p, ToolCallPart) for p in response.parts):
            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            if any(m in text for m in CALL_MARKERS) or text.lstrip().startswith("{"):
                parsed = parse_tool_calls(text, tools)
                errors = parsed.errors
                if not errors and parsed.calls:
                    from .model import new_call_id

                    parts: list[Any] = [TextPart(parsed.content)] if parsed.content else []
                    parts += [ToolCallPart(c.name, c.arguments, tool_call_id=new_call_id()) for c in parsed.calls]
                    return replace(response, parts=parts, finish_reason="tool_call")
        if errors:
            names = [t["function"]["name"] for t in tools]
            raise ModelRetry(retry_message(errors, names))
        return response


def call_key(call: ToolCallPart) -> tuple[str, str]:
    """(tool name, canonical JSON of its arguments): two calls with the same key repeat each other."""
    try:
        args = call.args_as_dict()
    except Exception:  # noqa: BLE001
        args = {"_raw": str(call.args)}
    return call.tool_name, json.dumps(args, sort_keys=True, ensure_ascii=False, default=str)


@dataclass
class LoopGuard(AbstractCapability[Any]):
    """Ends a run that would otherwise hang: request and tool-call limits, repeated identical calls."""

    max_requests: int | None = 8
    max_tool_calls: int | None = 6
    max_repeats: int = 1
    _executed: int = field(default=0, repr=False)
    _seen: dict = field(default_factory=dict, repr=False)

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    async def for_run(self, ctx: Any) -> "LoopGuard":
        return LoopGuard(
            max_requests=self.max_requests, max_tool_calls=self.max_tool_calls, max_repeats=self.max_repeats
        )

    async def before_model_request(self, ctx: Any, request_context: Any) -> Any:
        if self.max_requests is not None and ctx.usage.requests >= self.max_requests:
            raise RequestLimitReached(
                f"request limit reached: {ctx.usage.requests} model requests without a "
                f"final answer (max_requests={self.max_requests})"
            )
        return request_context

    async def before_tool_execute(self, ctx: Any, *, call: ToolCallPart, tool_def: Any, args: Any) -> Any:
        key = call_key(call)
        seen = self._seen.get(key, 0)
        if seen:
            self._seen[key] = seen + 1
            shown = key[1] if len(key[1]) <= 200 else key[1][:197] + "..."
            if seen > self.max_repeats:
                raise LoopDetected(f"loop detected: the model repeated the call {call.tool_name}({shown}) {seen} times")
            raise ModelRetry(
                f"You already called {call.tool_name} with these arguments and its result is above. "
                "Do not repeat the call: answer from that result, or call a tool with different "
                "arguments."
            )
        if self.max_tool_calls is not None and self._executed >= self.max_tool_calls:
            raise ToolCallLimitReached(
                f"tool call limit reached: {self._executed} tool calls without a final "
                f"answer (max_tool_calls={self.max_tool_calls})"
            )
        self._executed += 1
        self._seen[key] = 1
        return args
