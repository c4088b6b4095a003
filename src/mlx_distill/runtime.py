"""Process set-up shared by every entry point: BLAS (done at package import), offline hub on Linux,
the cache directory, and the environment for MLX subprocesses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._blas import blas_env, find_blas


def cache_dir() -> Path:
    """Where converted models live: $MLX_DISTILL_HOME, else $XDG_CACHE_HOME/mlx-distill, else ~/.cache/mlx-distill."""
    if os.environ.get("MLX_DISTILL_HOME"):
        return Path(os.environ["MLX_DISTILL_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlx-distill"


def offline_by_default() -> None:
    """On Linux nothing may download at run time: make the Hugging Face hub fail fast instead of hanging."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def subprocess_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an MLX subprocess (mlx_lm.lora, mlx_lm.server): optimized BLAS, offline hub."""
    out = blas_env(env)
    if sys.platform.startswith("linux"):
        out.setdefault("HF_HUB_OFFLINE", "1")
        out.setdefault("TRANSFORMERS_OFFLINE", "1")
    out.setdefault("TOKENIZERS_PARALLELISM", "false")
    return out


def describe() -> dict[str, str]:
    import mlx.core as mx

    return {
        "platform": sys.platform,
        "mlx": getattr(mx, "__version__", "?"),
        "device": str(mx.default_device()),
        "blas": find_blas() or ("Accelerate" if sys.platform == "darwin" else "reference (slow)"),
        "cache": str(cache_dir()),
    }
