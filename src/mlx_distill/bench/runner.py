"""Run models × temperatures × seeds × cases through the real agent and score every case.

Each case gets a fresh temporary workspace generated from (case id, seed), a fresh agent from
`create_agent` with the real tools working in it, and one `run_question`. Anything that goes wrong
in one case (its workspace, the agent, the model, the scoring) becomes an `error` outcome for that
case; the run goes on. A model that fails to load is reported with a one-line reason and skipped.

BFCL and When2Call cases offer their own function documents as external tools: they never execute,
so a case ends at the model's first call (pydantic-ai's deferred tool requests).

With a distributed group each process runs its share of the cases and `sharding.merge_model_run` puts
every rank's scores of a model back together.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .scoring import CaseScore, aggregate, score_case, summarize
from .sharding import merge_model_run, shard
from .suites import Case, Suite, fill
from .workspaces import build_workspace

if TYPE_CHECKING:
    from ..agent.outcome import RunOutcome

Progress = Callable[[int, int, str], None]
ModelLoader = Callable[["ModelSpec", "RunConfig"], Any]  # (spec, config) -> the model every case's agent shares


@dataclass
class ModelSpec:
    """One column of the comparison: a model (name, directory, URL or pydantic-ai name) and adapter."""

    model: Any  # a name, directory or URL; or a pydantic-ai Model object
    adapter_path: str | None = None
    label: str = ""
    prefix_cache: bool = True
    constrain_calls: bool = True  # a local MLX model's opened tool calls held to the offered schemas

    def __post_init__(self) -> None:
        if not self.label:
            name = self.model if isinstance(self.model, str) else getattr(self.model, "model_name", repr(self.model))
            self.label = name if not self.adapter_path else f"{name} + {Path(self.adapter_path).name}"
            if not self.constrain_calls and isinstance(self.model, str):
                self.label += " (unconstrained)"  # beside the same model constrained in one report


@dataclass
class RunConfig:
    temperatures: list[float] = field(default_factory=lambda: [0.0])
    seeds: list[int] = field(default_factory=lambda: [0])
    max_requests: int = 8
    max_tool_calls: int = 6
    max_tokens: int = 512
    system_prompt: str | None = None
    keep_workspaces: str | None = None  # a directory to copy every case's final workspace into
    workspace_template: str | None = None  # a directory copied into every case without a workspace spec
    concurrency: int = 1  # cases run at once; on a local MLX model their decoding is batched (agent.generation)
    ledger_dir: str | None = None  # where a router records its calls (ledger.jsonl)

    def to_json(self) -> dict:
        return {
            "temperatures": self.temperatures,
            "seeds": self.seeds,
            "max_requests": self.max_requests,
            "max_tool_calls": self.max_tool_calls,
            "max_tokens": self.max_tokens,
            "system_prompt": self.system_prompt,
        }


@dataclass
class ModelRun:
    spec: ModelSpec
    scores: list[CaseScore] = field(default_factory=list)
    load_error: str | None = None
    load_s: float = 0.0
    wall_s: float = 0.0
    peak_memory_mb: float | None = None
    routing: dict[str, Any] | None = None  # a router's counts: who answered, fallback reasons
    outcomes: list[RunOutcome] = field(default_factory=list, repr=False)  # what each scored case did, in order

    def to_json(self, temperatures: Sequence[float], seeds: Sequence[int]) -> dict[str, Any]:
        runs: list[dict[str, Any]] = []
        for t in temperatures:
            for s in seeds:
                group = [c for c in self.scores if c.temperature == t and c.seed == s]
                if group:
                    runs.append({"temperature": t, "seed": s, "metrics": aggregate(group)})
        by_t = {}
        for t in temperatures:
            ms = [r["metrics"] for r in runs if r["temperature"] == t]
            if ms:
                by_t[_tkey(t)] = summarize(ms)
        n = len(self.scores)
        case_time = sum(c.latency_s for c in self.scores)
        return {
            "label": self.spec.label,
            "model": self.spec.model if isinstance(self.spec.model, str) else self.spec.label,
            "adapter_path": self.spec.adapter_path,
            "prefix_cache": self.spec.prefix_cache,
            "constrain_calls": self.spec.constrain_calls,
            "load_error": self.load_error,
            "load_s": round(self.load_s, 3),
            "wall_s": round(self.wall_s, 3),
            "cases_per_min": (60.0 * n / self.wall_s) if self.wall_s and n else None,
            "case_seconds": round(case_time, 3),
            "peak_memory_mb": self.peak_memory_mb,
            "runs": runs,
            "by_temperature": by_t,
            "pooled": aggregate(self.scores) if self.scores else None,
            "routing": self.routing,
        }


def _tkey(t: float) -> str:
    return f"{float(t):g}"


@dataclass
class BenchResult:
    suites: list[Suite]
    config: RunConfig
    models: list[ModelRun]
    started: str = ""
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "wall_s": round(self.wall_s, 3),
            "host": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
            "config": self.config.to_json(),
            "suites": [
                {"name": s.name, "source": s.source, "cases": len(s.cases), "labels": s.counts()} for s in self.suites
            ],
            "models": [m.to_json(self.config.temperatures, self.config.seeds) for m in self.models],
            "cases": [c.to_json() for m in self.models for c in m.scores],
        }


# -- models --------------------------------------------------------------------------------------


def one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) <= 300 else msg[:297] + "..."


def load_agent_model(spec: ModelSpec, config: RunConfig) -> Any:
    """The runner's own model loader: what the agent factory builds (a local MLX model, a server URL, a
    PydanticAI `Model` object, PydanticAI's `test`), loaded once and shared by every case. A teacher or a
    router named by a string lives above the benchmark: the caller passes a loader that knows them
    (`mlx_distill.resolve.load_for_bench`, as the CLI does)."""
    from ..agent.factory import check_server, resolve_agent_model
    from ..errors import InputError
    from ..models.names import is_url

    if is_url(spec.model):
        check_server(spec.model)
    model, _ = resolve_agent_model(
        spec.model, spec.adapter_path, prefix_cache=spec.prefix_cache, constrain_calls=spec.constrain_calls
    )
    if isinstance(model, str) and model != "test":
        raise InputError(
            f"{model!r} names a teacher or a router: pass run_benchmark(..., load_model=mlx_distill.resolve.load_for_bench)"
        )
    return model


def _is_mlx(model: Any) -> bool:
    from ..agent.model import MLXModel

    return isinstance(model, MLXModel)


def _reset_peak() -> None:
    try:
        import mlx.core as mx

        mx.reset_peak_memory()
    except Exception:  # noqa: BLE001
        pass


def _peak_mb() -> float | None:
    try:
        import mlx.core as mx

        return round(mx.get_peak_memory() / 2**20, 1)
    except Exception:  # noqa: BLE001
        return None


# -- one case ------------------------------------------------------------------------------------


def _external_toolset(case: Case) -> Any:
    from pydantic_ai.tools import ToolDefinition
    from pydantic_ai.toolsets import ExternalToolset

    defs = [
        ToolDefinition(
            name=f["function"]["name"],
            description=f["function"].get("description") or "",
            parameters_json_schema=f["function"]["parameters"],
        )
        for f in case.functions or []
    ]
    return ExternalToolset(defs)


@dataclass
class CaseRun:
    """One case through the agent: its score, and what the agent did (the trajectory, tool results included)."""

    score: CaseScore
    outcome: RunOutcome


def run_case(model: Any, spec: ModelSpec, case: Case, *, temperature: float, seed: int, config: RunConfig) -> CaseScore:
    """One case, end to end, in its own temporary workspace, scored. Never raises."""
    return execute_case(model, spec, case, temperature=temperature, seed=seed, config=config).score


def execute_case(
    model: Any, spec: ModelSpec, case: Case, *, temperature: float, seed: int, config: RunConfig
) -> CaseRun:
    """`run_case` with the trajectory kept beside the score (what `compare` renders). Never raises."""
    from ..agent import create_agent, run_question
    from ..agent.outcome import RunOutcome

    tmp = tempfile.mkdtemp(prefix="mlx-distill-bench-")
    facts: dict = {}
    question = case.question
    try:
        try:
            if case.workspace is not None:
                facts = build_workspace(case.workspace, tmp, case_id=case.id, seed=seed)
            elif config.workspace_template:
                shutil.copytree(config.workspace_template, tmp, dirs_exist_ok=True, symlinks=True)
            question = fill(case.question, facts) if facts else case.question
            settings: dict[str, Any] = {"temperature": float(temperature), "max_tokens": config.max_tokens}
            if _is_mlx(model):
                settings["seed"] = int(seed)
            run_kwargs: dict[str, Any] = {}
            if case.functions is not None:  # BFCL / When2Call: the case's own, non-executing tools
                tools = None
                if case.functions:
                    from pydantic_ai import DeferredToolRequests

                    run_kwargs = {"toolsets": [_external_toolset(case)], "output_type": [str, DeferredToolRequests]}
            else:
                tools = None if case.scoring != "workspace" else _workspace_tools()
            agent = create_agent(
                model,
                workspace=tmp,
                tools=tools,
                system_prompt=config.system_prompt,
                model_settings=settings,
                max_requests=config.max_requests,
                max_tool_calls=config.max_tool_calls,
            )
            traj = run_question(agent, question, **run_kwargs)
            if run_kwargs and traj.tool_calls:  # ended by deferred calls: the output is no answer text
                from ..agent.outcome import summarize_messages

                traj.final_text = summarize_messages(traj.messages)[0]
        except Exception as e:  # noqa: BLE001 - one failing case never aborts the run
            traj = RunOutcome.failed(question, f"{type(e).__name__}: {one_line(e)}")
        try:
            score = score_case(
                case,
                traj,
                model=spec.label,
                facts=facts,
                workspace_root=tmp,
                question=question,
                temperature=temperature,
                seed=seed,
            )
        except Exception as e:  # noqa: BLE001
            score = score_case(
                case,
                RunOutcome.failed(question, f"scoring failed: {type(e).__name__}: {one_line(e)}"),
                model=spec.label,
                facts=facts,
                question=question,
                temperature=temperature,
                seed=seed,
            )
            score.why = traceback.format_exc(limit=3)
        if config.keep_workspaces:
            dest = Path(config.keep_workspaces) / _safe(spec.label) / f"t{_tkey(temperature)}-s{seed}" / _safe(case.id)
            shutil.copytree(tmp, dest, dirs_exist_ok=True)
        return CaseRun(score, traj)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _workspace_tools() -> Sequence[str]:
    from ..tools import TOOL_NAMES

    return TOOL_NAMES


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


# -- the whole run --------------------------------------------------------------------------------


def default_concurrency() -> int:
    """Cases at once on a local model: 4 on a small machine, more with more cores. More at once pays
    only when the cases share their prompt: on the main job's mixed suites (each unseen-tool case has
    its own tool set) 12 at once took 1.9x as long as 4 on 2 cores (docs/performance.md)."""
    return max(4, min(16, 2 * (os.cpu_count() or 1)))


def _execute(
    model: Any,
    spec: ModelSpec,
    jobs: list[tuple[float, int, Case]],
    config: RunConfig,
    progress: Progress | None,
    done: int,
    total: int,
) -> Iterator[tuple[tuple[float, int, Case], CaseRun]]:
    """Each job's run, in job order. On a local MLX model with concurrency > 1 the cases run on threads and
    their generation steps share one batch; other models run one case at a time."""
    if config.concurrency <= 1 or not _is_mlx(model) or len(jobs) <= 1:
        for i, (temperature, seed, case) in enumerate(jobs):
            if progress:
                progress(done + i, total, f"{spec.label} T={_tkey(temperature)} s={seed} {case.id}")
            yield (
                (temperature, seed, case),
                execute_case(model, spec, case, temperature=temperature, seed=seed, config=config),
            )
        return
    from concurrent.futures import ThreadPoolExecutor

    width = min(config.concurrency, len(jobs))
    with model.generator.batching(width), ThreadPoolExecutor(width, thread_name_prefix="bench-case") as pool:
        futures = [
            pool.submit(execute_case, model, spec, case, temperature=t, seed=seed, config=config)
            for t, seed, case in jobs
        ]
        for job, future in zip(jobs, futures):
            yield job, future.result()


def run_benchmark(
    specs: Sequence[ModelSpec],
    suites: Sequence[Suite],
    config: RunConfig | None = None,
    *,
    progress: Progress | None = None,
    on_model_error: Callable[[ModelSpec, str], None] | None = None,
    group: Any = None,
    load_model: ModelLoader | None = None,
) -> BenchResult:
    """Every case of every suite, for every model, temperature and seed. With a distributed `group`
    (`sharding.launched_group()`), this process runs its share of the cases and every process returns
    the merged result. `load_model(spec, config)` builds each model once (default `load_agent_model`)."""
    config = config or RunConfig()
    load_model = load_model or load_agent_model
    cases = [c for s in suites for c in s.cases]
    jobs = [(t, seed, case) for t in config.temperatures for seed in config.seeds for case in cases]
    if group is not None:
        jobs = shard(jobs, group.rank(), group.size())
    total = len(specs) * len(jobs)
    done = 0
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tic = time.perf_counter()
    runs: list[ModelRun] = []
    for spec in specs:
        run = ModelRun(spec)
        runs.append(run)
        _reset_peak()
        t0 = time.perf_counter()
        try:
            model = load_model(spec, config)
        except Exception as e:  # noqa: BLE001 - a model that fails to load: one line, then the next model
            run.load_error = f"{spec.label}: failed to load: {type(e).__name__}: {one_line(e)}"
            if on_model_error:
                on_model_error(spec, run.load_error)
            done += len(jobs)
            if progress:
                progress(done, total, f"{spec.label}: failed to load")
        else:
            run.load_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            for (temperature, seed, case), ran in _execute(model, spec, jobs, config, progress, done, total):
                sc = ran.score
                run.scores.append(sc)
                run.outcomes.append(ran.outcome)
                done += 1
                if progress:
                    progress(
                        done,
                        total,
                        f"{spec.label} {case.id}: {sc.label} -> {sc.predicted}, "
                        f"{'correct' if sc.correct else 'wrong'}, {sc.outcome}, {sc.latency_s:.0f}s",
                    )
            run.wall_s = time.perf_counter() - t1
            run.peak_memory_mb = _peak_mb() if _is_mlx(model) else None
            stats: Any = getattr(model, "stats", None)
            run.routing = stats.to_json() if hasattr(stats, "to_json") else None
        if group is not None:
            merge_model_run(run, group)
    if progress:
        progress(done, total, "done")
    return BenchResult(
        suites=list(suites), config=config, models=runs, started=started, wall_s=time.perf_counter() - tic
    )
