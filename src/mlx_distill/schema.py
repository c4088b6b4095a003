"""The one training record format (docs/data.md): an mlx-lm chat record plus `meta`.

Tool-call `arguments` are JSON objects, never JSON strings: a string is double-encoded by
`tojson` chat templates at training time but not at inference, so it is refused here, loudly.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError
from .io import read_jsonl, validation_message, write_jsonl
from .vocab import LABELS, Label

__all__ = [
    "Role",
    "Label",
    "LABELS",
    "FunctionCall",
    "ToolCall",
    "RecordedCall",
    "Message",
    "Meta",
    "Record",
    "parse_record",
    "iter_records",
    "load_records",
    "load_records_lenient",
    "save_records",
]

Role = Literal["system", "user", "assistant", "tool"]


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    arguments: dict[str, Any]

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments_are_an_object(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError("arguments must be a JSON object, not a JSON string (decode it first)")
        return v


class ToolCall(BaseModel):
    """The one tool-call type: a record's call, a call parsed from a model's text, a dataset's call, a
    call an agent made in a run. `ToolCall.of(name, arguments)` builds one (`as_made`: without checks);
    `.name` and `.arguments` read it; `.to_json()` is the record's on-disk dict."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["function"] = "function"
    id: str | None = None
    function: FunctionCall

    @classmethod
    def of(cls, name: str, arguments: dict[str, Any], id: str | None = None) -> "ToolCall":
        return cls(id=id or None, function=FunctionCall(name=name, arguments=arguments))

    @classmethod
    def as_made(cls, name: str, arguments: Any, id: str | None = None) -> "ToolCall":
        """A call as a model made it, not validated: what a model did is data to score, never input to refuse."""
        return cls.model_construct(id=id or None, function=FunctionCall.model_construct(name=name, arguments=arguments))

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def arguments(self) -> dict[str, Any]:
        return self.function.arguments

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


@dataclass
class RecordedCall:
    """A `ToolCall` with what was recorded about it (`agent.outcome.ToolCallRecord` adds the result,
    `bench.scoring.ScoredCall` the argument errors); `.name` and `.arguments` read the call."""

    call: ToolCall

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def arguments(self) -> Any:
        return self.call.arguments


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] | None = None
    name: str | None = None  # tool name, on role "tool"
    tool_call_id: str | None = None


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    category: str = Field(min_length=1)
    label: Label


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[Message] = Field(min_length=1)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    meta: Meta

    def to_json(self) -> dict[str, Any]:
        """The on-disk dict: exactly what mlx-lm reads, plus meta."""
        return self.model_dump(mode="json", exclude_none=True)

    def template_messages(self) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json", exclude_none=True) for m in self.messages]

    @property
    def id(self) -> str:
        return self.meta.id

    def user_text(self) -> str:
        """The first user question: what overlap and duplicate checks compare."""
        return next((m.content for m in self.messages if m.role == "user"), "")

    def tool_call_names(self) -> list[str]:
        return [c.function.name for m in self.messages if m.tool_calls for c in m.tool_calls]

    def content_hash(self) -> str:
        """Stable hash of the conversation (not meta): drives the split and exact-duplicate checks."""
        body = json.dumps(
            [m.model_dump(mode="json", exclude_none=True) for m in self.messages], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


def parse_record(obj: Any, *, path: str | os.PathLike | None = None, line: int | None = None) -> Record:
    """Validate one dict as a Record; errors name file, line, record id and the field."""
    rid = None
    if isinstance(obj, dict) and isinstance(obj.get("meta"), dict):
        rid = obj["meta"].get("id")
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line, rule="schema")
    try:
        return Record.model_validate(obj)
    except ValidationError as e:
        raise InputError(
            validation_message(e, "<record>"), path=path, line=line, record_id=rid, rule="schema"
        ) from None


def build_record(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    id: str,
    source: str,
    category: str,
    label: str,
    path: str | os.PathLike | None = None,
    line: int | None = None,
    **extra_meta: Any,
) -> Record:
    """A Record from its parts, as every data source makes one (an InputError names path and line when it is
    not one)."""
    meta = {"id": id, "source": source, "category": category, "label": label}
    meta.update({k: v for k, v in extra_meta.items() if v is not None})
    return parse_record({"messages": messages, "tools": tools, "meta": meta}, path=path, line=line)


def iter_records(path: str | os.PathLike, *, errors: list[InputError] | None = None) -> Iterator[Record]:
    """Read records from JSONL. With `errors` given, bad lines are appended there and skipped;
    without it the first bad line raises."""
    for lineno, obj in read_jsonl(path, errors=errors):
        try:
            yield parse_record(obj, path=path, line=lineno)
        except InputError as e:
            if errors is None:
                raise
            errors.append(e)


def load_records(path: str | os.PathLike) -> list[Record]:
    return list(iter_records(path))


def load_records_lenient(path: str | os.PathLike) -> tuple[list[Record], list[InputError]]:
    """All good records and every error (file:line: record id: field: reason)."""
    errors: list[InputError] = []
    records = list(iter_records(path, errors=errors))
    return records, errors


def save_records(path: str | os.PathLike, records: Iterable[Record]) -> Path:
    return write_jsonl(path, (r.to_json() for r in records))
