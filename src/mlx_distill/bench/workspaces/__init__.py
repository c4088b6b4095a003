"""Seeded workspace builders: each writes a small randomized project into an empty directory and
returns the facts about it (names, paths, counts, values) that fill a case's question and decide
whether an answer is right.

Everything a question asks about is drawn from the seed — file names, how many there are, the
values in them, function names — so the same case asks about different things under different
seeds, and a model that memorised an answer instead of looking fails. Counts are measured from the
files after they are written, so the ground truth is what the workspace really holds.

A workspace builder is `fn(root: Path, rng: random.Random, **params) -> dict[str, Any]`; register it with
`@workspace_builder("kind")` (`registry.py`). Facts are JSON-able (str, int, list of str). The builders live
one module per case category (`search`, `read`, `count`, `run`, `write`), on the shared word pools and
file helpers of `materials.py`; importing this package registers them all.
"""

from . import search, read, count, run, write  # noqa: F401  (each registers its builders, in this order)
from .registry import WORKSPACE_BUILDERS, Facts, WorkspaceBuilder, build_workspace, case_rng, workspace_builder

__all__ = ["WORKSPACE_BUILDERS", "Facts", "WorkspaceBuilder", "build_workspace", "case_rng", "workspace_builder"]
