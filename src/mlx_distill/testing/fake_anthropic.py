"""A loopback fake of the Anthropic Messages API, for tests and benchmarks: a real HTTP server on
127.0.0.1 that the real `anthropic` SDK (and PydanticAI's Anthropic model) talk to through `base_url`.

Endpoints: `POST /v1/messages` (text and `tool_use` blocks, `stop_reason`, usage with
`cache_creation_input_tokens` / `cache_read_input_tokens`), `POST /v1/messages/count_tokens`, and
Message Batches (`POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, `GET
.../{id}/results` as JSONL in shuffled order, `POST .../{id}/cancel`).

Replies are scripted per prompt: `script` maps the conversation's first user text (the question) to
the assistant's turns in order, or is a function `(question, turn, request_body) -> reply`. A reply
is a string (a text answer, `end_turn`), a dict `{"tool": name, "input": {...}}` (a `tool_use`
turn), a dict `{"text": ..., "stop_reason": ...}`, or a list of such blocks. Unscripted questions
get `default_reply`.

Faults are injected with `inject(Fault(...))`: 429 with `retry-after`, 500, 529, 400/401/403, a
response slower than the client's timeout, a dropped connection; each applies to the next matching
`/v1/messages` request (optionally only for one question). Batch requests can be made to expire or
error for chosen questions (`batch_expire`, `batch_error`), as many times as asked.

Token counts are deterministic (`count_tokens`: about 4 characters per token), so a run's usage and
cost can be asserted exactly. Prompt caching: a request whose system prompt or tool schemas carry
`cache_control` caches that prefix; the first request with a given prefix reports it as
`cache_creation_input_tokens`, later ones as `cache_read_input_tokens`, and `input_tokens` is the rest.

What a script is and what it reads from a request (the question, the turn, tool results), with a
ready-made line-count teacher, are `teacher_scripts.py`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .teacher_scripts import Reply, Script, question_of, turn_of


@dataclass
class Fault:
    """One injected failure. kind: 429, 500, 529, 400, 401, 403 (an HTTP error; 429 carries
    `retry-after`), "slow" (answer after `delay_s`, past the client's timeout), "drop" (close the
    connection without an answer). `question`: only requests for that question; `times`: how many."""

    kind: int | str
    question: str | None = None
    times: int = 1
    retry_after_s: float = 0.05
    delay_s: float = 2.0


def count_tokens(obj: Any) -> int:
    """Deterministic token estimate of any JSON-able object: ~4 characters per token (0 for nothing)."""
    if not obj:
        return 0
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True, ensure_ascii=False)
    return max(1, (len(text) + 3) // 4)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _has_cache_mark(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(isinstance(b, dict) and b.get("cache_control") for b in blocks)


class FakeAnthropic:
    """The server. Use as a context manager (or `start()`/`stop()`); `base_url` is what the SDK needs.

    latency_s: added to every `/v1/messages` answer (simulated model time). batch_polls: how many
    status checks a batch answers `in_progress` before it ends. Everything the server saw is kept:
    `requests` (path, body) and `batches` (id -> batch), for tests to assert on."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        default_reply: Reply = "I can answer that directly.",
        latency_s: float = 0.0,
        batch_polls: int = 0,
        seed: int = 0,
        api_keys: tuple[str, ...] | None = None,
        model: str = "claude-fake-1",
    ):
        self.script = script if script is not None else {}
        self.default_reply = default_reply
        self.latency_s = latency_s
        self.batch_polls = batch_polls
        self.api_keys = api_keys
        self.model = model
        self.requests: list[tuple[str, dict]] = []
        self.batches: dict[str, dict] = {}
        self.batch_expire: dict[str, int] = {}  # question -> how many more times its batch request expires
        self.batch_error: dict[str, int] = {}  # question -> how many more times it errors (overloaded)
        self._faults: list[Fault] = []
        self._cached_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rng = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "FakeAnthropic":
        if self._server is not None:  # already serving
            return self
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeAnthropic":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, api_key: str = "sk-ant-fake") -> dict[str, str]:
        """Environment variables that point the SDK (in this or a child process) at the fake."""
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": api_key}

    # -- scripting ------------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def message_requests(self) -> list[dict]:
        """Bodies of the `/v1/messages` requests received (batch requests not included)."""
        return [body for path, body in self.requests if path == "/v1/messages"]

    def _take_fault(self, question: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.question is None or f.question == question:
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                    return f
        return None

    def reply_for(self, body: dict) -> Reply:
        question, turn = question_of(body), turn_of(body)
        if callable(self.script):
            return self.script(question, turn, body)
        turns = self.script.get(question)
        if turns is None:
            return self.default_reply
        return turns[min(turn, len(turns) - 1)]

    def message(self, body: dict) -> dict:
        """The Messages API answer to one request body (also what a succeeded batch request holds)."""
        reply = self.reply_for(body)
        blocks: list[dict] = []
        stop_reason = "end_turn"
        for item in reply if isinstance(reply, list) else [reply]:
            if isinstance(item, str):
                blocks.append({"type": "text", "text": item})
            elif "tool" in item:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": f"toolu_{next(self._ids):06d}",
                        "name": item["tool"],
                        "input": item.get("input", {}),
                    }
                )
                stop_reason = "tool_use"
            else:
                if item.get("text"):
                    blocks.append({"type": "text", "text": item["text"]})
                stop_reason = item.get("stop_reason", stop_reason)
        usage = self._usage(body, blocks)
        return {
            "id": f"msg_{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", self.model),
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _usage(self, body: dict, blocks: list[dict]) -> dict[str, int]:
        system, tools = body.get("system") or [], body.get("tools") or []
        prefix_tokens = 0
        cached = ""
        if _has_cache_mark(tools) or _has_cache_mark(system if isinstance(system, list) else []):
            cached = hashlib.sha256(json.dumps([tools, system], sort_keys=True).encode()).hexdigest()
            prefix_tokens = count_tokens(tools) + count_tokens(system)
        total = count_tokens(body.get("messages", [])) + count_tokens(tools) + count_tokens(system)
        write = read = 0
        if cached:
            with self._lock:
                if cached in self._cached_prefixes:
                    read = prefix_tokens
                else:
                    self._cached_prefixes.add(cached)
                    write = prefix_tokens
        return {
            "input_tokens": total - write - read,
            "output_tokens": count_tokens(blocks),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }

    # -- batches --------------------------------------------------------------------------------

    def create_batch(self, body: dict) -> dict:
        bid = f"msgbatch_{next(self._ids):06d}"
        results = []
        for req in body.get("requests", []):
            params = req.get("params", {})
            q = question_of(params)
            with self._lock:
                expire = self.batch_expire.get(q, 0) > 0
                error = not expire and self.batch_error.get(q, 0) > 0
                if expire:
                    self.batch_expire[q] -= 1
                if error:
                    self.batch_error[q] -= 1
            if expire:
                result: dict = {"type": "expired"}
            elif error:
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                }
            else:
                result = {"type": "succeeded", "message": self.message(params)}
            results.append({"custom_id": req["custom_id"], "result": result})
        self._rng.shuffle(results)
        created = datetime.now(timezone.utc)
        batch = {
            "id": bid,
            "type": "message_batch",
            "processing_status": "in_progress",
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "expires_at": (created + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "ended_at": None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
            "request_counts": {"processing": len(results), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
            "_results": results,
            "_polls": 0,
        }
        with self._lock:
            self.batches[bid] = batch
        return self._public(batch)

    def retrieve_batch(self, bid: str) -> dict | None:
        with self._lock:
            batch = self.batches.get(bid)
            if batch is None:
                return None
            batch["_polls"] += 1
            if batch["processing_status"] != "ended" and batch["_polls"] > self.batch_polls:
                self._end(batch)
            return self._public(batch)

    def _end(self, batch: dict) -> None:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for r in batch["_results"]:
            counts[r["result"]["type"]] += 1
        batch.update(
            processing_status="ended",
            ended_at=_now(),
            request_counts=counts,
            results_url=f"{self.base_url}/v1/messages/batches/{batch['id']}/results",
        )

    @staticmethod
    def _public(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeAnthropic
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{time.monotonic_ns()}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)

    def _authorized(self) -> bool:
        keys = self.server_fake.api_keys
        auth = self.headers.get("authorization") or ""  # SDK 2.x sends a bearer token, older ones x-api-key
        key = self.headers.get("x-api-key") or (auth[7:] if auth.lower().startswith("bearer ") else "")
        if not key or (keys is not None and key not in keys):
            self._error(401, "authentication_error", "invalid API key")
            return False
        return True

    def _body(self) -> dict | None:
        """The request's JSON body, or None when the client went away before sending all of it
        (a killed process): the API never sees such a request, so neither does the fake."""
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        if len(raw) < n:
            self.close_connection = True
            return None
        return json.loads(raw)

    def do_POST(self) -> None:  # noqa: N802
        fake = self.server_fake
        path = self.path.split("?", 1)[0]
        body = self._body()
        if body is None:
            return
        with fake._lock:
            fake.requests.append((path, body))
        if not self._authorized():
            return
        if path == "/v1/messages":
            self._messages(body)
        elif path == "/v1/messages/count_tokens":
            self._send(
                200,
                {
                    "input_tokens": count_tokens(body.get("messages", []))
                    + count_tokens(body.get("tools") or [])
                    + count_tokens(body.get("system") or [])
                },
            )
        elif path == "/v1/messages/batches":
            self._send(200, fake.create_batch(body))
        elif path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
            bid = path.split("/")[4]
            batch = fake.batches.get(bid)
            if batch is None:
                return self._error(404, "not_found_error", f"no batch {bid}")
            fake._end(batch)
            self._send(200, fake._public(batch))
        else:
            self._error(404, "not_found_error", f"no route {path}")

    def do_GET(self) -> None:  # noqa: N802
        fake = self.server_fake
        path = self.path.split("?", 1)[0]
        with fake._lock:
            fake.requests.append((path, {}))
        if not self._authorized():
            return
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
            bid = parts[3]
            if len(parts) == 4:
                batch = fake.retrieve_batch(bid)
                if batch is None:
                    return self._error(404, "not_found_error", f"no batch {bid}")
                return self._send(200, batch)
            if len(parts) == 5 and parts[4] == "results":
                batch = fake.batches.get(bid)
                if batch is None or batch["processing_status"] != "ended":
                    return self._error(404, "not_found_error", f"batch {bid} has no results yet")
                lines = "".join(json.dumps(r) + "\n" for r in batch["_results"]).encode()
                return self._send(200, lines, content_type="application/binary")
        self._error(404, "not_found_error", f"no route {path}")

    def _messages(self, body: dict) -> None:
        fake = self.server_fake
        fault = fake._take_fault(question_of(body))
        if fault is not None:
            if fault.kind == "drop":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if fault.kind == "slow":
                time.sleep(fault.delay_s)
            else:
                status = int(fault.kind)
                kinds = {
                    400: "invalid_request_error",
                    401: "authentication_error",
                    403: "permission_error",
                    429: "rate_limit_error",
                    500: "api_error",
                    529: "overloaded_error",
                }
                headers = {"retry-after": f"{fault.retry_after_s:g}"} if status == 429 else None
                return self._error(status, kinds.get(status, "api_error"), f"injected {status}", headers)
        if fake.latency_s:
            time.sleep(fake.latency_s)
        try:
            self._send(200, fake.message(body))
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to answer
            pass
