"""Questions across a repository: directories, importers, decorators, TODOs, file sizes, doc sections,
config keys, and a README to write."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from .candidate import Candidate
from .scanner import Repo
from .wording import join_all, locations, plural, sentence


def repo_candidates(repo: Repo) -> list[Candidate]:
    out: list[Candidate] = []
    py_dirs = sorted({str(Path(m.path).parent) for m in repo.modules if str(Path(m.path).parent) != "."})
    for d in py_dirs:
        def ans_count(rs: list[Any], d: str = d) -> str | None:
            files = [x for x in rs[0].paths if x.endswith(".py")]
            if not files:
                return None
            direct = [f for f in files if str(Path(f).parent) == d]
            extra = f" ({len(direct)} directly in it, the rest in subdirectories)" if len(direct) != len(files) else ""
            return f"There are {plural(len(files), 'Python file')} under `{d}`{extra}."
        out.append(Candidate("count", "count-py-files", d, [
            f"How many Python files are in {d}?", f"Count the .py files under `{d}`.",
            f"How many Python modules does {d} contain, subdirectories included?"],
            [("list_files", {"path": d, "pattern": "*.py"})], ans_count))

        def ans_list(rs: list[Any], d: str = d) -> str | None:
            files = list(rs[0].paths)
            if not files or len(files) > 40:
                return None
            shown = [f"`{f[len(d) + 1:] if f.startswith(d + '/') else f}`" for f in files]
            return f"`{d}` contains {plural(len(files), 'file')}: {join_all(shown, 20)}."
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
            return f"{plural(len(files_), 'file')} import{'s' if len(files_) == 1 else ''} `{imp}`: " \
                   f"{join_all([f'`{f}`' for f in files_], 12)}."
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
            return f"`@{d}` is used {plural(len(hits), 'time')}: {locations(hits)}."
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
            return f"{plural(len(hits), 'TODO/FIXME comment')}: {locations(hits)}."
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
            return f"{plural(len(hits), 'top-level class', 'top-level classes')} under `{d}`: " \
                   f"{join_all([f'`{n}` ({p})' for p, _l, n in hits], 12)}."
        out.append(Candidate("count", "count-classes", d, [
            f"How many classes are defined under {d}?", f"Count the top-level classes in `{d}`.",
            f"How many classes does the {d} package have?"],
            [("grep", {"pattern": r"^class ", "path": d, "glob": "*.py"})], ans_cls))
    # longest file of a directory (wc over its Python files)
    for d in py_dirs:
        py_files = sorted(m.path for m in repo.modules if str(Path(m.path).parent) == d)
        if not 2 <= len(py_files) <= 12:
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
            [("run_command", {"command": "wc -l " + " ".join(py_files)})], ans_longest))
    # symbol mentions counted with grep -c
    for m in repo.modules:
        for c in m.classes[:2]:
            def ans_c(rs: list[Any], name: str = c.name, p: str = m.path) -> str | None:
                mm = re.match(r"\d+", rs[0].output)
                if not mm:
                    return None
                n = int(mm.group(0))
                return f"{plural(n, 'line')} of `{p}` mention{'s' if n == 1 else ''} `{name}`."
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
        mods = [m for m in repo.modules if str(Path(m.path).parent) == d and sentence(m.doc)]
        if not 2 <= len(mods) <= 15:
            continue
        lines = [f"# {Path(d).name}", ""] + [f"- `{Path(m.path).name}`: {sentence(m.doc)}" for m in mods]
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
