"""Shadow recording: a PydanticAI capability a developer adds to the agent of their own dev tool, so
that every run through the teacher becomes one training record, for free.

    agent = Agent("anthropic:claude-sonnet-5-5", tools=[...], capabilities=[ShadowRecorder("shadow/")])
    # or create_agent(teacher, capabilities=[ShadowRecorder("shadow/")])

Each finished run is one record in the project's format (system prompt, the tools offered, every
turn with the real tool results, `meta` with the teacher id, usage, cost, latency and a timestamp),
verified like a collected one (`verify.verify`: rejected records stay in the store with the reason)
and appended to a teacher store, which `data build`'s teacher source reads. Every model request is a
ledger row of kind `shadow`. Nothing is recorded unless the capability is added (opt-in). Before
anything is written, secrets are replaced (`redact`): API keys, tokens of common formats, and the
values of secret-looking environment variables. Appends are single fsynced lines (`store.TeacherStore`);
when a segment's records file reaches `max_bytes`, recording moves on to the next segment directory
(`ROOT/000002/`...), each a store of its own (`shadow_segments` lists them, oldest first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import ModelResponse

from ..data.sources.teacher_store import RECORDS_FILE, shadow_segments

DEFAULT_MAX_BYTES = 64 * 2**20


class ShadowStore:
    """A directory of numbered teacher-store segments and one ledger (`ROOT/ledger.jsonl`)."""

    def __init__(self, root: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
        from ..teacher.ledger import Ledger

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.ledger = Ledger(self.root)

    def segment(self) -> Any:
        """The store to append to: the newest segment, or a new one when it is full."""
        from ..teacher.store import TeacherStore

        segments = shadow_segments(self.root)
        current = segments[-1] if segments else self.root / "000001"
        records = current / RECORDS_FILE
        if records.exists() and records.stat().st_size >= self.max_bytes:
            current = self.root / f"{int(current.name) + 1:06d}"
        return TeacherStore(current)

    def add(self, record: Any) -> bool:
        return self.segment().add(record)


@dataclass
class _Call:
    model: str
    usage: Any
    latency_s: float
    cost_usd: float
    finish: str | None


@dataclass
class ShadowRecorder(AbstractCapability[Any]):
    """Appends each finished run of the agent it is added to as one teacher record (see the module)."""

    root: str | Path = "shadow"
    max_bytes: int = DEFAULT_MAX_BYTES
    category: str = "shadow"
    _store: ShadowStore | None = field(default=None, repr=False)
    _calls: list[_Call] = field(default_factory=list, repr=False)
    _params: Any = field(default=None, repr=False)
    _tic: float = field(default=0.0, repr=False)

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None

    @property
    def store(self) -> ShadowStore:
        if self._store is None:
            self._store = ShadowStore(self.root, max_bytes=self.max_bytes)
        return self._store

    async def for_run(self, ctx: Any) -> "ShadowRecorder":
        return ShadowRecorder(root=self.root, max_bytes=self.max_bytes, category=self.category, _store=self.store)

    async def before_model_request(self, ctx: Any, request_context: Any) -> Any:
        self._tic = time.perf_counter()
        return request_context

    async def after_model_request(self, ctx: Any, *, request_context: Any, response: ModelResponse) -> ModelResponse:
        latency = time.perf_counter() - self._tic
        self._params = request_context.model_request_parameters
        model = request_context.model.model_id
        row = self.store.ledger.append(kind="shadow", model=model, usage=response.usage, latency_s=latency)
        finish = (response.provider_details or {}).get("finish_reason") or response.finish_reason
        self._calls.append(_Call(model, response.usage, latency, row["cost_usd"], finish))
        return response

    async def after_run(self, ctx: Any, *, result: Any) -> Any:
        if self._params is not None:
            self.store.add(self.record(result.all_messages(), result.output))
        return result

    def record(self, messages: list, output: Any) -> Any:
        """The run as a redacted, verified teacher record."""
        from pydantic_ai._instrumentation import get_instructions

        from ..agent.model import to_record_messages, tool_dicts
        from ..schema import Record
        from ..teacher.prices import Usage
        from ..teacher.redact import redact
        from ..teacher.store import SOURCE, content_hash
        from ..collection.verify import verify

        tools = tool_dicts(self._params)
        body = redact(
            {"messages": to_record_messages(messages, get_instructions(messages, self._params)), "tools": tools}
        )
        final = redact(output if isinstance(output, str) else str(output))
        decided = "tool" if any(m.get("tool_calls") for m in body["messages"]) else "direct"
        stop = self._calls[-1].finish if self._calls else None
        verdict = verify(
            body["messages"],
            offered=[t["function"]["name"] for t in tools],
            outcome="answered",
            stop_reason=stop,
            final_text=final,
        )
        key = content_hash(body)
        usage = sum((Usage.of(c.usage) for c in self._calls), Usage())
        meta = {
            "id": f"shadow-{key[:16]}",
            "source": SOURCE,
            "category": self.category,
            "label": decided,
            "key": key,
            "verdict": verdict.to_json(),
            "teacher": self._calls[-1].model if self._calls else None,
            "usage": usage.to_json(),
            "cost_usd": round(sum(c.cost_usd for c in self._calls), 8),
            "latency_s": round(sum(c.latency_s for c in self._calls), 4),
            "requests": len(self._calls),
            "stop_reason": stop,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return Record.model_validate({**body, "meta": meta})
