"""Append-only JSON-lines files that survive SIGKILL: each append is one fsynced line
(`io.append_jsonl`), and a torn last line (a write cut short by a kill) is cut off when the file is
opened again. Rows are read with `jsonlines` and Python's own `json.loads`: these are the program's own
files, so what `io.dumps_line` wrote (NaN included) reads back, and only the untrusted-input rules of
`io.read_jsonl` are left out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, cast

import jsonlines


def _reader(lines: Iterable[bytes]) -> jsonlines.Reader:
    return jsonlines.Reader(lines, loads=json.loads)


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
                _reader([data[last_start:]]).read(allow_none=True)
            except jsonlines.InvalidLineError:
                cut = last_start
        if cut == len(data):
            return 0
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
        return len(data) - cut


def read_rows(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Every complete row; a torn last line is skipped (a reader never repairs a file another process
    writes), even one cut inside a character, and so is any line that is not JSON."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as f:
        complete = (line for line in f if line.endswith(b"\n"))  # only the last line can lack one
        rows = _reader(complete).iter(allow_none=True, skip_empty=True, skip_invalid=True)
        yield from cast(Iterator[dict[str, Any]], rows)
