#!/usr/bin/env python3
"""Mine repositories into tool-using examples with real tool results: `mlx-distill data domain`.

scripts/generate_domain_examples.py REPO... -o OUT [--seed N] [--limit N] [--include DIR]
"""

import sys

import mlx_distill  # noqa: F401
from mlx_distill.data.cli import data

if __name__ == "__main__":
    data.main(["domain", *sys.argv[1:]], prog_name="generate_domain_examples.py")
