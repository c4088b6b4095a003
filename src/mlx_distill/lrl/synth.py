"""Synthesis: verified training records whose prompts carry the strategy and whose targets are the
solver's worked reasoning plus the answer (not a bare answer), then a data build (validator, balancer,
split) into an mlx-lm data directory that `mlx-distill train` reads.

Every target is checked before it is written: the task parses the worked solution back and its verifier
must accept that answer, and a task that reads steps (`check_steps`) must read back exactly the solver's
steps, so a task whose `explain` and `solve` disagree fails loudly here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..data.ids import stable_id
from ..errors import InputError
from ..schema import Record, build_record
from .prompt import messages, strategy_hash
from .task import Problem, Task, check_steps, describe_balance, explain, mixed_set, step_balanced_set

SOURCE = "lrl"


def record_for(task: Task, problem: Problem, strategy: str | None) -> Record:
    """One training record: the LRL prompt, then the worked solution as the assistant turn."""
    target = explain(task, problem)
    truth = task.solve(problem)
    if not task.verify(problem, task.parse(target)):
        raise InputError(
            f"{task.name}: the worked solution parses to {task.parse(target)!r}, the solver says {truth!r}",
            rule="verify",
        )
    steps = check_steps(task, problem, target)
    if steps is not None and (not steps.correct or steps.contradicts):
        raise InputError(f"{task.name}: the worked solution's steps do not read back as the solver's", rule="verify")
    msgs = messages(task, problem, strategy) + [{"role": "assistant", "content": target}]
    question = task.render(problem)
    return build_record(
        msgs,
        [],
        id=stable_id("lrl", task.name, question, strategy_hash(strategy)),
        source=SOURCE,
        category=f"{task.name}/{truth.lower()}",
        label="direct",
        task=task.name,
        answer=truth,
        difficulty=problem.get("difficulty"),
    )


def synthesize(
    task: Task,
    n: int,
    *,
    strategy: str | None,
    seed: int,
    difficulties: list[int],
    exclude: set[str] | frozenset[str] = frozenset(),
    balance_steps: bool = False,
) -> list[Record]:
    """`n` verified records, class-balanced at each difficulty (n is spread over the difficulties), none
    with a question in `exclude` (the held-out test set), easiest first (a curriculum keeps this order).
    `balance_steps`: problems whose solutions' judgements come out even (`task.step_balanced_set`)."""
    draw = step_balanced_set if balance_steps else mixed_set
    problems = draw(task, n, seed=seed, difficulties=difficulties, exclude=exclude)
    problems = sorted(problems, key=lambda p: p.get("difficulty") or 0)
    return [record_for(task, p, strategy) for p in problems]


def build_data(
    records_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    task: Task,
    valid: float = 0.1,
    seed: int = 0,
    tokenizer: Any = None,
    model: str | None = "embedded:smollm2-135m",
    max_seq_length: int = 2048,
    curriculum: bool = False,
    log: Callable[[str], None] | None = None,
) -> Any:
    """`mlx-distill data build` over the synthetic records: the standard validator (schema, render, mask,
    length), one balancer cap per answer class, the content-hash split. LRL questions differ only in
    their numbers, so token-set near-duplicates are expected and kept; exact duplicates are still errors.
    `curriculum`: each split file keeps the records' order (easiest first) instead of the hash order."""
    from ..data.build import build
    from ..data.config import DataConfig

    records_path = Path(records_path)
    cfg = DataConfig.model_validate(
        {
            "seed": seed,
            "output_dir": str(out_dir),
            "sources": [{"type": "records", "name": SOURCE, "paths": [str(records_path)]}],
            "validation": {
                "model": model,
                "max_seq_length": max_seq_length,
                "bench": [],
                "near_threshold": 1.0,
                "drop_near_duplicates": False,
                "on_error": "drop",
            },
            "balance": {"ratio": {"direct": 1}, "keep_sources": []},
            "split": {"valid": valid, "test": 0.0, "order": "input" if curriculum else "hash"},
        }
    )
    return build(cfg, tokenizer=tokenizer, use_template=tokenizer is not None or model is not None, log=log)


def balance_line(task: Task, records: list[Record]) -> str:
    counts = {c: sum((r.meta.model_extra or {}).get("answer") == c for r in records) for c in task.classes}
    return f"{len(records)} records: {describe_balance(counts)}"
