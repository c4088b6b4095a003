"""One place that turns any model name the CLI accepts into a model, through a registry a new provider
joins with one `register` call:

    router:STUDENT+TEACHER[?min_margin=..]  the router (student first, teacher on unusable turns)
    embedded:smollm2-135m                   a local MLX model (converted once into the cache)
    http://127.0.0.1:8080/v1                a running `mlx-distill serve` (checked once that it answers)
    anthropic:claude-...  openai:...  test  a PydanticAI name: the teacher (`teacher.model.resolve_teacher`)
    a model directory, a Hugging Face id    a local MLX model (what no entry claims)

It sits on the top floor beside the CLI because it reaches every floor below (the agent's models, the
teacher, the router); the floors below receive what it builds: the benchmark runner takes
`load_for_bench` as its model loader instead of importing the teacher and the router.

A provider joins with `register("myprovider:", loader)` (a prefix) or `register(predicate, loader)`;
a loader is `loader(name, adapter_path, options) -> model`. The newest entry is tried first, so a new
provider claims its names before the built-in entries would (`myprovider:x` reads as a PydanticAI name
otherwise); the local MLX model answers when no entry matches."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from .models.names import is_pydantic_ai_name, is_url


@dataclass(frozen=True)
class Options:
    """What a loader may use besides the name; each loader reads the fields that apply to its models."""

    prefix_cache: bool = True  # a local MLX model reuses the shared prompt prefix's KV cache
    constrain_calls: bool = True  # a local MLX model's opened tool calls held to the offered schemas
    calibration: str | os.PathLike | None = None  # a local MLX model's decision calibration
    ledger_dir: str | os.PathLike | None = None  # where a router records its calls (ledger.jsonl)


Loader = Callable[[str, "str | os.PathLike | None", Options], Any]


@dataclass(frozen=True)
class Entry:
    form: str  # what the docs call the form (a prefix, or the predicate's name)
    matches: Callable[[str], bool]
    load: Loader


REGISTRY: list[Entry] = []


def register(match: str | Callable[[str], bool], loader: Loader, *, form: str | None = None) -> Entry:
    """Add a provider, tried before every entry registered earlier: names starting with `match` (a string)
    or for which `match(name)` is true go to `loader`. Returns the entry (`REGISTRY.remove` takes it out)."""
    if isinstance(match, str):
        prefix = match

        def matches(name: str) -> bool:
            return name.startswith(prefix)

        entry = Entry(form or prefix, matches, loader)
    else:
        entry = Entry(form or str(getattr(match, "__name__", repr(match))), match, loader)
    REGISTRY.insert(0, entry)
    return entry


def entry_for(name: str) -> Entry:
    """The registry entry that claims `name` (the local MLX entry when none does)."""
    return next((e for e in REGISTRY if e.matches(name)), LOCAL)


def resolve(model: Any, adapter_path: str | os.PathLike | None = None, **options: Any) -> Any:
    """The model `model` names, ready for `create_agent`. A model object (an `MLXModel`, a PydanticAI
    `Model`) is passed through the agent factory unchanged. `options`: the fields of `Options`."""
    opts = Options(**options)
    if not isinstance(model, str):
        return _local(model, adapter_path, opts)
    return entry_for(model).load(model, adapter_path, opts)


def load_for_bench(spec: Any, config: Any) -> Any:
    """The benchmark runner's model loader (`run_benchmark(..., load_model=load_for_bench)`): a
    `ModelSpec`'s model under the run's options."""
    return resolve(
        spec.model,
        spec.adapter_path,
        prefix_cache=spec.prefix_cache,
        constrain_calls=spec.constrain_calls,
        ledger_dir=config.ledger_dir,
    )


# -- the entries ---------------------------------------------------------------------------------------


def _local(name: Any, adapter_path: str | os.PathLike | None, options: Options) -> Any:
    from .agent.factory import resolve_agent_model

    model, _stops = resolve_agent_model(
        name,
        adapter_path,
        prefix_cache=options.prefix_cache,
        calibration=options.calibration,
        constrain_calls=options.constrain_calls,
    )
    return model


def _router(name: str, adapter_path: str | os.PathLike | None, options: Options) -> Any:
    from .economics.router import router_from_name

    return router_from_name(name, None if adapter_path is None else str(adapter_path), ledger_dir=options.ledger_dir)


def _server(url: str, adapter_path: str | os.PathLike | None, options: Options) -> Any:
    from .agent.factory import check_server

    check_server(url)
    return _local(url, adapter_path, options)


def _teacher(name: str, adapter_path: str | os.PathLike | None, options: Options) -> Any:
    from .teacher.model import resolve_teacher

    return resolve_teacher(name, adapter_path)  # fails here, once, when the provider's key is missing


LOCAL = Entry("a model directory or a Hugging Face id", lambda name: True, _local)
# Newest first: `router:S+T` and `embedded:x` also read as PydanticAI names, so they are registered after it.
register(is_pydantic_ai_name, _teacher, form="a PydanticAI name")
register(is_url, _server, form="a server URL")
register("embedded:", _local)
register("router:", _router)
