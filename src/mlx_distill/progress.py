"""Rich progress bars on stderr for long steps: `track` for an iterable, `Bar` for a loop that reports
its own fields (training's loss) or for a run that calls it back as `bar(done, total, note)` (the
benchmark, compare, the gate), `status` for a step of unknown length. Silent when disabled."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")

# Steps over fewer items than this finish too fast for a bar to be worth drawing.
MIN_ITEMS_FOR_BAR = 2000


class Bar:
    """A rich progress bar (description, bar, done/total, `fields` as "name value", elapsed, optionally
    the ETA, optionally a `note` on the current step). `print` writes a line above the bar, or through
    `echo` when the bar is disabled. With `log_steps`, a stderr that is a log file, not a terminal, gets
    one plain line per finished step instead (rich draws nothing there, and a long run would look stuck)."""

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
        note: bool = False,
        log_steps: bool = False,
    ):
        self.enabled, self.echo, self.progress = enabled, echo, None
        self.description, self.t0, self.logged = description, time.monotonic(), 0
        self.log: Any = None  # the console of `log_steps` lines, when stderr is not a terminal
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

        console = console or Console(stderr=True)
        if log_steps and not console.is_terminal:
            self.log = console
            return
        fields = {**(fields or {}), **({"note": ""} if note else {})}
        columns = [
            TextColumn("[bold]{task.description}" if note else "{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            *(TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields if name != "note"),
            TimeElapsedColumn(),
        ]
        if eta:
            columns += [TextColumn("ETA"), TimeRemainingColumn()]
        if note:
            columns.append(TextColumn("{task.fields[note]}"))
        self.progress = Progress(*columns, console=console, transient=transient)
        self.task = self.progress.add_task(description, total=total, completed=completed, **fields)

    @classmethod
    def of_run(cls, description: str, *, enabled: bool = True) -> "Bar":
        """The bar of a long command's run (bench, compare, gate), called back as `bar(done, total, note)`:
        ETA, the running step's note, one plain line per step when stderr is a log file."""
        return cls(description, None, eta=True, enabled=enabled, note=True, log_steps=True)

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

    def __call__(self, done: int, total: int, note: str = "") -> None:
        """A run's progress callback: `done` of `total` steps, `note` on the step now running."""
        if self.log is not None and done > self.logged:  # a step finished (not one starting)
            self.logged = done
            el = time.monotonic() - self.t0
            eta = el / done * (total - done)
            self.log.print(
                f"{self.description} {done}/{total}  {int(el // 60)}m{int(el % 60):02d}s elapsed, "
                f"ETA {int(eta // 60)}m{int(eta % 60):02d}s  {note}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total, note=note[:60])

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
