"""LoRA training and fusing (docs/training.md).

    from mlx_distill.train import train, load_config
    result = train(load_config("configs/default.yaml", ["iters=20"]))
    result.adapter_path  # -> mlx_lm.load(model, adapter_path=...)

Names are imported lazily so that `mlx-distill --help` does not load MLX.
"""

from __future__ import annotations

_EXPORTS = {
    "train": "trainer",
    "TrainResult": "trainer",
    "TrainConfig": "config",
    "load_config": "config",
    "parse_config": "config",
    "fuse_adapter": "fuse",
    "FuseResult": "fuse",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
