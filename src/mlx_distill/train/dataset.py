"""Splits on disk -> tokenized examples (ids + target mask) -> batches.

Records are mlx-lm chat records (`messages`, optional `tools`) plus our `meta`; they are rendered
and masked by `prompting.tokenize_for_training`, the one rendering path the agent also uses.
Batches: with bucketing, examples of similar length go together (mlx-lm's length sort is a no-op,
ml-explore/mlx-lm#596); every example is used exactly once per epoch, the last batch of an epoch
may be short. Batch order is a pure function of (seed, step), so a resumed run sees the same data.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..errors import InputError
from ..io import read_jsonl, sha256_file
from ..vocab import SPLITS
from .forward import Example

if TYPE_CHECKING:
    from ..prompting import Mask

BUCKET_WINDOW = 64  # examples are length-sorted within windows of batch_size * BUCKET_WINDOW shuffled examples
PREFIX_KEY_TOKENS = 512  # examples whose first tokens agree (system prompt + the same tool schemas) share a prompt


def prefix_group(ids: np.ndarray) -> bytes:
    """The bucketing group of an example: its first PREFIX_KEY_TOKENS tokens. Examples rendered with the
    same system prompt and tool set agree there, and batching them together lets the shared-prefix
    pass (forward.plan_batch) compute that prompt once per batch instead of once per example."""
    return np.asarray(ids[:PREFIX_KEY_TOKENS], dtype=np.int32).tobytes()


@dataclass
class Split:
    name: str
    path: Path
    records: list[dict[str, Any]]
    examples: list[Example] = field(default_factory=list)
    truncated: int = 0
    dropped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples) if self.examples else len(self.records)

    def stats(self) -> dict[str, Any]:
        lens = [len(e) for e in self.examples]
        return {
            "records": len(self.records),
            "examples": len(self.examples),
            "truncated": self.truncated,
            "dropped_no_target": len(self.dropped),
            "tokens": int(sum(lens)),
            "target_tokens": int(sum(e.n_targets for e in self.examples)),
            "max_len": max(lens) if lens else 0,
            "mean_len": round(float(np.mean(lens)), 1) if lens else 0,
        }


def split_path(data_dir: str | os.PathLike, name: str) -> Path:
    return Path(data_dir) / f"{name}.jsonl"


def _check_record(obj: Any, path: Path, line: int) -> dict[str, Any]:
    from pydantic import ValidationError

    from ..schema import Message, parse_record

    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line, rule="schema")
    if "meta" in obj:
        return parse_record(obj, path=path, line=line).to_json()
    # a plain mlx-lm chat record (no meta): check the messages the same way
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise InputError(
            "a chat record needs a non-empty `messages` list (prompt/completion and text records are not supported)",
            path=path,
            line=line,
            rule="schema",
        )
    try:
        clean = [Message.model_validate(m).model_dump(mode="json", exclude_none=True) for m in msgs]
    except ValidationError as e:
        raise InputError(
            "; ".join(f"messages.{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors()),
            path=path,
            line=line,
            rule="schema",
        ) from None
    out = {"messages": clean}
    if obj.get("tools"):
        out["tools"] = obj["tools"]
    return out


def read_split(data_dir: str | os.PathLike, name: str, *, required: bool = True) -> Split | None:
    """Read and validate one split. A missing or empty required split is an InputError naming the fix."""
    path = split_path(data_dir, name)
    if not Path(data_dir).exists():
        raise InputError(
            f"data directory {data_dir} does not exist; build it with `mlx-distill data build -c "
            "configs/data.yaml` or set `data:` to a directory holding train.jsonl and valid.jsonl",
            rule="data",
        )
    if not path.exists():
        if not required:
            return None
        hint = " (or set val_batches: 0 to train without validation)" if name == "valid" else ""
        raise InputError(f"the {name} split is missing; expected {path}{hint}", path=path, rule="data")
    records = []
    for line, obj in read_jsonl(path):
        records.append(_check_record(obj, path, line))
    if not records and required:
        hint = " (or set val_batches: 0 to train without validation)" if name == "valid" else ""
        raise InputError(
            f"the {name} split is empty; rebuild the data with `mlx-distill data build`{hint}", path=path, rule="data"
        )
    return Split(name=name, path=path, records=records)


def tokenize_split(
    split: Split, tokenizer: Any, *, mask: Mask, max_seq_length: int, key_prefix: str | None = None
) -> Split:
    """Render + tokenize each record with its target mask; truncate to max_seq_length; drop (and count)
    examples left without any target token."""
    from ..prompting import tokenize_for_training

    examples, dropped, truncated = [], [], 0
    for i, rec in enumerate(split.records):
        rid = (rec.get("meta") or {}).get("id") or f"{split.path.name}:{i + 1}"
        try:
            ids, m = tokenize_for_training(rec["messages"], rec.get("tools"), tokenizer, mask=mask)
        except InputError as e:
            raise InputError(e.message, path=split.path, record_id=rid, rule=e.rule or "render") from None
        if len(ids) > max_seq_length:
            ids, m = ids[:max_seq_length], m[:max_seq_length]
            truncated += 1
        ex = Example(
            np.asarray(ids, dtype=np.int32), np.asarray(m, dtype=bool), key=(key_prefix or split.name, i), rid=rid
        )
        if ex.n_targets == 0:
            dropped.append(rid)
            continue
        examples.append(ex)
    split.examples, split.dropped, split.truncated = examples, dropped, truncated
    return split


def data_fingerprint(data_dir: str | os.PathLike) -> dict[str, Any]:
    """The data manifest's sha256 (manifest.json, written by the data pipeline) and each split file's."""
    d = Path(data_dir)
    out: dict[str, Any] = {"dir": str(d.resolve()) if d.exists() else str(d), "manifest_sha256": None, "files": {}}
    manifest = d / "manifest.json"
    if manifest.exists():
        out["manifest_sha256"] = sha256_file(manifest)
    for name in SPLITS:
        p = split_path(d, name)
        if p.exists():
            out["files"][p.name] = sha256_file(p)
    return out


class BatchSchedule:
    """Which examples form the batch of a given step. A pure function of (seed, step).

    bucketing: each epoch, shuffle; within windows of batch_size*64, put examples of a prompt group
    (`groups`, see prefix_group) with at least batch_size members in the window together, then sort
    by length; cut into batches (the last may be short); shuffle the batch order. Without bucketing: consecutive examples in file
    order, batch order permuted each epoch with numpy's RandomState(seed), as mlx-lm does. `in_order`:
    consecutive examples in file order, batches in file order every epoch (a curriculum written into the file).
    """

    def __init__(
        self,
        lengths: Iterable[int],
        batch_size: int,
        seed: int = 0,
        bucketing: bool = True,
        groups: Iterable[Any] | None = None,
        in_order: bool = False,
    ):
        self.lengths = np.asarray(list(lengths), dtype=np.int64)
        self.n = len(self.lengths)
        if self.n == 0:
            raise ValueError("no examples")
        self.groups = list(groups) if groups is not None else [None] * self.n
        if len(self.groups) != self.n:
            raise ValueError(f"{len(self.groups)} groups for {self.n} examples")
        self.batch_size = min(batch_size, self.n)
        self.seed, self.bucketing, self.in_order = seed, bucketing, in_order
        self.per_epoch = math.ceil(self.n / self.batch_size)
        self._epochs: dict[int, list[list[int]]] = {}
        self._rs: np.random.RandomState | None = None
        self._rs_epoch = -1

    def epoch(self, e: int) -> list[list[int]]:
        if e not in self._epochs:
            self._epochs = {k: v for k, v in self._epochs.items() if k >= e - 1}
            self._epochs[e] = self._make(e)
        return self._epochs[e]

    def _make(self, e: int) -> list[list[int]]:
        B = self.batch_size
        if self.in_order:
            return [list(range(i, min(i + B, self.n))) for i in range(0, self.n, B)]
        if self.bucketing:
            rng = np.random.default_rng([self.seed, e])
            perm = rng.permutation(self.n)
            window = B * BUCKET_WINDOW
            order = []
            for s in range(0, self.n, window):
                chunk = perm[s : s + window].tolist()
                sizes: dict[Any, int] = {}
                for i in chunk:
                    sizes[self.groups[i]] = sizes.get(self.groups[i], 0) + 1
                rank: dict[Any, int] = {}  # big groups in order of first appearance; the rest last, as one
                for i in chunk:
                    g = self.groups[i]
                    if g is not None and sizes[g] >= B and g not in rank:
                        rank[g] = len(rank)
                order.extend(sorted(chunk, key=lambda i: (rank.get(self.groups[i], len(rank)), int(self.lengths[i]))))
            batches = [order[i : i + B] for i in range(0, self.n, B)]
            return [batches[i] for i in rng.permutation(len(batches))]
        batches = [list(range(i, min(i + B, self.n))) for i in range(0, self.n, B)]
        if self._rs is None or self._rs_epoch >= e:
            self._rs, self._rs_epoch = np.random.RandomState(self.seed), -1
        epoch_perm = None
        while self._rs_epoch < e:
            epoch_perm = self._rs.permutation(len(batches))
            self._rs_epoch += 1
        assert epoch_perm is not None  # the loop runs at least once: _rs_epoch < e after the reset above
        return [batches[i] for i in epoch_perm]

    def batch_at(self, step: int) -> list[int]:
        """Example indices of the batch trained at `step` (1-based)."""
        e, k = divmod(step - 1, self.per_epoch)
        return self.epoch(e)[k]

    def epoch_of(self, step: int) -> float:
        return (step - 1) / self.per_epoch


def eval_batches(examples: list[Example], batch_size: int, num_batches: int, seed: int = 0) -> list[list[int]]:
    """A fixed sample of `num_batches` batches (-1: all), length-bucketed for little padding."""
    n = len(examples)
    B = min(batch_size, n)
    rng = np.random.default_rng([seed, 7919])
    perm = rng.permutation(n)
    if num_batches != -1:
        perm = perm[: num_batches * B]
    order = sorted(perm.tolist(), key=lambda i: len(examples[i]))
    return [order[i : i + B] for i in range(0, len(order), B)]
