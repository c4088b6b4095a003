"""`mlx-distill collect`: a thin click command over `collection.collect`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli_errors import one_line, one_line_errors
from ..cli_options import COUNT, NON_NEGATIVE, NON_NEGATIVE_INT


def builtin_prompts() -> Path:
    """The built-in training prompt set, data/teacher/prompts.jsonl of the source tree."""
    return Path(__file__).resolve().parents[3] / "data" / "teacher" / "prompts.jsonl"


@click.command("collect")
@click.option(
    "--teacher",
    required=True,
    help="anthropic:<model id> (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL), any PydanticAI model name, or a "
    "local MLX model (embedded:smollm2-135m, a model directory, a Hugging Face id).",
)
@click.option(
    "--prompts",
    "prompts_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Prompts JSONL (default: the built-in set, data/teacher/prompts.jsonl).",
)
@click.option(
    "--out",
    "store",
    type=click.Path(file_okay=False),
    default="runs/teacher",
    show_default=True,
    help="The store directory (records.jsonl, ledger.jsonl...); a re-run resumes it.",
)
@click.option(
    "--concurrency",
    type=COUNT,
    default=4,
    show_default=True,
    help="Prompts in flight at once (API teachers).",
)
@click.option(
    "--budget-usd",
    type=NON_NEGATIVE,
    default=None,
    help="Stop before the next call could take this run's spending past this many dollars.",
)
@click.option("--batch", is_flag=True, help="Use the Message Batches API (half price, turn by turn, slower).")
@click.option("--adapter-path", default=None, help="LoRA adapter of a local MLX teacher.")
@click.option("--limit", type=COUNT, default=None, help="Only the first N prompts.")
@click.option("--max-tokens", type=COUNT, default=1024, show_default=True)
@click.option("--max-requests", type=COUNT, default=8, show_default=True)
@click.option("--max-tool-calls", type=NON_NEGATIVE_INT, default=6, show_default=True)
@click.option(
    "--poll-interval",
    type=NON_NEGATIVE,
    default=10.0,
    show_default=True,
    help="Seconds before the first check of a batch (grows by half after each check).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@one_line_errors
def collect(
    teacher: str,
    prompts_path: str | None,
    store: str,
    concurrency: int,
    budget_usd: float | None,
    batch: bool,
    adapter_path: str | None,
    limit: int | None,
    max_tokens: int,
    max_requests: int,
    max_tool_calls: int,
    poll_interval: float,
    as_json: bool,
) -> None:
    """Collect a teacher's verified trajectories on PROMPTS into a resumable store (docs/teacher.md)."""
    from .collect import CollectError, CollectSettings, collect as run_collect
    from ..teacher.prices import UnknownPrice
    from .prompts import load_prompts
    from ..teacher.model import TeacherError

    prompts = load_prompts(prompts_path or builtin_prompts())[:limit]
    settings = CollectSettings(max_tokens=max_tokens, max_requests=max_requests, max_tool_calls=max_tool_calls)

    def progress(done: int, total: int, what: str) -> None:
        if not as_json:
            click.echo(f"collect {done}/{total} {what}", err=True)

    with one_line(CollectError, TeacherError, UnknownPrice, status=1):
        summary = run_collect(
            teacher,
            prompts,
            store,
            progress,
            settings=settings,
            concurrency=concurrency,
            budget_usd=budget_usd,
            batch=batch,
            adapter_path=adapter_path,
            poll_interval_s=poll_interval,
        )
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        for line in summary.lines():
            click.echo(line)
    if summary.failed:
        sys.exit(3)
