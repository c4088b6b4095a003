"""The call markers' rows in the embedding and output matrices: a model can only learn to write
`<tool_call>` ... `</tool_call>` if those tokens have rows of their own.

Measured on Qwen2.5-Coder-0.5B-Instruct: `<tool_call>` and `</tool_call>` have the same rows in both
matrices, up to quantization noise (never trained), and `<|im_start|>`'s row points the same way (cosine 0.93) with a larger norm.
A LoRA adapter trained to open calls then writes `<|im_start|>` where `<tool_call>` belongs and again
where `</tool_call>` belongs: the agent cannot parse a single call. The conversion gives each untrained
marker the mean of the rows of the ordinary tokens its text splits into ("<", "tool", "_call", ">"),
the usual start for a new token, so the two differ and training can tell them apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARKERS = ("<tool_call>", "</tool_call>")
MATRICES = ("model.embed_tokens.weight", "lm_head.weight")


def _cosine(a: Any, b: Any) -> float:
    import mlx.core as mx

    return float((a @ b) / (mx.linalg.norm(a) * mx.linalg.norm(b) + 1e-12))


def untrained(rows: dict[str, Any], tolerance: float = 0.02) -> bool:
    """True when the markers' rows are one vector up to quantization noise (within 2% of its norm): what
    untrained added tokens keep. Measured on the Qwen GGUF: 0.5% apart, and ~2,000 unused tokens' rows
    lie as close; `<|im_start|>`, a trained token, lies 40% away."""
    import mlx.core as mx

    first, *rest = rows.values()
    scale = float(mx.linalg.norm(first))
    return all(float(mx.linalg.norm(first - r)) <= tolerance * scale for r in rest)


def init_from_text(weights: dict[str, Any], tokenizer_json: str | Path) -> dict[str, list[str]]:
    """Give each call marker whose rows are untrained (identical to the other marker's in every matrix) the
    mean of the rows of its text's pieces, in `weights` (float matrices, changed in place). Returns the
    pieces used per marker; empty when the rows were trained already, and then nothing changes."""
    import mlx.core as mx
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    ids = {m: tok.token_to_id(m) for m in MARKERS}
    if any(i is None for i in ids.values()):
        return {}
    matrices = [k for k in MATRICES if k in weights]
    if not matrices or not all(untrained({m: weights[k][i] for m, i in ids.items()}) for k in matrices):
        return {}
    pieces = {m: [t.value for t in tok.model.tokenize(m)] for m in MARKERS}
    for k in matrices:
        w = weights[k]
        for m, i in ids.items():
            piece_ids = mx.array([tok.token_to_id(p) for p in pieces[m]])
            w[i] = mx.mean(w[piece_ids], axis=0).astype(w.dtype)
        weights[k] = w
    return pieces


def marker_cosines(
    weights: dict[str, Any], tokenizer_json: str | Path, other: str = "<|im_start|>"
) -> dict[str, float]:
    """Cosines of the output rows that decide a call: open vs close, and each against `other`."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    w = weights["lm_head.weight" if "lm_head.weight" in weights else "model.embed_tokens.weight"]
    o, c, x = (w[tok.token_to_id(t)] for t in (*MARKERS, other))
    return {"open~close": _cosine(o, c), f"open~{other}": _cosine(o, x), f"close~{other}": _cosine(c, x)}


def _rows(layer: Any, ids: list[int]) -> Any:
    """Rows `ids` of a Linear or Embedding, quantized or not, as floats."""
    import mlx.core as mx

    idx = mx.array(ids)
    if hasattr(layer, "scales"):
        return mx.dequantize(
            layer.weight[idx], layer.scales[idx], layer.biases[idx], group_size=layer.group_size, bits=layer.bits
        )
    return layer.weight[idx].astype(mx.float32)


def untrained_markers(model: Any, tokenizer: Any) -> str | None:
    """A one-line warning when the model's output rows of `<tool_call>` and `</tool_call>` are the same
    vector (untrained: a LoRA adapter cannot learn to write them apart), else None. Only where both are
    single tokens; a model that spells them in pieces writes them with ordinary tokens."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    found = [vocab.get(m) for m in MARKERS]
    ids = [i for i in found if i is not None]
    if len(ids) != len(MARKERS):
        return None
    inner = getattr(model, "model", model)
    head = getattr(model, "lm_head", None) or getattr(inner, "embed_tokens", None)
    if head is None:
        return None
    open_row, close_row = _rows(head, ids)
    if not untrained({"open": open_row, "close": close_row}):
        return None
    return (
        f"{MARKERS[0]} and {MARKERS[1]} have the same output row in this model (never trained): an adapter "
        "cannot learn to write a call it can parse; give them rows of their own first "
        "(mlx_distill.models.marker_rows.init_from_text, as `model prepare` does for the embedded Qwen)"
    )
