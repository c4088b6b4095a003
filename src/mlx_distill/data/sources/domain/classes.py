"""Questions about one class: where it is defined, its bases, its methods, what it is for."""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

from .candidate import Candidate
from .scanner import Cls, Module, Repo
from .wording import join_all, locations, plural, sentence


def class_candidates(repo: Repo, mod: Module, c: Cls) -> list[Candidate]:
    out = []
    scope = repo.scope_of(mod.path)

    def ans_where(rs: list[Any], c: Cls = c) -> str | None:
        hits = [h for h in rs[0].hits if re.match(rf"\s*class {c.name}\b", h.text)]
        if not hits:
            return None
        if len(hits) == 1:
            return f"The class `{c.name}` is defined in `{hits[0].path}` at line {hits[0].line}."
        return f"`{c.name}` is defined {len(hits)} times: {locations(hits)}."
    out.append(Candidate("search", "class-location", f"{mod.path}:{c.name}", [
        f"Where is the class {c.name} defined?", f"Which file contains `class {c.name}`?",
        f"Find the {c.name} class.", f"Where does `{c.name}` live in the codebase?"],
        [("grep", {"pattern": rf"class {c.name}\b", "path": scope, "glob": "*.py"})], ans_where))

    def ans_bases(rs: list[Any], c: Cls = c) -> str | None:
        hits = [h for h in rs[0].hits if re.match(rf"\s*class {c.name}\b", h.text)]
        if len(hits) != 1:
            return None
        m = re.match(rf"\s*class {c.name}\s*(?:\((.*)\))?\s*:", hits[0].text)
        if not m:
            return None
        bases = [b.strip() for b in (m.group(1) or "").split(",") if b.strip() and "=" not in b]
        if not bases:
            return f"`{c.name}` ({hits[0].path}, line {hits[0].line}) has no explicit base class, so it derives from `object`."
        return f"`{c.name}` inherits from {join_all([f'`{b}`' for b in bases])} ({hits[0].path}, line {hits[0].line})."
    out.append(Candidate("structure", "class-bases", f"{mod.path}:{c.name}", [
        f"What does {c.name} inherit from?", f"What is the base class of `{c.name}`?",
        f"Which classes does {c.name} extend?"],
        [("grep", {"pattern": rf"^\s*class {c.name}\b", "path": mod.path})], ans_bases))
    if c.end - c.lineno + 1 <= 70 and c.methods:
        def ans_methods(rs: list[Any], c: Cls = c) -> str | None:
            try:
                node = ast.parse(textwrap.dedent(rs[0].text)).body[0]
            except (SyntaxError, IndexError, ValueError):
                return None
            if not isinstance(node, ast.ClassDef):
                return None
            ms = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if not ms:
                return None
            return f"`{c.name}` has {plural(len(ms), 'method')}: {join_all([f'`{m}`' for m in ms], 15)}."
        out.append(Candidate("structure", "class-methods", f"{mod.path}:{c.name}", [
            f"What methods does {c.name} have?", f"List the methods of the `{c.name}` class.",
            f"Which methods are defined on {c.name} in {mod.path}?"],
            [("read_file", {"path": mod.path, "start_line": c.lineno, "end_line": c.end})], ans_methods))
    if c.doc and c.doc_end and not c.name.startswith("_"):
        def ans_doc(rs: list[Any], c: Cls = c) -> str | None:
            text = textwrap.dedent(rs[0].text)
            try:
                node = ast.parse(text + ("    pass\n" if not text.endswith("\n") else "    pass\n")).body[0]
            except (SyntaxError, IndexError, ValueError):
                return None
            doc = sentence(ast.get_docstring(node)) if isinstance(node, ast.ClassDef) else None
            return f"`{c.name}` ({c.path}, line {c.def_line}): {doc}" if doc else None
        out.append(Candidate("read", "class-doc", f"{mod.path}:{c.name}", [
            f"What is the {c.name} class for?", f"Describe the class `{c.name}` in {mod.path}.",
            f"What does `{c.name}` represent?"],
            [("read_file", {"path": mod.path, "start_line": c.lineno, "end_line": c.doc_end})], ans_doc))
    return out
