"""The teacher store: a directory of append-only JSON-lines files that a killed run resumes from
without losing a record or paying for a call twice.

    STORE/records.jsonl   one line per finished prompt: a record in the project's format
                          (`mlx_distill.schema.Record`) with meta.source = "teacher", the record key,
                          the verdict (accepted, or rejected with a reason) and the run's teacher,
                          usage, cost, latency, stop reason and settings
    STORE/turns.jsonl     every paid teacher response (or batch result), keyed by (record key,
                          fingerprint of the conversation it answers): a re-run replays them
                          instead of asking (and paying) again
    STORE/batches.jsonl   Message Batches submitted and collected: a re-run polls, never resubmits
    STORE/ledger.jsonl    one row per call with its cost (`ledger.Ledger`)

A record's key is a content hash of everything that decides the teacher's answer: the prompt
(question, label, category, answer spec), its workspace spec, the teacher id, the settings, the
system prompt and the tool schemas. Change any of them and the prompt is collected anew; change
nothing and it is never collected twice. Every append is one fsynced line; a torn last line (SIGKILL
mid-write) is cut off when the store is opened, and a key already recorded is never written again.

The read side (the file names, a record's `Verdict`, `read_store`) is `data.sources.teacher_store`, on
the data floor, so that `data build` reads a store without importing the teacher side.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from ..io import append_jsonl
from ..schema import Record, parse_record
from ..append_only import read_located, read_rows, repair_tail
from ..data.sources.teacher_store import BATCHES_FILE, RECORDS_FILE, TURNS_FILE, verdict_of
from .ledger import Ledger

SOURCE = "teacher"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_hash(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def record_key(
    prompt: dict[str, Any], *, teacher: str, settings: dict[str, Any], system_prompt: str, tools: list[dict[str, Any]]
) -> str:
    """The content hash a record is stored under. `prompt` is the prompt line without its id (two ids
    with the same question and workspace are the same work)."""
    body = {k: v for k, v in prompt.items() if k != "id"}
    return content_hash(
        {"prompt": body, "teacher": teacher, "settings": settings, "system_prompt": system_prompt, "tools": tools}
    )


class TeacherStore:
    """Open (or create) a store directory. Thread-safe appends; reads are of what this process saw plus
    what was on disk when it opened."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.records_path = self.root / RECORDS_FILE
        self.turns_path = self.root / TURNS_FILE
        self.batches_path = self.root / BATCHES_FILE
        self.repaired = {
            p.name: n for p in (self.records_path, self.turns_path, self.batches_path) if (n := repair_tail(p))
        }
        self.ledger = Ledger(self.root)
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        for lineno, row in read_located(self.records_path, rule="store"):
            rec = parse_record(row, path=self.records_path, line=lineno)
            self._records.setdefault(rec.meta.key, rec)  # type: ignore[attr-defined]  # `key` is a pydantic extra on Meta (extra="allow")
        self._turns: dict[tuple[str, str], dict[str, Any]] = {}
        for row in read_rows(self.turns_path, rule="store"):
            self._turns.setdefault((row["key"], row["fingerprint"]), row)
        self._batch_rows: list[dict[str, Any]] = list(read_rows(self.batches_path, rule="store"))

    # -- records ------------------------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> Record | None:
        return self._records.get(key)

    def add(self, record: Record) -> bool:
        """Append a finished record (meta.key, meta.verdict set). False, and nothing written, when its key
        is already recorded: exactly once."""
        key = getattr(record.meta, "key", None)
        if not key:
            raise ValueError("a teacher record needs meta.key")
        if getattr(record.meta, "verdict", None) is None:
            raise ValueError("a teacher record needs meta.verdict")
        with self._lock:
            if key in self._records:
                return False
            append_jsonl(self.records_path, record.to_json())
            self._records[key] = record
        return True

    def records(self, *, accepted: bool | None = None) -> list[Record]:
        """Records in the order they were finished; only accepted (or rejected) ones when asked."""
        return [r for r in self._records.values() if accepted is None or verdict_of(r).accepted == accepted]

    # -- turns (paid responses, replayed on resume) ---------------------------------------------------

    def turn(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        return self._turns.get((key, fingerprint))

    def add_turn(self, key: str, fingerprint: str, row: dict[str, Any]) -> bool:
        """Journal one paid response (`row` holds it and what the ledger needs) before it is used; False
        when that conversation state was journaled already."""
        row = {"key": key, "fingerprint": fingerprint, **row}
        with self._lock:
            if (key, fingerprint) in self._turns:
                return False
            append_jsonl(self.turns_path, row)
            self._turns[(key, fingerprint)] = row
        return True

    # -- batches ------------------------------------------------------------------------------------

    def add_batch_event(self, row: dict[str, Any]) -> None:
        with self._lock:
            append_jsonl(self.batches_path, row)
            self._batch_rows.append(row)

    def batch_events(self) -> list[dict[str, Any]]:
        return list(self._batch_rows)

    def open_batches(self) -> list[dict[str, Any]]:
        """Submitted batches whose results were not collected yet (a killed run polls these)."""
        done = {r["batch_id"] for r in self._batch_rows if r.get("event") == "collected"}
        return [r for r in self._batch_rows if r.get("event") == "submitted" and r["batch"]["id"] not in done]
