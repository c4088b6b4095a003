"""A question's words: what the duplicate and leakage checks compare (the validator's near-duplicate and
held-out joins, the catalogues' disjointness). Paths and dotted names (src/app.py, os.path) stay one
word, so two questions about different files are not near-duplicates of each other."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9_](?:[a-z0-9_./]*[a-z0-9_])?")


def normalize_question(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed: what duplicate checks compare."""
    return " ".join(_WORD.findall(text.lower()))


def question_tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))
