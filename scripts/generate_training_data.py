#!/usr/bin/env python3
"""Build the training data: `mlx-distill data build` (generators -> validate -> balance -> split).

scripts/generate_training_data.py [-c configs/data.yaml] [-o OUTPUT_DIR] [--no-template] [--json]
"""

import sys

import mlx_distill  # noqa: F401  (BLAS preload before anything imports mlx)
from mlx_distill.data.cli import data

if __name__ == "__main__":
    data.main(["build", *sys.argv[1:]], prog_name="generate_training_data.py")
