#!/usr/bin/env bash
# The test command: sets up what it needs, checks lint and formatting (ruff) and types (mypy), both
# configured in pyproject.toml, then runs the whole suite. Extra arguments go to pytest.
#
#   ./scripts/test.sh            against the lock, in .venv (what CI runs)
#   ./scripts/test.sh --latest   against the newest releases pyproject.toml allows, in .venv-latest
#                                (.venv untouched): upstream breakage and new warnings show here first
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
if [ "${1:-}" = --latest ]; then
  shift
  venv=.venv-latest
  export MLX_DISTILL_LATEST=1
fi
MLX_DISTILL_VENV=$venv ./scripts/setup.sh
$venv/bin/ruff check src tests bench scripts
$venv/bin/ruff format --check src tests bench scripts
$venv/bin/mypy
exec $venv/bin/python -m pytest -q "$@"
