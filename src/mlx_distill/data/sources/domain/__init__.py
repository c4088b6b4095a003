"""Domain examples mined from real repositories.

The miner reads a repository (Python through `ast`: modules, classes, functions, decorators, imports,
constants; plus Markdown headings and config keys of other text files), turns what it finds into
candidate questions, and answers each one by really running the agent's tools (`tools.Workspace`)
on that repository. Every tool result in a record is real output; every final answer is computed
from those results (names, counts, line numbers). A candidate whose result is an error, is empty
where it should not be, or is too long, is skipped.

Selection is deterministic for a seed: candidates are shuffled per category with `random.Random(seed)`
and taken round-robin across categories, so a limit keeps the categories balanced.

Modules: `scanner` (facts), `candidate` (the question type), `functions`, `classes`, `modules` and
`repository` (the templates), `wording` (how answers are phrased), `miner` (running and selection).
"""

from typing import Any

from ..registry import SourceRun, source
from .miner import CATEGORIES, SOURCE, candidates, generate_domain
from .scanner import Repo, scan_repo

__all__ = ["CATEGORIES", "SOURCE", "Repo", "candidates", "generate_domain", "scan_repo"]


@source("domain")
def read_domain(spec: Any, run: SourceRun) -> list[Any]:
    return run.located(generate_domain(run.paths, seed=run.seed, limit=spec.limit, include=spec.include,
                                       max_result_chars=spec.max_result_chars, run_commands=spec.run_commands))
