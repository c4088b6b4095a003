"""Constrained tool calls: the model decides freely whether to call a tool; once it has opened a call, the
call itself is held to the offered tools.

`ToolCallConstraint` is an mlx-lm logits processor, one per reply (it keeps that reply's state), so it works
the same in `generate_step` and, per sequence, in `BatchGenerator` (each sequence its own tool set). While
no call is open it returns the logits unchanged: a direct answer, and the decision to call, are the model's.
When the generated text completes `<tool_call>` (the opener of the format our chat template trains, see
`parsing.py`), an llguidance matcher takes over and masks every token that cannot continue

    {"name": <one of the offered names>, "arguments": <JSON valid for that tool's schema>}</tool_call>

(up to three whitespace characters around the object, the JSON written with the template's separators).
After the closing tag the reply is free again: another call, text, or the end, as the format allows.

The other shapes `parse_tool_calls` reads (Qwen3 XML, fenced or bare JSON) have no opener a model writes only
to call a tool, so they stay unconstrained. The library choice (llguidance over outlines-core and xgrammar)
is explained in docs/architecture.md.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Sequence

from .parsing import TOOL_CALL_CLOSE, TOOL_CALL_OPEN

# The template writes calls with json.dumps' default separators: hold the constrained JSON to the same.
JSON_STYLE = {"whitespace_flexible": False, "key_separator": ": ", "item_separator": ", "}
_GRAMMARS_KEPT = 64  # compiled tool sets kept per tokenizer (a benchmark offers a few dozen distinct sets)


def call_schema(tools: Sequence[dict]) -> dict:
    """The JSON schema of one call's object: the name of one offered tool, the arguments valid for its schema."""
    alternatives = []
    for tool in tools:
        fn = tool.get("function", tool)
        alternatives.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": fn["name"]},
                    "arguments": fn.get("parameters") or {"type": "object"},
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": alternatives, "x-guidance": JSON_STYLE}


def call_grammar(tools: Sequence[dict]) -> str:
    """The Lark grammar (llguidance's dialect) of what follows `<tool_call>` up to and including its close."""
    return (
        f"start: WS call WS {json.dumps(TOOL_CALL_CLOSE)} WS\n"
        f"call: %json {json.dumps(call_schema(tools))}\n"
        "WS: /[ \\t\\r\\n]{0,3}/\n"  # bounded: a weak model must not pad a call with newlines for ever
    )


class CallGrammars:
    """What one tokenizer needs for constraints: its llguidance tokenizer (built once, about a second on
    a 49k vocabulary) and a compiled matcher per tool set (milliseconds; each reply gets a copy)."""

    def __init__(self, tokenizer: Any):
        import llguidance.hf

        hf = getattr(tokenizer, "_tokenizer", tokenizer)
        self.lltokenizer = llguidance.hf.from_tokenizer(hf)
        self.vocab_size = int(self.lltokenizer.vocab_size)
        self.opener = TOOL_CALL_OPEN.encode()
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def matcher(self, tools: Sequence[dict]) -> Any:
        """A fresh matcher for the body of one call to one of `tools`. Raises ValueError on a schema
        llguidance cannot compile."""
        import llguidance

        key = json.dumps(list(tools), sort_keys=True)
        with self._lock:
            template = self._compiled.get(key)
            if template is None:
                template = llguidance.LLMatcher(self.lltokenizer, call_grammar(tools))
                if template.is_error():
                    raise ValueError(f"cannot constrain calls to these tools: {template.get_error()}")
                self._compiled[key] = template
                while len(self._compiled) > _GRAMMARS_KEPT:
                    self._compiled.popitem(last=False)
            self._compiled.move_to_end(key)
            return template.deep_copy()

    def token_bytes(self, token: int) -> bytes:
        return bytes(self.lltokenizer.decode_bytes([token]))

    def tokenize(self, data: bytes) -> list[int]:
        return list(self.lltokenizer.tokenize_bytes(data))


_GRAMMARS: dict[int, tuple[Any, CallGrammars]] = {}
_GRAMMARS_LOCK = threading.Lock()


def grammars_for(tokenizer: Any) -> CallGrammars:
    """The `CallGrammars` of a tokenizer, built on first use and kept while the process runs (as the
    loaded models are, `model.load_cached`)."""
    with _GRAMMARS_LOCK:
        entry = _GRAMMARS.get(id(tokenizer))
        if entry is None or entry[0] is not tokenizer:
            entry = (tokenizer, CallGrammars(tokenizer))
            _GRAMMARS[id(tokenizer)] = entry
        return entry[1]


def constraint_for(tokenizer: Any, tools: Sequence[dict]) -> ToolCallConstraint | None:
    """The constraint for one reply offered `tools`; None when there is nothing to hold calls to, or when
    the model's chat template writes its calls as Qwen3 XML (`<function=...>` inside the tags), which this
    JSON grammar would contradict."""
    template = getattr(tokenizer, "chat_template", None) or ""
    if not tools or "<function=" in str(template):
        return None
    return ToolCallConstraint(grammars_for(tokenizer), tools)


class ToolCallConstraint:
    """The logits processor of one reply (see the module docstring). `calls` counts the calls it held to
    the schemas; `broken` those it could not (the opener's token went on with text no call can start
    with, or another processor forced a token the grammar refused): those continue unconstrained."""

    def __init__(self, grammars: CallGrammars, tools: Sequence[dict]):
        self.grammars, self.tools = grammars, list(tools)
        self.matcher: Any = None  # set while a call is open
        self.tail = b""  # the end of the free text, enough to find an opener split over tokens
        self.started = False
        self.calls = self.broken = 0
        self._words: Any = None

    @property
    def in_call(self) -> bool:
        return self.matcher is not None

    def __call__(self, tokens: Any, logits: Any) -> Any:
        # The first call comes before any generated token; each later one after exactly one more.
        if self.started:
            self.feed(int(tokens[-1].item()))
        self.started = True
        return self.apply(logits) if self.matcher is not None else logits

    def feed(self, token: int) -> None:
        """Take one generated token: open, follow or close a call."""
        if self.matcher is not None:
            if not self.matcher.consume_token(token):
                self.matcher, self.broken = None, self.broken + 1
            elif self.matcher.is_accepting():  # the closing tag is written: free again
                self.matcher = None
            return
        opener = self.grammars.opener
        self.tail += self.grammars.token_bytes(token)
        at = self.tail.find(opener)
        if at < 0:
            self.tail = self.tail[-(len(opener) - 1) :]
            return
        rest, self.tail = self.tail[at + len(opener) :], b""
        self.calls += 1
        matcher = self.grammars.matcher(self.tools)
        # The opener's last token may carry the start of the body ('>\n'): the matcher reads it as tokens.
        if rest and not matcher.consume_tokens(self.grammars.tokenize(rest)):
            self.broken += 1
            return
        self.matcher = matcher

    def apply(self, logits: Any) -> Any:
        """Logits with every token the grammar refuses at -inf (on the logits' device: CPU or Metal)."""
        import mlx.core as mx
        import numpy as np
        from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

        if self._words is None:
            self._words = allocate_token_bitmask(1, self.grammars.vocab_size)
        fill_next_token_bitmask(self.matcher, self._words)
        allowed = np.unpackbits(self._words.view(np.uint8), bitorder="little").astype(bool)
        n = logits.shape[-1]
        allowed = allowed[:n] if allowed.size >= n else np.pad(allowed, (0, n - allowed.size))
        if not allowed.any():  # a grammar in error: better an unconstrained token than none
            self.matcher, self.broken = None, self.broken + 1
            return logits
        return mx.where(mx.array(allowed), logits, mx.array(float("-inf"), dtype=logits.dtype))
