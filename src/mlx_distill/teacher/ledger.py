"""The cost ledger: `ledger.jsonl`, one JSON object per teacher call, append-only.

Every call anything in `distill` makes (collection, shadow recording, routing, drift sampling...) is
one row: kind, model, usage (input, output, cache write and read tokens), cost in dollars, what priced
it (`price_source`: `genai-prices 0.2.5`, `override: PATH` or `free`), what the cache saved, latency, a UTC timestamp, the record key it served and whether it
went through a batch. Appends are fsynced single lines; a torn last line from a kill is cut off when
the ledger is opened; any other damaged row (not JSON, or without a kind and a finite cost) is named by
its line, so a total never drops a call without a word. `totals` sums any rows: calls, tokens, cost,
cache hit rate, money saved.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError
from ..io import append_jsonl
from ..append_only import read_located, repair_tail
from .prices import Prices, Usage, load_prices

LEDGER_FILE = "ledger.jsonl"


class Ledger:
    """Append-only ledger at `path` (a file, or a directory that gets `ledger.jsonl`)."""

    def __init__(self, path: str | os.PathLike, prices: Prices | None = None):
        path = Path(path)
        self.path = path / LEDGER_FILE if path.suffix != ".jsonl" else path
        self.prices = prices or load_prices()
        self._lock = threading.Lock()
        repair_tail(self.path)
        self._ids = {r.get("call_id") for r in read_ledger(self.path)}

    def __contains__(self, call_id: str) -> bool:
        return call_id in self._ids

    def append(
        self,
        *,
        kind: str,
        model: str,
        usage: Any,
        latency_s: float,
        key: str | None = None,
        batch: bool = False,
        call_id: str | None = None,
        cost_usd: float | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Record one call. The cost comes from the price table unless given. A `call_id` already in the
        ledger is not written twice (a resumed run re-logging a journaled call)."""
        u = Usage.of(usage)
        row = {
            "kind": kind,
            "model": model,
            "usage": u.to_json(),
            "cost_usd": round(self.prices.cost(model, u, batch) if cost_usd is None else cost_usd, 8),
            "price_source": self.prices.source(model),
            "saved_usd": round(self.prices.cache_savings(model, u, batch), 8),
            "latency_s": round(float(latency_s), 4),
            "batch": batch,
            "key": key,
            "call_id": call_id or uuid.uuid4().hex,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            **extra,
        }
        with self._lock:
            if row["call_id"] in self._ids:
                return row
            append_jsonl(self.path, row)
            self._ids.add(row["call_id"])
        return row

    def rows(self) -> list[dict[str, Any]]:
        return read_ledger(self.path)

    def totals(self) -> dict[str, Any]:
        return totals(self.rows())


def row_problem(row: dict[str, Any]) -> str | None:
    """Why a ledger row cannot be counted, or None: it needs a `kind` and a finite `cost_usd` >= 0."""
    if not isinstance(row.get("kind"), str):
        return "no `kind`"
    cost = row.get("cost_usd")
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        return f"`cost_usd` is {cost!r}, not a finite number >= 0"
    for key in ("saved_usd", "latency_s"):
        value = row.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"`{key}` is {value!r}, not a finite number"
    if not isinstance(row.get("usage", {}), dict):
        return "`usage` is not an object"
    return None


def read_ledger(path: str | os.PathLike, *, skipped: list[InputError] | None = None) -> list[dict[str, Any]]:
    """The rows of a ledger file (or of `ledger.jsonl` in a directory); [] when there is none. A damaged
    row (a torn last line aside) raises an InputError naming its line, or, with `skipped` given, is
    recorded there and left out."""
    path = Path(path)
    path = path / LEDGER_FILE if path.is_dir() else path
    rows = []
    for lineno, row in read_located(path, rule="ledger", skipped=skipped):
        if problem := row_problem(row):
            err = InputError(f"damaged row: {problem}", path=path, line=lineno, rule="ledger")
            if skipped is None:
                raise err
            skipped.append(err)
            continue
        rows.append(row)
    return rows


def totals(rows: Iterable[dict[str, Any]], *, kind: str | None = None) -> dict[str, Any]:
    """Calls, tokens, dollars (spent and saved by the cache), cache hit rate, by kind and by model."""
    rows = [r for r in rows if kind is None or r.get("kind") == kind]
    usage = sum((Usage.of(r.get("usage") or {}) for r in rows), Usage())
    by_kind: dict[str, float] = defaultdict(float)
    by_model: dict[str, float] = defaultdict(float)
    for r in rows:
        by_kind[r.get("kind", "?")] += r.get("cost_usd", 0.0)
        by_model[r.get("model", "?")] += r.get("cost_usd", 0.0)
    return {
        "calls": len(rows),
        "batch_calls": sum(1 for r in rows if r.get("batch")),
        "usage": usage.to_json(),
        "cost_usd": round(sum(r.get("cost_usd", 0.0) for r in rows), 6),
        "saved_usd": round(sum(r.get("saved_usd", 0.0) for r in rows), 6),
        "cache_hit_rate": round(usage.cache_read_tokens / usage.prompt_tokens, 4) if usage.prompt_tokens else 0.0,
        "latency_s": round(sum(r.get("latency_s", 0.0) for r in rows), 3),
        "calls_by_kind": dict(Counter(r.get("kind", "?") for r in rows)),
        "cost_by_kind": {k: round(v, 6) for k, v in by_kind.items()},
        "cost_by_model": {k: round(v, 6) for k, v in by_model.items()},
    }
