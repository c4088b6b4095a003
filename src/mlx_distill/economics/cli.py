"""`mlx-distill gate` and `mlx-distill economics`: thin click commands over `economics.gate` and
`economics.report`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli_errors import one_line_errors
from ..cli_options import COUNT, FRACTION, NON_NEGATIVE, default_out_dir, report_options


@click.command("gate")
@click.option(
    "--student",
    "-m",
    required=True,
    help="The student: embedded:smollm2-135m, a model directory, a server URL or a pydantic-ai name.",
)
@click.option(
    "--adapter-path", default=None, type=click.Path(exists=True, file_okay=False), help="The student's LoRA adapter."
)
@click.option(
    "--against",
    required=True,
    help="Held-out teacher records (a JSONL file or a store directory) or a benchmark suite "
    "(built-in name or suite file).",
)
@click.option(
    "--threshold",
    type=FRACTION,
    default=0.95,
    show_default=True,
    help="Balanced agreement needed to pass.",
)
@click.option("--limit", type=COUNT, default=None, help="At most N cases (both classes kept).")
@click.option("--max-tokens", type=COUNT, default=512, show_default=True)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(exists=True),
    default=None,
    help="A router's ledger: fail also when the rolling drift agreement there is below the threshold.",
)
@report_options("gate", "Report directory (default: runs/gate/<timestamp>).")
@one_line_errors
def gate(
    student: str,
    adapter_path: str | None,
    against: str,
    threshold: float,
    limit: int | None,
    max_tokens: int,
    ledger_path: str | None,
    out_dir: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Pass or fail a student: its agreement with the teacher per decision class. Exit 0 on pass, 1 on fail."""
    from ..cli_errors import one_line
    from ..progress import Bar
    from ..teacher.lifecycle import RetiredModel, check_lifecycle

    with one_line(RetiredModel, status=1):  # a retired API student (or router teacher): before any case
        check_lifecycle(student)
    from ..bench.runner import ModelSpec, RunConfig
    from ..resolve import load_for_bench
    from .gate import load_against, run_gate, verdict_line, write_gate_report

    target = load_against(against, limit=limit)
    with Bar.of_run("gate", enabled=not no_progress) as bar:
        result = run_gate(
            ModelSpec(student, adapter_path),
            target,
            threshold=threshold,
            config=RunConfig(max_tokens=max_tokens),
            progress=bar,
            load_model=load_for_bench,
        )
    if ledger_path:
        from .drift import apply_drift

        apply_drift(result, ledger_path)
    paths = write_gate_report(result, Path(out_dir) if out_dir else default_out_dir("gate"))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        from .gate import summary_rows

        for k, v in summary_rows(result):
            click.echo(f"  {k:38} {v}")
        click.echo(verdict_line(result))
        for warning in (result.drift or {}).get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        click.echo(f"report: {paths['markdown']}  json: {paths['json']}")
    sys.exit(0 if result.passed else 1)


@click.command("economics")
@click.argument("report_dir", type=click.Path(exists=True))
@click.option(
    "--ledger",
    "ledgers",
    multiple=True,
    type=click.Path(exists=True),
    help="More ledgers (files or directories) to read besides REPORT_DIR's (repeatable).",
)
@click.option(
    "--adapter-path",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="The student's adapter: its recorded training time counts as a one-off cost.",
)
@click.option(
    "--training-usd-per-hour",
    type=NON_NEGATIVE,
    default=0.0,
    show_default=True,
    help="What an hour of your training machine costs (0: a machine you already own).",
)
@click.option(
    "--skip-damaged",
    is_flag=True,
    help="Leave out damaged ledger rows (each is named on stderr and counted in the report) instead of stopping.",
)
@report_options(
    "economics", "Where economics.md/.json/.png go (default: REPORT_DIR, or its folder for a file).", progress=False
)
@one_line_errors
def economics(
    report_dir: str,
    ledgers: tuple[str, ...],
    adapter_path: str | None,
    training_usd_per_hour: float,
    skip_damaged: bool,
    out_dir: str | None,
    as_json: bool,
) -> None:
    """Cost per 1,000 calls before and after routing, local fraction, fallbacks and break-even, from ledgers."""
    from ..errors import InputError
    from .report import analyze, find_ledgers, read_rows, summary_rows, training_seconds, write_report

    paths = [p for root in (report_dir, *ledgers) for p in find_ledgers(root)]
    if not paths:
        raise InputError("no ledger.jsonl found (run the router, collect or shadow first)", path=report_dir)
    skipped: list[InputError] = []
    try:
        rows = read_rows(paths, skipped=skipped if skip_damaged else None)
    except InputError as e:
        raise InputError(
            f"{e.message}; pass --skip-damaged to leave damaged rows out", path=e.path, line=e.line, rule=e.rule
        ) from None
    for err in skipped:
        click.echo(f"warning: skipped {err}", err=True)
    data = analyze(
        rows,
        training_s=training_seconds(adapter_path) if adapter_path else None,
        training_usd_per_hour=training_usd_per_hour,
    )
    data["ledgers"] = [str(p) for p in paths]
    data["skipped_rows"] = [str(err) for err in skipped]
    out = Path(out_dir) if out_dir else (Path(report_dir) if Path(report_dir).is_dir() else Path(report_dir).parent)
    command = " ".join(
        [
            "mlx-distill economics",
            report_dir,
            *(f"--ledger {p}" for p in ledgers),
            *([f"--adapter-path {adapter_path}"] if adapter_path else []),
            *([f"--training-usd-per-hour {training_usd_per_hour:g}"] if training_usd_per_hour else []),
            *(["--skip-damaged"] if skip_damaged else []),
        ]
    )
    written = write_report(data, out, command=command)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for k, v in summary_rows(data):
        click.echo(f"  {k:40} {v}")
    click.echo(f"report: {written['markdown']}  json: {written['json']}  chart: {written['chart'] or '-'}")
