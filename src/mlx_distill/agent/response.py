"""How one generation becomes a PydanticAI response: parsed into text and tool-call parts, with its usage,
details and finish reason, whole (`to_response`) or streamed as it is generated (`MLXStreamedResponse`)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic_ai.messages import (
    FinishReason,
    ModelResponse,
    ModelResponseStreamEvent,
    TextPart,
    ToolCallPart,
)
from pydantic_ai.models import StreamedResponse
from pydantic_ai.usage import RequestUsage

from .generation import GenerationResult
from .parsing import CALL_MARKERS, parse_tool_calls
from .probe import DecisionProbe

PROVIDER = "mlx"


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


def to_response(
    result: GenerationResult, tools: list[dict], probe: DecisionProbe | None, model_name: str
) -> ModelResponse:
    """The response to a request answered whole: text, or the tool calls parsed from it."""
    parsed = parse_tool_calls(result.text, tools)
    details = _details(result, probe)
    finish: FinishReason
    if parsed.errors:
        details["tool_call_errors"] = parsed.errors
        parts: list[Any] = [TextPart(result.text.strip())]
        finish = "stop" if result.finish_reason == "stop" else "length"
    elif parsed.calls:
        parts = ([TextPart(parsed.content)] if parsed.content else []) + [
            ToolCallPart(c.name, c.arguments, tool_call_id=new_call_id()) for c in parsed.calls
        ]
        finish = "tool_call"
    else:
        parts = [TextPart(result.text.strip())]
        finish = "stop" if result.finish_reason == "stop" else "length"
    return ModelResponse(
        parts=parts,
        usage=_usage(result),
        model_name=model_name,
        provider_name=PROVIDER,
        finish_reason=finish,
        provider_details=details,
    )


def _usage(result: GenerationResult) -> RequestUsage:
    return RequestUsage(
        input_tokens=result.prompt_tokens, output_tokens=len(result.tokens), cache_read_tokens=result.cached_tokens
    )


def _details(result: GenerationResult, probe: DecisionProbe | None = None) -> dict[str, Any]:
    return {
        "finish": result.finish_reason,
        "stopped_by": result.stopped_by,
        "prompt_tokens": result.prompt_tokens,
        "cached_tokens": result.cached_tokens,
        "prompt_s": round(result.prompt_s, 4),
        "generation_s": round(result.generation_s, 4),
        **(probe.details() if probe else {}),
    }


_DONE = object()


@dataclass
class MLXStreamedResponse(StreamedResponse):
    """Streams text as it is generated; tool-call markup is held back, parsed at the end and yielded as calls."""

    _model_name: str = ""
    _generate: Callable[..., GenerationResult] | None = None
    _tools: list[dict] = field(default_factory=list)
    _on_result: Callable[[GenerationResult], None] | None = None  # the model's record of results
    _probe: DecisionProbe | None = None
    _timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        generate = self._generate
        assert generate is not None  # request_stream always sets it

        def on_text(chunk: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)

        def work() -> GenerationResult:
            try:
                return generate(on_text=on_text, cancel=cancel)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        future = loop.run_in_executor(None, work)
        total, streamed = "", ""
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                total += item
                visible = total.lstrip()
                safe = visible[: _holdback(visible)].rstrip()
                if len(safe) > len(streamed) and safe.startswith(streamed):
                    delta, streamed = safe[len(streamed) :], safe
                    for event in self._parts_manager.handle_text_delta(vendor_part_id="content", content=delta):
                        yield event
            result = await future
        finally:
            cancel.set()
            if not future.done():
                try:
                    await future
                except BaseException:  # noqa: BLE001 - already failing or cancelled
                    pass
        if self._on_result is not None:
            self._on_result(result)
        parsed = parse_tool_calls(result.text, self._tools)
        details = _details(result, self._probe)
        if parsed.errors:
            details["tool_call_errors"] = parsed.errors
        final = parsed.content if parsed.ok else result.text.strip()
        if final.startswith(streamed) and len(final) > len(streamed):
            for event in self._parts_manager.handle_text_delta(
                vendor_part_id="content", content=final[len(streamed) :]
            ):
                yield event
        elif not streamed and not (parsed.ok and parsed.calls):
            for event in self._parts_manager.handle_text_delta(vendor_part_id="content", content=final):
                yield event
        if parsed.ok:
            for i, call in enumerate(parsed.calls):
                yield self._parts_manager.handle_tool_call_part(
                    vendor_part_id=f"call-{i}", tool_name=call.name, args=call.arguments, tool_call_id=new_call_id()
                )
        self._usage = _usage(result)
        self.provider_details = details
        self.finish_reason = (
            "tool_call" if parsed.ok and parsed.calls else "stop" if result.finish_reason == "stop" else "length"
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return PROVIDER

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp


def _holdback(text: str) -> int:
    from .parsing import holdback

    return holdback(text, CALL_MARKERS)
