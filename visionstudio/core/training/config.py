"""Training settings as saved in a project and handed (frozen) to the trainer.

Top-level fields are declared once as ParamSpecs (the GUI renders them); the loss,
optimizer and schedule are ``{"key", "params"}`` choices validated against their
registries.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from visionstudio.core.params import ConfigError, ParamSpec, validate_section
from visionstudio.core.registry import Registry
from visionstudio.core.training.losses import LOSSES
from visionstudio.core.training.optimizers import OPTIMIZERS
from visionstudio.core.training.schedules import SCHEDULERS

AUGMENTATION_PRESETS = ("none", "flip", "crop", "flip_crop", "rotate", "color", "standard")
DEVICE_WORDS = ("auto", "cpu", "cuda", "mps")  # "cuda:1" etc. are accepted too
PRECISIONS = ("off", "bf16", "fp16")
# val_metric: the task's own measure (accuracy, R², IoU, mAP@0.5: TaskKind.primary_metric)
EARLY_STOP_METRICS = ("val_loss", "val_accuracy", "train_loss", "val_metric")

TRAINING_FIELDS: tuple[ParamSpec, ...] = (
    ParamSpec("epochs", "int", 5, minimum=1, maximum=100_000, help="Passes over the training set."),
    ParamSpec("batch_size", "int", 64, title="batch size", minimum=1, maximum=65_536,
              help="Images per optimisation step."),
    ParamSpec("val_split", "float", 0.1, title="validation split", minimum=0.0, maximum=0.9,
              help="Fraction of the training data held out for validation when the dataset "
                   "has no validation set of its own."),
    ParamSpec("augmentation", "choice", "none", choices=AUGMENTATION_PRESETS,
              help="Random changes to training images: flips, crops with padding, rotation, "
                   "colour jitter."),
    ParamSpec("device", "str", "auto",
              help="auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps."),
    ParamSpec("mixed_precision", "choice", "off", title="mixed precision", choices=PRECISIONS,
              help="Autocast on CUDA: bf16, or fp16 with gradient scaling. Ignored on CPU."),
    ParamSpec("seed", "int", 0, minimum=0, maximum=2**31 - 1,
              help="Seeds weights, shuffling and augmentation: same seed, same run on CPU."),
    ParamSpec("clip_norm", "float", None, optional=True, title="gradient clipping", minimum=0.0,
              maximum=1e6, help="Clip the gradient norm to this value; empty for no clipping."),
    ParamSpec("early_stopping_metric", "choice", "val_loss", title="early stopping metric",
              choices=EARLY_STOP_METRICS, help="Metric watched for early stopping and 'best' checkpoints; "
              "val_metric is the task's own (accuracy, R², IoU or mAP@0.5)."),
    ParamSpec("early_stopping_patience", "int", 0, title="early stopping patience", minimum=0,
              maximum=100_000, help="Stop after this many epochs without improvement; 0 turns it off."),
    ParamSpec("frozen_bn_eval", "bool", True, title="frozen batch norm in eval mode",
              help="Frozen BatchNorm layers normalise with their running statistics and leave "
                   "them unchanged, as when the network was trained."),
    ParamSpec("layer_health", "bool", True, title="layer health",
              help="While training, measure one step in 50 (at most one a second): dead ReLU "
                   "units, activations and gradients per layer, shown on the canvas nodes and in "
                   "the Layer health panel. Costs well under 3% of the training speed."),
    ParamSpec("tensorboard", "bool", False, title="TensorBoard logging",
              help="Also write the run's curves as TensorBoard event files into its folder's "
                   "tensorboard/ (needs the tensorboard package: pip install tensorboard); "
                   "tensorboard --logdir shows them."),
)

DEFAULT_LOSS = {"key": "cross_entropy", "params": {}}
DEFAULT_OPTIMIZER = {"key": "adam", "params": {}}
DEFAULT_SCHEDULER = {"key": "constant", "params": {}}


def _choice(data: Any, registry: Registry, path: str, default: dict[str, Any]) -> dict[str, Any]:
    if data is None:
        data = default
    if not isinstance(data, dict):
        raise ConfigError(path, "must be an object with 'key' and 'params'")
    key = data.get("key", default["key"])
    if not isinstance(key, str):
        raise ConfigError(f"{path}.key", "must be a name")
    params = data.get("params", {})
    if key not in registry:
        raise ConfigError(f"{path}.key", f"unknown {registry.what} {key!r} (known: {', '.join(registry)})")
    spec = registry.get(key)
    return {"key": registry.canonical(key),
            "params": validate_section(spec.params, params, f"{path}.params")}


def _device_ok(value: str) -> bool:
    if value in DEVICE_WORDS:
        return True
    head, _, index = value.partition(":")
    return head == "cuda" and index.isdigit()


@dataclass(frozen=True)
class TrainingConfig:
    loss: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_LOSS))
    optimizer: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_OPTIMIZER))
    scheduler: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_SCHEDULER))
    epochs: int = 5
    batch_size: int = 64
    val_split: float = 0.1
    augmentation: str = "none"
    device: str = "auto"
    mixed_precision: str = "off"
    seed: int = 0
    clip_norm: float | None = None
    early_stopping_metric: str = "val_loss"
    early_stopping_patience: int = 0
    frozen_bn_eval: bool = True
    layer_health: bool = True
    tensorboard: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loss": copy.deepcopy(self.loss),
            "optimizer": copy.deepcopy(self.optimizer),
            "scheduler": copy.deepcopy(self.scheduler),
        }
        for spec in TRAINING_FIELDS:
            out[spec.name] = getattr(self, spec.name)
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "training") -> TrainingConfig:
        if not isinstance(data, dict):
            raise ConfigError(path, "must be an object")
        plain = {k: v for k, v in data.items() if k not in ("loss", "optimizer", "scheduler")}
        values = validate_section(TRAINING_FIELDS, plain, path)
        if not _device_ok(values["device"]):
            raise ConfigError(f"{path}.device", f"unknown device {values['device']!r}; use "
                              "auto, cpu, cuda, cuda:N or mps")
        return cls(
            loss=_choice(data.get("loss"), LOSSES, f"{path}.loss", DEFAULT_LOSS),
            optimizer=_choice(data.get("optimizer"), OPTIMIZERS, f"{path}.optimizer", DEFAULT_OPTIMIZER),
            scheduler=_choice(data.get("scheduler"), SCHEDULERS, f"{path}.scheduler", DEFAULT_SCHEDULER),
            **values,
        )

    def replace(self, **changes: Any) -> TrainingConfig:
        """A validated copy with some fields changed (the inspector's edits)."""
        data = self.to_dict()
        data.update(copy.deepcopy(changes))
        return TrainingConfig.from_dict(data)
