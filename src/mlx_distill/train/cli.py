"""`mlx-distill train` and `mlx-distill fuse` (registered by the root CLI; runnable on their own too)."""

from __future__ import annotations

import json
from typing import Any, Optional

import click

from ..cli_errors import one_line_errors
from ..cli_options import COUNT


# explicit flags -> config keys (None = not given, the config file or default wins)
FLAGS = (
    "model",
    "data",
    "iters",
    "batch_size",
    "learning_rate",
    "num_layers",
    "max_seq_length",
    "seed",
    "mask",
    "fine_tune_type",
    "run_name",
    "adapter_path",
    "bucketing",
    "cache_frozen_prefix",
    "share_prompt_prefix",
    "steps_per_eval",
    "save_every",
    "val_batches",
)


@click.command("train", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="YAML recipe: mlx_lm.lora keys plus ours (configs/default.yaml).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config key; nested keys with dots (--set lora_parameters.rank=16). Repeatable.",
)
@click.option("--model", default=None, help="embedded:smollm2-135m, a model directory, or a Hugging Face id.")
@click.option("--data", default=None, help="Directory holding train.jsonl and valid.jsonl.")
@click.option("--iters", type=int, default=None, help="Training steps (batches).")
@click.option("--batch-size", type=int, default=None)
@click.option("--learning-rate", type=float, default=None)
@click.option("--num-layers", type=int, default=None, help="Train the top N layers (-1: all).")
@click.option("--max-seq-length", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option(
    "--mask",
    type=click.Choice(["all_assistant", "last", "none"]),
    default=None,
    help="Supervised tokens: every assistant turn (default), the last one, or everything.",
)
@click.option("--fine-tune-type", type=click.Choice(["lora", "dora", "full"]), default=None)
@click.option("--steps-per-eval", type=int, default=None)
@click.option("--save-every", type=int, default=None)
@click.option("--val-batches", type=int, default=None, help="Validation batches (-1: all, 0: no validation).")
@click.option("--bucketing/--no-bucketing", default=None, help="Batch examples of similar length together.")
@click.option(
    "--cache-frozen-prefix/--no-cache-frozen-prefix",
    default=None,
    help="Compute the frozen bottom layers once per example and reuse them.",
)
@click.option(
    "--share-prompt-prefix/--no-share-prompt-prefix",
    default=None,
    help="Run a batch's common prompt prefix once instead of once per example.",
)
@click.option("--run-name", default=None, help="Run directory adapters/<run-name> (default: the config's file name).")
@click.option("--adapter-path", default=None, help="Exact run directory (mlx-lm's key; overrides --run-name).")
@click.option("--resume", is_flag=True, help="Continue the run in the run directory from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in the run directory.")
@click.option("--print-config", is_flag=True, help="Print the resolved configuration and exit.")
@click.option("--no-progress", is_flag=True, help="No progress bar (reports are still printed).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@one_line_errors
def train(
    config_path: Optional[str],
    sets: tuple[str, ...],
    resume: bool,
    overwrite: bool,
    print_config: bool,
    no_progress: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train a LoRA adapter (mlx-lm's LoRA, faster on shared prompts, every assistant turn supervised)."""
    from .config import apply_overrides, load_config

    overrides = {k: v for k, v in flags.items() if k in FLAGS and v is not None}
    # --set first, explicit flags last (flags win)
    merged: dict[str, Any] = {}
    if sets:
        merged = apply_overrides({}, list(sets))
    merged.update(overrides)
    cfg = load_config(config_path, merged)
    if print_config:
        click.echo(cfg.to_yaml(), nl=False)
        return
    from .trainer import train as run_training

    from .distributed import Group

    result = run_training(cfg, resume=resume, overwrite=overwrite, progress=not no_progress)
    if as_json and Group().root:  # under mlx.launch, rank 0 speaks for the run
        click.echo(json.dumps(result.to_json(), indent=2))


@click.command("fuse", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("adapter_path", type=click.Path(file_okay=False))
@click.option("--model", default=None, help="Base model (default: the one named in adapter_config.json).")
@click.option("--save-path", default=None, help="Output model directory (default: ADAPTER_PATH/fused).")
@click.option(
    "--bits",
    type=COUNT,
    default=None,
    help="Re-quantize the fused model to this many bits (default: keep full precision).",
)
@click.option("--group-size", type=COUNT, default=64, show_default=True)
@click.option("--force", is_flag=True, help="Allow re-quantizing below 5 bits (erases most LoRA changes).")
@click.option("--no-verify", is_flag=True, help="Skip the probe comparing the fused model with base + adapter.")
@one_line_errors
def fuse(
    adapter_path: str,
    model: Optional[str],
    save_path: Optional[str],
    bits: Optional[int],
    group_size: int,
    force: bool,
    no_verify: bool,
) -> None:
    """Fuse a trained adapter into its base model (a quantized base is dequantized first)."""
    from .fuse import fuse_adapter

    r = fuse_adapter(
        adapter_path,
        save_path,
        model=model,
        bits=bits,
        group_size=group_size,
        force=force,
        verify=not no_verify,
        log=lambda m: click.echo(m, err=True),
    )
    click.echo(
        f"fused {r.fused_layers} adapter layers into {r.base} -> {r.save_path}"
        + (f" ({r.bits}-bit)" if r.bits else " (full precision)")
    )
    if r.max_logit_diff is not None:
        kept = f"; adapter effect kept: {100 * r.adapter_effect_kept:.1f}%" if r.adapter_effect_kept is not None else ""
        click.echo(f"check on a probe prompt: max |logit difference| vs base+adapter {r.max_logit_diff:.2e}{kept}")
