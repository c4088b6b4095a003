"""Converters from public (and our older) tool-calling formats into the one record format.

The formats are read by `mlx_distill.formats` (one module each); this module turns what they read
into Records: our system prompt (or the source's, for legacy and openai), `meta.source` = the format
name, `meta.label` / `meta.category` inferred where the source does not say, and each record checked
by the validator's record rules. An argument string that does not parse is an error that names the
file, the line and the reason; it never becomes `{}`. With `skip_invalid`, bad items go to
`OUT.rejects.jsonl` (with the reason) and the rest are written.

Formats: legacy, glaive, hermes, xlam, openai, bfcl, when2call (see FORMATS and docs/data.md).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ...formats import FORMATS, READERS, Context, Converted, bfcl
from ...errors import InputError
from ...io import check_serialisable, write_jsonl
from ...replies import conversation_label
from ...schema import Record, build_record
from ...vocab import CATEGORY_OF_LABEL, CATEGORY_OF_TOOL
from ..ids import stable_id
from ..inputs import iter_json_items
from ..validate import ERROR, Located, check_record
from .registry import SourceRun, source

__all__ = [
    "FORMATS",
    "ConvertResult",
    "convert_file",
    "infer_category",
    "iter_converted",
    "rejects_path_for",
    "to_record",
]

# Where a format's own system prompt is only tool boilerplate, ours replaces it by default.
_KEEP_SOURCE_SYSTEM = {"legacy", "openai"}


def _system_message(system: str, source_text: str | None) -> dict[str, str]:
    from ...prompting import DEFAULT_SYSTEM_PROMPT

    text = (source_text or "").strip()
    if system == "source" and text:
        return {"role": "system", "content": text}
    return {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


def infer_category(messages: list[dict[str, Any]], label: str) -> str:
    """Our tools' own category when the first calling turn uses only them; else the call's shape
    (function_call, parallel_function_call, multi_step_function_call); else by label."""
    if label == "tool":
        first_turn: list[dict[str, Any]] = next(
            (m["tool_calls"] for m in messages if m.get("role") == "assistant" and m.get("tool_calls")), []
        )
        names = [c["function"]["name"] for c in first_turn]
        if names and all(n in CATEGORY_OF_TOOL for n in names):
            return CATEGORY_OF_TOOL[names[0]]
        turns = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        if len(names) > 1:
            return "parallel_function_call"
        return "multi_step_function_call" if turns > 1 else "function_call"
    return CATEGORY_OF_LABEL[label]


def to_record(got: Converted, ctx: Context, system: str) -> Record:
    """What a format reader returned, as a Record: system prompt, id, label and category filled in."""
    messages = [_system_message(system, got.system)] + got.messages
    label = got.label or conversation_label(messages)
    category = got.category or infer_category(messages, label)
    rid = f"{ctx.fmt}-{got.source_id}" if got.source_id is not None else stable_id(ctx.fmt, ctx.path.name, ctx.line)
    return build_record(
        messages, got.tools, id=rid, source=ctx.fmt, category=category, label=label, path=ctx.path, line=ctx.line
    )


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


# ---- files -------------------------------------------------------------------------------------


@dataclass
class ConvertResult:
    fmt: str
    input: str
    output: str
    written: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    by_label: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def rejects_path_for(out: str | os.PathLike) -> Path:
    out = Path(out)
    name = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(name + ".rejects.jsonl")


def iter_converted(
    fmt: str,
    in_path: str | os.PathLike,
    *,
    system: str | None = None,
    answers: str | os.PathLike | None = None,
    check: bool = True,
) -> Iterator[tuple[int, Record | InputError, Any]]:
    """(line, Record or the InputError that rejected it, the source item) for each item of a file."""
    if fmt not in READERS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    in_path = Path(in_path)
    ctx = Context(fmt, in_path, 0)
    system = system or ("source" if fmt in _KEEP_SOURCE_SYSTEM else "default")
    if fmt == "bfcl":
        ans = Path(answers) if answers else in_path.parent / "possible_answer" / in_path.name
        if ans.exists():
            ctx.answers = bfcl.answers_by_id(obj for _line, obj in iter_json_items(ans))
        ctx.bfcl_category = bfcl.category_of_file(in_path)
    schemas = None
    for line, obj in iter_json_items(in_path, lenient=True):
        ctx.line = line
        if isinstance(obj, InputError):
            yield line, obj, None
            continue
        try:
            try:
                rec = to_record(READERS[fmt](obj, ctx), ctx, system)
                check_serialisable(rec.to_json())
            except InputError:
                raise
            except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as e:
                # a field of the wrong JSON type that the converter did not foresee: this item only
                raise ctx.error(f"unexpected {fmt} item ({type(e).__name__}: {_one_line(e)})", "shape") from None
            if check:
                from ..validate import SchemaCache

                schemas = schemas or SchemaCache()
                bad = [f for f in check_record(Located(rec, str(in_path), line), schemas) if f.severity == ERROR]
                if bad:
                    raise bad[0].error()
            yield line, rec, obj
        except InputError as e:
            yield line, e, obj


def convert_file(
    fmt: str,
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    skip_invalid: bool = False,
    system: str | None = None,
    answers: str | os.PathLike | None = None,
    limit: int | None = None,
) -> ConvertResult:
    """Convert a whole file. Without skip_invalid the first bad item raises InputError (nothing is written);
    with it, rejects go to OUT.rejects.jsonl with their reasons."""
    for target in (Path(out_path), rejects_path_for(out_path)):
        if target.exists() and Path(in_path).exists() and os.path.samefile(target, in_path):
            raise InputError(
                f"refusing to overwrite the input with its conversion ({target} is IN); choose another OUT",
                path=in_path,
                rule="args",
            )
        if target.is_dir():
            raise InputError("expected a file path for the output, found a directory", path=target, rule="args")
    res = ConvertResult(fmt, str(in_path), str(out_path))
    records: list[Record] = []
    rejects: list[dict[str, Any]] = []
    labels: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for line, got, obj in iter_converted(fmt, in_path, system=system, answers=answers):
        if isinstance(got, InputError):
            if not skip_invalid:
                raise got
            rejects.append({"path": str(in_path), "line": line, "rule": got.rule, "reason": got.message, "input": obj})
            reasons[got.rule or "error"] += 1
            continue
        records.append(got)
        labels[got.meta.label] += 1
        cats[got.meta.category] += 1
        if limit is not None and len(records) >= limit:
            break
    write_jsonl(out_path, records)
    rp = rejects_path_for(out_path)
    if rejects:
        write_jsonl(rp, rejects)
        res.rejects_path = str(rp)
    elif rp.exists():
        rp.unlink()
    res.written, res.rejected = len(records), len(rejects)
    res.by_label, res.by_category, res.reasons = dict(labels), dict(cats), dict(reasons)
    return res


@source("convert")
def read_converted(spec: Any, run: SourceRun) -> list[Located]:
    """The records a public-format file converts to; what it rejects is counted by rule in the manifest."""
    items: list[Located] = []
    rejected: Counter[str] = Counter()
    answers = run.config.resolve(spec.answers) if spec.answers else None
    for p in run.paths:
        for line, got, _obj in iter_converted(spec.format or "", p, system=spec.system, answers=answers):
            if isinstance(got, InputError):
                rejected[got.rule or "error"] += 1
                continue
            items.append(Located(got, str(p), line))
            if spec.limit is not None and len(items) >= spec.limit:
                break
    run.info["rejected"] = dict(rejected)
    return items
