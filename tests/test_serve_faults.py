"""`mlx-distill serve` under signals and a busy port: the mlx_lm.server child never outlives the command
(SIGTERM, SIGINT, even SIGKILL of the command), a port in use fails at once, and the health check knows
which process answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from mlx_distill.agent import start_server
from mlx_distill.agent.server import listener_pid, port_is_free
from mlx_distill.errors import InputError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_port_in_use_fails_at_once_with_a_clear_message(tiny_model_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert not port_is_free("127.0.0.1", port) and listener_pid(port) == os.getpid()
        start = time.monotonic()
        with pytest.raises(InputError, match=f"port {port} on 127.0.0.1 is already in use"):
            start_server(str(tiny_model_dir), port=port, timeout=60)
        assert time.monotonic() - start < 5  # not the health-check timeout
    assert port_is_free("127.0.0.1", port)


def _serve(tiny_model_dir):
    cmd = [
        sys.executable,
        "-c",
        "from mlx_distill.cli import main; main()",
        "serve",
        "--model",
        str(tiny_model_dir),
        "--port",
        "0",
        "--timeout",
        "120",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    assert line.startswith("serving "), line
    child = int(line.split("(pid ")[1].split(",")[0])
    assert listener_pid(int(line.split("127.0.0.1:")[1].split("/")[0])) == child  # the answering server is ours
    return proc, child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])  # SIGINT takes SIGTERM's path (stop_on_signals)
def test_stopping_serve_by_any_signal_stops_the_server_child(tiny_model_dir, sig):
    proc, child = _serve(tiny_model_dir)
    try:
        assert _alive(child)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert _wait_gone(child), f"mlx_lm.server (pid {child}) outlived serve after {sig.name}"
    finally:
        proc.stdout.close()
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    out = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                with open(f"/proc/{stat}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(stat))
    return out


def test_ctrl_c_while_the_server_is_still_starting_stops_it_too(tiny_model_dir):
    """Before this, an interrupt during the health wait left mlx_lm.server running under PID 1."""
    cmd = [
        sys.executable,
        "-c",
        "from mlx_distill.cli import main; main()",
        "serve",
        "--model",
        str(tiny_model_dir),
        "--port",
        "0",
        "--timeout",
        "120",
    ]
    # Ctrl-C as at a terminal, whatever this test inherited: a shell's background job (`./scripts/test.sh &`)
    # ignores SIGINT, and an ignored signal stays ignored across exec, so `serve` would never see it
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _children(proc.pid):
        time.sleep(0.02)
    (child,) = _children(proc.pid)
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)  # generous: a loaded 2-core machine once needed more than 30 s here
        assert _wait_gone(child) and "serving" not in proc.stdout.read()
    finally:
        proc.stdout.close()
        if _alive(child):
            os.kill(child, signal.SIGKILL)
