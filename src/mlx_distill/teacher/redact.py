"""Secrets out of anything we store: API keys and tokens in common formats, and the values of
environment variables whose names say they are secret (`*_KEY`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`...).

Used on every string of a shadow record before it is written: a developer's agent sees their files,
their shell output and their environment, and none of that may reach a training store.
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

PLACEHOLDER = "[REDACTED]"

# Token shapes of common providers; each pattern matches the whole token.
TOKEN_PATTERNS = [
    re.compile(p)
    for p in (
        r"sk-ant-[A-Za-z0-9_\-]{16,}",  # Anthropic
        r"sk-(?:proj-|live-|test-)?[A-Za-z0-9_\-]{20,}",  # OpenAI-style, Stripe
        r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
        r"github_pat_[A-Za-z0-9_]{30,}",
        r"xox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
        r"AKIA[0-9A-Z]{16}",  # AWS access key id
        r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
        r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
        r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab
        r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWT
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    )
]
# `Authorization: Bearer ...`, `api_key = "..."`, `password: ...`: the value after a secret-looking name.
ASSIGNMENT = re.compile(
    r"(?i)\b((?:api[_-]?key|secret|token|password|passwd|authorization|bearer)"
    r"[\"']?\s*[:=]\s*(?:bearer\s+)?[\"']?)([^\s\"',;]{8,})"
)
SECRET_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential|auth|cookie|session)")
MIN_ENV_VALUE = 8  # shorter values ("1", "true", "dev") are not secrets and would redact ordinary words


def secret_env_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look secret, longest first."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if SECRET_NAME.search(k) and len(v or "") >= MIN_ENV_VALUE}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, env_values: list[str] | None = None) -> str:
    for value in env_values if env_values is not None else secret_env_values():
        text = text.replace(value, PLACEHOLDER)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(PLACEHOLDER, text)
    return ASSIGNMENT.sub(lambda m: m.group(1) + PLACEHOLDER, text)


def redact(obj: Any, env_values: list[str] | None = None) -> Any:
    """Every string in a JSON-like object (dict keys kept), with secrets replaced by [REDACTED]."""
    values = secret_env_values() if env_values is None else env_values
    if isinstance(obj, str):
        return redact_text(obj, values)
    if isinstance(obj, dict):
        return {k: redact(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, values) for v in obj]
    return obj
