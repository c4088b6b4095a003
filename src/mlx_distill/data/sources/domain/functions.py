"""Questions about one function: where it is defined, what it does, its signature."""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Any

from .candidate import Candidate, Step
from .scanner import Func, Module, Repo
from .wording import join_all, locations, parameters, sentence, signature


def function_candidates(repo: Repo, mod: Module, f: Func) -> list[Candidate]:
    out: list[Candidate] = []
    scope = repo.scope_of(mod.path)
    label = f"{f.cls}.{f.name}" if f.is_method else f.name
    pattern = rf"def {f.name}\b"
    if not f.name.startswith("__"):
        def ans_where(rs: list[Any], name: str = label, short: str = f.name) -> str | None:
            hits = [h for h in rs[0].hits if re.search(rf"def {short}\b", h.text)]
            if not hits:
                return None
            if len(hits) == 1:
                p, ln = hits[0].path, hits[0].line
                return f"`{short}` is defined in `{p}` at line {ln}."
            return f"There are {len(hits)} definitions of `{short}`: {locations(hits)}."
        if not f.is_method:
            out.append(Candidate("search", "def-location", f"{mod.path}:{f.name}", [
                f"Where is `{f.name}` defined?", f"Which module contains def {f.name}?",
                f"Find the definition of {f.name}.", f"In which module is `{f.name}` implemented?",
                f"Where can I find def {f.name}?"],
                [("grep", {"pattern": pattern, "path": scope, "glob": "*.py"})], ans_where))
    lines = f.end - f.lineno + 1
    if f.doc and lines <= 45 and not f.name.startswith("_"):
        summary = sentence(f.doc)

        def ans_read(rs: list[Any], f: Func = f) -> str | None:
            excerpt = rs[-1].text
            try:
                node = ast.parse(textwrap.dedent(excerpt)).body[0]
            except (SyntaxError, IndexError, ValueError):
                return None
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return None
            doc = sentence(ast.get_docstring(node))
            if not doc:
                return None
            sig = signature(node)
            where = f"lines {f.lineno}–{f.end} of `{f.path}`"
            extra = ""
            returns = ast.unparse(node.returns) if node.returns else None
            if returns:
                extra = f" It returns `{returns}`."
            return f"`{sig}` ({where}): {doc}{extra}"
        name = f"{f.cls}.{f.name}" if f.is_method else f.name
        out.append(Candidate("read", "function-doc", f"{mod.path}:{name}", [
            f"What does `{name}` in {mod.path} do?", f"Explain the function {name} from {mod.path}.",
            f"Summarize what {name} in {mod.path} does.", f"What is `{name}` ({mod.path}) for?"],
            [("read_file", {"path": mod.path, "start_line": f.lineno, "end_line": f.end})], ans_read))
        if not f.is_method and summary:
            def grep_then_read(rs: list[Any], f: Func = f) -> Step | None:
                hits = [h for h in rs[0].hits if re.search(rf"def {f.name}\b", h.text)]
                if len(hits) != 1:
                    return None
                p, ln = hits[0].path, hits[0].line
                return ("read_file", {"path": p, "start_line": ln, "end_line": ln + (f.end - f.def_line)})

            def first_grep(rs: list[Any], f: Func = f, scope: str = scope) -> Step | None:
                return (("grep", {"pattern": rf"def {f.name}\b", "path": scope, "glob": "*.py"}) if not rs
                        else grep_then_read(rs))

            def ans_two(rs: list[Any], f: Func = f) -> str | None:
                hits = [h for h in rs[0].hits if re.search(rf"def {f.name}\b", h.text)]
                first = ans_read(rs)
                if not hits or not first:
                    return None
                return f"It's in `{hits[0].path}` (line {hits[0].line}). {first}"
            out.append(Candidate("read", "find-and-read", f"{mod.path}:{f.name}", [
                f"Find {f.name} and tell me what it does.", f"Where is `{f.name}` and what does it do?",
                f"Look up the function {f.name} and explain it briefly.",
                f"I need to understand {f.name}: where is it, and what is it for?"],
                first_grep,
                ans_two, n_steps=2))
    if not f.name.startswith("_") and f.body_line - f.def_line <= 12:
        def ans_sig(rs: list[Any], f: Func = f) -> str | None:
            text = rs[0].text.rstrip()
            try:
                node = ast.parse(textwrap.dedent(text) + "\n" + " " * 0 + "    pass\n").body[0]
            except (SyntaxError, IndexError, ValueError):
                try:
                    node = ast.parse(textwrap.dedent(text + "\n    pass\n")).body[0]
                except (SyntaxError, IndexError, ValueError):
                    return None
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return None
            params = parameters(node)
            name = f"{f.cls}.{f.name}" if f.is_method else f.name
            if not params:
                return f"`{name}` takes no arguments" + (" besides `self`." if f.is_method else ".")
            return f"`{name}` takes {join_all(params, 12)}."
        name = f"{f.cls}.{f.name}" if f.is_method else f.name
        out.append(Candidate("read", "signature", f"{mod.path}:{name}", [
            f"What arguments does `{name}` take?", f"What is the signature of {name} in {mod.path}?",
            f"Which parameters does {name} accept?", f"How do I call `{name}`, which parameters does it have?"],
            [("read_file", {"path": mod.path, "start_line": f.def_line, "end_line": f.body_line - 1})], ans_sig))
    return out
