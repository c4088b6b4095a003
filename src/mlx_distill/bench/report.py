"""Reports of a benchmark run, all rendered from its `report.json` data: a rich table for the
terminal, `report.md`, a PNG chart, and the run directory that holds them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..io import atomic_write_text, save_figure, write_json, write_jsonl
from .scoring import HEADLINE, verdict_text

COUNT_METRICS = {"loops", "limit_hits", "errors"}
SECONDS_METRICS = {"latency_p50_s", "latency_p95_s", "turns_mean"}


def columns(data: dict[str, Any]) -> list[tuple[str, dict | None, dict]]:
    """(column title, summary {metric: {mean, std, n}} or None when the model failed, model entry)."""
    temps = data["config"]["temperatures"]
    out = []
    for m in data["models"]:
        for t in temps:
            key = f"{float(t):g}"
            title = m["label"] if len(temps) == 1 else f"{m['label']} @T={key}"
            out.append((title, m["by_temperature"].get(key) if not m.get("load_error") else None, m))
    return out


FLAG_METRICS = {"at_or_below_baseline"}


def fmt(metric: str, cell: dict | None, *, spread: bool = True) -> str:
    if not cell or cell.get("mean") is None:
        return "–"
    mean, std = cell["mean"], cell.get("std") or 0.0
    if metric in FLAG_METRICS:  # the share of runs flagged
        return "no" if mean == 0 else ("YES" if mean == 1 else f"YES in {100 * mean:.0f}% of seeds")
    many = (cell.get("n") or 1) > 1 and spread
    if metric in COUNT_METRICS:
        text = f"{mean:g}" if not many else f"{mean:.1f}"
        return text + (f" ± {std:.1f}" if many else "")
    if metric in SECONDS_METRICS or metric == "tokens_per_s":
        return f"{mean:.2f}" + (f" ± {std:.2f}" if many else "")
    return f"{100 * mean:.1f}%" + (f" ± {100 * std:.1f}" if many else "")


def _extra_rows(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    cols = columns(data)
    rows = [
        (
            "cases",
            [
                str(m["pooled"]["cases"] // max(1, len(data["config"]["temperatures"]) * len(data["config"]["seeds"])))
                if m.get("pooled")
                else "–"
                for _, _, m in cols
            ],
        ),
        ("cases/min", [f"{m['cases_per_min']:.1f}" if m.get("cases_per_min") else "–" for _, _, m in cols]),
        ("peak memory (MB)", [f"{m['peak_memory_mb']:.0f}" if m.get("peak_memory_mb") else "–" for _, _, m in cols]),
    ]
    return rows


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Header and rows (metric, one cell per model × temperature) of the comparison table."""
    cols = columns(data)
    header = ["metric"] + [title for title, _, _ in cols]
    rows = []
    for key, title, _ in HEADLINE:
        rows.append((title, [fmt(key, (summary or {}).get(key)) for _, summary, _ in cols]))
    return header, rows + _extra_rows(data)


SUITE_HEADER = [
    "suite",
    "model",
    "cases",
    "balanced acc.",
    "majority baseline",
    "decision acc.",
    "tool recall",
    "no call when none wanted",
    "valid args",
    "verdict",
]


def suite_rows(data: dict[str, Any]) -> list[list[str]]:
    """One row per suite and model, pooled over temperatures and seeds: balanced accuracy first, the
    majority baseline beside it, and a verdict that names a model no better than a constant one."""
    rows = []
    models = [m for m in data["models"] if m.get("pooled")]
    suites = list(dict.fromkeys(k for m in models for k in m["pooled"].get("by_suite", {})))
    if len(suites) > 1:
        suites.append("(pooled)")
    for suite in suites:
        for m in models:
            v = m["pooled"] if suite == "(pooled)" else m["pooled"]["by_suite"].get(suite)
            if not v:
                continue
            base = f"{_pct(v['majority_baseline'])} ({v['majority_class']})"
            no_call = v.get("no_call_rate")
            if no_call is None and suite == "(pooled)" and v.get("tool_hallucination_rate") is not None:
                no_call = 1 - v["tool_hallucination_rate"]
            verdict = verdict_text(v)
            rows.append(
                [
                    suite,
                    m["label"],
                    str(v["cases"]),
                    _pct(v["balanced_accuracy"]),
                    base,
                    _pct(v["decision_accuracy"]),
                    _pct(v.get("tool_recall")),
                    _pct(no_call),
                    _pct(v.get("argument_validity")),
                    verdict,
                ]
            )
    return rows


def suite_lines(data: dict[str, Any], width: int = 80) -> list[str]:
    """The judgement by suite as plain lines of at most `width` characters: a block per suite, a few
    lines per model (a 10-column table cut in an 80-column terminal or a log file read `unse…`)."""
    import textwrap

    out = ["judgement by suite (balanced accuracy = mean per-class recall)"]
    current = None
    for row in suite_rows(data):
        cells = dict(zip(SUITE_HEADER, row))
        if cells["suite"] != current:
            current = cells["suite"]
            out += ["", f"{current} ({cells['cases']} cases)"]
        flag = "  <- NO BETTER THAN BASELINE" if cells["verdict"].startswith("NO") else ""
        parts = [
            f"balanced acc. {cells['balanced acc.']}",
            f"majority baseline {cells['majority baseline']}",
            f"decision acc. {cells['decision acc.']}",
            f"tool recall {cells['tool recall']}",
            f"no call when none wanted {cells['no call when none wanted']}",
            f"valid args {cells['valid args']}",
            f"verdict: {cells['verdict']}",
        ]
        out += textwrap.wrap(cells["model"] + flag, width, initial_indent="  ", subsequent_indent="    ")
        out += textwrap.wrap(", ".join(parts), width, initial_indent="    ", subsequent_indent="    ")
    return out


def rich_table(data: dict[str, Any]) -> Any:
    from rich.table import Table

    header, rows = table_rows(data)
    suites = ", ".join(f"{s['name']} ({s['cases']})" for s in data["suites"])
    seeds = data["config"]["seeds"]
    caption = f"mean ± spread over {len(seeds)} seeds" if len(seeds) > 1 else None
    table = Table(title=f"benchmark: {suites}", caption=caption)
    table.add_column(header[0], style="bold", overflow="fold")
    for h in header[1:]:  # fold: a model name longer than its column wraps instead of being cut to `embe…`
        table.add_column(h, justify="right", overflow="fold")
    for title, cells in rows:
        table.add_row(title, *cells)
    return table


def load_errors(data: dict[str, Any]) -> list[str]:
    return [m["load_error"] for m in data["models"] if m.get("load_error")]


def _md_table(
    header: list[str], rows: Iterable[tuple[str, list[str]]] | Iterable[list[str]], *, right: bool = True
) -> str:
    def esc(s: Any) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(esc(h) for h in header) + " |",
        "|" + "|".join(["---"] + ["---:" if right else "---"] * (len(header) - 1)) + "|",
    ]
    for row in rows:
        cells = [row[0], *row[1]] if isinstance(row, tuple) else list(row)
        lines.append("| " + " | ".join(esc(c) for c in cells) + " |")
    return "\n".join(lines)


def markdown(data: dict[str, Any], *, max_failures: int = 40) -> str:
    header, rows = table_rows(data)
    cfg = data["config"]
    out = [
        "# Benchmark report",
        "",
        f"- started: {data.get('started', '')} ({data.get('wall_s', 0):.0f} s)",
        "- suites: "
        + ", ".join(
            f"`{s['name']}` ({s['cases']} cases: " + ", ".join(f"{k} {v}" for k, v in s["labels"].items()) + ")"
            for s in data["suites"]
        ),
        f"- temperatures: {', '.join(f'{t:g}' for t in cfg['temperatures'])}; seeds: "
        f"{', '.join(map(str, cfg['seeds']))}; max requests {cfg['max_requests']}, "
        f"max tool calls {cfg['max_tool_calls']}, max tokens {cfg['max_tokens']}",
        "",
        "## Summary",
        "",
        _md_table(header, rows),
        "",
    ]
    if len(cfg["seeds"]) > 1:
        out += ["Cells are the mean ± sample standard deviation over seeds.", ""]
    errors = load_errors(data)
    if errors:
        out += ["## Models that failed to load", ""] + [f"- {e}" for e in errors] + [""]
    out += [
        "## Judgement by suite (pooled over temperatures and seeds)",
        "",
        "Balanced accuracy is the mean of the per-class recalls: a model that always calls a tool, or "
        "never does, scores 1/k on k classes. The majority baseline is the decision accuracy of always "
        "giving the most frequent answer.",
        "",
        _md_table(SUITE_HEADER, suite_rows(data)),
        "",
    ]
    # per class and per category, pooled over temperatures and seeds
    out += ["## Per class (pooled)", ""]
    ok_models = [m for m in data["models"] if m.get("pooled")]
    classes = sorted({c for m in ok_models for c in m["pooled"]["per_class"]})
    pc_rows = []
    for m in ok_models:
        for c in classes:
            v = m["pooled"]["per_class"].get(c)
            if v:
                pc_rows.append([m["label"], c, _pct(v["precision"]), _pct(v["recall"]), _pct(v["f1"]), v["support"]])
    out += [_md_table(["model", "class", "precision", "recall", "F1", "support"], pc_rows), ""]
    out += ["## Per category (pooled)", ""]
    cats = sorted({c for m in ok_models for c in m["pooled"]["by_category"]})
    cat_rows = []
    for c in cats:
        cells = []
        for m in ok_models:
            v = m["pooled"]["by_category"].get(c)
            cells.append(f"{_pct(v['decision_accuracy'])} / {_pct(v['answer_correctness'])}" if v else "–")
        cat_rows.append((c, cells))
    out += [
        "decision accuracy / answer correctness",
        "",
        _md_table(["category"] + [m["label"] for m in ok_models], cat_rows),
        "",
    ]
    failures = [
        c for c in data["cases"] if c["predicted"] != c["label"] or c["correct"] is False or c["outcome"] != "answered"
    ]
    if failures:
        out += [f"## Cases that went wrong ({len(failures)})", ""]
        rows2 = []
        for c in failures[:max_failures]:
            calls = ", ".join(t["name"] for t in c["tool_calls"]) or "–"
            what = c["error"] or c["why"]
            rows2.append(
                [
                    c["model"],
                    f"{c['case_id']} (T={c['temperature']:g}, s={c['seed']})",
                    c["label"],
                    c["predicted"],
                    calls,
                    c["outcome"],
                    _short(what, 100),
                ]
            )
        out += [_md_table(["model", "case", "label", "decided", "calls", "outcome", "why"], rows2, right=False), ""]
        if len(failures) > max_failures:
            out += [f"... and {len(failures) - max_failures} more in report.json.", ""]
    return "\n".join(out)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _short(s: Any, n: int) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


CHART_METRICS = [
    ("decision_accuracy", "decision acc."),
    ("macro_f1", "macro-F1"),
    ("tool_recall", "tool recall"),
    ("direct_recall", "direct recall"),
    ("tool_hallucination_rate", "hallucination"),
    ("right_tool_rate", "right tool"),
    ("argument_validity", "valid args"),
    ("answer_correctness", "answer correct"),
]


def chart(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """A grouped bar chart of the headline rates, one bar per model × temperature, error bars = spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [(title, s) for title, s, _ in columns(data) if s]
    fig, ax = plt.subplots(figsize=(min(16.0, 8.0 + 0.6 * len(cols)), 4.5))
    width = 0.8 / max(1, len(cols))
    xs = range(len(CHART_METRICS))
    for i, (title, summary) in enumerate(cols):
        means = [((summary.get(k) or {}).get("mean") or 0.0) * 100 for k, _ in CHART_METRICS]
        stds = [((summary.get(k) or {}).get("std") or 0.0) * 100 for k, _ in CHART_METRICS]
        ax.bar([x + (i - (len(cols) - 1) / 2) * width for x in xs], means, width, yerr=stds, capsize=2, label=title)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([label for _, label in CHART_METRICS], rotation=20, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.set_title("benchmark: " + ", ".join(s["name"] for s in data["suites"]))
    if cols:
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def write_run_dir(data: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Path]:
    """report.json, report.md, cases.jsonl and chart.png in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": write_json(out / "report.json", data),
        "markdown": atomic_write_text(out / "report.md", markdown(data) + "\n"),
        "cases": write_jsonl(out / "cases.jsonl", data["cases"]),
    }
    paths["chart"] = chart(data, out / "chart.png")
    return paths


def load_report(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "report.json"
    return json.loads(p.read_text(encoding="utf-8"))
