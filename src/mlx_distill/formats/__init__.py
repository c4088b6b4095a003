"""External data shapes, read into the record's shape: one module per format, and the one JSON-schema
normaliser (`json_schema`). The data converters (`data/sources/converters.py`) and the benchmark suites
(`bench/suites.py`) both read through here, so a BFCL item or a When2Call row means the same thing to
training data and to a benchmark.

Each format module has `convert(obj, ctx) -> Converted`: the item's messages (no system message yet),
its tools as OpenAI-style JSON schema, and what the source says about label, category and id; errors
are `InputError`s that name the file, the line and the rule.
"""

from __future__ import annotations

from typing import Any, Callable

from . import bfcl, glaive, hermes, legacy, openai, when2call, xlam
from .conversion import Context, Converted

FORMATS: dict[str, str] = {
    "legacy": "older in-house records: tool calls with a 'tool' key, or ```json blocks in assistant text",
    "glaive": "glaive-function-calling-v2: SYSTEM/USER/ASSISTANT text, <functioncall> with quoted arguments",
    "hermes": "ShareGPT conversations (system/human/gpt/tool) with <tools> and <tool_call> Python literals",
    "xlam": "xLAM function-calling-60k: query, tools and answers as JSON strings",
    "openai": "OpenAI chat messages with tool_calls whose arguments are JSON strings",
    "bfcl": "BFCL question + function (+ possible_answer ground truth)",
    "when2call": "When2Call MCQ/SFT/preference rows: direct / tool_call / request_for_info / cannot_answer",
}

READERS: dict[str, Callable[[Any, Context], Converted]] = {
    "legacy": legacy.convert,
    "glaive": glaive.convert,
    "hermes": hermes.convert,
    "xlam": xlam.convert,
    "openai": openai.convert,
    "bfcl": bfcl.convert,
    "when2call": when2call.convert,
}
assert set(READERS) == set(FORMATS)

__all__ = ["FORMATS", "READERS", "Context", "Converted"]
