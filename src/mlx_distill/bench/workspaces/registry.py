"""The workspace builder registry: `@workspace_builder("kind")` registers a builder, `build_workspace` runs the one a
case's spec names with that case's seeded random stream."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

from ...errors import InputError

Facts = dict[str, Any]
WorkspaceBuilder = Callable[..., Facts]

WORKSPACE_BUILDERS: dict[str, WorkspaceBuilder] = {}


def workspace_builder(kind: str) -> Callable[[WorkspaceBuilder], WorkspaceBuilder]:
    def register(fn: WorkspaceBuilder) -> WorkspaceBuilder:
        WORKSPACE_BUILDERS[kind] = fn
        return fn

    return register


def case_rng(case_id: str, seed: int) -> random.Random:
    """The random stream of one case under one seed (stable across Python runs and platforms)."""
    return random.Random(f"mlx-distill-bench:{seed}:{case_id}")


def build_workspace(spec: dict[str, Any], root: str | Path, *, case_id: str = "case", seed: int = 0) -> Facts:
    """Generate the workspace described by `spec` ({"kind": ..., **params}) into `root` (created
    if missing, expected empty) and return its facts."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in WORKSPACE_BUILDERS:
        raise InputError(
            f"unknown workspace kind {kind!r} (known: {', '.join(sorted(WORKSPACE_BUILDERS))})",
            record_id=case_id,
            rule="workspace",
        )
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        facts = WORKSPACE_BUILDERS[kind](root, case_rng(case_id, seed), **spec)
    except TypeError as e:  # unknown or missing parameters of the workspace builder
        raise InputError(f"workspace {kind!r}: {e}", record_id=case_id, rule="workspace") from None
    facts.setdefault("kind", kind)
    return facts
