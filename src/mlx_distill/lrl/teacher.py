"""Teacher calls for LRL, each journaled before it is used: a killed run replays what it already paid for
and asks only what it had not finished, and every call is a row in the ledger (kind "lrl").

Built on the teacher core: `teacher.model.resolve_teacher` gives the model, `teacher.store.TeacherStore`
journals the responses (turns.jsonl) and holds the ledger.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..teacher.store import TeacherStore, content_hash


class JournaledTeacher:
    """Ask a teacher (a pydantic-ai Model or a name `resolve_teacher` accepts) system + user messages."""

    def __init__(self, teacher: Any, store_dir: str | Path, *, max_tokens: int = 2048):
        from ..teacher.model import resolve_teacher, teacher_id

        self.model = resolve_teacher(teacher)
        # the id prices calls: "mlx:..." and pydantic-ai's "test" are free, "anthropic:..." is priced
        self.id = teacher_id(teacher) if isinstance(teacher, str) else f"{self.model.system}:{self.model.model_name}"
        self.store = TeacherStore(store_dir)
        self.max_tokens = max_tokens
        self.asked = 0  # calls this process paid for (replays excluded)

    def ask(self, msgs: list[dict[str, str]], *, purpose: str) -> str:
        """The reply's text. `purpose` (answer, journal, strategy) goes into the ledger row."""
        key = content_hash({"teacher": self.id, "messages": msgs, "max_tokens": self.max_tokens})
        done = self.store.turn(key, "lrl")
        if done is not None:
            if key not in self.store.ledger:  # journaled by a run killed before it logged the call
                self.store.ledger.append(
                    kind="lrl",
                    model=self.id,
                    usage=done["usage"],
                    latency_s=done["latency_s"],
                    key=key,
                    call_id=key,
                    purpose=purpose,
                )
            return done["text"]
        tic = time.perf_counter()
        text, reply = request_text(self.model, msgs, max_tokens=self.max_tokens)
        latency = time.perf_counter() - tic
        row = {"text": text, "purpose": purpose, "usage": _usage(reply), "latency_s": round(latency, 4)}
        self.store.add_turn(key, "lrl", row)
        self.store.ledger.append(
            kind="lrl", model=self.id, usage=reply.usage, latency_s=latency, key=key, call_id=key, purpose=purpose
        )
        self.asked += 1
        return text


def request_text(model: Any, msgs: list[dict[str, str]], *, max_tokens: int) -> tuple[str, Any]:
    """One request to a pydantic-ai Model with our system + user messages: (the reply's text, the response).
    It runs on an event loop of its own that it closes (`model_request_sync` leaves one open)."""
    import asyncio

    from pydantic_ai.direct import model_request
    from pydantic_ai.messages import ModelRequest, SystemPromptPart, TextPart, UserPromptPart

    parts: list[Any] = [
        SystemPromptPart(m["content"]) if m["role"] == "system" else UserPromptPart(m["content"]) for m in msgs
    ]
    reply = asyncio.run(model_request(model, [ModelRequest(parts=parts)], model_settings={"max_tokens": max_tokens}))
    return "".join(p.content for p in reply.parts if isinstance(p, TextPart)), reply


def _usage(reply: Any) -> dict[str, int]:
    from ..teacher.prices import Usage

    return Usage.of(reply.usage).to_json()
