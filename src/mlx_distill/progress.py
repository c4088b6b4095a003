"""Rich progress bars on stderr for long steps: `track` for an iterable, `Bar` for a loop that reports
its own fields (training's loss), `status` for a step of unknown length. Silent when disabled."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

# Steps over fewer items than this finish too fast for a bar to be worth drawing.
MIN_ITEMS_FOR_BAR = 2000


class Bar:
    """A rich progress bar (description, bar, done/total, `fields` as "name value", elapsed, optionally
    the ETA). `print` writes a line above the bar, or through `echo` when the bar is disabled."""

    def __init__(
        self,
        description: str,
        total: Optional[int],
        *,
        completed: int = 0,
        fields: Optional[dict[str, Any]] = None,
        eta: bool = False,
        enabled: bool = True,
        console: Any = None,
        transient: bool = False,
        echo: Optional[Callable[[str], None]] = None,
    ):
        self.enabled, self.echo, self.progress = enabled, echo, None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        fields = fields or {}
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            *(TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields),
            TimeElapsedColumn(),
        ]
        if eta:
            columns += [TextColumn("ETA"), TimeRemainingColumn()]
        self.progress = Progress(*columns, console=console or Console(stderr=True), transient=transient)
        self.task = self.progress.add_task(description, total=total, completed=completed, **fields)

    def __enter__(self) -> "Bar":
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def advance(self, n: int = 1, **fields: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=n, **fields)

    def print(self, msg: str) -> None:
        if self.progress is not None:
            self.progress.console.print(msg, soft_wrap=True)
        elif self.echo is not None:
            self.echo(msg)


def track(items: Iterable[T], description: str, *, total: int | None = None, enabled: bool = True) -> Iterator[T]:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not enabled or (total is not None and total < MIN_ITEMS_FOR_BAR):
        yield from items
        return
    with Bar(description, total, transient=not sys.stderr.isatty()) as bar:
        for item in items:
            yield item
            bar.advance()


@contextlib.contextmanager
def status(message: str, *, enabled: bool = True):
    """A spinner for a step of unknown length."""
    if not enabled:
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
