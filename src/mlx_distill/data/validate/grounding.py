"""The grounding heuristic: a final answer after tool calls should repeat something the tools returned."""

from __future__ import annotations

import re

_SALIENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./\-]*[A-Za-z0-9_]|\d")
_STOP = frozenset("""the and for that this with from are was were has have had not but you your can its it's
there their they them then than what which when where who how why into onto also only just each one two
file files line lines call calls tool tools result results found find none here does did done use used""".split())


def grounded(answer: str, results: str) -> bool:
    """Whether the answer shares some name, path, number or word (4+ letters) with the tool results."""
    hay = results.lower()
    for tok in _SALIENT.findall(answer):
        t = tok.lower().strip("./-")
        if not t or t in _STOP:
            continue
        parts = [t] + ([p for p in re.split(r"[./]", t) if len(p) >= 3] if any(ch in t for ch in "./") else [])
        for p in parts:
            if p not in _STOP and (p.isdigit() or len(p) >= 4 or any(ch in p for ch in "_./")) and p in hay:
                return True
    return False
