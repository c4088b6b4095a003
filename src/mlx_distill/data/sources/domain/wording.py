"""How answers say what the tools found: counts, lists, locations, first sentences, signatures."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from typing import Sequence

from ....tools import GrepHit
from .scanner import first_paragraph


def plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def join_all(items: Sequence[str], limit: int = 10) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def locations(hits: Sequence[GrepHit], limit: int = 8) -> str:
    by_file: dict[str, list[int]] = defaultdict(list)
    for h in hits:
        by_file[h.path].append(h.line)
    parts = [f"`{p}` (line{'s' if len(ls) > 1 else ''} {', '.join(map(str, ls[:6]))}{', ...' if len(ls) > 6 else ''})"
             for p, ls in by_file.items()]
    return join_all(parts, limit)


def sentence(doc: str | None) -> str | None:
    para = first_paragraph(doc)
    if not para:
        return None
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    s = m.group(1) if m else para
    return s if len(s) <= 300 else s[:297].rsplit(" ", 1)[0] + "..."


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = node.args
    out = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, d in zip(positional, defaults):
        if arg.arg in ("self", "cls"):
            continue
        out.append(parameter(arg, d))
    if a.vararg:
        out.append(f"`*{a.vararg.arg}`")
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append(parameter(arg, d) + " (keyword-only)")
    if a.kwarg:
        out.append(f"`**{a.kwarg.arg}`")
    return out


def parameter(arg: ast.arg, default: ast.expr | None) -> str:
    s = arg.arg
    if arg.annotation is not None:
        s += f": {ast.unparse(arg.annotation)}"
    if default is not None:
        d = ast.unparse(default)
        s += f" = {d if len(d) <= 30 else d[:27] + '...'}"
    return f"`{s}`"


def signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    names = []
    for p in parameters(node):
        names.append(p.strip("`").split(":")[0].split(" =")[0].replace(" (keyword-only)", "").strip("`"))
    return f"{node.name}({', '.join(names)})"
