"""A tiny random-initialised Qwen2 model with a real byte-level BPE tokenizer, built offline in seconds.

Tests use it instead of the 135M student. transformers 5 loads `Qwen2Tokenizer` for `model_type:
qwen2` whatever `tokenizer_class` says, rebuilding the pre-tokenizer from Qwen's regex with NFC;
the BPE is trained with exactly those so that ids match whichever class loads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..chat_template import CHAT_TEMPLATE, END_OF_TURN
from ..io import atomic_write_text
from ..models.qwen import QWEN_PRETOKENIZE_REGEX

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = """
You are a coding assistant working inside the user's workspace. Call a tool when the question needs
the workspace; answer directly when general programming knowledge is enough.
<tool_call> {"name": "grep", "arguments": {"pattern": "import svcs", "path": "."}} </tool_call>
<tool_response> src/app.py:3:import svcs </tool_response> read_file write_file list_files run_command
def main(): return 0  class Config: pass  import os, sys, json  The capital of France is Paris.
A list is mutable; a tuple is immutable. Use a context manager to close files. pytest -q passed
What is the difference between a process and a thread? Which files import requests?
0123456789 {}[]():;,.'"!?-_=+*/<>|#@$%^&~` \\ \t \n
"""


def _train_tokenizer(vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The system prompt, tool schemas and template text recur in every prompt: give them merges so a
    # test prompt with all tools stays a few hundred tokens (CPU attention is quadratic).
    from ..chat_template import TOOLS_POSTAMBLE, TOOLS_PREAMBLE
    from ..prompting import DEFAULT_SYSTEM_PROMPT
    from ..tools import tool_schemas

    shared = "\n".join(
        [DEFAULT_SYSTEM_PROMPT, TOOLS_PREAMBLE, TOOLS_POSTAMBLE] + [json.dumps(t) for t in tool_schemas()]
    )
    tok.train_from_iterator([_CORPUS] * 4 + [shared] * 8, trainer=trainer)
    return tok


def build_tiny_model(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    vocab_size: int = 1024,
    hidden_size: int = 64,
    num_layers: int = 4,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
) -> Path:
    """Write an mlx-lm model directory (config, safetensors, tokenizer, chat template) and return its path."""
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = _train_tokenizer(vocab_size)
    real_vocab = tok.get_vocab_size()
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=END_OF_TURN, pad_token="<|endoftext|>", bos_token=None, unk_token=None
    )
    hf_tok.chat_template = CHAT_TEMPLATE
    hf_tok.save_pretrained(path)
    cfg_path = path / "tokenizer_config.json"
    tcfg = json.loads(cfg_path.read_text())
    tcfg.update(
        {
            "tokenizer_class": "Qwen2Tokenizer",
            "model_max_length": 4096,
            "add_prefix_space": False,
            "errors": "replace",
            "split_special_tokens": False,
        }
    )
    atomic_write_text(cfg_path, json.dumps(tcfg, indent=2))

    config = {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "intermediate_size": intermediate_size,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "rms_norm_eps": 1e-6,
        "vocab_size": real_vocab,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "eos_token_id": tok.token_to_id(END_OF_TURN),
        "bos_token_id": None,
    }
    _write_random_weights(path, config, seed)
    return path


def _write_random_weights(path: Path, config: dict, seed: int) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import qwen2

    mx.random.seed(seed)
    model = qwen2.Model(qwen2.ModelArgs.from_dict(config))
    mx.eval(model.parameters())
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(path / "model.safetensors"), weights, metadata={"format": "mlx"})
    atomic_write_text(path / "config.json", json.dumps(config, indent=2))


def build_tiny_qwen_model(path: str | os.PathLike, tokenizer_dir: str | os.PathLike, *, seed: int = 0) -> Path:
    """A tiny random Qwen2 model around a real Qwen2.5 tokenizer and its own chat template (the files in
    `tokenizer_dir`): Qwen's template path end to end without its weights."""
    import shutil

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for f in Path(tokenizer_dir).iterdir():
        if f.is_file():
            shutil.copyfile(f, path / f.name)
    vocab = json.loads((path / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    config = {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "intermediate_size": 64,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-6,
        "vocab_size": 151936,  # Qwen2.5's padded embedding size
        "max_position_embeddings": 4096,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "bos_token_id": None,
    }
    _write_random_weights(path, config, seed)
    return path
