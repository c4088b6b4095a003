"""Fuse a trained adapter into its base model, with mlx-lm's building blocks (LoRA/DoRA `fuse`,
`dequantize_model`, `quantize_model`, `save`).

A quantized base is dequantized first: the LoRA delta is added to full-precision weights. The result
stays unquantized unless asked; re-quantizing below 5 bits is refused without --force, because a LoRA
delta is small next to a 4-bit quantization step and rounding the fused weights back to 4 bits erases
most of it (the fused model then behaves like the base). `fuse_adapter` measures exactly that on a
probe prompt: how much of the adapter's effect on the logits the fused model keeps.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, cast

from ..errors import InputError

MIN_SAFE_BITS = 5
PROBE = [{"role": "user", "content": "Which files in this project import requests?"}]


@dataclass
class FuseResult:
    save_path: Path
    base: str
    dequantized: bool  # the base was quantized and was dequantized before fusing
    bits: Optional[int]  # re-quantized to this many bits, or None (kept in full precision)
    fused_layers: int
    max_logit_diff: Optional[float]  # fused model vs base+adapter on the probe
    adapter_effect_kept: Optional[float]  # 1.0: the fused model reproduces the adapter's change exactly

    def to_json(self) -> dict:
        d = asdict(self)
        d["save_path"] = str(self.save_path)
        return d


def _adapter_base(adapter_dir: Path, model: Optional[str]) -> str:
    cfg_path = adapter_dir / "adapter_config.json"
    if not cfg_path.exists():
        raise InputError(
            f"{adapter_dir} is not an adapter directory (no adapter_config.json); pass the run "
            "directory written by `mlx-distill train`",
            rule="fuse",
        )
    if not (adapter_dir / "adapters.safetensors").exists():
        raise InputError(f"no adapters.safetensors in {adapter_dir}: the run has not saved weights yet", rule="fuse")
    if model:
        return model
    cfg = json.loads(cfg_path.read_text())
    name = cfg.get("base_model") or cfg.get("model")
    if not name:
        raise InputError(f"{cfg_path} does not name its base model; pass --model", rule="fuse")
    return name


def check_bits(bits: Optional[int], force: bool) -> None:
    if bits is None:
        return
    if bits not in (2, 3, 4, 5, 6, 8):
        raise InputError(f"--bits {bits}: MLX quantizes to 2, 3, 4, 5, 6 or 8 bits", rule="fuse")
    if bits < MIN_SAFE_BITS and not force:
        raise InputError(
            f"refusing to re-quantize the fused model to {bits} bits: a LoRA change is smaller than a {bits}-bit "
            "quantization step, so rounding the fused weights erases most of it and the result behaves like the "
            "base model. Keep it unquantized (the default), use --bits 8 or 6, or pass --force to do it anyway",
            rule="fuse",
        )


def _probe_logits(model, tokenizer):
    import mlx.core as mx

    from ..prompting import render

    ids = tokenizer.encode(render(PROBE, None, tokenizer, add_generation_prompt=True), add_special_tokens=False)
    logits = model(mx.array(ids)[None]).astype(mx.float32)
    mx.eval(logits)
    return logits


def _set_lora_scale(model, factor: float) -> list:
    saved = []
    for _, m in model.named_modules():
        if hasattr(m, "fuse") and hasattr(m, "scale"):
            saved.append((m, m.scale))
            m.scale = m.scale * factor
    return saved


def fuse_adapter(
    adapter_dir: str | os.PathLike,
    save_path: str | os.PathLike | None = None,
    *,
    model: Optional[str] = None,
    bits: Optional[int] = None,
    group_size: int = 64,
    force: bool = False,
    verify: bool = True,
    log=print,
) -> FuseResult:
    """Fuse `adapter_dir` (a run directory) into its base and save an mlx-lm model directory."""
    import mlx.core as mx
    from mlx.utils import tree_unflatten
    from mlx_lm.utils import dequantize_model, load, quantize_model, save

    from ..models import resolve_model

    adapter_dir = Path(adapter_dir)
    check_bits(bits, force)  # before anything is loaded
    base_name = _adapter_base(adapter_dir, model)
    save_path = Path(save_path) if save_path else adapter_dir / "fused"
    if save_path.exists() and any(save_path.iterdir()):
        raise InputError(f"{save_path} exists and is not empty; choose another --save-path or remove it", rule="fuse")
    base_path = resolve_model(base_name)
    try:
        # mlx-lm types load() as either shape; return_config=True gives three
        mdl, tokenizer, config = cast(
            tuple[Any, Any, dict[str, Any]], load(base_path, adapter_path=str(adapter_dir), return_config=True)
        )
    except (OSError, ValueError, FileNotFoundError) as e:
        raise InputError(
            f"could not load {base_name!r} with the adapter {adapter_dir}: {str(e).splitlines()[0]}", rule="fuse"
        ) from None
    quantized = "quantization" in config or "quantization_config" in config
    adapted = base_logits = None
    if verify:
        adapted = _probe_logits(mdl, tokenizer)
        saved = _set_lora_scale(mdl, 0.0)
        base_logits = _probe_logits(mdl, tokenizer) if saved else None
        for m, s in saved:
            m.scale = s
    fused = [(n, m.fuse(dequantize=True)) for n, m in mdl.named_modules() if hasattr(m, "fuse")]
    if fused:
        mdl.update_modules(tree_unflatten(fused))
    if quantized:
        log(f"dequantizing the {config.get('quantization', {}).get('bits', '?')}-bit base before fusing")
        mdl = dequantize_model(mdl)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    if bits is not None:
        if bits < MIN_SAFE_BITS:
            log(f"warning: re-quantizing to {bits} bits (--force): expect most of the adapter's effect to be lost")
        mdl, config = quantize_model(mdl, config, group_size, bits)
    mx.eval(mdl.parameters())
    max_diff = kept = None
    if verify:
        fused_logits = _probe_logits(mdl, tokenizer)
        max_diff = float(mx.abs(fused_logits - adapted).max().item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
        if base_logits is not None:
            effect = float(mx.sqrt(((adapted - base_logits) ** 2).sum()).item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
            err = float(mx.sqrt(((fused_logits - adapted) ** 2).sum()).item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
            kept = max(0.0, 1.0 - err / effect) if effect > 0 else None
    save(save_path, base_path, mdl, tokenizer, config, donate_model=False)
    (save_path / "mlx-distill-fuse.json").write_text(
        json.dumps(
            {
                "base": base_name,
                "adapter": str(adapter_dir),
                "bits": bits,
                "dequantized": quantized,
                "max_logit_diff": max_diff,
                "adapter_effect_kept": kept,
            },
            indent=2,
        )
        + "\n"
    )
    return FuseResult(
        save_path=save_path,
        base=base_name,
        dequantized=quantized,
        bits=bits,
        fused_layers=len(fused),
        max_logit_diff=max_diff,
        adapter_effect_kept=kept,
    )
