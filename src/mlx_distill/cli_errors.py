"""Bad input (InputError) becomes one located line on stderr and exit status 2, never a traceback:
for the root CLI and for each area's commands, also when those run on their own."""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click

from .io import InputError


def report(e: InputError) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


def one_line_errors(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            report(e)

    return wrapper


class OneLineErrorsGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            report(e)
