"""`Workspace`: the directory the agent works in, and the tools' implementations over it.

Every path is checked to stay inside the root; every call answers with a `ToolResult` (results.py),
never with an exception that would end the conversation.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import regex

from .. import sandbox
from ..io import atomic_write_text
from .command import DEFAULT_ALLOWED_COMMANDS, run_sandboxed
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

    Every path is resolved (symlinks included) and must stay under the resolved root.
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

    def _resolve(self, path: str) -> Path:
        """The real path of `path` (relative to root, or absolute), refused when outside root."""
        if "\0" in path:
            raise ToolError(f"path {path!r} contains a NUL character")
        real = os.path.realpath(os.path.join(self._root, path))  # an absolute `path` replaces root
        if not self._contains(real):
            raise ToolError(f"path '{path}' is outside the workspace")
        return Path(real)

    def _rel(self, real: Path) -> str:
        rel = real.relative_to(self._root).as_posix()
        return rel if rel else "."

    def _contains(self, real: str) -> bool:
        """Whether an already resolved path is the root or under it."""
        root = str(self._root)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def _walk_files(self, top: Path) -> list[Path]:
        """Files under `top` (or `top` itself), sorted by relative path, skipping hidden entries,
        SKIPPED_DIRS, and symlinks that lead outside the workspace. Paths are not resolved, so
        a link inside the workspace is listed under its own name."""
        if top.is_file():
            return [top]
        found = []
        for dirpath, dirnames, filenames in os.walk(top):  # does not follow directory symlinks
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS]
            for f in filenames:
                p = Path(dirpath, f)
                if not f.startswith(".") and p.is_file() and self._contains(os.path.realpath(p)):
                    found.append(p)
        return sorted(found, key=lambda p: p.relative_to(self._root).as_posix())

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
        real = self._resolve(path)
        if not real.exists():
            raise ToolError(f"file '{path}' does not exist")
        if real.is_dir():
            raise ToolError(f"'{path}' is a directory, not a file (use list_files)")
        data = _read_regular(real, path)
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
        real = self._resolve(path)
        if real == self._root or real.is_dir():
            raise ToolError(f"'{path}' is a directory")
        existed = real.exists()
        if existed:
            st = real.stat()
            if not stat.S_ISREG(st.st_mode):
                raise ToolError(f"'{path}' is not a regular file (a FIFO, socket or device)")
            if st.st_nlink > 1:  # a rename would split the links; writing through one could reach outside
                raise ToolError(f"'{path}' has {st.st_nlink} hard links; write_file leaves such files alone")
        atomic_write_text(real, content)  # to the resolved path: never replaces a symlink; keeps the mode
        return Written(self._rel(real), len(content), created=not existed)

    @_tool
    def grep(self, pattern: str, path: str = ".", glob: str | None = None, ignore_case: bool = False) -> GrepMatches:
        if len(pattern) > MAX_ARGUMENT_CHARS["pattern"]:
            raise ToolError(f"pattern is too long ({len(pattern)} characters)")
        try:  # the `regex` engine: Python's syntax, plus a timeout that `re` lacks
            compiled = regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
        except (regex.error, re.error, RecursionError, OverflowError, ValueError) as e:
            raise ToolError(f"invalid regular expression {pattern!r}: {_one_line(e)}") from None
        top = self._resolve(path)
        if not top.exists():
            raise ToolError(f"path '{path}' does not exist")
        left = GREP_BUDGET_S  # of matching time: reading files does not count against the pattern
        hits: list[GrepHit] = []
        size = 0
        for file in self._walk_files(top):
            rel = file.relative_to(self._root).as_posix()
            if glob and not (fnmatch.fnmatch(file.name, glob) or fnmatch.fnmatch(rel, glob)):
                continue
            try:
                data = _read_regular(file, rel)
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
        top = self._resolve(path)
        if not top.exists():
            raise ToolError(f"path '{path}' does not exist")
        return FileList(
            tuple(
                f.relative_to(self._root).as_posix()
                for f in self._walk_files(top)
                if pattern is None or fnmatch.fnmatch(f.name, pattern)
            )
        )

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


def _read_regular(real: Path, shown: str) -> bytes:
    """A regular file's bytes; FIFOs, sockets and devices are refused without blocking on them."""
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ToolError(f"'{shown}' is not a regular file (a FIFO, socket or device)")
        if st.st_size > _MAX_FILE_BYTES:
            raise ToolError(f"'{shown}' is too large to read ({st.st_size} bytes); use grep")
        return f.read(_MAX_FILE_BYTES + 1)
