"""The OS sandbox around the commands a model chooses (`Workspace.run_command`).

The tools' allow-list decides which programs a model is offered; it cannot stop `find -delete`,
`python -c`, or `git -c alias.x='!sh'` from reaching outside the workspace. The sandbox does:

- Linux: bubblewrap. The whole filesystem read-only, the workspace the only writable bind (none when
  the workspace is read-only), /proc read-only (sysctls), private /tmp, /run, /var/tmp and /dev, the
  host's listening UNIX sockets and credential files hidden, no network, new user/PID/IPC/UTS
  namespaces, no capabilities and no nested user namespaces, a new session, and `--die-with-parent`:
  when we kill bwrap at a timeout, every process inside (setsid and double-forked daemons included)
  dies with its PID namespace. Started as root, the command still runs as root's kernel uid (so it can
  write the workspace root owns), but with no capability, read-only mounts it cannot remount, and
  uid 65534 inside its user namespace.
- macOS: `sandbox-exec` with `MACOS_PROFILE` (writes only under the workspace, no network).
- Neither: `run` refuses with `SandboxUnavailable`, whose one line says how to enable one, unless the
  caller opted out (`Workspace(..., dangerously_unsandboxed=True)`, `--dangerously-unsandboxed`, or
  the environment variable named by `OPT_OUT_ENV`).

In every case the command gets an environment built from an allow-list (never the parent's, which
holds API keys), resource limits (processes, address space, CPU seconds), its output read
incrementally up to a byte cap, and its whole process group killed at the timeout.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

OPT_OUT_ENV = "MLX_DISTILL_DANGEROUSLY_RUN_UNSANDBOXED"

# Files and directories under the user's home that hold credentials: hidden inside the sandbox,
# although the rest of the filesystem stays readable (programs need /usr, the venv, the repository).
SECRET_HOME_ENTRIES = (
    ".ssh",
    ".aws",
    ".gnupg",
    ".config",
    ".docker",
    ".kube",
    ".netrc",
    ".pypirc",
    ".git-credentials",
    ".anthropic",
    ".cache/huggingface/token",
)
# Readable by root's kernel uid, which a command started by root keeps (see `bwrap_argv`).
SECRET_SYSTEM_PATHS = ("/etc/shadow", "/etc/gshadow")
# Where daemons put their sockets and scratch files: each gets a private, empty tmpfs inside.
PRIVATE_DIRS = ("/tmp", "/run", "/var/run", "/var/tmp")
SANDBOX_UID = 65534  # who the command is inside its user namespace: nobody, never root

MACOS_PROFILE = """(version 1)
(allow default)
(deny network*)
(deny file-write*)
(allow file-write* (subpath (param "WORKSPACE")))
(allow file-write-data (literal "/dev/null") (literal "/dev/zero") (literal "/dev/dtracehelper"))
"""
MACOS_PROFILE_READ_ONLY = MACOS_PROFILE.replace('(allow file-write* (subpath (param "WORKSPACE")))\n', "")


class SandboxUnavailable(Exception):
    """No OS sandbox on this machine and no opt-out: the message says how to get one."""


@dataclass(frozen=True)
class Limits:
    """What one command may use. RLIMIT_NPROC counts the user's processes and root is exempt
    from it; the address-space and CPU limits hold for everyone."""

    max_processes: int = 1024
    max_memory_bytes: int = 4 << 30
    cpu_seconds: int = 120
    max_output_bytes: int = 1 << 20  # kept; the rest is read and dropped, so memory stays bounded


@dataclass
class Completed:
    returncode: int | None  # None when timed out
    output: bytes
    dropped_bytes: int = 0
    timed_out: bool = False


def opted_out() -> bool:
    return os.environ.get(OPT_OUT_ENV, "").strip().lower() in ("1", "true", "yes")


USERNS_ARGV = (
    "--unshare-user",
    "--disable-userns",
    "--uid",
    str(SANDBOX_UID),
    "--gid",
    str(SANDBOX_UID),
)


@functools.lru_cache(maxsize=None)
def _bwrap_mode(bwrap: str) -> tuple[str, ...] | None:
    """The user-namespace arguments this bwrap accepts, or None when it cannot sandbox here: tried once,
    rather than trusting its presence. Root must get a user namespace; a user whose bwrap is setuid on a
    kernel without unprivileged user namespaces runs without one (still no capabilities: bwrap drops
    them for a non-root caller). `--disable-userns` is left out only by a bwrap older than 0.8."""
    without_nesting_guard = tuple(a for a in USERNS_ARGV if a != "--disable-userns")  # bwrap before 0.8
    modes = [USERNS_ARGV, without_nesting_guard] + ([] if os.getuid() == 0 else [()])
    for mode in modes:
        argv = [bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--remount-ro", "/proc", "--unshare-all", *mode]
        argv += ["--cap-drop", "ALL", "--die-with-parent", "true"]
        try:
            if subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10).returncode == 0:
                return mode
        except (OSError, subprocess.TimeoutExpired):
            return None
    return None


def available() -> str | None:
    """'bwrap', 'sandbox-exec', or None: the OS sandbox this machine offers."""
    if sys.platform == "darwin":
        return "sandbox-exec" if shutil.which("sandbox-exec") else None
    bwrap = shutil.which("bwrap")
    return "bwrap" if bwrap and _bwrap_mode(bwrap) is not None else None


def how_to_enable() -> str:
    fix = (
        "install bubblewrap (Debian/Ubuntu: 'sudo apt-get install bubblewrap'; as root "
        "scripts/setup.sh does it) and allow unprivileged user namespaces"
        if sys.platform.startswith("linux")
        else "run on Linux with bubblewrap or on macOS"
    )
    return (
        f"run_command needs an OS sandbox and none works here: {fix}; or accept the risk with "
        f"--dangerously-unsandboxed or {OPT_OUT_ENV}=1"
    )


def sandbox_env(workspace: Path) -> dict[str, str]:
    """The command's whole environment: an allow-list, never a copy of ours."""
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": str(workspace),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "TERM": os.environ.get("TERM") or "dumb",
    }
    if sys.platform.startswith("linux"):
        env["TMPDIR"] = "/tmp"
    return env


def _hidden(path: str, workspace: Path) -> list[str]:
    """bwrap arguments hiding `path` (a link: its target, which the link leads to), unless the
    workspace is it or lies under it."""
    real = Path(os.path.realpath(path))
    if not real.exists() or workspace == real or real in workspace.parents:
        return []
    return ["--tmpfs", str(real)] if real.is_dir() else ["--ro-bind", "/dev/null", str(real)]


def _under(path: Path, dirs: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in dirs)


def _host_sockets(covered: list[Path]) -> list[str]:
    """The host's listening UNIX sockets with a path outside `covered` (the private directories and the
    workspace), from /proc/net/unix: connecting needs no write access to their filesystem, so a
    read-only bind does not stop it. Abstract sockets are out of reach anyway (own network namespace);
    one bound by a relative path cannot be found (the kernel lists the path as the binder gave it)."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    found: set[str] = set()
    for line in lines:
        fields = line.split(None, 7)
        if len(fields) < 8 or not fields[7].startswith("/"):
            continue
        path = Path(os.path.realpath(fields[7]))  # as bwrap must find it: /var/run/x is /run/x
        if _under(path, covered):
            continue
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                found.add(str(path))
        except OSError:
            continue
    return sorted(found)


def _private_and_hidden(workspace: Path) -> list[str]:
    """Private scratch directories, then hidden credentials and host sockets: the mounts that keep a
    read-only view of the host from handing out its secrets."""
    args: list[str] = []
    covered = [workspace]  # bound after these mounts, so a workspace under /tmp stays visible
    for d in PRIVATE_DIRS:
        real = Path(os.path.realpath(d))
        if real.is_dir() and not _under(real, covered[1:]):
            args += ["--tmpfs", str(real)]
            covered.append(real)
    home = os.path.expanduser("~")
    for path in [*(os.path.join(home, e) for e in SECRET_HOME_ENTRIES), *SECRET_SYSTEM_PATHS]:
        hide = _hidden(path, workspace)
        if hide and not _under(Path(hide[-1]), covered):
            args += hide
            covered.append(Path(hide[-1]))
    for sock in _host_sockets(covered):
        args += ["--ro-bind", "/dev/null", sock]
    return args


def bwrap_argv(argv: Sequence[str], workspace: Path, *, writable: bool, env: dict[str, str]) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    ws = str(workspace)
    cmd = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--remount-ro",
        "/proc",
        *_private_and_hidden(workspace),
        "--bind" if writable else "--ro-bind",
        ws,
        ws,
        "--unshare-all",
        *(_bwrap_mode(bwrap) or ()),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    return [*cmd, "--chdir", ws, "--", *argv]


def sandbox_exec_argv(argv: Sequence[str], workspace: Path, *, writable: bool) -> list[str]:
    profile = MACOS_PROFILE if writable else MACOS_PROFILE_READ_ONLY
    return ["sandbox-exec", "-p", profile, "-D", f"WORKSPACE={workspace}", "--", *argv]


def _limit_argv(limits: Limits) -> list[str]:
    """prlimit (util-linux) sets the limits without a preexec_fn, which is unsafe in threaded programs."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        return []
    return [
        prlimit,
        f"--nproc={limits.max_processes}",
        f"--as={limits.max_memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        "--",
    ]


def _set_limits(limits: Limits) -> None:  # only where prlimit is missing (macOS)
    import resource

    for which, value in (
        (resource.RLIMIT_NPROC, limits.max_processes),
        (resource.RLIMIT_AS, limits.max_memory_bytes),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
    ):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # macOS refuses RLIMIT_AS below what is mapped: keep the others
            pass


def run(
    argv: Sequence[str],
    workspace: str | os.PathLike,
    *,
    timeout_s: float,
    writable: bool = True,
    limits: Limits = Limits(),
    unsandboxed: bool = False,
) -> Completed:
    """Run argv (argv[0] an absolute path) in `workspace` under the OS sandbox. Raises
    SandboxUnavailable (see `how_to_enable`), or OSError when the program cannot start."""
    workspace = Path(workspace)
    env = sandbox_env(workspace)
    kind = None if unsandboxed or opted_out() else available()
    if kind is None and not (unsandboxed or opted_out()):
        raise SandboxUnavailable(how_to_enable())
    if kind == "bwrap":
        wrapped = bwrap_argv(argv, workspace, writable=writable, env=env)
    elif kind == "sandbox-exec":
        wrapped = sandbox_exec_argv(argv, workspace, writable=writable)
    else:
        wrapped = list(argv)
    limit_argv = _limit_argv(limits)
    proc = subprocess.Popen(
        [*limit_argv, *wrapped],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=None if limit_argv else functools.partial(_set_limits, limits),
    )
    try:
        return _collect(proc, timeout_s, limits.max_output_bytes)
    finally:
        _kill_group(proc)  # what is left in its process group (under bwrap the PID namespace is gone already)


def _collect(proc: subprocess.Popen, timeout_s: float, max_bytes: int) -> Completed:
    """Read the output as it comes, keeping at most max_bytes, until EOF and exit or the deadline."""
    deadline = time.monotonic() + timeout_s
    kept, dropped = bytearray(), 0
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if proc.poll() is None:
                    return Completed(None, bytes(kept), dropped, timed_out=True)
                break
            if not sel.select(timeout=min(left, 0.2)):
                if proc.poll() is not None:  # exited, but a detached child holds the pipe: stop soon
                    deadline = min(deadline, time.monotonic() + 0.5)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            room = max_bytes - len(kept)
            kept += chunk[:room]
            dropped += max(0, len(chunk) - room)
    try:
        code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return Completed(None, bytes(kept), dropped, timed_out=True)
    return Completed(code, bytes(kept), dropped)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the command's process group and reap it; under bwrap that ends the whole PID namespace."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.stdout is not None:
        proc.stdout.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
