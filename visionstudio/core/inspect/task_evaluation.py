"""Inspection for the tasks beyond classification: what the network predicts for a sample,
where it is most wrong over the validation set, and the Grad-CAM target of one box.

Everything goes through the run's Objective, so the numbers are the ones training
reports: a regression's predictions are de-normalised with the run's saved target mean
and std (``objective_state``: the checkpoint's, else the run summary's; without either,
the training targets are fitted again), the metrics come from the task's Evaluator
(``evaluate_task``), a detection's boxes from the Detect layer's decode.

Choices made here (the contract leaves them open):

- Worst regression predictions: per target, the largest absolute errors first.
- Detection errors: per validation image, predictions shown at the Detect layer's
  confidence threshold are matched to true boxes greedily, best score first, same class,
  IoU at least 0.5 (the rule of the evaluator's precision and recall). Unmatched true boxes
  are *missed*, unmatched predictions *false*; images with the most of both come first.
- Localization: images ranked by IoU, lowest first; a wrong class ranks before any right one.
- Grad-CAM of a box: the log of the box's score, log σ(objectness) + log softmax(class)
  at the box's grid cell. It rises with exactly what decode ranks by, and the log keeps
  the gradient alive where σ and softmax saturate (as Grad-CAM takes logits, not
  probabilities, for classification).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: the viewer's modules load at start-up
    import torch
    from torch import nn

    from visionstudio.core.tasks.objective import Objective

MATCH_IOU = 0.5
WORST_LIMIT = 48


@dataclass(frozen=True)
class Worst:
    index: int                  # validation index
    true: float
    predicted: float

    @property
    def error(self) -> float:
        return abs(self.predicted - self.true)


@dataclass(frozen=True)
class ImageErrors:
    """One validation image's detection errors (boxes x1, y1, x2, y2 in fractions)."""
    index: int
    missed: np.ndarray          # (K, 4) true boxes no prediction found
    missed_labels: np.ndarray
    false: np.ndarray           # (K, 4) predictions that match no true box
    false_labels: np.ndarray
    false_scores: np.ndarray

    @property
    def count(self) -> int:
        return len(self.missed) + len(self.false)


@dataclass(frozen=True)
class TaskEvaluation:
    task: str
    metrics: dict[str, float]
    images: int
    target_names: tuple[str, ...] = ()
    true: np.ndarray | None = None        # regression (N, T) in the dataset's units
    predicted: np.ndarray | None = None
    errors: tuple[ImageErrors, ...] = ()  # detection: images with errors, worst first
    pr_curve: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())   # detection (recall, precision)
    ious: np.ndarray | None = None        # localization per image
    classes: np.ndarray | None = None     # localization (N, 2): true, predicted class
    extra: dict[str, Any] = field(default_factory=dict)

    def worst(self, target: int, limit: int = WORST_LIMIT) -> list[Worst]:
        """Regression: the ``limit`` largest errors of target number ``target``."""
        if self.true is None or self.predicted is None:
            return []
        return worst_predictions(self.true, self.predicted, target, limit)

    def worst_boxes(self, limit: int = WORST_LIMIT) -> list[int]:
        """Localization: validation indices, wrong class first, then by lowest IoU."""
        if self.ious is None or self.classes is None:
            return []
        wrong = (self.classes[:, 0] != self.classes[:, 1]).astype(float)
        order = np.lexsort((self.ious, -wrong))
        return [int(i) for i in order[:limit]]


def worst_predictions(true: np.ndarray, predicted: np.ndarray, target: int,
                      limit: int = WORST_LIMIT) -> list[Worst]:
    true, predicted = np.asarray(true, float), np.asarray(predicted, float)
    err = np.abs(predicted[:, target] - true[:, target])
    order = np.argsort(-err, kind="stable")[:limit]
    return [Worst(int(i), float(true[i, target]), float(predicted[i, target])) for i in order]


def match_boxes(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                gt_boxes: torch.Tensor, gt_labels: torch.Tensor,
                iou: float = MATCH_IOU) -> tuple[list[int], list[int]]:
    """(indices of true boxes missed, indices of predictions false) of one image."""
    from torchvision.ops import box_iou

    if len(boxes) == 0 or len(gt_boxes) == 0:
        return list(range(len(gt_boxes))), list(range(len(boxes)))
    overlap = box_iou(boxes.float(), gt_boxes.float())
    overlap[labels[:, None] != gt_labels[None, :]] = -1.0
    taken = np.zeros(len(gt_boxes), dtype=bool)
    false = []
    for i in scores.argsort(descending=True).tolist():
        row = overlap[i].numpy().copy()
        row[taken] = -1.0
        j = int(row.argmax())
        if row[j] >= iou:
            taken[j] = True
        else:
            false.append(i)
    return [int(j) for j in np.flatnonzero(~taken)], sorted(false)


def image_errors(index: int, found: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                 truth: tuple[torch.Tensor, torch.Tensor], iou: float = MATCH_IOU) -> ImageErrors:
    boxes, scores, labels = (t.detach().cpu() for t in found)
    gt_boxes, gt_labels = (t.detach().cpu() for t in truth)
    missed, false = match_boxes(boxes, scores, labels, gt_boxes, gt_labels, iou)
    return ImageErrors(int(index), gt_boxes[missed].numpy().reshape(-1, 4),
                       gt_labels[missed].numpy(), boxes[false].numpy().reshape(-1, 4),
                       labels[false].numpy(), scores[false].numpy())


def worst_images(errors: Sequence[ImageErrors]) -> tuple[ImageErrors, ...]:
    """The images with any error, most errors first (ties: validation order)."""
    kept = [e for e in errors if e.count]
    return tuple(sorted(kept, key=lambda e: (-e.count, e.index)))


def detect_module(model: nn.Module):
    """The network's Detect layer module, or None."""
    from visionstudio.core.tasks.detection_decode import Detect

    return next((m for m in model.modules() if isinstance(m, Detect)), None)


def objective_state(checkpoint: Path | None, run_folder: Path | None) -> dict[str, Any] | None:
    """The run's saved objective state: the checkpoint's, else the run summary's."""
    from visionstudio.core.training.checkpoint import CheckpointError, read_meta

    if checkpoint is not None:
        try:
            state = read_meta(checkpoint).get("trainer", {}).get("objective")
        except CheckpointError:
            state = None
        if isinstance(state, dict) and state:
            return state
    if run_folder is None:
        return None
    try:
        summary = json.loads((Path(run_folder) / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    state = summary.get("objective") if isinstance(summary, dict) else None
    return state if isinstance(state, dict) and state else None


def inspection_objective(task: str, heads, num_classes: int, target_names: Sequence[str],
                         state: dict[str, Any] | None, train_targets: torch.Tensor | None) -> Objective:
    """The run's Objective on the CPU, with its saved state (else fitted to ``train_targets``)."""
    import torch

    from visionstudio.core.tasks.objectives import make_objective

    objective = make_objective(task, heads, num_classes, torch.device("cpu"), list(target_names))
    if state is not None:
        objective.load_state_dict(state)
    elif objective.fits_targets and train_targets is not None and len(train_targets):
        objective.fit(train_targets)
    return objective


def _forward(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    from visionstudio.core.tasks.objective import as_outputs

    param = next(model.parameters(), None)
    out = model(x.to(param.device if param is not None else "cpu"))
    return tuple(o.float().cpu() for o in as_outputs(out))


def evaluate_task(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, objective: Objective,
                  *, prepare: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 128,
                  progress: Callable[[float], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> TaskEvaluation:
    """The task's metrics over ``images`` and what the galleries show."""
    import torch

    from visionstudio.core.tasks.detection_metrics import true_boxes
    from visionstudio.core.tasks.localization import box_iou_pairs

    task, evaluator = objective.task, objective.evaluator()
    detect = getattr(objective, "params", {}) if task == "detection" else {}
    trues, preds, errors, ious, classes = [], [], [], [], []
    n = len(labels)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, n, batch_size):
                if cancel is not None and cancel():
                    raise InterruptedError("evaluation cancelled")
                targets = labels[start:start + batch_size]
                outputs = _forward(model, prepare(images[start:start + batch_size]))
                evaluator.add(outputs, targets)
                if task == "regression":
                    trues.append(targets.float().reshape(len(targets), -1).numpy())
                    preds.append(objective.predict(outputs).numpy())
                elif task == "localization":
                    scores, boxes = objective.predict(outputs)
                    t = targets.float()
                    ious.append(box_iou_pairs(boxes, t[:, 1:5]).numpy())
                    classes.append(np.stack([t[:, 0].long().numpy(), scores.argmax(1).numpy()], 1))
                elif task == "detection":
                    for k, (found, truth) in enumerate(zip(objective.predict(outputs), true_boxes(targets))):
                        errors.append(image_errors(start + k, found, truth))
                if progress is not None:
                    progress(min(1.0, (start + batch_size) / max(n, 1)))
    finally:
        model.train(was_training)
    metrics = {k: float(v) for k, v in evaluator.result().items()}
    names = tuple(getattr(objective, "names", objective.target_names))
    if task == "regression":
        t = len(names)
        return TaskEvaluation(task, metrics, n, names,
                              np.concatenate(trues) if trues else np.zeros((0, t)),
                              np.concatenate(preds) if preds else np.zeros((0, t)))
    if task == "localization":
        return TaskEvaluation(task, metrics, n, names,
                              ious=np.concatenate(ious) if ious else np.zeros(0),
                              classes=np.concatenate(classes) if classes else np.zeros((0, 2), int))
    if task == "detection":
        recall, precision = evaluator.pr_curve()
        return TaskEvaluation(task, metrics, n, names, errors=worst_images(errors),
                              pr_curve=(tuple(recall), tuple(precision)),
                              extra={"conf_threshold": float(detect.get("conf_threshold", 0.25))})
    return TaskEvaluation(task, metrics, n, names)


# -- one sample --------------------------------------------------------------------------------

def sample_outputs(model: nn.Module, tensor: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The heads' raw outputs for one prepared sample (1×C×H×W), on the CPU."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _forward(model, tensor if tensor.dim() == 4 else tensor.unsqueeze(0))
    finally:
        model.train(was_training)


def sample_detections(model: nn.Module, outputs: tuple[torch.Tensor, ...], image_hw: tuple[int, int],
                      min_score: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (K, 4) x1, y1, x2, y2 in pixels, scores, classes) of one sample, best first,
    kept from ``min_score`` up (a slider then chooses what is shown) with the Detect layer's
    NMS and max detections."""
    from visionstudio.core.tasks.detection_decode import decode_detections

    detect = detect_module(model)
    iou = float(getattr(detect, "iou_threshold", 0.5))
    most = int(getattr(detect, "max_detections", 100))
    boxes, scores, labels = decode_detections(outputs[0][:1], image_hw, min_score, iou, most)[0]
    return boxes.numpy(), scores.numpy(), labels.numpy()


def box_cell(raw: torch.Tensor, score: float, label: int) -> tuple[int, int]:
    """The grid cell (row, column) a decoded box came from: the cell whose score for
    ``label`` is that box's score (decode keeps a cell's own score)."""
    import torch

    obj = torch.sigmoid(raw[0, 0])
    prob = torch.softmax(raw[0, 5:], dim=0)
    best = prob.argmax(0)
    cell_score = torch.where(best == label, obj * prob[label], torch.full_like(obj, -1.0))
    flat = int((cell_score - score).abs().argmin())
    return divmod(flat, raw.shape[-1])


def box_score(row: int, col: int, label: int) -> Callable[[Any], torch.Tensor]:
    """Grad-CAM target of a detection box: log σ(objectness) + log softmax(class) at its cell."""
    import torch.nn.functional as F

    def score(out):
        raw = out[0] if isinstance(out, (tuple, list)) else out
        return F.logsigmoid(raw[0, 0, row, col]) + F.log_softmax(raw[0, 5:, row, col], dim=0)[label]
    return score


def head_score(head: int, label: int) -> Callable[[Any], torch.Tensor]:
    """Grad-CAM target of a class head among several (localization): its score of ``label``."""
    def score(out):
        scores = out[head] if isinstance(out, (tuple, list)) else out
        return scores.reshape(scores.shape[0], -1)[0, label]
    return score
