"""Training data path: target masks, bucketing, batch planning, and bad input caught before a model loads."""

import json
from collections import Counter

import numpy as np
import pytest

import mlx_distill  # noqa: F401  (BLAS before mlx)
from mlx_distill.errors import InputError
from mlx_distill.io import write_jsonl
from mlx_distill.prompting import render
from mlx_distill.train.dataset import BatchSchedule, prefix_group, read_split, tokenize_split
from mlx_distill.train.forward import Example, common_prefix, plan_batch
from mlx_distill.testing.sample_data import small_records, write_small_data
from mlx_distill.train.trainer import train


def _assistant_texts(messages, tools, tok):
    """Each assistant turn as the template renders it, through its end-of-turn marker."""
    out = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(messages[:i], tools, tok, add_generation_prompt=True)
        upto = render(messages[: i + 1], tools, tok)
        turn = upto[len(before) :]
        out.append(turn[: turn.rindex("<|im_end|>") + len("<|im_end|>")])
    return out


def _masked_runs(ex, tok):
    runs, cur = [], []
    for t, m in zip(ex.ids.tolist(), ex.mask.tolist()):
        if m:
            cur.append(t)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return [tok.decode(r) for r in runs]


@pytest.mark.parametrize("mask", ["all_assistant", "last", "none"])
def test_masks_mark_exactly_the_assistant_tokens(tmp_path, tiny_tokenizer, mask):
    # record 0: tool call, tool result, answer, then a second question and answer (3 assistant turns)
    write_jsonl(tmp_path / "train.jsonl", small_records(4))
    split = tokenize_split(read_split(tmp_path, "train"), tiny_tokenizer, mask=mask, max_seq_length=4096)
    for ex, rec in zip(split.examples, split.records):
        expected = _assistant_texts(rec["messages"], rec["tools"], tiny_tokenizer)
        if mask == "none":
            assert ex.mask.all()
            continue
        runs = _masked_runs(ex, tiny_tokenizer)
        assert runs == (expected if mask == "all_assistant" else expected[-1:])
    first = split.examples[0]
    assert len(_assistant_texts(split.records[0]["messages"], split.records[0]["tools"], tiny_tokenizer)) == 3
    if mask == "all_assistant":  # the mid-conversation tool call is supervised
        assert any("<tool_call>" in r for r in _masked_runs(first, tiny_tokenizer))


def test_truncation_and_examples_without_targets(tmp_path, tiny_tokenizer):
    write_jsonl(tmp_path / "train.jsonl", small_records(4))
    split = tokenize_split(read_split(tmp_path, "train"), tiny_tokenizer, mask="all_assistant", max_seq_length=120)
    # 120 tokens end inside the system/tool block: nothing supervised is left, each record is dropped and counted
    assert split.examples == [] and len(split.dropped) == 4
    whole = tokenize_split(read_split(tmp_path, "train"), tiny_tokenizer, mask="all_assistant", max_seq_length=10**6)
    limit = max(len(e) for e in whole.examples) - 5  # cuts the longest record's last answer short
    split = tokenize_split(read_split(tmp_path, "train"), tiny_tokenizer, mask="all_assistant", max_seq_length=limit)
    assert split.examples and all(len(e) <= limit for e in split.examples) and split.truncated >= 1


@pytest.mark.parametrize("n, batch", [(10, 4), (12, 4), (7, 3), (5, 5)])
def test_bucketing_uses_every_example_exactly_once_per_epoch(n, batch):
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 900, size=n)
    sched = BatchSchedule(lengths, batch, seed=1, bucketing=True)
    for epoch in range(3):
        steps = range(epoch * sched.per_epoch + 1, (epoch + 1) * sched.per_epoch + 1)
        seen = Counter(i for s in steps for i in sched.batch_at(s))
        assert sorted(seen) == list(range(n)) and set(seen.values()) == {1}
    # a pure function of (seed, step): a fresh schedule (a resumed run) sees the same batches
    again = BatchSchedule(lengths, batch, seed=1, bucketing=True)
    assert [again.batch_at(s) for s in (9, 2, 5)] == [sched.batch_at(s) for s in (9, 2, 5)]


def test_bucketing_reduces_padding():
    lengths = np.random.default_rng(3).integers(100, 1500, size=64)

    def padding(bucketing):
        sched = BatchSchedule(lengths, 4, seed=0, bucketing=bucketing)
        return sum(max(lengths[b]) * len(b) - sum(lengths[b]) for b in sched.epoch(0))

    assert padding(True) < 0.2 * padding(False)


def test_bucketing_keeps_prompt_groups_together():
    """Examples rendered with the same tool set (same prefix_group) are batched together, so the
    shared-prefix pass covers them; one-off prompts still go by length, and every example is used."""
    rng = np.random.default_rng(4)
    prompt_a, prompt_b = rng.integers(0, 1000, size=600), rng.integers(0, 1000, size=600)
    ids = [
        np.concatenate(
            [
                prompt_a if i % 3 == 0 else prompt_b if i % 3 == 1 else rng.integers(0, 1000, 600),
                rng.integers(0, 1000, size=int(rng.integers(50, 400))),
            ]
        )
        for i in range(48)
    ]
    groups = [prefix_group(x) for x in ids]
    sched = BatchSchedule([len(x) for x in ids], 4, seed=0, bucketing=True, groups=groups)
    batches = sched.epoch(0)
    assert sorted(i for b in batches for i in b) == list(range(48))
    shared = sum(common_prefix([ids[i] for i in b]) * (len(b) - 1) for b in batches)
    plain = BatchSchedule([len(x) for x in ids], 4, seed=0, bucketing=True).epoch(0)
    assert shared >= 2 * 4 * 3 * 600  # each group of 16 fills 4 batches that share its 600-token prompt
    assert shared > 3 * sum(common_prefix([ids[i] for i in b]) * (len(b) - 1) for b in plain)
    # without groups, the order is exactly the plain length bucketing
    assert BatchSchedule([len(x) for x in ids], 4, seed=0, bucketing=True, groups=[None] * 48).epoch(0) == plain


def test_unbucketed_order_matches_mlx_lm():
    """Without bucketing the batches are mlx-lm's: consecutive examples, order from np.random.seed(seed)."""
    sched = BatchSchedule([10] * 12, 4, seed=5, bucketing=False)
    np.random.seed(5)
    batch_idx = [list(range(i, i + 4)) for i in range(0, 12, 4)]
    expected = []
    for _ in range(2):
        expected += [batch_idx[i] for i in np.random.permutation(3)]
    assert [sched.batch_at(s) for s in range(1, 7)] == expected


def test_in_file_order_every_epoch_trains_the_file_front_to_back():
    """batch_order: file (a curriculum written into the train file): consecutive examples, batches in file
    order, the same every epoch, whatever the lengths."""
    sched = BatchSchedule([30, 10, 20, 5, 40, 15, 25], 3, seed=5, bucketing=True, in_order=True)
    assert [sched.batch_at(s) for s in range(1, 7)] == [[0, 1, 2], [3, 4, 5], [6], [0, 1, 2], [3, 4, 5], [6]]


def test_plan_batch_shares_the_common_prefix_and_gathers_every_target():
    ids = [np.array([1, 2, 3] * 20 + [7, 8, 9, 10], np.int32), np.array([1, 2, 3] * 20 + [7, 5, 6], np.int32)]
    masks = [np.zeros(len(a), bool) for a in ids]
    masks[0][-3:] = True
    masks[1][-2:] = True
    ex = [Example(a, m, key=i) for i, (a, m) in enumerate(zip(ids, masks))]
    plan = plan_batch(ex)
    # 61 tokens in common, but position 60 predicts the first target (token 61): it must be in the suffix
    assert plan.prefix == 60
    for g, t in zip(plan.gather.tolist(), plan.targets.tolist()):
        b, q = divmod(g, plan.suffix_ids.shape[1])
        pos = plan.prefix + q  # the position that predicts the target
        assert ex[b].ids[pos + 1] == t and ex[b].mask[pos + 1]
    assert plan.n_targets == 5
    assert plan_batch(ex, share_prefix=False).prefix == 0


def _cfg(tmp_path, model, data, **kw):
    return {
        "model": str(model),
        "data": str(data),
        "adapter_path": str(tmp_path / "run"),
        "iters": 2,
        "batch_size": 2,
        "num_layers": 2,
        **kw,
    }


def test_bad_input_is_one_line_before_any_model_loads(tmp_path):
    missing_model = tmp_path / "no-such-model"
    data = write_small_data(tmp_path / "data", 3, 2)
    cases = [
        (_cfg(tmp_path, missing_model, tmp_path / "nodata"), "data directory"),
        (_cfg(tmp_path, missing_model, data, batch_size=8), "batch_size 8 is larger than the train split (3 records)"),
    ]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "train.jsonl").write_text("\n")
    cases.append((_cfg(tmp_path, missing_model, tmp_path / "empty"), "the train split is empty"))
    novalid = write_small_data(tmp_path / "novalid", 3, 0)
    cases.append((_cfg(tmp_path, missing_model, novalid), "the valid split is missing"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.jsonl").write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    cases.append((_cfg(tmp_path, missing_model, bad, val_batches=0), "train.jsonl:1"))
    # only now the model: a directory that does not exist
    cases.append((_cfg(tmp_path, missing_model, data), "model directory not found"))
    for cfg, expected in cases:
        with pytest.raises(InputError) as e:
            train(cfg, progress=False, quiet=True)
        assert expected in str(e.value), str(e.value)
        assert "\n" not in str(e.value)


def test_existing_run_needs_resume_or_overwrite(tmp_path, tiny_model_dir):
    data = write_small_data(tmp_path / "data", 4, 2)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "adapters.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="--resume to continue it, --overwrite"):
        train(_cfg(tmp_path, tiny_model_dir, data), progress=False, quiet=True)
    with pytest.raises(InputError, match="nothing to resume"):
        train(
            _cfg(tmp_path, tiny_model_dir, data, adapter_path=str(tmp_path / "other")),
            resume=True,
            progress=False,
            quiet=True,
        )
