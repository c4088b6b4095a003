"""Meeting-rooms worked-solution formats: each reads back to the solver's steps and answer, the step
checker catches a wrong running count and an answer that contradicts its own steps, the registry names
what it knows, every difficulty level of a curriculum is class-balanced, and a step-balanced set evens the
judgements its solutions make."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlx_distill.errors import InputError
from mlx_distill.lrl.synth import record_for, synthesize
from mlx_distill.lrl.task import class_balance, get_task, mixed_set, step_balanced_set, with_target_format
from mlx_distill.lrl.tasks.meeting_rooms import FORMATS, LEVELS, MeetingRooms, peak_rooms

FORMAT_NAMES = sorted(FORMATS)


@st.composite
def problems(draw, grid=15):
    """Random meetings on a 15-minute grid (many equal start and end times), listed by start, and rooms."""
    n = draw(st.integers(1, 8))
    meetings = []
    for _ in range(n):
        start = 540 + grid * draw(st.integers(0, 300 // grid))
        meetings.append([start, start + grid * draw(st.integers(1, 120 // grid))])
    return {"meetings": sorted(meetings), "rooms": draw(st.integers(1, 5))}


GRID = {"per-room-slots": 30}  # counts half-hours; the others take any minute


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_format_reads_back_to_the_solvers_steps_and_answer(fmt, data):
    problem = data.draw(problems(GRID.get(fmt, 15)))
    task = MeetingRooms(fmt)
    text = task.explain(problem)
    truth = task.solve(problem)
    assert task.parse(text) == truth
    assert task.format.read(text) == task.format.steps(problem)
    check = task.check_steps(problem, text)
    assert check.correct and check.implied == truth and not check.contradicts
    assert check.steps == len(text.splitlines()) - 1  # every line but "Answer:" is a step
    record_for(task, problem, None)  # synthesis accepts it


def test_the_event_sweep_writes_ends_before_starts_and_stops_at_the_first_start_over_the_rooms():
    task = MeetingRooms("event-sweep")
    p = {"meetings": [[540, 630], [570, 660], [630, 720], [630, 690]], "rooms": 2}
    assert task.explain(p) == (
        "t=09:00 start A -> 1 in use (rooms 2)\n"
        "t=09:30 start B -> 2 in use (rooms 2)\n"
        "t=10:30 end A -> 1 in use\n"
        "t=10:30 start C -> 2 in use (rooms 2)\n"
        "t=10:30 start D -> 3 in use (rooms 2): too many\n"
        "Answer: NO"
    )


def test_per_room_assigns_each_meeting_to_the_first_room_free_by_its_start():
    task = MeetingRooms("per-room")
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 2}
    assert task.explain(p) == (
        "A 09:00-10:30: room 1 free, room 2 free -> room 1\n"
        "B 09:30-11:00: room 1 to 10:30 busy, room 2 free -> room 2\n"
        "C 10:30-12:00: room 1 to 10:30 free, room 2 to 11:00 busy -> room 1\n"
        "Answer: YES"
    )
    assert task.explain({**p, "rooms": 1}).splitlines()[1] == "B 09:30-11:00: room 1 to 10:30 busy -> none free"


def test_per_room_compare_writes_each_rooms_end_and_the_start_side_by_side_and_reads_a_wrong_sign_as_wrong():
    task = MeetingRooms("per-room-compare")
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 2}
    text = task.explain(p)
    assert text == (
        "A 09:00-10:30: room 1 free, room 2 free -> room 1\n"
        "B 09:30-11:00: room 1 10:30 > 09:30 busy, room 2 free -> room 2\n"
        "C 10:30-12:00: room 1 10:30 <= 10:30 free, room 2 11:00 > 10:30 busy -> room 1\n"
        "Answer: YES"
    )
    for right, wrong in [("10:30 <= 10:30 free", "10:30 > 10:30 free"), ("11:00 > 10:30", "11:00 > 10:00")]:
        check = task.check_steps(p, text.replace(right, wrong))  # a wrong sign, a wrong copy of the start
        assert not check.correct and check.implied == "YES"


def test_per_room_slots_compares_half_hour_slots_and_carries_every_rooms_end_to_the_next_line():
    task = MeetingRooms("per-room-slots")
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 2}
    text = task.explain(p)
    assert text == (
        "A 09:00-10:30 = 0-3: room 1 free, room 2 free -> room 1, ends 3 -\n"
        "B 09:30-11:00 = 1-4: room 1 3 > 1 busy, room 2 free -> room 2, ends 3 4\n"
        "C 10:30-12:00 = 3-6: room 1 3 <= 3 free, room 2 4 > 3 busy -> room 1, ends 6 4\n"
        "Answer: YES"
    )
    assert task.explain({**p, "rooms": 1}).splitlines()[1] == "B 09:30-11:00 = 1-4: room 1 3 > 1 busy -> none free"
    wrong = [("= 1-4", "= 1-5"), ("3 <= 3 free", "3 > 3 free"), ("4 > 3 busy", "4 > 2 busy"), ("ends 3 4", "ends 3 -")]
    for right, bad in wrong:  # a wrong slot, a sign against its digits, a miscopied start, a lost room end
        check = task.check_steps(p, text.replace(right, bad))
        assert not check.correct and check.implied == "YES", right


def test_per_room_slots_refuses_a_time_off_the_half_hour_grid_in_one_line():
    task = MeetingRooms("per-room-slots")
    with pytest.raises(InputError, match=r"per-room-slots counts half-hours from 09:00; 09:15 is not on that grid"):
        task.explain({"meetings": [[540, 555]], "rooms": 1})


WRONG_STEP = {  # one number of the running state changed, the final answer left as it was
    "pairwise": ("B 09:30: A ends 10:30 busy. In use 2", "B 09:30: A ends 10:30 busy. In use 1"),
    "event-sweep": ("t=10:30 end A -> 1 in use", "t=10:30 end A -> 2 in use"),
    "per-room": (
        "room 1 to 10:30 free, room 2 to 11:00 busy -> room 1",
        "room 1 to 10:30 free, room 2 to 11:00 busy -> room 2",
    ),
    "per-room-compare": (
        "room 1 10:30 <= 10:30 free, room 2 11:00 > 10:30 busy -> room 1",
        "room 1 10:30 <= 10:30 free, room 2 11:00 > 10:30 busy -> room 2",
    ),
    "per-room-slots": ("busy -> room 1, ends 6 4", "busy -> room 1, ends 6 3"),
}


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_the_step_checker_flags_a_wrong_running_count(fmt):
    task = MeetingRooms(fmt)
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 2}
    right, wrong = WRONG_STEP[fmt]
    text = task.explain(p)
    assert right in text
    check = task.check_steps(p, text.replace(right, wrong))
    assert not check.correct and check.final == "YES"
    truncated = task.check_steps(p, "\n".join(text.splitlines()[:1]) + "\nAnswer: YES")
    assert not truncated.correct  # a reply that stops early has not done every step


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_the_step_checker_flags_a_final_answer_that_contradicts_the_steps(fmt):
    task = MeetingRooms(fmt)
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 1}
    text = task.explain(p)
    assert text.endswith("Answer: NO")
    check = task.check_steps(p, text[: -len("NO")] + "YES")
    assert check.correct and check.implied == "NO" and check.final == "YES" and check.contradicts
    nothing = task.check_steps(p, "I think so.\nAnswer: YES")
    assert nothing.steps == 0 and not nothing.correct and not nothing.contradicts  # no steps: nothing to contradict


def test_an_unknown_target_format_is_a_one_line_error_naming_the_known_ones():
    with pytest.raises(
        InputError,
        match=r"unknown target format 'sweep' for meeting-rooms \(known: pairwise, event-sweep, per-room, per-room-compare, per-room-slots\)",
    ) as e:
        with_target_format(get_task("meeting-rooms"), "sweep")
    assert "\n" not in str(e.value)
    assert with_target_format(get_task("meeting-rooms"), "event-sweep").target_format == "event-sweep"
    assert get_task("meeting-rooms").target_format == "per-room"  # the measured best is the default


def test_each_difficulty_level_of_a_curriculum_is_balanced_and_grows_in_meetings():
    task = get_task("meeting-rooms")
    levels = sorted(LEVELS)
    problems_ = mixed_set(task, 200, seed=11, difficulties=levels)
    assert len(problems_) == 200
    for d in levels:
        at = [p for p in problems_ if p["difficulty"] == d]
        counts = class_balance(task, at)
        assert counts["YES"] == counts["NO"] > 0, (d, counts)
        assert {len(p["meetings"]) for p in at} == {LEVELS[d].meetings}
    assert [LEVELS[d].meetings for d in levels] == sorted(LEVELS[d].meetings for d in levels)
    assert max(peak_rooms(p["meetings"]) for p in problems_ if p["difficulty"] == 5) > 3


def test_synthesized_records_come_easy_first():
    task = MeetingRooms("event-sweep")
    records = synthesize(task, 24, strategy=None, seed=0, difficulties=[3, 1, 2])
    levels = [r.meta.model_extra["difficulty"] for r in records]
    assert levels == sorted(levels) and set(levels) == {1, 2, 3}


def test_a_step_balanced_set_keeps_each_level_and_answer_and_evens_free_and_busy():
    task = MeetingRooms("per-room-compare")
    plain = mixed_set(task, 160, seed=3, difficulties=[1, 2])
    even = step_balanced_set(task, 160, seed=3, difficulties=[1, 2], exclude={task.render(plain[0])})

    def cells(ps):
        return Counter((p["difficulty"], task.solve(p)) for p in ps)

    def outcomes(ps):
        return sum((Counter(task.step_outcomes(p)) for p in ps), Counter())

    assert cells(even) == cells(plain) and len({task.render(p) for p in even}) == 160
    assert task.render(plain[0]) not in {task.render(p) for p in even}
    assert outcomes(plain)["busy"] > 1.5 * outcomes(plain)["free"]  # what the plain draw teaches
    assert abs(outcomes(even)["busy"] - outcomes(even)["free"]) <= 2
    assert [p["difficulty"] for p in even] == sorted(p["difficulty"] for p in even)  # still easiest first
    records = synthesize(task, 16, strategy=None, seed=0, difficulties=[1], balance_steps=True)
    assert len(records) == 16 and all(task.verify(p, task.solve(p)) for p in even[:3])


def test_balancing_steps_needs_a_task_that_counts_them():
    class Parity:
        name, classes = "parity", ("EVEN", "ODD")

        def generate(self, rng, difficulty):
            return {"n": rng.randrange(10**6), "difficulty": difficulty}

        def render(self, p):
            return str(p["n"])

        def parse(self, text):
            return text

        def solve(self, p):
            return "ODD" if p["n"] % 2 else "EVEN"

        def verify(self, p, answer):
            return answer == self.solve(p)

    with pytest.raises(InputError, match="task 'parity' has no step_outcomes"):
        step_balanced_set(Parity(), 8, seed=0, difficulties=[1])
