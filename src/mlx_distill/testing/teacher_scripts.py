"""Scripting the fake teacher (`fake_anthropic.FakeAnthropic`): what a scripted reply is, what a script
reads from a Messages API request body (the question it is keyed by, the turn, the tool results so far),
and a ready-made script that behaves like a careful teacher on line-count questions.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Union

Reply = Union[str, dict, list]
Script = Union[dict[str, list[Reply]], Callable[[str, int, dict], Reply]]


def _user_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def question_of(body: dict) -> str:
    """The conversation's first user text: what scripts are keyed by."""
    for m in body.get("messages", []):
        if m.get("role") == "user":
            text = _user_text(m.get("content", ""))
            if text:
                return text
    return ""


def tool_results(body: dict) -> list[str]:
    """The text of every tool result in the conversation, oldest first (for scripts that answer from them)."""
    out = []
    for m in body.get("messages", []):
        content = m.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                out.append(inner if isinstance(inner, str) else _user_text(inner or []))
    return out


def turn_of(body: dict) -> int:
    """How many assistant turns the conversation already holds (0 for the first request)."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def line_count_teacher(question: str, turn: int, body: dict) -> Reply:
    """A script that behaves like a careful teacher on line-count questions ("Count the lines of PATH",
    "How many lines does PATH have?"): it reads the file, then answers with the count it saw; any other
    question gets a direct answer. For end-to-end tests and benchmarks."""
    m = re.search(r"lines (?:of|does) (\S+)", question)
    if not m:
        return "A short, correct explanation of the concept, with the key idea and an example."
    if turn == 0:
        return {"tool": "read_file", "input": {"path": m.group(1)}}
    return f"{m.group(1)} has {len(tool_results(body)[-1].splitlines())} lines."
