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


def test_processes_sharing_a_machine_split_its_cores_for_blas(tmp_path):
    local = tmp_path / "local.json"
    local.write_text('[["127.0.0.1:5000"], ["127.0.0.1:5001"]]\n')
    remote = tmp_path / "remote.json"
    remote.write_text('[["10.0.0.1:5000"], ["10.0.0.2:5000"]]\n')
    code = (
        "import ctypes, mlx_distill, mlx_distill._blas as b; from mlx_distill.runtime import share_cores;"
        "got = share_cores(2); print(got, ctypes.CDLL(b._loaded).openblas_get_num_threads())"
    )
    cores = os.cpu_count() or 1
    out = _run(code, MLX_HOSTFILE=str(local), OPENBLAS_NUM_THREADS=str(cores))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(max(1, cores // 2))] * 2
    # ranks on other machines, no hostfile, or an unreadable one: BLAS keeps every core
    for hostfile in (str(remote), "", str(tmp_path / "missing.json")):
        out = _run(code, MLX_HOSTFILE=hostfile, OPENBLAS_NUM_THREADS=str(cores))
        assert out.stdout.split() == ["None", str(cores)], (hostfile, out.stderr)
