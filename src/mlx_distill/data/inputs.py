"""Reading the data build's input files with line numbers: JSONL, a JSON array or a single JSON object
(`iter_json_items`), a YAML list (`load_yaml_items`), and the files named or found under directories
(`iter_input_files`). Every error is an `InputError` naming the file and line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import InputError
from ..io import MAX_LINE_BYTES, check_regular_file, parse_json_line, read_jsonl, read_text


def iter_json_items(path: str | os.PathLike, *, lenient: bool = False) -> Iterator[tuple[int, Any]]:
    """(line, object) for each item of a JSONL file, a JSON array, or a single JSON object.

    Arrays report the line where each element starts, so errors still name a line. With `lenient`, a
    bad JSONL line is yielded as (line, InputError) instead of raising. An empty file is an error."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if not path.is_file():
        raise InputError("not a regular file (expected a JSON or JSONL file)", path=path)
    with open(path, "rb") as f:
        head = f.read(4096).lstrip()
        f.seek(0)
        first = b""
        while not first.strip() and (line := f.readline(MAX_LINE_BYTES)):
            first = line
    if head.startswith(b"["):
        n = 0
        for n, item in enumerate(_iter_array(_read_text(path), path), 1):
            yield item
        if not n:
            err = InputError("the file is an empty JSON array (no items)", path=path, rule="empty")
            if not lenient:
                raise err
            yield 0, err
        return
    if head.startswith(b"{"):
        try:
            parse_json_line(first)
        except ValueError:
            try:  # one pretty-printed object
                yield 1, parse_json_line(_read_text(path))
                return
            except ValueError:
                pass
    errors: list[InputError] = []
    for lineno, obj in read_jsonl(path, errors=errors if lenient else None, allow_empty=False):
        yield from ((e.line or 0, e) for e in errors)
        errors.clear()
        yield lineno, obj
    yield from ((e.line or 0, e) for e in errors)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"invalid UTF-8 (byte offset {e.start})", path=path, rule="json") from None


def _iter_array(text: str, path: Path) -> Iterator[tuple[int, Any]]:
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    n = len(text)
    line = 1 + text.count("\n", 0, i)
    pos_line = i  # position up to which `line` is counted
    ws = re.compile(r"[\s,]*")
    while True:
        gap = ws.match(text, i)
        assert gap is not None  # the pattern matches the empty string
        i = gap.end()
        if i >= n:
            raise InputError("unterminated JSON array", path=path, line=line)
        if text[i] == "]":
            if text[i + 1:].strip():
                raise InputError("text after the closing ] of the JSON array (JSON Lines must not start with an "
                                 "array line)", path=path, line=1 + text.count("\n", 0, i), rule="json")
            return
        line += text.count("\n", pos_line, i)
        pos_line = i
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON ({e.msg})", path=path, line=1 + text.count("\n", 0, e.pos),
                             rule="json") from None
        except (ValueError, RecursionError) as e:  # digit limit, nesting
            raise InputError(f"invalid JSON ({type(e).__name__}: {str(e).split(';')[0]})", path=path, line=line,
                             rule="json") from None
        yield line, obj
        i = end


def load_yaml_items(path: Path) -> list[tuple[int, Any]]:
    """Items of a YAML list with the line each starts on (yaml node marks)."""
    import yaml

    text = read_text(path, rule="yaml")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(e, 'problem', e)}", path=path,
                         line=(mark.line + 1) if mark else None, rule="yaml") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise InputError("expected a YAML list of examples", path=path, line=1, rule="schema")
    return [(child.start_mark.line + 1, item) for child, item in zip(node.value, data)]


def iter_input_files(paths: Iterable[str | os.PathLike], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named, plus files with one of `suffixes` under directories named, sorted, hidden ones skipped."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and f.suffix in suffixes and not any(part.startswith(".") for part in rel):
                    out.append(f)
        elif p.exists():
            check_regular_file(p)
            out.append(p)
        else:
            raise InputError("not found", path=p)
    return out
