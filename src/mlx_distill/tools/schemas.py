"""The JSON schemas the model is shown for each tool, and the check of a call's arguments against them.

The exporter, the trainer and the agent all take their schemas from here, so the model is trained on
exactly the tools it is later offered.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from jsonschema import Draft202012Validator

TOOL_NAMES: tuple[str, ...] = ("read_file", "write_file", "grep", "list_files", "run_command")

# Caps on what a model may send (a tool call is never the place for megabytes of path or pattern).
MAX_ARGUMENTS_CHARS = 20_000_000  # a JSON-string `arguments`, before decoding
MAX_ARGUMENT_CHARS = {"path": 4096, "pattern": 2000, "glob": 1000, "command": 10_000, "content": 10_000_000}
MAX_COMMAND_CHARS = MAX_ARGUMENT_CHARS["command"]


def _function(name: str, description: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
    """One OpenAI-style function schema; key order is part of the rendered prompt, so it is fixed here."""
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = list(required)
    parameters["additionalProperties"] = False
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


_SCHEMAS: dict[str, dict] = {
    "read_file": _function(
        "read_file",
        "Read a file in the workspace (optionally only lines start_line..end_line, 1-based).",
        {
            "path": {"type": "string", "description": "Relative path, e.g. 'src/app.py'."},
            "start_line": {"type": "integer", "minimum": 1},
            "end_line": {"type": "integer", "minimum": 1},
        },
        ("path",),
    ),
    "write_file": _function(
        "write_file",
        "Create or overwrite a file in the workspace. Only when the user asks for a change.",
        {
            "path": {"type": "string", "description": "Relative path."},
            "content": {"type": "string", "description": "The whole new content."},
        },
        ("path", "content"),
    ),
    "grep": _function(
        "grep",
        "Search file contents with a Python regular expression; returns 'path:line:text' lines. "
        "Finds where something is defined, imported or used.",
        {
            "pattern": {"type": "string", "description": "e.g. 'def main'"},
            "path": {"type": "string", "description": "File or directory; default '.'."},
            "glob": {"type": "string", "description": "File name filter, e.g. '*.py'."},
            "ignore_case": {"type": "boolean"},
        },
        ("pattern",),
    ),
    "list_files": _function(
        "list_files",
        "List files under a workspace directory, recursively, one relative path per line.",
        {
            "path": {"type": "string", "description": "Directory; default '.'."},
            "pattern": {"type": "string", "description": "File name filter, e.g. '*.md'."},
        },
    ),
    "run_command": _function(
        "run_command",
        "Run a program (ls, cat, grep, find, git, python, pytest...) in the workspace, without a "
        "shell; returns the exit code and output.",
        {"command": {"type": "string", "minLength": 1, "description": "e.g. 'pytest -q tests/test_app.py'"}},
        ("command",),
    ),
}

for _schema in _SCHEMAS.values():
    Draft202012Validator.check_schema(_schema["function"]["parameters"])
_VALIDATORS = {name: Draft202012Validator(s["function"]["parameters"]) for name, s in _SCHEMAS.items()}


def unknown_tool(name: Any) -> str:
    """The message for a tool name that is not one of TOOL_NAMES."""
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
        return [unknown_tool(name)]
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
