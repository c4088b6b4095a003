"""BFCL's AST checker, ported to Python: does a model's call match one of BFCL's possible answers?

A port of the Berkeley Function Calling Leaderboard's `ast_checker` (Python semantics only): types
are BFCL's (`dict`, `float`, `tuple`, `any`), strings are compared after BFCL's normalisation, and a
value of the possible answers' own type is accepted as a variable name. `bfcl_ast_match` is the
entry point; `bench/scoring.py` calls it for BFCL cases.
"""

from __future__ import annotations

import re
from typing import Any, cast

_PY_TYPES = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = ("array", "tuple")


def standardize_string(s: str) -> str:
    """BFCL's normalisation: drop spaces and ,./-_*^, lowercase, single quotes -> double quotes."""
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", s).lower().replace("'", '"')


def _std(v: Any) -> Any:
    return standardize_string(v) if isinstance(v, str) else v


def _answer_type(allowed: list) -> type | None:
    for a in allowed:
        if a != "":
            return type(a)
    return None


def _type_ok(value: Any, allowed: list, expected: type, nested: type | None) -> tuple[bool, bool]:
    """(valid, is_variable) as BFCL's type_checker: a value of the possible answers' type (a variable
    name given as a string) is accepted as a 'variable'."""
    ans_type = _answer_type(allowed)
    is_variable = ans_type is not None and ans_type != expected
    if type(value) == expected:
        if nested is None:
            return True, is_variable
        for item in allowed:
            if type(item) == list and all(
                _type_ok(v, item, nested, None)[0] for v in cast(list, value)
            ):  # nested is set only when expected is list
                return True, is_variable
            if type(item) != list:
                return True, is_variable
        return False, is_variable
    if ans_type is not None and type(value) == ans_type:
        return True, True
    return False, is_variable


def _dict_ok(value: dict, allowed: list) -> bool:
    for option in allowed:
        if option == "" or not isinstance(option, dict):
            continue
        good = all(k in option and _std(v) in [_std(x) for x in option[k]] for k, v in value.items())
        good = good and all(k in value or "" in v for k, v in option.items())
        if good:
            return True
    return False


def _list_dict_ok(value: list, allowed: list) -> bool:
    for option in allowed:
        if (
            isinstance(option, list)
            and len(option) == len(value)
            and all(isinstance(v, dict) and _dict_ok(v, [o]) for v, o in zip(value, option))
        ):
            return True
    return False


def _check_call(doc: dict, call_args: dict, answer: dict) -> tuple[bool, str]:
    """BFCL simple_function_checker for one call (Python semantics)."""
    props = (doc.get("parameters") or {}).get("properties", {})
    required = (doc.get("parameters") or {}).get("required", [])
    for p in required:
        if p not in call_args:
            return False, f"missing required parameter {p!r}"
    for p, value in call_args.items():
        if p not in props or p not in answer:
            return False, f"unexpected parameter {p!r}"
        type_name = str(props[p].get("type", "any"))
        expected = _PY_TYPES.get(type_name, str)
        nested = None
        if type_name in _NESTED:
            nested = _PY_TYPES.get(str((props[p].get("items") or {}).get("type", "any")), str)
        if type_name == "float" and type(value) == int:
            value = float(value)
        allowed = answer[p]
        ok, is_variable = _type_ok(value, allowed, expected, nested)
        if not ok:
            return False, f"wrong type for {p!r}: {type(value).__name__}"
        if not is_variable:
            if expected == dict:
                if not _dict_ok(value, allowed):
                    return False, f"invalid value for {p!r}: {value!r}"
                continue
            if expected == list and nested == dict:
                if not _list_dict_ok(value, allowed):
                    return False, f"invalid value for {p!r}: {value!r}"
                continue
            if expected == str:
                if _std(value) not in [_std(a) for a in allowed if isinstance(a, str)]:
                    return False, f"invalid value for {p!r}: {value!r} (expected one of {allowed})"
                continue
            if expected == list:
                got = [_std(v) for v in value]
                options = [[_std(x) for x in a] for a in allowed if isinstance(a, list)]
                if got not in options:
                    return False, f"invalid value for {p!r}: {value!r} (expected one of {allowed})"
                continue
        if value not in allowed:
            return False, f"invalid value for {p!r}: {value!r} (expected one of {allowed})"
    for p, allowed in answer.items():
        if p not in call_args and "" not in allowed:
            return False, f"parameter {p!r} not given and not optional"
    return True, "ok"


def bfcl_ast_match(
    functions: list[dict], calls: list[dict[str, dict]], ground_truth: list[dict], category: str = "simple"
) -> tuple[bool, str]:
    """BFCL's AST check. `functions` are the original function documents, `calls` the model's calls
    as [{function name: {arg: value}}] (original names), `ground_truth` BFCL's possible answers.
    simple/multiple: exactly one call matching the one answer; parallel: the calls match the answers
    in any order."""
    docs = {f.get("name"): f for f in functions}
    if len(calls) != len(ground_truth):
        return False, f"wrong number of calls ({len(calls)}, expected {len(ground_truth)})"
    if "parallel" not in category:
        ((name, answer),) = ground_truth[0].items()
        ((called, args),) = calls[0].items()
        if called != name:
            return False, f"wrong function {called!r} (expected {name!r})"
        if not isinstance(args, dict):
            return False, "arguments are not an object"
        return _check_call(docs.get(name, {}), args, answer)
    used: set[int] = set()
    for expected in ground_truth:
        ((name, answer),) = expected.items()
        match = None
        for i, call in enumerate(calls):
            ((called, args),) = call.items()
            if (
                i not in used
                and called == name
                and isinstance(args, dict)
                and _check_call(docs.get(name, {}), args, answer)[0]
            ):
                match = i
                break
        if match is None:
            return False, f"no call matches the expected {name!r}"
        used.add(match)
    return True, "ok"
