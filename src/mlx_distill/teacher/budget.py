"""The dollar cap of a collection run (`--budget-usd`): a request the budget cannot cover is never sent."""

from __future__ import annotations

import json
from typing import Sequence

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
from pydantic_ai.models import ModelRequestParameters

from .prices import Prices, Usage


class BudgetExhausted(RuntimeError):
    """The next call could cost more than what is left of --budget-usd."""


class Budget:
    """Dollars this run may spend. A call reserves a pessimistic estimate of its cost (every input token
    at the uncached price, `max_tokens` of output) and is refused when spent + reserved + estimate
    would pass the cap; after the call the reservation is replaced by the real cost."""

    CHARS_PER_TOKEN = 3.0  # fewer characters per token than real text: overestimates, never under

    def __init__(self, limit_usd: float | None, prices: Prices, model_id: str):
        self.limit, self.prices, self.model_id = limit_usd, prices, model_id
        self.spent = self.reserved = 0.0

    def estimate(
        self, messages: Sequence[ModelMessage], params: ModelRequestParameters, max_tokens: int, batch: bool
    ) -> float:
        if self.limit is None:  # no cap: nothing to estimate
            return 0.0
        chars = len(ModelMessagesTypeAdapter.dump_json(list(messages))) + sum(
            len(json.dumps(t.parameters_json_schema)) + len(t.description or "") for t in params.function_tools
        )
        return self.prices.cost(self.model_id, Usage(int(chars / self.CHARS_PER_TOKEN) + 1, max_tokens), batch)

    def reserve(self, amount: float) -> None:
        if self.limit is not None and self.spent + self.reserved + amount > self.limit:
            raise BudgetExhausted(
                f"budget ${self.limit:.2f}: ${self.spent:.4f} spent, the next call could cost ${amount:.4f}"
            )
        self.reserved += amount

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved -= reserved
        self.spent += actual
