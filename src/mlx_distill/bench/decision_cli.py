"""`mlx-distill decide`, `curve` and `calibrate`: the decision-only commands (one prompt forward a case,
no generation, no agent), thin click commands over `bench.decision`, `bench.curve` and
`agent.calibration`. The model and suite options are the bench command's (`cli.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..cli_errors import one_line_errors
from ..cli_options import COUNT, default_out_dir, report_options
from ..errors import InputError
from ..progress import Bar
from .cli import adapters_option, calibration_option, model_specs, suites_option


@click.command("decide")
@click.option("--model", "-m", "models", multiple=True, required=True, help="Model to evaluate (repeatable).")
@adapters_option
@click.option("--include-base", is_flag=True, help="Also evaluate the base of every adapted model.")
@suites_option(default=("unseen_tools", "discrimination"))
@click.option("--category", "categories", multiple=True, help="Only cases of these categories (repeatable).")
@click.option("--limit", type=COUNT, default=None, help="At most N cases per suite (a spread).")
@click.option("--batch-size", type=COUNT, default=8, show_default=True, help="Prompts per forward.")
@click.option(
    "--opening",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="Also generate each reply's first N tokens greedily and report how it opens: <tool_call> (the "
    "trained format), a JSON pseudo-call, or text (about 16 tokens show a call's name; at most 256).",
)
@calibration_option
@click.option("--by-category", is_flag=True, help="Also print one line per category.")
@report_options("report", "Run directory (default: runs/decide/<timestamp>).")
@one_line_errors
def decide(
    models: tuple[str, ...],
    adapters: tuple[str, ...],
    include_base: bool,
    suites: tuple[str, ...],
    categories: tuple[str, ...],
    limit: int | None,
    batch_size: int,
    opening: int,
    calibration: str | None,
    by_category: bool,
    out_dir: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Decision-only evaluation: the probability that each case's reply opens a tool call, from one prompt
    forward (no generation); call-vs-no-call balanced accuracy, AUC, majority baseline and p, per suite."""
    from .decision import DecisionSpec, run_decision_eval, summary_lines, write_decision_dir
    from .suites import Suite, load_suite, select

    loaded = [load_suite(s) for s in suites]
    chosen = [
        Suite(s.name, select(s.cases, limit=limit, categories=list(categories) or None), s.source) for s in loaded
    ]
    chosen = [s for s in chosen if s.cases]
    if not chosen:
        raise InputError("no cases selected (check --category)")
    specs = [
        DecisionSpec(s.model, s.adapter_path, calibration)
        for s in model_specs(models, adapters, include_base=include_base)
    ]
    with Bar.of_run("decide", enabled=not no_progress) as bar:
        data = run_decision_eval(specs, chosen, batch_size=batch_size, opening=opening, progress=bar)
    paths = write_decision_dir(data, Path(out_dir) if out_dir else default_out_dir("decide"))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for line in summary_lines(data, by_category=by_category):
        click.echo(line)
    click.echo(f"report: {paths['markdown']}")


@click.command("curve")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--model", "-m", default="embedded:smollm2-135m", show_default=True, help="The runs' base model.")
@click.option("--no-base", is_flag=True, help="Leave out the base model's point (step 0).")
@click.option(
    "--base-calibration",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A decision_calibration.json for the base's point (mlx-distill calibrate --out).",
)
@suites_option(default=("unseen_tools",))
@click.option("--limit", type=COUNT, default=None, help="At most N cases per suite (a spread).")
@click.option("--batch-size", type=COUNT, default=8, show_default=True, help="Prompts per forward.")
@report_options("curve", "Output directory (default: runs/curve/<timestamp>).")
@one_line_errors
def curve(
    runs: tuple[str, ...],
    model: str,
    no_base: bool,
    base_calibration: str | None,
    suites: tuple[str, ...],
    limit: int | None,
    batch_size: int,
    out_dir: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """The learning curve of training runs: the decision-only evaluation (balanced accuracy, AUC, majority
    baseline, p) of the base and of every checkpoint of each RUN directory; curve.md, curve.json, curve.png."""
    from .curve import learning_curve, table_lines, write_curve_dir
    from .suites import load_suite, select

    cases = [
        c.model_copy(update={"suite": c.suite or s.name})
        for s in map(load_suite, suites)
        for c in select(s.cases, limit=limit)
    ]
    with Bar.of_run("curve", enabled=not no_progress) as bar:
        data = learning_curve(
            model,
            runs,
            cases,
            include_base=not no_base,
            base_calibration=base_calibration,
            batch_size=batch_size,
            progress=bar,
        )
    paths = write_curve_dir(data, Path(out_dir) if out_dir else default_out_dir("curve"))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"learning curve on {len(cases)} cases of {', '.join(suites)} (call vs no call, raw decisions):")
    for line in table_lines(data):
        click.echo(line)
    click.echo(f"curve: {paths['markdown']}  plot: {paths['plot']}")


@click.command("calibrate")
@click.option("--model", "-m", required=True, help="The base model (embedded:smollm2-135m, a model directory).")
@click.option("--adapter-path", default=None, help="The adapter to calibrate; its directory gets the calibration.")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False),
    default="data/mlx_format/valid.jsonl",
    show_default=True,
    help="Labelled records (meta.label) to fit on: the validation split.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(),
    default=None,
    help="Where to write it (default: the adapter's decision_calibration.json; required for a base model).",
)
@click.option("--batch-size", type=COUNT, default=8, show_default=True)
@one_line_errors
def calibrate(model: str, adapter_path: str | None, data: str, out: str | None, batch_size: int) -> None:
    """Fit the bias on the tool-call opener's logit that maximises call-vs-no-call balanced accuracy on
    `--data`, and save it where the agent applies it (agent/calibration.py)."""
    from ..agent.calibration import calibrate as fit_calibration

    cal, path = fit_calibration(model, data, adapter_path=adapter_path, out=out, batch_size=batch_size)
    f = cal.figures
    click.echo(
        f"bias {cal.bias:+.3f} on {f['cases']} cases ({f['tool_cases']} tool): balanced accuracy "
        f"{100 * (f['balanced_accuracy'] or 0):.1f}% raw -> {100 * (f['balanced_accuracy_calibrated'] or 0):.1f}% "
        f"calibrated (fitted on these cases); AUC {f['auc'] if f['auc'] is None else round(f['auc'], 3)}"
    )
    click.echo(f"calibration: {path}")
