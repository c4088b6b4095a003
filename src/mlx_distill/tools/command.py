"""run_command: an allow-listed program run without a shell, inside the OS sandbox (`sandbox.py`).

Two layers: the program must be on the workspace's allow-list (what the model is offered), and since
allow-listed programs (python, find, git) can reach outside the root by themselves, they run in a
sandbox that only lets them write in the root, with no network and no secrets.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from .. import sandbox
from .results import CommandOutput, ToolError
from .schemas import MAX_COMMAND_CHARS

DEFAULT_ALLOWED_COMMANDS: tuple[str, ...] = (
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "grep",
    "find",
    "python",
    "python3",
    "pytest",
    "git",
    "echo",
    "pwd",
    "sort",
    "uniq",
    "diff",
)


def run_sandboxed(
    command: str,
    root: Path,
    *,
    allowed_commands: tuple[str, ...],
    timeout_s: float,
    writable: bool,
    limits: sandbox.Limits,
    unsandboxed: bool,
) -> CommandOutput:
    """Run `command` (split with shlex) in `root`; raises ToolError for what the model got wrong."""
    if len(command) > MAX_COMMAND_CHARS:
        raise ToolError(f"command is too long ({len(command)} characters; at most {MAX_COMMAND_CHARS})")
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ToolError(f"cannot parse command {command!r}: {e}") from None
    if not argv:
        raise ToolError("empty command")
    program = os.path.basename(argv[0])
    if program not in allowed_commands:  # first layer: what the model is offered
        raise ToolError(f"command '{argv[0]}' is not allowed (allowed: {', '.join(allowed_commands)})")
    executable = shutil.which(program)  # the PATH's program of that name, never a path the model gave
    if executable is None:
        raise ToolError(f"command '{program}' is not installed")
    try:  # second layer: the OS sandbox (sandbox.py)
        done = sandbox.run(
            [executable, *argv[1:]],
            root,
            timeout_s=timeout_s,
            writable=writable,
            limits=limits,
            unsandboxed=unsandboxed,
        )
    except sandbox.SandboxUnavailable as e:
        raise ToolError(str(e)) from None
    except OSError as e:
        raise ToolError(f"cannot run '{program}': {e.strerror or e}") from None
    if done.timed_out:
        raise ToolError(f"command timed out after {timeout_s:g}s")
    assert done.returncode is not None  # None only when timed out, handled above
    return CommandOutput(done.returncode, done.output.decode("utf-8", errors="replace"), done.dropped_bytes)
