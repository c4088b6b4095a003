"""The sandbox-escape suite: what allow-listed programs tried to do outside the workspace, each of which
must fail, plus the environment, limits and timeouts around every command (sandbox.py)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from mlx_distill import sandbox
from mlx_distill.tools import DEFAULT_ALLOWED_COMMANDS, Workspace

FAKE_KEY = "sk-ant-FAKE-0123456789-must-never-leak"


@pytest.fixture()
def outside(tmp_path):
    """A file next to the workspace (and another in the user's home would need root; /tmp is enough)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    return secret


@pytest.fixture()
def ws(tmp_path, outside):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "keep.txt").write_text("keep\n")
    return Workspace(root, allowed_commands=(*DEFAULT_ALLOWED_COMMANDS, "env", "sh", "sleep"), timeout_s=10)


def run(ws, command):
    return ws.call("run_command", {"command": command})


def test_this_machine_has_a_working_sandbox():
    """setup.sh installs bubblewrap as root; the escape tests below rely on it, so say so plainly."""
    assert sandbox.available() == ("sandbox-exec" if sys.platform == "darwin" else "bwrap"), sandbox.how_to_enable()


ESCAPES = [
    "find {outside} -delete",
    "find {dir} -name secret.txt -exec rm {{}} ;",
    "python3 -c \"import os; os.remove('{outside}')\"",
    "python -c \"open('{outside}', 'w').write('pwned')\"",
    "git -c alias.x='!rm -f {outside}' x",
    "sh -c 'rm -f {outside}'",
    "find / -maxdepth 0 -exec sh -c 'echo pwned > {dir}/planted.txt' ;",
]


def _escaped(outside: Path) -> bool:
    return not outside.exists() or outside.read_text() != "TOP SECRET\n" or (outside.parent / "planted.txt").exists()


@pytest.mark.parametrize("command", ESCAPES)
def test_each_escape_is_real_without_the_sandbox(ws, outside, command):
    """The control: unsandboxed, every probe below does reach outside, so its test can fail."""
    risky = Workspace(ws.root, allowed_commands=ws.allowed_commands, dangerously_unsandboxed=True)
    run(risky, command.format(outside=outside, dir=outside.parent))
    assert _escaped(outside)


@pytest.mark.parametrize("command", ESCAPES)
def test_commands_cannot_delete_or_write_outside_the_workspace(ws, outside, command):
    run(ws, command.format(outside=outside, dir=outside.parent))
    assert not _escaped(outside)
    assert (ws.root / "keep.txt").read_text() == "keep\n"


def test_files_in_the_real_tmp_and_home_secrets_are_invisible(ws, outside):
    assert "TOP SECRET" not in run(ws, f"cat {outside}")
    assert run(ws, "python -c \"import os; print(os.path.expanduser('~'))\"") == f"exit code 0\n{ws.root}\n"


def test_the_workspace_itself_is_writable_and_a_read_only_workspace_is_not(ws):
    assert run(ws, "python -c \"open('made.txt', 'w').write('ok')\"") == "exit code 0\n"
    assert (ws.root / "made.txt").read_text() == "ok"
    ro = Workspace(ws.root, writable=False)
    assert run(ro, "python -c \"open('made2.txt', 'w')\"").startswith("exit code 1\n")
    assert not (ws.root / "made2.txt").exists()


def test_secrets_in_our_environment_never_reach_a_command(ws, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'user.name'='{FAKE_KEY}'")
    outputs = [
        run(ws, "env"),
        run(ws, 'python -c "import os; print(dict(os.environ))"'),
        run(ws, "git var -l"),
        run(ws, "sh -c 'cat /proc/$PPID/environ /proc/1/environ'"),
    ]
    for out in outputs:
        assert FAKE_KEY not in out
    env = dict(line.split("=", 1) for line in outputs[0].splitlines()[1:] if "=" in line)
    assert set(env) <= {"PATH", "HOME", "LANG", "TERM", "TMPDIR", "PWD"}
    assert env["HOME"] == str(ws.root)


def test_no_network_even_to_our_loopback(ws):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    t.start()
    out = run(
        ws,
        f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2); print('connected')\"",
    )
    server.close()
    assert "connected" not in out and out.startswith("exit code 1\n")
    assert not accepted


def test_a_daemonised_grandchild_dies_at_the_timeout(ws):
    """setsid + double fork: the grandchild leaves the process group; the PID namespace still ends it."""
    beat = ws.root / "beat"
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            open('beat', 'a').write('x'); time.sleep(0.1)\n"
        "    os._exit(0)\n"
        "time.sleep(60)\n"
    )
    (ws.root / "daemon.py").write_text(daemon)
    slow = Workspace(ws.root, timeout_s=1)
    assert run(slow, "python daemon.py") == "Error: command timed out after 1s"
    size = beat.stat().st_size
    time.sleep(0.6)
    assert beat.stat().st_size == size


def test_a_daemon_left_by_a_finished_command_dies_too(ws):
    (ws.root / "bg.py").write_text(
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
        "    while True:\n        open('beat2', 'a').write('x'); time.sleep(0.1)\n"
    )
    start = time.monotonic()
    assert run(ws, "python bg.py") == "exit code 0\n"
    assert time.monotonic() - start < 5
    time.sleep(0.3)
    size = (ws.root / "beat2").stat().st_size if (ws.root / "beat2").exists() else 0
    time.sleep(0.5)
    assert ((ws.root / "beat2").stat().st_size if (ws.root / "beat2").exists() else 0) == size


def test_resource_limits_apply(ws):
    limited = Workspace(ws.root, limits=sandbox.Limits(max_processes=64, max_memory_bytes=1 << 30, cpu_seconds=1))
    out = run(
        limited,
        'python -c "import resource as r; print(r.getrlimit(r.RLIMIT_NPROC), '
        'r.getrlimit(r.RLIMIT_AS), r.getrlimit(r.RLIMIT_CPU))"',
    )
    assert out == f"exit code 0\n(64, 64) ({1 << 30}, {1 << 30}) (1, 1)\n"
    out = run(limited, 'python -c "x = bytearray(2 << 30)"')
    assert out.startswith("exit code 1\n") and "MemoryError" in out
    start = time.monotonic()
    out = run(limited, 'python -c "while True: pass"')  # killed by SIGXCPU/SIGKILL after 1 CPU second
    assert not out.startswith("exit code 0") and time.monotonic() - start < 8


def test_output_is_read_with_a_byte_cap(ws):
    small = Workspace(ws.root, max_output_chars=100, limits=sandbox.Limits(max_output_bytes=1000), timeout_s=20)
    out = run(small, "python -c \"import sys; [sys.stdout.write('z' * 65536) for _ in range(400)]\"")  # 26 MB
    assert out.startswith("exit code 0\nzzz") and out.endswith("chars]")
    assert len(out) < 200


def test_without_a_sandbox_run_command_refuses_with_how_to_enable_it(tmp_path):
    """A PATH without bwrap (but with python) stands for a machine without bubblewrap."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    (bindir / "echo").symlink_to("/bin/echo")
    code = (
        "import json; from mlx_distill.tools import Workspace\n"
        "def echo(**kw): return Workspace('.', allowed_commands=('echo',), **kw).call('run_command', {'command': 'echo hi'})\n"
        "print(json.dumps([echo(), echo(dangerously_unsandboxed=True)]))\n"
    )
    env = {"PATH": str(bindir), "HOME": str(tmp_path)}

    def outputs():
        return json.loads(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
            ).stdout
        )

    refused, risked = outputs()
    assert refused.startswith("Error: run_command needs an OS sandbox and none works here") and "\n" not in refused
    assert "apt-get install bubblewrap" in refused and sandbox.OPT_OUT_ENV in refused
    assert risked == "exit code 0\nhi\n"
    env[sandbox.OPT_OUT_ENV] = "1"
    assert outputs() == ["exit code 0\nhi\n"] * 2


def test_unsandboxed_commands_still_get_the_allow_listed_environment(ws, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    risky = Workspace(ws.root, allowed_commands=("env",), dangerously_unsandboxed=True)
    out = run(risky, "env")
    assert FAKE_KEY not in out and f"HOME={ws.root}" in out


def test_the_macos_profile_only_allows_writes_under_the_workspace():
    argv = sandbox.sandbox_exec_argv(["/bin/echo", "hi"], Path("/Users/me/ws"), writable=True)
    assert argv[:2] == ["sandbox-exec", "-p"] and "WORKSPACE=/Users/me/ws" in argv
    profile = argv[2]
    assert "(deny network*)" in profile and "(deny file-write*)" in profile
    assert '(allow file-write* (subpath (param "WORKSPACE")))' in profile
    assert "subpath (param" not in sandbox.sandbox_exec_argv(["/bin/echo"], Path("/w"), writable=False)[2]


# -- started as root or as a user: no capabilities, no remount, no sysctl, no host sockets ---------

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534
SECRET = "aws_secret_access_key = FAKE-must-stay-hidden"
PROBE = r"""
import ctypes, json, os, socket, stat, sys

home, outside, mode = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)


def attempt(f):
    try:
        return "ok: " + str(f())
    except OSError as e:
        return e.strerror or type(e).__name__


def remount():  # mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL): make the read-only root writable
    if libc.mount(None, b"/", None, 32 | 4096, None) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def unshare_user():
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER: a nested namespace would give back capabilities
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


def write(path, text):
    with open(path, "w") as f:
        return f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def connect(address):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(address)
        return "connected"


found = {"cap_eff": [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("CapEff")][0]}
found["remount"] = attempt(remount)
found["write_outside"] = attempt(lambda: write(os.path.join(outside, "planted.txt"), "pwned"))
if mode == "all":  # never in the control, where it would work
    found["drop_caches"] = attempt(lambda: write("/proc/sys/vm/drop_caches", "1"))
found["mknod"] = attempt(lambda: os.mknod("probe-null", stat.S_IFCHR | 0o600, os.makedev(1, 3)))
found["unshare_user"] = attempt(unshare_user)
found["secret_via_link"] = attempt(lambda: read(os.path.join(home, ".aws", "credentials")))
found["secret_via_target"] = attempt(lambda: read(os.path.join(os.path.dirname(home), "aws-real", "credentials")))
found["home_socket"] = attempt(lambda: connect(os.path.join(home, "agent.sock")))
found["abstract_socket"] = attempt(lambda: connect("\0" + sys.argv[4]))
print(json.dumps(found))
"""


PRIVATE_INSIDE = ("/tmp", "/var/tmp", "/run", "/dev")  # what the sandbox replaces with empty directories


def _probe_base() -> Path:
    """Where the probes' files go: the repository's cache, unless the sandbox would hide it there (a clone
    under /tmp, as a CI runner may make) or the unprivileged user could not reach it (a clone under a
    home directory of mode 0700), then a directory of the system's cache."""
    repo = REPO.resolve()
    reachable = all(d.stat().st_mode & 0o001 for d in (repo, *repo.parents))
    if not reachable or any(repo.is_relative_to(p) for p in PRIVATE_INSIDE):
        return Path("/var/cache/mlx-distill-sandbox-probes")
    return REPO / ".pytest_cache"


@pytest.fixture()
def host(monkeypatch):
    """A home directory with a symlinked ~/.aws and a listening UNIX socket, a workspace, and a directory
    outside it, all where the sandbox does not hide things by itself (the whole /tmp is private inside,
    so probes there would pass for the wrong reason), owned by nobody so the unprivileged run could
    write and connect there but for the sandbox."""
    base = _probe_base()
    base.mkdir(parents=True, exist_ok=True)
    top = Path(tempfile.mkdtemp(prefix="sbx-", dir=base))
    home, outside, ws = top / "home", top / "outside", top / "ws"
    for d in (home, outside, ws, top / "aws-real"):
        d.mkdir()
    (top / "aws-real" / "credentials").write_text(SECRET + "\n")
    (home / ".aws").symlink_to(top / "aws-real", target_is_directory=True)
    (ws / "probe.py").write_text(PROBE)
    for p in (top, *top.rglob("*")):
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
            os.chown(p, NOBODY, NOBODY)
    for d in (ws, outside):  # anyone may write there: what stops a write is then the sandbox alone
        d.chmod(0o777)
    monkeypatch.setenv("HOME", str(home))
    abstract = f"mlx-distill-probe-{os.getpid()}"  # bound as "\0" + this
    servers = []
    for address in (str(home / "agent.sock"), "\0" + abstract):
        s = socket.socket(socket.AF_UNIX)
        s.bind(address)
        s.listen(8)
        servers.append(s)
    os.chmod(home / "agent.sock", 0o777)
    yield {"top": top, "home": home, "outside": outside, "ws": ws, "abstract": abstract, "servers": servers}
    for s in servers:
        s.close()
    shutil.rmtree(top)


def _probe_argv(host, python: str, mode: str = "all") -> list[str]:
    return [python, "probe.py", str(host["home"]), str(host["outside"]), mode, host["abstract"]]


def _assert_contained(found: dict, host) -> None:
    assert int(found["cap_eff"], 16) == 0
    assert found["remount"] == "Operation not permitted"
    assert found["write_outside"] == "Read-only file system"
    assert found["drop_caches"] in ("Read-only file system", "Permission denied")
    assert found["mknod"] == "Operation not permitted"
    assert not found["unshare_user"].startswith("ok")
    assert SECRET not in found["secret_via_link"] + found["secret_via_target"]
    assert found["home_socket"] == "Connection refused"
    assert found["abstract_socket"] == "Connection refused"
    assert list(host["outside"].iterdir()) == []
    for server in host["servers"]:  # nothing ever reached our listeners
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()


@pytest.mark.skipif(os.getuid() != 0, reason="the root probes need the suite to run as root (as CI does)")
def test_started_as_root_a_command_has_no_capability_mount_sysctl_device_secret_or_host_socket(host):
    python = os.path.realpath(sys.executable)  # the interpreter itself: a venv under /tmp is hidden inside
    done = sandbox.run(_probe_argv(host, python), host["ws"], timeout_s=30)
    assert done.returncode == 0, done.output
    _assert_contained(json.loads(done.output), host)


@pytest.mark.skipif(os.getuid() != 0, reason="the control runs bwrap as root (as CI does)")
def test_the_root_probes_are_real_under_a_bare_bwrap(host):
    """The control: bubblewrap as root without a user namespace keeps its capabilities, so the probe
    remounts / read-write and writes outside; the home socket and the secret are in reach."""
    bare = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    bare += ["--bind", str(host["ws"]), str(host["ws"]), "--unshare-all", "--die-with-parent"]
    bare += ["--chdir", str(host["ws"]), "--"]
    out = subprocess.run([*bare, *_probe_argv(host, sys.executable, "control")], capture_output=True, timeout=60)
    found = json.loads(out.stdout)
    assert int(found["cap_eff"], 16) != 0
    assert found["remount"] == "ok: None" and found["write_outside"] == "ok: 5"
    assert (host["outside"] / "planted.txt").read_text() == "pwned"
    assert SECRET in found["secret_via_link"] and found["home_socket"] == "ok: connected"


UNPRIVILEGED_RUNNER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("sandbox", sys.argv[1])
sandbox = importlib.util.module_from_spec(spec)
sys.modules["sandbox"] = sandbox
spec.loader.exec_module(sandbox)
done = sandbox.run(sys.argv[3:], sys.argv[2], timeout_s=30)
sys.stdout.buffer.write(done.output)
"""


@pytest.mark.skipif(os.getuid() != 0, reason="dropping to an unprivileged uid needs root")
def test_started_as_an_unprivileged_user_the_same_probes_fail(host):
    """sandbox.py alone (it needs only the standard library) under the system Python, which nobody may
    run (this venv's lives in root's home)."""
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("no /usr/bin/python3 for the unprivileged user to run")
    module = host["top"] / "sandbox.py"  # a copy nobody may read, wherever the repository lies
    shutil.copy(REPO / "src/mlx_distill/sandbox.py", module)
    module.chmod(0o644)
    out = subprocess.run(
        [python, "-c", UNPRIVILEGED_RUNNER, str(module), str(host["ws"])] + _probe_argv(host, python),
        capture_output=True,
        timeout=60,
        cwd=host["ws"],
        env={"HOME": str(host["home"]), "PATH": os.environ["PATH"]},
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    _assert_contained(found, host)
