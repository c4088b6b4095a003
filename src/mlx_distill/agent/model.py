"""`MLXModel`: a PydanticAI model over a local mlx-lm model, prompted exactly as it was trained.

The conversation PydanticAI hands over is turned back into record-format messages (docs/data.md) and the
offered tools into the OpenAI-style schemas of `tools.py`, then rendered with `prompting.render`, the
same path the exporter and the trainer use: the agent's prompt for a conversation is the training
rendering of the same prefix, byte for byte. Generated text is parsed for tool calls (`parsing.py`).
"""

from __future__ import annotations

import asyncio
import difflib
import os
import threading
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence, get_args

import anyio
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import (
    FinishReason,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponseStreamEvent,
    RetryFeedbackPart,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettingName, ModelSettings
from pydantic_ai.usage import RequestUsage

from ..models import EMBEDDED_DEFAULT, load_model, resolve_model
from ..prompting import render, stop_strings
from .generation import GenerationResult, Generator
from .parsing import CALL_MARKERS, TOOL_CALL_OPEN, parse_tool_calls

PROVIDER = "mlx"

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


# -- pydantic-ai messages -> record messages ---------------------------------------------------------


def _user_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for item in content or ():
        if isinstance(item, str):
            parts.append(item)
        elif hasattr(item, "content") and isinstance(getattr(item, "content"), str):
            parts.append(item.content)
        else:
            parts.append(f"[{type(item).__name__} not supported by a text-only local model]")
    return "\n".join(parts)


def _arguments(part: ToolCallPart) -> dict[str, Any] | None:
    try:
        args = part.args_as_dict()
    except Exception:  # noqa: BLE001 - malformed JSON string from another provider
        return None
    return args if isinstance(args, dict) else None


def to_record_messages(messages: Sequence[ModelMessage], instructions: str | None = None) -> list[dict[str, Any]]:
    """PydanticAI history -> the record format's message dicts (what `prompting.render` takes)."""
    out: list[dict[str, Any]] = []
    system: list[str] = []
    first_request = True
    for message in messages:
        if isinstance(message, ModelRequest):
            leading = first_request
            for part in message.parts:
                if isinstance(part, SystemPromptPart):
                    if leading:
                        system.append(part.content)
                    else:
                        out.append({"role": "system", "content": part.content})
                    continue
                leading = False
                if isinstance(part, UserPromptPart):
                    out.append({"role": "user", "content": _user_text(part.content)})
                elif isinstance(part, ToolReturnPart):
                    out.append({"role": "tool", "name": part.tool_name, "content": part.model_response_str()})
                elif isinstance(part, (RetryPromptPart, RetryFeedbackPart)):  # direct calls, unprepared
                    text = part.model_response() if hasattr(part, "model_response") else str(part.content)
                    tool_name = getattr(part, "tool_name", None)
                    if tool_name:
                        out.append({"role": "tool", "name": tool_name, "content": text})
                    else:
                        out.append({"role": "user", "content": text})
                # other parts (deltas, notes for other providers) carry nothing a local model renders
            first_request = False
        elif isinstance(message, ModelResponse):
            texts = [p.content for p in message.parts if isinstance(p, TextPart)]
            calls, raw = [], []
            for p in message.parts:
                if isinstance(p, ToolCallPart):
                    args = _arguments(p)
                    if args is None:
                        raw.append(f'<tool_call>\n{{"name": "{p.tool_name}", "arguments": {p.args}}}\n</tool_call>')
                    else:
                        calls.append({"type": "function", "function": {"name": p.tool_name, "arguments": args}})
            msg: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(t for t in texts + raw if t)}
            if calls:
                msg["tool_calls"] = calls
            out.append(msg)
    if instructions:
        system.append(instructions)
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def tool_dicts(params: ModelRequestParameters) -> list[dict[str, Any]]:
    """The offered tools as OpenAI-style schemas, in the exact shape of `tools.tool_schemas()`."""
    out = []
    for td in list(params.function_tools) + list(params.output_tools):
        fn: dict[str, Any] = {"name": td.name}
        if td.description is not None:
            fn["description"] = td.description
        fn["parameters"] = td.parameters_json_schema
        out.append({"type": "function", "function": fn})
    return out


# -- the first decision --------------------------------------------------------------------------------


class DecisionProbe:
    """A logits processor that reads the distribution of the first generated token: the probability that
    the reply opens a tool call (the first token of `<tool_call>`), and the margin between opening one and
    anything else, |p - (1 - p)|. A small margin is a turn the model was unsure whether to call a tool;
    the router sends such turns to the teacher. It sees the logits the sampler sees and changes nothing."""

    def __init__(self, opener_id: int):
        self.opener_id = opener_id
        self.p_call: float | None = None

    def __call__(self, _tokens: Any, logits: Any) -> Any:
        if self.p_call is None:
            import mlx.core as mx

            probs = mx.softmax(logits.astype(mx.float32), axis=-1)
            self.p_call = float(probs.reshape(-1, probs.shape[-1])[-1, self.opener_id].item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
        return logits

    @property
    def margin(self) -> float | None:
        return None if self.p_call is None else abs(2.0 * self.p_call - 1.0)

    def details(self) -> dict[str, Any]:
        if self.p_call is None:
            return {}
        return {"p_tool_call": round(self.p_call, 6), "decision_margin": round(self.margin or 0.0, 6)}


# -- the model -------------------------------------------------------------------------------------------


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


class MLXModel(Model):
    """A local mlx-lm model (any name `models.resolve_model` accepts) with an optional LoRA adapter."""

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
    ):
        check_settings(settings, where="MLXModel settings")
        self._loaded = load_cached(model, adapter_path)
        self._name = model
        self.adapter_path = self._loaded.adapter_path
        self.prefix_cache = prefix_cache
        self.logits_processors = logits_processors
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
        return self._name + (f"+{Path(self.adapter_path).name}" if self.adapter_path else "")

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
            kwargs["logits_processors"] = [*(kwargs["logits_processors"] or []), probe]
        prompt, tools = self.render(messages, params)
        self.prompts.append(prompt)
        return prompt, tools, kwargs, params, probe

    def _response(self, result: GenerationResult, tools: list[dict], probe: DecisionProbe | None) -> ModelResponse:
        self.results.append(result)
        parsed = parse_tool_calls(result.text, tools)
        details = _details(result, probe)
        finish: FinishReason
        if parsed.errors:
            details["tool_call_errors"] = parsed.errors
            parts: list[Any] = [TextPart(result.text.strip())]
            finish = "stop" if result.finish_reason == "stop" else "length"
        elif parsed.calls:
            parts = ([TextPart(parsed.content)] if parsed.content else []) + [
                ToolCallPart(c.name, c.arguments, tool_call_id=new_call_id()) for c in parsed.calls
            ]
            finish = "tool_call"
        else:
            parts = [TextPart(result.text.strip())]
            finish = "stop" if result.finish_reason == "stop" else "length"
        return ModelResponse(
            parts=parts,
            usage=_usage(result),
            model_name=self.model_name,
            provider_name=PROVIDER,
            finish_reason=finish,
            provider_details=details,
        )

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        prompt, tools, kwargs, _, probe = self._prepare(messages, model_settings, model_request_parameters)
        result = await anyio.to_thread.run_sync(partial(self.generator.generate, prompt, **kwargs))
        return self._response(result, tools, probe)

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
            _owner=self,
            _probe=probe,
        )


def _usage(result: GenerationResult) -> RequestUsage:
    return RequestUsage(
        input_tokens=result.prompt_tokens, output_tokens=len(result.tokens), cache_read_tokens=result.cached_tokens
    )


def _details(result: GenerationResult, probe: DecisionProbe | None = None) -> dict[str, Any]:
    return {
        "finish": result.finish_reason,
        "stopped_by": result.stopped_by,
        "prompt_tokens": result.prompt_tokens,
        "cached_tokens": result.cached_tokens,
        "prompt_s": round(result.prompt_s, 4),
        "generation_s": round(result.generation_s, 4),
        **(probe.details() if probe else {}),
    }


_DONE = object()


@dataclass
class MLXStreamedResponse(StreamedResponse):
    """Streams text as it is generated; tool-call markup is held back, parsed at the end and yielded as calls."""

    _model_name: str = ""
    _generate: Callable[..., GenerationResult] | None = None
    _tools: list[dict] = field(default_factory=list)
    _owner: MLXModel | None = None
    _probe: DecisionProbe | None = None
    _timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        generate = self._generate
        assert generate is not None  # request_stream always sets it

        def on_text(chunk: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)

        def work() -> GenerationResult:
            try:
                return generate(on_text=on_text, cancel=cancel)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        future = loop.run_in_executor(None, work)
        total, streamed = "", ""
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                total += item
                visible = total.lstrip()
                safe = visible[: _holdback(visible)].rstrip()
                if len(safe) > len(streamed) and safe.startswith(streamed):
                    delta, streamed = safe[len(streamed) :], safe
                    for event in self._parts_manager.handle_text_delta(vendor_part_id="content", content=delta):
                        yield event
            result = await future
        finally:
            cancel.set()
            if not future.done():
                try:
                    await future
                except BaseException:  # noqa: BLE001 - already failing or cancelled
                    pass
        if self._owner is not None:
            self._owner.results.append(result)
        parsed = parse_tool_calls(result.text, self._tools)
        details = _details(result, self._probe)
        if parsed.errors:
            details["tool_call_errors"] = parsed.errors
        final = parsed.content if parsed.ok else result.text.strip()
        if final.startswith(streamed) and len(final) > len(streamed):
            for event in self._parts_manager.handle_text_delta(
                vendor_part_id="content", content=final[len(streamed) :]
            ):
                yield event
        elif not streamed and not (parsed.ok and parsed.calls):
            for event in self._parts_manager.handle_text_delta(vendor_part_id="content", content=final):
                yield event
        if parsed.ok:
            for i, call in enumerate(parsed.calls):
                yield self._parts_manager.handle_tool_call_part(
                    vendor_part_id=f"call-{i}", tool_name=call.name, args=call.arguments, tool_call_id=new_call_id()
                )
        self._usage = _usage(result)
        self.provider_details = details
        self.finish_reason = (
            "tool_call" if parsed.ok and parsed.calls else "stop" if result.finish_reason == "stop" else "length"
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return PROVIDER

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp


def _holdback(text: str) -> int:
    from .parsing import holdback

    return holdback(text, CALL_MARKERS)
