"""Numbers are checked where they are parsed: every numeric option and config key refuses NaN, infinity
and values out of range with one line (exit 2) before any work, and training that diverges anyway
stops naming the step, with no NaN adapter saved as a good checkpoint."""

from __future__ import annotations

import math

import mlx.core as mx
import pytest
import yaml
from click.testing import CliRunner

from mlx_distill.cli import main
from mlx_distill.errors import InputError
from mlx_distill.train.checkpoint import ADAPTER_FILE, checkpoint_state
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.trainer import train


@pytest.fixture
def inputs(tmp_path):
    """An existing file and directory for the arguments that must exist, so only the number is wrong."""
    (tmp_path / "in.jsonl").write_text('{"id": "a", "messages": []}\n')
    (tmp_path / "prompts.txt").write_text("What is 2 + 2?\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "doc.md").write_text("# Doc\n\nText.\n")
    return tmp_path


# (arguments, the option the one-line error must name); {t} is the tmp directory
PROBES = [
    ("data convert --from legacy {t}/in.jsonl {t}/out.jsonl --limit -1", "--limit"),
    ("data convert --from legacy {t}/in.jsonl {t}/out.jsonl --limit 0", "--limit"),
    ("data domain {t}/dir -o {t}/out.jsonl --limit 0", "--limit"),
    ("data domain {t}/dir -o {t}/out.jsonl --max-result-chars -5", "--max-result-chars"),
    ("data direct {t}/dir -o {t}/out.jsonl --limit -1", "--limit"),
    ("data direct {t}/dir -o {t}/out.jsonl --limit 0", "--limit"),
    ("data validate {t}/in.jsonl --render-sample -3", "--render-sample"),
    ("data validate {t}/in.jsonl --near-threshold 5", "--near-threshold"),
    ("data validate {t}/in.jsonl --near-threshold nan", "--near-threshold"),
    ("data validate {t}/in.jsonl --max-seq-length 0", "--max-seq-length"),
    ("collect --teacher test --prompts {t}/prompts.txt --out {t}/store --budget-usd nan", "--budget-usd"),
    ("collect --teacher test --prompts {t}/prompts.txt --out {t}/store --budget-usd -1", "--budget-usd"),
    ("collect --teacher test --prompts {t}/prompts.txt --out {t}/store --poll-interval inf", "--poll-interval"),
    ("bench --model embedded:smollm2-135m --temperature nan", "--temperature"),
    ("bench --model embedded:smollm2-135m --temperature 0,inf", "--temperature"),
    ("bench --model embedded:smollm2-135m --temperature -0.5", "--temperature"),
    ("compare --prompts {t}/prompts.txt --model embedded:smollm2-135m --temperature nan", "--temperature"),
    ("chat --temperature nan -q hi", "--temperature"),
    ("chat --temperature inf -q hi", "--temperature"),
    ("chat --max-tokens 0 -q hi", "--max-tokens"),
    ("chat --max-tool-calls -1 -q hi", "--max-tool-calls"),
    ("economics {t}/dir --training-usd-per-hour inf", "--training-usd-per-hour"),
    ("economics {t}/dir --training-usd-per-hour nan", "--training-usd-per-hour"),
    ("economics {t}/dir --training-usd-per-hour -2", "--training-usd-per-hour"),
    ("gate --student embedded:smollm2-135m --against discrimination --threshold nan", "--threshold"),
    ("serve --port -1", "--port"),
    ("serve --port 70000", "--port"),
    ("serve --timeout nan", "--timeout"),
    ("serve --max-body-bytes 0", "--max-body-bytes"),
    ("model sample --max-tokens 0", "--max-tokens"),
    ("fuse {t}/dir --group-size 0", "--group-size"),
]


@pytest.mark.parametrize("args, option", PROBES, ids=[p[0].replace("{t}/", "") for p in PROBES])
def test_a_nan_infinite_or_out_of_range_option_is_one_line_before_any_work(inputs, args, option):
    result = CliRunner().invoke(main, args.format(t=inputs).split())
    assert result.exit_code == 2, result.output
    assert "Error: Invalid value for" in result.output and option in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))
    assert not (inputs / "out.jsonl").exists() and not (inputs / "store").exists()


@pytest.mark.parametrize(
    "override, key",
    [
        ("lora_parameters.scale=nan", "lora_parameters.scale"),
        ("lora_parameters.scale=.inf", "lora_parameters.scale"),
        ("learning_rate=inf", "learning_rate"),
        ("learning_rate=nan", "learning_rate"),
        ("cache_max_gb=-1", "cache_max_gb"),
        ("num_layers=0", "num_layers"),
        ("lr_schedule={name: cosine_decay, arguments: [.nan, 10]}", "lr_schedule.arguments"),
        ("optimizer_config={adam: {betas: [.nan, 0.9]}}", "optimizer_config.adam"),
    ],
)
def test_train_refuses_non_finite_and_meaningless_settings_at_parse(override, key):
    result = CliRunner().invoke(main, ["train", "--set", override, "--print-config"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: [config]: ") and key in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_train_options_are_checked_by_the_same_config_rules():
    result = CliRunner().invoke(main, ["train", "--learning-rate", "nan", "--print-config"])
    assert result.exit_code == 2 and "learning_rate: Input should be a finite number" in result.output


@pytest.mark.parametrize(
    "section, text",
    [
        ("validation", "validation: {model: null, bench: [], near_threshold: .nan}"),
        ("balance", "balance: {ratio: {tool: .inf}}"),
        ("split", "split: {valid: .nan}"),
        ("sources", "sources: [{type: catalogue, pairs: .nan}]"),
        ("sources", "sources: [{type: records, paths: [x.jsonl], limit: 0}]"),
    ],
)
def test_the_data_recipe_refuses_nan_infinity_and_zero_limits(tmp_path, section, text):
    from mlx_distill.data.config import load_config

    path = tmp_path / "data.yaml"
    path.write_text(f"output_dir: out\n{text}\n")
    with pytest.raises(InputError, match=section):
        load_config(path)


def test_the_lrl_recipe_refuses_nan(tmp_path):
    from mlx_distill.lrl.pipeline import load_config

    path = tmp_path / "lrl.yaml"
    path.write_text("synth: {valid: .nan}\n")
    with pytest.raises(InputError, match="synth.valid: Input should be a finite number"):
        load_config(path, {})


def test_a_diverging_run_stops_naming_the_step_and_saves_no_nan_adapter(tmp_path, tiny_model_dir):
    data = write_small_data(tmp_path / "data", n_train=10, n_valid=4, n_test=2)
    run = tmp_path / "run"
    cfg = {
        "model": str(tiny_model_dir),
        "data": str(data),
        "adapter_path": str(run),
        "batch_size": 4,
        "num_layers": 2,
        "iters": 4,
        "learning_rate": 1e30,  # finite, so accepted; the first update blows the weights up
        "val_batches": 0,
        "save_every": 1,
        "steps_per_report": 3,
        "lora_parameters": {"rank": 4, "scale": 20.0, "dropout": 0.0},
    }
    with pytest.raises(InputError) as e:
        train(cfg, progress=False, quiet=True)
    message = str(e.value)
    assert message.startswith(
        "[diverged]: step 2: the training loss is nan; training stopped and this step was not saved"
    )
    assert "learning rate (1e+30)" in message and "lora_parameters.scale (20)" in message
    assert checkpoint_state(run)["step"] == 1  # the last good checkpoint stays the commit point
    for adapter in [run / ADAPTER_FILE, *run.glob("[0-9]*_adapters.safetensors")]:
        weights = mx.load(str(adapter))
        assert all(bool(mx.all(mx.isfinite(w)).item()) for w in weights.values()), adapter
    assert not (run / "0000002_adapters.safetensors").exists()


def test_the_yaml_recipe_with_nan_is_refused_before_the_model_loads(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"model": "/nonexistent", "lora_parameters": {"scale": math.nan}}))
    result = CliRunner().invoke(main, ["train", "-c", str(path)])
    assert result.exit_code == 2 and "lora_parameters.scale: Input should be a finite number" in result.output
