"""`Workspace`: the directory the agent works in, and the tools' implementations over it.

Every path is resolved and opened beneath the root in one step (beneath.py); every call answers with a
`ToolResult` (results.py), never with an exception that would end the conversation.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import regex

from .. import sandbox
from .beneath import Root, write_atomic
from .command import DEFAULT_ALLOWED_COMMANDS, run_sandboxed
from .patterns import bounded_compile
from .results import (
    CommandOutput,
    FileExcerpt,
    FileList,
    GrepHit,
    GrepMatches,
    ToolData,
    ToolError,
    ToolResult,
    Written,
)
from .schemas import MAX_ARGUMENT_CHARS, MAX_ARGUMENTS_CHARS, TOOL_NAMES, validate_arguments

# Directories never walked by grep/list_files (besides every hidden entry, which is skipped too).
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})
GREP_BUDGET_S = 5.0  # a pattern that needs longer (catastrophic backtracking) is reported as too slow
_MAX_FILE_BYTES = 20_000_000  # read_file/grep refuse or skip larger files: workspaces hold code
_BINARY_SNIFF_BYTES = 8192


def _tool(method: Callable[..., ToolData]) -> Callable[..., ToolResult]:
    """Turn the data into a capped ToolResult, and ToolError/OSError into 'Error: ...' ones, for direct
    callers too."""

    @functools.wraps(method)
    def wrapper(self: "Workspace", *args: Any, **kwargs: Any) -> ToolResult:
        try:
            data = method(self, *args, **kwargs)
        except ToolError as e:
            return self._capped(ToolResult.failed(str(e)))
        except (OSError, ValueError) as e:
            return self._capped(ToolResult.failed(f"{method.__name__} failed: {getattr(e, 'strerror', None) or e}"))
        return self._capped(ToolResult(data.render(), data))

    return wrapper


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:_BINARY_SNIFF_BYTES]


class Workspace:
    """A directory the agent may read, search, write and run allow-listed commands in.

    Every path is resolved and opened beneath the root one component at a time, never following a
    symlink by name: links that stay inside are followed, a link that leads outside is refused, also
    when it is swapped in while a tool runs (beneath.py).
    Commands are split with shlex, never run through a shell, and must be allow-listed; since
    allow-listed programs (python, find, git) can reach outside the root by themselves, they run
    in an OS sandbox (sandbox.py) that only lets them write in the root, with no network and no
    secrets. Without a sandbox run_command refuses, unless `dangerously_unsandboxed` is set.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        allowed_commands: Iterable[str] = DEFAULT_ALLOWED_COMMANDS,
        timeout_s: float = 10.0,
        max_output_chars: int = 8000,
        writable: bool = True,
        limits: sandbox.Limits | None = None,
        dangerously_unsandboxed: bool = False,
    ):
        self._root = Path(os.path.realpath(root))
        self._given = os.path.abspath(root)  # absolute paths may spell the root as it was given
        if not self._root.is_dir():
            raise NotADirectoryError(f"workspace root {str(root)!r} is not a directory")
        if max_output_chars < 1:
            raise ValueError("max_output_chars must be positive")
        self.allowed_commands = tuple(allowed_commands)
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars
        self.writable = writable
        self.limits = limits or sandbox.Limits(max_output_bytes=max(1 << 16, 4 * max_output_chars))
        self.dangerously_unsandboxed = dangerously_unsandboxed

    @property
    def root(self) -> Path:
        return self._root

    def __repr__(self) -> str:
        return f"Workspace({str(self._root)!r}, writable={self.writable})"

    # -- dispatch -------------------------------------------------------------------------

    def call(self, name: str, arguments: Any) -> str:
        """The text the model is shown for one tool call (`execute(...).text`)."""
        return self.execute(name, arguments).text

    def execute(self, name: str, arguments: Any) -> ToolResult:
        """Run one tool call as the model made it. Never raises for the model's mistakes.

        `arguments` is a dict; a JSON string holding an object is accepted too (OpenAI style).
        """
        if isinstance(arguments, (str, bytes)) and isinstance(name, str) and name in TOOL_NAMES:
            if len(arguments) > MAX_ARGUMENTS_CHARS:
                return ToolResult.failed(f"arguments for {name} are too long ({len(arguments)} characters)")
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except (ValueError, RecursionError) as e:
                return ToolResult.failed(f"arguments for {name} are not valid JSON: {_one_line(e)}")
        problems = validate_arguments(name, arguments)
        if problems:
            if problems[0].startswith("unknown tool"):
                return ToolResult.failed(problems[0])
            return ToolResult.failed(f"invalid arguments for {name}: {'; '.join(problems)}")
        too_long = [
            f"{k!r} is too long ({len(v)} characters; at most {MAX_ARGUMENT_CHARS[k]})"
            for k, v in arguments.items()
            if len(v if isinstance(v, str) else "") > MAX_ARGUMENT_CHARS.get(k, 1e18)
        ]
        if too_long:
            return ToolResult.failed(f"invalid arguments for {name}: {'; '.join(too_long)}")
        try:
            return getattr(self, name)(**arguments)
        except Exception as e:  # a bug of ours must not end the agent's conversation either
            return ToolResult.failed(f"{name} failed: {type(e).__name__}: {e}")

    # -- paths ----------------------------------------------------------------------------

    def _open_root(self) -> Root:
        return Root(self._root, (self._given,))

    def _capped(self, result: ToolResult) -> ToolResult:
        text = result.text
        if len(text) <= self.max_output_chars:
            return result
        cut = len(text) - self.max_output_chars
        return ToolResult(
            f"{text[: self.max_output_chars]}\n... [truncated {cut} chars]", result.data, result.error, cut
        )

    # -- tools ----------------------------------------------------------------------------

    @_tool
    def read_file(self, path: str, start_line: int | None = None, end_line: int | None = None) -> FileExcerpt:
        with self._open_root() as root:
            data = _read_regular(root, path, missing=f"file '{path}' does not exist")
        if _is_binary(data):
            raise ToolError(f"'{path}' is a binary file")
        text = data.decode("utf-8", errors="replace")
        if start_line is None and end_line is None:
            return FileExcerpt(path, text)
        lines = text.splitlines(keepends=True)
        start = int(start_line) if start_line is not None else 1
        end = int(end_line) if end_line is not None else len(lines)
        if start < 1 or end < 1:
            raise ToolError("line numbers start at 1")
        if start > len(lines):
            raise ToolError(f"start_line {start} is past the end of '{path}' ({len(lines)} lines)")
        if end < start:
            raise ToolError(f"end_line {end} is before start_line {start}")
        return FileExcerpt(path, "".join(lines[start - 1 : end]), start_line, end_line)

    @_tool
    def write_file(self, path: str, content: str) -> Written:
        if not self.writable:
            raise ToolError("the workspace is read-only; write_file is disabled")
        with self._open_root() as root:
            try:
                found = root.locate(path, make_dirs=True)
            except FileNotFoundError:  # with make_dirs: a file where a directory should be
                raise ToolError(f"cannot write '{path}': a directory on its way is a file") from None
            try:  # through the directory's descriptor: never replaces a symlink; keeps the mode
                created = write_atomic(found, content.encode("utf-8"), shown=path)
            finally:
                os.close(found.dir_fd)
        return Written(found.rel, len(content), created=created)

    @_tool
    def grep(self, pattern: str, path: str = ".", glob: str | None = None, ignore_case: bool = False) -> GrepMatches:
        if len(pattern) > MAX_ARGUMENT_CHARS["pattern"]:
            raise ToolError(f"pattern is too long ({len(pattern)} characters)")
        # the `regex` engine: Python's syntax, a size budget checked before compiling, and a match timeout
        compiled = bounded_compile(pattern, regex.IGNORECASE if ignore_case else 0)
        left = GREP_BUDGET_S  # of matching time: reading files does not count against the pattern
        hits: list[GrepHit] = []
        size = 0
        with self._open_root() as root:
            for rel in self._listed(root, path):
                name = rel.rsplit("/", 1)[-1]
                if glob and not (fnmatch.fnmatch(name, glob) or fnmatch.fnmatch(rel, glob)):
                    continue
                try:
                    data = _read_regular(root, rel, missing="")
                except (OSError, ToolError):
                    continue
                if _is_binary(data):
                    continue
                lines = data.decode("utf-8", errors="replace").splitlines()
                deadline = time.monotonic() + left
                for lineno, line in enumerate(lines, 1):
                    try:
                        found = compiled.search(line, timeout=max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        raise ToolError(
                            f"pattern too slow: {pattern!r} ran past the {GREP_BUDGET_S:g} s budget "
                            f"(at {rel}:{lineno}); use a simpler pattern, e.g. without nested "
                            f"repetition like (a+)+"
                        ) from None
                    if found:
                        hits.append(GrepHit(rel, lineno, line))
                        size += len(hits[-1].render()) + 1
                left = deadline - time.monotonic()
                if size > self.max_output_chars:  # the rest would be truncated anyway
                    return GrepMatches(tuple(hits), stopped_after=rel)
        return GrepMatches(tuple(hits))

    @_tool
    def list_files(self, path: str = ".", pattern: str | None = None) -> FileList:
        with self._open_root() as root:
            files = self._listed(root, path)
        return FileList(tuple(f for f in files if pattern is None or fnmatch.fnmatch(f.rsplit("/", 1)[-1], pattern)))

    def _listed(self, root: Root, path: str) -> list[str]:
        """The files grep and list_files look at under `path`, or ToolError when it does not exist."""
        try:
            found = root.locate(path)
            try:
                return root.walk(found, SKIPPED_DIRS)
            finally:
                os.close(found.dir_fd)
        except FileNotFoundError:
            raise ToolError(f"path '{path}' does not exist") from None

    @_tool
    def run_command(self, command: str) -> CommandOutput:
        return run_sandboxed(
            command,
            self._root,
            allowed_commands=self.allowed_commands,
            timeout_s=self.timeout_s,
            writable=self.writable,
            limits=self.limits,
            unsandboxed=self.dangerously_unsandboxed,
        )


def _read_regular(root: Root, path: str, *, missing: str) -> bytes:
    """A regular file's bytes, opened beneath the root; FIFOs, sockets and devices are refused
    without blocking on them. `missing` is the error for a path that does not exist."""
    try:
        found = root.locate(path)
    except FileNotFoundError:
        raise ToolError(missing) from None
    try:
        fd = root.open(found, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ToolError(missing) from None
    finally:
        os.close(found.dir_fd)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ToolError(f"'{path}' is a directory, not a file (use list_files)")
        if not stat.S_ISREG(st.st_mode):
            raise ToolError(f"'{path}' is not a regular file (a FIFO, socket or device)")
        if st.st_size > _MAX_FILE_BYTES:
            raise ToolError(f"'{path}' is too large to read ({st.st_size} bytes); use grep")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        return f.read(_MAX_FILE_BYTES + 1)
