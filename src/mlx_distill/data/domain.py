"""Domain examples mined from real repositories.

The miner reads a repository (Python through `ast`: modules, classes, functions, decorators, imports,
constants; plus Markdown headings and config keys of other text files), turns what it finds into
candidate questions, and answers each one by really running the agent's tools (`tools.Workspace`)
on that repository. Every tool result in a record is real output; every final answer is computed
from those results (names, counts, line numbers). A candidate whose result is an error, is empty
where it should not be, or is too long, is skipped.

Selection is deterministic for a seed: candidates are shuffled per category with `random.Random(seed)`
and taken round-robin across categories, so a limit keeps the categories balanced.
"""

from __future__ import annotations

import ast
import os
import random
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..io import InputError
from ..schema import Record
from ..tools import CommandOutput, GrepHit, ToolResult, Workspace
from .common import build_record, normalize_question, stable_id, tool_call

SOURCE = "domain"
CATEGORIES: tuple[str, ...] = ("search", "read", "count", "structure", "run", "write")
TEXT_SUFFIXES = (".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".ini")


# ---- facts -------------------------------------------------------------------------------

@dataclass
class Func:
    name: str
    path: str
    lineno: int  # first line, decorators included
    def_line: int
    end: int
    body_line: int  # first line of the body (after the signature)
    doc: str | None
    decorators: list[Any]
    is_method: bool = False
    cls: str | None = None


@dataclass
class Cls:
    name: str
    path: str
    lineno: int
    def_line: int
    end: int
    doc: str | None
    doc_end: int | None
    bases: list[str]
    methods: list[str]
    decorators: list[Any]


@dataclass
class Module:
    path: str
    lines: int
    doc: str | None
    doc_end: int | None
    imports: list[str]  # top-level module names imported absolutely
    functions: list[Func] = field(default_factory=list)
    classes: list[Cls] = field(default_factory=list)
    constants: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class TextFile:
    path: str
    lines: int
    headings: list[tuple[int, int, str]] = field(default_factory=list)  # (line, level, title)
    keys: list[tuple[int, str]] = field(default_factory=list)  # config keys (line, key)


@dataclass
class Repo:
    root: Path
    name: str
    scopes: list[str]  # tool paths to search under ("." or include dirs/files)
    modules: list[Module] = field(default_factory=list)
    texts: list[TextFile] = field(default_factory=list)
    dirs: list[Any] = field(default_factory=list)

    def scope_of(self, path: str) -> str:
        for s in self.scopes:
            if s == "." or path == s or path.startswith(s.rstrip("/") + "/"):
                return s
        return "."


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression
        return ""


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    para = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in para.splitlines()).strip() or None


def _parse_module(rel: str, text: str) -> Module | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    doc_node = tree.body[0] if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(
        getattr(tree.body[0], "value", None), ast.Constant) and isinstance(tree.body[0].value.value, str) else None
    mod = Module(rel, text.count("\n") + (0 if text.endswith("\n") else 1), ast.get_docstring(tree),
                 doc_node.end_lineno if doc_node else None, [])
    for node in tree.body:
        if isinstance(node, ast.Import):
            mod.imports.extend(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mod.imports.append(node.module.split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mod.functions.append(_func(node, rel))
        elif isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            cdoc = node.body[0] if node.body and isinstance(node.body[0], ast.Expr) and isinstance(
                getattr(node.body[0], "value", None), ast.Constant) else None
            c = Cls(node.name, rel, min([node.lineno] + [d.lineno for d in node.decorator_list]), node.lineno,
                    node.end_lineno or node.lineno, ast.get_docstring(node), cdoc.end_lineno if cdoc else None,
                    [_decorator_name(b) for b in node.bases], [m.name for m in methods],
                    [_decorator_name(d) for d in node.decorator_list])
            mod.classes.append(c)
            for m in methods:
                f = _func(m, rel)
                f.is_method, f.cls = True, node.name
                mod.functions.append(f)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", t.id):
                    mod.constants.append((t.id, node.lineno))
    return mod


def _func(node: ast.FunctionDef | ast.AsyncFunctionDef, rel: str) -> Func:
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    body_line = node.body[0].lineno if node.body else node.lineno
    return Func(node.name, rel, start, node.lineno, node.end_lineno or node.lineno, body_line,
                ast.get_docstring(node), [_decorator_name(d) for d in node.decorator_list])


_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_KEY = re.compile(r"^([A-Za-z_][\w.-]{1,40})\s*[:=]\s*(\S.*)?$")


def _parse_text(rel: str, text: str) -> TextFile:
    tf = TextFile(rel, text.count("\n") + (0 if text.endswith("\n") else 1))
    in_fence = False
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if rel.endswith((".md", ".rst", ".txt")):
            m = _HEADING.match(line)
            if m:
                tf.headings.append((i, len(m.group(1)), m.group(2).strip("` ")))
        else:
            m = _KEY.match(line)
            if m and m.group(2) and not line.startswith((" ", "\t", "#", "[")):
                tf.keys.append((i, m.group(1)))
    return tf


def scan_repo(root: str | os.PathLike, include: Sequence[str] | None = None) -> Repo:
    """Facts about a repository, from the files `list_files` shows (hidden and cache dirs skipped)."""
    from ..tools import Workspace

    root = Path(root)
    if not root.is_dir():
        raise InputError("not a directory", path=root)
    ws = Workspace(root, writable=False, max_output_chars=10_000_000)
    scopes = [s.strip("/") or "." for s in include] if include else ["."]
    scopes = [s for s in scopes if (root / s).exists()]
    if not scopes:
        raise InputError(f"none of the include paths exist: {', '.join(include or [])}", path=root)
    name = root.resolve().name
    repo = Repo(root, name, scopes)
    files: list[str] = []
    for s in scopes:
        listed = ws.list_files(s)
        if listed.ok:
            files.extend(listed.data.paths)
    dirs = set()
    for rel in sorted(set(files)):
        p = root / rel
        parent = str(Path(rel).parent)
        if parent != ".":
            dirs.add(parent)
        try:
            if p.stat().st_size > 400_000:
                continue
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if rel.endswith(".py"):
            mod = _parse_module(rel, text)
            if mod:
                repo.modules.append(mod)
        elif rel.endswith(TEXT_SUFFIXES):
            repo.texts.append(_parse_text(rel, text))
    repo.dirs = sorted(dirs)
    return repo


# ---- wording -------------------------------------------------------------------------------

def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _join(items: Sequence[str], limit: int = 10) -> str:
    items = list(items)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _locations(hits: Sequence[GrepHit], limit: int = 8) -> str:
    by_file: dict[str, list[int]] = defaultdict(list)
    for h in hits:
        by_file[h.path].append(h.line)
    parts = [f"`{p}` (line{'s' if len(ls) > 1 else ''} {', '.join(map(str, ls[:6]))}{', ...' if len(ls) > 6 else ''})"
             for p, ls in by_file.items()]
    return _join(parts, limit)


def _sentence(doc: str | None) -> str | None:
    para = _first_paragraph(doc)
    if not para:
        return None
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    s = m.group(1) if m else para
    return s if len(s) <= 300 else s[:297].rsplit(" ", 1)[0] + "..."


# ---- candidates --------------------------------------------------------------------------

Step = tuple[str, dict[str, Any]]


@dataclass
class Candidate:
    category: str
    kind: str
    key: str
    questions: Sequence[str]
    steps: Sequence[Step] | Callable[[list[Any]], Step | None]  # given the data of the results so far
    answer: Callable[[list[Any]], str | None]  # given the data of every result (tools.ToolData)
    n_steps: int = 1


def _steps_list(c: Candidate) -> list[Step]:
    return list(c.steps) if not callable(c.steps) else []


def _func_candidates(repo: Repo, mod: Module, f: Func) -> list[Candidate]:
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
            return f"There are {len(hits)} definitions of `{short}`: {_locations(hits)}."
        if not f.is_method:
            out.append(Candidate("search", "def-location", f"{mod.path}:{f.name}", [
                f"Where is `{f.name}` defined?", f"Which module contains def {f.name}?",
                f"Find the definition of {f.name}.", f"In which module is `{f.name}` implemented?",
                f"Where can I find def {f.name}?"],
                [("grep", {"pattern": pattern, "path": scope, "glob": "*.py"})], ans_where))
    lines = f.end - f.lineno + 1
    if f.doc and lines <= 45 and not f.name.startswith("_"):
        summary = _sentence(f.doc)

        def ans_read(rs: list[Any], f: Func = f) -> str | None:
            excerpt = rs[-1].text
            try:
                node = ast.parse(textwrap.dedent(excerpt)).body[0]
            except (SyntaxError, IndexError, ValueError):
                return None
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return None
            doc = _sentence(ast.get_docstring(node))
            if not doc:
                return None
            sig = _signature(node)
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
                lambda rs, f=f, scope=scope: (("grep", {"pattern": rf"def {f.name}\b", "path": scope,
                                                          "glob": "*.py"}) if not rs else grep_then_read(rs)),
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
            params = _params(node)
            name = f"{f.cls}.{f.name}" if f.is_method else f.name
            if not params:
                return f"`{name}` takes no arguments" + (" besides `self`." if f.is_method else ".")
            return f"`{name}` takes {_join(params, 12)}."
        name = f"{f.cls}.{f.name}" if f.is_method else f.name
        out.append(Candidate("read", "signature", f"{mod.path}:{name}", [
            f"What arguments does `{name}` take?", f"What is the signature of {name} in {mod.path}?",
            f"Which parameters does {name} accept?", f"How do I call `{name}`, which parameters does it have?"],
            [("read_file", {"path": mod.path, "start_line": f.def_line, "end_line": f.body_line - 1})], ans_sig))
    return out


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = node.args
    out = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for arg, d in zip(positional, defaults):
        if arg.arg in ("self", "cls"):
            continue
        out.append(_param(arg, d))
    if a.vararg:
        out.append(f"`*{a.vararg.arg}`")
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append(_param(arg, d) + " (keyword-only)")
    if a.kwarg:
        out.append(f"`**{a.kwarg.arg}`")
    return out


def _param(arg: ast.arg, default: ast.expr | None) -> str:
    s = arg.arg
    if arg.annotation is not None:
        s += f": {ast.unparse(arg.annotation)}"
    if default is not None:
        d = ast.unparse(default)
        s += f" = {d if len(d) <= 30 else d[:27] + '...'}"
    return f"`{s}`"


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    names = []
    for p in _params(node):
        names.append(p.strip("`").split(":")[0].split(" =")[0].replace(" (keyword-only)", "").strip("`"))
    return f"{node.name}({', '.join(names)})"


def _class_candidates(repo: Repo, mod: Module, c: Cls) -> list[Candidate]:
    out = []
    scope = repo.scope_of(mod.path)

    def ans_where(rs: list[Any], c: Cls = c) -> str | None:
        hits = [h for h in rs[0].hits if re.match(rf"\s*class {c.name}\b", h.text)]
        if not hits:
            return None
        if len(hits) == 1:
            return f"The class `{c.name}` is defined in `{hits[0].path}` at line {hits[0].line}."
        return f"`{c.name}` is defined {len(hits)} times: {_locations(hits)}."
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
        return f"`{c.name}` inherits from {_join([f'`{b}`' for b in bases])} ({hits[0].path}, line {hits[0].line})."
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
            return f"`{c.name}` has {_plural(len(ms), 'method')}: {_join([f'`{m}`' for m in ms], 15)}."
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
            doc = _sentence(ast.get_docstring(node)) if isinstance(node, ast.ClassDef) else None
            return f"`{c.name}` ({c.path}, line {c.def_line}): {doc}" if doc else None
        out.append(Candidate("read", "class-doc", f"{mod.path}:{c.name}", [
            f"What is the {c.name} class for?", f"Describe the class `{c.name}` in {mod.path}.",
            f"What does `{c.name}` represent?"],
            [("read_file", {"path": mod.path, "start_line": c.lineno, "end_line": c.doc_end})], ans_doc))
    return out


def _module_candidates(repo: Repo, mod: Module) -> list[Candidate]:
    out = []
    p = mod.path
    if mod.doc and mod.doc_end:
        def ans(rs: list[Any], p: str = p) -> str | None:
            try:
                doc = ast.get_docstring(ast.parse(rs[0].text))
            except (SyntaxError, ValueError):
                return None
            s = _sentence(doc)
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
            return f"`{p}` imports {_plural(len(seen), 'module')}: {_join([f'`{x}`' for x in seen], 15)}."
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
            return f"`{p}` defines {_plural(len(names), 'top-level function')}: {_join([f'`{n}`' for n in names], 15)}."
        out.append(Candidate("count", "count-functions", p, [
            f"How many top-level functions does {p} define?", f"Count the module-level functions in `{p}`.",
            f"Which functions are defined at the top level of {p}, and how many are there?"],
            [("grep", {"pattern": r"^(async )?def ", "path": p})], ans_funcs))
    if mod.classes:
        def ans_classes(rs: list[Any], p: str = p) -> str | None:
            hits = [(h.line, m.group(1)) for h in rs[0].hits for m in [re.match(r"class\s+(\w+)", h.text)] if m]
            if not hits:
                return None
            return (f"{_plural(len(hits), 'class', 'classes')} in `{p}`: "
                    f"{_join([f'`{n}` (line {ln})' for ln, n in hits], 15)}.")
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


def _repo_candidates(repo: Repo) -> list[Candidate]:
    out: list[Candidate] = []
    py_dirs = sorted({str(Path(m.path).parent) for m in repo.modules if str(Path(m.path).parent) != "."})
    for d in py_dirs:
        def ans_count(rs: list[Any], d: str = d) -> str | None:
            files = [x for x in rs[0].paths if x.endswith(".py")]
            if not files:
                return None
            direct = [f for f in files if str(Path(f).parent) == d]
            extra = f" ({len(direct)} directly in it, the rest in subdirectories)" if len(direct) != len(files) else ""
            return f"There are {_plural(len(files), 'Python file')} under `{d}`{extra}."
        out.append(Candidate("count", "count-py-files", d, [
            f"How many Python files are in {d}?", f"Count the .py files under `{d}`.",
            f"How many Python modules does {d} contain, subdirectories included?"],
            [("list_files", {"path": d, "pattern": "*.py"})], ans_count))

        def ans_list(rs: list[Any], d: str = d) -> str | None:
            files = list(rs[0].paths)
            if not files or len(files) > 40:
                return None
            shown = [f"`{f[len(d) + 1:] if f.startswith(d + '/') else f}`" for f in files]
            return f"`{d}` contains {_plural(len(files), 'file')}: {_join(shown, 20)}."
        out.append(Candidate("structure", "list-dir", d, [
            f"What files are in {d}?", f"List the contents of `{d}`.", f"Show me what's under {d}.",
            f"Which files does the {d} directory hold?"],
            [("list_files", {"path": d})], ans_list))
    # importers of absolutely imported top-level modules used by 2+ files
    users: dict[str, set[str]] = defaultdict(set)
    for m in repo.modules:
        for imp in set(m.imports):
            if imp != "__future__":
                users[imp].add(m.path)
    for imp, files in sorted(users.items()):
        if len(files) < 2:
            continue
        scope = repo.scopes[0] if len(repo.scopes) == 1 else "."

        def ans_importers(rs: list[Any], imp: str = imp) -> str | None:
            hits = rs[0].hits
            files_ = list(dict.fromkeys(h.path for h in hits))
            if not files_:
                return f"No file imports `{imp}`."
            return f"{_plural(len(files_), 'file')} import{'s' if len(files_) == 1 else ''} `{imp}`: " \
                   f"{_join([f'`{f}`' for f in files_], 12)}."
        out.append(Candidate("search", "importers", imp, [
            f"Which files import {imp}?", f"Where is the `{imp}` module imported?",
            f"What depends on {imp}? List the files that import it.", f"Show me every import of {imp}."],
            [("grep", {"pattern": rf"^\s*(import {imp}\b|from {imp}(\.|\s+import\b))", "path": scope,
                       "glob": "*.py"})], ans_importers))
    # decorators used 2+ times
    decos: dict[str, int] = defaultdict(int)
    for m in repo.modules:
        for f in m.functions:
            for d in f.decorators:
                decos[d] += 1
        for c in m.classes:
            for d in c.decorators:
                decos[d] += 1
    for d, n in sorted(decos.items()):
        if n < 2 or not d or len(d) > 40:
            continue
        scope = repo.scopes[0] if len(repo.scopes) == 1 else "."

        def ans_deco(rs: list[Any], d: str = d) -> str | None:
            hits = rs[0].hits
            if not hits:
                return None
            return f"`@{d}` is used {_plural(len(hits), 'time')}: {_locations(hits)}."
        out.append(Candidate("search", "decorator", d, [
            f"Where is the @{d} decorator used?", f"Which places use `@{d}`?",
            f"Find every use of the @{d} decorator.", f"How often is @{d} applied, and where?"],
            [("grep", {"pattern": rf"^\s*@{re.escape(d)}\b", "path": scope, "glob": "*.py"})], ans_deco))
    # TODO/FIXME (a real "No matches." is a fine answer)
    for scope in repo.scopes:
        def ans_todo(rs: list[Any], scope: str = scope) -> str | None:
            hits = rs[0].hits
            if not hits:
                return f"None: there are no TODO or FIXME comments under `{scope}`." if scope != "." else \
                    "None: there are no TODO or FIXME comments in the workspace."
            if not hits:
                return None
            return f"{_plural(len(hits), 'TODO/FIXME comment')}: {_locations(hits)}."
        where = "the workspace" if scope == "." else scope
        out.append(Candidate("count", "todos", scope, [
            f"Are there any TODO or FIXME comments in {where}?", f"How many TODOs are left in {where}?",
            f"List the open TODO/FIXME notes in {where}."],
            [("grep", {"pattern": r"\b(TODO|FIXME)\b", "path": scope})], ans_todo))
    # classes per package directory
    for d in py_dirs:
        if not any(str(Path(m.path).parent) == d and m.classes for m in repo.modules):
            continue

        def ans_cls(rs: list[Any], d: str = d) -> str | None:
            hits = [(h.path, h.line, m.group(1)) for h in rs[0].hits for m in [re.match(r"class\s+(\w+)", h.text)]
                    if m]
            if not hits:
                return None
            return f"{_plural(len(hits), 'top-level class', 'top-level classes')} under `{d}`: " \
                   f"{_join([f'`{n}` ({p})' for p, _l, n in hits], 12)}."
        out.append(Candidate("count", "count-classes", d, [
            f"How many classes are defined under {d}?", f"Count the top-level classes in `{d}`.",
            f"How many classes does the {d} package have?"],
            [("grep", {"pattern": r"^class ", "path": d, "glob": "*.py"})], ans_cls))
    # longest file of a directory (wc over its Python files)
    for d in py_dirs:
        files = sorted(m.path for m in repo.modules if str(Path(m.path).parent) == d)
        if not 2 <= len(files) <= 12:
            continue

        def ans_longest(rs: list[Any], d: str = d) -> str | None:
            rows = [(int(m.group(1)), m.group(2)) for ln in rs[0].output.splitlines()
                    for m in [re.match(r"\s*(\d+)\s+(\S+)$", ln)] if m and m.group(2) != "total"]
            total = re.search(r"(\d+)\s+total$", rs[0].output, re.MULTILINE)
            if not rows:
                return None
            n, longest = max(rows)
            tail = f"; {total.group(1)} lines in all" if total else ""
            return f"The longest is `{longest}` with {n} lines (of {len(rows)} files{tail})."
        out.append(Candidate("run", "longest-file", d, [
            f"Which Python file in {d} is the longest?", f"What's the biggest module in `{d}` by line count?",
            f"Count the lines of the Python files in {d}: which one is largest?"],
            [("run_command", {"command": "wc -l " + " ".join(files)})], ans_longest))
    # symbol mentions counted with grep -c
    for m in repo.modules:
        for c in m.classes[:2]:
            def ans_c(rs: list[Any], name: str = c.name, p: str = m.path) -> str | None:
                mm = re.match(r"\d+", rs[0].output)
                if not mm:
                    return None
                n = int(mm.group(0))
                return f"{_plural(n, 'line')} of `{p}` mention{'s' if n == 1 else ''} `{name}`."
            out.append(Candidate("run", "grep-count", f"{m.path}:{c.name}", [
                f"How many lines of {m.path} mention {c.name}?",
                f"Use grep to count the lines with `{c.name}` in {m.path}."],
                [("run_command", {"command": f"grep -c {c.name} {m.path}"})], ans_c))
    # text files: headings and config keys
    for tf in repo.texts:
        heads = [h for h in tf.headings if h[1] >= 2]
        for k, (ln, level, title) in enumerate(heads[:6]):
            nxt = next((h[0] for h in tf.headings if h[0] > ln and h[1] <= level), tf.lines + 1)
            end = min(nxt - 1, ln + 30)
            if end - ln < 2:
                continue

            def ans_sec(rs: list[Any], title: str = title, p: str = tf.path) -> str | None:
                body = [x.strip() for x in rs[0].text.splitlines()[1:] if x.strip() and not x.strip().startswith(
                    ("```", "|", "#", "<"))]
                text = " ".join(body)
                m = re.match(r"(.+?[.!?:])(\s|$)", text)
                first = m.group(1) if m else text[:200]
                if len(first) < 20:
                    return None
                return f"Under \"{title}\", `{p}` says: {first}"
            out.append(Candidate("read", "doc-section", f"{tf.path}:{ln}", [
                f"What does {tf.path} say under \"{title}\"?", f"Summarize the \"{title}\" section of `{tf.path}`.",
                f"Read the {title} part of {tf.path}: what's the gist?"],
                [("read_file", {"path": tf.path, "start_line": ln, "end_line": end})], ans_sec))
        for ln, key in tf.keys[:5]:
            def ans_key(rs: list[Any], key: str = key, p: str = tf.path) -> str | None:
                hits = rs[0].hits
                if len(hits) != 1:
                    return None
                value = re.split(r"[:=]", hits[0].text, 1)[1].strip()
                if not value or len(value) > 100:
                    return None
                return f"`{key}` is `{value}` in `{p}` (line {hits[0].line})."
            out.append(Candidate("search", "config-key", f"{tf.path}:{key}", [
                f"In {tf.path}, what's the value of {key}?", f"Which value does `{tf.path}` give {key}?",
                f"Look up the {key} setting in {tf.path}."],
                [("grep", {"pattern": rf"^{re.escape(key)}\s*[:=]", "path": tf.path})], ans_key))
    # write: a README for a package directory without one, listing its modules from their docstrings
    for d in py_dirs:
        if (repo.root / d / "README.md").exists():
            continue
        mods = [m for m in repo.modules if str(Path(m.path).parent) == d and _sentence(m.doc)]
        if not 2 <= len(mods) <= 15:
            continue
        lines = [f"# {Path(d).name}", ""] + [f"- `{Path(m.path).name}`: {_sentence(m.doc)}" for m in mods]
        content = "\n".join(lines) + "\n"

        def ans_write(rs: list[Any], d: str = d, n: int = len(mods)) -> str | None:
            w = rs[0]
            return f"{'Created' if w.created else 'Overwrote'} `{w.path}` ({w.characters} characters), with one line per module for the " \
                   f"{n} documented modules of `{d}`."
        out.append(Candidate("write", "write-readme", d, [
            f"Write a README.md for {d} that lists its modules with a one-line description each.",
            f"Create {d}/README.md summarizing each module in `{d}` from its docstring."],
            [("write_file", {"path": f"{d}/README.md", "content": content})], ans_write))
    return out


def candidates(repo: Repo) -> list[Candidate]:
    out = _repo_candidates(repo)
    for mod in repo.modules:
        out.extend(_module_candidates(repo, mod))
        for c in mod.classes:
            out.extend(_class_candidates(repo, mod, c))
        for f in mod.functions:
            out.extend(_func_candidates(repo, mod, f))
    return out


# ---- running ------------------------------------------------------------------------------

@dataclass
class DomainOptions:
    seed: int = 0
    limit: int | None = None
    include: Sequence[str] | None = None
    max_result_chars: int = 1500
    categories: Sequence[str] | None = None
    run_commands: bool = True


class _ScratchWrites:
    """write_file really runs, in a scratch copy of the target's directory, so the repository is untouched."""

    def __init__(self) -> None:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="mlx-distill-domain-")

    def execute(self, args: dict[str, Any]) -> ToolResult:
        from ..tools import Workspace

        return Workspace(self._dir.name).execute("write_file", args)

    def close(self) -> None:
        self._dir.cleanup()


def _run(c: Candidate, ws: Workspace, scratch: _ScratchWrites,
         max_chars: int) -> tuple[list[Step], list[ToolResult]] | None:
    """The candidate's calls, really run; None when one fails, is cut short, or is longer than max_chars."""
    steps: list[Step] = []
    results: list[ToolResult] = []
    planned = _steps_list(c)
    n = len(planned) if planned else c.n_steps
    for i in range(n):
        step = planned[i] if planned else c.steps([r.data for r in results])  # type: ignore[operator]
        if step is None:
            return None
        name, args = step
        res = scratch.execute(args) if name == "write_file" else ws.execute(name, args)
        if not res.ok or res.truncated or getattr(res.data, "stopped_after", None) or len(res.text) > max_chars:
            return None
        if isinstance(res.data, CommandOutput) and res.data.exit_code != 0:
            if not (c.kind == "grep-count" and res.data.exit_code == 1):  # grep -c finding nothing
                return None
        steps.append(step)
        results.append(res)
    return steps, results


def generate_domain(paths: Iterable[str | os.PathLike], *, seed: int = 0, limit: int | None = None,
                    include: Sequence[str] | None = None, max_result_chars: int = 1500,
                    categories: Sequence[str] | None = None, run_commands: bool = True,
                    system_prompt: str | None = None) -> list[Record]:
    """Mine each repository in `paths` into tool-using records (see the module docstring)."""
    from ..prompting import DEFAULT_SYSTEM_PROMPT
    from ..tools import Workspace, tool_schemas

    tools = tool_schemas()
    rng = random.Random(seed)
    pools: dict[str, dict[str, list[tuple[Repo, Candidate]]]] = defaultdict(lambda: defaultdict(list))
    repos = []
    for p in paths:
        repo = scan_repo(p, include)
        repos.append(repo)
        for c in candidates(repo):
            if categories and c.category not in categories:
                continue
            if not run_commands and c.category == "run":
                continue
            pools[c.category][c.kind].append((repo, c))
    # Two-level round robin: categories in a fixed order, and within each, its kinds (templates) in a
    # seeded order, each kind's candidates shuffled; so a limit keeps both categories and kinds varied.
    streams: dict[str, list[list[tuple[Repo, Candidate]]]] = {}
    for cat in CATEGORIES:
        if cat not in pools:
            continue
        kinds = sorted(pools[cat])
        rng.shuffle(kinds)
        for k in kinds:
            rng.shuffle(pools[cat][k])
        streams[cat] = [pools[cat][k] for k in kinds]
    # The commands are the generator's own (wc, grep -c), never a model's: they run the same with or
    # without an OS sandbox, so a machine without one builds the same data.
    workspaces = {id(r): Workspace(r.root, writable=False, dangerously_unsandboxed=True) for r in repos}
    scratch = _ScratchWrites()
    records: list[Record] = []
    seen_q: set[str] = set()
    pos = {cat: [0] * len(st) for cat, st in streams.items()}
    turn = {cat: 0 for cat in streams}

    def next_from(cat: str) -> Record | None:
        st = streams[cat]
        while any(pos[cat][i] < len(st[i]) for i in range(len(st))):
            i = turn[cat] % len(st)
            turn[cat] += 1
            if pos[cat][i] >= len(st[i]):
                continue
            repo, c = st[i][pos[cat][i]]
            pos[cat][i] += 1
            rec = _make(repo, c, workspaces[id(repo)], scratch, rng, seen_q, tools,
                        system_prompt or DEFAULT_SYSTEM_PROMPT, max_result_chars)
            if rec is not None:
                return rec
        return None

    try:
        active = list(streams)
        while active and (limit is None or len(records) < limit):
            for cat in list(active):
                if limit is not None and len(records) >= limit:
                    break
                rec = next_from(cat)
                if rec is None:
                    active.remove(cat)
                else:
                    records.append(rec)
    finally:
        scratch.close()
    return records


def _make(repo: Repo, c: Candidate, ws: Any, scratch: _ScratchWrites, rng: random.Random, seen_q: set[str],
          tools: list[dict[str, Any]], system_prompt: str, max_chars: int) -> Record | None:
    phrasings = list(c.questions)
    rng.shuffle(phrasings)
    question = next((q for q in phrasings if normalize_question(q) not in seen_q), None)
    if question is None:
        return None
    ran = _run(c, ws, scratch, max_chars)
    if ran is None:
        return None
    steps, results = ran
    answer = c.answer([r.data for r in results])
    if not answer:
        return None
    seen_q.add(normalize_question(question))
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt},
                                      {"role": "user", "content": question}]
    for (name, args), res in zip(steps, results):
        messages.append({"role": "assistant", "content": "", "tool_calls": [tool_call(name, args)]})
        messages.append({"role": "tool", "name": name, "content": res.text})
    messages.append({"role": "assistant", "content": answer})
    return build_record(messages, tools, id=stable_id("domain", repo.name, c.kind, c.key, question),
                        source=SOURCE, category=c.category, label="tool", template=c.kind, repo=repo.name)
