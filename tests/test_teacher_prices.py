"""Teacher prices come from genai-prices; a YAML table at MLX_DISTILL_PRICES overrides the models it
lists; every ledger row names what priced it. Expected dollars are read from genai-prices' own price
records, not computed by the code under test."""

import math
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot

from mlx_distill.teacher.ledger import Ledger, read_ledger
from mlx_distill.teacher.prices import BATCH_DISCOUNT, UnknownPrice, Usage, cost, load_prices
from mlx_distill.errors import InputError

CURRENT = "claude-sonnet-5-5"  # known to genai-prices, with a batch price
NO_BATCH_PRICE = "claude-opus-4-1"  # known to genai-prices, without one
USAGE = Usage(input_tokens=1000, output_tokens=200, cache_write_tokens=300, cache_read_tokens=400)


def genai_model(name):
    _provider, model = data_snapshot.get_snapshot().find_provider_model(name, None, "anthropic", None)
    return model


def dollars(prices, u=USAGE):
    """Dollars of `u` at a genai-prices ModelPrice (per million tokens)."""
    total = (
        u.input_tokens * prices.input_mtok
        + u.output_tokens * prices.output_mtok
        + u.cache_write_tokens * prices.cache_write_mtok
        + u.cache_read_tokens * prices.cache_read_mtok
    )
    return float(total / Decimal(1_000_000))


def override(tmp_path, body):
    path = tmp_path / "prices.yaml"
    path.write_text(body)
    return path


def test_a_model_only_genai_prices_knows_is_priced_per_token_kind_from_it(monkeypatch):
    monkeypatch.delenv("MLX_DISTILL_PRICES", raising=False)
    model = genai_model(CURRENT)
    (batch,) = [v.prices for v in model.price_variants if v.when == {"processing": "batch"}]
    assert cost(f"anthropic:{CURRENT}", USAGE) == pytest.approx(dollars(model.prices))
    assert cost(f"anthropic:{CURRENT}", USAGE, batch=True) == pytest.approx(dollars(batch))
    assert dollars(batch) < dollars(model.prices)


def test_a_model_without_a_batch_price_gets_the_documented_batch_discount(monkeypatch):
    monkeypatch.delenv("MLX_DISTILL_PRICES", raising=False)
    model = genai_model(NO_BATCH_PRICE)
    assert not model.price_variants
    plain = dollars(model.prices)
    assert cost(f"anthropic:{NO_BATCH_PRICE}", USAGE) == pytest.approx(plain)
    assert cost(f"anthropic:{NO_BATCH_PRICE}", USAGE, batch=True) == pytest.approx(plain * BATCH_DISCOUNT)


def test_a_model_only_the_override_knows_is_priced_from_it_and_the_ledger_says_so(tmp_path, monkeypatch):
    path = override(
        tmp_path,
        "as_of: '2030-01-01'\nbatch_discount: 0.25\nmodels:\n"
        "  my-teacher: {input: 2, output: 4, cache_write: 3, cache_read: 1}\n",
    )
    monkeypatch.setenv("MLX_DISTILL_PRICES", str(path))
    assert cost("openai:my-teacher-20300101", Usage(1_000_000, 1_000_000), batch=True) == pytest.approx(1.5)
    ledger = Ledger(tmp_path / "store")
    ledger.append(kind="collect", model="openai:my-teacher", usage=Usage(1_000_000, 0), latency_s=0.1)
    ledger.append(kind="collect", model=f"anthropic:{CURRENT}", usage=USAGE, latency_s=0.1)
    ledger.append(kind="route", model="local:embedded:smollm2-135m", usage=USAGE, latency_s=0.1)
    mine, theirs, free = read_ledger(ledger.path)
    assert (mine["cost_usd"], mine["price_source"]) == (2.0, f"override: {path}")
    assert theirs["price_source"] == f"genai-prices {genai_prices.__version__}"
    assert theirs["cost_usd"] == pytest.approx(dollars(genai_model(CURRENT).prices), abs=1e-8)
    assert (free["cost_usd"], free["price_source"]) == (0.0, "free")


def test_an_unknown_model_is_a_one_line_error_never_a_free_call(monkeypatch):
    monkeypatch.delenv("MLX_DISTILL_PRICES", raising=False)
    with pytest.raises(UnknownPrice) as e:
        cost("anthropic:claude-nonexistent-9", USAGE)
    assert str(e.value).startswith("no price for model 'anthropic:claude-nonexistent-9' in genai-prices")
    assert "MLX_DISTILL_PRICES" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("bad", ["-1", ".nan", ".inf"])
def test_a_negative_or_non_finite_override_price_is_a_located_error(tmp_path, bad):
    path = override(
        tmp_path, f"as_of: '2030-01-01'\nmodels:\n  m: {{input: {bad}, output: 1, cache_write: 1, cache_read: 1}}\n"
    )
    with pytest.raises(InputError, match=rf"{path.name}.*\[prices\].*negative or not a number"):
        load_prices(path)


def test_the_cache_saving_is_what_plain_input_would_have_cost_more(monkeypatch):
    monkeypatch.delenv("MLX_DISTILL_PRICES", raising=False)
    p = genai_model(CURRENT).prices
    expected = float(
        (
            USAGE.cache_read_tokens * (p.input_mtok - p.cache_read_mtok)
            - USAGE.cache_write_tokens * (p.cache_write_mtok - p.input_mtok)
        )
        / Decimal(1_000_000)
    )
    assert load_prices().cache_savings(f"anthropic:{CURRENT}", USAGE) == pytest.approx(expected)
    assert not math.isclose(expected, 0.0)
