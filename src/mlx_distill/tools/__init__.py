"""The agent's tools: the JSON schemas the model is shown and the sandboxed implementations that answer
its calls.

Every implementation answers with a `ToolResult`: the data it found (`FileExcerpt`, `Written`,
`GrepMatches`, `FileList`, `CommandOutput`) and `text`, the rendering of that data the model is shown.
Code that needs what a tool found (the domain miner) reads `data`; only results stored as text (records)
are read back, by `read_result`, the inverse of the renderers and kept beside them. Anything the model
got wrong (bad arguments, a path outside the workspace, a missing file, a forbidden command, a timeout)
comes back as a readable message starting with "Error: " that the model can act on, never as an
exception that would end the conversation.

- `schemas`: the schemas and the argument check (`tool_schemas`, `validate_arguments`)
- `results`: the result types, their renderings and `read_result`
- `workspace`: `Workspace`, the file tools (read, write, grep, list) and the dispatch of a call
  (`workspace.GREP_BUDGET_S`, the grep time budget, is read there)
- `beneath`: paths resolved and opened beneath the workspace root one component at a time (no
  check-then-open race), and atomic writes through a directory descriptor
- `patterns`: grep's size budget for a regular expression, checked before compiling it
- `command`: run_command's allow-list and its run in the OS sandbox
"""

from .command import DEFAULT_ALLOWED_COMMANDS
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
    read_result,
)
from .schemas import (
    MAX_ARGUMENT_CHARS,
    MAX_ARGUMENTS_CHARS,
    MAX_COMMAND_CHARS,
    TOOL_NAMES,
    tool_schema,
    tool_schemas,
    validate_arguments,
)
from .workspace import SKIPPED_DIRS, Workspace

__all__ = [
    "TOOL_NAMES",
    "DEFAULT_ALLOWED_COMMANDS",
    "SKIPPED_DIRS",
    "MAX_ARGUMENTS_CHARS",
    "MAX_ARGUMENT_CHARS",
    "MAX_COMMAND_CHARS",
    "tool_schemas",
    "tool_schema",
    "validate_arguments",
    "Workspace",
    "ToolResult",
    "ToolData",
    "ToolError",
    "FileExcerpt",
    "Written",
    "GrepHit",
    "GrepMatches",
    "FileList",
    "CommandOutput",
    "read_result",
]
