"""Process set-up shared by every entry point: BLAS (done at package import), offline hub on Linux,
the cache directory, and the environment for MLX subprocesses."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ._blas import blas_env, find_blas
from ._blas import set_threads as set_blas_threads


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


def ranks_on_this_machine(hostfile: str | None = None) -> int:
    """How many processes of the `mlx.launch` ring run on this machine: all of them when every address
    in the hostfile (`MLX_HOSTFILE`, JSON lists of "ip:port" per rank) is a loopback one, else 1."""
    path = hostfile if hostfile is not None else os.environ.get("MLX_HOSTFILE", "")
    try:
        with open(path, encoding="utf-8") as f:
            ranks = json.load(f)
        hosts = [addr.rsplit(":", 1)[0].strip("[]") for rank in ranks for addr in rank]
    except (OSError, ValueError, TypeError, AttributeError):
        return 1
    loopback = all(h.startswith("127.") or h in ("::1", "localhost") for h in hosts)
    return len(ranks) if hosts and loopback else 1


def share_cores(size: int) -> int | None:
    """When several processes of one run share this machine, give each its share of the cores for BLAS
    (measured in docs/scale.md: without it two processes on 2 cores ran 5x slower per step than one).
    Returns the threads each process got, or None when nothing was changed."""
    local = ranks_on_this_machine() if size > 1 else 1
    if local <= 1:
        return None
    threads = max(1, (os.cpu_count() or 1) // local)
    return threads if set_blas_threads(threads) else None
