"""The data build recipe (configs/data.yaml): which sources run, how records are validated,
balanced and split. Relative paths are resolved against `root` (default: the current directory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from ..config import StrictModel as _Strict
from ..config import apply_overrides, read_yaml, validate


class SourceSpec(_Strict):
    """One source. `type`: hand_authored (paths of YAML/JSONL), domain (repositories to mine),
    direct (Markdown/Python to mine), convert (a file in a public format), records (JSONL records as is),
    catalogue (questions over generated tool sets: `catalogue`, `counts` per kind, `pairs`, `max_tools`,
    `irrelevance`, `mask`),
    teacher (the accepted records of `mlx-distill collect` stores)."""

    type: Literal["hand_authored", "domain", "direct", "convert", "records", "catalogue", "teacher"]
    name: Optional[str] = None  # how the source is named in the manifest (default: type)
    paths: list[str] = Field(default_factory=list)
    include: Optional[list[str]] = None  # domain: subdirectories/files of each repository to mine
    limit: Optional[int] = Field(default=None, ge=1)
    seed: Optional[int] = None  # default: the build seed
    max_result_chars: int = Field(default=1500, ge=100)  # domain
    run_commands: bool = True  # domain: include run_command examples
    format: Optional[str] = None  # convert
    answers: Optional[str] = None  # convert (bfcl): possible_answer file
    system: Optional[Literal["default", "source"]] = None  # convert
    catalogue: str = "train"  # catalogue: a shipped catalogue name or a YAML file
    counts: Optional[dict[str, Annotated[int, Field(ge=0)]]] = (
        None  # catalogue: items per kind (default: data.sources.catalogue.DEFAULT_COUNTS)
    )
    pairs: float = Field(default=0.5, ge=0, le=1)  # catalogue: share of call items also given without their tool
    max_tools: int = Field(default=10, ge=1, le=64)  # catalogue: most tools offered in one record
    irrelevance: float = Field(default=0.0, ge=0, lt=1)  # catalogue: share of records offering only unrelated tools
    mask: float = Field(default=0.0, ge=0, le=1)  # catalogue: share of records with tool/parameter names masked
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> "SourceSpec":
        if self.type == "catalogue":
            from ..catalogue import KINDS

            if self.catalogue == "heldout":
                raise ValueError(
                    "the held-out catalogue is for the benchmark only: train on `train` (or your own file)"
                )
            if unknown := sorted(set(self.counts or {}) - set(KINDS)):
                raise ValueError(f"unknown catalogue kind(s) {unknown} (known: {', '.join(KINDS)})")
            return self
        if not self.paths:
            raise ValueError(f"source {self.type!r} needs `paths`")
        if self.type == "convert":
            from .sources.converters import FORMATS

            if self.format not in FORMATS:
                raise ValueError(f"convert source needs `format`, one of {', '.join(FORMATS)}")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type


class ValidationSpec(_Strict):
    model: Optional[str] = "embedded:smollm2-135m"  # tokenizer for render/mask/too-long; null skips them
    max_seq_length: int = Field(default=2048, ge=16)
    render_sample: Optional[int] = Field(default=None, ge=1)  # check only this many records with the template
    bench: list[str] = Field(default_factory=lambda: ["data/bench"])
    near_threshold: float = Field(default=0.9, gt=0, le=1)
    bench_threshold: float = Field(default=0.8, gt=0, le=1)
    drop_near_duplicates: bool = True
    on_error: Literal["drop", "fail"] = "drop"


class BalanceSpec(_Strict):
    ratio: dict[str, float] = Field(default_factory=lambda: {"tool": 2.0, "direct": 1.0})
    max_per_category: Optional[int] = Field(default=None, ge=1)
    category_caps: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    total: Optional[int] = Field(default=None, ge=1)
    keep_sources: list[str] = Field(default_factory=lambda: ["hand_authored"])  # taken first when downsampling
    other_labels: Literal["keep", "drop"] = "keep"  # labels not in `ratio` (clarify, refuse)
    toolsets: Optional[dict[Literal["workspace", "other", "none"], Annotated[float, Field(ge=0)]]] = (
        None  # within each label
    )

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, v: dict[str, float]) -> dict[str, float]:
        from ..schema import LABELS

        if not v or any(x <= 0 for x in v.values()):
            raise ValueError("ratio needs positive weights, e.g. {tool: 2, direct: 1}")
        bad = set(v) - set(LABELS)
        if bad:
            raise ValueError(f"unknown label(s) in ratio: {', '.join(sorted(bad))} (labels: {', '.join(LABELS)})")
        return v


class SplitSpec(_Strict):
    valid: float = Field(default=0.1, ge=0, lt=1)
    test: float = Field(default=0.1, ge=0, lt=1)
    salt: str = ""  # changing it reshuffles every record: leave it alone once data is in use
    order: Literal["hash", "input"] = "hash"  # within each split file; input: as the sources list them (a curriculum)

    @model_validator(mode="after")
    def _sum(self) -> "SplitSpec":
        if self.valid + self.test >= 1:
            raise ValueError("valid + test must be below 1")
        return self


class DataConfig(_Strict):
    seed: int = 0
    root: Optional[str] = None
    output_dir: str = "data/mlx_format"
    sources: list[SourceSpec] = Field(min_length=1)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    balance: BalanceSpec = Field(default_factory=BalanceSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)

    def resolve(self, path: str | os.PathLike) -> Path:
        p = Path(path).expanduser()
        if p.is_absolute():
            return p
        return Path(self.root or ".") / p


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> DataConfig:
    """Read and validate a data config; errors name the file and the offending key."""
    raw = apply_overrides(read_yaml(path), overrides, DataConfig)
    return validate(DataConfig, raw, path=path)
