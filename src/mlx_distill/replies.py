"""Which of the four labels a reply without a tool call stands for: the one set of refusal and
clarification patterns, imported by the data side (labelling converted records) and the benchmark
(classifying a model's reply on four-class suites).

There are two readings on purpose, each kept exactly as the figures and data built so far were made
with it:

- `text_label` labels a gold answer of a dataset (When2Call SFT, xLAM, legacy records). Those
  answers open with their intent, so only the first 300 characters are read, and a short reply
  that ends in a question mark is a clarification.
- `classify_reply` classifies what a model said. A model may ramble before refusing, so the whole
  text is read, and a clarification must ask for something ("could you ...?", "which one ...?"):
  a rhetorical question at the end of an answer stays `direct`.
"""

from __future__ import annotations

import re
from typing import Any

# Refusals in gold answers ("I'm sorry", "none of the available tools ...").
GOLD_REFUSAL = re.compile(
    r"\b(i'?m sorry|i am sorry|i (?:can ?not|can't|cannot|am unable|'m unable|am not able|'m not able|"
    r"don't have (?:the )?(?:ability|capability|access))|unable to|not able to|no (?:available )?(?:tool|function)s? "
    r"(?:can|to|that)|none of the (?:available )?(?:tools|functions))",
    re.IGNORECASE,
)

# Refusals in model replies.
REPLY_REFUSAL = re.compile(
    r"\b(i\s*(?:am|'m)\s*(?:not able|unable)|i\s*can(?:not|'t|\s+not)|unable to|"
    r"not able to|don't have (?:access|the ability|a tool)|do not have (?:access|the ability|a tool)|"
    r"no (?:tool|function) (?:is )?available|outside (?:of )?my (?:capabilities|abilities))\b",
    re.I,
)

# A model reply that asks for missing information.
REPLY_CLARIFY = re.compile(
    r"\b(could you|can you|would you|please (?:provide|specify|tell|share|clarify)|"
    r"which (?:one|\w+) (?:do|would|should)|what (?:is|are) the|do you (?:mean|want))\b[^?]*\?",
    re.I,
)


def text_label(text: str) -> str:
    """The label of a dataset's final answer: refuse, clarify (a short question back) or direct."""
    t = text.strip()
    if GOLD_REFUSAL.search(t[:300]):
        return "refuse"
    if t.endswith("?") and len(t) < 400:
        return "clarify"
    return "direct"


def conversation_label(messages: list[dict[str, Any]]) -> str:
    """tool when an assistant turn calls a tool; else the `text_label` of the final assistant text."""
    if any(m.get("role") == "assistant" and m.get("tool_calls") for m in messages):
        return "tool"
    final = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "assistant"), "")
    return text_label(final)


def classify_reply(text: str) -> str:
    """A heuristic class for a model's reply without a tool call (When2Call's four classes): 'refuse'
    for "I can't ...", 'clarify' for a question asking for missing information, else 'direct'."""
    if REPLY_REFUSAL.search(text or ""):
        return "refuse"
    if REPLY_CLARIFY.search(text or ""):
        return "clarify"
    return "direct"
