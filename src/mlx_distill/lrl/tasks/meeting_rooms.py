"""Built-in task `meeting-rooms`: do these meetings fit in R rooms?

The solver is a sweep line over start/end events, ends before starts at equal times (a meeting ending at
10:00 frees its room for one starting at 10:00): the meetings fit iff the most rooms in use at once is at
most R. The worked solution (`explain`) writes that sweep out, event by event.

Generation keeps the answer from leaking through surface features: the room count is drawn first, the
same way for both answers, and the meetings are then drawn until the sweep gives the wanted answer, so
neither the number of rooms nor the number of meetings tells YES from NO. Meetings are listed by start
time, as a calendar shows them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..task import Problem, register

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


def sweep(meetings: list[list[int]]) -> list[tuple[int, str, int, int]]:
    """(time, "start"|"end", meeting index, rooms in use after it) in sweep order, ends before starts at
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


def peak_rooms(meetings: list[list[int]]) -> int:
    """The most meetings in progress at once (the sweep line's maximum)."""
    return max((used for *_x, used in sweep(meetings)), default=0)


def name(i: int) -> str:
    return chr(ord("A") + i)


_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=\-]?\s*\**\s*(yes|no)\b", re.IGNORECASE)
_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class MeetingRooms:
    """Meetings (start, end) and a number of rooms: can every meeting be held?"""

    name = "meeting-rooms"
    classes: tuple[str, ...] = (YES, NO)
    levels = LEVELS

    def generate(self, rng: random.Random, difficulty: int) -> Problem:
        if difficulty not in LEVELS:
            raise ValueError(f"meeting-rooms difficulty must be one of {sorted(LEVELS)}, got {difficulty}")
        lv = LEVELS[difficulty]
        rooms = rng.randint(*lv.rooms)
        want = rng.choice(self.classes)
        slots = lv.window // lv.step
        while True:
            meetings = []
            for _ in range(lv.meetings):
                start = rng.randrange(slots)
                length = rng.randint(1, min(lv.max_steps, slots - start))
                meetings.append([DAY_START + start * lv.step, DAY_START + (start + length) * lv.step])
            meetings.sort()
            if (peak_rooms(meetings) <= rooms) == (want == YES):
                return {"meetings": meetings, "rooms": rooms, "difficulty": difficulty}

    def render(self, problem: Problem) -> str:
        lines = [f"{name(i)} {clock(s)}-{clock(e)}" for i, (s, e) in enumerate(problem["meetings"])]
        return (
            "Meetings:\n" + "\n".join(lines) + f"\nRooms: {problem['rooms']}\n"
            "Can all the meetings be held? Answer YES or NO."
        )

    def parse(self, answer_text: str) -> str | None:
        """The last "Answer: YES/NO"; failing that, the first standalone yes or no; else None."""
        found = _ANSWER.findall(answer_text or "")
        if found:
            return found[-1].upper()
        word = _WORD.search(answer_text or "")
        return word.group(1).upper() if word else None

    def solve(self, problem: Problem) -> str:
        return YES if peak_rooms(problem["meetings"]) <= problem["rooms"] else NO

    def verify(self, problem: Problem, answer: str | None) -> bool:
        return answer is not None and answer.strip().upper() == self.solve(problem)

    def explain(self, problem: Problem) -> str:
        """Each meeting in start order against every earlier one: "busy" when the earlier meeting ends after
        this one starts, "free" when it ends by then; rooms in use = 1 + the busy ones. Then the peak
        against the rooms and the answer. Every step compares two times written side by side or copies
        one, so a small student can compute the answer instead of guessing it (see `checks`)."""
        meetings, rooms = problem["meetings"], problem["rooms"]
        lines = []
        for i, start, others, used in checks(meetings):
            said = ", ".join(f"{name(j)} ends {clock(end)} {'busy' if busy else 'free'}" for j, end, busy in others)
            lines.append(f"{name(i)} {clock(start)}: {said + '. ' if said else ''}In use {used}")
        peak = peak_rooms(meetings)
        verdict = "fits" if peak <= rooms else "too many"
        return "\n".join(lines) + f"\nPeak {peak}, rooms {rooms}: {verdict}.\nAnswer: {self.solve(problem)}"


register(MeetingRooms.name, MeetingRooms)
