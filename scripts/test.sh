#!/usr/bin/env bash
# The test command: sets up what it needs, checks lint and formatting (ruff) and types (mypy), both
# configured in pyproject.toml, then runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
