"""Tool calls from generated text.

A local model writes its tool calls as text. The formats recognised, in one turn and mixed:

- Qwen2.5 / Hermes: ``<tool_call>\\n{"name": "grep", "arguments": {...}}\\n</tool_call>`` (what our chat
  template trains), also with a Python-literal body (``{'name': 'grep', 'arguments': {...}}``) and with a
  missing closing tag at the very end of the text (generation stopped right after the call);
- a fenced block: ```` ```json {"name": ..., "arguments": ...} ``` ```` (only when the object has a name
  and arguments: any other fenced block is just text);
- Qwen3-Coder XML: ``<function=NAME><parameter=KEY>VALUE</parameter></function>``, optionally inside
  ``<tool_call>`` tags; values are converted by the tool's JSON schema when it is known;
- bare JSON objects ``{"name": <offered tool>, "arguments": {...}}``, each opening a line (the whole reply,
  or calls among prose: what Qwen2.5-Coder writes with its stock template).

`pseudo_calls` finds call-shaped objects whatever they name: the benchmark counts one naming no
offered tool as a hallucinated call, not as a direct answer.

`parse_tool_calls` never raises: what it cannot read comes back in `ParseResult.errors` as sentences
the model can act on (the agent sends them back as a retry prompt, see `retry_message`).
"""

from __future__ import annotations

import ast
import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ..schema import ToolCall

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

# Text that, once seen in a streamed reply, may begin a tool call: streaming holds back from there.
CALL_MARKERS: tuple[str, ...] = (TOOL_CALL_OPEN, "<function=", "```")

_TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.S)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z_]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
# Names stop at '<' too: otherwise a run of unclosed "<function=" scans to the end once per opener.
_FUNCTION_RE = re.compile(r"<function=([^<>\s]+)\s*>(.*?)(?:</function>|\Z)", re.S)
_PARAMETER_RE = re.compile(r"<parameter=([^<>\s]+)\s*>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.S)

MAX_ERRORS = 10  # sentences kept in ParseResult.errors
MAX_BARE_TRIES = 64  # line-opening "{" tried as bare JSON calls per reply

FORMAT_HINT = '<tool_call>\n{"name": <tool name>, "arguments": {<arguments as a JSON object>}}\n</tool_call>'


ParsedCall = ToolCall  # the name agent/__init__.py exports


@dataclass
class ParseResult:
    """What a reply says: `content` (the text outside the calls, stripped), `calls`, and `errors`
    (one sentence per malformed call; empty when everything was understood)."""

    content: str
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    raw: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


def _schema_index(tools: Iterable[dict] | None) -> dict[str, dict]:
    """name -> parameters schema, from OpenAI-style tool dicts (or bare function dicts)."""
    out: dict[str, dict] = {}
    for t in tools or ():
        fn = t.get("function", t) if isinstance(t, dict) else {}
        if isinstance(fn, dict) and fn.get("name"):
            out[fn["name"]] = fn.get("parameters") or {}
    return out


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_object(body: str) -> tuple[Any, str | None]:
    """Parse a call body as JSON, else as a Python literal. Returns (value, error)."""
    body = body.strip()
    if body.startswith("```"):  # a fence inside the tags
        body = re.sub(r"^```[A-Za-z_]*\s*", "", body)
        body = body[:-3].rstrip() if body.endswith("```") else body
    try:
        return json.loads(body), None
    except json.JSONDecodeError as e:
        json_error = f"{e.msg} at line {e.lineno} column {e.colno}"
    except (ValueError, RecursionError) as e:  # the int digit limit; nesting deeper than the stack
        return None, f"{type(e).__name__}: {str(e).split(';')[0]}"
    try:
        return ast.literal_eval(body), None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    # A common slip: one closing brace too many or too few at the very end.
    for fixed in (body[:-1], body + "}"):
        try:
            return json.loads(fixed), None
        except (ValueError, RecursionError):
            continue
    return None, json_error


def _call_from_object(obj: Any, where: str) -> tuple[ToolCall | None, str | None]:
    if not isinstance(obj, dict):
        return None, f'{where}: expected a JSON object with "name" and "arguments", got {type(obj).__name__}'
    if "function" in obj and isinstance(obj["function"], dict) and "name" not in obj:
        obj = obj["function"]  # OpenAI shape {"type": "function", "function": {...}}
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, f'{where}: the call has no "name" (a tool name string)'
    args = obj.get("arguments", obj.get("parameters", obj.get("args", {})))
    if isinstance(args, str):  # double-encoded arguments: decode once
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as e:
            return None, f'{where}: "arguments" of {name} is a string that is not valid JSON ({e.msg})'
        except (ValueError, RecursionError) as e:
            return None, f'{where}: "arguments" of {name} cannot be read ({type(e).__name__})'
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None, f'{where}: "arguments" of {name} must be a JSON object, got {type(args).__name__}'
    if not all(isinstance(k, str) for k in args):
        return None, f"{where}: the argument names of {name} must be strings"
    return ToolCall.of(name.strip(), args), None


def _convert_value(raw: str, schema: dict | None) -> Any:
    """A Qwen3-XML parameter value, typed by its JSON schema (strings stay verbatim)."""
    value = raw[1:] if raw.startswith("\n") else raw
    value = value[:-1] if value.endswith("\n") else value
    types = (schema or {}).get("type")
    types = types if isinstance(types, list) else [types] if types else []
    if not types or "string" in types:
        return value
    text = value.strip()
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return value
    if "integer" in types and isinstance(parsed, float) and parsed.is_integer():
        parsed = int(parsed)
    return parsed


def _xml_calls(body: str, schemas: dict[str, dict], where: str) -> tuple[list[ToolCall], list[str]]:
    calls, errors = [], []
    for m in _FUNCTION_RE.finditer(body):
        name = m.group(1).strip()
        props = (schemas.get(name) or {}).get("properties") or {}
        args = {}
        for p in _PARAMETER_RE.finditer(m.group(2)):
            key = p.group(1).strip()
            args[key] = _convert_value(p.group(2), props.get(key))
        leftover = _PARAMETER_RE.sub("", m.group(2)).strip()
        if leftover and not args:
            errors.append(f"{where}: <function={name}> has text outside <parameter=...> tags: {_short(leftover)!r}")
            continue
        calls.append(ToolCall.of(name, args))
    return calls, errors


def parse_tool_calls(text: str, tools: Sequence[dict] | None = None) -> ParseResult:
    """Find every tool call in `text` (see the module docstring for the formats). Never raises."""
    try:
        return _parse_tool_calls(text, tools)
    except Exception as e:  # noqa: BLE001 - the promise above; the sentence goes back to the model
        return ParseResult(
            content=text if isinstance(text, str) else "",
            raw=text if isinstance(text, str) else "",
            errors=[f"the reply could not be read ({type(e).__name__}); write each call as {FORMAT_HINT}"],
        )


class _Covered:
    """Spans already taken by earlier passes, merged and sorted: `covers(i)` in O(log n) (the passes
    below ask it once per match, which was quadratic on replies with thousands of calls)."""

    def __init__(self, spans: Sequence[tuple[int, int]]):
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]

    def covers(self, i: int) -> bool:
        k = bisect.bisect_right(self._starts, i) - 1
        return k >= 0 and i < self._ends[k]


def _parse_tool_calls(text: str, tools: Sequence[dict] | None) -> ParseResult:
    schemas = _schema_index(tools)
    calls: list[ToolCall] = []
    errors: list[str] = []
    spans: list[tuple[int, int]] = []
    n = 0

    def add(call: ToolCall | None, error: str | None) -> None:
        if call is not None:
            calls.append(call)
        if error:
            errors.append(error)

    # 1. <tool_call> blocks (JSON, Python literal, or Qwen3 XML inside)
    for m in _TOOL_CALL_RE.finditer(text):
        n += 1
        where = f"tool call {n}"
        body = m.group(1)
        spans.append(m.span())
        if "<function=" in body:
            found, errs = _xml_calls(body, schemas, where)
            calls.extend(found)
            errors.extend(errs)
            if not found and not errs:
                errors.append(f"{where}: <function=...> is not closed properly")
            continue
        if not body.strip():
            errors.append(f'{where}: <tool_call> is empty; put {{"name": ..., "arguments": {{...}}}} inside it')
            continue
        obj, err = _load_object(body)
        if err:
            errors.append(f"{where}: the body of <tool_call> is not valid JSON ({err}): {_short(body)!r}")
            continue
        add(*_call_from_object(obj, where))
    if TOOL_CALL_CLOSE in text and not spans:  # no <tool_call> matched, so every close is stray
        errors.append(f"found {TOOL_CALL_CLOSE} without a matching {TOOL_CALL_OPEN}")

    # 2. bare Qwen3 XML calls outside <tool_call>
    taken = _Covered(spans)
    for m in _FUNCTION_RE.finditer(text):
        if taken.covers(m.start()):
            continue
        n += 1
        found, errs = _xml_calls(m.group(0), schemas, f"tool call {n}")
        calls.extend(found)
        errors.extend(errs)
        spans.append(m.span())

    # 3. fenced JSON blocks that are calls
    taken = _Covered(spans)
    for m in _FENCE_RE.finditer(text):
        if taken.covers(m.start()):
            continue
        lang, body = m.group(1).lower(), m.group(2).strip()
        if lang not in ("", "json", "tool_call", "tool", "python") or not body.startswith("{"):
            continue
        obj, err = _load_object(body)
        looks_like_call = bool(re.search(r"[\"']name[\"']\s*:", body)) and bool(
            re.search(r"[\"'](arguments|parameters)[\"']\s*:", body)
        )
        if err:
            if looks_like_call:
                n += 1
                errors.append(f"tool call {n}: the fenced block is not valid JSON ({err}): {_short(body)!r}")
                spans.append(m.span())
            continue
        if isinstance(obj, dict) and "name" in obj and ("arguments" in obj or "parameters" in obj):
            n += 1
            add(*_call_from_object(obj, f"tool call {n}"))
            spans.append(m.span())

    # 4. bare JSON calls naming an offered tool: the whole reply (read leniently), else each opening a line
    if not spans:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            obj, err = _load_object(stripped)
            if _is_call_shaped(obj) and obj.get("name") in schemas:
                n += 1
                add(*_call_from_object(obj, f"tool call {n}"))
                spans.append((0, len(text)))
    if not spans:
        for start, end, obj in _bare_objects(text):
            if _is_call_shaped(obj) and obj.get("name") in schemas:
                n += 1
                add(*_call_from_object(obj, f"tool call {n}"))
                spans.append((start, end))

    kept, pos = [], 0
    for a, b in sorted(spans):
        if a > pos:
            kept.append(text[pos:a])
        pos = max(pos, b)
    content = "".join(kept) + text[pos:]
    content = re.sub(r"\n{3,}", "\n\n", content).strip()
    if len(errors) > MAX_ERRORS:  # the retry prompt goes back to the model: a few sentences, not thousands
        errors = errors[:MAX_ERRORS] + [f"... and {len(errors) - MAX_ERRORS} more calls that could not be read"]
    return ParseResult(content=content, calls=calls, errors=errors, raw=text)


def _bare_objects(text: str) -> list[tuple[int, int, dict]]:
    """(start, end, object) of each JSON object that opens a line of `text` (the first MAX_BARE_TRIES
    openers: an unclosed one is read to the end, so a reply of many would be quadratic)."""
    found, decoder, pos = [], json.JSONDecoder(), 0
    for k, m in enumerate(re.finditer(r"^[ \t]*\{", text, re.M)):
        start = m.end() - 1
        if k >= MAX_BARE_TRIES:
            break
        if start < pos:
            continue
        try:
            obj, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            found.append((start, end, obj))
            pos = end
    return found


def _is_call_shaped(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("name"), str) and ("arguments" in obj or "parameters" in obj)


def pseudo_calls(text: str) -> list[ToolCall]:
    """Call-shaped JSON objects in `text` (bare at a line start, or fenced), whatever tool they name: what
    a reply that the agent took for an answer still tried to call."""
    text = text or ""
    objs, fences = [], []
    for m in _FENCE_RE.finditer(text):
        fences.append(m.span())
        obj, err = _load_object(m.group(2))
        if not err and m.group(2).strip().startswith("{"):
            objs.append(obj)
    inside = _Covered(fences)
    objs += [obj for start, _, obj in _bare_objects(text) if not inside.covers(start)]
    calls = []
    for obj in objs:
        if _is_call_shaped(obj):
            call, _ = _call_from_object(obj, "pseudo-call")
            if call is not None:
                calls.append(call)
    return calls


def retry_message(errors: Sequence[str], tool_names: Iterable[str] | None = None) -> str:
    """What the model is told when its tool calls could not be read."""
    names = ", ".join(sorted(tool_names or ()))
    lines = ["Your reply contained a tool call that could not be read:"]
    lines += [f"- {e}" for e in errors]
    lines.append(f"Write each call exactly as\n{FORMAT_HINT}")
    if names:
        lines.append(f"Available tools: {names}.")
    lines.append("Or, if no tool is needed, answer in plain text.")
    return "\n".join(lines)


def holdback(text: str, markers: Sequence[str] = CALL_MARKERS) -> int:
    """Index in `text` from which streaming must wait: the first marker, or a trailing partial marker."""
    first = min((i for i in (text.find(m) for m in markers) if i >= 0), default=-1)
    if first >= 0:
        return first
    longest = max((len(m) for m in markers), default=1)
    for k in range(min(len(text), longest - 1), 0, -1):
        tail = text[-k:]
        if any(m.startswith(tail) for m in markers):
            return len(text) - k
    return len(text)
