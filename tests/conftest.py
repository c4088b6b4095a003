"""Shared fixtures. `import mlx_distill` comes first so MLX uses the optimized BLAS."""

import os

import mlx_distill  # noqa: F401  (BLAS preload before mlx)
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Qwen2 model directory with a real BPE tokenizer and our chat template."""
    from mlx_distill.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from mlx_lm.utils import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="session")
def embedded_model_dir():
    """The real embedded student, converted once into the user cache (reused across runs)."""
    from mlx_distill.models import prepare

    return prepare("embedded:smollm2-135m")


@pytest.fixture
def scripted(tiny_model_dir):
    """make(replies) -> an MLXModel over the tiny model whose generations are forced to `replies`, in turn
    (real generation: a logits processor picks the tokens)."""
    from mlx_distill.agent import MLXModel
    from mlx_distill.agent.generation import scripted_replies

    def make(replies):
        model = MLXModel(str(tiny_model_dir))
        model.logits_processors = scripted_replies(model.tokenizer, replies)
        return model

    return make
