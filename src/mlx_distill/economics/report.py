"""Does distillation pay? The break-even report, from the ledger alone.

Every teacher call anything made is a ledger row (`ledger.py`): collection (`collect`), shadow
recording (`shadow`), routed calls (`route`, answered by the student for free or by the teacher on a
fallback) and drift checks (`drift`). From those rows:

- teacher cost per call: the mean cost of the teacher calls observed (every priced row of kind
  collect, shadow, drift and routed calls the teacher answered): what each call costs without a student;
- routed cost per call: what routing actually spent (teacher fallbacks and drift checks) per routed call;
- cost per 1,000 calls before and after routing, the fraction answered locally, the fallback rate by reason;
- break-even: the one-off cost (collection, plus training at a rate you give) divided by the saving per
  call, in calls.

Every dollar comes from the ledger's rows, which the dated price table priced; there is no price here.
"""

from __future__ import annotations

import io
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from ..errors import InputError
from ..io import check_regular_file
from ..teacher.ledger import LEDGER_FILE, read_ledger, totals

TEACHER_KINDS = ("collect", "shadow", "drift")


def find_ledgers(root: str | os.PathLike) -> list[Path]:
    """`root` itself when it is a ledger file, else every `ledger.jsonl` below it (a FIFO or device
    is refused, not read as "no ledger")."""
    root = Path(root)
    if root.is_dir():
        return sorted(root.rglob(LEDGER_FILE))
    check_regular_file(root, rule="ledger")
    return [root]


def read_rows(paths: Iterable[str | os.PathLike], *, skipped: list[InputError] | None = None) -> list[dict[str, Any]]:
    """The rows of several ledgers, each call once (by call_id). A damaged row raises (`read_ledger`),
    or, with `skipped` given, is recorded there and left out."""
    seen: set[str | None] = set()
    rows = []
    for p in paths:
        for r in read_ledger(p, skipped=skipped):
            if r.get("call_id") in seen:
                continue
            seen.add(r.get("call_id"))
            rows.append(r)
    return rows


def training_seconds(adapter_path: str | os.PathLike) -> float | None:
    """The training compute time an adapter directory records (state.json), or None."""
    from ..io import parse_json_line, read_text

    state = Path(adapter_path) / "state.json"
    if not state.exists():
        return None
    try:
        seconds = parse_json_line(read_text(state, rule="adapter")).get("train_seconds") or 0.0
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"train_seconds is {seconds!r}, not a number >= 0")
    except InputError:
        raise
    except (ValueError, AttributeError) as e:
        raise InputError(f"cannot read the training time: {e}", path=state, rule="adapter") from None
    return float(seconds)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def analyze(
    rows: list[dict[str, Any]], *, training_s: float | None = None, training_usd_per_hour: float = 0.0
) -> dict[str, Any]:
    """The economics of a ledger (see the module docstring). Amounts in US dollars."""
    route = [r for r in rows if r.get("kind") == "route"]
    by_teacher = [r for r in route if r.get("answered_by") == "teacher"]
    drift = [r for r in rows if r.get("kind") == "drift"]
    teacher_calls = by_teacher + [r for r in rows if r.get("kind") in TEACHER_KINDS]
    teacher_per_call = _mean([r["cost_usd"] for r in teacher_calls])
    n = len(route)
    routed_spent = sum(r["cost_usd"] for r in by_teacher) + sum(r["cost_usd"] for r in drift)
    routed_per_call = routed_spent / n if n else None
    collection = sum(r["cost_usd"] for r in rows if r.get("kind") == "collect")
    training = (training_s or 0.0) / 3600.0 * training_usd_per_hour
    fixed = collection + training
    saving = (
        (teacher_per_call - routed_per_call) if teacher_per_call is not None and routed_per_call is not None else None
    )
    if saving is None or saving <= 0:
        break_even = None
    else:
        break_even = math.ceil(fixed / saving) if fixed > 0 else 0
    reasons = Counter(r.get("reason") for r in by_teacher)
    return {
        "routed_calls": n,
        "answered_locally": n - len(by_teacher),
        "local_fraction": (n - len(by_teacher)) / n if n else None,
        "fallbacks": len(by_teacher),
        "fallback_rate": len(by_teacher) / n if n else None,
        "fallback_rate_by_reason": {
            k or "unknown": v / n for k, v in sorted(reasons.items(), key=lambda kv: str(kv[0]))
        },
        "drift_checks": len(drift),
        "drift_agreement": _mean([1.0 if r.get("agree") else 0.0 for r in drift if r.get("agree") is not None]),
        "teacher_calls_observed": len(teacher_calls),
        "teacher_cost_per_call": teacher_per_call,
        "routed_cost_per_call": routed_per_call,
        "cost_per_1k_before": None if teacher_per_call is None else 1000 * teacher_per_call,
        "cost_per_1k_after": None if routed_per_call is None else 1000 * routed_per_call,
        "saving_per_call": saving,
        "collection_cost": collection,
        "training_s": training_s,
        "training_usd_per_hour": training_usd_per_hour,
        "training_cost": training,
        "one_off_cost": fixed,
        "break_even_calls": break_even,
        "ledger": totals(rows),
    }


# -- reports ------------------------------------------------------------------------------------------


def _usd(x: float | None, digits: int = 4) -> str:
    return "–" if x is None else f"${x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def summary_rows(e: dict[str, Any]) -> list[tuple[str, str]]:
    skipped = e.get("skipped_rows") or []
    rows = [
        (
            "ledger rows counted",
            f"{e['ledger']['calls']}" + (f" ({len(skipped)} damaged rows skipped)" if skipped else ""),
        ),
        ("routed calls", str(e["routed_calls"])),
        ("answered locally", f"{e['answered_locally']} ({_pct(e['local_fraction'])})"),
        ("fallback rate", _pct(e["fallback_rate"])),
    ]
    rows += [(f"  fallback: {k}", _pct(v)) for k, v in e["fallback_rate_by_reason"].items()]
    rows += [
        ("drift checks (agreement)", f"{e['drift_checks']} ({_pct(e['drift_agreement'])})"),
        (
            "teacher cost per call (observed)",
            f"{_usd(e['teacher_cost_per_call'], 6)} over {e['teacher_calls_observed']} calls",
        ),
        ("cost per 1,000 calls, teacher only", _usd(e["cost_per_1k_before"], 2)),
        ("cost per 1,000 calls, routed", _usd(e["cost_per_1k_after"], 2)),
        (
            "one-off cost (collection + training)",
            f"{_usd(e['one_off_cost'], 2)} ({_usd(e['collection_cost'], 2)} + {_usd(e['training_cost'], 2)})",
        ),
        (
            "break-even",
            "never (no saving per call)" if e["break_even_calls"] is None else f"{e['break_even_calls']:,} calls",
        ),
    ]
    return rows


def to_markdown(e: dict[str, Any], *, command: str = "", chart: str | None = None) -> str:
    lines = ["# Distillation economics", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary_rows(e)]
    if chart:
        lines += ["", f"![cumulative cost]({chart})"]
    if command:
        lines += ["", f"Reproduce: `{command}`"]
    return "\n".join(lines) + "\n"


def plot(e: dict[str, Any], path: str | os.PathLike) -> Path | None:
    """Cumulative cost, teacher only vs routed (one-off cost included), over calls; None without data."""
    if e["teacher_cost_per_call"] is None or e["routed_cost_per_call"] is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizon = max(1000, 2 * (e["break_even_calls"] or 0), e["routed_calls"])
    xs = [0, horizon]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(xs, [x * e["teacher_cost_per_call"] for x in xs], label="teacher only")
    ax.plot(xs, [e["one_off_cost"] + x * e["routed_cost_per_call"] for x in xs], label="routed (student first)")
    if e["break_even_calls"]:
        ax.axvline(e["break_even_calls"], color="grey", linestyle="--", linewidth=1)
        ax.annotate(
            f"break-even: {e['break_even_calls']:,} calls",
            (e["break_even_calls"], 0),
            textcoords="offset points",
            xytext=(4, 8),
            fontsize=8,
        )
    ax.set_xlabel("calls")
    ax.set_ylabel("cumulative cost (USD)")
    ax.set_title("Teacher only vs routed")
    ax.legend()
    fig.tight_layout()
    from ..io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def write_report(e: dict[str, Any], out_dir: str | os.PathLike, *, command: str = "") -> dict[str, Path | None]:
    from ..io import atomic_write_text, write_json

    out = Path(out_dir)
    chart = plot(e, out / "economics.png")
    return {
        "json": write_json(out / "economics.json", e),
        "markdown": atomic_write_text(
            out / "economics.md", to_markdown(e, command=command, chart="economics.png" if chart else None)
        ),
        "chart": chart,
    }
