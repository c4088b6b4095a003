"""Model names -> mlx-lm model directories and loaded models.

Accepted wherever a model is named: `embedded:<name>` (converted once into the cache), any mlx-lm
model directory, or a Hugging Face id (resolved by mlx-lm; on Linux the hub is offline).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from .embedded import EMBEDDED, is_intact, model_dir, prepare

EMBEDDED_DEFAULT = "embedded:smollm2-135m"


def resolve_model(name: str) -> str:
    """A path (or, failing that, a hub id) that mlx_lm.load accepts. Embedded models are prepared on demand."""
    if not name:
        raise InputError("no model named")
    if name.startswith("embedded:"):
        return str(prepare(name))
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise InputError(f"{p} is not an mlx-lm model directory (no config.json)")
        return str(p)
    if name.startswith((".", "/", "~")) or os.sep in name and name.count("/") != 1:
        raise InputError(f"model directory not found: {name}")
    return name  # a Hugging Face id, e.g. mlx-community/Qwen2.5-Coder-7B-Instruct-4bit


def load_model(name: str, adapter_path: str | os.PathLike | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) through mlx_lm.load, with an optional LoRA adapter."""
    from mlx_lm import load

    path = resolve_model(name)
    if adapter_path is not None and not (Path(adapter_path) / "adapter_config.json").exists():
        raise InputError(f"no adapter_config.json in {adapter_path}: not an adapter directory")
    try:
        return cast(
            tuple[Any, Any], load(path, adapter_path=str(adapter_path) if adapter_path else None)
        )  # (model, tokenizer) without return_config
    except (OSError, ValueError) as e:
        hint = " (no network on Linux: use embedded:smollm2-135m or a local directory)" if "/" in name else ""
        raise InputError(f"could not load model {name!r}: {e}{hint}") from e


def load_tokenizer(name: str) -> Any:
    """The mlx-lm TokenizerWrapper of a model, without loading its weights."""
    from mlx_lm.utils import load_tokenizer as _load_tokenizer

    path = Path(resolve_model(name))
    if not path.exists():
        from mlx_lm.utils import hf_repo_to_path  # type: ignore[attr-defined]

        path = hf_repo_to_path(str(path))
    return _load_tokenizer(path)


def model_card(name: str) -> dict[str, Any]:
    """What a user wants to know about a model: where it is, its shape, size, template, embedded status."""
    card: dict[str, Any] = {"name": name}
    if name.startswith("embedded:"):
        if name not in EMBEDDED:
            raise InputError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
        card["description"] = EMBEDDED[name].description
        d = model_dir(name)
        card["prepared"] = d.exists() and is_intact(d)
        path = prepare(name)
    else:
        path = Path(resolve_model(name))
    card["path"] = str(path)
    if path.exists():
        cfg = json.loads((path / "config.json").read_text())
        for k in (
            "model_type",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
            "tie_word_embeddings",
        ):
            if k in cfg:
                card[k] = cfg[k]
        card["quantization"] = cfg.get("quantization")
        card["dtype"] = cfg.get("torch_dtype")
        card["size_mb"] = round(sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6, 1)
        marker = path / "mlx-distill-model.json"
        if marker.exists():
            card["converted_in_s"] = json.loads(marker.read_text()).get("converted_in_s")
    return card


__all__ = ["EMBEDDED_DEFAULT", "EMBEDDED", "resolve_model", "load_model", "load_tokenizer", "model_card", "prepare"]
