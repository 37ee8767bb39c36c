"""A run's checkpoint measured on the validation set, with the task's own metrics.

What ``visionstudio evaluate`` prints: the project's network with the checkpoint's
weights, the run's dataset and settings, the task's Objective (its saved state first —
a regression's target mean/std — so values are in the dataset's units) and the same
validation pass the trainer runs (validation.py). A classification also gets each
class's accuracy (recall) and precision from the confusion matrix
(core/inspect/evaluation.py). The dataset is never downloaded here; what cannot be used
comes back as an EvaluationError sentence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from visionstudio.core.data.base import DatasetError
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.tasks.objective import ObjectiveError
from visionstudio.core.training.checkpoint import CheckpointError, read_meta
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.validation import evaluate_feed

CHECKPOINTS = ("best", "last")


class EvaluationError(ValueError):
    """The run cannot be evaluated; the message says why, for the user."""


@dataclass
class RunEvaluation:
    task: str
    checkpoint: str                      # "best" / "last"
    epoch: int | None                    # the epoch the checkpoint was saved after
    images: int
    loss: float
    metrics: dict[str, float]            # the task's (accuracy and top5 for a classification)
    head_losses: dict[str, float] = field(default_factory=dict)
    per_class: list[dict[str, Any]] = field(default_factory=list)   # class, images, accuracy, precision
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "checkpoint": self.checkpoint, "epoch": self.epoch,
                "images": self.images, "loss": self.loss, "metrics": dict(self.metrics),
                "head_losses": dict(self.head_losses), "per_class": list(self.per_class),
                "notes": list(self.notes)}


def _checkpoint(folder: Path, which: str) -> tuple[Path, str, list[str]]:
    path = folder / "checkpoints" / which
    if path.is_dir():
        return path, which, []
    other = CHECKPOINTS[1 - CHECKPOINTS.index(which)]
    if (folder / "checkpoints" / other).is_dir():
        return (folder / "checkpoints" / other, other,
                [f"The run has no {which} checkpoint; its {other} checkpoint is evaluated."])
    raise EvaluationError(f"{folder} has no checkpoint to evaluate (checkpoints/{which} is not there)")


def _saved_state(folder: Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The objective's state: the checkpoint's, else the run summary's."""
    if isinstance(meta.get("objective"), dict):
        return meta["objective"]
    try:
        summary = json.loads((folder / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    state = summary.get("objective") if isinstance(summary, dict) else None
    return state if isinstance(state, dict) and state else None


def _prepare(document: Any, training: TrainingConfig, dataset: DatasetConfig, data_dir: Any):
    from visionstudio.core.build import BuildError, build_model
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.graph import analyze
    from visionstudio.core.tasks.heads import HeadError, plan_heads

    graph = document.graph.copy()
    analysis = analyze(graph)
    if not analysis.ok:
        raise EvaluationError("the project's network has problems to fix first: " + "; ".join(
            str(d) for d in analysis.errors[:3]))
    task = getattr(document, "task", "classification")
    try:
        heads = plan_heads(task, graph, analysis, training.loss)
        model = build_model(graph, analysis, seed=training.seed)
    except (HeadError, BuildError) as exc:
        raise EvaluationError(f"the network cannot be built: {exc}") from None
    shape = tuple(analysis.input_shape) if analysis.input_shape and len(analysis.input_shape) == 3 else None
    try:
        loaded = load_dataset(dataset, val_split=training.val_split, seed=training.seed,
                              data_dir=data_dir, target_shape=shape, download=False)
    except DatasetError as exc:
        raise EvaluationError(f"the run's dataset cannot be loaded: {exc}") from None
    if getattr(loaded, "task", "classification") != task:
        raise EvaluationError(f"the run's dataset gives {loaded.task} labels; the project's task "
                              f"is {task}")
    return task, heads, model, loaded


def evaluate_checkpoint(document: Any, folder: Path, training: TrainingConfig, dataset: DatasetConfig,
                        *, checkpoint: str = "best", device: str = "cpu",
                        data_dir: Any = None) -> RunEvaluation:
    """Evaluate the run in ``folder`` (its ``checkpoint``) on its validation set."""
    from visionstudio.core.training.checkpoint_fit import load_weights
    from visionstudio.core.training.feed import LazyFeed, MemoryFeed, Normalizer, TrainData
    from visionstudio.core.training.task_setup import setup_objective, train_targets

    path, which, notes = _checkpoint(Path(folder), checkpoint)
    task, heads, model, loaded = _prepare(document, training, dataset, data_dir)
    dev = torch.device(device)
    data = TrainData.from_loaded(loaded)
    try:
        meta = read_meta(path).get("trainer", {})
        load_weights(path, model)
        model.to(dev)
        # the model as it trained: a final softmax folded into the loss (model_prep.py)
        model, objective, _notes = setup_objective(model, data, heads, training.loss, dev)
        state = _saved_state(Path(folder), meta)
        if state is not None:
            objective.load_state_dict(state)
        elif objective.fits_targets:
            objective.fit(train_targets(data))
            notes.append("The run saved no target normalisation; it is fitted to the training set again.")
    except (CheckpointError, ObjectiveError) as exc:
        raise EvaluationError(f"the {which} checkpoint cannot be used with the project's network: "
                              f"{exc}") from None
    norm = Normalizer(*data.stats(), dev, False)
    if data.val_images is not None and len(data.val_images):
        val: Any = MemoryFeed(data.val_images, data.val_labels, norm, dev)
    elif data.val_dataset is not None and len(data.val_dataset):
        val = LazyFeed(data.val_dataset, norm, dev, num_workers=0)
    else:
        raise EvaluationError("the run's dataset has no validation images to evaluate on")
    predictions: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []

    def keep(outputs: tuple, targets: torch.Tensor) -> None:
        if task == "classification":
            predictions.append(objective.predict(outputs).argmax(1).cpu())
            labels.append(targets.cpu())

    v = evaluate_feed(model, val, objective, max(training.batch_size * 2, 256), on_batch=keep)
    metrics = {k: float(x) for k, x in v.metrics}
    if task == "classification":
        metrics = {"accuracy": v.accuracy, **({"top5": v.top5} if v.top5 is not None else {}), **metrics}
    epoch = meta.get("epoch")
    return RunEvaluation(task, which, int(epoch) - 1 if isinstance(epoch, int) else None, v.samples,
                         v.loss, metrics, dict(v.head_losses),
                         _per_class(predictions, labels, list(loaded.class_names)), notes)


def _per_class(predictions: list[torch.Tensor], labels: list[torch.Tensor],
               names: list[str]) -> list[dict[str, Any]]:
    if not predictions or not names:
        return []
    from visionstudio.core.inspect.evaluation import confusion_matrix

    truth, pred = torch.cat(labels).numpy(), torch.cat(predictions).numpy()
    matrix = confusion_matrix(truth, pred, len(names))
    rows, cols = matrix.sum(axis=1), matrix.sum(axis=0)
    return [{"class": name, "images": int(rows[i]),
             "accuracy": float(matrix[i, i] / rows[i]) if rows[i] else None,
             "precision": float(matrix[i, i] / cols[i]) if cols[i] else None}
            for i, name in enumerate(names)]
