"""Built-in task `meeting-rooms`: do these meetings fit in R rooms?

The solver is a sweep line over start/end events (solver.py); the worked solution the student is trained
to write is one of several formats (targets.py), chosen by name (`target_format`).

Generation keeps the answer from leaking through surface features: the room count is drawn first, the
same way for both answers, and the meetings are then drawn until the sweep gives the wanted answer, so
neither the number of rooms nor the number of meetings tells YES from NO. Meetings are listed by start
time, as a calendar shows them.
"""

from __future__ import annotations

import random
import re

from ...task import Problem, StepCheck, register
from . import targets
from .solver import DAY_START, LEVELS, NO, YES, clock, first_fit, name, peak_rooms
from .targets import DEFAULT_FORMAT, FORMATS

__all__ = ["DEFAULT_FORMAT", "FORMATS", "LEVELS", "MeetingRooms", "peak_rooms"]

_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=\-]?\s*\**\s*(yes|no)\b", re.IGNORECASE)
_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


class MeetingRooms:
    """Meetings (start, end) and a number of rooms: can every meeting be held?"""

    name = "meeting-rooms"
    classes: tuple[str, ...] = (YES, NO)
    levels = LEVELS
    target_formats: tuple[str, ...] = tuple(FORMATS)

    def __init__(self, target_format: str = DEFAULT_FORMAT):
        self.format = targets.target_format(target_format)
        self.target_format = target_format

    def with_target_format(self, format_name: str) -> "MeetingRooms":
        return MeetingRooms(format_name)

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
        """The worked solution in this task's target format, ending in the solver's answer."""
        return self.format.write(problem)

    def step_outcomes(self, problem: Problem) -> dict[str, int]:
        """The first-fit comparisons of a meeting's start with a used room's last end, by outcome (a room
        never used is free without a comparison): "free" when the room's meeting has ended, else "busy"."""
        counts = {"free": 0, "busy": 0}
        for i, ends, _room in first_fit(problem["meetings"], problem["rooms"]):
            start = problem["meetings"][i][0]
            for e in ends:
                if e is not None:
                    counts["free" if e <= start else "busy"] += 1
        return counts

    def check_steps(self, problem: Problem, text: str) -> StepCheck:
        """The reply's steps, read in this task's target format, against the solver's."""
        steps = self.format.read(text)
        return StepCheck(
            steps=len(steps),
            correct=steps == self.format.steps(problem),
            implied=self.format.answer(problem, steps),
            final=self.parse(text),
        )


register(MeetingRooms.name, MeetingRooms)
