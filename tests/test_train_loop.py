"""Training on a tiny random model: loss falls, the fast forward computes the plain loss, the frozen-prefix
cache changes nothing, resume is exact, every config key arrives, and plain mlx-lm accepts the adapter."""

import json
import subprocess
import sys

import numpy as np
import pytest

import mlx_distill  # noqa: F401  (BLAS before mlx)
import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from mlx_distill._blas import blas_env
from mlx_distill.errors import InputError
from mlx_distill.train.config import parse_config
from mlx_distill.train.dataset import read_split, tokenize_split
from mlx_distill.testing.sample_data import write_small_data
from mlx_distill.train.fine_tune import apply_fine_tune
from mlx_distill.train.trainer import Log, Trainer, train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = write_small_data(tmp_path_factory.mktemp("train_data") / "data", n_train=10, n_valid=4, n_test=2)
    (d / "manifest.json").write_text('{"built_by": "test"}\n')
    return d


def _cfg(tmp_path, model, data, name="run", **kw):
    base = {
        "model": str(model),
        "data": str(data),
        "adapter_path": str(tmp_path / name),
        "batch_size": 4,
        "num_layers": 2,
        "iters": 6,
        "learning_rate": 3e-3,
        "steps_per_eval": 3,
        "val_batches": -1,
        "save_every": 2,
        "steps_per_report": 3,
        "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
    }
    base.update(kw)
    return base


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["kind"] == "train"]


def test_loss_falls_and_the_run_directory_is_complete(tmp_path, tiny_model_dir, data_dir):
    r = train(
        _cfg(tmp_path, tiny_model_dir, data_dir, iters=12, test=True, test_batches=-1), progress=False, quiet=True
    )
    assert r.steps == 12 and r.seconds > 0 and r.tokens_per_s > 0
    assert r.last_loss < r.first_loss - 0.5, (r.first_loss, r.last_loss)
    rows = [json.loads(line) for line in (r.run_dir / "metrics.jsonl").read_text().splitlines()]
    vals = [x["val_loss"] for x in rows if x["kind"] == "val"]
    assert [x["step"] for x in rows if x["kind"] == "val"] == [0, 3, 6, 9, 12] and vals[-1] < vals[0]
    assert (r.first_val_loss, r.val_loss) == (vals[0], vals[-1])
    train_losses = [x["loss"] for x in rows if x["kind"] == "train"]
    assert r.first_loss == pytest.approx(sum(train_losses[:3]) / 3)  # window means, not single noisy steps
    reports = [x for x in rows if x["kind"] == "report"]
    assert reports and all(k in reports[0] for k in ("train_loss", "learning_rate", "tokens_per_s", "peak_memory_gb"))
    assert r.test_loss is not None
    files = {p.name for p in r.run_dir.iterdir()}
    assert {
        "adapter_config.json",
        "adapters.safetensors",
        "config.yaml",
        "run.json",
        "metrics.jsonl",
        "loss.png",
        "state.json",
        "optimizer.safetensors",
    } <= files
    assert {f"{s:07d}_adapters.safetensors" for s in (2, 4, 6, 8, 10, 12)} <= files  # every save_every steps
    run = json.loads((r.run_dir / "run.json").read_text())
    import hashlib

    assert run["data_manifest_sha256"] == hashlib.sha256((data_dir / "manifest.json").read_bytes()).hexdigest()
    assert (r.run_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"


def _trainer(tiny_model_dir, data_dir, **kw):
    from mlx_lm.utils import load

    cfg = parse_config(
        {
            "model": str(tiny_model_dir),
            "data": str(data_dir),
            "num_layers": 2,
            "batch_size": 4,
            "lora_parameters": {"rank": 4, "scale": 10.0, "dropout": 0.0},
            **kw,
        }
    )
    model, tok = load(str(tiny_model_dir))
    split = tokenize_split(read_split(data_dir, "train"), tok, mask=cfg.mask, max_seq_length=cfg.max_seq_length)
    apply_fine_tune(model, cfg)
    mx.random.seed(1)  # make the LoRA matter: random lora_b instead of zeros
    for _, m in model.named_modules():
        if hasattr(m, "lora_b"):
            m.lora_b = mx.random.normal(m.lora_b.shape) * 0.05
    return Trainer(cfg, model, {"train": split}, log=Log(quiet=True)), split.examples


def test_fast_forward_gives_the_plain_loss_and_gradients(tiny_model_dir, data_dir):
    trainer, examples = _trainer(tiny_model_dir, data_dir)
    batch = examples[:4]
    assert trainer.fast and trainer.boundary == 2
    loss_fast, g_fast, _, n_fast = trainer.loss_and_grad(batch)
    trainer.fast = False
    trainer._lvg = nn.value_and_grad(trainer.model, trainer._plain_loss)
    loss_plain, g_plain, _, n_plain = trainer.loss_and_grad(batch)
    assert n_fast == n_plain > 0
    assert abs(loss_fast.item() - loss_plain.item()) < 1e-4
    fa, pa = dict(tree_flatten(g_fast)), dict(tree_flatten(g_plain))
    assert fa.keys() == pa.keys()
    for k in fa:
        assert np.allclose(np.array(fa[k]), np.array(pa[k]), atol=1e-5, rtol=1e-3), k


def test_frozen_prefix_cache_equals_uncached_training_step_by_step(tmp_path, tiny_model_dir, data_dir):
    # 10 examples, batch 4: 3 batches per epoch, so 6 steps cover 2 epochs and the cache is hit from step 4 on
    kw = dict(iters=6, val_batches=0, save_every=100)
    cached = train(_cfg(tmp_path, tiny_model_dir, data_dir, "cached", **kw), progress=False, quiet=True)
    plain = train(
        _cfg(tmp_path, tiny_model_dir, data_dir, "plain", cache_frozen_prefix=False, **kw), progress=False, quiet=True
    )
    assert cached.stats["frozen_prefix_cache"]["hits"] >= 3
    assert plain.stats["frozen_prefix_cache"]["enabled"] is False
    a, b = _losses(cached.run_dir), _losses(plain.run_dir)
    assert [s for s, _ in a] == [s for s, _ in b] == list(range(1, 7))
    assert max(abs(x - y) for (_, x), (_, y) in zip(a, b)) < 1e-4


def test_resume_continues_the_step_count_exactly(tmp_path, tiny_model_dir, data_dir):
    kw = dict(val_batches=0, save_every=3, lora_parameters={"rank": 4, "scale": 10.0, "dropout": 0.1})
    straight = train(_cfg(tmp_path, tiny_model_dir, data_dir, "straight", iters=5, **kw), progress=False, quiet=True)
    first = train(_cfg(tmp_path, tiny_model_dir, data_dir, "resumed", iters=3, **kw), progress=False, quiet=True)
    assert first.steps == 3
    # resuming from the step-3 checkpoint continues at step 4, with the optimizer state and the data order
    second = train(
        _cfg(tmp_path, tiny_model_dir, data_dir, "resumed", iters=5, **kw), resume=True, progress=False, quiet=True
    )
    assert second.resumed_from == 3 and second.steps == 5
    assert [s for s, _ in _losses(second.run_dir)] == [1, 2, 3, 4, 5]
    assert np.allclose([x for _, x in _losses(second.run_dir)], [x for _, x in _losses(straight.run_dir)], atol=1e-5)
    opt = mx.load(str(second.run_dir / "optimizer.safetensors"))
    assert int(opt["step"].item()) == 5  # the optimizer's own step count (and state) came back too
    with pytest.raises(InputError, match="cannot resume: lora_parameters"):
        train(
            _cfg(
                tmp_path,
                tiny_model_dir,
                data_dir,
                "resumed",
                iters=8,
                **{**kw, "lora_parameters": {"rank": 2, "scale": 10.0, "dropout": 0.1}},
            ),
            resume=True,
            progress=False,
            quiet=True,
        )


def test_config_keys_reach_the_lora_layers(tmp_path, tiny_model_dir, data_dir):
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.utils import load

    r = train(
        _cfg(
            tmp_path,
            tiny_model_dir,
            data_dir,
            iters=1,
            num_layers=3,
            val_batches=0,
            lora_parameters={"rank": 3, "scale": 7.0, "dropout": 0.25, "keys": ["self_attn.q_proj", "mlp.down_proj"]},
        ),
        progress=False,
        quiet=True,
    )
    weights = mx.load(str(r.run_dir / "adapters.safetensors"))
    layers = sorted({int(k.split(".")[2]) for k in weights})
    assert layers == [1, 2, 3]  # num_layers: the top 3 of 4
    assert {k.split(".", 3)[3].rsplit(".", 1)[0] for k in weights} == {"self_attn.q_proj", "mlp.down_proj"}
    for k, w in weights.items():
        assert (w.shape[1] if k.endswith("lora_a") else w.shape[0]) == 3, k  # rank
    model, _ = load(str(tiny_model_dir), adapter_path=str(r.run_dir))
    lora = [m for _, m in model.named_modules() if isinstance(m, LoRALinear)]
    assert len(lora) == 6 and all(m.scale == 7.0 and m.dropout._p_1 == pytest.approx(0.75) for m in lora)
    with pytest.raises(InputError, match="matched no module"):
        train(
            _cfg(
                tmp_path,
                tiny_model_dir,
                data_dir,
                "nokeys",
                iters=1,
                val_batches=0,
                lora_parameters={"rank": 3, "scale": 7.0, "keys": ["self_attn.qproj"]},
            ),
            progress=False,
            quiet=True,
        )
    with pytest.raises(InputError, match="num_layers 9 is more than the model's 4 layers"):
        train(_cfg(tmp_path, tiny_model_dir, data_dir, "many", iters=1, num_layers=9), progress=False, quiet=True)


def test_plain_mlx_lm_loads_generates_and_fuses_the_adapter(tmp_path, tiny_model_dir, data_dir):
    from mlx_lm import generate, load

    r = train(_cfg(tmp_path, tiny_model_dir, data_dir, iters=3, val_batches=0), progress=False, quiet=True)
    model, tok = load(str(tiny_model_dir), adapter_path=str(r.adapter_path))
    mx.eval(model.parameters())
    trained = mx.load(str(r.run_dir / "adapters.safetensors"))
    params = dict(tree_flatten(model.parameters()))
    assert all(mx.array_equal(params[k], v).item() for k, v in trained.items())
    assert isinstance(generate(model, tok, "Which files import rich?", max_tokens=4), str)
    out = tmp_path / "fused-by-mlx-lm"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlx_lm",
            "fuse",
            "--model",
            str(tiny_model_dir),
            "--adapter-path",
            str(r.adapter_path),
            "--save-path",
            str(out),
        ],
        env=blas_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "model.safetensors").exists() or (out / "model.safetensors.index.json").exists()


def test_fuse_dequantizes_a_quantized_base_and_refuses_4_bit_requantization(tmp_path, tiny_model_dir, data_dir):
    from mlx_lm.utils import load, quantize_model, save

    from mlx_distill.train.fuse import fuse_adapter

    qdir = tmp_path / "tiny-8bit"
    model, tok, config = load(str(tiny_model_dir), return_config=True)
    model, config = quantize_model(model, config, 32, 8)
    save(qdir, str(tiny_model_dir), model, tok, config)
    r = train(_cfg(tmp_path, qdir, data_dir, iters=3, val_batches=0), progress=False, quiet=True)
    with pytest.raises(InputError, match="refusing to re-quantize the fused model to 4 bits"):
        fuse_adapter(r.run_dir, tmp_path / "f4", bits=4)
    assert not (tmp_path / "f4").exists()  # refused before loading anything
    f = fuse_adapter(r.run_dir, tmp_path / "fused", log=lambda m: None)
    assert f.dequantized and f.bits is None and f.fused_layers > 0
    assert f.max_logit_diff < 1e-3 and f.adapter_effect_kept > 0.99
    cfg = json.loads((tmp_path / "fused" / "config.json").read_text())
    assert "quantization" not in cfg
    fused, _ = load(str(tmp_path / "fused"))  # a plain mlx-lm model directory
    assert fused is not None
