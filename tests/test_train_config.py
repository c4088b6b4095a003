"""Training configuration: mlx-lm keys accepted as they are, typos refused with a did-you-mean, recipes valid."""

from pathlib import Path

import pytest
from click.testing import CliRunner

import mlx_distill  # noqa: F401  (BLAS before mlx)
from mlx_distill.errors import InputError
from mlx_distill.train.cli import train as train_cmd
from mlx_distill.train.config import load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_rank_is_an_error_pointing_to_lora_parameters():
    with pytest.raises(InputError, match=r"unknown configuration key 'rank' \(did you mean lora_parameters.rank\?\)"):
        parse_config({"rank": 16})


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"itres": 5}, "did you mean 'iters'"),
        ({"lora_parameters": {"rnak": 4}}, "lora_parameters.rnak' (did you mean 'rank'"),
        ({"lora_parameters": {"alpha": 16}}, "uses `scale`, not `alpha`"),
        ({"lr_schedule": {"name": "cosine_decy", "arguments": [1e-4, 100]}}, "did you mean 'cosine_decay'"),
        ({"optimizer_config": {"adamw": {"weight_decai": 0.1}}}, "did you mean 'weight_decay'"),
        ({"mask": "assistant"}, "mask"),
        ({"batch_size": 0}, "batch_size"),
        ({"mask": "all_assistant", "mask_prompt": True}, "keep one of them"),
        ({"learning_rate": 1e-4, "lr_schedule": {"name": "cosine_decay", "arguments": [2e-4, 100]}}, "disagree"),
        ({"report_to": "wandb"}, "not supported"),
        ({"train": False}, "always trains"),
        ({"hf_dataset": {"path": "x"}}, "Hugging Face datasets are not read"),
    ],
)
def test_bad_keys_and_values_are_one_line_errors(data, expected):
    with pytest.raises(InputError) as e:
        parse_config(data)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_mlx_lm_yaml_is_accepted_as_is(tmp_path):
    cfg_file = tmp_path / "lora.yaml"
    cfg_file.write_text(
        "model: mlx-community/Qwen2.5-Coder-7B-Instruct-4bit\ntrain: true\ndata: data/mlx_format\n"
        "fine_tune_type: lora\noptimizer: adamw\noptimizer_config:\n  adamw:\n    weight_decay: 0.01\n"
        "seed: 3\nnum_layers: 16\nbatch_size: 2\niters: 300\nval_batches: 25\nlearning_rate: 1e-4\n"
        "steps_per_report: 10\nsteps_per_eval: 200\nresume_adapter_file: null\nadapter_path: adapters/x\n"
        "save_every: 100\ntest: false\ntest_batches: 100\nmax_seq_length: 2048\ngrad_checkpoint: true\n"
        "grad_accumulation_steps: 2\nmask_prompt: true\n"
        "lr_schedule:\n  name: cosine_decay\n  warmup: 10\n  warmup_init: 1e-7\n  arguments: [1e-4, 300, 1e-6]\n"
        "lora_parameters:\n  keys: [self_attn.q_proj, self_attn.v_proj]\n  rank: 8\n  scale: 20.0\n  dropout: 0.05\n"
    )
    cfg = load_config(cfg_file)
    assert cfg.learning_rate == 1e-4 and isinstance(cfg.learning_rate, float)  # "1e-4" read as a float, as mlx-lm
    assert cfg.mask == "last"  # mask_prompt: true
    assert cfg.optimizer_kwargs() == {"weight_decay": 0.01}
    assert cfg.lora_parameters.keys == ["self_attn.q_proj", "self_attn.v_proj"]
    assert cfg.run_dir() == Path("adapters/x")
    assert cfg.lr_schedule.warmup == 10


def test_overrides_and_run_name(tmp_path):
    cfg_file = tmp_path / "myrecipe.yaml"
    cfg_file.write_text("iters: 10\nlora_parameters:\n  rank: 8\n  scale: 20\n")
    cfg = load_config(cfg_file, ["lora_parameters.rank=4", "learning_rate=3e-4", "bucketing=false"])
    assert (cfg.lora_parameters.rank, cfg.lora_parameters.scale, cfg.learning_rate, cfg.bucketing) == (
        4,
        20.0,
        3e-4,
        False,
    )
    assert cfg.run_dir() == Path("adapters/myrecipe")
    with pytest.raises(InputError, match="did you mean 'iters'"):
        load_config(cfg_file, ["iter=3"])


def test_cli_prints_resolved_config_and_reports_typos_on_one_line(tmp_path):
    runner = CliRunner()
    cfg_file = tmp_path / "r.yaml"
    cfg_file.write_text("iters: 10\nlora_parameters:\n  rank: 8\n  scale: 7.5\n")
    ok = runner.invoke(
        train_cmd, ["-c", str(cfg_file), "--iters", "7", "--set", "lora_parameters.rank=3", "--print-config"]
    )
    assert ok.exit_code == 0, ok.output
    assert "iters: 7" in ok.output and "rank: 3" in ok.output
    assert "scale: 7.5" in ok.output  # one nested key from the command line keeps the file's others
    bad = runner.invoke(train_cmd, ["-c", str(cfg_file), "--set", "rank=3", "--print-config"])
    assert bad.exit_code == 2
    assert bad.output.strip().count("\n") == 0 and "lora_parameters.rank" in bad.output


def test_recipes_parse_with_the_documented_values():
    default = load_config(ROOT / "configs" / "default.yaml")
    assert default.model == "embedded:smollm2-135m"
    assert default.mask == "all_assistant" and default.bucketing and default.cache_frozen_prefix
    mac = load_config(ROOT / "configs" / "qwen2.5-coder-7b-4bit.yaml")
    assert mac.model == "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit"
    assert (mac.batch_size, mac.learning_rate, mac.num_layers, mac.iters) == (2, 1e-4, 16, 300)
    assert (mac.lora_parameters.rank, mac.lora_parameters.scale) == (8, 20.0)
