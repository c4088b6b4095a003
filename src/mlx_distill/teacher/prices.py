"""What a teacher call costs: `cost(model_id, usage, batch=False)` and the `Prices` it comes from.

The source of per-model prices is `genai-prices` (the Pydantic project's price data, shipped with the
package, so no request is made): input, output, cache write and cache read, tiers included, and the
Message Batches price where it knows one (else Anthropic's documented 50%). A YAML table at
`MLX_DISTILL_PRICES` (absolute dollars per million tokens; the format of the example `prices.yaml`
beside this module) overrides it for the models it lists. No dollar figure lives in the code.

A model neither knows is an error (`UnknownPrice`) rather than a silent zero: a budget cap that counts
an unpriced model as free would not cap anything. Teachers of a free provider (a local MLX model,
`mlx:...`) cost 0. `Prices.source(model_id)` names what priced a call, for the ledger.

`Usage` is Anthropic's split: `input_tokens` excludes the cache writes and reads that are counted on
their own (PydanticAI's `RequestUsage.input_tokens` includes them; `Usage.of` converts).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EXAMPLE_PRICES = Path(__file__).with_name("prices.yaml")
PRICES_ENV = "MLX_DISTILL_PRICES"
PER = 1_000_000
BATCH_DISCOUNT = 0.5  # Message Batches bill every token at half price (Anthropic's pricing page)
FREE_PROVIDERS = ("mlx", "test", "local")  # a local MLX teacher, PydanticAI's test model, a router's student


class UnknownPrice(KeyError):
    """No price for a model: genai-prices does not know it and no override lists it."""

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
    """A user's override table (YAML): dollars per million tokens for the models it lists."""

    as_of: str
    batch_discount: float
    models: dict[str, Price]
    free_providers: tuple[str, ...]
    path: str

    def price(self, name: str) -> Price | None:
        """The entry for a model name (exact, else the longest entry that prefixes it); None when not listed."""
        if name in self.models:
            return self.models[name]
        prefixes = [k for k in self.models if name.startswith(k + "-")]
        return self.models[max(prefixes, key=len)] if prefixes else None

    def cost(self, p: Price, u: "Usage", batch: bool) -> float:
        dollars = (
            u.input_tokens * p.input
            + u.output_tokens * p.output
            + u.cache_write_tokens * p.cache_write
            + u.cache_read_tokens * p.cache_read
        ) / PER
        return dollars * (self.batch_discount if batch else 1.0)


def genai_prices_version() -> str:
    from genai_prices import __version__

    return f"genai-prices {__version__}"


def _genai_cost(provider: str, name: str, u: "Usage", batch: bool) -> float | None:
    """genai-prices' dollars for one call, or None when it does not know the model. Its `input_tokens`
    include the cache tokens; a batch uses its batch price where it has one, else `BATCH_DISCOUNT`."""
    from genai_prices import Usage as GenaiUsage, calc_price

    usage = GenaiUsage(
        input_tokens=u.prompt_tokens,
        output_tokens=u.output_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cache_read_tokens=u.cache_read_tokens,
    )
    try:
        plain = calc_price(usage, model_ref=name, provider_id=provider or None)
        if not batch:
            return float(plain.total_price)
        batched = calc_price(usage, model_ref=name, provider_id=provider or None, price_context={"processing": "batch"})
    except LookupError:
        return None
    if batched.model_price != plain.model_price:  # genai-prices has a batch price for this model
        return float(batched.total_price)
    return float(plain.total_price) * BATCH_DISCOUNT


class Prices:
    """Per-model prices: the override table's entry when it lists the model, else genai-prices."""

    def __init__(self, override: PriceTable | None = None):
        self.override = override
        self.free = FREE_PROVIDERS + (override.free_providers if override else ())

    def _is_free(self, model_id: str) -> bool:
        provider = model_id.split(":", 1)[0] if ":" in model_id else ""
        return provider in self.free or model_id in self.free

    def source(self, model_id: str) -> str:
        """What prices `model_id`: `free`, `override: PATH` or `genai-prices VERSION`."""
        if self._is_free(model_id):
            return "free"
        name = model_id.split(":", 1)[-1]
        if self.override is not None and self.override.price(name) is not None:
            return f"override: {self.override.path}"
        return genai_prices_version()

    def cost(self, model_id: str, usage: Any, batch: bool = False) -> float:
        """Dollars for `usage` (one call, or a sum of calls) of `model_id`; UnknownPrice when nothing prices it."""
        if self._is_free(model_id):
            return 0.0
        u = Usage.of(usage)
        provider, name = model_id.split(":", 1) if ":" in model_id else ("", model_id)
        listed = self.override.price(name) if self.override is not None else None
        if listed is not None and self.override is not None:
            return self.override.cost(listed, u, batch)
        dollars = _genai_cost(provider, name, u, batch)
        if dollars is None:
            raise UnknownPrice(
                f"no price for model {model_id!r} in {genai_prices_version()}"
                + (f" or {self.override.path}" if self.override else "")
                + f"; set {PRICES_ENV} to a YAML price table that lists it (docs/economics.md)"
            )
        return dollars

    def cache_savings(self, model_id: str, usage: Any, batch: bool = False) -> float:
        """What the cache saved against paying its reads and writes as plain input (the write premium counts
        against it)."""
        u = Usage.of(usage)
        uncached = Usage(u.prompt_tokens, u.output_tokens)
        return self.cost(model_id, uncached, batch) - self.cost(model_id, u, batch)


def load_prices(path: str | os.PathLike | None = None) -> Prices:
    """genai-prices, overridden by the table at `path` (else at $MLX_DISTILL_PRICES) when there is one."""
    override = path or os.environ.get(PRICES_ENV)
    return Prices(_load(str(override)) if override else None)


@functools.lru_cache(maxsize=8)
def _load(path: str) -> PriceTable:
    from ..config import read_yaml
    from ..errors import InputError

    p = Path(path)
    raw = read_yaml(p, rule="prices")
    try:
        models = {str(name): Price(**{k: _price(v) for k, v in entry.items()}) for name, entry in raw["models"].items()}
        discount = _price(raw.get("batch_discount", BATCH_DISCOUNT))
        if discount > 1:
            raise ValueError(f"batch_discount {discount} is above 1")
        return PriceTable(
            as_of=str(raw["as_of"]),
            batch_discount=discount,
            models=models,
            free_providers=tuple(raw.get("free_providers") or ()),
            path=str(p),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(
            f"bad price table ({type(e).__name__}: {e}); expected as_of, batch_discount and "
            "models: {name: {input, output, cache_write, cache_read}}, dollars per million tokens, none negative",
            path=p,
            rule="prices",
        ) from None


def _price(value: Any) -> float:
    """A price: a finite number, not negative."""
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"price {value!r} is negative or not a number")
    return price


def cost(model_id: str, usage: Any, batch: bool = False) -> float:
    """Dollars one call (or a sum of calls) of `model_id` cost, from the default prices."""
    return load_prices().cost(model_id, usage, batch)
