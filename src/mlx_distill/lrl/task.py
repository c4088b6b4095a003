"""The task plug-in interface of reflective distillation (LRL), its registry, and class-balanced problem sets.

A task is anything with the attributes of `Task`: it generates problems (JSON-serialisable dicts), renders
one as the question a model sees, parses a model's answer, and knows the truth from its own solver, never
from a model. Tasks register by name (`register`); `get_task` also takes `package.module:attribute` or
`path/to/file.py:attribute`, so users add their own without touching this package.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..errors import InputError

Problem = dict[str, Any]


@runtime_checkable
class Task(Protocol):
    """What a task plug-in provides. `classes` are the answers `solve` can return (used to balance sets
    and to score recall per class). Optional: `explain(problem)`, a worked solution ending in the answer;
    `check_steps(problem, text) -> StepCheck`, that solution's steps read back from a reply and compared
    with the solver's; `target_formats` and `with_target_format(name)`, several ways to write it;
    `step_outcomes(problem)`, the judgements that solution makes counted by outcome, so synthesis can
    balance them (`balance_steps`)."""

    name: str
    classes: tuple[str, ...]

    def generate(self, rng: random.Random, difficulty: int) -> Problem: ...

    def render(self, problem: Problem) -> str: ...

    def parse(self, answer_text: str) -> str | None: ...

    def solve(self, problem: Problem) -> str: ...

    def verify(self, problem: Problem, answer: str | None) -> bool: ...


@dataclass(frozen=True)
class StepCheck:
    """What a reply's worked steps say, read back in the format the student was trained on: how many
    steps were read, whether they are exactly the solver's, the answer they lead to, the answer written."""

    steps: int
    correct: bool
    implied: str | None
    final: str | None

    @property
    def contradicts(self) -> bool:
        """The final answer is not the one its own steps lead to."""
        return self.final is not None and self.implied is not None and self.final != self.implied


_REGISTRY: dict[str, Callable[[], Task]] = {}


def register(name: str, factory: Callable[[], Task]) -> None:
    """Make a task available by name (`factory()` builds it)."""
    _REGISTRY[name] = factory


def task_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    importlib.import_module("mlx_distill.lrl.tasks")


def get_task(spec: "str | Task") -> Task:
    """A registered name (`meeting-rooms`), `package.module:attribute` or `file.py:attribute`; the attribute
    is a task object, or a class/function that returns one."""
    if not isinstance(spec, str):
        return _checked(spec, repr(spec))
    _load_builtins()
    if spec in _REGISTRY:
        return _checked(_REGISTRY[spec](), spec)
    if ":" not in spec:
        raise InputError(
            f"unknown task {spec!r} (built in: {', '.join(sorted(_REGISTRY))}; or give "
            "package.module:attribute or path/to/file.py:attribute)",
            rule="task",
        )
    where, attr = spec.rsplit(":", 1)
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise InputError("task module not found", path=path, rule="task")
        mod_name = f"_mlx_distill_task_{path.stem}"
        s = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
        sys.modules[mod_name] = module
        s.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as e:
            raise InputError(f"cannot import task module {where!r}: {e}", rule="task") from None
    if not hasattr(module, attr):
        raise InputError(f"module {where!r} has no attribute {attr!r}", rule="task")
    obj = getattr(module, attr)
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "generate")):
        obj = obj()
    return _checked(obj, spec)


def _checked(obj: Any, spec: str) -> Task:
    missing = [a for a in ("name", "classes", "generate", "render", "parse", "solve", "verify") if not hasattr(obj, a)]
    if missing:
        raise InputError(f"task {spec!r} lacks {', '.join(missing)} (see docs/lrl.md)", rule="task")
    return obj


def with_target_format(task: Task, format_name: str | None) -> Task:
    """The task writing its worked solutions in `format_name` (None: as it is)."""
    if format_name is None:
        return task
    if not hasattr(task, "with_target_format"):
        raise InputError(f"task {task.name!r} has one worked-solution format; remove target_format", rule="config")
    return task.with_target_format(format_name)  # type: ignore[no-any-return]


def target_format_name(task: Task) -> str | None:
    return getattr(task, "target_format", None)


def check_steps(task: Task, problem: Problem, text: str) -> StepCheck | None:
    """The reply's steps checked against the solver's, or None for a task that cannot read steps."""
    fn = getattr(task, "check_steps", None)
    return fn(problem, text) if fn is not None else None


def explain(task: Task, problem: Problem) -> str:
    """The task's worked solution, or just the solver's answer for tasks without `explain`."""
    fn = getattr(task, "explain", None)
    return fn(problem) if fn is not None else f"Answer: {task.solve(problem)}"


def problem_set(
    task: Task,
    n: int,
    *,
    seed: int,
    difficulty: int,
    exclude: set[str] | frozenset[str] = frozenset(),
    max_tries: int | None = None,
) -> list[Problem]:
    """`n` distinct problems, exactly n / len(classes) of each solver answer (n must divide evenly), none
    whose rendered question is in `exclude` (a held-out set stays held out). Deterministic in `seed`."""
    k = len(task.classes)
    if n % k:
        raise InputError(f"a balanced set of {task.name} needs a multiple of {k} problems, got {n}", rule="balance")
    quota = {c: n // k for c in task.classes}
    rng = random.Random(f"{task.name}:{seed}:{difficulty}")
    seen = set(exclude)
    out: list[Problem] = []
    tries = 0
    limit = max_tries or 200 * n + 1000
    while len(out) < n:
        tries += 1
        if tries > limit:
            raise InputError(
                f"{task.name}: could not generate {n} distinct balanced problems at difficulty "
                f"{difficulty} (have {dict(Counter(task.solve(p) for p in out))})",
                rule="balance",
            )
        p = task.generate(rng, difficulty)
        truth = task.solve(p)
        q = task.render(p)
        if quota.get(truth, 0) <= 0 or q in seen:
            continue
        quota[truth] -= 1
        seen.add(q)
        out.append(p)
    return out


def mixed_set(
    task: Task,
    n: int,
    *,
    seed: int,
    difficulties: list[int] | tuple[int, ...],
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[Problem]:
    """`n` problems spread evenly over `difficulties`, each part class-balanced, all distinct."""
    k = len(task.classes)
    per = [n // len(difficulties) // k * k] * len(difficulties)
    per[-1] += n - sum(per)
    seen = set(exclude)
    out: list[Problem] = []
    for d, count in zip(difficulties, per):
        got = problem_set(task, count, seed=seed, difficulty=d, exclude=seen)
        seen.update(task.render(p) for p in got)
        out.extend(got)
    return out


def step_balanced_set(
    task: Task,
    n: int,
    *,
    seed: int,
    difficulties: list[int] | tuple[int, ...],
    exclude: set[str] | frozenset[str] = frozenset(),
    pool: int = 4,
) -> list[Problem]:
    """A `mixed_set` (same size, same count per difficulty and answer) whose worked solutions' judgements
    are as even as it can make them (`task.step_outcomes`), picked greedily from `pool` times as many
    candidates. Why: a student trained where one outcome dominates (meeting-rooms: a used room is "busy"
    two times in three) learns the prior, not the comparison behind it."""
    outcomes = getattr(task, "step_outcomes", None)
    if outcomes is None:
        raise InputError(f"task {task.name!r} has no step_outcomes: it cannot balance its steps", rule="config")
    plain = mixed_set(task, n, seed=seed, difficulties=difficulties, exclude=exclude)
    want = Counter((p.get("difficulty"), task.solve(p)) for p in plain)
    cells: dict[tuple[Any, str], list[tuple[Problem, Counter]]] = {cell: [] for cell in want}
    for p in mixed_set(task, n * pool, seed=seed + 1, difficulties=difficulties, exclude=exclude):
        cells.setdefault((p.get("difficulty"), task.solve(p)), []).append((p, Counter(outcomes(p))))
    kinds = sorted({k for cands in cells.values() for _p, c in cands for k in c})
    totals: Counter = Counter()

    def spread(c: Counter) -> int:
        return max(totals[k] + c[k] for k in kinds) - min(totals[k] + c[k] for k in kinds) if kinds else 0

    chosen: list[Problem] = []
    for _round in range(max(want.values(), default=0)):
        for cell in sorted(want, key=str):
            if want[cell] and cells[cell]:
                i = min(range(len(cells[cell])), key=lambda j: spread(cells[cell][j][1]))
                p, c = cells[cell].pop(i)
                totals.update(c)
                chosen.append(p)
                want[cell] -= 1
    order = {id(p): i for i, p in enumerate(chosen)}
    return sorted(chosen, key=lambda p: (p.get("difficulty") or 0, order[id(p)]))


def class_balance(task: Task, problems: list[Problem]) -> dict[str, int]:
    """Problems per solver answer, in the task's class order."""
    counts = Counter(task.solve(p) for p in problems)
    return {c: counts.get(c, 0) for c in task.classes}


def describe_balance(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{c} {v} ({100 * v / total:.0f}%)" for c, v in counts.items())
