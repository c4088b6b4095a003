"""`resolve_teacher`: the teacher as a PydanticAI `Model`, ready for `mlx_distill.agent.create_agent`.

- `anthropic:<model id>`: PydanticAI's Anthropic model over the official `anthropic` SDK client, which
  reads `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` itself and retries 408/409/429/5xx and dropped
  connections with backoff, honouring `retry-after` (`max_retries`, `timeout_s`).
- any other PydanticAI model name (`openai:gpt-5`, `test`...): PydanticAI resolves it.
- a local MLX model (any name `mlx-distill model` accepts, with an optional adapter): the agent
  factory's resolution; a big local model is a free teacher.

`teacher_id` is the stable name the store keys records and prices calls by: `anthropic:claude-...`
as given, `mlx:<name>` (plus the adapter) for local models.

A named model is checked against its provider's deprecation schedule first (`lifecycle.py`): a retired
one fails before anything is sent. The Anthropic teacher settles, once per distinct settings, which
sampling settings PydanticAI drops for it (Anthropic API version 2026-10-21 rejects temperature,
top_p and top_k): `sent_settings` says what the teacher actually receives, for store keys and the
ledger, and the user reads one line about it instead of a warning per request.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

from pydantic_ai.models import Model

DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT_S = 120.0

# The Anthropic teacher's own settings: the shared system prompt and tool schemas (~800 tokens, the
# same in every call) are marked for prompt caching (`cache_control` on the last system block and
# the last tool). Kept on the model, so every agent built over it caches.
ANTHROPIC_CACHE_SETTINGS = {"anthropic_cache_instructions": True, "anthropic_cache_tool_definitions": True}


class TeacherError(ValueError):
    """A teacher name that cannot be used (unknown provider, missing key...): one line for the CLI."""


def is_anthropic(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("anthropic:")


def is_local(name: Any) -> bool:
    from ..models.names import is_pydantic_ai_name, is_url

    return isinstance(name, str) and not is_url(name) and not is_pydantic_ai_name(name)


def teacher_id(name: str, adapter_path: str | os.PathLike | None = None) -> str:
    """The id records are keyed and calls priced by."""
    if is_local(name):
        tid = f"mlx:{name}"
        return f"{tid}+{Path(adapter_path).expanduser().resolve()}" if adapter_path else tid
    return name


def anthropic_model(
    model_id: str,
    *,
    max_retries: int = DEFAULT_MAX_RETRIES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    api_key: str | None = None,
    base_url: str | None = None,
) -> Model:
    """PydanticAI's Anthropic model over an SDK client (key and base URL from the environment unless given).
    Raises RetiredModel for a retired id; a deprecated one is announced once by us, not per request."""
    import httpx2
    from anthropic import AnthropicError, AsyncAnthropic, DefaultAsyncHttpxClient
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    from .lifecycle import check_lifecycle

    check_lifecycle(f"anthropic:{model_id}")

    try:
        # A pooled connection belongs to the event loop that opened it, and the benchmark and the router run
        # each question on an event loop of its own (`agent.run_question`): so no idle connection is kept.
        http_client = DefaultAsyncHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0))
        client = AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout_s, http_client=http_client
        )
    except AnthropicError as e:
        raise TeacherError(f"anthropic:{model_id}: {' '.join(str(e).split())}") from None
    if not (client.api_key or getattr(client, "auth_token", None)):
        raise TeacherError(
            f"anthropic:{model_id}: no API key; set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another endpoint)"
        )
    return _teacher_class(AnthropicModel)(
        model_id,
        provider=AnthropicProvider(anthropic_client=client),
        settings=dict(ANTHROPIC_CACHE_SETTINGS),
        profile={"deprecation": None},  # checked above, said once; PydanticAI would warn on every request
    )


def sent_settings(model: Model, settings: dict[str, Any]) -> dict[str, Any]:
    """The part of `settings` that `model` actually sends (all of it, for a model that drops nothing)."""
    settle = getattr(model, "sent_settings", None)
    return settle(settings) if settle is not None else dict(settings)


@functools.lru_cache(maxsize=None)
def _teacher_class(base: type) -> type:
    """`base` (a PydanticAI model class) that transforms each distinct tool schema for its provider once.

    PydanticAI walks every tool's JSON schema through the provider's transformer on every request
    (about 2 ms a tool on these machines): the same five schemas, thousands of times in a collection,
    a third of its CPU. The transform is a pure function of (schema, strict), so it is memoised here.

    It also sends only the sampling settings the provider takes (`sent_settings`), so PydanticAI has
    nothing to drop, and to warn about, on each request."""

    class SchemaCachingModel(base):  # type: ignore[misc, valid-type]
        def sent_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
            """`settings` less the sampling settings PydanticAI drops for this model, decided by PydanticAI
            itself once per distinct settings (its `prepare_request`, its warning caught), said in one line."""
            import warnings

            from pydantic_ai.models import ModelRequestParameters
            from pydantic_ai.profiles.anthropic import ANTHROPIC_SAMPLING_PARAMS

            cache = self.__dict__.setdefault("_sent_cache", {})
            key = json.dumps(settings, sort_keys=True, default=repr)
            if key not in cache:
                with warnings.catch_warnings(record=True):
                    warnings.simplefilter("always")
                    prepared, _ = super().prepare_request(dict(settings), ModelRequestParameters())
                prepared = prepared or {}
                cache[key] = [k for k in settings if k in ANTHROPIC_SAMPLING_PARAMS and k not in prepared]
                if cache[key]:
                    from .lifecycle import say_once

                    say_once(
                        f"note: {self.system}:{self.model_name} does not take {', '.join(cache[key])} "
                        "(PydanticAI drops them for this model or API version); requests go without them"
                    )
            return {k: v for k, v in settings.items() if k not in cache[key]}

        def prepare_request(self, model_settings: Any, model_request_parameters: Any) -> Any:
            sent = self.sent_settings(dict(model_settings)) if model_settings else model_settings
            return super().prepare_request(sent, model_request_parameters)

        def customize_request_parameters(self, params: Any) -> Any:
            from dataclasses import replace

            transformer = self.profile.get("json_schema_transformer")
            if not transformer:
                return super().customize_request_parameters(params)
            tools = [self._transformed(transformer, t) for t in params.function_tools]
            rest = super().customize_request_parameters(replace(params, function_tools=[]))
            return replace(rest, function_tools=tools)

        def _transformed(self, transformer: Any, tool: Any) -> Any:
            from dataclasses import replace

            cache = self.__dict__.setdefault("_schema_cache", {})
            key = (json.dumps(tool.parameters_json_schema, sort_keys=True), tool.strict)
            if key not in cache:
                walker = transformer(tool.parameters_json_schema, strict=tool.strict)
                schema = walker.walk()
                cache[key] = (schema, walker.is_strict_compatible if tool.strict is None else tool.strict)
            schema, strict = cache[key]
            return replace(tool, parameters_json_schema=copy.deepcopy(schema), strict=strict)

    SchemaCachingModel.__name__ = SchemaCachingModel.__qualname__ = f"SchemaCaching{base.__name__}"
    return SchemaCachingModel


def resolve_teacher(
    name: str | Model,
    adapter_path: str | os.PathLike | None = None,
    *,
    max_retries: int = DEFAULT_MAX_RETRIES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Model:
    """The teacher model for `name` (see the module docstring). Raises TeacherError for what a user must fix."""
    if isinstance(name, Model):
        return name
    if not isinstance(name, str) or not name:
        raise TeacherError(f"teacher must be a model name, got {name!r}")
    from .lifecycle import check_lifecycle

    check_lifecycle(name)
    if adapter_path and not is_local(name):
        raise TeacherError(f"--adapter-path applies to local MLX teachers, not to {name!r}")
    if is_anthropic(name):
        return anthropic_model(name.split(":", 1)[1], max_retries=max_retries, timeout_s=timeout_s)
    if not is_local(name):
        from pydantic_ai.models import infer_model

        try:
            return infer_model(name)
        except Exception as e:  # noqa: BLE001 - unknown provider, missing key: the user's to fix
            raise TeacherError(f"teacher {name!r}: {' '.join(str(e).split())}") from None
    from ..agent.factory import resolve_agent_model

    model, _stops = resolve_agent_model(name, adapter_path)
    return model  # type: ignore[return-value]
