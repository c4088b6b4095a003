"""Worked-solution formats for meeting-rooms: what the student is trained to write, and how it is read back.

A format turns the solver's trace into steps (plain tuples), writes one line per step, reads lines back
into steps, and says which answer a list of steps leads to. Synthesis writes a target only if reading it
back gives the solver's steps and answer; evaluation reads a student's reply with the same reader and
compares its steps with the solver's (`MeetingRooms.check_steps`).

    pairwise     each meeting in start order against every earlier one: busy/free, "In use" = 1 + busy
    event-sweep  the sweep line: starts and ends in time order (ends first at the same minute), the count
                 after each, compared with the rooms at each start; the first start over the rooms is NO
    per-room     first fit: each meeting, in start order, against every room's last end; it takes the
                 first room free by its start, or none is free and the answer is NO
    per-room-compare  per-room with each comparison written out: the room's end and the meeting's
                 start side by side, `<=` or `>` between them, then free or busy
    per-room-slots  per-room-compare in half-hours since 09:00 (one digit up to 13:30): each meeting's
                 times turned into slots, single digits compared, and every room's end written after
                 each assignment so the next line copies from the line above

In every format each number written is copied from the question or from the line above, or is a
comparison of two times written side by side; the answer follows from the last line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ....errors import InputError
from ...task import Problem
from .solver import DAY_START, NO, YES, checks, clock, first_fit, name, peak_rooms, sweep

Step = tuple[Any, ...]
_TIME = r"(\d{1,2}:\d{2})"


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class TargetFormat:
    """One way to write the worked solution. `steps` is the solver's trace; `line`/`read_line` write and
    read one step (read_line returns None for a line that is not a step); `answer` is what the steps
    lead to, given the problem's room count."""

    name: str
    steps: Callable[[Problem], list[Step]]
    line: Callable[[Step], str]
    read_line: Callable[[str], Step | None]
    answer: Callable[[Problem, list[Step]], str | None]

    def write(self, problem: Problem) -> str:
        steps = self.steps(problem)
        return "\n".join(self.line(s) for s in steps) + f"\nAnswer: {self.answer(problem, steps)}"

    def read(self, text: str) -> list[Step]:
        return [s for s in (self.read_line(x.strip()) for x in (text or "").splitlines()) if s is not None]


# -- pairwise: each start against every earlier end ----------------------------------------------------------


def _pairwise_steps(problem: Problem) -> list[Step]:
    meetings, rooms = problem["meetings"], problem["rooms"]
    out: list[Step] = [
        ("use", name(i), start, tuple((name(j), end, busy) for j, end, busy in others), used)
        for i, start, others, used in checks(meetings)
    ]
    peak = peak_rooms(meetings)
    return out + [("peak", peak, rooms, peak <= rooms)]


def _pairwise_line(s: Step) -> str:
    if s[0] == "peak":
        return f"Peak {s[1]}, rooms {s[2]}: {'fits' if s[3] else 'too many'}."
    said = ", ".join(f"{j} ends {clock(end)} {'busy' if busy else 'free'}" for j, end, busy in s[3])
    return f"{s[1]} {clock(s[2])}: {said + '. ' if said else ''}In use {s[4]}"


_USE = re.compile(rf"^([A-Z]) {_TIME}: (.*?)In use (\d+)$")
_JUDGED = re.compile(rf"([A-Z]) ends {_TIME} (busy|free)")
_PEAK = re.compile(r"^Peak (\d+), rooms (\d+): (fits|too many)\.?$")


def _pairwise_read(line: str) -> Step | None:
    if m := _USE.match(line):
        judged = tuple((j, minutes(t), word == "busy") for j, t, word in _JUDGED.findall(m.group(3)))
        return ("use", m.group(1), minutes(m.group(2)), judged, int(m.group(4)))
    if m := _PEAK.match(line):
        return ("peak", int(m.group(1)), int(m.group(2)), m.group(3) == "fits")
    return None


def _pairwise_answer(problem: Problem, steps: list[Step]) -> str | None:
    counts = [s[4] for s in steps if s[0] == "use"]
    return None if not counts else YES if max(counts) <= problem["rooms"] else NO


# -- event-sweep: the sweep line, one event a line ------------------------------------------------------------


def _sweep_steps(problem: Problem) -> list[Step]:
    rooms, out = problem["rooms"], []
    for t, kind, i, used in sweep(problem["meetings"]):
        over = kind == "start" and used > rooms
        out.append(("event", t, kind, name(i), used, rooms if kind == "start" else None, over))
        if over:
            break
    return out


def _sweep_line(s: Step) -> str:
    _e, t, kind, who, used, rooms, over = s
    text = f"t={clock(t)} {kind} {who} -> {used} in use"
    return text if rooms is None else text + f" (rooms {rooms})" + (": too many" if over else "")


_EVENT = re.compile(rf"^t={_TIME} (start|end) ([A-Z]) -> (\d+) in use(?: \(rooms (\d+)\))?(: too many)?$")


def _sweep_read(line: str) -> Step | None:
    m = _EVENT.match(line)
    if not m:
        return None
    rooms = int(m.group(5)) if m.group(5) else None
    return ("event", minutes(m.group(1)), m.group(2), m.group(3), int(m.group(4)), rooms, bool(m.group(6)))


def _sweep_answer(problem: Problem, steps: list[Step]) -> str | None:
    if not steps:
        return None
    return NO if any(s[2] == "start" and s[4] > problem["rooms"] for s in steps) else YES


# -- per-room: first-fit assignment --------------------------------------------------------------------------


def _rooms_steps(problem: Problem) -> list[Step]:
    meetings, out = problem["meetings"], []
    for i, ends, free in first_fit(meetings, problem["rooms"]):
        start, end = meetings[i]
        judged = tuple((k + 1, e, e is None or e <= start) for k, e in enumerate(ends))
        out.append(("assign", name(i), start, end, judged, None if free is None else free + 1))
    return out


def _rooms_line(s: Step) -> str:
    _a, who, start, end, judged, room = s
    said = ", ".join(
        f"room {k}{'' if e is None else ' to ' + clock(e)} {'free' if ok else 'busy'}" for k, e, ok in judged
    )
    return f"{who} {clock(start)}-{clock(end)}: {said} -> {'none free' if room is None else f'room {room}'}"


_ASSIGN = re.compile(rf"^([A-Z]) {_TIME}-{_TIME}: (.*) -> (?:room (\d+)|(none) free)$")
_ROOM = re.compile(rf"room (\d+)(?: to {_TIME})? (busy|free)")


def _rooms_read(line: str) -> Step | None:
    m = _ASSIGN.match(line)
    if not m:
        return None
    judged = tuple((int(k), minutes(t) if t else None, word == "free") for k, t, word in _ROOM.findall(m.group(4)))
    room = int(m.group(5)) if m.group(5) else None
    return ("assign", m.group(1), minutes(m.group(2)), minutes(m.group(3)), judged, room)


def _rooms_answer(problem: Problem, steps: list[Step]) -> str | None:
    return None if not steps else NO if any(s[5] is None for s in steps) else YES


# -- per-room-compare: per-room with both times of every comparison side by side -----------------------------
# "room 1 to 10:30 free" asks the student to compare 10:30 with a start written at the far end of the line;
# "room 1 10:30 <= 11:00 free" copies the start beside it, writes the comparison, and the word follows from
# the sign. A step keeps the copied start and the sign, so a wrong copy or a wrong sign is a wrong step.


def _compare_steps(problem: Problem) -> list[Step]:
    return [
        (a, who, start, end, tuple((k, e, None if e is None else start, ok) for k, e, ok in judged), room)
        for a, who, start, end, judged, room in _rooms_steps(problem)
    ]


def _compare_said(k: int, end: int | None, start: int | None, ok: bool, show: Callable[[int], str] = clock) -> str:
    if end is None or start is None:
        return f"room {k} {'free' if ok else 'busy'}"
    return f"room {k} {show(end)} {'<=' if end <= start else '>'} {show(start)} {'free' if ok else 'busy'}"


def _compare_line(s: Step) -> str:
    _a, who, start, end, judged, room = s
    said = ", ".join(_compare_said(*j) for j in judged)
    return f"{who} {clock(start)}-{clock(end)}: {said} -> {'none free' if room is None else f'room {room}'}"


_COMPARED = re.compile(rf"room (\d+)(?: {_TIME} (<=|>) {_TIME})? (busy|free)")


def _compare_read(line: str) -> Step | None:
    m = _ASSIGN.match(line)
    if not m:
        return None
    judged = []
    for k, end, sign, start, word in _COMPARED.findall(m.group(4)):
        if end and (sign == "<=") != (minutes(end) <= minutes(start)):
            start = ""  # a sign that contradicts its own times is not the solver's step
        judged.append((int(k), minutes(end) if end else None, minutes(start) if start else None, word == "free"))
    room = int(m.group(5)) if m.group(5) else None
    return ("assign", m.group(1), minutes(m.group(2)), minutes(m.group(3)), tuple(judged), room)


# -- per-room-slots: per-room-compare in half-hour slots, every room's end carried line to line -----------------
# Measured on per-room-compare: 44% of the student's `<=`/`>` signs were wrong, as often between different
# hours as within one. A clock time is five tokens to this tokenizer ("1", "0", ":", "3", "0"), so a sign
# compares two five-token strings. Here a time becomes its half-hour slot since 09:00 (10:30 -> 3), a
# one-token number up to 13:30, and the sign compares two digits; the conversion itself is a small lookup
# written once per meeting. After each assignment the line lists every room's end ("ends 4 -"), so the next
# line copies each room's end from the line just above instead of finding the room's last meeting.
SLOT = 30


def _slot(minute: int) -> int:
    half_hours, rest = divmod(minute - DAY_START, SLOT)
    if rest or half_hours < 0:
        raise InputError(
            f"per-room-slots counts half-hours from {clock(DAY_START)}; {clock(minute)} is not on that grid "
            "(use a level on a 30-minute grid, or another target format)",
            rule="config",
        )
    return half_hours


def _slots_steps(problem: Problem) -> list[Step]:
    out = []
    ends: list[int | None] = [None] * problem["rooms"]
    for a, who, start, end, judged, room in _rooms_steps(problem):
        first = _slot(start)
        said = tuple((k, None if e is None else _slot(e), None if e is None else first, ok) for k, e, ok in judged)
        if room is not None:
            ends[room - 1] = _slot(end)
        out.append((a, who, start, end, said, room, (first, _slot(end)), None if room is None else tuple(ends)))
    return out


def _slots_line(s: Step) -> str:
    _a, who, start, end, judged, room, (first, last), ends = s
    said = ", ".join(_compare_said(k, e, st, ok, show=str) for k, e, st, ok in judged)
    head = f"{who} {clock(start)}-{clock(end)} = {first}-{last}: {said} -> "
    if room is None:
        return head + "none free"
    return head + f"room {room}, ends " + " ".join("-" if e is None else str(e) for e in ends)


_SLOTTED = re.compile(rf"^([A-Z]) {_TIME}-{_TIME} = (\d+)-(\d+): (.*) -> (?:room (\d+), ends ([\d -]+)|(none) free)$")
_SLOT_JUDGED = re.compile(r"room (\d+)(?: (\d+) (<=|>) (\d+))? (busy|free)")


def _slots_read(line: str) -> Step | None:
    m = _SLOTTED.match(line)
    if not m:
        return None
    who, start, end, first, last, said, room, ends = m.group(1, 2, 3, 4, 5, 6, 7, 8)
    judged = []
    for k, e, sign, st, word in _SLOT_JUDGED.findall(said):
        if e and (sign == "<=") != (int(e) <= int(st)):
            st = ""  # a sign that contradicts its own numbers is not the solver's step
        judged.append((int(k), int(e) if e else None, int(st) if st else None, word == "free"))
    carried = None if room is None else tuple(None if x == "-" else int(x) for x in ends.split())
    return (
        "assign", who, minutes(start), minutes(end), tuple(judged),
        int(room) if room else None, (int(first), int(last)), carried,
    )  # fmt: skip


FORMATS: dict[str, TargetFormat] = {
    f.name: f
    for f in (
        TargetFormat("pairwise", _pairwise_steps, _pairwise_line, _pairwise_read, _pairwise_answer),
        TargetFormat("event-sweep", _sweep_steps, _sweep_line, _sweep_read, _sweep_answer),
        TargetFormat("per-room", _rooms_steps, _rooms_line, _rooms_read, _rooms_answer),
        TargetFormat("per-room-compare", _compare_steps, _compare_line, _compare_read, _rooms_answer),
        TargetFormat("per-room-slots", _slots_steps, _slots_line, _slots_read, _rooms_answer),
    )
}
DEFAULT_FORMAT = "per-room"  # measured best of the three (docs/lrl.md)


def target_format(format_name: str) -> TargetFormat:
    """The format registered under `format_name`, or a one-line error naming the known ones."""
    if format_name not in FORMATS:
        raise InputError(
            f"unknown target format {format_name!r} for meeting-rooms (known: {', '.join(FORMATS)})", rule="config"
        )
    return FORMATS[format_name]
