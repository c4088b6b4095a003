"""The system prompt and the one rendering path, used by the exporter, the trainer and the agent.

Everything that turns a conversation into model text goes through `render`, so what the model is
trained on and what the agent prompts it with are the same bytes (a test proves it). Supervision
is derived from the same rendering: an assistant turn's span is the text between the rendering of
the conversation before it (with a generation prompt) and the rendering including it.
"""

from __future__ import annotations

import weakref
from typing import Any, Iterable, Literal, Sequence

from .errors import InputError

# One rule for any tool set, not only the workspace's: the same prompt serves the agent's own tools
# and tools it never saw in training (call / answer / ask / say so: When2Call's four classes).
DEFAULT_SYSTEM_PROMPT = (
    "You are an assistant working in the user's workspace. "
    "Call a tool only when the question needs what an offered tool provides (the workspace's files, "
    "code or command output, or a tool's live data); when your own knowledge is enough, answer "
    "directly without tools. If a fitting tool needs a detail the question does not give, ask for it; "
    "if no offered tool can provide what is needed, say so. "
    "After a tool result, answer briefly from what it showed, and never repeat the same call."
)

END_OF_TURN_CANDIDATES = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")

Mask = Literal["all_assistant", "last", "none"]


def as_message_dicts(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Record/Message objects or dicts -> plain dicts without None fields (what templates expect)."""
    out = []
    for m in messages:
        if hasattr(m, "model_dump"):
            m = m.model_dump(mode="json", exclude_none=True)
        out.append({k: v for k, v in m.items() if v is not None})
    return out


def hf_tokenizer(tokenizer: Any) -> Any:
    """The Hugging Face tokenizer inside an mlx-lm TokenizerWrapper (or the tokenizer itself)."""
    if type(tokenizer).__name__ == "TokenizerWrapper":
        return tokenizer._tokenizer
    return tokenizer


_STOPS: "weakref.WeakKeyDictionary[Any, list[str]]" = weakref.WeakKeyDictionary()


def render(
    messages: Iterable[Any], tools: Sequence[dict] | None, tokenizer: Any, *, add_generation_prompt: bool = False
) -> str:
    """Render a conversation (and the tools offered) through the tokenizer's chat template."""
    msgs = as_message_dicts(messages)
    return hf_tokenizer(tokenizer).apply_chat_template(
        msgs, tools=list(tools) if tools else None, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def stop_strings(tokenizer: Any) -> list[str]:
    """End-of-turn strings of the model's template: the agent's default stop_sequences."""
    hf = hf_tokenizer(tokenizer)
    try:  # get_vocab() of a 49k vocabulary takes ~70 ms; this is called once per assistant turn
        return list(_STOPS[hf])
    except (KeyError, TypeError):
        pass
    vocab = hf.get_vocab()
    found = [s for s in END_OF_TURN_CANDIDATES if s in vocab]
    eos = getattr(hf, "eos_token", None)
    if eos and eos not in found:
        found.insert(0, eos)
    # The end-of-turn token of ChatML first; <|endoftext|> only when nothing better exists.
    if len(found) > 1 and "<|endoftext|>" in found:
        found.remove("<|endoftext|>")
    try:
        _STOPS[hf] = list(found)
    except TypeError:
        pass
    return found


def assistant_spans(messages: Iterable[Any], tools: Sequence[dict] | None, tokenizer: Any) -> list[tuple[int, int]]:
    """Character spans, in `render(messages)`, of each assistant turn's text through its end-of-turn
    marker. Raises InputError(rule="render") if the template is not prefix-stable for this conversation."""
    msgs = as_message_dicts(messages)
    full = render(msgs, tools, tokenizer)
    eots = stop_strings(tokenizer)
    spans = []
    for i, m in enumerate(msgs):
        if m.get("role") != "assistant":
            continue
        prefix = render(msgs[:i], tools, tokenizer, add_generation_prompt=True) if i else ""
        upto = render(msgs[: i + 1], tools, tokenizer)
        if not (upto.startswith(prefix) and full.startswith(upto)):
            raise InputError(
                f"message {i} (assistant) does not render as a continuation of the messages before "
                "it; the chat template is not prefix-stable for this conversation",
                rule="render",
            )
        turn = upto[len(prefix) :]
        end = len(upto)
        for eot in eots:
            k = turn.rfind(eot)
            if k >= 0:
                end = len(prefix) + k + len(eot)
                break
        spans.append((len(prefix), end))
    return spans


def tokenize_for_training(
    messages: Iterable[Any], tools: Sequence[dict] | None, tokenizer: Any, mask: Mask = "all_assistant"
) -> tuple[list[int], list[bool]]:
    """Token ids of the rendered conversation and, per token, whether it is a supervised target.

    all_assistant: every assistant turn (tool calls mid-conversation included); last: only the final
    assistant turn (what mlx-lm's --mask-prompt does); none: every token.
    """
    msgs = as_message_dicts(messages)
    text = render(msgs, tools, tokenizer)
    enc = hf_tokenizer(tokenizer)(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
    if mask == "none":
        return ids, [True] * len(ids)
    spans = assistant_spans(msgs, tools, tokenizer)
    if mask == "last":
        spans = spans[-1:]
    elif mask != "all_assistant":
        raise ValueError(f"unknown mask {mask!r} (expected all_assistant, last or none)")
    flags = []
    j = 0
    for start, _end in offsets:
        while j < len(spans) and start >= spans[j][1]:
            j += 1
        flags.append(j < len(spans) and spans[j][0] <= start < spans[j][1])
    return ids, flags


def conversation(question: str, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The opening messages the agent and the data generators share."""
    return [
        {"role": "system", "content": system_prompt or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": question},
    ]
