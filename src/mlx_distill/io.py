"""Atomic writes and line-numbered JSONL reading: a crash never leaves half a file,
and every parse error names the file and line."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


class InputError(ValueError):
    """Bad user input, located: file, line, record id, rule. Printed as one line by the CLI."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None,
                 line: int | None = None, record_id: str | None = None, rule: str | None = None):
        self.message, self.path, self.line, self.record_id, self.rule = message, path, line, record_id, rule
        super().__init__(self.location() + message)

    def location(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line else str(self.path))
        if self.record_id:
            parts.append(f"record {self.record_id}")
        if self.rule:
            parts.append(f"[{self.rule}]")
        return (" ".join(parts) + ": ") if parts else ""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _default_mode() -> int:
    """0o666 less the umask: the mode open() would give a new file (mkstemp's is 0o600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_NEW_FILE_MODE = _default_mode()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temp file in the same directory, fsync, then rename over the target.
    The file keeps the target's permission bits (a new one gets the umask's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> Path:
    """Atomically write rows (dicts, or pydantic models) as JSON lines."""
    lines = []
    for row in rows:
        if hasattr(row, "to_json"):
            row = row.to_json()
        elif hasattr(row, "model_dump"):
            row = row.model_dump(mode="json", exclude_none=True)
        lines.append(dumps_line(row))
    return atomic_write_text(path, "".join(line + "\n" for line in lines))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def append_jsonl(path: str | os.PathLike, row: Any) -> None:
    """Append one line and fsync: used by resumable jobs (metrics, teacher collection)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(dumps_line(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike, *, errors: list[InputError] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (line_number, object) for each non-blank line. A bad line raises InputError with its
    location, or, when an `errors` list is given, is recorded there and skipped."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                err = InputError(f"invalid JSON ({e.msg} at column {e.colno})", path=path, line=lineno, rule="json")
                if errors is None:
                    raise err from None
                errors.append(err)
