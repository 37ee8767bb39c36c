"""The task's part of setting a run up: its Objective, its augmentation, its metric.

Kept beside the trainer so the trainer stays one loop for every task:

- ``setup_objective``: the heads (the plan's, or one plain output trained with the
  project's loss) -> the task's Objective on the device, and the model to train (a
  classification network's final softmax is folded into its loss, model_prep.py).
- ``make_task_augmentation``: classification keeps the preset as it is; regression keeps
  only its colour part (a flip, crop or rotation changes the size, angle or position the
  targets measure, so they would be wrong for the moved image); localization and
  detection use the box augmentation (core/tasks/box_augment.py), which moves the boxes
  with the image.
- ``early_stop_metric``: "val_metric" is the task's primary metric (r2, iou, map50,
  accuracy), watched in the direction TaskKind.primary_mode says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from visionstudio.core.data.augment import PRESET_STEPS, make_augmentation
from visionstudio.core.tasks import TASK_KINDS
from visionstudio.core.tasks.heads import HeadPlan
from visionstudio.core.tasks.objective import Objective, ObjectiveError
from visionstudio.core.tasks.objectives import make_objective
from visionstudio.core.training.feed import TargetAugment, TrainData
from visionstudio.core.training.losses import LOSSES
from visionstudio.core.training.model_prep import training_view

MAX_FIT_SAMPLES = 20_000   # a lazy dataset without a target list: targets read from this many images


def default_heads(model: nn.Module, task: str, loss: Mapping[str, Any]) -> tuple[HeadPlan, ...]:
    """One plain output feeding the task's usual target with the project's loss."""
    name = getattr(model, "output_name", None) or "output"
    target = TASK_KINDS[task].targets[0].key if task in TASK_KINDS else "class"
    return (HeadPlan(getattr(model, "node_names", {}).get(name, name), target,
                     {"key": loss["key"], "params": dict(loss.get("params") or {})}, 1.0, ()),)


def setup_objective(model: nn.Module, data: TrainData, heads: Sequence[HeadPlan] | None,
                    loss: Mapping[str, Any], device: torch.device
                    ) -> tuple[nn.Module, Objective, list[str]]:
    """(model to train, objective, notes); ObjectiveError when the heads cannot train."""
    task = data.task
    if task not in TASK_KINDS:
        raise ObjectiveError(f"the dataset's labels are for the task {task!r}, which is not one of "
                             f"{', '.join(TASK_KINDS)}")
    heads = tuple(heads) if heads else default_heads(model, task, loss)
    objective = make_objective(task, heads, data.num_classes, device, data.target_names)
    train_model, notes = model, []
    key = heads[0].loss.get("key")
    if task == "classification" and len(heads) == 1 and key in LOSSES:
        train_model, log_softmax, notes = training_view(model, key)
        if log_softmax:
            objective.use_log_softmax(True)   # type: ignore[attr-defined]
    return train_model, objective, [*notes, *objective.notes]


def make_task_augmentation(task: str, preset: str, shape: Sequence[int] | None) -> tuple[Any, list[str]]:
    """(the batch augmentation of ``preset`` for ``task`` or None, notes for the user)."""
    if preset == "none" or shape is None:
        return None, []
    shape = tuple(shape)
    if task == "classification":
        return make_augmentation(preset, shape), []
    if task == "regression":
        kept = "color" in PRESET_STEPS.get(preset, ())
        moved = [s for s in PRESET_STEPS.get(preset, ()) if s != "color"]
        notes = [f"Regression trains with the colour part of the {preset!r} augmentation only: its "
                 f"{' and '.join(moved)} would change the sizes, angles and positions the targets "
                 "measure."] if moved else []
        return (make_augmentation("color", shape) if kept else None), notes
    from visionstudio.core.tasks.box_augment import make_box_augmentation

    fn = make_box_augmentation(preset, shape)
    return (TargetAugment(fn) if fn is not None else None), []


def early_stop_metric(choice: str, task: str, *, has_validation: bool) -> tuple[str, str, list[str]]:
    """(metric, "min"|"max", notes) watched for early stopping and the best checkpoint."""
    kind = TASK_KINDS.get(task, TASK_KINDS["classification"])
    notes: list[str] = []
    if choice == "val_accuracy" and task not in ("classification", "localization"):
        notes.append(f"A {task} run has no accuracy; val_metric ({kind.primary_metric}) is watched "
                     "for early stopping and the best checkpoint instead.")
        choice = "val_metric"
    if choice.startswith("val_") and not has_validation:
        fallback = "train_accuracy" if choice == "val_accuracy" and task == "classification" else "train_loss"
        notes.append(f"There is no validation set, so {choice} is replaced by {fallback} "
                     "for early stopping and the best checkpoint.")
        choice = fallback
    if choice == "val_metric":
        return choice, kind.primary_mode, notes
    return choice, "max" if choice.endswith("accuracy") else "min", notes


def train_targets(data: TrainData) -> torch.Tensor:
    """The training set's targets (an objective fits its normalisation to them): the label
    tensor, a lazy dataset's ``targets``, or read from its first MAX_FIT_SAMPLES images."""
    if data.train_labels is not None:
        return data.train_labels
    dataset = data.train_dataset
    listed = getattr(dataset, "targets", None)
    if listed is not None:
        return torch.as_tensor(listed)
    n = min(len(dataset), MAX_FIT_SAMPLES)
    return torch.stack([torch.as_tensor(dataset[i][1]).float() for i in range(n)])
