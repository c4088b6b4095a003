"""The call markers' rows: Qwen2.5-Coder-0.5B's `<tool_call>` and `</tool_call>` share one untrained row,
so the conversion gives each the mean of its text's pieces, and training warns about a model whose
markers still share a row (real Qwen tokenizer, a tiny qwen2 with its vocabulary, plain and 4-bit)."""

from pathlib import Path

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx
import mlx.nn as nn
import pytest
from mlx.utils import tree_flatten

from mlx_distill.models.marker_rows import MARKERS, init_from_text, marker_cosines, untrained_markers

FIXTURE = Path(__file__).parent / "fixtures" / "qwen2.5-coder"
VOCAB = 151_936


@pytest.fixture(scope="module")
def tokenizer():
    from mlx_lm.utils import load_tokenizer

    return load_tokenizer(FIXTURE)


def _tiny_qwen(seed=0):
    from mlx_lm.models import qwen2

    mx.random.seed(seed)
    args = qwen2.ModelArgs(
        model_type="qwen2", hidden_size=32, num_hidden_layers=1, intermediate_size=64, num_attention_heads=4,
        num_key_value_heads=2, rms_norm_eps=1e-6, vocab_size=VOCAB, tie_word_embeddings=False,
    )  # fmt: skip
    model = qwen2.Model(args)
    mx.eval(model.parameters())
    return model


def _untrain(weights, ids):
    """What the GGUF holds: both markers on one row, plus noise of the size quantization leaves."""
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        w = weights[k]
        row = w[ids[0]]
        w[ids[1]] = row + 1e-4 * mx.random.normal(row.shape)
        weights[k] = w


def test_untrained_markers_get_the_mean_of_their_texts_pieces_and_trained_ones_are_left_alone(tokenizer):
    weights = dict(tree_flatten(_tiny_qwen().parameters()))
    ids = [tokenizer.convert_tokens_to_ids(m) for m in MARKERS]
    untouched = {k: mx.array(v) for k, v in weights.items()}
    assert init_from_text(weights, FIXTURE / "tokenizer.json") == {}  # random rows: trained, nothing to do
    assert all(mx.array_equal(weights[k], untouched[k]) for k in untouched)

    _untrain(weights, ids)
    pieces = init_from_text(weights, FIXTURE / "tokenizer.json")
    assert pieces == {"<tool_call>": ["<", "tool", "_call", ">"], "</tool_call>": ["</", "tool", "_call", ">"]}
    for k in ("model.embed_tokens.weight", "lm_head.weight"):
        for m, i in zip(MARKERS, ids):
            piece_ids = mx.array([tokenizer.convert_tokens_to_ids(p) for p in pieces[m]])
            assert mx.allclose(weights[k][i], mx.mean(weights[k][piece_ids], axis=0), atol=1e-6)
        assert not mx.allclose(weights[k][ids[0]], weights[k][ids[1]], atol=1e-3)
    assert marker_cosines(weights, FIXTURE / "tokenizer.json")["open~close"] < 0.99  # was one row: cosine 1


@pytest.mark.parametrize("quantized", [False, True])
def test_training_warns_about_a_model_whose_markers_share_an_output_row(tokenizer, quantized):
    ids = [tokenizer.convert_tokens_to_ids(m) for m in MARKERS]
    model = _tiny_qwen(1)
    weights = dict(tree_flatten(model.parameters()))
    _untrain(weights, ids)
    model.load_weights(list(weights.items()))
    if quantized:
        nn.quantize(model, group_size=32, bits=4)
    warning = untrained_markers(model, tokenizer)
    assert warning and "<tool_call> and </tool_call> have the same output row" in warning and "\n" not in warning

    init_from_text(weights, FIXTURE / "tokenizer.json")
    fixed = _tiny_qwen(1)
    fixed.load_weights(list(weights.items()))
    if quantized:
        nn.quantize(fixed, group_size=32, bits=4)
    assert untrained_markers(fixed, tokenizer) is None


def test_a_tokenizer_that_spells_the_markers_in_pieces_is_not_checked(tiny_model_dir):
    from mlx_lm import load

    model, tok = load(str(tiny_model_dir))
    assert untrained_markers(model, tok) is None
