"""The data build's sources, looked up by the config's `type`: `@source("type")` registers a reader,
`read_source(spec, cfg)` runs the one a source spec names. A new kind of source is one module under
`data/sources/` with a `@source(...)` reader, its name in `MODULES`, and its `type` in
`data.config.SourceSpec` (`tests/test_data_sources.py` fails when those two lists differ).

A reader is `fn(spec, run) -> list[Located]`: `run` holds the source's resolved paths, its seed and
the manifest entry it may add to (`run.info`); records a source generates are located as
`<label>:N` (`run.located(records)`). Modules are imported on the first lookup, so importing one
reader (the teacher store's, from the teacher side) does not load the others."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..config import DataConfig, SourceSpec
    from ..validate import Located

MODULES = ("hand_authored", "domain", "direct", "converters", "teacher_store", "catalogue", "records")


@dataclass
class SourceRun:
    spec: "SourceSpec"
    config: "DataConfig"
    paths: list[Path]
    seed: int
    info: dict[str, Any]

    def located(self, records: list[Any]) -> list["Located"]:
        from ..validate import Located

        tag = f"<{self.spec.label}>"
        return [Located(r, tag, i + 1) for i, r in enumerate(records)]

    def limited(self, items: list["Located"]) -> list["Located"]:
        return items if self.spec.limit is None else items[: self.spec.limit]


Reader = Callable[["SourceSpec", SourceRun], "list[Located]"]
SOURCES: dict[str, Reader] = {}


def source(type_: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        SOURCES[type_] = fn
        return fn

    return register


def sources() -> dict[str, Reader]:
    """Every registered reader (the source modules imported on the first call)."""
    for name in MODULES:
        importlib.import_module(f"{__package__}.{name}")
    return SOURCES


def read_source(spec: "SourceSpec", cfg: "DataConfig") -> tuple[list["Located"], dict[str, Any]]:
    """Run one configured source; returns its located records and a summary for the manifest."""
    run = SourceRun(
        spec,
        cfg,
        [cfg.resolve(p) for p in spec.paths],
        cfg.seed if spec.seed is None else spec.seed,
        {"type": spec.type, "paths": spec.paths},
    )
    items = sources()[spec.type](spec, run)
    run.info["records"] = len(items)
    return items, run.info
