"""One prompt's requests to the teacher, journaled: `JournalModel` (a PydanticAI `WrapperModel`) hands
each request to its `PromptRun`, which first looks it up in the store's journal by (record key,
fingerprint of the conversation so far), so a resumed run replays what was paid for instead of asking
again; a new request is checked against the budget, sent (or queued for a Message Batch, `batch.py`),
journaled, then logged in the ledger. How a request failed decides what becomes of its prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from ..teacher.budget import BudgetExhausted
from .prompts import Prompt

if TYPE_CHECKING:
    from .collect import Collector

FATAL_STATUS = (400, 401, 403)


class RequestFailed(RuntimeError):
    """A request failed for good (a batch request expired or errored twice): the prompt is rejected."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def fingerprint(messages: Sequence[ModelMessage]) -> str:
    """A hash of the conversation a request sends (timestamps and run ids left out)."""
    from ..agent.history import to_record_messages

    body = json.dumps(to_record_messages(list(messages)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def dump_response(response: ModelResponse) -> dict[str, Any]:
    return ModelMessagesTypeAdapter.dump_python([response], mode="json")[0]


def load_response(data: dict[str, Any]) -> ModelResponse:
    return ModelMessagesTypeAdapter.validate_python([data])[0]  # type: ignore[return-value]


@dataclass
class PromptRun:
    """The state of one prompt's collection: its key, the calls it used, and why it stopped early."""

    prompt: Prompt
    key: str
    collector: "Collector"
    calls: list[dict[str, Any]] = field(default_factory=list)  # journal rows this trajectory used
    fatal: str | None = None  # a rejected request: the whole run stops
    failed: str | None = None  # transient failure or budget: not recorded, retried by the next run
    rejected: tuple[str, str] | None = None  # a request that failed for good: recorded as rejected

    async def request(
        self,
        wrapped: Model,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
    ) -> ModelResponse:
        c = self.collector
        fp = fingerprint(messages)
        row = c.store.turn(self.key, fp)
        if row is None:
            row = await self._ask(wrapped, messages, settings, params, fp)
        response = c.decode(wrapped, row, messages, settings, params)
        if row["call_id"] not in c.store.ledger:  # journaled by a run killed before it logged the call
            await asyncio.to_thread(
                c.store.ledger.append,
                kind="collect",
                model=c.teacher_id,
                usage=row["usage"],
                latency_s=row["latency_s"],
                key=self.key,
                batch=row["batch"],
                call_id=row["call_id"],
            )
        self.calls.append(row)
        return response

    async def _ask(
        self,
        wrapped: Model,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
        fp: str,
    ) -> dict[str, Any]:
        from pydantic_ai.exceptions import ModelAPIError, ModelRequestRejectedError

        c = self.collector
        if c.stopping:
            self.failed = self.failed or "stopped"
            raise BudgetExhausted("the run is stopping")
        try:
            if c.batcher is not None:
                return await c.batcher.request(self, wrapped, messages, settings, params, fp)
            estimate = c.budget.estimate(messages, params, c.settings.max_tokens, batch=False)
            c.budget.reserve(estimate)
            actual = 0.0
            try:  # the reservation holds until the real cost replaces it
                tic = time.perf_counter()
                response = await wrapped.request(messages, settings, params)
                row = await asyncio.to_thread(c.journal, self.key, fp, response, time.perf_counter() - tic, batch=False)
                actual = row["cost_usd"]
                return row
            finally:
                c.budget.settle(estimate, actual)
        except BudgetExhausted as e:
            self.failed = f"budget: {e}"
            c.stopping = True
            raise
        except RequestFailed as e:
            self.rejected = (e.reason, e.detail)
            raise
        except ModelAPIError as e:
            status = getattr(e, "status_code", None)
            line = f"{type(e).__name__}{f' {status}' if status else ''}: {' '.join(str(e).split())[:300]}"
            if status in FATAL_STATUS or isinstance(e, ModelRequestRejectedError):
                self.fatal = line
                c.stopping = True
            else:
                self.failed = line
            raise


class JournalModel(WrapperModel):
    """The teacher, with every request journaled in the store (and replayed from it on resume)."""

    def __init__(self, wrapped: Model, run: PromptRun):
        super().__init__(wrapped)
        self.run = run

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        return await self.run.request(self.wrapped, messages, model_settings, model_request_parameters)
