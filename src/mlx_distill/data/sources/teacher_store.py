"""The read side of a teacher store, for `data build`'s `teacher` source: the accepted records of a
store directory (`mlx-distill collect`) or of every segment of a shadow root. The writer
(`teacher.store.TeacherStore`) sits on the teacher floor above; the file names and the verdict a
record carries are defined here, once, so the data side reads a store without reaching up to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from ...append_only import read_located
from ...errors import InputError
from ...schema import Record, parse_record
from .registry import SourceRun, source

RECORDS_FILE, TURNS_FILE, BATCHES_FILE = "records.jsonl", "turns.jsonl", "batches.jsonl"


@dataclass(frozen=True)
class Verdict:
    """Whether a record may reach training; `reason` is a stable rule name (`tool-error`...), `detail` says why."""

    accepted: bool
    reason: str | None = None
    detail: str = ""

    @classmethod
    def accept(cls) -> "Verdict":
        return cls(True)

    @classmethod
    def reject(cls, reason: str, detail: str = "") -> "Verdict":
        return cls(False, reason, detail)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verdict_of(record: Record) -> Verdict:
    v = getattr(record.meta, "verdict", None) or {}
    return Verdict(bool(v.get("accepted")), v.get("reason"), v.get("detail", ""))


def shadow_segments(root: str | Path) -> list[Path]:
    """The segment directories of a shadow store (`economics.shadow`), oldest first."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()) if root.is_dir() else []


def read_store(root: str | Path, *, accepted: bool | None = True) -> Iterator[tuple[int, Record]]:
    """(line, record) of a store's records.jsonl without opening it for writing; accepted ones by default.
    What `data build`'s teacher source reads."""
    path = Path(root)
    path = path / RECORDS_FILE if path.is_dir() else path
    if not path.exists():
        raise InputError("teacher store not found (run `mlx-distill collect` first)", path=path)
    seen: set[str] = set()
    for lineno, row in read_located(path, rule="store"):
        rec = parse_record(row, path=path, line=lineno)
        key = getattr(rec.meta, "key", None) or rec.meta.id
        if key in seen:
            continue
        seen.add(key)
        if accepted is None or verdict_of(rec).accepted == accepted:
            yield lineno, rec


@source("teacher")
def read_teacher(spec: Any, run: SourceRun) -> list[Any]:
    """The accepted records of each store; a shadow root stands for each of its segments."""
    from ..validate import Located

    stores = [s for p in run.paths for s in (shadow_segments(p) or [p])]
    items = [
        Located(rec, str(p / RECORDS_FILE if p.is_dir() else p), line)
        for p in stores
        for line, rec in read_store(p, accepted=True)
    ]
    return run.limited(items)
