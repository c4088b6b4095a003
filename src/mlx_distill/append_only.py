"""Append-only JSON-lines files that survive SIGKILL: each append is one fsynced line
(`io.append_jsonl`), and a torn last line (a write cut short by a kill) is cut off when the file is
opened again. Any other damaged line is not a kill's doing: readers name it (file and line) instead of
dropping it, so no total changes without a word. Rows are read with `jsonlines` and `io.parse_json_line`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import jsonlines

from .errors import InputError
from .io import check_regular_file, line_refusal, parse_json_line


def repair_tail(path: str | os.PathLike) -> int:
    """Truncate a torn last line (no newline, or not JSON); returns the bytes removed (0 when intact)."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, "rb+") as f:
        data = f.read()
        if not data:
            return 0
        cut = len(data)
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
        else:
            last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
            try:
                jsonlines.Reader([data[last_start:]], loads=json.loads).read(allow_none=True)
            except jsonlines.InvalidLineError:
                cut = last_start
        if cut == len(data):
            return 0
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
        return len(data) - cut


def read_located(
    path: str | os.PathLike, *, rule: str = "jsonl", skipped: list[InputError] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for every complete row. A torn last line (no newline yet: a writer may be
    mid-append) is left alone; a damaged line anywhere else (not JSON, invalid UTF-8, not an object)
    raises an InputError naming the file and line, or, with `skipped` given, is recorded there and
    skipped. A FIFO or device is refused before it is opened."""
    path = Path(path)
    if not path.exists():
        return
    check_regular_file(path, rule=rule)
    with open(path, "rb") as f:
        at = 0  # the line the reader last took: it takes one line per row (blank lines skipped)

        def complete() -> Iterator[bytes]:
            nonlocal at
            for at, line in enumerate(f, start=1):
                if line.endswith(b"\n"):  # only the last line can lack one
                    yield line

        reader = jsonlines.Reader(complete(), loads=parse_json_line)
        while True:
            row = None
            try:
                row = reader.read(skip_empty=True)
                problem = None if isinstance(row, dict) else f"expected a JSON object, got {type(row).__name__}"
            except EOFError:
                return
            except jsonlines.InvalidLineError as e:
                problem = line_refusal(e)[0]
            if isinstance(row, dict) and problem is None:
                yield at, row
                continue
            err = InputError(f"damaged line: {problem}", path=path, line=at, rule=rule)
            if skipped is None:
                raise err from None
            skipped.append(err)


def read_rows(path: str | os.PathLike, *, rule: str = "jsonl") -> Iterator[dict[str, Any]]:
    """Every complete row (`read_located` without the line numbers: a damaged line raises)."""
    for _, row in read_located(path, rule=rule):
        yield row
