"""Values that depend only on their inputs: the short stable ids every generated record carries, and the
number in [0, 1) that orders records (balance, split, validator samples) the same way on every run."""

from __future__ import annotations

import hashlib
from typing import Any


def stable_id(prefix: str, *parts: Any) -> str:
    """A short id that depends only on its inputs: `prefix-<12 hex>`."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:12]
    return f"{prefix}-{h}"


def unit_hash(*parts: Any) -> float:
    """A number in [0, 1) that depends only on its inputs (for stable, seedable ordering)."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64
