"""The first decision of a reply: did the model open a tool call, and how sure was it."""

from __future__ import annotations

from typing import Any


class DecisionProbe:
    """A logits processor that reads the distribution of the first generated token: the probability that
    the reply opens a tool call (the first token of `<tool_call>`), and the margin between opening one and
    anything else, |p - (1 - p)|. A small margin is a turn the model was unsure whether to call a tool;
    the router sends such turns to the teacher. It sees the logits the sampler sees and changes nothing."""

    def __init__(self, opener_id: int):
        self.opener_id = opener_id
        self.p_call: float | None = None

    def __call__(self, _tokens: Any, logits: Any) -> Any:
        if self.p_call is None:
            import mlx.core as mx

            probs = mx.softmax(logits.astype(mx.float32), axis=-1)
            self.p_call = float(probs.reshape(-1, probs.shape[-1])[-1, self.opener_id].item())  # type: ignore[arg-type]  # mlx types item() as int | float | complex
        return logits

    @property
    def margin(self) -> float | None:
        return None if self.p_call is None else abs(2.0 * self.p_call - 1.0)

    def details(self) -> dict[str, Any]:
        if self.p_call is None:
            return {}
        return {"p_tool_call": round(self.p_call, 6), "decision_margin": round(self.margin or 0.0, 6)}
