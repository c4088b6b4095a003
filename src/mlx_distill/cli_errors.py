"""Errors as one line on stderr, never a traceback: bad input (InputError) exits with status 2, for the
root CLI and for each area's commands, also when those run on their own; a command whose work can fail
in a known way (a collection run) names those errors, with their own status, through the same `one_line`.
What the machine refuses (a read-only or full disk, a missing permission: OSError) and text that is not
UTF-8 where a reader did not name the file itself are one line too, with the file and the system's words."""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Callable, Iterator, NoReturn

import click

from .errors import InputError


def report(e: BaseException, status: int = 2) -> NoReturn:
    click.echo(f"error: {e}", err=True)
    sys.exit(status)


def os_error_line(e: OSError) -> str:
    """An OSError as one line: the file(s), the system's reason and errno, e.g.
    `out/x.jsonl: cannot write: Read-only file system [Errno 30]`."""
    names = " -> ".join(str(n) for n in (e.filename, e.filename2) if n is not None)
    reason = e.strerror or str(e) or type(e).__name__
    code = f" [Errno {e.errno}]" if e.errno is not None else ""
    return f"{names + ': ' if names else ''}{reason}{code}"


@contextlib.contextmanager
def one_line(*kinds: type[BaseException], status: int = 2) -> Iterator[None]:
    """Exceptions of `kinds` (default: InputError) become `error: <message>` and exit `status`; so do an
    OSError (status 1: the machine refused, not the input) and a UnicodeDecodeError no reader located."""
    try:
        yield
    except kinds or (InputError,) as e:
        report(e, status)
    except UnicodeDecodeError as e:
        report(ValueError(f"invalid UTF-8 in an input (byte 0x{e.object[e.start]:02x} at offset {e.start})"), 2)
    except OSError as e:
        report(ValueError(os_error_line(e)), 1)


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
