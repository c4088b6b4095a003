"""Execution-checked verification of a teacher trajectory, before anything reaches training.

A record is accepted only when all of these hold; otherwise it is rejected with the first failing
rule as its reason (every failing rule is listed in the detail):

- `unknown-tool`: every call names a tool that was offered
- `invalid-arguments`: every call's arguments match the tool's JSON schema
- `tool-error`: every tool ran without error (no "Error: ..." result)
- `unclean-end`: the run ended with a final text answer and a clean stop (`end_turn`), not a limit,
  a loop, `max_tokens`, a refusal or an error
- `wrong-answer`: where the workspace builder knows the ground truth (the prompt's answer spec), the
  final answer (or the file written) is right
- `decision-mismatch`: the call-or-answer decision matches the prompt's label (tool / direct)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..tools import validate_arguments
from ..data.sources.teacher_store import Verdict

RULES = ("unknown-tool", "invalid-arguments", "tool-error", "unclean-end", "wrong-answer", "decision-mismatch")
CLEAN_STOPS = (None, "end_turn", "stop_sequence", "stop")


def _calls(messages: Sequence[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [
        (c["function"]["name"], c["function"].get("arguments"))
        for m in messages
        if m.get("role") == "assistant"
        for c in m.get("tool_calls") or []
    ]


def verify(
    messages: Sequence[dict[str, Any]],
    *,
    offered: Sequence[str],
    outcome: str,
    stop_reason: str | None,
    final_text: str,
    label: str | None = None,
    answer: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    workspace_root: str | Path | None = None,
) -> Verdict:
    """The verdict on one trajectory (record-format messages). `outcome` is the agent's (answered, loop,
    limit, error); `stop_reason` the teacher's last one."""
    problems: list[tuple[str, str]] = []
    calls = _calls(messages)
    for name, args in calls:
        if name not in offered:
            problems.append(("unknown-tool", f"called {name!r}, offered {', '.join(offered) or 'nothing'}"))
        else:
            bad = validate_arguments(name, args)
            if bad:
                problems.append(("invalid-arguments", f"{name}: {'; '.join(bad)}"))
    for m in messages:
        if m.get("role") == "tool" and str(m.get("content", "")).startswith("Error:"):
            problems.append(("tool-error", f"{m.get('name')}: {' '.join(str(m['content']).split())[:200]}"))
    if outcome != "answered" or stop_reason not in CLEAN_STOPS or not final_text.strip():
        why = (
            outcome
            if outcome != "answered"
            else (f"stop reason {stop_reason}" if stop_reason not in CLEAN_STOPS else "empty final answer")
        )
        problems.append(("unclean-end", why))
    if answer and facts is not None:
        from ..bench.answers import check_answer

        correct, why = check_answer(answer, final_text, facts, workspace_root)
        if correct is False:
            problems.append(("wrong-answer", why))
    if label in ("tool", "direct"):
        decided = "tool" if calls else "direct"
        if decided != label:
            problems.append(
                (
                    "decision-mismatch",
                    f"labelled {label}, the teacher {'called a tool' if calls else 'answered directly'}",
                )
            )
    if not problems:
        return Verdict.accept()
    problems.sort(key=lambda p: RULES.index(p[0]))
    return Verdict.reject(problems[0][0], "; ".join(f"{r}: {d}" for r, d in problems))
