"""Sharded benchmark runs: `mlx.launch -n N -- mlx-distill bench ...` splits the cases over N processes
(MLX's distributed layer: the ring backend over TCP, MPI, ...) and rank 0 merges what every process scored
into the report one process would write (same cases, same order, same metrics; only timings differ).

Case i of each model goes to rank i mod N. Every process loads every model and makes one collective
call per model, loaded or not, so a model failing on one rank never leaves the others waiting.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

if TYPE_CHECKING:
    from .runner import ModelRun

T = TypeVar("T")

LAUNCH_VARIABLES = ("MLX_RANK", "OMPI_COMM_WORLD_RANK")  # set by mlx.launch (ring) and by mpirun


def launched_group() -> Any | None:
    """The distributed group when this process was started by `mlx.launch` (or mpirun) with more than one
    process; None otherwise (without initialising anything)."""
    if not any(v in os.environ for v in LAUNCH_VARIABLES):
        return None
    import mlx.core as mx

    from ..runtime import share_cores

    group = mx.distributed.init()
    if group.size() <= 1:
        return None
    share_cores(group.size())  # several processes on one machine: split its cores
    return group


def shard(items: Sequence[T], rank: int, size: int) -> list[T]:
    """This rank's share: items rank, rank + size, rank + 2·size, ..."""
    return list(items[rank::size])


def unshard(parts: Sequence[Sequence[T]]) -> list[T]:
    """The shares of every rank (in rank order) back in the original order."""
    out: list[T] = []
    for i in range(max((len(p) for p in parts), default=0)):
        out.extend(p[i] for p in parts if i < len(p))
    return out


def all_gather_json(obj: Any, group: Any) -> list[Any]:
    """Every rank's JSON-able `obj`, in rank order, on every rank (two all_gathers: lengths, then bytes)."""
    import mlx.core as mx
    import numpy as np

    data = json.dumps(obj, ensure_ascii=False).encode()
    with mx.stream(mx.cpu):
        lengths: list[int] = mx.distributed.all_gather(mx.array([len(data)], dtype=mx.int32), group=group).tolist()  # type: ignore[assignment]  # mlx types tolist() as any nesting; a 1-D int32 array gives list[int]
        width = max(lengths)
        padded = np.frombuffer(data.ljust(width, b"\0"), dtype=np.uint8)
        joined = np.array(mx.distributed.all_gather(mx.array(padded), group=group), copy=False)
    return [json.loads(joined[r * width : r * width + n].tobytes()) for r, n in enumerate(lengths)]


def merge_model_run(run: ModelRun, group: Any) -> None:
    """Every rank's scores of this model, back in case order; the slowest rank's wall time, the largest peak
    memory, summed routing counts. Trajectories stay with the rank that ran them (`outcomes` is emptied)."""
    from .scoring import CaseScore

    parts = all_gather_json(
        {
            "scores": [s.to_json() for s in run.scores],
            "load_error": run.load_error,
            "load_s": run.load_s,
            "wall_s": run.wall_s,
            "peak_memory_mb": run.peak_memory_mb,
            "routing": run.routing,
        },
        group,
    )
    run.scores = unshard([[CaseScore.from_json(s) for s in p["scores"]] for p in parts])
    run.outcomes = []
    run.load_error = next((p["load_error"] for p in parts if p["load_error"]), None)
    run.load_s = max(p["load_s"] for p in parts)
    run.wall_s = max(p["wall_s"] for p in parts)
    peaks = [p["peak_memory_mb"] for p in parts if p["peak_memory_mb"] is not None]
    run.peak_memory_mb = max(peaks) if peaks else None
    routings = [p["routing"] for p in parts if p["routing"]]
    run.routing = sum_routing(routings) if routings else None


def sum_routing(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A router's counts over every rank: calls, who answered, fallback reasons."""
    calls = sum(p["calls"] for p in parts)
    student = sum(p["answered_by_student"] for p in parts)
    reasons: dict[str, int] = {}
    for p in parts:
        for k, v in (p.get("fallback_reasons") or {}).items():
            reasons[k] = reasons.get(k, 0) + v
    return {
        "calls": calls,
        "answered_by_student": student,
        "answered_by_teacher": sum(p["answered_by_teacher"] for p in parts),
        "local_fraction": student / calls if calls else None,
        "fallback_reasons": reasons,
    }
