"""What a tool call answers: the data it found, the text the model is shown (each type renders its own),
and `read_result`, the renderers' inverse, which reads a result stored as text (a record's tool message)
back into data.

Anything the model got wrong comes back as a `ToolResult` whose text starts with "Error: ", raised inside
the tools as `ToolError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Union

from .schemas import unknown_tool


class ToolError(Exception):
    """Something the model got wrong; its message is returned to the model after 'Error: '."""


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
        raise ValueError(unknown_tool(name))
    return ToolResult(text, data, truncated=truncated)
