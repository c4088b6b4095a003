"""A candidate question: its phrasings, the tool calls that answer it, and how the answer is computed
from the data of their results (`tools.ToolData`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

Step = tuple[str, dict[str, Any]]


@dataclass
class Candidate:
    category: str
    kind: str
    key: str
    questions: Sequence[str]
    steps: Sequence[Step] | Callable[[list[Any]], Step | None]  # given the data of the results so far
    answer: Callable[[list[Any]], str | None]  # given the data of every result (tools.ToolData)
    n_steps: int = 1


def planned_steps(c: Candidate) -> list[Step]:
    return list(c.steps) if not callable(c.steps) else []
