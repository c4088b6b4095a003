"""Converters from public (and our older) tool-calling formats into the one record format.

Every converter maps one source item to one Record: tool schemas converted to OpenAI-style JSON
schema, tool-call arguments decoded to JSON objects, `meta.source` = the format name, and
`meta.label` / `meta.category` inferred. An argument string that does not parse is an error that
names the file, the line and the reason; it never becomes `{}`. With `skip_invalid`, bad items go
to `OUT.rejects.jsonl` (with the reason) and the rest are written.

Formats: legacy, glaive, hermes, xlam, openai, bfcl, when2call (see FORMATS and docs/data.md).
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..io import InputError, check_serialisable, dumps_line, parse_json_line, write_jsonl
from ..schema import Record
from .common import build_record, infer_label, iter_json_items, stable_id, tool_call
from .validate import ERROR, Located, check_record

FORMATS: dict[str, str] = {
    "legacy": "older in-house records: tool calls with a 'tool' key, or ```json blocks in assistant text",
    "glaive": "glaive-function-calling-v2: SYSTEM/USER/ASSISTANT text, <functioncall> with quoted arguments",
    "hermes": "ShareGPT conversations (system/human/gpt/tool) with <tools> and <tool_call> Python literals",
    "xlam": "xLAM function-calling-60k: query, tools and answers as JSON strings",
    "openai": "OpenAI chat messages with tool_calls whose arguments are JSON strings",
    "bfcl": "BFCL question + function (+ possible_answer ground truth)",
    "when2call": "When2Call MCQ/SFT/preference rows: direct / tool_call / request_for_info / cannot_answer",
}

# Where a format's own system prompt is only tool boilerplate, ours replaces it by default.
_KEEP_SOURCE_SYSTEM = {"legacy", "openai"}

OUR_TOOL_CATEGORY = {"grep": "search", "read_file": "read", "list_files": "structure", "run_command": "run",
                     "write_file": "write"}


@dataclass
class Ctx:
    fmt: str
    path: Path
    line: int
    system: str  # "default" | "source"
    answers: dict[str, Any] = field(default_factory=dict)  # bfcl: id -> ground truth
    bfcl_category: str | None = None

    def error(self, message: str, rule: str = "schema", record_id: str | None = None) -> InputError:
        return InputError(message, path=self.path, line=self.line, record_id=record_id, rule=rule)


# ---- schema normalisation --------------------------------------------------------------------

_TYPE_MAP = {
    "str": "string", "string": "string", "text": "string", "char": "string", "String": "string",
    "int": "integer", "integer": "integer", "long": "integer", "Integer": "integer", "Long": "integer",
    "float": "number", "double": "number", "number": "number", "Float": "number", "Double": "number",
    "decimal": "number",
    "bool": "boolean", "boolean": "boolean", "Boolean": "boolean",
    "list": "array", "array": "array", "tuple": "array", "set": "array", "List": "array", "Array": "array",
    "ArrayList": "array", "Tuple": "array", "Set": "array",
    "dict": "object", "object": "object", "Dict": "object", "HashMap": "object", "Map": "object", "mapping": "object",
    "null": "null", "None": "null",
}


def _json_type(t: Any) -> tuple[str | None, dict[str, Any], bool]:
    """A source type name -> (JSON schema type or None for 'any', extra schema, optional?)."""
    if isinstance(t, list):  # JSON schema union
        types = [_json_type(x)[0] for x in t]
        return (None if None in types else types[0]), ({"type": types} if None not in types and len(types) > 1
                                                        else {}), False
    if not isinstance(t, str):
        return None, {}, False
    s = t.strip()
    optional = False
    if re.search(r",\s*optional$", s, re.IGNORECASE):
        s, optional = re.sub(r",\s*optional$", "", s, flags=re.IGNORECASE).strip(), True
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.*)\]", s)
    if m:
        s, optional = m.group(1).strip(), True
    m = re.fullmatch(r"(?:typing\.)?Union\[(.*)\]", s)
    if m:
        parts = [p.strip() for p in _split_top(m.group(1))]
        if "None" in parts:
            optional = True
            parts = [p for p in parts if p != "None"]
        s = parts[0] if parts else "any"
    m = re.fullmatch(r"(?:typing\.)?(List|list|Set|set|Tuple|tuple|Sequence|Iterable)\[(.*)\]", s)
    if m:
        inner, _, _ = _json_type(m.group(2).split(",")[0])
        return "array", ({"items": {"type": inner}} if inner else {}), optional
    m = re.fullmatch(r"(?:typing\.)?(Dict|dict|Mapping)\[.*\]", s)
    if m:
        return "object", {}, optional
    if s in ("any", "Any", "", "object?", "Callable", "function"):
        return None, {}, optional
    return _TYPE_MAP.get(s, _TYPE_MAP.get(s.lower())), {}, optional


def _split_top(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


def normalize_schema(schema: Any) -> dict[str, Any]:
    """A property schema with source type names (dict, float, str, List[int], any...) -> JSON schema."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type":
            jt, extra, _ = _json_type(v)
            if jt:
                out["type"] = jt
            out.update({ek: ev for ek, ev in extra.items() if ek not in schema})
        elif k == "properties" and isinstance(v, dict):
            out["properties"] = {pk: normalize_schema(pv) for pk, pv in v.items()}
        elif k == "items":
            out["items"] = normalize_schema(v) if isinstance(v, dict) else {}
        elif k == "required":
            if isinstance(v, list):
                out["required"] = [str(x) for x in v]
        elif k in ("anyOf", "oneOf", "allOf") and isinstance(v, list):
            out[k] = [normalize_schema(x) for x in v]
        elif k == "additionalProperties" and isinstance(v, dict):
            out[k] = normalize_schema(v)
        elif k == "enum" and not isinstance(v, list):
            continue
        elif k == "optional":
            continue
        else:
            out[k] = v
    if out.get("type") == "array" and isinstance(out.get("enum"), list) and not any(
            isinstance(x, list) for x in out["enum"]):
        # BFCL puts the allowed item values on the array itself; they belong to its items
        items = dict(out.get("items") or {})
        items.setdefault("enum", out.pop("enum"))
        out["items"] = items
    if out.get("type") == "object" and "properties" in out:
        req = out.get("required")
        if isinstance(req, list):
            out["required"] = [r for r in req if r in out["properties"]]
            if not out["required"]:
                del out["required"]
    return out


def normalize_parameters(params: Any) -> dict[str, Any]:
    """Function parameters in any of the formats -> an object JSON schema.

    JSON-schema-like ({"type": "object"|"dict", "properties": ...}) is normalised recursively;
    xLAM-like ({"param": {"type": "str", "description": ..., "default": ...}}) becomes properties
    with `required` = the parameters without a default that are not optional."""
    if params is None:
        return {"type": "object", "properties": {}}
    if isinstance(params, str):
        params = _loads_any(params)
    if not isinstance(params, dict):
        raise ValueError(f"parameters must be an object, got {type(params).__name__}")
    if "properties" in params or params.get("type") in ("object", "dict"):
        out = normalize_schema(params)
        out["type"] = "object"
        out.setdefault("properties", {})
        return out
    props: dict[str, Any] = {}
    required = []
    for name, spec in params.items():
        if not isinstance(spec, dict):
            spec = {"type": spec}
        jt, extra, optional = _json_type(spec.get("type"))
        prop: dict[str, Any] = {}
        if jt:
            prop["type"] = jt
        prop.update(extra)
        for k in ("description", "enum", "items"):
            if k in spec and k not in prop:
                prop[k] = spec[k]
        if "default" in spec and spec["default"] not in ("", None):
            prop["default"] = spec["default"]
        explicit = spec.get("required")
        if explicit is True or (explicit is None and "default" not in spec and not optional):
            required.append(name)
        props[name] = prop
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def to_openai_tool(fn: Any) -> dict[str, Any]:
    """{name, description, parameters} or {"type": "function", "function": {...}} -> OpenAI style."""
    if isinstance(fn, str):
        fn = _loads_any(fn)
    if not isinstance(fn, dict):
        raise ValueError(f"a tool must be an object, got {type(fn).__name__}")
    if fn.get("type") == "function" and isinstance(fn.get("function"), dict):
        fn = fn["function"]
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("a tool has no name")
    out: dict[str, Any] = {"name": name}
    if fn.get("description"):
        out["description"] = str(fn["description"])
    out["parameters"] = normalize_parameters(fn.get("parameters", fn.get("arguments")))
    return {"type": "function", "function": out}


# ---- argument parsing ------------------------------------------------------------------------

def _loads_any(text: str) -> Any:
    """JSON, else a Python literal (single quotes, True/None): Hermes and xLAM bodies are sometimes either."""
    try:
        return parse_json_line(text)
    except (ValueError, TypeError):
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"neither JSON nor a Python literal ({type(e).__name__}: {e})") from None


def parse_arguments(value: Any, ctx: Ctx, name: str) -> dict[str, Any]:
    """Arguments as a dict: objects as they are, JSON (or Python-literal) strings decoded. Never {} on failure."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            decoded = parse_json_line(value)
        except ValueError as e:
            try:
                decoded = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
                why = str(e)[len("invalid JSON ("):-1] if str(e).startswith("invalid JSON (") else str(e)
                raise ctx.error(f"arguments of {name!r} are not valid JSON ({why}): {value[:80]!r}",
                                "bad-arguments") from None
        if isinstance(decoded, str):  # double-encoded
            return parse_arguments(decoded, ctx, name)
        if not isinstance(decoded, dict):
            raise ctx.error(f"arguments of {name!r} decode to {type(decoded).__name__}, not an object",
                            "bad-arguments")
        return decoded
    raise ctx.error(f"arguments of {name!r} are a {type(value).__name__}, not an object", "bad-arguments")


def _system_message(ctx: Ctx, source_text: str | None) -> dict[str, str]:
    from ..prompting import DEFAULT_SYSTEM_PROMPT

    text = (source_text or "").strip()
    if ctx.system == "source" and text:
        return {"role": "system", "content": text}
    return {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}


def infer_category(messages: list[dict[str, Any]], label: str) -> str:
    if label == "tool":
        first_turn = next((m["tool_calls"] for m in messages if m.get("role") == "assistant" and m.get("tool_calls")),
                          [])
        names = [c["function"]["name"] for c in first_turn]
        if names and all(n in OUR_TOOL_CATEGORY for n in names):
            return OUR_TOOL_CATEGORY[names[0]]
        turns = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        if len(names) > 1:
            return "parallel_function_call"
        return "multi_step_function_call" if turns > 1 else "function_call"
    return {"direct": "general", "clarify": "clarify", "refuse": "refuse"}[label]


def _finish(ctx: Ctx, messages: list[dict[str, Any]], tools: list[dict[str, Any]], rid: str, *,
            label: str | None = None, category: str | None = None, **meta: Any) -> Record:
    label = label or infer_label(messages)
    category = category or infer_category(messages, label)
    return build_record(messages, tools, id=rid, source=ctx.fmt, category=category, label=label,
                        path=ctx.path, line=ctx.line, **meta)


def _rid(ctx: Ctx, obj: Any) -> str:
    src = None
    if isinstance(obj, dict):
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        src = obj.get("id") or obj.get("uuid") or meta.get("id")
    if src is not None and str(src).strip():
        return f"{ctx.fmt}-{src}"
    return stable_id(ctx.fmt, ctx.path.name, ctx.line)


def _tools(ctx: Ctx, raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = _loads_any(raw) if raw.strip() else []
        except ValueError as e:
            raise ctx.error(f"tools are not valid JSON: {e}", "tool-schema") from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ctx.error(f"tools must be a list, got {type(raw).__name__}", "tool-schema")
    out = []
    for i, t in enumerate(raw):
        try:
            out.append(to_openai_tool(t))
        except ValueError as e:
            raise ctx.error(f"tools[{i}]: {e}", "tool-schema") from None
    return out


def _text(content: Any) -> str:
    """Message content: a string, null, or a list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


# ---- legacy ------------------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|tool|tool_call)?\s*\n(.*?)\n?```", re.DOTALL)


def _legacy_call(c: Any, ctx: Ctx) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise ctx.error(f"a tool call must be an object, got {type(c).__name__}")
    fn = c.get("function") if isinstance(c.get("function"), dict) else c
    name = fn.get("name") or fn.get("tool")
    if not isinstance(name, str) or not name:
        raise ctx.error("a tool call has neither 'tool' nor 'name'")
    raw = fn.get("arguments", fn.get("args", fn.get("parameters", fn.get("input"))))
    return tool_call(name, parse_arguments(raw, ctx, name), c.get("id"))


def convert_legacy(obj: Any, ctx: Ctx) -> Record:
    """{"messages": [...]} where calls are {"tool": name, "arguments": ...} (in `tool_calls`, or as
    ```json blocks in the assistant text); tool results may name the tool with `tool`."""
    if not isinstance(obj, dict):
        raise ctx.error(f"expected an object, got {type(obj).__name__}")
    raw_msgs = obj.get("messages") or obj.get("conversation")
    if not isinstance(raw_msgs, list) or not raw_msgs:
        raise ctx.error("no 'messages' list")
    messages: list[dict[str, Any]] = []
    source_system = None
    for i, m in enumerate(raw_msgs):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        role = {"human": "user", "bot": "assistant", "function": "tool", "observation": "tool"}.get(
            m.get("role"), m.get("role"))
        content = _text(m.get("content"))
        if role == "system":
            if i == 0:
                source_system = content
                continue
            messages.append({"role": "system", "content": content})
        elif role == "user":
            messages.append({"role": "user", "content": content})
        elif role == "assistant":
            calls = [_legacy_call(c, ctx) for c in (m.get("tool_calls") or [])]
            if not calls:
                for block in _FENCE.finditer(content):
                    try:
                        body = json.loads(block.group(1))
                    except json.JSONDecodeError as e:
                        if re.search(r'"(tool|name)"\s*:', block.group(1)):
                            raise ctx.error(f"messages[{i}]: a ```json tool call is not valid JSON ({e.msg} at "
                                            f"line {e.lineno} column {e.colno})", "bad-arguments") from None
                        continue
                    bodies = body if isinstance(body, list) else [body]
                    if all(isinstance(b, dict) and ("tool" in b or "name" in b) for b in bodies):
                        calls.extend(_legacy_call(b, ctx) for b in bodies)
                        content = content.replace(block.group(0), "")
            msg: dict[str, Any] = {"role": "assistant", "content": content.strip()}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)
        elif role == "tool":
            tm: dict[str, Any] = {"role": "tool", "content": content}
            name = m.get("name") or m.get("tool")
            if name:
                tm["name"] = name
            if m.get("tool_call_id"):
                tm["tool_call_id"] = m["tool_call_id"]
            messages.append(tm)
        else:
            raise ctx.error(f"messages[{i}] has unknown role {m.get('role')!r}")
    tools = _tools(ctx, obj.get("tools"))
    if not tools:
        from ..tools import TOOL_NAMES, tool_schemas

        used = {c["function"]["name"] for m in messages for c in m.get("tool_calls") or []}
        if used <= set(TOOL_NAMES):
            tools = tool_schemas()
    _name_results(messages)
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    label = obj.get("label") or meta.get("label")
    category = obj.get("category") or meta.get("category")
    return _finish(ctx, [_system_message(ctx, source_system)] + messages, tools, _rid(ctx, obj),
                   label=label, category=category)


def _name_results(messages: list[dict[str, Any]]) -> None:
    """Give each tool result the name of the call it answers (by tool_call_id, else by position)."""
    pending: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "assistant":
            pending = list(m.get("tool_calls") or [])
        elif m["role"] == "tool" and pending:
            call = None
            if m.get("tool_call_id"):
                call = next((c for c in pending if c.get("id") == m["tool_call_id"]), None)
            call = call or pending[0]
            pending.remove(call)
            m.setdefault("name", call["function"]["name"])


# ---- glaive ------------------------------------------------------------------------------------

_GLAIVE_TURN = re.compile(r"(?:^|\n+)\s*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):\s?")
_GLAIVE_CALL = re.compile(r"<functioncall>\s*(.*)$", re.DOTALL)
_GLAIVE_QUOTED = re.compile(r'^\{\s*"name"\s*:\s*"(?P<name>[^"]+)"\s*,\s*"arguments"\s*:\s*\'(?P<args>.*)\'\s*\}\s*$',
                            re.DOTALL)


def _json_objects(text: str) -> Iterator[Any]:
    dec = json.JSONDecoder()
    i = text.find("{")
    while i >= 0:
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        yield obj
        i = text.find("{", end)


def _glaive_call(body: str, ctx: Ctx) -> dict[str, Any]:
    body = body.replace("<|endoftext|>", "").strip()
    m = _GLAIVE_QUOTED.match(body)
    if m:
        name = m.group("name")
        return tool_call(name, parse_arguments(m.group("args"), ctx, name))
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(body)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ctx.error(f"<functioncall> body does not parse: {body[:80]!r}", "bad-arguments") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ctx.error("<functioncall> body has no name", "bad-arguments")
    return tool_call(obj["name"], parse_arguments(obj.get("arguments"), ctx, obj["name"]))


def convert_glaive(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("chat"), str):
        raise ctx.error("expected an object with 'system' and 'chat' strings")
    system = obj.get("system") or ""
    system = re.sub(r"^\s*SYSTEM:\s*", "", system)
    tools = []
    for fn in _json_objects(system):
        try:
            tools.append(to_openai_tool(fn))
        except ValueError as e:
            raise ctx.error(f"function definition in the system prompt: {e}", "tool-schema") from None
    intro = system.split("{", 1)[0].strip() if tools else system.strip()
    parts = _GLAIVE_TURN.split(obj["chat"])
    messages: list[dict[str, Any]] = []
    last_call: str | None = None
    for role, text in zip(parts[1::2], parts[2::2]):
        text = text.replace("<|endoftext|>", "").strip()
        if role == "USER":
            messages.append({"role": "user", "content": text})
        elif role == "ASSISTANT":
            m = _GLAIVE_CALL.search(text)
            if m:
                call = _glaive_call(m.group(1), ctx)
                last_call = call["function"]["name"]
                messages.append({"role": "assistant", "content": text[:m.start()].strip(), "tool_calls": [call]})
            else:
                messages.append({"role": "assistant", "content": text})
        elif role == "FUNCTION RESPONSE":
            msg = {"role": "tool", "content": text}
            if last_call:
                msg["name"] = last_call
            messages.append(msg)
    if not messages:
        raise ctx.error("no USER/ASSISTANT turns in 'chat'")
    return _finish(ctx, [_system_message(ctx, intro)] + messages, tools, _rid(ctx, obj))


# ---- hermes ------------------------------------------------------------------------------------

_TOOLS_BLOCK = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_TOOL_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)


def _hermes_tools(text: str, ctx: Ctx) -> list[Any]:
    body = text.strip()
    if not body:
        return []
    try:
        parsed = _loads_any(body)
    except ValueError:
        parsed = None
    if parsed is None:  # several objects one after another
        items = []
        for chunk in re.split(r"\n(?=\s*[\[{])", body):
            chunk = chunk.strip()
            if chunk:
                try:
                    items.append(_loads_any(chunk))
                except ValueError as e:
                    raise ctx.error(f"<tools> block does not parse: {e}", "tool-schema") from None
        parsed = items
    return parsed if isinstance(parsed, list) else [parsed]


def _hermes_call(body: str, ctx: Ctx) -> dict[str, Any]:
    try:
        obj = _loads_any(body.strip())
    except ValueError as e:
        raise ctx.error(f"<tool_call> body does not parse: {e}: {body.strip()[:80]!r}", "bad-arguments") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ctx.error("<tool_call> body has no name", "bad-arguments")
    return tool_call(obj["name"], parse_arguments(obj.get("arguments"), ctx, obj["name"]))


def convert_hermes(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("conversations"), list):
        raise ctx.error("expected an object with a 'conversations' list")
    raw_tools: list[Any] = []
    if obj.get("tools"):
        raw_tools = obj["tools"] if isinstance(obj["tools"], list) else _hermes_tools(str(obj["tools"]), ctx)
    messages: list[dict[str, Any]] = []
    source_system = None
    for i, turn in enumerate(obj["conversations"]):
        if not isinstance(turn, dict):
            raise ctx.error(f"conversations[{i}] is not an object")
        who = turn.get("from", turn.get("role"))
        value = _text(turn.get("value", turn.get("content")))
        if who == "system":
            # the prompt usually says "within <tools> </tools> XML tags" before the real block: take the
            # blocks that hold something
            for block in _TOOLS_BLOCK.finditer(value):
                if block.group(1).strip() and not raw_tools:
                    raw_tools = _hermes_tools(block.group(1), ctx)
            source_system = _TOOLS_BLOCK.sub("", value).strip()
        elif who in ("human", "user"):
            messages.append({"role": "user", "content": value})
        elif who in ("gpt", "assistant"):
            calls = [_hermes_call(b, ctx) for b in _TOOL_CALL.findall(value)]
            msg: dict[str, Any] = {"role": "assistant", "content": _TOOL_CALL.sub("", value).strip()}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)
        elif who in ("tool", "function", "observation"):
            bodies = _TOOL_RESPONSE.findall(value) or [value]
            for b in bodies:
                b = b.strip()
                tm: dict[str, Any] = {"role": "tool", "content": b}
                try:
                    parsed = _loads_any(b)
                except ValueError:
                    parsed = None
                if isinstance(parsed, dict) and "name" in parsed and "content" in parsed:
                    tm["name"] = str(parsed["name"])
                    c = parsed["content"]
                    tm["content"] = c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)
                messages.append(tm)
        else:
            raise ctx.error(f"conversations[{i}] has unknown 'from' {who!r}")
    tools = []
    for k, t in enumerate(raw_tools):
        try:
            tools.append(to_openai_tool(t))
        except ValueError as e:
            raise ctx.error(f"tools[{k}]: {e}", "tool-schema") from None
    _name_results(messages)
    return _finish(ctx, [_system_message(ctx, source_system)] + messages, tools, _rid(ctx, obj))


# ---- xlam --------------------------------------------------------------------------------------

def _refusal(tools: list[dict[str, Any]]) -> str:
    names = ", ".join(t["function"]["name"] for t in tools)
    if not names:
        return "I can't do that: no tool is available for it, and it needs one."
    return f"I can't do that with the available tools ({names}): none of them fits this request."


def convert_xlam(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict) or "query" not in obj:
        raise ctx.error("expected an object with 'query', 'tools' and 'answers'")
    tools = _tools(ctx, obj.get("tools"))
    raw = obj.get("answers", "[]")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except json.JSONDecodeError as e:
            raise ctx.error(f"'answers' is not valid JSON ({e.msg} at column {e.colno})", "bad-arguments") from None
    if not isinstance(raw, list):
        raise ctx.error("'answers' must be a list of calls")
    calls = []
    for a in raw:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise ctx.error("an answer has no name", "bad-arguments")
        calls.append(tool_call(a["name"], parse_arguments(a.get("arguments"), ctx, a["name"])))
    messages: list[dict[str, Any]] = [_system_message(ctx, None), {"role": "user", "content": str(obj["query"])}]
    if calls:
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        return _finish(ctx, messages, tools, _rid(ctx, obj))
    messages.append({"role": "assistant", "content": _refusal(tools)})
    return _finish(ctx, messages, tools, _rid(ctx, obj), label="refuse", category="irrelevance")


# ---- openai ------------------------------------------------------------------------------------

def convert_openai(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise ctx.error("expected an object with a 'messages' list")
    raw_tools = obj.get("tools") or obj.get("functions")
    tools = _tools(ctx, raw_tools)
    messages: list[dict[str, Any]] = []
    source_system = None
    names_by_id: dict[str, str] = {}
    for i, m in enumerate(obj["messages"]):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        role = m.get("role")
        content = _text(m.get("content"))
        if role in ("system", "developer"):
            if not messages and source_system is None:
                source_system = content
            else:
                messages.append({"role": "system", "content": content})
        elif role == "user":
            messages.append({"role": "user", "content": content})
        elif role == "assistant":
            calls = []
            for c in m.get("tool_calls") or []:
                fn = c.get("function") if isinstance(c, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise ctx.error(f"messages[{i}]: a tool call has no function name", "bad-arguments")
                call = tool_call(fn["name"], parse_arguments(fn.get("arguments"), ctx, fn["name"]), c.get("id"))
                if c.get("id"):
                    names_by_id[c["id"]] = fn["name"]
                calls.append(call)
            fc = m.get("function_call")
            if isinstance(fc, dict) and fc.get("name"):
                calls.append(tool_call(fc["name"], parse_arguments(fc.get("arguments"), ctx, fc["name"])))
            msg: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)
        elif role in ("tool", "function"):
            tm: dict[str, Any] = {"role": "tool", "content": content}
            tid = m.get("tool_call_id")
            if tid:
                tm["tool_call_id"] = tid
            name = m.get("name") or names_by_id.get(tid or "")
            if name:
                tm["name"] = name
            messages.append(tm)
        else:
            raise ctx.error(f"messages[{i}] has unknown role {role!r}")
    _name_results(messages)
    return _finish(ctx, [_system_message(ctx, source_system)] + messages, tools, _rid(ctx, obj))


# ---- bfcl --------------------------------------------------------------------------------------

_BFCL_UNSUPPORTED = ("multi_turn", "memory", "web_search", "format_sensitivity")


def bfcl_category(item_id: str) -> str:
    """'live_multiple_3-2-1' -> 'live_multiple', 'simple_python_12' -> 'simple_python'."""
    return re.sub(r"_\d+(?:-\d+)*$", "", item_id)


def _bfcl_choose(options: Any) -> tuple[bool, Any]:
    """(present, value) from a BFCL list of acceptable values: omitted when "" or None is acceptable (the
    parameter may be left out), else the first value. Dicts, also inside a chosen list, hold option lists."""
    if not isinstance(options, list):
        return True, options
    if any(v == "" or v is None for v in options):
        return False, None
    for v in options:
        return True, _bfcl_resolve(v)
    return False, None


def _bfcl_resolve(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: val for k, (present, val) in ((k, _bfcl_choose(o)) for k, o in v.items()) if present}
    if isinstance(v, list):
        return [_bfcl_resolve(x) if isinstance(x, dict) else x for x in v]
    return v


def load_bfcl_answers(path: str | os.PathLike) -> dict[str, Any]:
    answers = {}
    for _line, obj in iter_json_items(path):
        if isinstance(obj, dict) and "id" in obj:
            answers[str(obj["id"])] = obj.get("ground_truth")
    return answers


def convert_bfcl(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict) or "question" not in obj:
        raise ctx.error("expected an object with 'id', 'question' and 'function'")
    item_id = str(obj.get("id", ""))
    category = bfcl_category(item_id) if item_id else (ctx.bfcl_category or "bfcl")
    if any(category.startswith(u) for u in _BFCL_UNSUPPORTED) or "function" not in obj:
        raise ctx.error(f"BFCL category {category!r} is not supported (multi-turn, memory and web-search "
                        "items need an executable environment)", "unsupported")
    turns = obj["question"]
    flat = [m for t in turns for m in (t if isinstance(t, list) else [t])] if isinstance(turns, list) else []
    if not flat:
        raise ctx.error("'question' has no messages")
    tools = _tools(ctx, obj.get("function"))
    messages: list[dict[str, Any]] = [_system_message(ctx, None)]
    for m in flat:
        if not isinstance(m, dict) or m.get("role") not in ("user", "system", "assistant"):
            raise ctx.error("a question message is not {role, content}")
        if m["role"] == "system":
            messages[0] = _system_message(ctx, _text(m.get("content")))
        else:
            messages.append({"role": m["role"], "content": _text(m.get("content"))})
    rid = f"bfcl-{item_id}" if item_id else stable_id("bfcl", ctx.path.name, ctx.line)
    if "irrelevance" in category:
        messages.append({"role": "assistant", "content": _refusal(tools)})
        return _finish(ctx, messages, tools, rid, label="refuse", category=category)
    truth = ctx.answers.get(item_id)
    if truth is None:
        truth = obj.get("ground_truth")
    if truth is None:
        raise ctx.error(f"no ground truth for {item_id!r} (pass the possible_answer file)", "no-answer")
    if not isinstance(truth, list) or not truth:
        raise ctx.error("ground truth must be a non-empty list of calls", "bad-arguments")
    calls = []
    for entry in truth:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ctx.error("each ground-truth entry must be {function_name: {param: [options]}}", "bad-arguments")
        (name, params), = entry.items()
        if not isinstance(params, dict):
            raise ctx.error(f"ground truth of {name!r} is not an object", "bad-arguments")
        args = {}
        for k, options in params.items():
            present, value = _bfcl_choose(options)
            if present:
                args[k] = value
        calls.append(tool_call(name, args))
    messages.append({"role": "assistant", "content": "", "tool_calls": calls})
    return _finish(ctx, messages, tools, rid, category=category)


# ---- when2call ---------------------------------------------------------------------------------

WHEN2CALL_LABELS = {"direct": "direct", "tool_call": "tool", "request_for_info": "clarify", "cannot_answer": "refuse"}
_W2C_TOOLCALL = re.compile(r"<TOOLCALL>(.*?)</TOOLCALL>", re.DOTALL | re.IGNORECASE)


def _w2c_calls(value: Any, ctx: Ctx) -> list[dict[str, Any]]:
    if isinstance(value, str):
        m = _W2C_TOOLCALL.search(value)
        body = m.group(1) if m else value
        try:
            value = _loads_any(body.strip())
        except ValueError as e:
            raise ctx.error(f"tool_call answer does not parse: {e}", "bad-arguments") from None
    items = value if isinstance(value, list) else [value]
    calls = []
    for a in items:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise ctx.error("tool_call answer has no name", "bad-arguments")
        calls.append(tool_call(a["name"], parse_arguments(a.get("arguments"), ctx, a["name"])))
    return calls


def _w2c_assistant(content: Any, ctx: Ctx) -> dict[str, Any]:
    if isinstance(content, dict) and "content" in content:
        content = content["content"]
    text = _text(content)
    if _W2C_TOOLCALL.search(text):
        return {"role": "assistant", "content": _W2C_TOOLCALL.sub("", text).strip(),
                "tool_calls": _w2c_calls(text, ctx)}
    return {"role": "assistant", "content": text.strip()}


def convert_when2call(obj: Any, ctx: Ctx) -> Record:
    if not isinstance(obj, dict):
        raise ctx.error(f"expected an object, got {type(obj).__name__}")
    tools = _tools(ctx, obj.get("tools"))
    rid = _rid(ctx, obj)
    if "correct_answer" in obj:  # the MCQ test shape
        kind = obj["correct_answer"]
        if kind not in WHEN2CALL_LABELS:
            raise ctx.error(f"correct_answer {kind!r} is not one of {', '.join(WHEN2CALL_LABELS)}")
        answers = obj.get("answers") or {}
        if kind not in answers:
            raise ctx.error(f"answers has no {kind!r} entry")
        messages: list[dict[str, Any]] = [_system_message(ctx, None),
                                          {"role": "user", "content": _text(obj.get("question"))}]
        if kind == "tool_call":
            messages.append({"role": "assistant", "content": "", "tool_calls": _w2c_calls(answers[kind], ctx)})
        else:
            messages.append({"role": "assistant", "content": _text(answers[kind]).strip()})
        return _finish(ctx, messages, tools, rid, label=WHEN2CALL_LABELS[kind], category=kind)
    raw = obj.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ctx.error("expected 'correct_answer' (MCQ) or 'messages' (SFT / preference)")
    messages = [_system_message(ctx, None)]
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise ctx.error(f"messages[{i}] is not an object")
        if m.get("role") == "system":
            messages[0] = _system_message(ctx, _text(m.get("content")))
        elif m.get("role") == "assistant":
            messages.append(_w2c_assistant(m.get("content"), ctx))
        elif m.get("role") == "user":
            messages.append({"role": "user", "content": _text(m.get("content"))})
        elif m.get("role") == "tool":
            messages.append({"role": "tool", "content": _text(m.get("content"))})
    if "chosen_response" in obj:  # the preference shape: the chosen reply completes the prompt
        messages.append(_w2c_assistant(obj["chosen_response"], ctx))
    label = infer_label(messages)
    kind = {v: k for k, v in WHEN2CALL_LABELS.items()}[label]
    _name_results(messages)
    return _finish(ctx, messages, tools, rid, label=label, category=kind)


CONVERTERS: dict[str, Callable[[Any, Ctx], Record]] = {
    "legacy": convert_legacy, "glaive": convert_glaive, "hermes": convert_hermes, "xlam": convert_xlam,
    "openai": convert_openai, "bfcl": convert_bfcl, "when2call": convert_when2call,
}
assert set(CONVERTERS) == set(FORMATS)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


# ---- files -------------------------------------------------------------------------------------

@dataclass
class ConvertResult:
    fmt: str
    input: str
    output: str
    written: int = 0
    rejected: int = 0
    rejects_path: str | None = None
    by_label: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def rejects_path_for(out: str | os.PathLike) -> Path:
    out = Path(out)
    name = out.name[:-len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return out.with_name(name + ".rejects.jsonl")


def iter_converted(fmt: str, in_path: str | os.PathLike, *, system: str | None = None,
                   answers: str | os.PathLike | None = None, check: bool = True,
                   ) -> Iterator[tuple[int, Record | InputError, Any]]:
    """(line, Record or the InputError that rejected it, the source item) for each item of a file."""
    if fmt not in CONVERTERS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    in_path = Path(in_path)
    ctx = Ctx(fmt, in_path, 0, system or ("source" if fmt in _KEEP_SOURCE_SYSTEM else "default"))
    if fmt == "bfcl":
        ans = Path(answers) if answers else in_path.parent / "possible_answer" / in_path.name
        if ans.exists():
            ctx.answers = load_bfcl_answers(ans)
        ctx.bfcl_category = re.sub(r"^BFCL_v\d+_", "", in_path.stem)
    schemas = None
    for line, obj in iter_json_items(in_path, lenient=True):
        ctx.line = line
        if isinstance(obj, InputError):
            yield line, obj, None
            continue
        try:
            try:
                rec = CONVERTERS[fmt](obj, ctx)
                check_serialisable(rec.to_json())
            except InputError:
                raise
            except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as e:
                # a field of the wrong JSON type that the converter did not foresee: this item only
                raise ctx.error(f"unexpected {fmt} item ({type(e).__name__}: {_one_line(e)})", "shape") from None
            if check:
                from .validate import _SchemaCache

                schemas = schemas or _SchemaCache()
                bad = [f for f in check_record(Located(rec, str(in_path), line), schemas) if f.severity == ERROR]
                if bad:
                    raise InputError(bad[0].message, path=in_path, line=line, record_id=rec.meta.id, rule=bad[0].rule)
            yield line, rec, obj
        except InputError as e:
            yield line, e, obj


def convert_file(fmt: str, in_path: str | os.PathLike, out_path: str | os.PathLike, *, skip_invalid: bool = False,
                 system: str | None = None, answers: str | os.PathLike | None = None, limit: int | None = None,
                 ) -> ConvertResult:
    """Convert a whole file. Without skip_invalid the first bad item raises InputError (nothing is written);
    with it, rejects go to OUT.rejects.jsonl with their reasons."""
    for target in (Path(out_path), rejects_path_for(out_path)):
        if target.exists() and Path(in_path).exists() and os.path.samefile(target, in_path):
            raise InputError(f"refusing to overwrite the input with its conversion ({target} is IN); "
                             "choose another OUT", path=in_path, rule="args")
        if target.is_dir():
            raise InputError("expected a file path for the output, found a directory", path=target, rule="args")
    res = ConvertResult(fmt, str(in_path), str(out_path))
    records: list[Record] = []
    rejects: list[dict[str, Any]] = []
    labels: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for line, got, obj in iter_converted(fmt, in_path, system=system, answers=answers):
        if isinstance(got, InputError):
            if not skip_invalid:
                raise got
            rejects.append({"path": str(in_path), "line": line, "rule": got.rule, "reason": got.message,
                            "input": obj})
            reasons[got.rule or "error"] += 1
            continue
        records.append(got)
        labels[got.meta.label] += 1
        cats[got.meta.category] += 1
        if limit is not None and len(records) >= limit:
            break
    write_jsonl(out_path, records)
    rp = rejects_path_for(out_path)
    if rejects:
        from ..io import atomic_write_text

        atomic_write_text(rp, "".join(dumps_line(r) + "\n" for r in rejects))
        res.rejects_path = str(rp)
    elif rp.exists():
        rp.unlink()
    res.written, res.rejected = len(records), len(rejects)
    res.by_label, res.by_category, res.reasons = dict(labels), dict(cats), dict(reasons)
    return res
