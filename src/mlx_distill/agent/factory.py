"""`create_agent`: a PydanticAI agent with the project's tools, system prompt, stop sequences and loop guard,
over a local MLX model (with its adapter), a local OpenAI-compatible server, or any PydanticAI model (teacher)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence, cast

from pydantic_ai import Agent, Tool
from pydantic_ai.exceptions import ModelRetry, UserError
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from ..chat_template import END_OF_TURN
from ..models import EMBEDDED_DEFAULT
from ..models.names import is_pydantic_ai_name, is_url
from ..prompting import DEFAULT_SYSTEM_PROMPT
from ..tools import TOOL_NAMES, Workspace, tool_schemas, validate_arguments
from .guards import LoopGuard, ToolCallParsing
from .model import MLXModel, check_settings

DEFAULT_SETTINGS: dict[str, Any] = {"temperature": 0.0, "max_tokens": 512}


def openai_compatible_model(base_url: str, model_name: str = "default_model", api_key: str = "local") -> Model:
    """PydanticAI's OpenAI chat model against a local OpenAI-compatible server (mlx_lm.server).

    `default_model` is the name mlx_lm.server maps to its --model *and* --adapter-path: any other name
    would make it load the model again without the adapter."""
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(model_name, provider=OpenAIProvider(base_url=base_url.rstrip("/"), api_key=api_key))


def check_server(url: str) -> None:
    """A server URL that does not answer fails once, here, rather than in every request."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url.rstrip("/") + "/models", timeout=5.0).close()
    except urllib.error.HTTPError:
        pass  # it answered
    except (urllib.error.URLError, OSError) as e:
        reason = " ".join(str(getattr(e, "reason", e)).split()) or type(getattr(e, "reason", e)).__name__
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        raise ConnectionError(f"no server answers at {url}: {reason}") from None


def make_tools(workspace: Workspace, names: Iterable[str] | None = None) -> list[Tool]:
    """PydanticAI tools from the schemas of `tools/schemas.py`, each executed by `Workspace.call` (which never raises).
    Arguments that break the schema go back to the model as a retry naming the problem."""
    tools = []
    for schema in tool_schemas(names):
        fn = schema["function"]
        tools.append(
            Tool.from_schema(
                _tool_function(workspace, fn["name"]),
                name=fn["name"],
                description=fn.get("description"),
                json_schema=fn["parameters"],
                args_validator=_validator(fn["name"]),
            )
        )
    return tools


def _tool_function(workspace: Workspace, name: str) -> Any:
    def tool(**arguments: Any) -> str:
        return workspace.call(name, arguments)

    tool.__name__ = name
    return tool


def _validator(name: str) -> Any:
    def validator(ctx: Any, **arguments: Any) -> None:
        problems = validate_arguments(name, arguments)
        if problems:
            raise ModelRetry(f"Invalid arguments for {name}: " + "; ".join(problems))

    validator.__name__ = f"validate_{name}"
    return validator


def resolve_agent_model(
    model: Any,
    adapter_path: str | os.PathLike | None = None,
    *,
    prefix_cache: bool = True,
    calibration: str | os.PathLike | None = None,
    constrain_calls: bool = True,
) -> tuple[Model | str, list[str] | None]:
    """(the model for Agent(...), its default stop sequences or None when the template's do not apply).
    `constrain_calls` applies to the local MLX model built here; an `MLXModel` given keeps its own."""
    from .server import ServerHandle

    if isinstance(model, MLXModel):
        if adapter_path and model.adapter_path != str(Path(adapter_path).expanduser().resolve()):
            raise UserError(
                "adapter_path given together with an MLXModel built with another adapter; "
                "pass MLXModel(..., adapter_path=...) instead"
            )
        if model.constrain_calls and not constrain_calls:
            raise UserError(
                "unconstrained given together with an MLXModel that constrains its tool calls; "
                "pass MLXModel(..., constrain_calls=False) instead"
            )
        return model, model.stop_strings()
    if isinstance(model, ServerHandle):
        return openai_compatible_model(model.url), model.stop_sequences()
    if isinstance(model, Model):
        return model, None
    if not isinstance(model, str) or not model:
        raise UserError(f"model must be a model name, a directory, a URL or a pydantic-ai Model, got {model!r}")
    if calibration is not None and str(calibration).lower() != "none" and (is_url(model) or is_pydantic_ai_name(model)):
        raise UserError(f"calibration biases a local MLX model's logits; it cannot apply to {model!r}")
    if is_url(model):
        if adapter_path:
            raise UserError(
                "adapter_path cannot be applied to a server URL; start the server with it "
                "(`mlx-distill serve --model ... --adapter-path ...`)"
            )
        return openai_compatible_model(model), [END_OF_TURN]
    if is_pydantic_ai_name(model):
        if adapter_path:
            raise UserError(f"adapter_path applies to local MLX models, not to {model!r}")
        return model, None
    mlx = MLXModel(
        model,
        adapter_path=adapter_path,
        prefix_cache=prefix_cache,
        calibration=calibration,
        constrain_calls=constrain_calls,
    )
    return mlx, mlx.stop_strings()


def create_agent(
    model: Any = EMBEDDED_DEFAULT,
    *,
    adapter_path: str | os.PathLike | None = None,
    workspace: str | os.PathLike | Workspace | None = None,
    tools: Sequence[str] | None = TOOL_NAMES,
    system_prompt: str | None = None,
    model_settings: dict[str, Any] | None = None,
    max_requests: int | None = 8,
    max_tool_calls: int | None = 6,
    max_repeats: int = 1,
    retries: int = 3,
    prefix_cache: bool = True,
    calibration: str | os.PathLike | None = None,
    extra_tools: Sequence[Tool] = (),
    capabilities: Sequence[Any] = (),
    unconstrained: bool = False,
    **agent_kwargs: Any,
) -> Agent:
    """A PydanticAI agent for the coding-assistant task.

    model: an MLX model name or directory (`embedded:smollm2-135m`, a converted model, a Hugging Face id),
    an `MLXModel`, a URL `http://127.0.0.1:PORT/v1` of `mlx-distill serve` (or a `ServerHandle`), a
    PydanticAI model name (`anthropic:claude-sonnet-5-5`) or a PydanticAI `Model` (the teacher).
    model_settings: merged over temperature 0, max_tokens 512 and, for template-based models,
    `stop_sequences` = the chat template's end-of-turn strings. Keys that are not PydanticAI settings
    (e.g. `stop`) are refused. workspace: the directory the tools work in (default: the current one).
    calibration (local MLX models): None applies the adapter's decision_calibration.json when it has one,
    "none" the raw model, a path that calibration file (agent/calibration.py).
    unconstrained: a local MLX model's tool calls are held to the offered names and schemas once it opens
    one (agent/constrain.py); True shows the raw model.
    """
    check_settings(model_settings)
    agent_model, stops = resolve_agent_model(
        model, adapter_path, prefix_cache=prefix_cache, calibration=calibration, constrain_calls=not unconstrained
    )
    settings: dict[str, Any] = dict(DEFAULT_SETTINGS)
    if stops:
        settings["stop_sequences"] = list(stops)
    settings.update(model_settings or {})
    ws = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace or os.getcwd()))
    agent_tools = make_tools(ws, tools) if tools else []
    guard = LoopGuard(max_requests=max_requests, max_tool_calls=max_tool_calls, max_repeats=max_repeats)
    agent = Agent(
        agent_model,
        system_prompt=DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt,
        tools=[*agent_tools, *extra_tools],
        model_settings=cast(ModelSettings, settings),  # keys checked against ModelSettings by check_settings
        retries=retries,
        capabilities=[ToolCallParsing(), guard, *capabilities],
        **agent_kwargs,
    )
    return agent
