"""Seeded workspace generators: each writes a small randomized project into an empty directory and
returns the facts about it (names, paths, counts, values) that fill a case's question and decide
whether an answer is right.

Everything a question asks about is drawn from the seed — file names, how many there are, the
values in them, function names — so the same case asks about different things under different
seeds, and a model that memorised an answer instead of looking fails. Counts are measured from the
files after they are written, so the ground truth is what the workspace really holds.

A generator is `fn(root: Path, rng: random.Random, **params) -> dict[str, Any]`; register it with
`@generator("kind")` (`registry.py`). Facts are JSON-able (str, int, list of str). The generators live
one module per case category (`search`, `read`, `count`, `run`, `write`), on the shared word pools and
file helpers of `materials.py`; importing this package registers them all.
"""

from . import search, read, count, run, write  # noqa: F401  (each registers its generators, in this order)
from .registry import GENERATORS, Facts, Generator, build_workspace, case_rng, generator

__all__ = ["GENERATORS", "Facts", "Generator", "build_workspace", "case_rng", "generator"]
