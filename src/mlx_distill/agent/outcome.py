"""`run_question`: one agent run, summarised for the benchmark. Never raises for what a model does:
limits, loops and errors become the outcome."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pydantic_ai import capture_run_messages
from pydantic_ai.exceptions import OutputTokenLimitExceeded, UsageLimitExceeded
from pydantic_ai.messages import ModelRequest, ModelResponse, RetryPromptPart, TextPart, ToolCallPart, ToolReturnPart

from ..schema import RecordedCall, ToolCall
from .guards import LoopDetected

Outcome = Literal["answered", "loop", "limit", "error"]


@dataclass
class ToolCallRecord(RecordedCall):
    """One call of a run: the call (the one `ToolCall` type, as the model made it) and what came back,
    `result`: what the tool (or a refusal/retry) answered; None when it never ran."""

    result: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


@dataclass
class RunOutcome:
    question: str
    final_text: str
    tool_calls: list[ToolCallRecord]
    requests: int
    outcome: Outcome
    error: str | None
    input_tokens: int
    output_tokens: int
    latency_s: float
    messages: list = field(default_factory=list, repr=False)  # pydantic-ai ModelMessages of the run

    @classmethod
    def failed(cls, question: str, error: str) -> "RunOutcome":
        """A run that could not happen (its workspace, agent or scoring failed): an error outcome, nothing done."""
        return cls(
            question=question,
            final_text="",
            tool_calls=[],
            requests=0,
            outcome="error",
            error=error,
            input_tokens=0,
            output_tokens=0,
            latency_s=0.0,
        )

    @property
    def tool_names(self) -> list[str]:
        return [c.name for c in self.tool_calls]

    def record_messages(self) -> list[dict[str, Any]]:
        """The run as record-format messages (system prompt first), e.g. to save a teacher's answer."""
        from .model import to_record_messages

        return to_record_messages(self.messages)

    def to_json(self, *, with_messages: bool = False) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "messages"}
        d["tool_calls"] = [c.to_json() for c in self.tool_calls]
        if with_messages:
            from pydantic_ai.messages import ModelMessagesTypeAdapter

            d["messages"] = ModelMessagesTypeAdapter.dump_python(self.messages, mode="json")
        return d


def call_of(part: ToolCallPart) -> ToolCall:
    """A pydantic-ai call part as the one call type; arguments that are not a JSON object are kept as
    {"_value": ...} or {"_raw": text}, so a call always has an object to compare."""
    try:
        args = part.args_as_dict()
        args = args if isinstance(args, dict) else {"_value": args}
    except Exception:  # noqa: BLE001
        args = {"_raw": str(part.args)}
    return ToolCall.as_made(part.tool_name, args)


def summarize_messages(messages: list) -> tuple[str, list[ToolCallRecord], int, int, int]:
    """(final text, tool calls with results, requests, input tokens, output tokens) from a run's messages."""
    calls: dict[str, ToolCallRecord] = {}
    order: list[ToolCallRecord] = []
    requests = input_tokens = output_tokens = 0
    final = ""
    for m in messages:
        if isinstance(m, ModelResponse):
            requests += 1
            input_tokens += m.usage.input_tokens or 0
            output_tokens += m.usage.output_tokens or 0
            texts = [p.content for p in m.parts if isinstance(p, TextPart)]
            has_calls = False
            for p in m.parts:
                if isinstance(p, ToolCallPart):
                    has_calls = True
                    rec = ToolCallRecord(call_of(p))
                    calls[p.tool_call_id] = rec
                    order.append(rec)
            if not has_calls:
                final = "\n\n".join(texts).strip()
        elif isinstance(m, ModelRequest):
            for part in m.parts:
                if isinstance(part, ToolReturnPart) and part.tool_call_id in calls:
                    calls[part.tool_call_id].result = part.model_response_str()
                elif isinstance(part, RetryPromptPart) and getattr(part, "tool_call_id", None) in calls:
                    calls[part.tool_call_id].result = part.model_response()
    return final, order, requests, input_tokens, output_tokens


def _classify(exc: BaseException) -> Outcome:
    if isinstance(exc, LoopDetected):
        return "loop"
    # max_tokens ran out before any usable output: a limit the run was given, not a failure
    if isinstance(exc, (UsageLimitExceeded, OutputTokenLimitExceeded)):
        return "limit"
    return "error"


async def arun_question(agent: Any, question: str, **run_kwargs: Any) -> RunOutcome:
    """`run_question` for async callers."""
    tic = time.perf_counter()
    with capture_run_messages() as messages:
        try:
            result = await agent.run(question, **run_kwargs)
        except Exception as e:  # noqa: BLE001 - the outcome records it
            return _outcome(question, list(messages), tic, _classify(e), f"{type(e).__name__}: {e}")
    return _outcome(question, list(result.all_messages()), tic, "answered", None, output=result.output)


def run_question(agent: Any, question: str, **run_kwargs: Any) -> RunOutcome:
    """Run `agent` on one question and summarise it. Outcomes: answered (a final text answer), loop (the same
    tool call repeated), limit (request/tool-call/usage limits), error (anything else, with its message).
    Each call runs on an event loop of its own that it closes (`agent.run_sync` leaves one open per worker
    thread of the benchmark)."""
    return asyncio.run(arun_question(agent, question, **run_kwargs))


def _outcome(
    question: str, messages: list, tic: float, outcome: Outcome, error: str | None, output: Any = None
) -> RunOutcome:
    final, calls, requests, inp, out = summarize_messages(messages)
    if outcome == "answered" and output is not None:
        final = output if isinstance(output, str) else str(output)
    return RunOutcome(
        question=question,
        final_text=final,
        tool_calls=calls,
        requests=requests,
        outcome=outcome,
        error=error,
        input_tokens=inp,
        output_tokens=out,
        latency_s=round(time.perf_counter() - tic, 4),
        messages=messages,
    )
