"""The agent's tools in one place: the JSON schemas the model is shown and the sandboxed
implementations that answer its calls.

The exporter, the trainer and the agent all take their schemas from here, so the model is
trained on exactly the tools it is later offered. Every implementation answers with a
`ToolResult`: the data it found (`FileExcerpt`, `Written`, `GrepMatches`, `FileList`,
`CommandOutput`) and `text`, the rendering of that data the model is shown. Code that needs what
a tool found (the domain miner) reads `data`; only results stored as text (records) are read back,
by `read_result`, the inverse of the renderers and kept beside them. Anything the model got wrong
(bad arguments, a path outside the workspace, a missing file, a forbidden command, a timeout)
comes back as a readable message starting with "Error: " that the model can act on, never as an
exception that would end the conversation.

Longer than most modules on purpose: the schemas, the implementations, the result types that render
the text and `read_result` that reads it back are one grammar, kept in one place.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import os
import re
import shlex
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Union

import regex
from jsonschema import Draft202012Validator

from . import sandbox
from .io import atomic_write_text

TOOL_NAMES: tuple[str, ...] = ("read_file", "write_file", "grep", "list_files", "run_command")

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

# Directories never walked by grep/list_files (besides every hidden entry, which is skipped too).
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})

# Caps on what a model may send (a tool call is never the place for megabytes of path or pattern).
MAX_ARGUMENTS_CHARS = 20_000_000  # a JSON-string `arguments`, before decoding
MAX_ARGUMENT_CHARS = {"path": 4096, "pattern": 2000, "glob": 1000, "command": 10_000, "content": 10_000_000}
MAX_COMMAND_CHARS = MAX_ARGUMENT_CHARS["command"]
GREP_BUDGET_S = 5.0  # a pattern that needs longer (catastrophic backtracking) is reported as too slow
_MAX_FILE_BYTES = 20_000_000  # read_file/grep refuse or skip larger files: workspaces hold code
_BINARY_SNIFF_BYTES = 8192

_SCHEMAS: dict[str, dict] = {
    "read_file": {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": ("Read a file in the workspace (optionally only lines start_line..end_line, 1-based)."),
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Relative path, e.g. 'src/app.py'."},
                    "start_line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1},
                },
                "required": ["path"],
                "additionalProperties": False,
            },
        },
    },
    "write_file": {
        "type": "function",
        "function": {
            "name": "write_file",
            "description": ("Create or overwrite a file in the workspace. Only when the user asks for a change."),
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Relative path."},
                    "content": {"type": "string", "description": "The whole new content."},
                },
                "required": ["path", "content"],
                "additionalProperties": False,
            },
        },
    },
    "grep": {
        "type": "function",
        "function": {
            "name": "grep",
            "description": (
                "Search file contents with a Python regular expression; returns 'path:line:text' lines. "
                "Finds where something is defined, imported or used."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "e.g. 'def main'"},
                    "path": {"type": "string", "description": "File or directory; default '.'."},
                    "glob": {"type": "string", "description": "File name filter, e.g. '*.py'."},
                    "ignore_case": {"type": "boolean"},
                },
                "required": ["pattern"],
                "additionalProperties": False,
            },
        },
    },
    "list_files": {
        "type": "function",
        "function": {
            "name": "list_files",
            "description": ("List files under a workspace directory, recursively, one relative path per line."),
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Directory; default '.'."},
                    "pattern": {"type": "string", "description": "File name filter, e.g. '*.md'."},
                },
                "additionalProperties": False,
            },
        },
    },
    "run_command": {
        "type": "function",
        "function": {
            "name": "run_command",
            "description": (
                "Run a program (ls, cat, grep, find, git, python, pytest...) in the workspace, without a "
                "shell; returns the exit code and output."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "minLength": 1, "description": "e.g. 'pytest -q tests/test_app.py'"},
                },
                "required": ["command"],
                "additionalProperties": False,
            },
        },
    },
}

for _schema in _SCHEMAS.values():
    Draft202012Validator.check_schema(_schema["function"]["parameters"])
_VALIDATORS = {name: Draft202012Validator(s["function"]["parameters"]) for name, s in _SCHEMAS.items()}


def _unknown_tool(name: Any) -> str:
    return f"unknown tool {name!r} (known: {', '.join(TOOL_NAMES)})"


def tool_schemas(names: Iterable[str] | None = None) -> list[dict]:
    """Schemas of the named tools (all by default), always in TOOL_NAMES order, as fresh copies."""
    wanted = set(TOOL_NAMES if names is None else names)
    unknown = sorted(str(n) for n in wanted - set(TOOL_NAMES))
    if unknown:
        raise ValueError(f"unknown tool(s) {', '.join(map(repr, unknown))} (known: {', '.join(TOOL_NAMES)})")
    return [copy.deepcopy(_SCHEMAS[n]) for n in TOOL_NAMES if n in wanted]


def tool_schema(name: str) -> dict:
    return tool_schemas([name])[0]


_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


def validate_arguments(name: str, arguments: Any) -> list[str]:
    """Messages a model can act on ("missing required argument 'path'"); [] when the call is valid."""
    if not isinstance(name, str) or name not in _VALIDATORS:
        return [_unknown_tool(name)]
    if not isinstance(arguments, dict):
        return [f"arguments must be a JSON object, got {_JSON_TYPES.get(type(arguments), type(arguments).__name__)}"]
    messages: set[str] = set()
    for error in _VALIDATORS[name].iter_errors(arguments):
        field = error.path[0] if error.path else None
        if error.validator == "required":
            messages.update(f"missing required argument {r!r}" for r in error.validator_value if r not in arguments)
        elif error.validator == "additionalProperties":
            known = _SCHEMAS[name]["function"]["parameters"]["properties"]
            messages.update(f"unknown argument {k!r}" for k in arguments if k not in known)
        elif error.validator == "type":
            messages.add(f"{field!r} must be {error.validator_value}")
        elif error.validator == "minimum":
            messages.add(f"{field!r} must be >= {error.validator_value}")
        elif error.validator == "minLength":
            messages.add(f"{field!r} must not be empty")
        else:
            messages.add(f"{field!r}: {error.message}" if field else error.message)
    return sorted(messages)


# ---- results: what a tool found, and the text the model is shown ---------------------------


@dataclass(frozen=True)
class FileExcerpt:
    """read_file: the file's text, or lines start_line..end_line of it."""

    path: str  # as the call gave it
    text: str
    start_line: int | None = None
    end_line: int | None = None

    def render(self) -> str:
        whole = self.start_line is None and self.end_line is None
        return "(empty file)" if whole and not self.text else self.text


@dataclass(frozen=True)
class Written:
    """write_file: the path written (relative to the root) and how many characters."""

    path: str
    characters: int
    created: bool

    def render(self) -> str:
        return f"{'Created' if self.created else 'Overwrote'} {self.path} ({self.characters} characters)"


@dataclass(frozen=True)
class GrepHit:
    path: str
    line: int
    text: str

    def render(self) -> str:
        return f"{self.path}:{self.line}:{self.text}"


@dataclass(frozen=True)
class GrepMatches:
    """grep: the matching lines in walk order; `stopped_after` names the last file searched when the
    output grew past the workspace's cap."""

    hits: tuple[GrepHit, ...]
    stopped_after: str | None = None

    def render(self) -> str:
        out = [h.render() for h in self.hits]
        if self.stopped_after is not None:
            out.append(f"... [search stopped after {self.stopped_after}]")
        return "\n".join(out) if out else "No matches."


@dataclass(frozen=True)
class FileList:
    """list_files: relative paths, sorted."""

    paths: tuple[str, ...]

    def render(self) -> str:
        return "\n".join(self.paths) if self.paths else "No files."


@dataclass(frozen=True)
class CommandOutput:
    """run_command: the exit code and the combined output (`dropped_bytes` past the sandbox's limit)."""

    exit_code: int
    output: str
    dropped_bytes: int = 0

    def render(self) -> str:
        text = self.output
        if self.dropped_bytes:
            text += f"\n... [{self.dropped_bytes} more bytes of output dropped]"
        return f"exit code {self.exit_code}\n{text}"


ToolData = Union[FileExcerpt, Written, GrepMatches, FileList, CommandOutput]


@dataclass(frozen=True)
class ToolResult:
    """One tool call's outcome: `text` is exactly what the model is shown; `data` what the tool found
    (None when the call failed, then `error` holds the message after "Error: "); `truncated` counts the
    characters the output cap cut from the end of `text`."""

    text: str
    data: ToolData | None = None
    error: str | None = None
    truncated: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, message: str) -> "ToolResult":
        return cls(f"Error: {message}", error=message)


_TRUNCATED = re.compile(r"\n\.\.\. \[truncated (\d+) chars\]$")
_NOTE = re.compile(r"^\.\.\. \[(search stopped after (.*)|truncated \d+ chars)\]$")
_GREP_SPLIT = re.compile(r":(\d+):")
_WRITTEN = re.compile(r"^(Created|Overwrote) (.+) \((\d+) characters\)$")
_EXIT = re.compile(r"^exit code (-?\d+)\n")
_DROPPED = re.compile(r"\n\.\.\. \[(\d+) more bytes of output dropped\]$")


def read_result(
    name: str, arguments: dict[str, Any], text: str, accept_path: Callable[[str], bool] | None = None
) -> ToolResult:
    """A result stored as text (a record's tool message) read back into a ToolResult: the inverse of the
    renderers above. Raises ValueError naming what does not fit tool `name`'s output. A grep line is
    split at the first ':N:' whose path `accept_path` accepts (a path may hold ':N:' itself), else at
    the first one."""
    if text.startswith("Error: "):
        return ToolResult(text, error=text[len("Error: ") :])
    cut = _TRUNCATED.search(text)
    body = text[: cut.start()] if cut else text
    truncated = int(cut.group(1)) if cut else 0
    data: ToolData
    if name == "grep":
        hits, stopped = [], None
        for ln in [] if body == "No matches." else body.split("\n"):
            note = _NOTE.match(ln)
            if note:
                stopped = note.group(2) if note.group(2) is not None else stopped
                continue
            splits = [m for m in _GREP_SPLIT.finditer(ln) if m.start() > 0]
            if not splits:
                raise ValueError(f"grep output line {ln[:60]!r} is not 'path:line:text'")
            split = next((m for m in splits if accept_path is None or accept_path(ln[: m.start()])), splits[0])
            hits.append(GrepHit(ln[: split.start()], int(split.group(1)), ln[split.end() :]))
        data = GrepMatches(tuple(hits), stopped)
    elif name == "list_files":
        paths = [] if body == "No files." else [ln for ln in body.split("\n") if not _NOTE.match(ln)]
        for ln in paths:
            if not ln or ln.startswith("/") or ln != ln.strip():
                raise ValueError(f"list_files line {ln[:60]!r} is not a relative path")
        data = FileList(tuple(paths))
    elif name == "write_file":
        m = _WRITTEN.match(body)
        if not m:
            raise ValueError("write_file output is not 'Created|Overwrote PATH (N characters)'")
        data = Written(m.group(2), int(m.group(3)), m.group(1) == "Created")
    elif name == "run_command":
        m = _EXIT.match(body)
        if not m:
            raise ValueError("run_command output does not start with 'exit code N' and a newline")
        rest = body[m.end() :]
        dropped = _DROPPED.search(rest)
        data = CommandOutput(
            int(m.group(1)), rest[: dropped.start()] if dropped else rest, int(dropped.group(1)) if dropped else 0
        )
    elif name == "read_file":
        start, end = arguments.get("start_line"), arguments.get("end_line")
        whole = start is None and end is None
        data = FileExcerpt(str(arguments.get("path", "")), "" if whole and body == "(empty file)" else body, start, end)
    else:
        raise ValueError(_unknown_tool(name))
    return ToolResult(text, data, truncated=truncated)


class ToolError(Exception):
    """Something the model got wrong; its message is returned to the model after 'Error: '."""


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
        if len(command) > MAX_COMMAND_CHARS:
            raise ToolError(f"command is too long ({len(command)} characters; at most {MAX_COMMAND_CHARS})")
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise ToolError(f"cannot parse command {command!r}: {e}") from None
        if not argv:
            raise ToolError("empty command")
        program = os.path.basename(argv[0])
        if program not in self.allowed_commands:  # first layer: what the model is offered
            raise ToolError(f"command '{argv[0]}' is not allowed (allowed: {', '.join(self.allowed_commands)})")
        executable = shutil.which(program)  # the PATH's program of that name, never a path the model gave
        if executable is None:
            raise ToolError(f"command '{program}' is not installed")
        try:  # second layer: the OS sandbox (sandbox.py)
            done = sandbox.run(
                [executable, *argv[1:]],
                self._root,
                timeout_s=self.timeout_s,
                writable=self.writable,
                limits=self.limits,
                unsandboxed=self.dangerously_unsandboxed,
            )
        except sandbox.SandboxUnavailable as e:
            raise ToolError(str(e)) from None
        except OSError as e:
            raise ToolError(f"cannot run '{program}': {e.strerror or e}") from None
        if done.timed_out:
            raise ToolError(f"command timed out after {self.timeout_s:g}s")
        assert done.returncode is not None  # None only when timed out, handled above
        return CommandOutput(done.returncode, done.output.decode("utf-8", errors="replace"), done.dropped_bytes)


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
