"""Tool and parameter schemas from any source shape -> the JSON schema (OpenAI-style tools) that
records, prompts and argument checks use. The one normaliser: the data converters and the benchmark
suites (BFCL, When2Call) both call it, so a tool reads the same in training data and in a benchmark.

Type names are mapped from Python, Java and JSON spellings (`dict`, `float`, `List[int]`,
`Optional[str]`, `"str, optional"`, `HashMap`...). A type name that is not known (or `any`) leaves
the property untyped, which JSON schema reads as "any value": the source did not say what the value
is, so claiming `string` would reject a correct number in an argument check and teach a wrong type.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from ..io import parse_json_line

TYPE_MAP = {
    "str": "string",
    "string": "string",
    "text": "string",
    "char": "string",
    "String": "string",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "Integer": "integer",
    "Long": "integer",
    "float": "number",
    "double": "number",
    "number": "number",
    "Float": "number",
    "Double": "number",
    "decimal": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "Boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "set": "array",
    "List": "array",
    "Array": "array",
    "ArrayList": "array",
    "Tuple": "array",
    "Set": "array",
    "dict": "object",
    "object": "object",
    "Dict": "object",
    "HashMap": "object",
    "Map": "object",
    "mapping": "object",
    "null": "null",
    "None": "null",
    "arraylist": "array",
    "hashmap": "object",
}


def json_type(t: Any) -> tuple[str | None, dict[str, Any], bool]:
    """A source type name -> (JSON schema type or None for 'any', extra schema, optional?)."""
    if isinstance(t, list):  # JSON schema union
        types = [json_type(x)[0] for x in t]
        return (
            (None if None in types else types[0]),
            ({"type": types} if None not in types and len(types) > 1 else {}),
            False,
        )
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
        inner, _, _ = json_type(m.group(2).split(",")[0])
        return "array", ({"items": {"type": inner}} if inner else {}), optional
    m = re.fullmatch(r"(?:typing\.)?(Dict|dict|Mapping)\[.*\]", s)
    if m:
        return "object", {}, optional
    if s in ("any", "Any", "", "object?", "Callable", "function"):
        return None, {}, optional
    known = TYPE_MAP.get(s, TYPE_MAP.get(s.lower()))
    if known is None:  # another generic spelling: "array<string>", "HashMap<String, Integer>"
        known = TYPE_MAP.get(re.sub(r"[<\[(].*$", "", s).strip().lower())
    return known, {}, optional


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
            jt, extra, _ = json_type(v)
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
    if (
        out.get("type") == "array"
        and isinstance(out.get("enum"), list)
        and not any(isinstance(x, list) for x in out["enum"])
    ):
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
        params = loads_any(params)
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
        jt, extra, optional = json_type(spec.get("type"))
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
        fn = loads_any(fn)
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


def loads_any(text: str) -> Any:
    """JSON, else a Python literal (single quotes, True/None): Hermes and xLAM bodies are sometimes either."""
    try:
        return parse_json_line(text)
    except (ValueError, TypeError):
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"neither JSON nor a Python literal ({type(e).__name__}: {e})") from None


_SAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def function_to_tool(doc: Any) -> tuple[dict[str, Any], str]:
    """A function document -> (OpenAI-style tool, the name shown to the model). Names are made
    API-safe ('math.factorial' -> 'math_factorial'; the benchmark maps them back when scoring) and the
    description is always present."""
    fn = to_openai_tool(doc)["function"]
    safe = _SAFE_NAME.sub("_", fn["name"])[:64] or "function"
    return {
        "type": "function",
        "function": {"name": safe, "description": fn.get("description", ""), "parameters": fn["parameters"]},
    }, safe


def functions_to_tools(docs: list[Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Function documents -> (tools with API-safe names, safe name -> original name)."""
    tools: list[dict[str, Any]] = []
    name_map: dict[str, str] = {}
    for doc in docs:
        tool, safe = function_to_tool(doc)
        if safe in name_map:  # two names that collide once made safe: keep them apart
            safe = f"{safe}_{len(name_map)}"
            tool["function"]["name"] = safe
        original = doc if isinstance(doc, dict) else loads_any(doc)
        name_map[safe] = str(original.get("name", ""))
        tools.append(tool)
    return tools, name_map
