"""`mlx-distill data build`: sources -> validator -> balancer -> stable split -> data/mlx_format/.

Writes {train,valid,test}.jsonl (mlx-lm chat records plus `meta`) and manifest.json: counts by split,
source, category and label; token statistics; every record's content hash; the config; and a hash of
the whole build (the same inputs and config always give the same files and the same build hash).
The output is replaced as one unit: everything is written into a fresh sibling directory that is then
swapped in by a rename, so a kill at any point leaves the old build or the new one, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from ..io import sha256_file, write_json, write_splits
from ..vocab import SPLITS
from .balance import balance, split
from .ids import unit_hash
from .config import DataConfig, SourceSpec, load_config
from ..progress import status
from .validate import ERROR, Finding, Located, no_gc, validate_records

MANIFEST_VERSION = 1


@dataclass
class BuildResult:
    output_dir: Path
    files: dict[str, Path]
    manifest: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    @property
    def build_hash(self) -> str:
        return self.manifest["build_hash"]


def generate_source(spec: SourceSpec, cfg: DataConfig) -> tuple[list[Located], dict[str, Any]]:
    """Run one configured source (looked up by its `type`, `sources/registry.py`); returns its located
    records and a summary for the manifest."""
    from .sources.registry import read_source

    return read_source(spec, cfg)


def findings_error(findings: list[Finding]) -> InputError:
    f = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    return replace(f, message=f.message + more).error()


def _token_stats(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"records": 0}
    v = sorted(values)
    return {"records": len(v), "total": sum(v), "min": v[0], "max": v[-1], "mean": round(statistics.fmean(v), 1),
            "p50": v[len(v) // 2], "p95": v[min(len(v) - 1, int(0.95 * len(v)))]}


def build(cfg: DataConfig | str | os.PathLike, *, output_dir: str | os.PathLike | None = None,
          tokenizer: Any = None, use_template: bool = True, progress: bool = False,
          log: Callable[[str], None] | None = None, config_path: str | None = None) -> BuildResult:
    """Run the whole pipeline for a config (or a config file). `tokenizer` overrides loading
    validation.model; use_template=False skips render/mask/too-long (and token statistics)."""
    with no_gc():
        return _build(cfg, output_dir=output_dir, tokenizer=tokenizer, use_template=use_template, progress=progress,
                      log=log, config_path=config_path)


def _build(cfg: DataConfig | str | os.PathLike, *, output_dir: str | os.PathLike | None, tokenizer: Any,
           use_template: bool, progress: bool, log: Callable[[str], None] | None,
           config_path: str | None) -> BuildResult:
    if not isinstance(cfg, DataConfig):
        config_path = config_path or str(cfg)
        cfg = load_config(cfg)
    say = log or (lambda _msg: None)
    out_dir = Path(output_dir) if output_dir is not None else cfg.resolve(cfg.output_dir)
    check_paths(cfg, out_dir)  # before any source runs or a tokenizer loads
    clean_leftovers(out_dir)

    # 1. generate
    items: list[Located] = []
    generated: dict[str, Any] = {}
    for spec in cfg.sources:
        if not spec.enabled:
            continue
        with status(f"generating {spec.label}", enabled=progress):
            got, info = generate_source(spec, cfg)
        items.extend(got)
        generated[spec.label] = info
        say(f"{spec.label}: {info['records']} records")
    if not items:
        raise InputError("the configured sources produced no records")

    # 2. validate
    val = cfg.validation
    model_name = val.model if use_template else None
    if use_template and tokenizer is None and model_name:
        from ..models import load_tokenizer

        with status(f"loading tokenizer {model_name}", enabled=progress):
            tokenizer = load_tokenizer(model_name)
    if not use_template:
        tokenizer = None
    bench = [cfg.resolve(b) for b in val.bench]
    report = validate_records(items, tokenizer=tokenizer, max_seq_length=val.max_seq_length,
                              bench=[b for b in bench if b.exists()], near_threshold=val.near_threshold,
                              bench_threshold=val.bench_threshold, render_sample=val.render_sample, seed=cfg.seed,
                              progress=progress)
    bad: set[int] = set()
    near: set[int] = set()
    index: dict[tuple[object, int | None, str | None], int] = {(it.path, it.line, it.record.meta.id): i for i, it in enumerate(items)}
    for f in report.findings:
        i = index.get((f.path, f.line, f.record_id))
        if i is None:
            continue
        if f.severity == ERROR:
            bad.add(i)
        elif f.rule == "near-duplicate" and val.drop_near_duplicates:
            near.add(i)
    if report.errors and val.on_error == "fail":
        raise findings_error(report.errors)
    keep_idx = [i for i in range(len(items)) if i not in bad and i not in near]
    say(f"validated {len(items)} records: {len(report.errors)} errors, {len(report.warnings)} warnings; "
        f"dropped {len(bad)} with errors and {len(near - bad)} near-duplicates")

    # 3. balance
    b = cfg.balance
    valid_items = [items[i] for i in keep_idx]
    labels: Counter[str] = Counter(it.record.meta.label for it in valid_items)
    missing = [lab for lab in b.ratio if not labels.get(lab)]
    if missing:
        raise InputError(f"no valid records with label {', '.join(missing)}: cannot balance to "
                         f"{':'.join(f'{k}={v:g}' for k, v in b.ratio.items())} (set balance.ratio)")
    hashes = {id(it): it.record.content_hash() for it in valid_items}

    def hash_of(it: Located) -> str:
        return hashes[id(it)]

    kept, breport = balance(valid_items, ratio=b.ratio, max_per_category=b.max_per_category,
                            category_caps=b.category_caps, total=b.total, keep_sources=b.keep_sources,
                            other_labels=b.other_labels, toolsets=b.toolsets, seed=cfg.seed, hash_of=hash_of)
    say(f"balanced to {len(kept)} records: " + ", ".join(f"{k} {v}" for k, v in sorted(breport.after.items())))
    say("  tool sets by label: " + "; ".join(f"{lab} " + ", ".join(f"{k} {v}" for k, v in kinds.items())
                                             for lab, kinds in breport.toolsets_after.items()))

    # 4. split and write
    s = cfg.split
    parts = split(kept, valid=s.valid, test=s.test, salt=s.salt, hash_of=hash_of)
    stage = _stage_dir(out_dir)
    try:  # a full or failing disk: the error is one line (the CLI) and no partial staging stays
        files: dict[str, Path] = {}
        file_info: dict[str, Any] = {}
        split_hashes: dict[str, list[str]] = {}
        ordered = {name: parts[name] if s.order == "input" else
                   sorted(parts[name], key=lambda it: unit_hash(cfg.seed, hash_of(it))) for name in SPLITS}
        # model_dump_json is the record's to_json() serialised by pydantic-core: ~10x faster than json.dumps
        write_splits(stage, {name: (it.record for it in rows) for name, rows in ordered.items()}, dumps=_record_json)
        for name, rows in ordered.items():
            path = out_dir / f"{name}.jsonl"
            files[name] = path
            file_info[name] = {"path": str(path), "records": len(rows), "sha256": sha256_file(stage / path.name)}
            split_hashes[name] = [hash_of(it) for it in rows]
            if not rows:
                say(f"warning: the {name} split is empty")

        # 5. manifest
        pos = {id(it): i for i, it in enumerate(items)}
        tok_all: list[int] = []
        tok_split: dict[str, list[int]] = defaultdict(list)
        for name in SPLITS:
            for it in parts[name]:
                n = report.token_counts.get(pos[id(it)])
                if n is not None:
                    tok_all.append(n)
                    tok_split[name].append(n)

        def counts(key: Callable[[Located], str]) -> dict[str, dict[str, int]]:
            return {name: dict(sorted(Counter(key(it) for it in parts[name]).items())) for name in SPLITS}

        all_kept = [it for name in SPLITS for it in parts[name]]
        manifest: dict[str, Any] = {
            "version": MANIFEST_VERSION,
            "config_path": config_path,
            "config": cfg.model_dump(mode="json"),
            "counts": {
                "total": len(all_kept),
                "by_split": {name: len(parts[name]) for name in SPLITS},
                "by_label": dict(sorted(Counter(it.record.meta.label for it in all_kept).items())),
                "by_category": dict(sorted(Counter(it.record.meta.category for it in all_kept).items())),
                "by_source": dict(sorted(Counter(it.record.meta.source for it in all_kept).items())),
                "by_split_label": counts(lambda it: it.record.meta.label),
                "by_split_category": counts(lambda it: it.record.meta.category),
                "by_split_source": counts(lambda it: it.record.meta.source),
            },
            "generated": generated,
            "validation": {"records": report.records, "errors": len(report.errors), "warnings": len(report.warnings),
                           "by_rule": report.by_rule(), "checks": report.checks,
                           "dropped": {"errors": len(bad), "near_duplicates": len(near - bad)}},
            "balance": breport.to_json(),
            "tokens": {"tokenizer": model_name if tokenizer is not None else None,
                       "max_seq_length": val.max_seq_length, **_token_stats(tok_all),
                       "by_split": {name: _token_stats(tok_split[name]) for name in SPLITS}},
            "files": file_info,
            "content_hashes": split_hashes,
        }
        manifest["build_hash"] = hashlib.sha256(json.dumps(
            {"files": {k: v["sha256"] for k, v in file_info.items()}, "config": manifest["config"]},
            sort_keys=True).encode()).hexdigest()
        write_json(stage / "manifest.json", manifest)
        swap_in(stage, out_dir)
    except OSError:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
        raise
    return BuildResult(out_dir, files, manifest, report.findings)


# -- the output as one unit: a fresh sibling directory, swapped in by a rename -------------------------

_STAGE, _OLD = ".build-", ".old-"


def check_paths(cfg: DataConfig, out_dir: Path) -> None:
    """Every configured input must exist (a missing bench path would silently disable the overlap check)
    and the output must be a directory or absent: one line each, before anything slow runs."""
    for spec in cfg.sources:
        if not spec.enabled:
            continue
        for p in [*spec.paths, *([spec.answers] if spec.answers else [])]:
            if not cfg.resolve(p).exists():
                raise InputError(f"source {spec.label!r}: path {p!r} does not exist", path=cfg.resolve(p),
                                 rule="config")
    for b in cfg.validation.bench:
        if not cfg.resolve(b).exists():
            raise InputError(f"validation.bench path {b!r} does not exist (remove it from the config to skip "
                             "the overlap check)", path=cfg.resolve(b), rule="config")
    for d in (out_dir, *out_dir.parents):
        if d.exists():
            if not d.is_dir():
                raise InputError("output_dir: expected a directory, found a file", path=d, rule="config")
            break
    if out_dir.is_dir() and any(e.is_dir() for e in out_dir.iterdir()):
        raise InputError("output_dir holds subdirectories: a build replaces its output directory as a whole, "
                         "so give it one of its own", path=out_dir, rule="config")


def _record_json(record: Any) -> str:
    """A record as pydantic-core serialises it (jsonlines first tries the hook on `{}`: a plain dict)."""
    return record.model_dump_json(exclude_none=True) if hasattr(record, "model_dump_json") else json.dumps(record)


def _stage_dir(out_dir: Path) -> Path:
    import tempfile

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_STAGE}{os.getpid()}-", dir=out_dir.parent))


def _pid_of(leftover: Path) -> int | None:
    try:
        return int(leftover.name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove what a killed build left next to out_dir (its staging directory; an old output that a
    killed swap had moved aside is put back first if out_dir is missing). Returns what was removed."""
    import shutil

    removed: list[Path] = []
    if not out_dir.parent.is_dir():
        return removed
    for p in sorted(out_dir.parent.glob(f".{out_dir.name}{_OLD}*")):
        if _alive(_pid_of(p)):
            continue
        if not out_dir.exists():
            os.rename(p, out_dir)
        else:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    for p in sorted(out_dir.parent.glob(f".{out_dir.name}{_STAGE}*")):
        if not _alive(_pid_of(p)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(stage: Path, out_dir: Path) -> None:
    """Make `stage` the output directory in one step: readers see the old build or the new, never a mix.
    Files in the old output that the build does not write (a README, say) are carried over."""
    import shutil

    if out_dir.is_dir():
        for entry in out_dir.iterdir():
            if not (stage / entry.name).exists() and not entry.is_dir():
                shutil.copy2(entry, stage / entry.name, follow_symlinks=False)
    _fsync_dir(stage)
    if not out_dir.exists():
        os.rename(stage, out_dir)
    elif _exchange(stage, out_dir):  # stage now holds the old build
        shutil.rmtree(stage, ignore_errors=True)
    else:  # two renames; a kill between them is repaired by clean_leftovers on the next run
        old = out_dir.with_name(f".{out_dir.name}{_OLD}{os.getpid()}-{stage.name.rsplit('-', 1)[-1]}")
        os.rename(out_dir, old)
        os.rename(stage, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(out_dir.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
