"""A real mlx_lm.server on a free loopback port with a tiny model and a LoRA adapter: the agent talks to it
through pydantic-ai's OpenAI-compatible model, requests for `default_model` get the adapter, and the server
is stopped by its PID."""

import json
import os
import socket
import urllib.request

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from mlx_distill import prompting
from mlx_distill.agent import MLXModel, create_agent, run_question, start_server
from mlx_distill.errors import InputError
from mlx_distill.tools import Workspace


def make_random_adapter(model_dir, dest, seed=1):
    """A LoRA adapter with random (non-zero) weights, in mlx-lm's adapter format."""
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    dest.mkdir(parents=True)
    model, _ = load(str(model_dir))
    params = {"rank": 4, "scale": 20.0, "dropout": 0.0}
    linear_to_lora_layers(model, 4, params)
    mx.random.seed(seed)
    lora = {k: mx.random.normal(v.shape) * 0.5 for k, v in tree_flatten(model.parameters()) if ".lora_" in k}
    mx.save_safetensors(str(dest / "adapters.safetensors"), lora)
    (dest / "adapter_config.json").write_text(
        json.dumps({"fine_tune_type": "lora", "num_layers": 4, "lora_parameters": params})
    )
    return dest


def completion_ids(url, model, messages, max_tokens=4):
    body = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "logprobs": True,
        "top_logprobs": 1,
    }
    req = urllib.request.Request(
        url + "/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        choice = json.loads(r.read())["choices"][0]
    return [t["id"] for t in choice["logprobs"]["content"]]


def test_serve_with_adapter_and_run_the_agent_against_it(tiny_model_dir, tmp_path):
    adapter = make_random_adapter(tiny_model_dir, tmp_path / "adapter")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "notes.txt").write_text("hello\n")
    server = start_server(str(tiny_model_dir), adapter, timeout=120)
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.healthy()
        agent = create_agent(
            server.url, workspace=Workspace(tmp_path / "ws"), tools=["read_file"], model_settings={"max_tokens": 8}
        )
        assert agent.model_settings["stop_sequences"] == ["<|im_end|>"]
        out = run_question(agent, "What do the notes say?")
        assert out.outcome == "answered" and out.requests == 1, out.error  # a random model: plain text
        assert out.input_tokens > 0 and out.output_tokens > 0

        # `default_model` is served with the adapter: greedy tokens equal the local adapted model's
        messages = prompting.conversation("Hi")
        local = MLXModel(str(tiny_model_dir), adapter_path=adapter)
        base = MLXModel(str(tiny_model_dir))
        prompt = prompting.render(messages, None, local.tokenizer, add_generation_prompt=True)
        adapted_ids = local.generator.generate(prompt, max_tokens=4, use_cache=False).tokens
        base_ids = base.generator.generate(prompt, max_tokens=4, use_cache=False).tokens
        assert adapted_ids != base_ids
        assert completion_ids(server.url, "default_model", messages) == adapted_ids
        # any other model name makes mlx_lm.server load the model without the adapter
        assert completion_ids(server.url, server.model_path, messages) == base_ids
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1].split("/")[0])), timeout=1)


def test_the_server_refuses_to_leave_the_loopback_interface(tiny_model_dir, tmp_path):
    with pytest.raises(InputError, match="127.0.0.1"):
        start_server(str(tiny_model_dir), host="0.0.0.0")
    with pytest.raises(InputError, match="adapter_config.json"):
        start_server(str(tiny_model_dir), tmp_path)
