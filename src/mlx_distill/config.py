"""The one reader of YAML configuration files (the data build recipe, training and LRL recipes, the
price table, tool catalogues): `read_yaml` turns a file into a dict (or a list) with located errors,
`apply_overrides` puts command-line values on top (they win), and `validate` checks the result against
the config's own pydantic model, strictly: an unknown key is an error with a did-you-mean, so a
misspelt or misplaced key never silently fails to arrive.

Numbers read as mlx-lm reads its YAML (`1e-4` is a float, not a string), for every config alike.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InputError
from .io import check_regular_file

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """The base of every config model: an unknown key is an error, and so is NaN or infinity in a float
    field (`.nan` and `.inf` are valid YAML, and `--set scale=nan` reads as one)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def non_finite(value: Any) -> bool:
    """True when a free-form value (a list or mapping of arguments) holds NaN or infinity anywhere:
    what `allow_inf_nan=False` cannot see in fields typed `Any`."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(non_finite(v) for v in value)
    return False


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loading, with mlx_lm.lora's float rule (exponents without a dot)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(
    path: str | os.PathLike,
    *,
    rule: str = "config",
    top: type = dict,
    what: str = "a YAML mapping of keys to values",
) -> Any:
    """The file's YAML (an empty file is an empty `top`); a missing file, invalid YAML or UTF-8, or a
    top level that is not a `top` is an InputError naming the file (and the line, for YAML)."""
    path = Path(path)
    if not path.exists():
        raise InputError("config file not found", path=path, rule=rule)
    check_regular_file(path, rule=rule)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), _Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or e
        raise InputError(
            f"invalid YAML: {problem}".replace("\n", " "),
            path=path,
            line=(mark.line + 1) if mark else None,
            rule=rule,
        ) from None
    except UnicodeDecodeError as e:
        raise InputError(f"invalid UTF-8 (byte offset {e.start})", path=path, rule=rule) from None
    except (OSError, RecursionError) as e:
        raise InputError(f"cannot read the config ({type(e).__name__})", path=path, rule=rule) from None
    if data is None:
        data = top()
    if not isinstance(data, top):
        raise InputError(f"expected {what}", path=path, rule=rule)
    return data


def parse_value(text: str) -> Any:
    """A command-line value as the config file would read it (numbers, booleans, null, lists)."""
    try:
        return yaml.load(text, _Loader)
    except yaml.YAMLError:
        return text


def suggest(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest of `choices`, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _submodels(tp: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models inside a field's annotation (Optional[X], list[X], dict[str, X], X | Y)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
    for arg in get_args(tp):
        yield from _submodels(arg)


def _model_at(model: type[BaseModel], loc: Iterable[str | int]) -> type[BaseModel] | None:
    for part in loc:
        if isinstance(part, int):  # an item of a list
            continue
        field = model.model_fields.get(part)
        sub = next(_submodels(field.annotation), None) if field else None
        if sub is None:
            return None
        model = sub
    return model


def unknown_key(model: type[BaseModel], loc: Iterable[str | int]) -> str:
    """The error for a key `model` does not have at `loc`: the close names at the same level, or, for a
    top-level key, the nested section it belongs in."""
    *parents, key = list(loc)
    name = ".".join(map(str, [*parents, key]))
    at = _model_at(model, parents)
    known = list(at.model_fields) if at else []
    hint = ""
    if not parents:
        hint = next(
            (
                f" (did you mean {field}.{key}?)"
                for field, info in model.model_fields.items()
                for sub in _submodels(info.annotation)
                if key in sub.model_fields
            ),
            "",
        )
    hint = hint or suggest(str(key), known)
    return f"unknown configuration key {name!r}{hint}"


def apply_overrides(
    data: dict[str, Any], overrides: dict[str, Any] | list[str] | None, model: type[BaseModel]
) -> dict[str, Any]:
    """`data` with command-line overrides on top (they win): {dotted.key: value} or ["dotted.key=value"]
    (values read as YAML); nested keys by dots. A top-level key `model` does not have is an error with a
    did-you-mean."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    if not overrides:
        return data
    if isinstance(overrides, (list, tuple)):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise InputError(
                    f"override {item!r} must look like key=value (e.g. --set lora_parameters.rank=16)", rule="config"
                )
            k, v = item.split("=", 1)
            pairs[k.strip()] = parse_value(v)
        overrides = pairs
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] not in model.model_fields:
            raise InputError(unknown_key(model, parts[:1]), rule="config")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        last = parts[-1]
        node[last] = _merged(node[last], value) if isinstance(node.get(last), dict) else value
    return data


def _merged(base: dict[str, Any], top: Any) -> Any:
    """`top` over `base`, key by key at every level: an override of one nested key (the CLI nests
    `a.b=1` as {"a": {"b": 1}}) keeps the section's other keys."""
    if not isinstance(top, dict):
        return top
    out = dict(base)
    for k, v in top.items():
        out[k] = _merged(out[k], v) if isinstance(out.get(k), dict) else v
    return out


def validation_errors(model: type[BaseModel], err: ValidationError) -> str:
    """A config's validation errors in one line: unknown keys with a did-you-mean, others as "key: reason"."""
    parts = []
    for e in err.errors():
        if e["type"] == "extra_forbidden":
            parts.append(unknown_key(model, e["loc"]))
            continue
        msg = e["msg"].removeprefix("Value error, ")
        key = ".".join(map(str, e["loc"]))
        parts.append(f"{key}: {msg}" if key else msg)
    return "; ".join(parts)


def validate(model: type[M], data: Any, *, path: str | os.PathLike | None = None, rule: str = "config") -> M:
    """`data` as a `model`, or an InputError naming the file and every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(validation_errors(model, e), path=path, rule=rule) from None
