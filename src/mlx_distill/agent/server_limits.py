"""The process `serve` starts: mlx_lm.server with a limit on the request body and on the prompt.

mlx_lm.server reads any Content-Length whole, parses it and queues the prompt: one 30 MB chat request
held the model for minutes while every other request waited. Here a request over `--max-body-bytes`
is answered 413 before its body is parsed (the body is read past and dropped, so the client gets the
answer instead of a reset), and one whose messages, prompt and tools hold more than
`--max-prompt-chars` characters is answered 413 before it reaches the model. Everything else goes to
mlx_lm.server's own handler unchanged.

Run as `python -m mlx_distill.agent.server_limits --max-body-bytes N --max-prompt-chars N <mlx_lm.server
arguments>` (what `server.server_command` builds).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

MAX_BODY_BYTES = 4 << 20  # a long agent conversation with tool results is well under 1 MB
MAX_PROMPT_CHARS = 200_000  # about 50,000 tokens: past the context of the models served here
_DRAIN_BYTES = 64 << 20  # a larger refused body is not read: the connection is closed instead


def prompt_chars(body: Any) -> int:
    """Characters of text a request asks the model to read: every string in its messages, prompt and tools."""
    parts = [body.get(k) for k in ("messages", "prompt", "tools")] if isinstance(body, dict) else []
    total, stack = 0, parts
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            total += len(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def _too_large(handler: Any, message: str) -> None:
    payload = json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "code": "request_too_large"}}
    ).encode()
    handler.close_connection = True
    handler.send_response(413)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(payload)


def install(max_body_bytes: int = MAX_BODY_BYTES, max_prompt_chars: int = MAX_PROMPT_CHARS) -> None:
    """Put the limits in front of mlx_lm.server's POST handler (in this process)."""
    from mlx_lm import server

    original = server.APIHandler.do_POST

    def do_post(self: Any) -> None:
        header = (self.headers.get("Content-Length") or "").strip()
        if not header.isdigit():
            return original(self)  # mlx_lm answers a missing or invalid length itself
        length = int(header)
        if length > max_body_bytes:
            if length <= _DRAIN_BYTES:
                left = length
                while left and (chunk := self.rfile.read(min(left, 1 << 20))):
                    left -= len(chunk)
            return _too_large(
                self, f"request body of {length} bytes is over the limit of {max_body_bytes} (serve --max-body-bytes)"
            )
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None  # mlx_lm answers invalid JSON itself
        chars = prompt_chars(body)
        if chars > max_prompt_chars:
            return _too_large(
                self, f"prompt of {chars} characters is over the limit of {max_prompt_chars} (serve --max-prompt-chars)"
            )
        connection = self.rfile
        self.rfile = io.BytesIO(raw)  # the body, read once, handed to mlx_lm's handler
        try:
            return original(self)
        finally:
            self.rfile = connection

    server.APIHandler.do_POST = do_post  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    parser.add_argument("--max-prompt-chars", type=int, default=MAX_PROMPT_CHARS)
    ours, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    install(ours.max_body_bytes, ours.max_prompt_chars)
    from mlx_lm import server

    sys.argv = ["mlx_lm.server", *rest]
    server.main()


if __name__ == "__main__":  # `-m` imports the mlx_distill package first: its BLAS preload comes before mlx
    main()
