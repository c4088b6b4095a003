"""What a teacher call costs: one dated price table (`prices.yaml`, absolute dollars per million
tokens per model, a batch discount) and `cost(model_id, usage, batch=False)`.

The table is data, updatable without code changes; `MLX_DISTILL_PRICES` points at another file.
No dollar figure lives anywhere else in the code. A model the table does not know is an error
(`UnknownPrice`) rather than a silent zero: a budget cap that counts an unpriced model as free would
not cap anything. Teachers of a free provider (a local MLX model, `mlx:...`) cost 0.

`Usage` is Anthropic's split: `input_tokens` excludes the cache writes and reads that are counted on
their own (PydanticAI's `RequestUsage.input_tokens` includes them; `Usage.of` converts).
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_PRICES = Path(__file__).with_name("prices.yaml")
PRICES_ENV = "MLX_DISTILL_PRICES"
PER = 1_000_000


class UnknownPrice(KeyError):
    """The price table has no entry for a model: add one to the table (or point MLX_DISTILL_PRICES at yours)."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


@dataclass(frozen=True)
class Usage:
    """Tokens of one call (or a sum of calls), as Anthropic bills them."""

    input_tokens: int = 0  # uncached input
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def of(cls, usage: Any) -> "Usage":
        """From a Usage, a dict of these fields, or a PydanticAI RequestUsage/RunUsage."""
        if isinstance(usage, Usage):
            return usage
        if isinstance(usage, dict):
            return cls(**{k: int(usage.get(k) or 0) for k in cls.__dataclass_fields__})
        write, read = int(usage.cache_write_tokens or 0), int(usage.cache_read_tokens or 0)
        return cls(max(0, int(usage.input_tokens or 0) - write - read), int(usage.output_tokens or 0), write, read)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    @property
    def prompt_tokens(self) -> int:
        """All input tokens, cached or not."""
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class PriceTable:
    as_of: str
    batch_discount: float
    models: dict[str, Price]
    free_providers: tuple[str, ...]
    path: str

    def price(self, model_id: str) -> Price | None:
        """The price of a model id (`anthropic:claude-sonnet-4-5`, a dated id...); None when it is free."""
        provider, name = model_id.split(":", 1) if ":" in model_id else ("", model_id)
        if provider in self.free_providers or model_id in self.free_providers:  # mlx:..., PydanticAI's `test`
            return None
        if name in self.models:
            return self.models[name]
        prefixes = [k for k in self.models if name.startswith(k + "-")]
        if prefixes:
            return self.models[max(prefixes, key=len)]
        raise UnknownPrice(
            f"no price for model {model_id!r} in {self.path} (as of {self.as_of}); add it there "
            f"or set {PRICES_ENV} to a table that has it (known: {', '.join(sorted(self.models))})"
        )

    def cost(self, model_id: str, usage: Any, batch: bool = False) -> float:
        p = self.price(model_id)
        if p is None:
            return 0.0
        u = Usage.of(usage)
        dollars = (
            u.input_tokens * p.input
            + u.output_tokens * p.output
            + u.cache_write_tokens * p.cache_write
            + u.cache_read_tokens * p.cache_read
        ) / PER
        return dollars * (self.batch_discount if batch else 1.0)

    def cache_savings(self, model_id: str, usage: Any, batch: bool = False) -> float:
        """What the cache reads saved against paying them as plain input (minus the write premium)."""
        p = self.price(model_id)
        if p is None:
            return 0.0
        u = Usage.of(usage)
        saved = (
            u.cache_read_tokens * (p.input - p.cache_read) - u.cache_write_tokens * (p.cache_write - p.input)
        ) / PER
        return saved * (self.batch_discount if batch else 1.0)


def load_prices(path: str | os.PathLike | None = None) -> PriceTable:
    """The table at `path`, else $MLX_DISTILL_PRICES, else the packaged prices.yaml."""
    return _load(str(path or os.environ.get(PRICES_ENV) or DEFAULT_PRICES))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> PriceTable:
    from ..config import read_yaml
    from ..io import InputError

    p = Path(path)
    raw = read_yaml(p, rule="prices")
    try:
        models = {str(name): Price(**{k: float(v) for k, v in entry.items()}) for name, entry in raw["models"].items()}
        return PriceTable(
            as_of=str(raw["as_of"]),
            batch_discount=float(raw.get("batch_discount", 1.0)),
            models=models,
            free_providers=tuple(raw.get("free_providers") or ()),
            path=str(p),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(
            f"bad price table ({type(e).__name__}: {e}); expected as_of, batch_discount and "
            "models: {name: {input, output, cache_write, cache_read}}",
            path=p,
            rule="prices",
        ) from None


def cost(model_id: str, usage: Any, batch: bool = False) -> float:
    """Dollars one call (or a sum of calls) of `model_id` cost, from the default price table."""
    return load_prices().cost(model_id, usage, batch)
