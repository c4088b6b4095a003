"""When2Call (NVIDIA): the MCQ test shape `{uuid, question, tools, correct_answer, answers,
target_tool}` and the SFT / preference shapes (`messages`, `chosen_response`), with calls in
`<TOOLCALL>[...]</TOOLCALL>`. Its four classes map to our labels (`vocab.WHEN2CALL_LABELS`). The data
converter and the benchmark's `when2call:<file>` suites both read rows here."""

from __future__ import annotations

import re
from typing import Any

from ..replies import conversation_label
from ..vocab import WHEN2CALL_LABELS, Label
from .conversion import Context, Converted, call, name_results, source_id, text_of, tools_of
from .json_schema import loads_any

_TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL | re.IGNORECASE)


def label_of(answer_class: Any) -> Label:
    """Our label for a `correct_answer`; ValueError names the four classes when it is none of them."""
    if answer_class not in WHEN2CALL_LABELS:
        raise ValueError(f"correct_answer {answer_class!r} is not one of {', '.join(WHEN2CALL_LABELS)}")
    return WHEN2CALL_LABELS[answer_class]


def tool_docs(obj: dict[str, Any]) -> list[Any]:
    """The row's function documents (each a JSON string or an object)."""
    return [loads_any(t) if isinstance(t, str) else t for t in obj.get("tools") or []]


def target_tool(obj: dict[str, Any]) -> str | None:
    """The name of the tool a `tool_call` row expects (`target_tool` is a name or a function document)."""
    target = obj.get("target_tool")
    if isinstance(target, str) and target.strip().startswith("{"):
        target = loads_any(target).get("name")
    return target or None


def _calls(value: Any, ctx: Context) -> list[dict[str, Any]]:
    if isinstance(value, str):
        m = _TOOLCALL.search(value)
        body = m.group(1) if m else value
        try:
            value = loads_any(body.strip())
        except ValueError as e:
            raise ctx.error(f"tool_call answer does not parse: {e}", "bad-arguments") from None
    items = value if isinstance(value, list) else [value]
    calls = []
    for a in items:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise ctx.error("tool_call answer has no name", "bad-arguments")
        calls.append(call(ctx, a["name"], a.get("arguments")))
    return calls


def _assistant(content: Any, ctx: Context) -> dict[str, Any]:
    if isinstance(content, dict) and "content" in content:
        content = content["content"]
    text = text_of(content)
    if _TOOLCALL.search(text):
        return {"role": "assistant", "content": _TOOLCALL.sub("", text).strip(), "tool_calls": _calls(text, ctx)}
    return {"role": "assistant", "content": text.strip()}


def _mcq(obj: dict[str, Any], tools: list[dict[str, Any]], ctx: Context) -> Converted:
    kind = obj["correct_answer"]
    try:
        label = label_of(kind)
    except ValueError as e:
        raise ctx.error(str(e)) from None
    answers = obj.get("answers") or {}
    if kind not in answers:
        raise ctx.error(f"answers has no {kind!r} entry")
    messages: list[dict[str, Any]] = [{"role": "user", "content": text_of(obj.get("question"))}]
    if kind == "tool_call":
        messages.append({"role": "assistant", "content": "", "tool_calls": _calls(answers[kind], ctx)})
    else:
        messages.append({"role": "assistant", "content": text_of(answers[kind]).strip()})
    return Converted(messages, tools, source_id=source_id(obj), label=label, category=kind)


def convert(obj: Any, ctx: Context) -> Converted:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected an object, got {type(obj).__name__}")
    tools = tools_of(ctx, obj.get("tools"))
    if "correct_answer" in obj:  # the MCQ test shape
        return _mcq(obj, tools, ctx)
    raw = obj.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ctx.error("expected 'correct_answer' (MCQ) or 'messages' (SFT / preference)")
    messages: list[dict[str, Any]] = []
    system = None
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        if m.get("role") == "system":
            system = text_of(m.get("content"))
        elif m.get("role") == "assistant":
            messages.append(_assistant(m.get("content"), ctx))
        elif m.get("role") == "user":
            messages.append({"role": "user", "content": text_of(m.get("content"))})
        elif m.get("role") == "tool":
            messages.append({"role": "tool", "content": text_of(m.get("content"))})
    if "chosen_response" in obj:  # the preference shape: the chosen reply completes the prompt
        messages.append(_assistant(obj["chosen_response"], ctx))
    label = conversation_label(messages)
    kind_of: dict[str, str] = {v: k for k, v in WHEN2CALL_LABELS.items()}
    kind = kind_of[label]
    name_results(messages)
    return Converted(messages, tools, system=system, source_id=source_id(obj), label=label, category=kind)
