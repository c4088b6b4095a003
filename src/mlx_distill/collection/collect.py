"""Teacher collection: every prompt runs through `create_agent` with the real tools in its own
workspace, to the end, and the whole trajectory becomes one verified record in the store.

The teacher is wrapped in `JournalModel` (`journal.py`): every request is journaled in the store and
replayed from it on resume, and checked against the budget (`budget.py`) before it is sent. Prompts run
concurrently (asyncio, at most `concurrency` at once); the SDK retries 408/409/429/5xx and dropped
connections. A rejected request (400/401/403) stops the run with one line naming the prompt and
writes nothing for it; a request that still fails after the retries leaves its prompt unrecorded
for the next run; a request the budget cannot cover is never sent.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from ..prompting import DEFAULT_SYSTEM_PROMPT
from ..schema import Record
from ..tools import TOOL_NAMES, tool_schemas
from ..teacher.budget import Budget
from .journal import JournalModel, PromptRun, dump_response, load_response
from ..teacher.prices import Prices, Usage
from .prompts import Prompt, prepare_workspace, question_text
from ..data.sources.teacher_store import Verdict
from ..teacher.store import SOURCE, TeacherStore, record_key
from ..teacher.model import resolve_teacher, sent_settings, teacher_id
from .verify import verify

Progress = Callable[[int, int, str], None]


class CollectError(RuntimeError):
    """The run cannot go on (a rejected request, a bad key): one line naming the prompt."""


@dataclass
class CollectSettings:
    """What decides the teacher's answer besides the prompt (part of every record key)."""

    max_tokens: int = 1024
    temperature: float = 0.0
    max_requests: int = 8
    max_tool_calls: int = 6
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    tools: tuple[str, ...] = TOOL_NAMES

    def request_settings(self) -> dict[str, Any]:
        """The model settings asked for (the teacher may drop some: `Collector.sent`)."""
        return {"max_tokens": self.max_tokens, "temperature": self.temperature}

    def key_settings(self, sent: dict[str, Any] | None = None) -> dict[str, Any]:
        """The settings a record is keyed by: those the teacher received (`sent`), else those asked for."""
        return {
            **(self.request_settings() if sent is None else sent),
            "max_requests": self.max_requests,
            "max_tool_calls": self.max_tool_calls,
        }


# -- the whole run -------------------------------------------------------------------------------


@dataclass
class CollectSummary:
    teacher: str
    store: str
    prompts: int
    skipped: int = 0  # already in the store
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # "id: why" of prompts left for the next run
    budget_stopped: int = 0
    run: dict[str, Any] = field(default_factory=dict)  # ledger totals of this run's calls
    store_totals: dict[str, Any] = field(default_factory=dict)  # ledger totals of every collect call in the store
    store_accepted: int = 0
    wall_s: float = 0.0
    batches: int = 0

    @property
    def cost_per_accepted(self) -> float | None:
        return self.store_totals.get("cost_usd", 0.0) / self.store_accepted if self.store_accepted else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "cost_per_accepted_usd": self.cost_per_accepted}

    def lines(self) -> list[str]:
        """The summary as printed by `mlx-distill collect`."""
        r, t = self.run, self.store_totals
        done = self.accepted + sum(self.rejected.values())
        out = [
            f"collected {done} of {self.prompts} prompts from {self.teacher} in {self.wall_s:.1f}s "
            f"({self.skipped} already in {self.store})",
            f"accepted {self.accepted}, rejected {sum(self.rejected.values())}"
            + (": " + ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) if self.rejected else ""),
        ]
        if self.failed:
            out.append(
                f"not recorded {len(self.failed)} (re-run to retry): "
                + "; ".join(self.failed[:5])
                + (" ..." if len(self.failed) > 5 else "")
            )
        if self.budget_stopped:
            out.append(f"budget reached: {self.budget_stopped} prompts not started or stopped before a call")
        u = r.get("usage", {})
        out.append(
            f"this run: {r.get('calls', 0)} calls{f' in {self.batches} batches' if self.batches else ''}, "
            f"${r.get('cost_usd', 0.0):.4f}; tokens in {u.get('input_tokens', 0)}, out {u.get('output_tokens', 0)}, "
            f"cache write {u.get('cache_write_tokens', 0)}, cache read {u.get('cache_read_tokens', 0)}; "
            f"cache hit rate {100 * r.get('cache_hit_rate', 0.0):.1f}%, saved ${r.get('saved_usd', 0.0):.4f}"
        )
        per = self.cost_per_accepted
        out.append(
            f"store: {self.store_accepted} accepted records, ${t.get('cost_usd', 0.0):.4f} over "
            f"{t.get('calls', 0)} calls" + (f", ${per:.4f} per accepted record" if per is not None else "")
        )
        return out


class Collector:
    """One collection run over a store (see `collect`)."""

    def __init__(
        self,
        teacher: str | Model,
        store: TeacherStore | str | Path,
        *,
        settings: CollectSettings | None = None,
        concurrency: int = 4,
        budget_usd: float | None = None,
        batch: bool = False,
        adapter_path: str | None = None,
        prices: Prices | None = None,
        poll_interval_s: float = 10.0,
        max_poll_interval_s: float = 120.0,
        max_retries: int | None = None,
        timeout_s: float | None = None,
    ):
        from ..teacher.model import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S

        self.settings = settings or CollectSettings()
        self.teacher_id = (
            teacher_id(teacher, adapter_path) if isinstance(teacher, str) else f"{teacher.system}:{teacher.model_name}"
        )  # a Model: "mlx:...", "anthropic:..."
        self.model = resolve_teacher(  # a retired teacher fails here, before the store is created
            teacher,
            adapter_path,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            timeout_s=timeout_s or DEFAULT_TIMEOUT_S,
        )
        # what the teacher receives, decided once: the record keys and the ledger say this, not what was asked
        self.sent = sent_settings(self.model, self.settings.request_settings())
        self.store = store if isinstance(store, TeacherStore) else TeacherStore(store)
        if prices is not None:
            self.store.ledger.prices = prices
        self.prices = self.store.ledger.prices
        self.prices.cost(self.teacher_id, Usage())  # an unpriced teacher fails here, before any call
        self.budget = Budget(budget_usd, self.prices, self.teacher_id)
        self.concurrency = max(1, concurrency)
        self.stopping = False
        self.batcher = None
        if batch:
            from .message_batches import Batcher

            self.batcher = Batcher(self, poll_interval_s=poll_interval_s, max_poll_interval_s=max_poll_interval_s)
        self.tool_schemas = tool_schemas(self.settings.tools)

    # -- journal --------------------------------------------------------------------------------

    def journal(
        self, key: str, fp: str, response: ModelResponse, latency_s: float, *, batch: bool, call_id: str | None = None
    ) -> dict[str, Any]:
        """Journal a paid response, then log it in the ledger; returns the journal row."""
        usage = Usage.of(response.usage)
        row: dict[str, Any] = {
            "call_id": call_id or uuid.uuid4().hex,
            "response": dump_response(response),
            "usage": usage.to_json(),
            "cost_usd": self.prices.cost(self.teacher_id, usage, batch),
            "latency_s": round(latency_s, 4),
            "batch": batch,
            "model": self.teacher_id,
        }
        self.store.add_turn(key, fp, row)
        row = self.store.turn(key, fp) or row
        self.store.ledger.append(
            kind="collect",
            model=self.teacher_id,
            usage=usage,
            latency_s=latency_s,
            key=key,
            batch=batch,
            call_id=row["call_id"],
            settings=self.sent,
        )
        return row

    def decode(
        self,
        wrapped: Model,
        row: dict[str, Any],
        messages: list[ModelMessage],
        settings: ModelSettings | None,
        params: ModelRequestParameters,
    ) -> ModelResponse:
        """The response a journal row holds (a batch result is read with the live request's settings)."""
        if "response" in row:
            return load_response(row["response"])
        from .message_batches import decode

        return decode(wrapped, row, messages, settings, params)

    # -- prompts --------------------------------------------------------------------------------

    def key_of(self, prompt: Prompt) -> str:
        return record_key(
            prompt.key_fields(),
            teacher=self.teacher_id,
            settings=self.settings.key_settings(self.sent),
            system_prompt=self.settings.system_prompt,
            tools=self.tool_schemas,
        )

    async def run_prompt(self, prompt: Prompt) -> PromptRun:
        from ..agent import create_agent
        from ..agent.outcome import arun_question

        run = PromptRun(prompt, self.key_of(prompt), self)
        tmp = tempfile.mkdtemp(prefix="mlx-distill-collect-")
        try:
            facts = await asyncio.to_thread(prepare_workspace, prompt, tmp)
            question = question_text(prompt, facts)
            stops = getattr(self.model, "stop_strings", None)
            model_settings = dict(self.sent)
            if stops is not None:  # a local MLX teacher: the template's end-of-turn strings
                model_settings["stop_sequences"] = list(stops())
            agent = create_agent(
                JournalModel(self.model, run),
                workspace=tmp,
                tools=self.settings.tools,
                system_prompt=self.settings.system_prompt,
                model_settings=model_settings,
                max_requests=self.settings.max_requests,
                max_tool_calls=self.settings.max_tool_calls,
            )
            outcome = await arun_question(agent, question)
            if run.fatal or run.failed:
                return run
            record = self._record(run, question, outcome, facts, tmp)
            await asyncio.to_thread(self.store.add, record)  # an fsync: off the event loop
            return run
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)

    def _record(self, run: PromptRun, question: str, outcome: Any, facts: dict[str, Any], root: str) -> Record:
        p = run.prompt
        messages = outcome.record_messages()
        if not messages or messages[0].get("role") != "system":
            messages.insert(0, {"role": "system", "content": self.settings.system_prompt})
        if not any(m.get("role") == "user" for m in messages):
            messages.append({"role": "user", "content": question})
        last = next((m for m in reversed(outcome.messages) if isinstance(m, ModelResponse)), None)
        stop = ((last.provider_details or {}).get("finish_reason") or last.finish_reason) if last else None
        if run.rejected:
            verdict = Verdict.reject(*run.rejected)
        else:
            verdict = verify(
                messages,
                offered=list(self.settings.tools),
                outcome=outcome.outcome,
                stop_reason=stop,
                final_text=outcome.final_text,
                label=p.label,
                answer=p.answer,
                facts=facts if p.answer else None,
                workspace_root=root,
            )
            if outcome.error and verdict.accepted:
                verdict = Verdict.reject("unclean-end", outcome.error)
        usage = sum((Usage.of(c["usage"]) for c in run.calls), Usage())
        decided = "tool" if outcome.tool_calls else "direct"
        meta = {
            "id": p.id,
            "source": SOURCE,
            "category": p.category or decided,
            "label": p.label or decided,
            "key": run.key,
            "verdict": verdict.to_json(),
            "teacher": self.teacher_id,
            "question": question,
            "workspace": p.workspace.model_dump(mode="json") if p.workspace else None,
            "usage": usage.to_json(),
            "cost_usd": round(sum(c["cost_usd"] for c in run.calls), 8),
            "latency_s": round(sum(c["latency_s"] for c in run.calls), 4),
            "requests": len(run.calls),
            "stop_reason": stop,
            "outcome": outcome.outcome,
            "batch": any(c["batch"] for c in run.calls),
            "settings": self.settings.key_settings(self.sent),
        }
        return Record.model_validate({"messages": messages, "tools": self.tool_schemas, "meta": meta})

    async def run(self, prompts: Sequence[Prompt], progress: Progress | None = None) -> CollectSummary:
        tic = time.perf_counter()
        first_row = len(self.store.ledger.rows())
        summary = CollectSummary(teacher=self.teacher_id, store=str(self.store.root), prompts=len(prompts))
        todo = []
        seen: set[str] = set()
        for p in prompts:
            k = self.key_of(p)
            if k in self.store or k in seen:
                summary.skipped += 1
            else:
                seen.add(k)
                todo.append(p)
        runs: list[PromptRun] = []
        done = 0
        gate = asyncio.Semaphore(len(todo) if self.batcher is not None else self.concurrency)

        async def one(p: Prompt) -> None:
            nonlocal done
            async with gate:
                if self.stopping:
                    summary.budget_stopped += 1
                    return
                if self.batcher is not None:
                    async with self.batcher.task():
                        runs.append(await self.run_prompt(p))
                else:
                    runs.append(await self.run_prompt(p))
            done += 1
            if progress:
                progress(done, len(todo), p.id or "")

        if self.batcher is not None:
            await self.batcher.resume()
        await asyncio.gather(*(one(p) for p in todo))
        if self.batcher is not None:
            summary.batches = self.batcher.submitted
        fatal = next((r for r in runs if r.fatal), None)
        for r in runs:
            rec = self.store.get(r.key)
            if r.fatal:
                continue
            if r.failed:
                if r.failed.startswith(("budget", "stopped")):
                    summary.budget_stopped += 1
                else:
                    summary.failed.append(f"{r.prompt.id}: {r.failed}")
            elif rec is not None:
                v = rec.meta.verdict  # type: ignore[attr-defined]  # `verdict` is a pydantic extra on Meta (extra="allow")
                if v["accepted"]:
                    summary.accepted += 1
                else:
                    summary.rejected[v["reason"]] = summary.rejected.get(v["reason"], 0) + 1
        rows = self.store.ledger.rows()
        from ..teacher.ledger import totals

        summary.run = totals(rows[first_row:], kind="collect")
        summary.store_totals = totals(rows, kind="collect")
        summary.store_accepted = len(self.store.records(accepted=True))
        summary.wall_s = time.perf_counter() - tic
        if fatal is not None:
            raise CollectError(
                f"prompt {fatal.prompt.id}: the teacher refused the request ({fatal.fatal}); "
                f"nothing was recorded for it"
            )
        return summary


async def acollect(
    teacher: str | Model,
    prompts: Sequence[Prompt],
    store: str | Path | TeacherStore,
    progress: Progress | None = None,
    **options: Any,
) -> CollectSummary:
    """`collect` for async callers."""
    collector = Collector(teacher, store, **options)
    try:
        return await collector.run(prompts, progress)
    finally:
        client = getattr(collector.model, "client", None) if isinstance(teacher, str) else None
        if client is not None and hasattr(client, "close"):  # the SDK client we made: closed in its own loop
            await client.close()


def collect(
    teacher: str | Model,
    prompts: Sequence[Prompt],
    store: str | Path | TeacherStore,
    progress: Progress | None = None,
    **options: Any,
) -> CollectSummary:
    """Collect every prompt not yet in `store` from `teacher`; returns the summary. Options: settings
    (CollectSettings), concurrency, budget_usd, batch, adapter_path, prices, poll_interval_s, max_retries,
    timeout_s. Raises CollectError when the teacher rejects a request (bad key, bad request)."""
    return asyncio.run(acollect(teacher, prompts, store, progress, **options))
