"""Is a named teacher still served? `check_lifecycle(name)` reads PydanticAI's deprecation data for a
model name (its `ModelProfile.deprecation`, compiled from the providers' deprecation pages and shipped
with pydantic-ai, so no request is made) before anything is sent or written:

- past its retirement date: `RetiredModel`, one line naming the replacement. A retired id either fails
  every request or is answered by another model; either way a store keyed by it would lie.
- deprecated, not yet retired: one line on stderr, once per process, naming the date and the
  replacement. Not `warnings.warn`: a warning repeats per call site and a test suite that turns
  warnings into errors would fail on a teacher that still works. The teacher we build then drops
  PydanticAI's own per-request `DeprecatedModelWarning` (see `teacher.anthropic_model`); the SDK's
  per-request `DeprecationWarning` for that id, and PydanticAI's for a model it built, are filtered out.

Any name is accepted: `anthropic:...` or another PydanticAI name, `router:STUDENT+TEACHER` (both
parts), a local model or a URL (nothing to check).
"""

from __future__ import annotations

import re
import sys
import warnings
from datetime import date
from typing import Any

from .model import TeacherError

_SAID: set[str] = set()


class RetiredModel(TeacherError):
    """A model its provider no longer serves: one line naming the replacement."""


def say_once(line: str) -> None:
    """`line` on stderr, the first time this process says it."""
    if line not in _SAID:
        _SAID.add(line)
        print(line, file=sys.stderr, flush=True)


def deprecation(name: str) -> Any:
    """PydanticAI's `ModelDeprecation` for a `provider:model` name, or None (current, or not a PydanticAI name)."""
    from pydantic_ai.models import infer_model_profile

    if ":" not in name:
        return None
    return infer_model_profile(name).get("deprecation")


def model_names(name: str) -> list[str]:
    """The PydanticAI model names inside `name`: itself, or a router's student and teacher."""
    from ..models.names import ROUTER_PREFIX, is_pydantic_ai_name, is_url, split_router_name

    if name.startswith(ROUTER_PREFIX):
        student, teacher, _options = split_router_name(name)
        return [n for part in (student, teacher) for n in model_names(part)]
    return [name] if not is_url(name) and is_pydantic_ai_name(name) else []


def check_lifecycle(*names: str | None, today: date | None = None) -> None:
    """Raise RetiredModel for a model past its retirement date; say once that a deprecated one retires soon.
    `names`: any model names (None and local models are skipped)."""
    today = today or date.today()
    for model in (m for name in names if name for m in model_names(name)):
        d = deprecation(model)
        if d is None:
            continue
        provider = model.split(":", 1)[0]
        instead = f"; use {provider}:{d.replacement} instead" if d.replacement else ""
        if d.retirement_date is not None and d.retirement_date <= today:
            routed = f" (the API now answers it with {d.rerouted_to})" if d.rerouted_to else ""
            raise RetiredModel(
                f"{model} was retired by its provider on {d.retirement_date}{routed}{instead} ({d.source_url})"
            )
        when = f"retires on {d.retirement_date}" if d.retirement_date else "has no retirement date yet"
        say_once(f"warning: {model} is deprecated by its provider and {when}{instead} ({d.source_url})")
        # said above already: the per-request warnings of the SDK and, for a model PydanticAI built
        # (`teacher.anthropic_model` turns its own off), of PydanticAI. Re-added on every check, as a
        # caller's `warnings.catch_warnings` may have dropped them.
        for text in (f"The model '{model.split(':', 1)[1]}' is deprecated", f"Model '{model}' is deprecated"):
            warnings.filterwarnings("ignore", message=re.escape(text))
