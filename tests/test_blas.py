"""The optimized BLAS is applied in-process and to subprocesses with no manual step."""

import os
import subprocess
import sys

import pytest

from mlx_distill._blas import blas_env, find_blas

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="macOS uses Accelerate")

PROBE = "import mlx_distill, mlx_distill._blas as b, json; print(json.dumps(b._loaded))"


def _run(code, **env):
    e = dict(os.environ, **env)
    e.pop("LD_PRELOAD", None)
    return subprocess.run([sys.executable, "-W", "always", "-c", code], env=e, capture_output=True, text=True)


def test_import_loads_an_optimized_blas_before_mlx():
    out = _run(PROBE)
    assert out.returncode == 0, out.stderr
    assert "openblas" in out.stdout.lower()
    # and it is the library MLX resolved: the mapping of the process shows it loaded
    maps = _run(
        "import mlx_distill, mlx.core as mx; mx.eval(mx.ones((64, 64)) @ mx.ones((64, 64)));"
        "print(open('/proc/self/maps').read())"
    )
    assert "libopenblas" in maps.stdout


def test_missing_blas_warns_once_with_the_fix():
    out = _run(PROBE, MLX_DISTILL_BLAS="/nonexistent/libopenblas.so.0")
    assert out.stdout.strip() == "null"
    assert out.stderr.count("no optimized BLAS") == 1
    assert "apt-get install" in out.stderr


def test_disabled_blas_is_silent():
    out = _run(PROBE, MLX_DISTILL_BLAS="off")
    assert out.stdout.strip() == "null" and "BLAS" not in out.stderr


def test_subprocess_env_preloads_the_same_library():
    env = blas_env({"PATH": os.environ["PATH"]})
    assert find_blas() in env["LD_PRELOAD"].split(":")
    maps = subprocess.run(
        [sys.executable, "-c", "print(open('/proc/self/maps').read())"], env=env, capture_output=True, text=True
    )
    assert "libopenblas" in maps.stdout
