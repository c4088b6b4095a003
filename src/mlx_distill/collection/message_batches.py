"""`--batch`: collection through a provider's batch API (Anthropic Message Batches, half price),
turn-synchronously.

Every prompt's agent runs as usual; its requests are queued here instead of sent. When every running
trajectory is waiting for the teacher (or has ended), the queue goes out as one batch: the first
turns of all prompts, then all second turns, and so on, until every trajectory has ended. Results
come back in any order and are matched by `custom_id`; the tools run locally in each prompt's
workspace between batches.

The batch handle and its requests are written to the store (`batches.jsonl`) as soon as the batch is
created, and each result is journaled as it is collected: a killed run resumes by polling the open
batches, never by submitting them again. A request that expired or errored is submitted once more in
the next batch; a second failure rejects its prompt with the reason (`batch-expired`, `batch-errored`).
Built on PydanticAI's `Model.batch_*` primitives, so any model with a batch API works.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

from pydantic import TypeAdapter
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.batch import Batch, BatchRequest, BatchResult
from pydantic_ai.settings import ModelSettings

from ..teacher.prices import Usage

if TYPE_CHECKING:
    from .collect import Collector
    from .journal import PromptRun

MAX_ATTEMPTS = 2  # a request that expired or errored is submitted once more, then its prompt is rejected
_BATCH = TypeAdapter(Batch)


def custom_id(key: str, fp: str) -> str:
    """Unique per (record key, conversation state); within Anthropic's 64 characters of [a-zA-Z0-9_-]."""
    return f"{key[:40]}-{fp[:20]}"


def usage_of_result(body: str) -> Usage:
    """The usage of a succeeded Messages API result body (Anthropic's split: input excludes cache tokens)."""
    u = (json.loads(body).get("message") or {}).get("usage") or {}
    return Usage(
        int(u.get("input_tokens") or 0),
        int(u.get("output_tokens") or 0),
        int(u.get("cache_creation_input_tokens") or 0),
        int(u.get("cache_read_input_tokens") or 0),
    )


def decode(
    model: Model,
    row: dict[str, Any],
    messages: list[ModelMessage],
    settings: ModelSettings | None,
    params: ModelRequestParameters,
) -> ModelResponse:
    """The response a journaled batch result stands for, read with the live request's settings."""
    r = row["batch_result"]
    request = BatchRequest(
        custom_id=r["custom_id"], messages=messages, model_settings=settings, model_request_parameters=params
    )
    return model.batch_decode(BatchResult(custom_id=r["custom_id"], status="succeeded", body=r["body"]), request)


@dataclass
class _Pending:
    run: "PromptRun"
    model: Model
    messages: list[ModelMessage]
    settings: ModelSettings | None
    params: ModelRequestParameters
    fp: str
    future: asyncio.Future
    reserved: float = 0.0

    @property
    def cid(self) -> str:
        return custom_id(self.run.key, self.fp)


class Batcher:
    """The turn-synchronous batch queue of one collection run."""

    def __init__(self, collector: "Collector", *, poll_interval_s: float = 10.0, max_poll_interval_s: float = 120.0):
        if collector.model.batch_max_requests is None:
            from .collect import CollectError

            raise CollectError(
                f"--batch needs a teacher with a batch API (anthropic:...); {collector.teacher_id} has none"
            )
        self.c = collector
        self.poll_interval_s, self.max_poll_interval_s = poll_interval_s, max_poll_interval_s
        self.active = 0
        self.pending: list[_Pending] = []
        self.submitted = 0
        self._flushing = False
        self._tasks: set[asyncio.Task] = set()
        self.failures: Counter[tuple[str, str]] = Counter()
        for row in collector.store.batch_events():
            for f in row.get("failed", []):
                self.failures[(f["key"], f["fingerprint"])] += 1

    @asynccontextmanager
    async def task(self) -> AsyncIterator[None]:
        """Count a prompt as running while inside: a batch goes out when all running prompts wait."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
            self._maybe_flush()

    async def request(
        self,
        run: "PromptRun",
        model: Model,
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
        fp: str,
    ) -> dict[str, Any]:
        """Queue one request; returns its journal row once its batch has ended."""
        from .journal import RequestFailed

        tries = self.failures[(run.key, fp)]
        if tries >= MAX_ATTEMPTS:
            raise RequestFailed(*self._reason(run.key, fp))
        future = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(run, model, messages, settings, params, fp, future))
        self._maybe_flush()
        return await future

    def _maybe_flush(self) -> None:
        if self._flushing or not self.pending or len(self.pending) < self.active:
            return
        self._flushing = True
        task = asyncio.get_running_loop().create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- one turn ---------------------------------------------------------------------------------

    async def _flush(self) -> None:
        from ..teacher.budget import BudgetExhausted

        batch, self.pending = self.pending, []
        try:
            sending = []
            for p in batch:
                try:
                    p.reserved = self.c.budget.estimate(p.messages, p.params, self.c.settings.max_tokens, batch=True)
                    self.c.budget.reserve(p.reserved)
                    sending.append(p)
                except BudgetExhausted as e:
                    p.future.set_exception(e)
            if sending:
                await self._submit(sending)
        except Exception as e:  # noqa: BLE001 - the submission failed: every waiting request gets the error
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(e)
        finally:
            self._flushing = False
            self._maybe_flush()

    async def _submit(self, sending: list[_Pending]) -> None:
        model = self.c.model
        encoded = [
            await model.batch_encode(
                BatchRequest(
                    custom_id=p.cid, messages=p.messages, model_settings=p.settings, model_request_parameters=p.params
                )
            )
            for p in sending
        ]
        tic = time.perf_counter()
        handle = await model.batch_create(encoded)
        self.c.store.add_batch_event(
            {
                "event": "submitted",
                "batch": _BATCH.dump_python(handle, mode="json"),
                "requests": [{"custom_id": p.cid, "key": p.run.key, "fingerprint": p.fp} for p in sending],
            }
        )
        self.submitted += 1
        requests = {p.cid: (p.run.key, p.fp) for p in sending}
        await self._collect(handle, requests, tic)
        for p in sending:
            row = self.c.store.turn(p.run.key, p.fp)
            self.c.budget.settle(p.reserved, row["cost_usd"] if row else 0.0)
            if row is not None:
                p.future.set_result(row)
            elif self.failures[(p.run.key, p.fp)] < MAX_ATTEMPTS:
                p.reserved = 0.0
                self.pending.append(p)  # once more, in the next batch
            else:
                from .journal import RequestFailed

                p.future.set_exception(RequestFailed(*self._reason(p.run.key, p.fp)))

    def _reason(self, key: str, fp: str) -> tuple[str, str]:
        statuses = [
            f["status"]
            for row in self.c.store.batch_events()
            for f in row.get("failed", [])
            if f["key"] == key and f["fingerprint"] == fp
        ]
        last = statuses[-1] if statuses else "errored"
        return f"batch-{last}", f"the batch request {last} {len(statuses)} times ({', '.join(statuses)})"

    async def _collect(self, handle: Batch, requests: dict[str, tuple[str, str]], tic: float) -> None:
        """Poll a batch until it ends; journal its results and record its failures."""
        model = self.c.model
        wait = self.poll_interval_s
        while handle.status != "ended":
            await asyncio.sleep(wait)
            wait = min(wait * 1.5, self.max_poll_interval_s)
            handle = await model.batch_status(handle)
        results = await model.batch_results(handle)
        latency = time.perf_counter() - tic
        failed = []
        got = {r.custom_id: r for r in results}
        for cid, (key, fp) in requests.items():
            r = got.get(cid)
            if r is not None and r.status == "succeeded" and r.body is not None:
                self._journal(key, fp, r, handle.id, latency)
            else:
                status = "missing" if r is None else r.status
                failed.append({"key": key, "fingerprint": fp, "status": status})
                self.failures[(key, fp)] += 1
        self.c.store.add_batch_event({"event": "collected", "batch_id": handle.id, "failed": failed})

    def _journal(self, key: str, fp: str, result: BatchResult, batch_id: str, latency_s: float) -> None:
        usage = usage_of_result(result.body or "{}")
        c = self.c
        row: dict[str, Any] = {
            "call_id": f"{batch_id}:{result.custom_id}",
            "batch_result": {"custom_id": result.custom_id, "body": result.body},
            "usage": usage.to_json(),
            "cost_usd": c.prices.cost(c.teacher_id, usage, True),
            "latency_s": round(latency_s, 4),
            "batch": True,
            "batch_id": batch_id,
            "model": c.teacher_id,
        }
        c.store.add_turn(key, fp, row)
        c.store.ledger.append(
            kind="collect",
            model=c.teacher_id,
            usage=usage,
            latency_s=latency_s,
            key=key,
            batch=True,
            call_id=row["call_id"],
            batch_id=batch_id,
        )

    # -- resume -------------------------------------------------------------------------------------

    async def resume(self) -> None:
        """Poll the batches a killed run left open and journal their results (never resubmitting them)."""
        for row in self.c.store.open_batches():
            handle = _BATCH.validate_python(row["batch"])
            requests = {r["custom_id"]: (r["key"], r["fingerprint"]) for r in row["requests"]}
            await self._collect(handle, requests, time.perf_counter())
