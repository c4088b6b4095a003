"""Questions about one module: its purpose, imports, functions, classes, length, constants."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from .candidate import Candidate
from .scanner import Module, Repo
from .wording import join_all, plural, sentence


def module_candidates(repo: Repo, mod: Module) -> list[Candidate]:
    out = []
    p = mod.path
    if mod.doc and mod.doc_end:
        def ans(rs: list[Any], p: str = p) -> str | None:
            try:
                doc = ast.get_docstring(ast.parse(rs[0].text))
            except (SyntaxError, ValueError):
                return None
            s = sentence(doc)
            return f"`{p}`: {s}" if s else None
        out.append(Candidate("read", "module-doc", p, [
            f"What is {p} for?", f"What's the purpose of `{p}`?", f"Give me a one-line summary of {p}.",
            f"What does the module {Path(p).stem} do?"],
            [("read_file", {"path": p, "start_line": 1, "end_line": mod.doc_end})], ans))
    if mod.imports:
        def ans_imp(rs: list[Any], p: str = p) -> str | None:
            mods = []
            for text in (h.text for h in rs[0].hits):
                m = re.match(r"\s*(?:from\s+(\S+)\s+import|import\s+(.+))", text)
                if not m:
                    continue
                if m.group(1):
                    mods.append(m.group(1))
                else:
                    mods.extend(x.strip().split(" as ")[0] for x in m.group(2).split(","))
            seen = list(dict.fromkeys(x for x in mods if x and x != "__future__"))
            if not seen:
                return None
            return f"`{p}` imports {plural(len(seen), 'module')}: {join_all([f'`{x}`' for x in seen], 15)}."
        out.append(Candidate("structure", "module-imports", p, [
            f"What does {p} import?", f"Which modules does `{p}` depend on?", f"List the imports in {p}."],
            [("grep", {"pattern": r"^(import|from) ", "path": p})], ans_imp))
    tops = [f for f in mod.functions if not f.is_method]
    if tops:
        def ans_funcs(rs: list[Any], p: str = p) -> str | None:
            names = [m.group(1) for h in rs[0].hits for m in [re.match(r"(?:async\s+)?def\s+(\w+)", h.text)]
                     if m]
            if not names:
                return None
            return f"`{p}` defines {plural(len(names), 'top-level function')}: {join_all([f'`{n}`' for n in names], 15)}."
        out.append(Candidate("count", "count-functions", p, [
            f"How many top-level functions does {p} define?", f"Count the module-level functions in `{p}`.",
            f"Which functions are defined at the top level of {p}, and how many are there?"],
            [("grep", {"pattern": r"^(async )?def ", "path": p})], ans_funcs))
    if mod.classes:
        def ans_classes(rs: list[Any], p: str = p) -> str | None:
            hits = [(h.line, m.group(1)) for h in rs[0].hits for m in [re.match(r"class\s+(\w+)", h.text)] if m]
            if not hits:
                return None
            return (f"{plural(len(hits), 'class', 'classes')} in `{p}`: "
                    f"{join_all([f'`{n}` (line {ln})' for ln, n in hits], 15)}.")
        out.append(Candidate("structure", "module-classes", p, [
            f"Which classes are defined in {p}?", f"What classes does `{p}` contain?",
            f"List the top-level classes of {p}."],
            [("grep", {"pattern": r"^class ", "path": p})], ans_classes))

    def ans_wc(rs: list[Any], p: str = p) -> str | None:
        m = re.match(r"\s*(\d+)\s+(\S+)", rs[0].output) if rs[0].exit_code == 0 else None
        return f"`{m.group(2)}` has {m.group(1)} lines." if m else None
    out.append(Candidate("run", "line-count", p, [
        f"How many lines is {p}?", f"What's the line count of `{p}`?", f"How long is {p} in lines?",
        f"Run wc on {p}: how many lines does it have?"],
        [("run_command", {"command": f"wc -l {p}"})], ans_wc))
    for const, ln in mod.constants[:3]:
        def ans_const(rs: list[Any], const: str = const) -> str | None:
            hits = [h for h in rs[0].hits if re.match(rf"\s*{const}\s*(:[^=]*)?=", h.text)]
            if len(hits) != 1:
                return None
            pth, line, text = hits[0].path, hits[0].line, hits[0].text
            value = text.split("=", 1)[1].strip()
            if len(value) > 120 or not value or value in ("(", "[", "{"):
                return f"`{const}` is set in `{pth}` at line {line}."
            return f"`{const}` is set in `{pth}` at line {line}: `{const} = {value}`."
        out.append(Candidate("search", "constant", f"{p}:{const}", [
            f"Where is {const} set?", f"What is the value of `{const}`?", f"Where is the constant {const} defined?"],
            [("grep", {"pattern": rf"^\s*{const}\s*(:[^=]*)?=", "path": repo.scope_of(p), "glob": "*.py"})],
            ans_const))
    return out
