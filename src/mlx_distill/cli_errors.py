"""Errors as one line on stderr, never a traceback: bad input (InputError) exits with status 2, for the
root CLI and for each area's commands, also when those run on their own; a command whose work can fail
in a known way (a collection run) names those errors, with their own status, through the same `one_line`."""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Callable, Iterator, NoReturn

import click

from .io import InputError


def report(e: BaseException, status: int = 2) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(status)


@contextlib.contextmanager
def one_line(*kinds: type[BaseException], status: int = 2) -> Iterator[None]:
    """Exceptions of `kinds` (default: InputError) become `error: <message>` and exit `status`."""
    try:
        yield
    except kinds or (InputError,) as e:
        report(e, status)


def one_line_errors(fn: Callable) -> Callable:
    """A command whose bad input is one line (status 2)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_line():
            return fn(*args, **kwargs)

    return wrapper


class OneLineErrorsGroup(click.Group):
    """A group whose commands' bad input is one line (status 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        with one_line():
            return super().invoke(ctx)
