"""The router: a PydanticAI model that answers with the student first and falls back to the teacher
when the student's turn is not usable.

It is pydantic-ai's `FallbackModel(student, teacher)` with a response handler in `fallback_on` that
judges each student turn (`unusable_reason`) and an exception handler for a student that fails. The
reasons, in the order they are checked:

- `error`: the student raised (a crash, a server that does not answer);
- `unparseable`: the reply holds tool-call markup that could not be read;
- `empty`: no text and no call;
- `unknown_tool`: a call names a tool that was not offered;
- `invalid_arguments`: a call's arguments fail the tool's JSON schema;
- `loop`: a call repeats one already made in this run (what the agent's loop guard would stop);
- `low_confidence`: a local MLX student's first-token margin between opening a tool call and anything
  else (`agent.model.DecisionProbe`) is under `min_margin`.

With `student_retries=N` the first N unreadable turns in a row (`unparseable`, `unknown_tool`,
`invalid_arguments`) go back to the student as the agent's usual retry prompt before the teacher is
asked. Every routed call is one ledger row (kind `route`): who answered, why the student's turn was
refused, tokens and cost. Response handlers judge non-streamed requests only (pydantic-ai's rule), so
the router answers a streamed request with a non-streamed one (see `request_stream`).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from jsonschema import Draft202012Validator
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.settings import ModelSettings

from ..agent.guards import call_key
from ..agent.model import tool_dicts
from ..agent.parsing import CALL_MARKERS, parse_tool_calls

REASONS = ("error", "unparseable", "empty", "unknown_tool", "invalid_arguments", "loop", "low_confidence")
LOCAL_PROVIDER = "local"  # a student runs on this machine: free in the price table
RETRYABLE = frozenset({"unparseable", "unknown_tool", "invalid_arguments"})


# -- judging a student turn --------------------------------------------------------------------------


def _calls(response: ModelResponse, params: ModelRequestParameters) -> tuple[list[tuple[str, Any]], bool]:
    """(the calls a reply makes, whether some call markup could not be read)."""
    calls = [(p.tool_name, _args(p)) for p in response.parts if isinstance(p, ToolCallPart)]
    if (response.provider_details or {}).get("tool_call_errors"):
        return calls, True
    if not calls:
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        if any(m in text for m in CALL_MARKERS) or text.lstrip().startswith("{"):
            parsed = parse_tool_calls(text, tool_dicts(params))
            return [(c.name, c.arguments) for c in parsed.calls], bool(parsed.errors)
    return calls, False


def _args(part: ToolCallPart) -> Any:
    try:
        return part.args_as_dict()
    except Exception:  # noqa: BLE001 - arguments that are not a JSON object
        return part.args


def _previous_calls(messages: list[ModelMessage]) -> set[tuple[str, str]]:
    return {
        call_key(p) for m in messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, ToolCallPart)
    }


def retries_in_a_row(messages: list[ModelMessage]) -> int:
    """How many of the last requests were retry prompts (the student's unreadable turns in a row)."""
    n = 0
    for m in reversed(messages):
        if isinstance(m, ModelRequest):
            if not any(isinstance(p, (RetryPromptPart, RetryFeedbackPart)) for p in m.parts):
                break
            n += 1
    return n


def unusable_reason(
    response: ModelResponse,
    messages: list[ModelMessage],
    params: ModelRequestParameters,
    *,
    min_margin: float | None = None,
) -> str | None:
    """Why a student turn cannot be used (one of REASONS), or None when it can."""
    calls, unreadable = _calls(response, params)
    if unreadable:
        return "unparseable"
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart)).strip()
    if not calls and not text:
        return "empty"
    offered = {td.name: td for td in [*params.function_tools, *params.output_tools]}
    for name, args in calls:
        if name not in offered:
            return "unknown_tool"
        schema = offered[name].parameters_json_schema or {"type": "object"}
        if not isinstance(args, dict) or next(Draft202012Validator(schema).iter_errors(args), None) is not None:
            return "invalid_arguments"
    seen = _previous_calls(messages)
    if any(call_key(ToolCallPart(name, args)) in seen for name, args in calls):
        return "loop"
    margin = (response.provider_details or {}).get("decision_margin")
    if min_margin is not None and margin is not None and margin < min_margin:
        return "low_confidence"
    return None


# -- the router ----------------------------------------------------------------------------------------


@dataclass
class _Turn:
    """One routed request, seen by the fallback handlers (through a context variable)."""

    messages: list[ModelMessage]
    params: ModelRequestParameters
    student_done: bool = False
    reason: str | None = None
    student_response: ModelResponse | None = None
    error: str | None = None


_TURN: ContextVar[_Turn | None] = ContextVar("mlx_distill_router_turn", default=None)


@dataclass
class RouteStats:
    """Counts of what the router did in this process (the ledger has every call)."""

    calls: int = 0
    student: int = 0
    teacher: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def local_fraction(self) -> float | None:
        return self.student / self.calls if self.calls else None

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "answered_by_student": self.student,
            "answered_by_teacher": self.teacher,
            "local_fraction": self.local_fraction,
            "fallback_reasons": dict(self.reasons),
        }


class Router(FallbackModel):
    """Student first, teacher on an unusable student turn. `ledger`: a `teacher.ledger.Ledger` (or None)."""

    def __init__(
        self,
        student: Model,
        teacher: Model,
        *,
        min_margin: float | None = None,
        student_retries: int = 0,
        ledger: Any = None,
        drift: Any = None,
    ):
        super().__init__(student, teacher, fallback_on=[self._student_failed, self._student_unusable])
        self.student, self.teacher = self.models
        self.min_margin = min_margin
        self.student_retries = student_retries
        self.ledger = ledger
        self.drift = drift
        self.stats = RouteStats()
        if ledger is not None:
            ledger.prices.cost(self.teacher.model_id, {})  # an unpriced teacher fails here, once

    @property
    def model_name(self) -> str:
        return f"router:{self.models[0].model_name}+{self.models[1].model_name}"

    # fallback_on handlers: each sees the student's attempt first, then the teacher's
    def _student_failed(self, exc: Exception) -> bool:
        turn = _TURN.get()
        if turn is None or turn.student_done:
            return False  # the teacher's own error propagates
        turn.student_done, turn.reason, turn.error = True, "error", f"{type(exc).__name__}: {exc}"
        return True

    def _student_unusable(self, response: ModelResponse) -> bool:
        turn = _TURN.get()
        if turn is None or turn.student_done:
            return False  # the teacher's answer is taken as it is
        turn.student_done, turn.student_response = True, response
        reason = unusable_reason(response, turn.messages, turn.params, min_margin=self.min_margin)
        if reason in RETRYABLE and retries_in_a_row(turn.messages) < self.student_retries:
            reason = None  # the agent sends its retry prompt to the student first
        turn.reason = reason
        return reason is not None

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        turn = _Turn(list(messages), model_request_parameters)
        token = _TURN.set(turn)
        tic = time.perf_counter()
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        finally:
            _TURN.reset(token)
        self._record(turn, response, time.perf_counter() - tic)
        if self.drift is not None and turn.reason is None:
            self.drift.maybe_check(self, turn.messages, model_settings, model_request_parameters, response)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        """A streamed request is answered whole: the student's turn must be judged before anyone sees it."""
        from pydantic_ai.models.function import FunctionModel

        response = await self.request(messages, model_settings, model_request_parameters)

        async def replay(_messages: Any, _info: Any) -> AsyncIterator[Any]:
            from pydantic_ai.models.function import DeltaToolCall

            text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
            if text:
                yield text
            calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
            if calls:
                yield {
                    i: DeltaToolCall(name=p.tool_name, json_args=p.args_as_json_str(), tool_call_id=p.tool_call_id)
                    for i, p in enumerate(calls)
                }

        async with FunctionModel(
            stream_function=replay, model_name=response.model_name or self.model_name
        ).request_stream(messages, model_settings, model_request_parameters) as stream:
            yield stream

    @asynccontextmanager
    async def _run_scope(self) -> AsyncIterator[None]:
        """The run's scope; drift checks started during the run finish before it ends."""
        async with super()._run_scope():
            try:
                yield
            finally:
                if self.drift is not None:
                    await self.drift.drain()

    def _record(self, turn: _Turn, response: ModelResponse, latency_s: float) -> None:
        by_teacher = turn.reason is not None
        self.stats.calls += 1
        if by_teacher:
            self.stats.teacher += 1
            self.stats.reasons[turn.reason] += 1
        else:
            self.stats.student += 1
        if self.ledger is None:
            return
        model = self.teacher.model_id if by_teacher else local_id(self.student)
        student_usage = turn.student_response.usage if turn.student_response is not None else None
        self.ledger.append(
            kind="route",
            model=model,
            usage=response.usage,
            latency_s=latency_s,
            cost_usd=None if by_teacher else 0.0,
            answered_by="teacher" if by_teacher else "student",
            reason=turn.reason,
            error=turn.error,
            student=self.student.model_id,
            teacher=self.teacher.model_id,
            student_usage=_usage_json(student_usage) if by_teacher and student_usage is not None else None,
        )


def local_id(student: Model) -> str:
    """The ledger's id of a student: `local:` (free in the price table) before its model id."""
    return f"{LOCAL_PROVIDER}:{student.model_id}"


def _usage_json(usage: Any) -> dict[str, int]:
    return {"input_tokens": int(usage.input_tokens or 0), "output_tokens": int(usage.output_tokens or 0)}


# -- from a name ---------------------------------------------------------------------------------------


def student_model(name: str, adapter_path: str | None = None) -> Model:
    """The student as a PydanticAI model: a local MLX model carries its chat template's stop strings in its
    own settings (an agent over the router does not know them)."""
    from ..agent.factory import resolve_agent_model
    from ..agent.model import MLXModel

    model, stops = resolve_agent_model(name, adapter_path)
    if isinstance(model, MLXModel) and stops:
        return MLXModel(name, adapter_path=adapter_path, settings={"stop_sequences": list(stops)})
    if isinstance(model, str):
        from pydantic_ai.models import infer_model

        return infer_model(model)
    return model


def router_from_name(
    name: str, adapter_path: str | None = None, *, ledger_dir: str | os.PathLike | None = None, **kwargs: Any
) -> Router:
    """`router:STUDENT+TEACHER[?options]` as a Router; `adapter_path` is the student's; its calls go to
    `ledger_dir`/ledger.jsonl when given."""
    from ..models.names import split_router_name
    from ..teacher.model import resolve_teacher

    student, teacher, options = split_router_name(name)
    if ledger_dir is not None:
        from ..teacher.ledger import Ledger

        kwargs.setdefault("ledger", Ledger(ledger_dir))
    return Router(student_model(student, adapter_path), resolve_teacher(teacher), **{**options, **kwargs})
