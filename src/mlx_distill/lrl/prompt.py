"""The LRL prompt: one function builds the messages a model sees for a problem, with or without a strategy.

Synthesis (training records), evaluation (student and teacher) and the teacher loop all call `messages`,
and the student's text goes through `prompting.render`, so train and test prompts are the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..prompting import conversation, render
from .task import Problem, Task

BASE_SYSTEM = (
    'You solve reasoning problems. Work step by step, then end with a last line of the form "Answer: <answer>".'
)


def system_prompt(strategy: str | None) -> str:
    if not strategy or not strategy.strip():
        return BASE_SYSTEM
    return f"{BASE_SYSTEM}\n\nStrategy:\n{strategy.strip()}"


def messages(task: Task, problem: Problem, strategy: str | None = None) -> list[dict[str, str]]:
    """System (carrying the strategy) + the task's question: the opening of every LRL conversation."""
    return conversation(task.render(problem), system_prompt=system_prompt(strategy))


def student_prompt(task: Task, problem: Problem, strategy: str | None, tokenizer: Any) -> str:
    """The exact text a student generates from (the training rendering of the same messages, plus the
    generation prompt)."""
    return render(messages(task, problem, strategy), None, tokenizer, add_generation_prompt=True)


def strategy_hash(strategy: str | None) -> str:
    return hashlib.sha256((strategy or "").strip().encode("utf-8")).hexdigest()[:12]
