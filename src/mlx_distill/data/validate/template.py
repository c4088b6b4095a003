"""Template rules (render, mask, too-long): the record through the model's chat template, as the trainer
sees it."""

from __future__ import annotations

import json
from typing import Any

from ...errors import InputError
from .rules import Finding, Located, add_finding


def check_rendering(item: Located, tokenizer: Any, max_seq_length: int | None = None) -> tuple[list[Finding], int | None]:
    """render, mask and too-long: the record through the model's chat template, as the trainer sees it.

    Returns the findings and the token count (None when it could not be rendered)."""
    from ...prompting import hf_tokenizer, assistant_spans, render, tokenize_for_training

    out: list[Finding] = []
    rec = item.record
    msgs = rec.template_messages()
    tools = rec.tools or None
    try:
        text = render(msgs, tools, tokenizer)
        spans = assistant_spans(msgs, tools, tokenizer)
        ids, flags = tokenize_for_training(msgs, tools, tokenizer, mask="all_assistant")
    except InputError as e:
        add_finding(out, "render", e.message, item)
        return out, None
    except Exception as e:  # a template error (jinja, missing key) is a finding, not a crash
        add_finding(out, "render", f"{type(e).__name__}: {e}", item)
        return out, None

    assistants = [(j, m) for j, m in enumerate(msgs) if m["role"] == "assistant"]
    if len(spans) != len(assistants):
        add_finding(out, "mask", f"{len(spans)} supervised spans for {len(assistants)} assistant turns", item)
    else:
        for (j, m), (start, end) in zip(assistants, spans):
            seg = text[start:end]
            content = (m.get("content") or "").strip()
            if content and content not in seg:
                add_finding(out, "mask", f"message {j} (assistant) text is not inside its supervised span", item)
            for c in m.get("tool_calls") or []:
                fn = c.get("function", c)
                if json.dumps(fn["name"]) not in seg:
                    add_finding(out, "mask", f"message {j} call {fn['name']!r} is not inside its supervised span", item)
        # nothing else supervised: non-assistant contents must lie outside every span
        cursor = 0
        k = 0
        for j, m in enumerate(msgs):
            if m["role"] == "assistant":
                if k < len(spans):
                    cursor = max(cursor, spans[k][1])
                k += 1
                continue
            content = m.get("content") or ""
            if len(content.strip()) < 1:
                continue
            pos = text.find(content, cursor)
            if pos < 0:
                continue
            if any(s < pos + len(content) and pos < e for s, e in spans):
                add_finding(out, "mask", f"message {j} ({m['role']}) text falls inside a supervised span", item)
            cursor = pos + len(content)
    # token level: the flagged tokens must cover each span exactly
    enc = hf_tokenizer(tokenizer)(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if list(enc["input_ids"]) != list(ids) or len(flags) != len(ids):
        add_finding(out, "mask", "tokenize_for_training does not tokenize the rendered text", item)
    else:
        bad = None
        for (a, b), f in zip(offsets, flags):
            inside = [(s, e) for s, e in spans if s < b and a < e]
            if f and not any(s <= a and b <= e for s, e in spans):
                bad = f"supervised token at chars {a}..{b} extends outside the assistant turns"
            elif not f and inside and b > a:
                bad = f"assistant text at chars {max(a, inside[0][0])}..{min(b, inside[0][1])} is not supervised"
            if bad:
                break
        if bad:
            add_finding(out, "mask", bad, item)
        elif assistants and not any(flags):
            add_finding(out, "mask", "no token is supervised", item)
    if max_seq_length and len(ids) > max_seq_length:
        add_finding(out, "too-long", f"{len(ids)} tokens > max_seq_length {max_seq_length} (the trainer would truncate it)",
             item)
    return out, len(ids)
