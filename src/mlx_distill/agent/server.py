"""`mlx-distill serve`: mlx_lm.server on the loopback interface, with the adapter applied.

mlx_lm.server applies --adapter-path only to requests for the model named `default_model` (it maps that
name to its --model and --adapter-path; any other name loads the model again, without the adapter). So
the model is resolved to a local path and passed as --model, and agents ask for `default_model`
(`create_agent(model="http://127.0.0.1:PORT/v1")` does).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..io import InputError
from ..models import resolve_model
from ..runtime import subprocess_env

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class ServerHandle:
    pid: int
    url: str          # the OpenAI-compatible base URL, http://127.0.0.1:PORT/v1
    model: str        # the model name as given
    model_path: str   # what was passed as --model
    adapter_path: str | None
    log_path: str | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url

    def healthy(self, timeout: float = 2.0) -> bool:
        return _health(self.base, timeout)

    def stop_sequences(self) -> list[str]:
        """The served template's end-of-turn strings (read from its tokenizer, not its weights)."""
        from ..models import load_tokenizer
        from ..prompting import stop_strings

        try:
            return stop_strings(load_tokenizer(self.model_path))
        except Exception:  # noqa: BLE001 - a hub model not cached locally: fall back to ChatML's
            from ..chat_template import END_OF_TURN

            return [END_OF_TURN]

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server by its PID (SIGTERM, then SIGKILL) and return its exit status."""
        proc = self._proc
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if proc is not None:
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                return proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return None
            time.sleep(0.1)
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return None

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _health(base: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def server_command(model_path: str, *, adapter_path: str | None, host: str, port: int,
                   extra_args: Sequence[str] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "mlx_lm", "server", "--model", model_path, "--host", host, "--port", str(port)]
    if adapter_path:
        cmd += ["--adapter-path", adapter_path]
    return cmd + list(extra_args)


def start_server(model: str, adapter_path: str | os.PathLike | None = None, *, port: int | None = None,
                 host: str = LOOPBACK, timeout: float = 180.0, log_path: str | os.PathLike | None = None,
                 extra_args: Sequence[str] = ()) -> ServerHandle:
    """Start mlx_lm.server for `model` (+ adapter) and wait until /health answers. Raises InputError with
    the end of the server's log if it exits or does not become healthy within `timeout` seconds."""
    if host not in (LOOPBACK, "localhost", "::1"):
        raise InputError(f"refusing to bind {host}: the server has no authentication; use 127.0.0.1")
    model_path = resolve_model(model)
    if not Path(model_path).exists():
        raise InputError(f"{model!r} is not a local model directory; download or convert it first "
                         "(the adapter applies only to a local path passed as --model)")
    model_path = str(Path(model_path).resolve())
    adapter = None
    if adapter_path:
        adapter = str(Path(adapter_path).expanduser().resolve())
        if not (Path(adapter) / "adapter_config.json").exists():
            raise InputError(f"no adapter_config.json in {adapter}: not an adapter directory")
    port = port or free_port(host)
    if log_path is None:
        import tempfile

        log_path = Path(tempfile.mkdtemp(prefix="mlx-distill-serve-")) / "server.log"
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(server_command(model_path, adapter_path=adapter, host=host, port=port,
                                               extra_args=extra_args),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=subprocess_env(), start_new_session=True)
    finally:
        log.close()
    handle = ServerHandle(pid=proc.pid, url=f"http://{host}:{port}/v1", model=model, model_path=model_path,
                          adapter_path=adapter, log_path=str(log_path), _proc=proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InputError(f"mlx_lm.server exited with status {proc.returncode}:\n{_tail(log_path)}")
        if handle.healthy(timeout=1.0):
            return handle
        time.sleep(0.25)
    handle.stop()
    raise InputError(f"mlx_lm.server did not become healthy within {timeout:.0f} s:\n{_tail(log_path)}")


def _tail(path: str | os.PathLike, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
