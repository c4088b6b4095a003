"""`MLXModel`: a PydanticAI model over a local mlx-lm model, prompted exactly as it was trained.

The conversation PydanticAI hands over is turned back into record-format messages (docs/data.md) and the
offered tools into the OpenAI-style schemas of `tools` (`history.py`), then rendered with
`prompting.render`, the same path the exporter and the trainer use: the agent's prompt for a
conversation is the training rendering of the same prefix, byte for byte. The generated text becomes a
response, whole or streamed, with its tool calls parsed (`response.py`); the settings the model accepts
are checked by `settings.py`, `probe.py` reads the first decision of each reply, and `calibration.py`
moves its threshold when the adapter (or the caller) has a fitted bias.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import anyio
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettings

from ..models import EMBEDDED_DEFAULT, load_model, resolve_model
from ..prompting import render, stop_strings
from .calibration import DecisionCalibration, OpenerBias, resolve_calibration
from .constrain import constraint_for
from .generation import GenerationResult, Generator
from .history import to_record_messages, tool_dicts
from .parsing import TOOL_CALL_OPEN
from .probe import DecisionProbe
from .response import PROVIDER, MLXStreamedResponse, new_call_id, to_response
from .settings import DEFAULT_MAX_TOKENS, IGNORED_SETTINGS, check_settings

__all__ = [  # also the names other modules import from here, re-exported from their homes above
    "PROVIDER",
    "DecisionProbe",
    "LoadedModel",
    "MLXModel",
    "MLXStreamedResponse",
    "check_settings",
    "load_cached",
    "new_call_id",
    "to_record_messages",
    "tool_dicts",
]


# -- loading, once per process -------------------------------------------------------------------------


@dataclass
class LoadedModel:
    name: str
    path: str
    adapter_path: str | None
    model: Any
    tokenizer: Any
    generator: Generator


_LOADED: dict[tuple[str, str | None], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def load_cached(name: str, adapter_path: str | os.PathLike | None = None) -> LoadedModel:
    """Load a model (and adapter) once per process; later calls with the same pair get the same objects."""
    import mlx.core as mx

    path = resolve_model(name)
    adapter = str(Path(adapter_path).expanduser().resolve()) if adapter_path else None
    key = (str(Path(path).resolve()) if Path(path).exists() else path, adapter)
    with _LOAD_LOCK:
        if key not in _LOADED:
            model, tokenizer = load_model(name, adapter)
            # Materialise the (adapted) weights here: generation runs on another thread.
            mx.eval(model.parameters())
            _LOADED[key] = LoadedModel(name, path, adapter, model, tokenizer, Generator(model, tokenizer))
        return _LOADED[key]


# -- the model -------------------------------------------------------------------------------------------


class MLXModel(Model):
    """A local mlx-lm model (any name `models.resolve_model` accepts) with an optional LoRA adapter.
    `constrain_calls`: once a reply opens a tool call, hold it to the offered tools' names and schemas
    (`constrain.py`); False leaves the raw model."""

    _announces_lookalike_notes = False  # a small local model was not trained on pydantic-ai's framing notes
    unsupported_settings = IGNORED_SETTINGS

    def __init__(
        self,
        model: str = EMBEDDED_DEFAULT,
        *,
        adapter_path: str | os.PathLike | None = None,
        settings: ModelSettings | None = None,
        prefix_cache: bool = True,
        logits_processors: Callable[[], list] | list | None = None,
        profile: ModelProfile | None = None,
        keep_prompts: int = 16,
        calibration: str | os.PathLike | DecisionCalibration | None = None,
        constrain_calls: bool = True,
    ):
        """calibration: None applies the adapter directory's decision_calibration.json when it has one,
        "none" never does, a path (or a DecisionCalibration) applies that one, to a base model too."""
        check_settings(settings, where="MLXModel settings")
        self._loaded = load_cached(model, adapter_path)
        self._name = model
        self.adapter_path = self._loaded.adapter_path
        self.calibration = resolve_calibration(calibration, self.adapter_path)
        self.prefix_cache = prefix_cache
        self.logits_processors = logits_processors
        self.constrain_calls = constrain_calls  # hold opened tool calls to the offered schemas (constrain.py)
        self.prompts: deque[str] = deque(maxlen=keep_prompts)  # rendered prompts, newest last
        self.results: deque[GenerationResult] = deque(maxlen=keep_prompts)
        super().__init__(
            settings=settings,
            profile=profile
            or ModelProfile(
                supports_tools=True,
                supports_json_schema_output=False,
                supports_json_object_output=False,
                supports_image_input=False,
                supports_audio_input=False,
                supports_document_input=False,
                supports_video_input=False,
                supports_thinking=False,
            ),
        )

    # identity
    @property
    def model_name(self) -> str:
        name = self._name + (f"+{Path(self.adapter_path).name}" if self.adapter_path else "")
        return name + (f" [{self.calibration.label}]" if self.calibration else "")

    @property
    def system(self) -> str:
        return PROVIDER

    @property
    def base_url(self) -> str | None:
        return None

    @property
    def tokenizer(self) -> Any:
        return self._loaded.tokenizer

    @property
    def mlx_model(self) -> Any:
        return self._loaded.model

    @property
    def generator(self) -> Generator:
        return self._loaded.generator

    def stop_strings(self) -> list[str]:
        return stop_strings(self.tokenizer)

    # rendering: the one path shared with training
    def render(self, messages: Sequence[ModelMessage], params: ModelRequestParameters) -> tuple[str, list[dict]]:
        from pydantic_ai._instrumentation import get_instructions

        tools = tool_dicts(params)
        records = to_record_messages(messages, get_instructions(messages, params))
        return render(records, tools, self.tokenizer, add_generation_prompt=True), tools

    def decision_probe(self) -> DecisionProbe | None:
        ids = self.tokenizer.encode(TOOL_CALL_OPEN, add_special_tokens=False)
        return DecisionProbe(int(ids[0])) if ids else None

    def _generation_kwargs(self, settings: ModelSettings | None) -> dict[str, Any]:
        check_settings(settings)
        s: dict[str, Any] = dict(settings or {})
        kwargs: dict[str, Any] = {
            "max_tokens": int(s.get("max_tokens") or DEFAULT_MAX_TOKENS),
            "temperature": float(s.get("temperature") or 0.0),
            "top_p": float(s["top_p"]) if s.get("top_p") is not None else 1.0,
            "top_k": int(s.get("top_k") or 0),
            "seed": s.get("seed"),
            "stop": list(s.get("stop_sequences") or ()),
            "use_cache": self.prefix_cache,
        }
        processors = (
            self.logits_processors() if callable(self.logits_processors) else list(self.logits_processors or [])
        )
        if s.get("presence_penalty") or s.get("frequency_penalty") or s.get("logit_bias"):
            from mlx_lm.sample_utils import make_logits_processors

            bias = {int(k): float(v) for k, v in (s.get("logit_bias") or {}).items()} or None
            processors += make_logits_processors(
                logit_bias=bias,
                presence_penalty=s.get("presence_penalty"),
                frequency_penalty=s.get("frequency_penalty"),
            )
        kwargs["logits_processors"] = processors or None
        return kwargs

    def _prepare(self, messages, model_settings, params):
        model_settings, params = self.prepare_request(model_settings, params)
        kwargs = self._generation_kwargs(model_settings)
        probe = self.decision_probe()
        if probe is not None:
            bias = [OpenerBias(probe.opener_id, self.calibration.bias)] if self.calibration else []
            kwargs["logits_processors"] = [*(kwargs["logits_processors"] or []), *bias, probe]
        prompt, tools = self.render(messages, params)
        constraint = constraint_for(self.tokenizer, tools) if self.constrain_calls else None
        if constraint is not None:  # first: a scripted processor after it keeps the last word (tests)
            kwargs["logits_processors"] = [constraint, *(kwargs["logits_processors"] or [])]
        self.prompts.append(prompt)
        return prompt, tools, kwargs, params, probe

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        prompt, tools, kwargs, _, probe = self._prepare(messages, model_settings, model_request_parameters)
        result = await anyio.to_thread.run_sync(partial(self.generator.generate, prompt, **kwargs))
        self.results.append(result)
        return to_response(result, tools, probe, self.model_name)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        prompt, tools, kwargs, params, probe = self._prepare(messages, model_settings, model_request_parameters)
        yield MLXStreamedResponse(
            model_request_parameters=params,
            _model_name=self.model_name,
            _generate=partial(self.generator.generate, prompt, **kwargs),
            _tools=tools,
            _on_result=self.results.append,
            _probe=probe,
        )
