"""`mlx-distill lrl ...`: reflective distillation (docs/lrl.md). Thin over `mlx_distill.lrl.pipeline`."""

from __future__ import annotations

import time
from typing import Any

import click

from ..cli_errors import one_line_errors


def _recipe_options(fn):
    for opt in reversed(
        [
            click.option(
                "-c",
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                help="Recipe YAML (configs/lrl-meeting-rooms.yaml).",
            ),
            click.option(
                "--task", default=None, help="Task name (meeting-rooms) or package.module:attr / file.py:attr."
            ),
            click.option(
                "--teacher",
                default=None,
                help="anthropic:MODEL, any pydantic-ai model name, or a local MLX "
                "model. Given here without --strategy, the teacher loop writes the strategy (the recipe's "
                "strategy file is not used).",
            ),
            click.option(
                "--strategy",
                default=None,
                type=click.Path(dir_okay=False),
                help="A strategy file: skips the teacher loop (offline with no teacher).",
            ),
            click.option(
                "--target-format",
                default=None,
                help="How the worked solutions are written (meeting-rooms: pairwise, event-sweep, per-room, per-room-compare, per-room-slots).",
            ),
            click.option("--student", default=None, help="The student model (default embedded:smollm2-135m)."),
            click.option("--run-dir", default=None, help="Where everything is written (resumable)."),
        ]
    ):
        fn = opt(fn)
    return fn


def _say(message: str) -> None:
    click.echo(message, err=True)


def _config(config_path: str | None, **overrides: Any):
    from .pipeline import load_config

    cfg = load_config(config_path, overrides)
    if overrides.get("teacher") and not overrides.get("strategy"):
        cfg.strategy = None  # a teacher named on the command line runs the loop
    if cfg.teacher and not cfg.strategy:  # a retired teacher fails before the run directory is written
        from ..cli_errors import one_line
        from ..teacher.lifecycle import RetiredModel, check_lifecycle

        with one_line(RetiredModel, status=1):
            check_lifecycle(cfg.teacher)
    return cfg


def _pipeline(config_path: str | None, **overrides: Any):
    from .pipeline import Pipeline

    return Pipeline(_config(config_path, **overrides), log=_say)


def _print_table(data: dict[str, Any]) -> None:
    from .evaluate import markdown

    click.echo(markdown(data))


@click.group("lrl", context_settings={"help_option_names": ["-h", "--help"]})
def lrl() -> None:
    """Reflective distillation: teacher journal and strategy -> verified synthetic data -> LoRA -> honest eval."""


@lrl.command("run")
@_recipe_options
@one_line_errors
def run_cmd(config_path: str | None, **overrides: Any) -> None:
    """The whole loop: [teacher loop ->] synthesis -> training -> evaluation, resumable from the run dir."""
    tic = time.perf_counter()
    data = _pipeline(config_path, **overrides).run()
    _print_table(data)
    click.echo(f"\nwall time: {time.perf_counter() - tic:.0f} s", err=True)


@lrl.command("loop")
@_recipe_options
@one_line_errors
def loop_cmd(config_path: str | None, **overrides: Any) -> None:
    """Only the teacher loop (solve, journal, rewrite the strategy); prints the final strategy."""
    click.echo(_pipeline(config_path, **overrides).strategy())


@lrl.command("synth")
@_recipe_options
@one_line_errors
def synth_cmd(config_path: str | None, **overrides: Any) -> None:
    """Synthesize verified records with the strategy and build data/ (train/valid) in the run dir."""
    click.echo(str(_pipeline(config_path, **overrides).synthesize()))


@lrl.command("eval")
@_recipe_options
@click.option(
    "--adapter-path",
    default=None,
    type=click.Path(file_okay=False),
    help="The adapter to evaluate (default: the run dir's trained adapter, if any).",
)
@one_line_errors
def eval_cmd(config_path: str | None, adapter_path: str | None, **overrides: Any) -> None:
    """Evaluate base and adapted student (and the teacher with/without the strategy) on the held-out set."""
    p = _pipeline(config_path, **overrides)
    data = p.evaluate(adapter_path or p.trained_adapter())
    _print_table(data)


@lrl.command("compare-formats")
@_recipe_options
@click.option(
    "--formats",
    "formats",
    required=True,
    help="Comma-separated target formats, each run with the same recipe into RUN_DIR/<format>/.",
)
@one_line_errors
def compare_cmd(config_path: str | None, formats: str, **overrides: Any) -> None:
    """Run the recipe once per target format and keep the best by held-out balanced accuracy."""
    from .compare import compare_formats, markdown

    tic = time.perf_counter()
    names = [f.strip() for f in formats.split(",") if f.strip()]
    out = compare_formats(_config(config_path, **overrides), names, log=_say)
    click.echo(markdown(out))
    click.echo(f"\nwall time: {time.perf_counter() - tic:.0f} s", err=True)


@lrl.command("tasks")
def tasks_cmd() -> None:
    """List the registered tasks."""
    from .task import get_task, target_format_name, task_names

    for name in task_names():
        t = get_task(name)
        formats = getattr(t, "target_formats", ())
        said = f"; target formats: {', '.join(formats)} (default {target_format_name(t)})" if formats else ""
        click.echo(f"{name:20} answers: {', '.join(t.classes)}{said}")
