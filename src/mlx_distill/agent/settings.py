"""The model settings `MLXModel` accepts: which ones it applies to generation, which PydanticAI resolves
itself, and `check_settings`, which refuses a key that would otherwise be silently ignored."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, get_args

from pydantic_ai.exceptions import UserError
from pydantic_ai.settings import ModelSettingName

# Settings MLXModel applies to generation.
APPLIED_SETTINGS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "seed",
        "stop_sequences",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
    }
)
# Settings pydantic-ai itself resolves (timeouts, framing, thinking, cache, tool choice): accepted, not ours.
FRAMEWORK_SETTINGS = frozenset(
    {
        "request_timeout",
        "first_event_timeout",
        "framing_announcement",
        "thinking",
        "cache",
        "tool_choice",
        "max_retries",
    }
)
KNOWN_SETTINGS = frozenset(get_args(ModelSettingName)) | APPLIED_SETTINGS | FRAMEWORK_SETTINGS
# Known keys that mean nothing to a local model; pydantic-ai warns about the ones that change a guarantee.
IGNORED_SETTINGS = frozenset(get_args(ModelSettingName)) - APPLIED_SETTINGS - FRAMEWORK_SETTINGS

DEFAULT_MAX_TOKENS = 512
MISSPELLINGS = {
    "stop": "stop_sequences",
    "stop_words": "stop_sequences",
    "stop_tokens": "stop_sequences",
    "max_new_tokens": "max_tokens",
    "max_length": "max_tokens",
    "temp": "temperature",
    "random_seed": "seed",
}


def check_settings(settings: Mapping[str, object] | None, *, where: str = "model_settings") -> None:
    """Refuse keys that are not PydanticAI model settings: they would be silently ignored otherwise
    (`{"stop": [...]}` is the classic: the right key is `stop_sequences`)."""
    for key in settings or {}:
        if key in KNOWN_SETTINGS:
            continue
        hint = MISSPELLINGS.get(key) or next(iter(difflib.get_close_matches(key, sorted(KNOWN_SETTINGS), 1)), None)
        raise UserError(
            f"unknown {where} key {key!r}: PydanticAI would silently ignore it"
            + (f"; did you mean {hint!r}?" if hint else "")
            + f" (known keys: {', '.join(sorted(get_args(ModelSettingName)))})"
        )
    stops: Any = (settings or {}).get("stop_sequences")
    if stops is not None and (isinstance(stops, str) or not all(isinstance(s, str) for s in stops)):
        raise UserError(f"{where}['stop_sequences'] must be a list of strings, got {stops!r}")
