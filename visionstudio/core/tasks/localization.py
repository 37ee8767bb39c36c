"""Localization: one object per image, its class and its box.

The network has two heads (Output layers): a class head scoring the classes and a box
head giving four numbers, the box's centre x, y, width and height as fractions of the
image, the layout of the labels' last four columns. Each head's own loss compares it with
its part of the label (class head: cross-entropy or NLL on the class; box head: smooth L1,
L1, MSE or Huber on the raw four numbers) and the total is the heads' losses times their
weights; the per-head losses are in the heads' order.

Metrics over the validation set: ``iou``, the mean intersection over union of the
predicted and true boxes (a predicted negative width or height counts as 0); ``accuracy``
of the class head; ``box_l1``, the mean absolute error of the four box numbers. They are
summed on the device and read once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import validate_all
from visionstudio.core.tasks.classification import head_loss
from visionstudio.core.tasks.objective import OBJECTIVES, Evaluator, Objective, ObjectiveError
from visionstudio.core.training.losses import LOSSES

if TYPE_CHECKING:
    import torch

    from visionstudio.core.tasks.heads import HeadPlan

BOX_LOSSES = ("smooth_l1", "l1", "mse", "huber")


def _box_loss(head: HeadPlan, device: torch.device) -> Any:
    key = head.loss.get("key")
    if key not in BOX_LOSSES:
        title = LOSSES.get(key).title if key in LOSSES else repr(key)
        raise ObjectiveError(f"the box head {head.name} uses the loss {title}, which does not compare "
                             f"numbers; choose one of {', '.join(BOX_LOSSES)}")
    params, problems = validate_all(LOSSES.get(key).params, dict(head.loss.get("params") or {}))
    if problems:
        raise ObjectiveError(f"the loss of {head.name}: {problems[0]}")
    return LOSSES.get(key).factory(params, 0, device)


def box_iou_pairs(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """IoU of each row's boxes (N, 4) centre x, y, width, height; negative sizes count as 0."""
    import torch

    from visionstudio.core.tasks.detection_decode import cxcywh_to_xyxy

    pred = torch.cat((pred[:, :2], pred[:, 2:].clamp(min=0)), dim=1)
    a, b = cxcywh_to_xyxy(pred), cxcywh_to_xyxy(true)
    wh = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = pred[:, 2] * pred[:, 3] + true[:, 2] * true[:, 3] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


class LocalizationEvaluator(Evaluator):
    """Sums of IoU, correct classes and absolute box error on the device (float64)."""

    def __init__(self, objective: LocalizationObjective) -> None:
        import torch

        self.objective = objective
        self.sums = torch.zeros(3, device=objective.device, dtype=torch.float64)
        self.n = 0

    def add(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> None:
        import torch

        scores, boxes = self.objective.split(outputs)
        targets = targets.to(boxes.device).float()
        true = targets[:, 1:5]
        self.sums += torch.stack((
            box_iou_pairs(boxes, true).sum(),
            (scores.argmax(1) == targets[:, 0].long()).sum(),
            (boxes - true).abs().mean(dim=1).sum(),
        )).to(torch.float64)
        self.n += int(targets.shape[0])

    def result(self) -> dict[str, float]:
        iou, correct, l1 = self.sums.tolist()
        n = max(self.n, 1)
        return {"iou": iou / n, "accuracy": correct / n, "box_l1": l1 / n}


class LocalizationObjective(Objective):
    task = "localization"

    def __init__(self, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                 target_names: Sequence[str] = ()) -> None:
        super().__init__(heads, num_classes, device, target_names)
        targets = [h.target for h in self.heads]
        if sorted(targets) != ["box", "class"]:
            raise ObjectiveError("a localization network has two heads: an Output with target class "
                                 "and an Output with target box")
        self.class_index, self.box_index = targets.index("class"), targets.index("box")
        self._class_loss = head_loss(self.heads[self.class_index], self.num_classes, device)
        self._box_loss = _box_loss(self.heads[self.box_index], device)

    def split(self, outputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """(class scores (N, C), boxes (N, 4)) from the heads' outputs."""
        scores, boxes = outputs[self.class_index], outputs[self.box_index]
        return scores.reshape(scores.shape[0], -1), boxes.reshape(boxes.shape[0], -1).float()

    def loss(self, outputs: tuple[torch.Tensor, ...],
             targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        scores, boxes = self.split(outputs)
        losses = [None, None]
        losses[self.class_index] = self._class_loss(scores, targets[:, 0].long())
        losses[self.box_index] = self._box_loss(boxes, targets[:, 1:5].to(boxes.dtype))
        return self.weighted(losses)

    def batch_score(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> torch.Tensor:
        """Correct classes of the batch (the class head's argmax)."""
        scores, _ = self.split(outputs)
        return (scores.detach().argmax(1) == targets[:, 0].long()).sum()

    def evaluator(self) -> LocalizationEvaluator:
        return LocalizationEvaluator(self)

    def predict(self, outputs: tuple[torch.Tensor, ...]) -> Any:
        """(class scores (N, C), boxes (N, 4) centre x, y, width, height in fractions)."""
        return self.split(outputs)


OBJECTIVES["localization"] = LocalizationObjective
