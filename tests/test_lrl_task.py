"""LRL task plug-ins: the registry, the meeting-rooms solver against brute force, balanced sets, the verifier."""

import random

import pytest

from mlx_distill.errors import InputError
from mlx_distill.lrl.task import class_balance, get_task, problem_set, task_names
from mlx_distill.lrl.tasks.meeting_rooms import LEVELS, MeetingRooms, peak_rooms


def brute_force_fits(meetings, rooms):
    """Minute by minute: a meeting [s, e) occupies a room at every minute m with s <= m < e."""
    lo = min(s for s, _ in meetings)
    hi = max(e for _, e in meetings)
    return all(sum(s <= m < e for s, e in meetings) <= rooms for m in range(lo, hi))


def test_meeting_rooms_is_registered_by_name():
    assert "meeting-rooms" in task_names()
    assert isinstance(get_task("meeting-rooms"), MeetingRooms)


def test_solver_agrees_with_brute_force_on_random_small_instances():
    task = MeetingRooms()
    rng = random.Random(7)
    checked = {"YES": 0, "NO": 0}
    for _ in range(2000):
        n = rng.randint(1, 6)
        meetings = []
        for _ in range(n):
            s = rng.randrange(0, 20) * 15
            meetings.append([s, s + rng.randint(1, 6) * 15])  # many equal start/end times
        rooms = rng.randint(1, 4)
        problem = {"meetings": sorted(meetings), "rooms": rooms}
        expected = "YES" if brute_force_fits(problem["meetings"], rooms) else "NO"
        assert task.solve(problem) == expected, problem
        checked[expected] += 1
    assert min(checked.values()) > 200


def test_a_meeting_ending_when_another_starts_frees_its_room():
    task = MeetingRooms()
    assert peak_rooms([[540, 600], [600, 660]]) == 1
    assert task.solve({"meetings": [[540, 600], [600, 660]], "rooms": 1}) == "YES"
    assert task.solve({"meetings": [[540, 601], [600, 660]], "rooms": 1}) == "NO"


@pytest.mark.parametrize("difficulty", sorted(LEVELS))
def test_generated_sets_are_exactly_balanced_and_distinct(difficulty):
    task = MeetingRooms()
    problems = problem_set(task, 40, seed=3, difficulty=difficulty)
    assert class_balance(task, problems) == {"YES": 20, "NO": 20}
    assert len({task.render(p) for p in problems}) == 40
    assert all(len(p["meetings"]) == LEVELS[difficulty].meetings for p in problems)


def test_room_count_does_not_give_the_answer_away():
    task = MeetingRooms()
    problems = problem_set(task, 200, seed=1, difficulty=2)
    for rooms in LEVELS[2].rooms:
        answers = [task.solve(p) for p in problems if p["rooms"] == rooms]
        assert answers and 0.3 < answers.count("YES") / len(answers) < 0.7


def test_a_held_out_set_never_shares_a_question_with_the_training_set():
    task = MeetingRooms()
    test = problem_set(task, 20, seed=0, difficulty=1)
    held = {task.render(p) for p in test}
    train = problem_set(task, 60, seed=0, difficulty=1, exclude=held)  # same seed: would repeat without exclude
    assert not held & {task.render(p) for p in train}


def test_verifier_rejects_wrong_and_unparseable_answers():
    task = MeetingRooms()
    for p in problem_set(task, 20, seed=5, difficulty=3):
        truth = task.solve(p)
        wrong = "NO" if truth == "YES" else "YES"
        assert task.verify(p, truth)
        assert not task.verify(p, wrong)
        assert not task.verify(p, None)
        assert not task.verify(p, task.parse("I am not sure."))


def test_parse_takes_the_final_answer_line():
    task = MeetingRooms()
    assert task.parse("No overlap at 9.\nMost in use: 2.\nAnswer: YES") == "YES"
    assert task.parse("Answer: yes... wait, Answer: **NO**") == "NO"
    assert task.parse("Yes, they all fit.") == "YES"
    assert task.parse("It depends.") is None


def test_worked_solution_checks_each_start_against_the_earlier_ends_and_ends_in_the_solvers_answer():
    task = MeetingRooms("pairwise")
    p = {"meetings": [[540, 630], [570, 660], [630, 720]], "rooms": 1, "difficulty": 1}
    text = task.explain(p)
    assert text == (
        "A 09:00: In use 1\n"
        "B 09:30: A ends 10:30 busy. In use 2\n"
        "C 10:30: A ends 10:30 free, B ends 11:00 busy. In use 2\n"
        "Peak 2, rooms 1: too many.\nAnswer: NO"
    )
    assert task.parse(text) == "NO"
    assert task.render(p).startswith("Meetings:\nA 09:00-10:30\nB 09:30-11:00\nC 10:30-12:00\nRooms: 1\n")


@pytest.mark.parametrize("difficulty", sorted(LEVELS))
def test_the_worked_solutions_largest_in_use_is_the_sweeps_peak(difficulty):
    task = MeetingRooms("pairwise")
    for p in problem_set(task, 60, seed=9, difficulty=difficulty):
        in_use = [int(line.rsplit(" ", 1)[1]) for line in task.explain(p).splitlines() if "In use" in line]
        assert len(in_use) == len(p["meetings"])
        assert max(in_use) == peak_rooms(p["meetings"])


def test_user_tasks_load_from_a_file_path(tmp_path):
    mod = tmp_path / "parity.py"
    mod.write_text(
        "class Parity:\n"
        "    name = 'parity'\n"
        "    classes = ('EVEN', 'ODD')\n"
        "    def generate(self, rng, difficulty): return {'n': rng.randrange(10 ** difficulty)}\n"
        "    def render(self, p): return f\"Is {p['n']} even or odd?\"\n"
        "    def parse(self, text): return text.strip().upper() or None\n"
        "    def solve(self, p): return 'ODD' if p['n'] % 2 else 'EVEN'\n"
        "    def verify(self, p, a): return a == self.solve(p)\n"
    )
    task = get_task(f"{mod}:Parity")
    assert task.name == "parity"
    assert class_balance(task, problem_set(task, 10, seed=0, difficulty=3)) == {"EVEN": 5, "ODD": 5}


def test_unknown_or_incomplete_tasks_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="unknown task 'meeting-room'"):
        get_task("meeting-room")
    mod = tmp_path / "half.py"
    mod.write_text("class Half:\n    name = 'half'\n")
    with pytest.raises(InputError, match="lacks classes, generate"):
        get_task(f"{mod}:Half")
