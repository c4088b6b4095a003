"""The reflective loop: the teacher solves batches of problems with its current strategy; after each batch
it writes a journal entry about its mistakes (the verifier says which answers were wrong and what the
solver says); every few batches it rewrites the strategy from the journal.

Everything lives in the run directory and survives a kill: every teacher call is journaled before it is
used (`teacher.JournaledTeacher`), each finished batch is a file, each strategy version is a file, so a
resumed run repeats no call and loses no answer.

    RUN/loop/teacher/      journaled calls (turns.jsonl) and their ledger (ledger.jsonl)
    RUN/loop/batch-NNN.json  problems, answers, verdicts, accuracy, the strategy version used, the journal entry
    RUN/loop/journal.md      the journal, entry by entry
    RUN/loop/strategy-vN.md  every strategy version (v0: the starting one, possibly empty)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..io import atomic_write_text, write_json
from .prompt import messages
from .task import Problem, Task, problem_set
from .teacher import JournaledTeacher

JOURNAL_SYSTEM = (
    "You keep a journal while practising a kind of problem. Be concrete: what went wrong, why, "
    "and what to do differently. Plain prose, at most 120 words."
)
STRATEGY_SYSTEM = (
    "You write a strategy for solving a kind of problem: short numbered steps a careful solver "
    'can follow mechanically, including how to format the working and the final "Answer:" '
    "line. At most 150 words. Reply with the strategy only."
)


@dataclass
class LoopResult:
    strategy: str
    versions: int
    batches: list[dict[str, Any]] = field(default_factory=list)
    asked: int = 0

    @property
    def accuracy_by_batch(self) -> list[float]:
        return [b["accuracy"] for b in self.batches]


def _journal_prompt(task: Task, batch: list[dict[str, Any]]) -> str:
    wrong = [b for b in batch if not b["correct"]]
    lines = [f"You answered {len(batch) - len(wrong)} of {len(batch)} {task.name} problems correctly."]
    for b in wrong[:4]:
        lines += [
            "",
            "Problem:",
            b["question"],
            "Your answer:",
            b["text"].strip()[-600:],
            f"The verifier says this is wrong; the correct answer is {b['truth']}.",
        ]
    if not wrong:
        lines.append("No mistakes in this batch: note what worked.")
    lines += ["", "Write the journal entry for this batch."]
    return "\n".join(lines)


def _strategy_prompt(task: Task, strategy: str, journal: list[str]) -> str:
    return "\n".join(
        [
            f"Task: {task.name}.",
            "",
            "Current strategy:",
            strategy or "(none yet)",
            "",
            "Journal so far:",
            *[f"- {e.strip()}" for e in journal],
            "",
            "Rewrite the strategy so that these mistakes do not happen again.",
        ]
    )


def run_loop(
    task: Task,
    teacher: JournaledTeacher,
    run_dir: str | Path,
    *,
    batches: int,
    batch_size: int,
    rewrite_every: int,
    difficulties: Sequence[int],
    seed: int,
    strategy: str = "",
    exclude: set[str] | frozenset[str] = frozenset(),
    log: Callable[[str], None] | None = None,
) -> LoopResult:
    """Run (or resume) the loop; returns the final strategy and every batch's record."""
    say = log or (lambda _m: None)
    loop_dir = Path(run_dir) / "loop"
    loop_dir.mkdir(parents=True, exist_ok=True)
    v0 = loop_dir / "strategy-v0.md"
    if not v0.exists():
        atomic_write_text(v0, strategy)
    version, current = 0, v0.read_text(encoding="utf-8")
    done: list[dict[str, Any]] = []
    seen = set(exclude)
    for b in range(batches):
        path = loop_dir / f"batch-{b:03d}.json"
        if path.exists():
            rec = json.loads(path.read_text(encoding="utf-8"))
            done.append(rec)
            seen.update(x["question"] for x in rec["answers"])
        else:
            rec = _solve_batch(
                task, teacher, b, difficulties[b % len(difficulties)], batch_size, seed, seen, current, version
            )
            write_json(path, rec)
            done.append(rec)
            _write_journal(loop_dir, done)
            right = sum(a["correct"] for a in rec["answers"])
            say(
                f"batch {b + 1}/{batches} (difficulty {rec['difficulty']}, strategy v{version}): "
                f"{right}/{len(rec['answers'])} right"
            )
        if (b + 1) % rewrite_every == 0 or b + 1 == batches:
            nxt = loop_dir / f"strategy-v{version + 1}.md"
            if not nxt.exists():
                text = teacher.ask(
                    [
                        {"role": "system", "content": STRATEGY_SYSTEM},
                        {"role": "user", "content": _strategy_prompt(task, current, [d["journal"] for d in done])},
                    ],
                    purpose="strategy",
                )
                atomic_write_text(nxt, text.strip() + "\n")
                say(f"strategy v{version + 1} written")
            version += 1
            current = nxt.read_text(encoding="utf-8")
    _write_journal(loop_dir, done)
    return LoopResult(strategy=current, versions=version, batches=done, asked=teacher.asked)


def _solve_batch(
    task: Task,
    teacher: JournaledTeacher,
    b: int,
    difficulty: int,
    batch_size: int,
    seed: int,
    seen: set[str],
    strategy: str,
    version: int,
) -> dict[str, Any]:
    """The teacher answers one batch with the current strategy, then journals its mistakes."""
    problems: list[Problem] = problem_set(task, batch_size, seed=seed + b, difficulty=difficulty, exclude=seen)
    answers: list[dict[str, Any]] = []
    for p in problems:
        text = teacher.ask(messages(task, p, strategy), purpose="answer")
        got = task.parse(text)
        answers.append(
            {
                "problem": p,
                "question": task.render(p),
                "text": text,
                "parsed": got,
                "truth": task.solve(p),
                "correct": task.verify(p, got),
            }
        )
    seen.update(a["question"] for a in answers)
    entry = teacher.ask(
        [{"role": "system", "content": JOURNAL_SYSTEM}, {"role": "user", "content": _journal_prompt(task, answers)}],
        purpose="journal",
    )
    return {
        "batch": b,
        "difficulty": difficulty,
        "strategy_version": version,
        "accuracy": sum(a["correct"] for a in answers) / len(answers),
        "answers": answers,
        "journal": entry,
    }


def _write_journal(loop_dir: Path, batches: list[dict[str, Any]]) -> None:
    parts = [
        f"## batch {d['batch'] + 1} (strategy v{d['strategy_version']}, {d['accuracy']:.0%} right)\n\n"
        f"{d['journal'].strip()}\n"
        for d in batches
    ]
    atomic_write_text(loop_dir / "journal.md", "# Journal\n\n" + "\n".join(parts))
