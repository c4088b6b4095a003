"""Facts about a repository: Python through `ast` (modules, classes, functions, decorators, imports,
constants), Markdown headings and config keys of other text files, over the files `list_files` shows."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ....errors import InputError
from ....tools import FileList, Workspace

TEXT_SUFFIXES = (".md", ".rst", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".ini")


@dataclass
class Func:
    name: str
    path: str
    lineno: int  # first line, decorators included
    def_line: int
    end: int
    body_line: int  # first line of the body (after the signature)
    doc: str | None
    decorators: list[str]
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
    decorators: list[str]


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
    dirs: list[str] = field(default_factory=list)

    def scope_of(self, path: str) -> str:
        for s in self.scopes:
            if s == "." or path == s or path.startswith(s.rstrip("/") + "/"):
                return s
        return "."


def decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression
        return ""


def first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    para = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in para.splitlines()).strip() or None


def parse_module(rel: str, text: str) -> Module | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    first = tree.body[0] if tree.body else None
    doc_node = first if isinstance(first, ast.Expr) and isinstance(
        first.value, ast.Constant) and isinstance(first.value.value, str) else None
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
                    [decorator_name(b) for b in node.bases], [m.name for m in methods],
                    [decorator_name(d) for d in node.decorator_list])
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
                ast.get_docstring(node), [decorator_name(d) for d in node.decorator_list])


_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")
_KEY = re.compile(r"^([A-Za-z_][\w.-]{1,40})\s*[:=]\s*(\S.*)?$")


def parse_text(rel: str, text: str) -> TextFile:
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
            assert isinstance(listed.data, FileList)  # list_files succeeded
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
            mod = parse_module(rel, text)
            if mod:
                repo.modules.append(mod)
        elif rel.endswith(TEXT_SUFFIXES):
            repo.texts.append(parse_text(rel, text))
    repo.dirs = sorted(dirs)
    return repo
