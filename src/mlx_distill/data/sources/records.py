"""The `records` source: JSONL files of records in the project's format, taken as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import SourceRun, source

if TYPE_CHECKING:
    from ..config import SourceSpec
    from ..validate import Located


@source("records")
def read_records(spec: "SourceSpec", run: SourceRun) -> list["Located"]:
    from ..build import findings_error
    from ..validate import load_located

    items, findings, _files = load_located(run.paths)
    if findings:
        raise findings_error(findings)
    return run.limited(items)
