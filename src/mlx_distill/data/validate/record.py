"""Per-record rules: role order, call/result matching, arguments, labels, tool results, grounding."""

from __future__ import annotations

from typing import Any

from .grounding import grounded
from .rules import Finding, Located, add_finding
from .schemas import SchemaCache
from .tool_output import tool_result_problem


def check_record(item: Located, schemas: SchemaCache | None = None) -> list[Finding]:
    """Every per-record rule except the template ones (see check_rendering)."""
    schemas = schemas or SchemaCache()
    out: list[Finding] = []
    rec = item.record
    msgs = rec.messages
    offered, problems = schemas.tools_of(rec.tools)
    for p in problems:
        add_finding(out, "tool-schema", p, item)
    ours_only = not rec.tools or all(v == "ours" for v in offered.values())

    # role order and call/result matching
    i = 0
    n = len(msgs)
    while i < n and msgs[i].role == "system":
        i += 1
    if any(m.role == "system" for m in msgs[i:]):
        k = next(j for j in range(i, n) if msgs[j].role == "system")
        add_finding(out, "role-order", f"message {k} is a system message after the conversation started", item)
    if i >= n or msgs[i].role != "user":
        add_finding(out, "role-order", "the first message after the system prompt must be a user message", item)
    if msgs[-1].role != "assistant":
        add_finding(out, "role-order", f"the conversation ends with a {msgs[-1].role} message, not an assistant turn", item)
    has_calls = False
    calls: list[tuple[int, Any]] = []  # (message index, ToolCall) of the run waiting for results
    for j, m in enumerate(msgs):
        prev = msgs[j - 1].role if j else None
        if m.role == "user":
            if not m.content.strip():
                add_finding(out, "empty-message", f"message {j} (user) is empty", item)
            if prev == "user":
                add_finding(out, "role-order", f"messages {j - 1} and {j} are consecutive user messages", item)
        if m.role in ("user", "assistant", "system") and calls:
            for k, c in calls:
                add_finding(out, "unmatched-tool-call", f"call {c.function.name!r} in message {k} has no tool result", item)
            calls = []
        if m.role == "assistant":
            if prev == "assistant":
                add_finding(out, "role-order", f"messages {j - 1} and {j} are consecutive assistant messages", item)
            if not m.content.strip() and not m.tool_calls:
                add_finding(out, "empty-message", f"message {j} (assistant) has neither content nor tool calls", item)
            for c in m.tool_calls or []:
                has_calls = True
                name = c.function.name
                if name not in offered:
                    known = ", ".join(sorted(offered)) or "none"
                    add_finding(out, "unknown-tool", f"message {j} calls {name!r}, which is not offered (offered: {known})",
                         item)
                    continue
                for problem in schemas.check(name, c.function.arguments, offered[name]):
                    add_finding(out, "bad-arguments", f"message {j} {name}: {problem}", item)
            if m.tool_calls and j < n - 1:
                calls = [(j, c) for c in m.tool_calls]
        if m.role == "tool":
            if prev not in ("assistant", "tool"):
                add_finding(out, "role-order", f"message {j} (tool) follows a {prev or 'nothing'} message", item)
            if not calls:
                add_finding(out, "unmatched-tool-result", f"message {j} is a tool result that answers no call", item)
                continue
            k, c = calls.pop(0)
            if c.id and m.tool_call_id and c.id != m.tool_call_id:
                add_finding(out, "unmatched-tool-result",
                     f"message {j} answers tool_call_id {m.tool_call_id!r} but the call is {c.id!r}", item)
            elif m.name and m.name != c.function.name:
                add_finding(out, "unmatched-tool-result",
                     f"message {j} is a result of {m.name!r} but answers the call to {c.function.name!r}", item)
            if not m.content.strip():
                add_finding(out, "empty-tool-result", f"message {j} ({c.function.name}) is empty", item)
            elif ours_only and c.function.name in schemas.our_names:
                result_problem = tool_result_problem(c.function.name, c.function.arguments, m.content)
                if result_problem:
                    add_finding(out, "tool-result", f"message {j} ({c.function.name}): {result_problem}", item)
    for k, c in calls:
        add_finding(out, "unmatched-tool-call", f"call {c.function.name!r} in message {k} has no tool result", item)

    label = rec.meta.label
    if label == "tool" and not has_calls:
        add_finding(out, "label", "label is 'tool' but no assistant turn calls a tool", item)
    elif label != "tool" and has_calls:
        add_finding(out, "label", f"label is {label!r} but an assistant turn calls a tool", item)

    if has_calls and msgs[-1].role == "assistant" and not msgs[-1].tool_calls:
        results = " ".join(m.content for m in msgs if m.role == "tool")
        if results and not grounded(msgs[-1].content, results):
            add_finding(out, "ungrounded", "the final answer mentions nothing (name, path, number) from the tool results",
                 item)
    return out
