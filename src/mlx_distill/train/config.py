"""The training configuration: every `mlx_lm.lora` YAML key, as mlx-lm spells and defaults it, plus ours.

Strict: an unknown key is an error with a did-you-mean (a misspelt or misplaced key such as a
top-level `rank` never silently fails to arrive). Every accepted key reaches training or is refused
with a reason (see `UNSUPPORTED`).
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from .. import config as config_file
from ..errors import InputError

OPTIMIZERS = ("adam", "adamw", "muon", "sgd", "adafactor")

# mlx_lm.lora keys that cannot reach training here, with the reason (refused, never ignored)
UNSUPPORTED = {
    "hf_dataset": "Hugging Face datasets are not read: point `data` at a directory of chat JSONL splits",
    "prompt_feature": "only chat records (`messages`) are read, not prompt/completion records",
    "completion_feature": "only chat records (`messages`) are read, not prompt/completion records",
    "text_feature": "only chat records (`messages`) are read, not text records",
}


class LoraParameters(config_file.StrictModel):
    """mlx-lm's `lora_parameters`: rank, scale (not alpha), dropout, and optionally which modules (keys)."""

    rank: int = Field(8, ge=1)
    scale: float = 20.0
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    keys: Optional[list[str]] = None


class LrSchedule(config_file.StrictModel):
    """mlx-lm's `lr_schedule`: an mlx.optimizers.schedulers function name, its arguments, optional warmup."""

    name: str
    arguments: list[Any]
    warmup: int = Field(0, ge=0)
    warmup_init: float = 0.0

    @field_validator("name")
    @classmethod
    def _known_schedule(cls, v: str) -> str:
        import mlx.optimizers as optim

        names = [n for n in dir(optim.schedulers) if n.endswith("_schedule") or n.endswith("_decay")]
        if v not in names:
            raise ValueError(
                f"unknown schedule {v!r}{config_file.suggest(v, names)}; known: {', '.join(sorted(names))}"
            )
        return v

    @field_validator("arguments")
    @classmethod
    def _has_initial_lr(cls, v: list) -> list:
        if not v:
            raise ValueError("arguments must start with the initial learning rate")
        if config_file.non_finite(v):
            raise ValueError("arguments must be finite numbers (no NaN or infinity)")
        return v


class TrainConfig(config_file.StrictModel):
    """A training run. mlx-lm keys keep mlx-lm's meaning and defaults; the keys after `# ours` are additions."""

    model_config = ConfigDict(validate_assignment=True)

    # --- mlx_lm.lora keys (same names, same defaults, same meaning) ---
    model: str = "embedded:smollm2-135m"
    data: str = "data/mlx_format"
    train: bool = True
    test: bool = False
    fine_tune_type: Literal["lora", "dora", "full"] = "lora"
    optimizer: Literal["adam", "adamw", "muon", "sgd", "adafactor"] = "adam"
    optimizer_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seed: int = 0
    num_layers: int = Field(16, ge=-1)
    batch_size: int = Field(4, ge=1)
    iters: int = Field(1000, ge=1)
    val_batches: int = Field(25, ge=-1)
    learning_rate: float = Field(1e-5, gt=0)
    steps_per_report: int = Field(10, ge=1)
    steps_per_eval: int = Field(200, ge=1)
    resume_adapter_file: Optional[str] = None
    adapter_path: Optional[str] = None  # mlx-lm's default is "adapters"; ours is adapters/<run_name>
    save_every: int = Field(100, ge=1)
    test_batches: int = Field(500, ge=-1)
    max_seq_length: int = Field(2048, ge=8)
    config: Optional[str] = None  # the YAML file itself (mlx-lm records it too)
    grad_checkpoint: bool = False
    grad_accumulation_steps: int = Field(1, ge=1)
    clear_cache_threshold: int = Field(0, ge=0)
    lr_schedule: Optional[LrSchedule] = None
    lora_parameters: LoraParameters = Field(default_factory=LoraParameters)  # type: ignore[arg-type]  # pydantic's Field overloads reject a model class as factory under plain mypy
    mask_prompt: Optional[bool] = None  # mlx-lm: true -> supervise the last message only (= mask: last)
    report_to: Optional[str] = None
    project_name: Optional[str] = None
    trust_remote_code: bool = False
    chat_feature: str = "messages"

    # --- ours ---
    mask: Literal["all_assistant", "last", "none"] = "all_assistant"
    bucketing: bool = True
    batch_order: Literal["shuffled", "file"] = "shuffled"  # file: the train file's order, every epoch (a curriculum)
    cache_frozen_prefix: bool = True
    share_prompt_prefix: bool = True
    cache_max_gb: float = Field(4.0, ge=0)
    fast_math: Union[bool, Literal["auto"]] = "auto"  # exp2-based softmax/SiLU; auto: on the CPU only
    run_name: Optional[str] = None
    runs_dir: str = "adapters"
    # the call-or-not decision (agent/calibration.py): measured on the validation split at every evaluation
    decision_eval: bool = True
    decision_eval_max: int = Field(16, ge=1)  # validation records it is measured on, at most (each costs a forward)
    keep_best: Literal["last", "val_loss", "decision_auc", "decision_balanced_accuracy"] = "last"
    calibrate: bool = False  # fit decision_calibration.json on the validation split at the end

    @field_validator("optimizer", mode="before")
    @classmethod
    def _lower_optimizer(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @field_validator("report_to", "project_name")
    @classmethod
    def _no_reporting(cls, v: Optional[str]) -> Optional[str]:
        if v:
            raise ValueError(
                "reporting to wandb/swanlab is not supported: metrics go to <run>/metrics.jsonl and "
                "loss.png; remove the key"
            )
        return v

    @field_validator("train")
    @classmethod
    def _always_train(cls, v: bool) -> bool:
        if not v:
            raise ValueError("`mlx-distill train` always trains (train: false would do nothing); remove the key")
        return v

    @field_validator("chat_feature")
    @classmethod
    def _messages_only(cls, v: str) -> str:
        if v != "messages":
            raise ValueError("records are chat records with a `messages` key; chat_feature must be 'messages'")
        return v

    @field_validator("num_layers")
    @classmethod
    def _some_layers(cls, v: int) -> int:
        if v == 0:
            raise ValueError("0 layers would train nothing: a number of top layers, or -1 for all")
        return v

    @field_validator("run_name")
    @classmethod
    def _safe_run_name(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
            raise ValueError(f"run_name {v!r} must be letters, digits, '.', '_' or '-'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "TrainConfig":
        if self.mask_prompt is not None:
            implied = "last" if self.mask_prompt else "none"
            if "mask" in self.model_fields_set and self.mask != implied:
                raise ValueError(
                    f"mask_prompt: {str(self.mask_prompt).lower()} means mask: {implied}, but mask: "
                    f"{self.mask} is also set; keep one of them"
                )
            if self.mask != implied:
                object.__setattr__(self, "mask", implied)
        if self.keep_best.startswith("decision") and not self.decision_eval:
            raise ValueError(f"keep_best: {self.keep_best} needs decision_eval: true")
        if self.lr_schedule is not None and "learning_rate" in self.model_fields_set:
            first = float(self.lr_schedule.arguments[0])
            if abs(first - self.learning_rate) > 1e-12 * max(1.0, abs(first)):
                raise ValueError(
                    f"learning_rate {self.learning_rate} and lr_schedule.arguments[0] {first} disagree "
                    "(with a schedule, its first argument is the learning rate); keep one"
                )
        for name, kwargs in self.optimizer_config.items():
            if name not in OPTIMIZERS:
                raise ValueError(f"optimizer_config.{name}: unknown optimizer{config_file.suggest(name, OPTIMIZERS)}")
            if not isinstance(kwargs, dict):
                raise ValueError(f"optimizer_config.{name} must be a mapping of keyword arguments")
            if config_file.non_finite(kwargs):
                raise ValueError(f"optimizer_config.{name}: arguments must be finite numbers (no NaN or infinity)")
            _check_optimizer_kwargs(name, kwargs)
        return self

    # --- derived ---
    def run_dir(self) -> Path:
        if self.adapter_path:
            return Path(self.adapter_path)
        return Path(self.runs_dir) / (self.run_name or "run")

    def optimizer_kwargs(self) -> dict[str, Any]:
        return dict(self.optimizer_config.get(self.optimizer, {}))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def optimizer_class(name: str):
    import mlx.optimizers as optim

    return {
        "adam": optim.Adam,
        "adamw": optim.AdamW,
        "muon": optim.Muon,
        "sgd": optim.SGD,
        "adafactor": optim.Adafactor,
    }[name]


def _check_optimizer_kwargs(name: str, kwargs: dict) -> None:
    params = [p for p in inspect.signature(optimizer_class(name).__init__).parameters if p not in ("self",)]
    for k in kwargs:
        if k not in params or k == "learning_rate":
            why = " (set learning_rate or lr_schedule at the top level)" if k == "learning_rate" else ""
            raise ValueError(
                f"optimizer_config.{name}.{k}: not an argument of {name}{why}"
                f"{config_file.suggest(k, [p for p in params if p != 'learning_rate'])}"
            )


def parse_config(data: dict[str, Any], *, source: str | os.PathLike | None = None) -> TrainConfig:
    if not isinstance(data, dict):
        raise InputError("a training config must be a YAML mapping of keys to values", path=source, rule="config")
    for key, why in UNSUPPORTED.items():
        if data.get(key) is not None:
            raise InputError(f"{key}: {why}", path=source, rule="config")
    data = {k: v for k, v in data.items() if k not in UNSUPPORTED}
    if isinstance(data.get("lora_parameters"), dict) and "alpha" in data["lora_parameters"]:
        raise InputError(
            "lora_parameters.alpha: mlx-lm's LoRA uses `scale`, not `alpha` (scale = alpha / rank in other frameworks)",
            path=source,
            rule="config",
        )
    return config_file.validate(TrainConfig, data, path=source)


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """Overrides as {dotted.key: value} or ["dotted.key=value", ...]; nested keys by dots (`config.apply_overrides`)."""
    return config_file.apply_overrides(data, overrides, TrainConfig)


def load_config(
    path: str | os.PathLike | None = None, overrides: dict[str, Any] | list[str] | None = None
) -> TrainConfig:
    """Read a YAML recipe (or none: defaults), apply overrides, validate. Run name defaults to the file's stem."""
    data = config_file.read_yaml(path) if path else {}
    data = apply_overrides(data, overrides)
    if path:
        data.setdefault("config", str(path))
        if not data.get("run_name") and not data.get("adapter_path"):
            data["run_name"] = Path(path).stem
    return parse_config(data, source=path)


def as_config(config: "TrainConfig | dict | str | os.PathLike") -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    return load_config(config)
