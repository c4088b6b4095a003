"""Click options that several commands share, declared once: where a command's report goes and how
it is shown, and the kinds of number an option takes. Numbers are checked here, where they are parsed,
so NaN, infinity or a value out of range never reaches a budget, a sampler or a loop."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import click


class FiniteFloat(click.FloatRange):
    """A float in range and finite: click's FloatRange lets `nan` through every bound (comparisons with
    NaN are false) and `inf` through an open top."""

    name = "finite number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


FINITE_FLOAT = FiniteFloat()
NON_NEGATIVE = FiniteFloat(min=0)  # budgets, prices, temperatures, intervals
POSITIVE = FiniteFloat(min=0, min_open=True)  # timeouts, rates
FRACTION = FiniteFloat(0, 1)  # thresholds and shares
MAX_INT = 2**31 - 1  # fits a C int wherever a count reaches native code; a 400-digit count is a typo
COUNT = click.IntRange(1, MAX_INT)  # limits, sizes, steps
NON_NEGATIVE_INT = click.IntRange(0, MAX_INT)  # seeds, counts that may be zero
PORT = click.IntRange(0, 65535)  # 0: a free port


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
