"""A question as the project asks it, and its words.

`Question` is the one case model: a question with the label it should get, its category, the workspace
it runs in and the answer that checks it. The benchmark's `bench.suites.Case` (a suite line), the
teacher's `collection.prompts.Prompt` (a prompt-set line) and `mlx-distill compare`'s prompts are all
it: the first two narrow it (a case must have an id, a label and a category; a prompt's workspace is a
directory to copy or a builder to run), compare uses it as it is. The files keep their own shapes: the
fields here are the keys they already share, in the order they were written.

Its words are what the duplicate and leakage checks compare (the validator's near-duplicate and
held-out joins, the catalogues' disjointness). Paths and dotted names (src/app.py, os.path) stay one
word, so two questions about different files are not near-duplicates of each other."""

from __future__ import annotations

import re
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .vocab import Label

_WORD = re.compile(r"[a-z0-9_](?:[a-z0-9_./]*[a-z0-9_])?")


class Question(BaseModel):
    """A question with its workspace and expected answer; only `question` is required here."""

    model_config = ConfigDict(extra="forbid")
    id: Optional[str] = None
    question: str = Field(min_length=1)
    label: Optional[Label] = None  # the gold decision, when known
    category: Optional[str] = None
    workspace: Any = None  # {"kind": builder, ...} in a suite; the user narrows it
    answer: Optional[dict[str, Any]] = None  # the answer spec that checks a reply


def normalize_question(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: what duplicate checks compare."""
    return " ".join(_WORD.findall(text.lower()))


def question_tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))
