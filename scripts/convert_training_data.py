#!/usr/bin/env python3
"""Convert a public tool-calling data set into training records: `mlx-distill data convert`.

scripts/convert_training_data.py --from {legacy,glaive,hermes,xlam,openai,bfcl,when2call} IN OUT [--skip-invalid]
"""

import sys

import mlx_distill  # noqa: F401
from mlx_distill.data.cli import data

if __name__ == "__main__":
    data.main(["convert", *sys.argv[1:]], prog_name="convert_training_data.py")
