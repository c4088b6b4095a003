"""Which form a model name has, decided in one place: a server URL, a PydanticAI name
(`anthropic:claude-sonnet-5-5`), a router `router:STUDENT+TEACHER[?options]`, or else a local model
(`embedded:...`, a directory, a Hugging Face id). Reading a name needs nothing but the name, so every
floor that meets one (the agent factory, the teacher's lifecycle check, the router, the resolver)
asks here instead of keeping its own rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError

_URL = re.compile(r"^https?://", re.I)
ROUTER_PREFIX = "router:"
ROUTER_OPTIONS = {"min_margin": float, "student_retries": int}


def is_url(model: Any) -> bool:
    return isinstance(model, str) and bool(_URL.match(model))


def is_pydantic_ai_name(model: str) -> bool:
    """`anthropic:claude-sonnet-5-5`, `openai:gpt-5`, `test`...: a PydanticAI model name, not ours."""
    if model == "test":
        return True
    if model.startswith("embedded:") or Path(model).expanduser().exists() or model.startswith((".", "/", "~")):
        return False
    return ":" in model and "/" not in model.split(":", 1)[0]


def is_router_name(model: Any) -> bool:
    return isinstance(model, str) and model.startswith(ROUTER_PREFIX)


def split_router_name(name: str) -> tuple[str, str, dict[str, Any]]:
    """`router:STUDENT+TEACHER[?min_margin=0.3&student_retries=1]` -> (student, teacher, options); the
    teacher is after the last `+`."""
    body, _, query = name[len(ROUTER_PREFIX) :].partition("?")
    student, sep, teacher = body.rpartition("+")
    if not sep or not student or not teacher:
        raise InputError(f"a router is named router:STUDENT+TEACHER, got {name!r}", rule="router")
    options: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key not in ROUTER_OPTIONS:
            raise InputError(
                f"unknown router option {key!r} in {name!r} (known: {', '.join(ROUTER_OPTIONS)})", rule="router"
            )
        try:
            options[key] = ROUTER_OPTIONS[key](value)
        except ValueError:
            raise InputError(
                f"router option {key}={value!r} is not a {ROUTER_OPTIONS[key].__name__}", rule="router"
            ) from None
    return student, teacher, options
