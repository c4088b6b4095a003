"""Append-only JSON-lines files that survive SIGKILL: each append is one fsynced line
(`io.append_jsonl`), and a torn last line (a write cut short by a kill) is cut off when the file is
opened again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator


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
                json.loads(data[last_start:])
            except ValueError:
                cut = last_start
        if cut == len(data):
            return 0
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
        return len(data) - cut


def read_rows(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Every complete row; a torn last line is skipped (a reader never repairs a file another process writes)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n") or not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                continue
