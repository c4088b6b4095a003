"""`mlx-distill bench` and `mlx-distill compare`: thin click commands over the bench package, and the
model and suite options they share with the decision-only commands (`decision_cli.py`)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from ..cli_errors import one_line_errors
from ..cli_options import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT, default_out_dir, out_dir_option, report_options
from ..errors import InputError
from ..progress import Bar

NO_ADAPTER = ("-", "none", "")


def parse_temperatures(values: Sequence[str]) -> list[float]:
    out: list[float] = []
    for v in values or ("0",):
        for part in str(v).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                t = float(part)
            except ValueError:
                raise click.BadParameter(f"{part!r} is not a number", param_hint="--temperature") from None
            if not math.isfinite(t) or t < 0:
                raise click.BadParameter(f"{part} is not a finite number >= 0", param_hint="--temperature")
            if t not in out:
                out.append(t)
    return out or [0.0]


def model_specs(
    models: Sequence[str],
    adapters: Sequence[str],
    *,
    include_base: bool = False,
    prefix_cache: bool = True,
    constrain_calls: bool = True,
) -> list[Any]:
    """Pair --adapter-path values with --model values by position ('-' or 'none' = no adapter); models
    past the last adapter run without one. --include-base adds each adapted model's base as well."""
    from .runner import ModelSpec

    if len(adapters) > len(models):
        raise InputError(
            f"{len(adapters)} --adapter-path values for {len(models)} --model values: pair each "
            "adapter with a model (repeat --model to compare one base with several adapters)"
        )
    specs: list[ModelSpec] = []
    for i, m in enumerate(models):
        adapter = adapters[i] if i < len(adapters) and adapters[i].lower() not in NO_ADAPTER else None
        if adapter and not Path(adapter).expanduser().exists():
            raise InputError("adapter directory not found", path=adapter)
        if adapter and include_base and not any(s.model == m and not s.adapter_path for s in specs):
            specs.append(ModelSpec(m, None, prefix_cache=prefix_cache, constrain_calls=constrain_calls))
        if not any(s.model == m and s.adapter_path == adapter for s in specs):
            specs.append(ModelSpec(m, adapter, prefix_cache=prefix_cache, constrain_calls=constrain_calls))
    labels = [s.label for s in specs]
    for s in specs:  # two adapters with the same directory name: show the path instead
        if labels.count(s.label) > 1 and s.adapter_path:
            s.label = f"{s.model} + {s.adapter_path}"
    return specs


adapters_option = click.option(
    "--adapter-path",
    "adapters",
    multiple=True,
    help="LoRA adapter for the --model at the same position (repeatable; '-' for none).",
)


def suites_option(default: tuple[str, ...]) -> Any:
    return click.option(
        "--suite",
        "-s",
        "suites",
        multiple=True,
        default=default,
        show_default=True,
        help="Built-in suite name, bfcl:<category>, when2call:<file>, or a suite JSONL file (repeatable).",
    )


def check_named_models(models: tuple[str, ...], teacher: str | None) -> None:
    """A retired model (or router teacher) fails here, in one line, before a case runs or a file is written."""
    from ..cli_errors import one_line
    from ..teacher.lifecycle import RetiredModel, check_lifecycle

    with one_line(RetiredModel, status=1):
        check_lifecycle(*models, teacher)


def with_calibration(specs: list[Any], calibration: str | None) -> list[Any]:
    """Raw and calibrated side by side: a local model with a decision calibration (its adapter's own, or
    --calibration PATH) becomes two columns, the raw model and the calibrated one named by its bias;
    --no-calibration ("none") keeps only the raw one. Other models pass unchanged."""
    from ..agent.calibration import NO_CALIBRATION, resolve_calibration
    from ..agent.model import MLXModel
    from ..models.names import is_pydantic_ai_name, is_router_name, is_url
    from .runner import ModelSpec

    out = []
    for s in specs:
        local = isinstance(s.model, str) and not (
            is_url(s.model) or is_pydantic_ai_name(s.model) or is_router_name(s.model)
        )
        own = resolve_calibration(None, s.adapter_path) if local else None
        chosen = None if calibration == NO_CALIBRATION else resolve_calibration(calibration, s.adapter_path)
        if not local or (own is None and chosen is None):
            out.append(s)
            continue

        def mlx(cal: Any) -> Any:
            return MLXModel(
                s.model,
                adapter_path=s.adapter_path,
                prefix_cache=s.prefix_cache,
                calibration=cal,
                constrain_calls=s.constrain_calls,
            )

        out.append(ModelSpec(mlx(NO_CALIBRATION), label=s.label, constrain_calls=s.constrain_calls))
        if chosen is not None:
            out.append(ModelSpec(mlx(chosen), label=f"{s.label} [{chosen.label}]", constrain_calls=s.constrain_calls))
    return out


def add_teacher(specs: list[Any], teacher: str | None) -> list[str]:
    """Append the teacher when it can be used (its provider key is present); notes otherwise."""
    from ..resolve import resolve
    from .runner import ModelSpec, one_line

    if not teacher:
        return []
    try:
        resolve(teacher)
    except Exception as e:  # noqa: BLE001
        return [f"teacher {teacher} skipped: {one_line(e)}"]
    specs.append(ModelSpec(teacher, label=f"teacher {teacher}"))
    return []


def calibration_option(fn: Any) -> Any:
    """--calibration PATH / --no-calibration (`calibration`: None = the adapter's own when it has one)."""
    fn = click.option(
        "--no-calibration",
        "calibration",
        flag_value="none",
        help="Raw decisions only, even where the adapter has a decision_calibration.json.",
    )(fn)
    return click.option(
        "--calibration",
        "calibration",
        metavar="PATH",
        default=None,  # a plain string: --no-calibration stores "none" in the same place
        help="A decision_calibration.json (or a directory holding one) to apply; default: the adapter's own.",
    )(fn)


@click.command("bench")
@click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    required=True,
    help="Model to benchmark (repeatable): embedded:smollm2-135m, a model directory, a server URL, "
    "or a pydantic-ai model name such as anthropic:claude-sonnet-5-5.",
)
@adapters_option
@click.option("--include-base", is_flag=True, help="Also benchmark the base of every adapted model.")
@click.option("--teacher", default=None, help="A pydantic-ai model name, included when its API key is present.")
@suites_option(default=("discrimination",))
@click.option("--category", "categories", multiple=True, help="Only cases of these categories (repeatable).")
@click.option("--limit", type=COUNT, default=None, help="At most N cases per suite.")
@click.option(
    "--temperature",
    "temperatures",
    multiple=True,
    default=("0",),
    show_default=True,
    help="Temperatures, comma-separated or repeated: --temperature 0,0.7",
)
@click.option(
    "--seeds",
    type=COUNT,
    default=1,
    show_default=True,
    help="Seeds per temperature (workspace contents and sampling); reports mean and spread.",
)
@click.option("--max-requests", type=COUNT, default=8, show_default=True)
@click.option("--max-tool-calls", type=NON_NEGATIVE_INT, default=6, show_default=True)
@click.option("--max-tokens", type=COUNT, default=512, show_default=True)
@click.option("--no-prefix-cache", is_flag=True, help="Disable prefix KV-cache reuse (local MLX models).")
@click.option(
    "--unconstrained",
    is_flag=True,
    help="Local MLX models write their tool calls unconstrained (by default an opened call is held to "
    "the offered names and schemas); report.json records which (constrain_calls).",
)
@click.option(
    "--concurrency",
    type=COUNT,
    default=None,
    help="Cases run at once; on a local MLX model their decoding is batched. Default: 4 on up to "
    "2 cores, twice the cores beyond (at most 16). 1 runs cases one by one (seeded sampling "
    "at temperature > 0 is reproducible only then).",
)
@calibration_option
@out_dir_option("Run directory (default: runs/bench/<timestamp>).")
@click.option("--keep-workspaces", is_flag=True, help="Copy each case's final workspace into the run directory.")
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of the table.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@one_line_errors
def bench(
    models: tuple[str, ...],
    adapters: tuple[str, ...],
    include_base: bool,
    teacher: str | None,
    suites: tuple[str, ...],
    categories: tuple[str, ...],
    limit: int | None,
    temperatures: tuple[str, ...],
    seeds: int,
    max_requests: int,
    max_tool_calls: int,
    max_tokens: int,
    no_prefix_cache: bool,
    unconstrained: bool,
    concurrency: int | None,
    calibration: str | None,
    out_dir: str | None,
    keep_workspaces: bool,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Benchmark models on tool-vs-direct discrimination through the real agent, side by side.
    Under `mlx.launch -n N -- mlx-distill bench ...` the cases are split over the N processes and rank 0
    writes the one report."""
    from ..resolve import load_for_bench
    from .report import load_errors, rich_table, suite_lines, write_run_dir
    from .runner import RunConfig, default_concurrency, run_benchmark
    from .sharding import launched_group
    from .suites import Suite, load_suite, select

    check_named_models(models, teacher)
    temps = parse_temperatures(temperatures)
    loaded = [load_suite(s) for s in suites]
    if categories:
        known = sorted({c.category for s in loaded for c in s.cases})
        unknown = [c for c in categories if c not in known]
        if unknown:
            raise InputError(f"unknown category {', '.join(map(repr, unknown))} (in these suites: {', '.join(known)})")
    chosen = [
        Suite(s.name, select(s.cases, limit=limit, categories=list(categories) or None), s.source) for s in loaded
    ]
    chosen = [s for s in chosen if s.cases]
    specs = model_specs(
        models,
        adapters,
        include_base=include_base,
        prefix_cache=not no_prefix_cache,
        constrain_calls=not unconstrained,
    )
    specs = with_calibration(specs, calibration)
    for note in add_teacher(specs, teacher):
        click.echo(f"note: {note}", err=True)
    out = Path(out_dir) if out_dir else default_out_dir("bench")
    config = RunConfig(
        temperatures=temps,
        seeds=list(range(seeds)),
        max_requests=max_requests,
        max_tool_calls=max_tool_calls,
        max_tokens=max_tokens,
        concurrency=concurrency or default_concurrency(),
        keep_workspaces=str(out / "workspaces") if keep_workspaces else None,
        ledger_dir=str(out / "router") if any(str(m).startswith("router:") for m in models) else None,
    )

    group = launched_group()  # under `mlx.launch -n N`: this process runs its share, rank 0 reports
    lead = group is None or group.rank() == 0

    def model_error(spec: Any, message: str) -> None:
        if lead:
            click.echo(f"error: {message}", err=True)

    with Bar.of_run("bench", enabled=not no_progress and lead) as bar:
        result = run_benchmark(
            specs, chosen, config, progress=bar, on_model_error=model_error, group=group, load_model=load_for_bench
        )
    if not lead:
        return
    data = result.to_json()
    paths = write_run_dir(data, out)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        console = Console()  # 80 columns when the output is a file or a pipe
        console.print(rich_table(data))
        if any(m.get("pooled") for m in data["models"]):
            for line in suite_lines(data):
                click.echo(line)
        for m in data["models"]:
            if m.get("routing"):  # a router: how much the student answered on its own
                r = m["routing"]
                click.echo(
                    f"{m['label']}: {r['answered_by_student']}/{r['calls']} model calls answered by the student "
                    f"({100 * (r['local_fraction'] or 0):.1f}% local, teacher calls saved), fallbacks "
                    f"{r['fallback_reasons'] or 'none'}"
                )
        click.echo(f"report: {paths['markdown']}  json: {paths['json']}  chart: {paths['chart']}")
    if len(load_errors(data)) == len(data["models"]):
        sys.exit(1)


@click.command("compare")
@click.option(
    "--prompts",
    required=True,
    help="Prompts: a .txt file (one per line), a .jsonl file (question/prompt, optional workspace), "
    "or a built-in suite name.",
)
@click.option("--model", "-m", "models", multiple=True, required=True, help="Model to run (repeatable).")
@adapters_option
@click.option("--include-base", is_flag=True, help="Also run the base of every adapted model.")
@click.option("--teacher", default=None, help="A pydantic-ai model name, included when its API key is present.")
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="A directory copied as the workspace of every prompt without its own workspace spec.",
)
@click.option("--temperature", type=NON_NEGATIVE, default=0.0, show_default=True)
@click.option("--max-tokens", type=COUNT, default=512, show_default=True)
@report_options("compare", "Output directory (default: runs/compare/<timestamp>).")
@one_line_errors
def compare(
    prompts: str,
    models: tuple[str, ...],
    adapters: tuple[str, ...],
    include_base: bool,
    teacher: str | None,
    workspace: str | None,
    temperature: float,
    max_tokens: int,
    out_dir: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Run the same prompts through each model; write the answers side by side (Markdown and HTML)."""
    from ..resolve import load_for_bench
    from .compare import load_prompts, run_compare, write_compare

    items = load_prompts(prompts)
    check_named_models(models, teacher)
    specs = model_specs(models, adapters, include_base=include_base)
    for note in add_teacher(specs, teacher):
        click.echo(f"note: {note}", err=True)
    with Bar.of_run("compare", enabled=not no_progress) as bar:
        data = run_compare(
            specs,
            items,
            workspace=workspace,
            progress=bar,
            temperature=temperature,
            max_tokens=max_tokens,
            load_model=load_for_bench,
        )
    for err in data["load_errors"].values():
        click.echo(f"error: {err}", err=True)
    paths = write_compare(data, Path(out_dir) if out_dir else default_out_dir("compare"))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo(f"compare: {paths['markdown']}  html: {paths['html']}")
    if len(data["load_errors"]) == len(specs):
        sys.exit(1)
