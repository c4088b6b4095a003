"""mlx-distill: distill a teacher's tool-use judgement into a small local MLX model.

Importing the package first makes MLX on Linux use an optimized BLAS (see runtime.py);
it must happen before `mlx` itself is imported, so it is the first thing done here.
"""

import os as _os

from ._blas import preload_blas as _preload_blas

_preload_blas()
_os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # silence "PyTorch was not found"

__version__ = "0.1.0"
