"""Cheaper exponentials for training on the CPU.

On the CPU, MLX's `exp` costs ~20 ns per element while `power(2, x)` costs ~6: the softmax of attention
and the SiLU of the MLP (both exponentials) are most of a training step. Inside `fast_math(model)` the
model's modules use `scaled_dot_product_attention` and `swiglu` written with `power(2, x * log2(e))`
(relative difference ~1e-7; the trainer's self-check compares the result with the plain forward).
Only the stock mlx-lm functions are replaced, in the modules of this model's layers, and only for
masks they handle ("causal" or none, no attention sinks, no quantized KV cache); everything else goes
to the original. On a GPU the fused kernels are faster: the trainer enables this on the CPU only.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import mlx.core as mx
import mlx.nn as nn

LOG2E = 1.4426950408889634


def _exp(x: mx.array) -> mx.array:
    return mx.power(2.0, x * LOG2E)


def attention(queries, keys, values, cache, scale, mask, sinks=None, *, _orig=None):
    if sinks is not None or hasattr(cache, "bits") or not (mask is None or isinstance(mask, str) and mask == "causal"):
        return _orig(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)
    B, H, Lq, D = queries.shape
    Hk, Lk = keys.shape[1], keys.shape[2]
    r = H // Hk
    q = (queries * scale).reshape(B, Hk, r * Lq, D)  # grouped-query heads share their key/value head
    s = (q @ keys.swapaxes(-1, -2)).reshape(B, Hk, r, Lq, Lk)
    if mask == "causal" and Lq > 1:  # aligned to the end of the keys, as MLX's "causal"
        qi = mx.arange(Lk - Lq, Lk)[:, None]
        ki = mx.arange(Lk)[None]
        s = mx.where(qi >= ki, s, mx.array(-mx.inf, s.dtype))
    m = mx.stop_gradient(mx.max(s, axis=-1, keepdims=True))
    p = _exp((s - m).astype(mx.float32))
    p = (p / p.sum(axis=-1, keepdims=True)).astype(values.dtype)
    return (p.reshape(B, Hk, r * Lq, Lk) @ values).reshape(B, H, Lq, -1)


def swiglu(gate, x):
    return (gate / (1 + _exp(-gate))) * x


@contextmanager
def fast_math(model: nn.Module, enabled: bool = True):
    """Within the block, the model's layers compute softmax and SiLU through exp2."""
    if not enabled:
        yield
        return
    from mlx_lm.models import activations, base

    originals = {"scaled_dot_product_attention": base.scaled_dot_product_attention, "swiglu": activations.swiglu}
    replacements = {
        "scaled_dot_product_attention": lambda *a, **k: attention(
            *a, **k, _orig=originals["scaled_dot_product_attention"]
        ),
        "swiglu": swiglu,
    }
    modules = set()
    for layer in getattr(model, "layers", []):
        for _, m in layer.named_modules():
            modules.add(type(m).__module__)
    patched = []
    for name in modules:
        mod = sys.modules.get(name)
        if mod is None or not name.startswith("mlx_lm."):
            continue
        for attr, orig in originals.items():
            if getattr(mod, attr, None) is orig:
                setattr(mod, attr, replacements[attr])
                patched.append((mod, attr, orig))
    try:
        yield
    finally:
        for mod, attr, orig in patched:
            setattr(mod, attr, orig)
