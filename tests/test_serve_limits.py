"""`serve`'s request size limits: an oversized body or prompt is answered 413 at once, and the server
goes on answering normal requests (a 30 MB request used to hold the model for minutes)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from mlx_distill.agent import start_server
from mlx_distill.agent.server_limits import prompt_chars


@pytest.fixture(scope="module")
def limited_server(tiny_model_dir):
    with start_server(str(tiny_model_dir), timeout=120, max_body_bytes=200_000, max_prompt_chars=20_000) as handle:
        yield handle


def _post(url: str, body: bytes, timeout: float = 60) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def _chat(text: str) -> bytes:
    return json.dumps(
        {"model": "default_model", "messages": [{"role": "user", "content": text}], "max_tokens": 2}
    ).encode()


def test_an_oversized_body_is_answered_413_at_once_and_normal_requests_still_pass(limited_server):
    url = f"{limited_server.url}/chat/completions"
    start = time.monotonic()
    status, body = _post(url, _chat("x" * 30_000_000))  # 30 MB, the probe of the issue
    assert status == 413 and time.monotonic() - start < 10
    assert "over the limit of 200000" in body["error"]["message"] and "--max-body-bytes" in body["error"]["message"]
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(_post(url, _chat("Hi"))[0])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [200] * 4


def test_a_prompt_over_the_character_limit_is_answered_413_before_the_model(limited_server):
    status, body = _post(
        f"{limited_server.url}/chat/completions", _chat("word " * 10_000)
    )  # 50,000 characters and the role
    assert status == 413 and "prompt of 50004 characters" in body["error"]["message"]
    assert _post(f"{limited_server.url}/chat/completions", _chat("Hello"))[0] == 200


def test_prompt_chars_counts_every_string_of_messages_prompt_and_tools():
    body = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "abc"}]}],
        "tools": [{"name": "de"}],
        "model": "not counted",
    }
    assert prompt_chars(body) == len("user") + len("text") + 3 + 2
    assert prompt_chars({"prompt": "12345"}) == 5 and prompt_chars(["not", "a", "dict"]) == 0
