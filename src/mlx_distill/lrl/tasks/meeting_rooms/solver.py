"""The meeting-rooms solver and the traces the worked solutions are written from.

A meeting is [start, end) in minutes; a meeting ending at 10:00 frees its room for one starting at 10:00.
The meetings fit in R rooms iff the most in progress at once (the sweep line's peak) is at most R. The
other traces (`checks`, `first_fit`) reach the same verdict by other routes; tests hold them to it.
"""

from __future__ import annotations

from dataclasses import dataclass

YES, NO = "YES", "NO"
DAY_START = 9 * 60


@dataclass(frozen=True)
class Level:
    """One difficulty: how many meetings, on what time grid, within how long a window, how long at most."""

    meetings: int
    step: int  # minutes between possible start/end times
    window: int  # minutes from 09:00 in which every meeting lies (smaller = denser overlaps)
    max_steps: int  # longest meeting, in grid steps
    rooms: tuple[int, int]  # room counts drawn from (around the typical peak, so both answers are common)


LEVELS: dict[int, Level] = {
    1: Level(3, 30, 240, 4, (1, 2)),
    2: Level(4, 30, 240, 4, (2, 3)),
    3: Level(5, 30, 300, 4, (2, 3)),
    4: Level(6, 30, 240, 5, (3, 4)),
    5: Level(8, 15, 240, 8, (3, 5)),
}


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def name(i: int) -> str:
    return chr(ord("A") + i)


def sweep(meetings: list[list[int]]) -> list[tuple[int, str, int, int]]:
    """(time, "start"/"end", meeting index, rooms in use after it) in time order, ends before starts at
    equal times, up to and including the last start (after it the count only falls)."""
    events = sorted(
        [(s, 1, i) for i, (s, _e) in enumerate(meetings)] + [(e, 0, i) for i, (_s, e) in enumerate(meetings)]
    )
    out, used = [], 0
    last_start = max(s for s, _e in meetings)
    for t, kind, i in events:
        if t > last_start:
            break
        used += 1 if kind else -1
        out.append((t, "start" if kind else "end", i, used))
    return out


def checks(meetings: list[list[int]]) -> list[tuple[int, int, list[tuple[int, int, bool]], int]]:
    """Per meeting in list (start) order: (index, start, [(earlier index, its end, still busy)], rooms in
    use). An earlier meeting is busy when it ends after this start (ending at the start frees the room);
    the peak of the sweep is the largest "in use", since rooms in use only rise at a start."""
    out = []
    for i, (start, _end) in enumerate(meetings):
        others = [(j, end, end > start) for j, (_s, end) in enumerate(meetings[:i])]
        out.append((i, start, others, 1 + sum(busy for *_x, busy in others)))
    return out


def first_fit(meetings: list[list[int]], rooms: int) -> list[tuple[int, list[int | None], int | None]]:
    """Per meeting in start order, until one finds no room: (index, each room's end before it, None for a
    room never used; the first room free by its start, or None). Greedy by start time needs no more
    rooms than the peak (interval partitioning), so "none free" happens iff the meetings do not fit."""
    ends: list[int | None] = [None] * rooms
    out: list[tuple[int, list[int | None], int | None]] = []
    for i, (start, end) in enumerate(meetings):
        free = next((k for k, e in enumerate(ends) if e is None or e <= start), None)
        out.append((i, list(ends), free))
        if free is None:
            break
        ends[free] = end
    return out


def peak_rooms(meetings: list[list[int]]) -> int:
    """The most meetings in progress at once (the sweep line's maximum)."""
    return max((used for *_x, used in sweep(meetings)), default=0)
