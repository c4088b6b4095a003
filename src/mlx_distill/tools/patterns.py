"""A size budget for untrusted regular expressions, checked before compiling them.

The `regex` engine (like `re`) expands a counted repetition into copies of what it repeats: `a{1000000}`
compiles for 2 s into 250 MB, and `a{1000000000}` (15 characters) grew past 22 GB. A time limit on
matching cannot help, since compiling is what blows up. So `pattern_size` estimates the compiled size
from the pattern's text (each atom counts 1, times the bound of every counted repetition around it) and
`bounded_compile` refuses a pattern over `MAX_PATTERN_SIZE` with a one-line reason.
"""

from __future__ import annotations

import re
from typing import Any

import regex

from .results import ToolError

MAX_PATTERN_SIZE = 100_000  # `a{100000}` compiles in 0.15 s into about 30 MB

# `{m}`, `{m,}`, `{m,n}`, `{,n}` right after an atom; anything else after `{` is a literal brace.
_COUNT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_ESCAPE_WITH_BRACES = frozenset("pPNxgu")  # \p{L}, \N{name}, \x{263a}, \g{1}: one atom each


def pattern_size(pattern: str) -> int:
    """An upper bound on what compiling `pattern` expands into, in atoms: a counted repetition
    multiplies what it repeats by its largest finite bound (its minimum when unbounded)."""
    groups: list[list[int]] = [[]]  # the sizes of the items of each open group, innermost last
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            end = i + 2
            if pattern[i + 1 : i + 2] in _ESCAPE_WITH_BRACES and pattern[end : end + 1] == "{":
                close = pattern.find("}", end)
                end = close + 1 if close > 0 else n
            groups[-1].append(1)
            i = end
        elif c == "[":
            i = _class_end(pattern, i)
            groups[-1].append(1)
        elif c == "(":
            groups.append([])
            i += 1
        elif c == ")" and len(groups) > 1:
            inner = groups.pop()
            groups[-1].append(max(sum(inner), 1))
            i += 1
        elif c == "{" and (m := _COUNT.match(pattern, i)) and (m[1] or m[3]) and groups[-1]:
            low = int(m[1]) if m[1] else 0
            high = int(m[3]) if m[3] else low
            groups[-1][-1] *= max(low, high, 1)
            i = m.end()
        else:
            groups[-1].append(0 if c in "|*+?" else 1)
            i += 1
    return sum(sum(items) for items in groups)


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class opening at `i` (nested sets, as `regex`'s V1 allows)."""
    depth, j, n = 0, i, len(pattern)
    while j < n:
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            depth += 1
            j += 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":  # a leading ] is a literal
                j += 1
            continue
        if c == "]":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return n


def bounded_compile(pattern: str, flags: int = 0) -> Any:
    """`regex.compile(pattern, flags)`, or ToolError when the pattern is invalid or over the size
    budget (refused before compiling)."""
    size = pattern_size(pattern)
    if size > MAX_PATTERN_SIZE:
        raise ToolError(
            f"pattern too large: {pattern[:80]!r} would compile to about {size:,} repeated items "
            f"(at most {MAX_PATTERN_SIZE:,}); use a smaller repetition count such as {{1,100}} or +"
        )
    try:
        return regex.compile(pattern, flags)
    except (regex.error, re.error, RecursionError, OverflowError, ValueError) as e:
        raise ToolError(f"invalid regular expression {pattern!r}: {' '.join(str(e).split())}") from None
