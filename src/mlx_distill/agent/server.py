"""`mlx-distill serve`: mlx_lm.server on the loopback interface, with the adapter applied.

mlx_lm.server applies --adapter-path only to requests for the model named `default_model` (it maps that
name to its --model and --adapter-path; any other name loads the model again, without the adapter). So
the model is resolved to a local path and passed as --model, and agents ask for `default_model`
(`create_agent(model="http://127.0.0.1:PORT/v1")` does). The child runs with request size limits in
front of mlx_lm.server's handler (`server_limits`): an oversized body or prompt is answered 413.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import InputError
from ..models import resolve_model
from ..runtime import subprocess_env
from .server_limits import MAX_BODY_BYTES, MAX_PROMPT_CHARS

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class ServerHandle:
    pid: int
    url: str  # the OpenAI-compatible base URL, http://127.0.0.1:PORT/v1
    model: str  # the model name as given
    model_path: str  # what was passed as --model
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


def server_command(
    model_path: str,
    *,
    adapter_path: str | None,
    host: str,
    port: int,
    extra_args: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    max_prompt_chars: int = MAX_PROMPT_CHARS,
) -> list[str]:
    cmd = [sys.executable, "-m", "mlx_distill.agent.server_limits"]
    cmd += ["--max-body-bytes", str(max_body_bytes), "--max-prompt-chars", str(max_prompt_chars)]
    cmd += ["--model", model_path, "--host", host, "--port", str(port)]
    if adapter_path:
        cmd += ["--adapter-path", adapter_path]
    return cmd + list(extra_args)


def start_server(
    model: str,
    adapter_path: str | os.PathLike | None = None,
    *,
    port: int | None = None,
    host: str = LOOPBACK,
    timeout: float = 180.0,
    log_path: str | os.PathLike | None = None,
    extra_args: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    max_prompt_chars: int = MAX_PROMPT_CHARS,
) -> ServerHandle:
    """Start mlx_lm.server for `model` (+ adapter) and wait until /health answers. Raises InputError with
    the end of the server's log if it exits or does not become healthy within `timeout` seconds. A
    request over `max_body_bytes`, or whose prompt is over `max_prompt_chars`, is answered 413."""
    if host not in (LOOPBACK, "localhost", "::1"):
        raise InputError(f"refusing to bind {host}: the server has no authentication; use 127.0.0.1")
    model_path = resolve_model(model)
    if not Path(model_path).exists():
        raise InputError(
            f"{model!r} is not a local model directory; download or convert it first "
            "(the adapter applies only to a local path passed as --model)"
        )
    model_path = str(Path(model_path).resolve())
    adapter = None
    if adapter_path:
        adapter = str(Path(adapter_path).expanduser().resolve())
        if not (Path(adapter) / "adapter_config.json").exists():
            raise InputError(f"no adapter_config.json in {adapter}: not an adapter directory")
    port = port or free_port(host)
    if not port_is_free(host, port):
        raise InputError(f"port {port} on {host} is already in use; choose another --port (0 picks a free one)")
    if log_path is None:
        import tempfile

        log_path = Path(tempfile.mkdtemp(prefix="mlx-distill-serve-")) / "server.log"
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(
            server_command(
                model_path,
                adapter_path=adapter,
                host=host,
                port=port,
                extra_args=extra_args,
                max_body_bytes=max_body_bytes,
                max_prompt_chars=max_prompt_chars,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=subprocess_env(),
            start_new_session=True,
            preexec_fn=_die_with_parent if threading.current_thread() is threading.main_thread() else None,
        )  # the death signal follows the thread that forked
    finally:
        log.close()
    handle = ServerHandle(
        pid=proc.pid,
        url=f"http://{host}:{port}/v1",
        model=model,
        model_path=model_path,
        adapter_path=adapter,
        log_path=str(log_path),
        _proc=proc,
    )
    try:  # whatever stops the wait (a signal, Ctrl-C, an error) stops the child too
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise InputError(f"mlx_lm.server exited with status {proc.returncode}:\n{_tail(log_path)}")
            if handle.healthy(timeout=1.0):
                owner = listener_pid(port)
                if owner is not None and owner != proc.pid:
                    raise InputError(
                        f"port {port} is answered by process {owner}, not by the server started "
                        f"(pid {proc.pid}); choose another --port"
                    )
                return handle
            time.sleep(0.25)
        raise InputError(f"mlx_lm.server did not become healthy within {timeout:.0f} s:\n{_tail(log_path)}")
    except BaseException:
        handle.stop()
        raise


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind host:port now (with SO_REUSEADDR, as mlx_lm.server's HTTPServer does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def listener_pid(port: int) -> int | None:
    """The PID holding the TCP socket listening on `port` (Linux /proc), or None when it cannot be told."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    if not inodes:
        return None
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            for fd in (proc_dir / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc_dir.name)
        except OSError:
            continue
    return None


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when we die, even by SIGKILL (no orphan under PID 1)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside: SIGTERM (and SIGHUP) raise KeyboardInterrupt like Ctrl-C, so cleanup code runs for all three."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _tail(path: str | os.PathLike, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
