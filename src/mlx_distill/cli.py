"""The `mlx-distill` command: a thin click layer over the library. Each area adds its own commands."""

from __future__ import annotations

import json

import click

from .cli_errors import OneLineErrorsGroup
from .cli_options import COUNT
from .runtime import offline_by_default


@click.group(cls=OneLineErrorsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlx-distill")
def main() -> None:
    """Distill a teacher's tool-use judgement into a small local MLX model."""
    offline_by_default()


@main.group()
def model() -> None:
    """Prepare and inspect models (embedded:smollm2-135m, a model directory, or a Hugging Face id)."""


@model.command("prepare")
@click.argument("name", default="embedded:smollm2-135m")
@click.option("--force", is_flag=True, help="Convert again even if an intact copy exists.")
def model_prepare(name: str, force: bool) -> None:
    """Convert an embedded model into the cache (once; redone if damaged) and print its path."""
    from .models import prepare

    path = prepare(name, force=force, progress=lambda msg: click.echo(msg, err=True))
    click.echo(str(path))


@model.command("info")
@click.argument("name", default="embedded:smollm2-135m")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def model_info(name: str, as_json: bool) -> None:
    """Print a model's card: path, architecture, size, quantization."""
    from .models import model_card

    card = model_card(name)
    if as_json:
        click.echo(json.dumps(card, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model {name}", show_header=False)
    for k, v in card.items():
        table.add_row(k, str(v))
    Console().print(table)


@model.command("sample")
@click.argument("name", default="embedded:smollm2-135m")
@click.option("--prompt", default="What is the capital of France?", show_default=True)
@click.option("--adapter-path", default=None, help="A LoRA adapter directory to apply.")
@click.option("--max-tokens", type=COUNT, default=48, show_default=True)
def model_sample(name: str, prompt: str, adapter_path: str | None, max_tokens: int) -> None:
    """Print one greedy answer, rendered through the same template as training."""
    from mlx_lm import generate

    from .models import load_model
    from .prompting import render

    model_, tok = load_model(name, adapter_path)
    text = render([{"role": "user", "content": prompt}], None, tok, add_generation_prompt=True)
    click.echo(f"Q: {prompt}")
    click.echo(f"A: {generate(model_, tok, text, max_tokens=max_tokens).strip()}")


@model.command("list")
def model_list() -> None:
    """List the embedded models and whether each is prepared."""
    from .models import EMBEDDED, is_intact, model_dir

    for name, spec in EMBEDDED.items():
        d = model_dir(name)
        state = "prepared" if d.exists() and is_intact(d) else "not prepared"
        click.echo(f"{name:30} {state:13} {spec.description}")


@main.command("doctor")
def doctor() -> None:
    """Show the runtime: platform, MLX device, which BLAS is in use, cache directory."""
    from .runtime import describe

    for k, v in describe().items():
        click.echo(f"{k:9} {v}")


def _register() -> None:
    """Add the commands of each area (kept in their own packages so this file stays thin)."""
    import importlib

    for module, names in (
        ("mlx_distill.data.cli", ["data"]),
        ("mlx_distill.train.cli", ["train", "fuse"]),
        ("mlx_distill.agent.cli", ["serve", "chat"]),
        ("mlx_distill.bench.cli", ["bench", "compare"]),
        ("mlx_distill.bench.decision_cli", ["decide", "curve", "calibrate"]),
        ("mlx_distill.collection.cli", ["collect"]),
        ("mlx_distill.economics.cli", ["gate", "economics"]),
        ("mlx_distill.lrl.cli", ["lrl"]),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        for name in names:
            main.add_command(getattr(mod, name), name=name)


_register()

if __name__ == "__main__":
    main()
