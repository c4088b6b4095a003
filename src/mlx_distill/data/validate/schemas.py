"""Tool-call arguments against the offered tools' JSON schemas: compiled once per distinct tool list,
with a fast path for the agent's own tools and `pattern`s run under a time budget."""

from __future__ import annotations

import functools
import json
from typing import Any


class SchemaCache:
    """Compiled validators of tool parameter schemas, keyed by their JSON; our own tools go through
    tools.validate_arguments (the messages the agent shows the model)."""

    def __init__(self) -> None:
        from ...tools import TOOL_NAMES, tool_schemas

        self.ours = {s["function"]["name"]: _canon(s) for s in tool_schemas()}
        self.our_names = set(TOOL_NAMES)
        self._compiled: dict[str, Any] = {}
        self._tools_cache: dict[str, tuple[dict[str, Any], list[str]]] = {}
        self._recent: list[tuple[list[dict[str, Any]], tuple[dict[str, Any], list[str]]]] = []
        self._ours_params = {s["function"]["name"]: (s["function"]["parameters"]["properties"],
                                                     s["function"]["parameters"].get("required", []))
                             for s in tool_schemas()}

    def tools_of(self, tools: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        """name -> ("ours" | validator | None) for each offered tool, plus problems with the schemas."""
        if not tools:
            return {n: "ours" for n in self.our_names}, []
        # Most corpora offer a handful of distinct tool lists: compare with the recent ones (a C-level
        # deep ==) before serialising anything.
        for seen, res in self._recent:
            if seen == tools:
                return res
        key = json.dumps(tools, sort_keys=True, ensure_ascii=False)
        found = self._tools_cache.get(key)
        if found is None:
            found = self._compile_tools(tools)
            if len(self._tools_cache) < 10000:
                self._tools_cache[key] = found
        self._recent.insert(0, (tools, found))
        del self._recent[8:]
        return found

    def quick_ok(self, name: str, arguments: dict[str, Any]) -> bool:
        """A fast check that valid arguments of our tools pass (anything else goes to the full validator)."""
        spec = self._ours_params.get(name)
        if spec is None:
            return False
        props, required = spec
        for k in required:
            if k not in arguments:
                return False
        for k, v in arguments.items():
            p = props.get(k)
            if p is None:
                return False
            t = p.get("type")
            if t == "string":
                if not isinstance(v, str) or ("minLength" in p and len(v) < p["minLength"]):
                    return False
            elif t == "integer":
                if type(v) is not int or ("minimum" in p and v < p["minimum"]):
                    return False
            elif t == "boolean":
                if type(v) is not bool:
                    return False
            else:
                return False
        return True

    def _compile_tools(self, tools: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        Validator = _bounded_validator()

        by_name: dict[str, Any] = {}
        problems = []
        for i, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict) \
                    or not isinstance(fn.get("name"), str) or not fn.get("name"):
                problems.append(f"tools[{i}] is not {{'type': 'function', 'function': {{'name': ..., ...}}}}")
                continue
            name = fn["name"]
            if self.ours.get(name) == _canon(t):
                by_name[name] = "ours"
                continue
            params = fn.get("parameters", {"type": "object"})
            key = json.dumps(params, sort_keys=True)
            if key not in self._compiled:
                try:
                    if not isinstance(params, dict):
                        raise SchemaError("parameters must be an object")
                    remote = _remote_ref(params)
                    if remote:
                        raise SchemaError(f"$ref {remote!r} is not a local '#...' reference (remote refs are refused)")
                    Draft202012Validator.check_schema(params)
                    self._compiled[key] = Validator(params)
                except SchemaError as e:
                    self._compiled[key] = None
                    problems.append(f"tool {name!r}: invalid parameters schema: {e.message}")
                except (RecursionError, ValueError, TypeError) as e:  # a pattern that cannot compile, deep nesting
                    self._compiled[key] = None
                    problems.append(f"tool {name!r}: invalid parameters schema: {type(e).__name__}: {e}")
            by_name[name] = self._compiled[key]
        return by_name, problems

    def check(self, name: str, arguments: dict[str, Any], how: Any) -> list[str]:
        if how == "ours":
            if self.quick_ok(name, arguments):
                return []
            from ...tools import validate_arguments

            return validate_arguments(name, arguments)
        if how is None:
            return []
        msgs = []
        try:
            errors = sorted(how.iter_errors(arguments), key=lambda e: [str(p) for p in e.path])
        except Exception as e:  # noqa: BLE001 - an unresolvable local $ref, a recursive schema: the record's fault
            return [f"the tool's schema cannot be applied: {type(e).__name__}: {' '.join(str(e).split())[:200]}"]
        for err in errors:
            where = ".".join(str(p) for p in err.path)
            msgs.append(f"{where}: {err.message}" if where else err.message)
        return msgs


PATTERN_BUDGET_S = 0.1  # per `pattern` check of a record's tool schema: catastrophic patterns are reported


def _remote_ref(schema: Any) -> str | None:
    """The first $ref/$dynamicRef that does not point inside the schema itself."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("$ref", "$dynamicRef") and not (isinstance(v, str) and v.startswith("#")):
                    return str(v)
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return None


@functools.lru_cache(maxsize=1)
def _bounded_validator() -> Any:
    """Draft 2020-12 with `pattern` and `patternProperties` run by the `regex` engine under a time budget
    (jsonschema's own use `re`, which can backtrack for ages on a hostile pattern)."""
    import regex
    from jsonschema import Draft202012Validator, ValidationError, validators

    def search(pattern: str, text: str) -> bool | None:
        try:
            return regex.search(pattern, text, timeout=PATTERN_BUDGET_S) is not None
        except TimeoutError:
            return None

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string"):
            found = search(patrn, instance)
            if found is None:
                yield ValidationError(f"pattern {patrn!r} is too slow to check (over {PATTERN_BUDGET_S:g} s)")
            elif not found:
                yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def pattern_properties(validator: Any, patterns: dict, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for k, v in instance.items():
                found = search(patrn, k)
                if found is None:
                    yield ValidationError(f"pattern {patrn!r} is too slow to check (over {PATTERN_BUDGET_S:g} s)")
                elif found:
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    return validators.extend(Draft202012Validator, {"pattern": pattern, "patternProperties": pattern_properties})


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
