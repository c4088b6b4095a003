"""Drift watch: does the student still agree with the teacher on the calls it answers alone?

The router hands every turn the student answered to `DriftWatch.maybe_check`; a sample of them (`rate`,
e.g. 5%) is also sent to the teacher in the background (an asyncio task; the run waits for its checks
only when it ends). The two turns agree when they make the same decision: both answer directly, or
both call the same tool with equivalent arguments (`gate.equivalent_arguments`). Each check is a
ledger row (kind `drift`, with `agree`); a disagreement also keeps the teacher's turn, with the
conversation before it, as a new training record in a teacher store.

Rolling agreement over the last `window` checks below the gate threshold (after `min_samples`) is a
`DriftWarning`, and `mlx-distill gate --ledger` fails on it (`apply_drift`).
"""

from __future__ import annotations

import asyncio
import random
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models import Model, ModelRequestParameters

from ..agent.outcome import call_of
from .gate import DEFAULT_THRESHOLD, GateResult, equivalent_arguments


class DriftWarning(UserWarning):
    """The student's agreement with the teacher on sampled calls fell below the gate threshold."""


def decision(response: ModelResponse) -> tuple[str, str | None, dict | None]:
    """(tool | direct, first tool name, its arguments) of one turn."""
    for p in response.parts:
        if isinstance(p, ToolCallPart):
            call = call_of(p)
            return "tool", call.name, call.arguments
    return "direct", None, None


def turns_agree(student: ModelResponse, teacher: ModelResponse, params: ModelRequestParameters) -> bool:
    a, b = decision(student), decision(teacher)
    if a[0] != b[0] or a[1] != b[1]:
        return False
    if a[0] == "direct":
        return True
    schema = next((td.parameters_json_schema for td in params.function_tools if td.name == a[1]), None)
    return equivalent_arguments(a[2], b[2], schema)


def rolling_agreement(agreements: list[bool]) -> float | None:
    return sum(agreements) / len(agreements) if agreements else None


class DriftWatch:
    """Samples `rate` of the student's turns for a background teacher check. `ledger`: where each check is
    recorded (kind `drift`); `store`: a teacher store directory for the disagreeing turns."""

    def __init__(
        self,
        rate: float = 0.05,
        *,
        window: int = 100,
        threshold: float = DEFAULT_THRESHOLD,
        min_samples: int = 10,
        seed: int | None = None,
        ledger: Any = None,
        store: str | Path | None = None,
    ):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"drift rate must be within 0..1, got {rate}")
        self.rate, self.window, self.threshold, self.min_samples = rate, window, threshold, min_samples
        self.ledger = ledger
        self.store = store
        self._rng = random.Random(seed)
        self.offered = 0
        self.sampled = 0
        self.agreements: deque[bool] = deque(maxlen=window)
        self.kept: list[str] = []  # record keys of disagreements kept as training data
        self._tasks: set[asyncio.Task] = set()
        self._warned = False

    # -- sampling -----------------------------------------------------------------------------------

    def maybe_check(
        self,
        router: Any,
        messages: list[ModelMessage],
        settings: Any,
        params: ModelRequestParameters,
        response: ModelResponse,
    ) -> bool:
        """Sample this student turn or not; when sampled, ask the teacher in the background."""
        self.offered += 1
        if self._rng.random() >= self.rate:
            return False
        self.sampled += 1
        task = asyncio.get_running_loop().create_task(
            self._check(router.teacher, router.student, messages, settings, params, response)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self) -> None:
        """Wait for the checks in flight (the router calls this when a run ends)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _check(
        self,
        teacher: Model,
        student: Model,
        messages: list[ModelMessage],
        settings: Any,
        params: ModelRequestParameters,
        response: ModelResponse,
    ) -> None:
        tic = time.perf_counter()
        try:
            answer = await teacher.request(teacher.prepare_messages(list(messages), params), settings, params)
        except Exception as e:  # noqa: BLE001 - a failed check is recorded, never breaks the run
            self._log(teacher, None, time.perf_counter() - tic, agree=None, error=f"{type(e).__name__}: {e}")
            return
        agree = turns_agree(response, answer, params)
        key = None if agree else self._keep(messages, answer, params, response)
        self.agreements.append(agree)
        self._log(
            teacher,
            answer,
            time.perf_counter() - tic,
            agree=agree,
            student=student.model_id,
            student_decision=list(decision(response)[:2]),
            teacher_decision=list(decision(answer)[:2]),
            kept=key,
        )
        self._maybe_warn()

    def _log(self, teacher: Model, answer: ModelResponse | None, latency_s: float, **extra: Any) -> None:
        if self.ledger is None:
            return
        from pydantic_ai.usage import RequestUsage

        self.ledger.append(
            kind="drift",
            model=teacher.model_id,
            usage=answer.usage if answer else RequestUsage(),
            latency_s=latency_s,
            **extra,
        )

    # -- what a disagreement leaves behind ---------------------------------------------------------------

    def _keep(
        self,
        messages: list[ModelMessage],
        answer: ModelResponse,
        params: ModelRequestParameters,
        student_response: ModelResponse,
    ) -> str | None:
        """The conversation up to this turn plus the teacher's turn, as an accepted teacher record."""
        if self.store is None:
            return None
        from pydantic_ai._instrumentation import get_instructions

        from ..agent.model import to_record_messages, tool_dicts
        from ..schema import parse_record
        from ..data.sources.teacher_store import Verdict
        from ..teacher.store import TeacherStore, content_hash

        rec_messages = to_record_messages([*messages, answer], get_instructions(messages, params))
        tools = tool_dicts(params)
        key = content_hash({"messages": rec_messages, "tools": tools})
        label = "tool" if any(m.get("tool_calls") for m in rec_messages) else "direct"
        record = parse_record(
            {
                "messages": rec_messages,
                "tools": tools,
                "meta": {
                    "id": f"drift-{key[:16]}",
                    "source": "teacher",
                    "category": "drift",
                    "label": label,
                    "key": key,
                    "verdict": Verdict.accept().to_json(),
                    "teacher": answer.model_name,
                    "drift": {"student": list(decision(student_response)[:2]), "teacher": list(decision(answer)[:2])},
                },
            }
        )
        if TeacherStore(self.store).add(record):
            self.kept.append(key)
        return key

    # -- status ----------------------------------------------------------------------------------------

    @property
    def rolling_agreement(self) -> float | None:
        return rolling_agreement(list(self.agreements))

    def below(self) -> bool:
        value = self.rolling_agreement
        return len(self.agreements) >= self.min_samples and value is not None and value < self.threshold

    def _maybe_warn(self) -> None:
        if self.below() and not self._warned:
            self._warned = True
            warnings.warn(
                DriftWarning(drift_message(self.rolling_agreement, len(self.agreements), self.threshold)), stacklevel=2
            )

    def status(self) -> dict[str, Any]:
        return drift_status(
            list(self.agreements),
            threshold=self.threshold,
            min_samples=self.min_samples,
            offered=self.offered,
            sampled=self.sampled,
        )


def drift_message(agreement: float | None, n: int, threshold: float) -> str:
    return (
        f"drift: the student agreed with the teacher on {agreement:.1%} of the last {n} sampled calls, "
        f"below the gate threshold {threshold:.0%}; the disagreeing turns were kept as training data"
    )


def drift_status(agreements: list[bool], *, threshold: float, min_samples: int = 10, **extra: Any) -> dict[str, Any]:
    value = rolling_agreement(agreements)
    below = len(agreements) >= min_samples and value is not None and value < threshold
    return {
        "checks": len(agreements),
        "rolling_agreement": value,
        "threshold": threshold,
        "below": below,
        "warnings": [drift_message(value, len(agreements), threshold)] if below else [],
        **extra,
    }


def ledger_drift(
    ledger_path: str | Path, *, threshold: float, window: int = 100, min_samples: int = 10
) -> dict[str, Any]:
    """The drift status of a ledger: rolling agreement over its last `window` drift checks."""
    from ..teacher.ledger import read_ledger

    checks = [
        bool(r["agree"]) for r in read_ledger(ledger_path) if r.get("kind") == "drift" and r.get("agree") is not None
    ]
    return drift_status(checks[-window:], threshold=threshold, min_samples=min_samples)


def apply_drift(result: GateResult, ledger_path: str | Path, *, window: int = 100, min_samples: int = 10) -> GateResult:
    """Fold a router ledger's drift into a gate verdict: agreement below the threshold fails the gate."""
    result.drift = ledger_drift(ledger_path, threshold=result.threshold, window=window, min_samples=min_samples)
    if result.drift["below"]:
        result.passed = False
        result.reasons.append(result.drift["warnings"][0])
    return result
