"""Tokens the trainer computes per epoch, with plain length bucketing and with prompt groups.

Records that open with the same prompt (system prompt + tool set) share a batch when bucketing keeps
prompt groups together, so the shared-prefix pass computes that prompt once per batch. This counts,
for one epoch of a training split, the tokens actually run (the shared prefix once, then every
suffix padded to the longest in its batch), both ways, side by side. No model runs: only the tokenizer.
Usage: python bench/prompt_groups.py [--data data/mlx_format] [--batch-size 4]
"""

import argparse

from mlx_distill.models import load_tokenizer
from mlx_distill.train.dataset import BatchSchedule, prefix_group, read_split, tokenize_split
from mlx_distill.train.forward import MIN_SHARED_PREFIX, common_prefix


def computed_tokens(examples, schedule: BatchSchedule) -> tuple[int, int]:
    """(tokens run in one epoch, of which padding)."""
    total = padding = 0
    for batch in schedule.epoch(0):
        ids = [examples[i].ids for i in batch]
        shared = common_prefix(ids) if len(ids) > 1 else 0
        shared = shared if shared >= MIN_SHARED_PREFIX else 0
        longest = max(len(x) for x in ids) - shared
        total += shared + longest * len(ids)
        padding += sum(longest - (len(x) - shared) for x in ids)
    return total, padding


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/mlx_format")
    ap.add_argument("--model", default="embedded:smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    split = tokenize_split(
        read_split(args.data, "train"), load_tokenizer(args.model), mask="all_assistant", max_seq_length=2048
    )
    examples = split.examples
    lengths = [len(e) for e in examples]
    raw = sum(lengths)
    plain = computed_tokens(examples, BatchSchedule(lengths, args.batch_size, seed=0, bucketing=True))
    grouped = computed_tokens(
        examples,
        BatchSchedule(lengths, args.batch_size, seed=0, bucketing=True, groups=[prefix_group(e.ids) for e in examples]),
    )
    print(f"{len(examples)} training examples, {raw} tokens, batch {args.batch_size}")
    print(f"{'bucketing':<28}{'tokens run':>12}{'padding':>10}{'vs raw':>9}")
    for name, (total, pad) in (("by length", plain), ("by prompt group, then length", grouped)):
        print(f"{name:<28}{total:>12}{pad:>10}{total / raw:>9.2f}")
    print(f"prompt groups run {grouped[0] / plain[0]:.2f}x the tokens of plain length bucketing")


if __name__ == "__main__":
    main()
