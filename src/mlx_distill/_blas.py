"""Make MLX on Linux use an optimized BLAS.

The mlx-cpu wheel links the netlib reference BLAS (a 1024² float32 matmul takes ~1 s). Loading
OpenBLAS with RTLD_GLOBAL before `mlx` is imported makes MLX resolve its BLAS symbols there
(~40x faster). Subprocesses get the same through LD_PRELOAD (`blas_env`). This module must not
import mlx. Set MLX_DISTILL_BLAS=off to disable, or to a path to choose the library.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import sysconfig
import warnings

OFF = ("off", "0", "none", "reference")
_loaded: str | None = None
_warned = False

SYSTEM_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
)

FIX = (
    "`pip install cmeel-openblas` plus `apt-get install libgfortran5` (scripts/setup.sh does both when "
    "run as root on Debian/Ubuntu), or `apt-get install libopenblas0-pthread`, or point MLX_DISTILL_BLAS "
    "at a libopenblas.so.0"
)


def blas_candidates() -> list[str]:
    """OpenBLAS libraries present on this machine, best first. Honours MLX_DISTILL_BLAS."""
    choice = os.environ.get("MLX_DISTILL_BLAS", "").strip()
    if choice.lower() in OFF:
        return []
    if choice:
        return [choice] if os.path.exists(choice) else []
    # cmeel-openblas (0.3.31) measured 5.7x faster than Debian's 0.3.21 here: prefer it.
    found = []
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    roots.update(p for p in sys.path if p.endswith("site-packages"))
    for root in sorted(roots):
        found += sorted(glob.glob(os.path.join(root, "cmeel.prefix", "lib", "libopenblas.so.0")))
    return found + [c for c in SYSTEM_CANDIDATES if os.path.exists(c)]


def _warn_once(msg: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn("mlx-distill: " + msg, RuntimeWarning, stacklevel=3)


def preload_blas() -> str | None:
    """Load OpenBLAS globally before mlx. Returns the path loaded, or None (warned once)."""
    global _loaded
    if not sys.platform.startswith("linux") or _loaded:
        return _loaded
    if os.environ.get("MLX_DISTILL_BLAS", "").strip().lower() in OFF:
        return None
    problems = []
    for path in blas_candidates():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            problems.append(f"{path}: {e}")
            continue
        if "mlx.core" in sys.modules and path not in os.environ.get("LD_PRELOAD", ""):
            _warn_once(
                "`mlx` was imported before `mlx_distill`, so the optimized BLAS may not be used; "
                f"import mlx_distill first or run with LD_PRELOAD={path}"
            )
        _loaded = path
        return path
    detail = f" ({'; '.join(problems)})" if problems else ""
    _warn_once(f"no optimized BLAS could be loaded{detail}; MLX matmuls will be ~40x slower. Fix: {FIX}.")
    return None


def find_blas() -> str | None:
    """The library preloaded in this process, else the first candidate that loads."""
    return _loaded or preload_blas()


def set_threads(n: int) -> bool:
    """Cap the loaded OpenBLAS at `n` threads. Processes that share a machine (an `mlx.launch` run on one
    host) would otherwise each start one spinning thread per core and fight over the cores. False when
    no OpenBLAS is loaded in this process."""
    if not _loaded:
        return False
    try:
        ctypes.CDLL(_loaded).openblas_set_num_threads(max(1, int(n)))
    except (OSError, AttributeError):
        return False
    return True


def blas_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for a subprocess that runs MLX (mlx_lm.lora, mlx_lm.server...) with the BLAS preloaded."""
    env = dict(os.environ if env is None else env)
    if sys.platform.startswith("linux"):
        path = find_blas()
        if path:
            pre = env.get("LD_PRELOAD", "")
            if path not in pre.split(":"):
                env["LD_PRELOAD"] = f"{path}:{pre}" if pre else path
    return env
