"""The model made trainable, as mlx-lm's `lora.train_model` does: the model loaded, frozen, its LoRA/DoRA
layers added (or its top layers unfrozen), the optimizer with its schedule, and glibc's heap kept from
churning. `trainer.py` holds the training computation over the model this returns.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path
from typing import Any, Callable, cast

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ..errors import InputError
from ..models.marker_rows import untrained_markers
from .config import TrainConfig, optimizer_class


def tune_malloc() -> None:
    """Keep freed memory in glibc's heap instead of returning it to the kernel after every step:
    plain mlx-lm runs spend ~1/4 of their CPU time in page faults from that churn."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(M_TOP_PAD, 64 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def apply_fine_tune(model: nn.Module, cfg: TrainConfig) -> None:
    """mlx-lm's own set-up (lora.train_model): seed, freeze, LoRA/DoRA layers or unfrozen top layers."""
    from mlx_lm.tuner.utils import linear_to_lora_layers

    n = len(model.layers)
    if cfg.num_layers > n:
        raise InputError(
            f"num_layers {cfg.num_layers} is more than the model's {n} layers; set num_layers to at "
            f"most {n} (or -1 for all)",
            rule="num_layers",
        )
    mx.random.seed(cfg.seed)
    model.freeze()
    if cfg.fine_tune_type == "full":
        for layer in model.layers[-max(cfg.num_layers, 0) :]:
            layer.unfreeze()
    else:
        params = cfg.lora_parameters.model_dump()
        if params.get("keys") is None:
            params.pop("keys")
        linear_to_lora_layers(model, cfg.num_layers, params, use_dora=cfg.fine_tune_type == "dora")
    if not tree_flatten(model.trainable_parameters()):
        keys = sorted(
            {
                k
                for layer in model.layers[-1:]
                for k, m in layer.named_modules()
                if isinstance(m, (nn.Linear, nn.QuantizedLinear))
            }
        )
        raise InputError(
            f"nothing to train: lora_parameters.keys {cfg.lora_parameters.keys} matched no module; "
            f"modules of a layer: {', '.join(keys)}",
            rule="lora_parameters",
        )


def make_optimizer(cfg: TrainConfig):
    from mlx_lm.tuner.utils import build_schedule

    lr = build_schedule(cfg.lr_schedule.model_dump()) if cfg.lr_schedule else cfg.learning_rate
    return optimizer_class(cfg.optimizer)(learning_rate=lr, **cfg.optimizer_kwargs())


def load_trainable(
    cfg: TrainConfig, model_path: str, log: Callable[[str], None], *, load_adapter: bool
) -> tuple[nn.Module, Any]:
    """(model, tokenizer) ready to train: loaded, its LoRA layers added (and resume_adapter_file's weights
    when `load_adapter`), malloc tuned, and what became trainable said in one line."""
    log(f"loading {cfg.model}")
    from mlx_lm.utils import load as mlx_load

    try:
        model, tokenizer = mlx_load(
            model_path, tokenizer_config={"trust_remote_code": True} if cfg.trust_remote_code else None
        )[:2]
    except Exception as e:
        raise InputError(f"could not load model {cfg.model!r}: {str(e).splitlines()[0]}", rule="model") from None
    untrained = untrained_markers(model, tokenizer)
    if untrained:
        log(f"warning: {untrained}")
    apply_fine_tune(model, cfg)
    if cfg.resume_adapter_file and load_adapter:
        if not Path(cfg.resume_adapter_file).exists():
            raise InputError("resume_adapter_file not found", path=cfg.resume_adapter_file, rule="resume")
        model.load_weights(cfg.resume_adapter_file, strict=False)
    tune_malloc()
    # tree_flatten returns a list of (key, array) unless given a destination dict
    trainable = cast(list[tuple[str, mx.array]], tree_flatten(model.trainable_parameters()))
    every = cast(list[tuple[str, mx.array]], tree_flatten(model.parameters()))
    n_train = sum(v.size for _, v in trainable)
    n_total = sum(v.size for _, v in every)
    log(
        f"{cfg.fine_tune_type} on the top {cfg.num_layers if cfg.num_layers >= 0 else len(model.layers)} of "
        f"{len(model.layers)} layers, rank {cfg.lora_parameters.rank}: {n_train / 1e6:.3f}M trainable parameters "
        f"({100 * n_train / n_total:.3f}%)"
    )
    return model, tokenizer
