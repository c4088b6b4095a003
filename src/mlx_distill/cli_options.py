"""Click options that several commands share, declared once: where a command's report goes and how
it is shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import click


def default_out_dir(kind: str) -> Path:
    """runs/<kind>/<timestamp>: where a report goes without --out."""
    return Path("runs") / kind / time.strftime("%Y%m%d-%H%M%S")


def out_dir_option(help: str) -> Callable[[Any], Any]:
    """--out DIR (`out_dir`; None when not given)."""
    return click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help=help)


def report_options(name: str, out_help: str, *, progress: bool = True) -> Callable[[Any], Any]:
    """--out DIR, --json (`as_json`: print NAME.json to stdout) and, with `progress`, --no-progress:
    the options of a command that writes a report."""
    options = [
        out_dir_option(out_help),
        click.option("--json", "as_json", is_flag=True, help=f"Print {name}.json to stdout."),
    ]
    if progress:
        options.append(click.option("--no-progress", is_flag=True, help="No progress bar."))

    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply
