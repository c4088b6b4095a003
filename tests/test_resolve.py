"""Every model form the CLI accepts resolves through the one registry into a model that works: a tiny
model directory, the embedded student, a Hugging Face id from a real hub cache (in a subprocess, the hub
offline), a real OpenAI-compatible server on 127.0.0.1, PydanticAI names (`test`, and `anthropic:`
over the real SDK against the loopback fake), a router of a student and a teacher; a new provider joins
with one entry; the benchmark runner uses the loader it is given."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic_ai.models.test import TestModel

from mlx_distill import resolve as resolver
from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.bench.runner import ModelSpec, RunConfig, run_benchmark
from mlx_distill.bench.suites import Case, Suite
from mlx_distill.economics.router import Router
from mlx_distill.errors import InputError
from mlx_distill.testing.fake_anthropic import FakeAnthropic

TEACHER = "claude-haiku-4-5"


class _OpenAICompatible(BaseHTTPRequestHandler):
    """The two routes an OpenAI-compatible server needs here: the model list and one chat completion."""

    reply = "Served from 127.0.0.1."

    def do_GET(self):  # noqa: N802 (http.server's name)
        self._json({"object": "list", "data": [{"id": "default_model", "object": "model"}]})

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._json(
            {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "default_model",
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": self.reply}}
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        )

    def _json(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAICompatible)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def fake_anthropic(monkeypatch):
    with FakeAnthropic(default_reply="The teacher answers.") as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        yield fake


def test_a_model_directory_resolves_to_a_local_mlx_model(tiny_model_dir):
    model = resolver.resolve(str(tiny_model_dir), constrain_calls=False)
    assert isinstance(model, MLXModel) and not model.constrain_calls
    assert resolver.entry_for(str(tiny_model_dir)) is resolver.LOCAL


def test_the_embedded_student_resolves_through_its_own_entry(embedded_model_dir):
    assert resolver.entry_for("embedded:smollm2-135m").form == "embedded:"
    model = resolver.resolve("embedded:smollm2-135m")
    assert isinstance(model, MLXModel) and Path(model._loaded.path) == embedded_model_dir


def test_a_hugging_face_id_resolves_from_the_hub_cache(tiny_model_dir, tmp_path):
    """The hub's cache layout (refs/main -> snapshots/<commit>/), read offline by mlx-lm in a fresh process."""
    repo = tmp_path / "hub" / "models--tiny-org--tiny-qwen"
    commit = "0" * 40
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    code = (
        "import mlx_distill\nfrom mlx_distill.resolve import resolve\n"
        "m = resolve('tiny-org/tiny-qwen')\nprint(type(m).__name__, m._loaded.path)"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MLXModel", "tiny-org/tiny-qwen"]


def test_a_server_url_resolves_to_the_server_it_names(server_url, tmp_path):
    model = resolver.resolve(server_url)
    assert resolver.entry_for(server_url).form == "a server URL"
    outcome = run_question(create_agent(model, workspace=tmp_path, tools=None), "Hello?")
    assert outcome.final_text == "Served from 127.0.0.1."


def test_a_server_url_that_nobody_answers_fails_once_with_the_reason():
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        silent = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with pytest.raises(ConnectionError, match=f"no server answers at {silent}: .*refused"):
        resolver.resolve(silent)


def test_pydantic_ai_names_resolve_to_the_teacher(fake_anthropic, tmp_path):
    assert isinstance(resolver.resolve("test"), TestModel)
    model = resolver.resolve(f"anthropic:{TEACHER}")
    assert model.model_name == TEACHER and resolver.entry_for(f"anthropic:{TEACHER}").form == "a PydanticAI name"
    outcome = run_question(create_agent(model, workspace=tmp_path, tools=None), "What is a mutex?")
    assert outcome.final_text == "The teacher answers."
    assert len(fake_anthropic.message_requests()) == 1


def test_a_router_name_resolves_to_a_router_over_a_student_and_a_teacher(fake_anthropic, tiny_model_dir, tmp_path):
    model = resolver.resolve(f"router:{tiny_model_dir}+anthropic:{TEACHER}?min_margin=0.3", ledger_dir=tmp_path)
    assert isinstance(model, Router)
    assert isinstance(model.student, MLXModel) and model.teacher.model_name == TEACHER
    assert model.min_margin == 0.3 and model.ledger is not None and Path(model.ledger.path).parent == tmp_path


def test_a_new_provider_joins_with_one_entry_and_wins_over_the_local_fallback():
    made = []

    def loader(name, adapter_path, options):
        made.append((name, adapter_path, options.prefix_cache))
        return TestModel(custom_output_text=name)

    entry = resolver.register("mine:", loader)
    try:
        model = resolver.resolve("mine:small", "adapters/x", prefix_cache=False)
        assert isinstance(model, TestModel) and made == [("mine:small", "adapters/x", False)]
        assert resolver.entry_for("mine:small") is entry
    finally:
        resolver.REGISTRY.remove(entry)
    assert resolver.entry_for("mine:small").form == "a PydanticAI name"  # what `mine:` read as without it


def test_the_runner_uses_the_loader_it_is_given_and_refuses_a_teacher_name_without_one(tmp_path):
    suite = Suite("one", [Case(id="d1", question="What is a mutex?", label="direct", category="concept")])
    seen = []

    def loader(spec, config):
        seen.append((spec.model, config.max_tokens))
        return resolver.load_for_bench(spec, config)

    result = run_benchmark([ModelSpec("test")], [suite], RunConfig(max_tokens=7), load_model=loader)
    assert seen == [("test", 7)] and result.models[0].load_error is None and len(result.models[0].scores) == 1
    refused = run_benchmark([ModelSpec(f"anthropic:{TEACHER}")], [suite])
    assert "names a teacher or a router" in refused.models[0].load_error
    assert "load_model=mlx_distill.resolve.load_for_bench" in refused.models[0].load_error


def test_an_unknown_router_option_is_a_one_line_input_error():
    with pytest.raises(InputError, match="unknown router option 'margin'"):
        resolver.resolve("router:a+b?margin=1")
