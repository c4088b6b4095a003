"""The 4-bit path of the Mac recipe, on a tiny qwen2: `models.qwen.to_4bit` (the layout of mlx-community's
-4bit repos) trains LoRA for a few steps with the loss of the same steps on its dequantized weights
(within 2%: the 4-bit model computes in float16), and the adapter loads in the agent and in plain mlx-lm."""

import json
import shutil

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from mlx_distill.agent import MLXModel, create_agent, run_question
from mlx_distill.models.qwen import QUANT_BITS, QUANT_GROUP_SIZE, to_4bit
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.trainer import train

TOLERANCE = 0.02  # relative, per reported step


def _model_dir(src, dest, weights, config):
    dest.mkdir()
    for f in src.iterdir():
        if f.name not in ("model.safetensors", "config.json"):
            shutil.copyfile(f, dest / f.name)
    mx.save_safetensors(str(dest / "model.safetensors"), weights, metadata={"format": "mlx"})
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    return dest


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "train"]


def test_lora_on_the_4bit_variant_matches_its_dequantized_weights_and_the_adapter_loads(tmp_path, tiny_model_dir):
    from mlx_lm import generate, load
    from mlx_lm.utils import dequantize_model

    config = json.loads((tiny_model_dir / "config.json").read_text())
    w4, c4 = to_4bit(dict(mx.load(str(tiny_model_dir / "model.safetensors"))), config)
    assert c4["quantization"] == {"group_size": QUANT_GROUP_SIZE, "bits": QUANT_BITS, "mode": "affine"}
    assert w4["model.layers.0.self_attn.q_proj.weight"].dtype == mx.uint32
    assert w4["model.layers.0.self_attn.q_proj.scales"].dtype == mx.float16
    q4 = _model_dir(tiny_model_dir, tmp_path / "q4", w4, c4)
    # the same 4-bit values, dequantized to float32: what the comparison trains on
    model, _ = load(str(q4))
    model = dequantize_model(model)
    model.set_dtype(mx.float32)
    deq_config = {k: v for k, v in c4.items() if k not in ("quantization", "quantization_config")}
    deq = _model_dir(tiny_model_dir, tmp_path / "deq", dict(tree_flatten(model.parameters())), deq_config)

    data = write_small_data(tmp_path / "data", n_train=8, n_valid=2, n_test=2)
    runs = {}
    for name, base in (("q4", q4), ("deq", deq)):
        cfg = {
            "model": str(base), "data": str(data), "adapter_path": str(tmp_path / f"run-{name}"), "seed": 0,
            "batch_size": 2, "num_layers": 2, "iters": 4, "learning_rate": 3e-3, "steps_per_report": 1,
            "steps_per_eval": 100, "val_batches": 0, "save_every": 100,
            "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
        }  # fmt: skip
        runs[name] = train(cfg, progress=False, quiet=True)
    l4, ld = _losses(runs["q4"].run_dir), _losses(runs["deq"].run_dir)
    assert len(l4) == len(ld) == 4
    assert all(abs(a - b) <= TOLERANCE * b for a, b in zip(l4, ld)), (l4, ld)
    assert l4[-1] < l4[0]  # it trains

    adapter = runs["q4"].adapter_path
    model, tok = load(str(q4), adapter_path=str(adapter))  # plain mlx-lm
    assert isinstance(generate(model, tok, "Which files import rich?", max_tokens=3), str)
    agent_model = MLXModel(str(q4), adapter_path=str(adapter))
    out = run_question(create_agent(agent_model, tools=None, model_settings={"max_tokens": 3}), "Hi?")
    assert out.outcome in ("answered", "limit"), out.error


def test_an_unknown_qwen_variant_is_refused_before_reading_anything(tmp_path):
    from mlx_distill.errors import InputError
    from mlx_distill.models.qwen import convert

    with pytest.raises(InputError, match="unknown variant '8bit'"):
        convert(tmp_path / "m", "8bit", tmp_path / "missing.gguf")
    assert not (tmp_path / "m").exists()
