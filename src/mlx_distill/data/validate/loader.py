"""Records of JSONL files, located (file, line, split), with a schema finding for each bad line."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable

from ...errors import ERROR, Finding, InputError
from ...io import read_jsonl
from ...schema import parse_record
from .rules import SPLITS, Located, no_gc, split_of


def load_located(paths: Iterable[str | os.PathLike]) -> tuple[list[Located], list[Finding], list[str]]:
    """Records of JSONL files (directories: their *.jsonl), with schema findings for bad lines."""
    with no_gc():
        return _load_located(paths)


def _load_located(paths: Iterable[str | os.PathLike]) -> tuple[list[Located], list[Finding], list[str]]:
    from ..inputs import iter_input_files

    items: list[Located] = []
    findings: list[Finding] = []
    shared_tools: list[list[dict[str, Any]]] = []  # one object per distinct tool list: most records share one
    files = iter_input_files(paths, (".jsonl",))
    # train before valid before test: an overlap is reported on the later split's record
    files = sorted(files, key=lambda f: (str(f.parent), SPLITS.index(f.stem) if f.stem in SPLITS else -1, f.name))
    for f in files:
        errors: list[InputError] = []
        split = split_of(str(f))
        for lineno, obj in read_jsonl(f, errors=errors, allow_empty=False):
            try:
                rec = parse_record(obj, path=f, line=lineno)
            except InputError as e:
                errors.append(e)
                continue
            if rec.tools:
                same = next((t for t in shared_tools if t == rec.tools), None)
                if same is None:
                    shared_tools.insert(0, rec.tools)
                    del shared_tools[8:]
                else:
                    rec.tools = same
            items.append(Located(rec, str(f), lineno, split))
        for err in errors:
            findings.append(replace(err.finding, rule="schema", path=str(f), severity=ERROR))
    return items, findings, [str(f) for f in files]
