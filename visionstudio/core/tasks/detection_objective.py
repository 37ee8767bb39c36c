"""Detection: every object in an image, a box and a class for each (the Detect layer's grid).

Target assignment (YOLO-style, anchor-free): each true box belongs to the one cell that
holds its centre; when several centres fall in one cell the smallest box wins it (a big
box would otherwise hide a small one; ties go to the first row). That cell learns
objectness 1, the box and the class; every other cell learns objectness 0.

The loss, per batch, is

    box_weight × box + objectness_weight × objectness + class_weight × class

- box: 1 − GIoU of the predicted and true boxes (``torchvision.ops.generalized_box_iou_loss``),
  or the L1 distance of centre and size, averaged over the assigned cells;
- objectness: binary cross-entropy over every cell, summed and divided by the number of
  assigned cells (each image's few objects weigh as much as its many empty cells), or
  the focal loss (``torchvision.ops.sigmoid_focal_loss``, α 0.25, γ 2) normalised the same
  way, as RetinaNet does;
- class: cross-entropy of the assigned cells' class scores.

The three parts are the run's per-head losses ("box", "objectness", "class"): a detection
network has one head, and its three parts say more than its total. Everything stays on the
device with fixed shapes (scatter into the grid, masks as weights): no host read per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.params import validate_all
from visionstudio.core.tasks.objective import OBJECTIVES, Objective, ObjectiveError

if TYPE_CHECKING:
    import torch

    from visionstudio.core.tasks.detection_metrics import DetectionEvaluator
    from visionstudio.core.tasks.heads import HeadPlan

LOSS_PARTS = ("box", "objectness", "class")
FOCAL_ALPHA, FOCAL_GAMMA = 0.25, 2.0
SAFE_BOX = (0.5, 0.5, 1.0, 1.0)   # stands in for padding rows so their (ignored) losses stay finite


def assign(targets: torch.Tensor, grid_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """For targets (N, M, 5) rows [class, cx, cy, w, h] (padding rows -1): the flat cell
    index of every row into the batch's N·Gh·Gw cells (padding and losing rows point one
    past the end) and a float mask of the rows that own their cell."""
    import torch

    n, m, _ = targets.shape
    gh, gw = grid_hw
    cells = gh * gw
    valid = targets[..., 0] >= 0
    col = (targets[..., 1] * gw).floor().clamp(0, gw - 1).long()
    row = (targets[..., 2] * gh).floor().clamp(0, gh - 1).long()
    image = torch.arange(n, device=targets.device).view(n, 1).expand(n, m)
    dump = n * cells
    flat = torch.where(valid, image * cells + row * gw + col, torch.full_like(col, dump)).reshape(-1)
    area = torch.where(valid, targets[..., 3] * targets[..., 4],
                       torch.full_like(targets[..., 3], float("inf"))).reshape(-1)
    smallest = torch.full((dump + 1,), float("inf"), device=targets.device, dtype=area.dtype)
    smallest = smallest.scatter_reduce(0, flat, area, "amin")
    candidate = valid.reshape(-1) & (area == smallest[flat])
    order = torch.arange(n * m, device=targets.device)
    first = torch.full((dump + 1,), n * m, device=targets.device, dtype=order.dtype)
    rank = torch.where(candidate, order, torch.full_like(order, n * m))
    first = first.scatter_reduce(0, flat, rank, "amin")
    owner = candidate & (order == first[flat])
    return torch.where(owner, flat, torch.full_like(flat, dump)), owner.to(targets.dtype)


def detection_params(head: HeadPlan) -> dict[str, Any]:
    """The Detect layer's settings of ``head``, checked and with defaults filled in."""
    from visionstudio.core.layers import LAYERS

    params, problems = validate_all(LAYERS.get("detect").params, dict(head.loss.get("params") or {}))
    if problems:
        raise ObjectiveError(f"the Detect layer {head.name}: {problems[0]}")
    return params


class DetectionObjective(Objective):
    task = "detection"

    def __init__(self, heads: Sequence[HeadPlan], num_classes: int, device: torch.device,
                 target_names: Sequence[str] = ()) -> None:
        super().__init__(heads, num_classes, device, target_names)
        detect = [h for h in self.heads if h.loss.get("key") == "detection"]
        if len(self.heads) != 1 or not detect:
            raise ObjectiveError("a detection network ends in one Detect layer and nothing else")
        self.params = detection_params(detect[0])
        shape = detect[0].output_shape
        if len(shape) != 3 or shape[0] - 5 != self.num_classes:
            raise ObjectiveError(f"the Detect layer {detect[0].name} needs 5 + {self.num_classes} "
                                 f"channels for this dataset's classes")
        self.grid_hw = (int(shape[1]), int(shape[2]))

    @property
    def head_names(self) -> tuple[str, ...]:
        """The names of the per-head losses: the detection loss's three parts."""
        return LOSS_PARTS

    def parts(self, raw: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The unweighted (box, objectness, class) losses of a batch, stacked."""
        import torch
        import torch.nn.functional as F
        from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss

        from visionstudio.core.tasks.detection_decode import cxcywh_to_xyxy, grid_boxes

        raw = raw.float()
        n, channels, gh, gw = raw.shape
        targets = targets.to(raw.device, torch.float32)
        flat, owner = assign(targets, (gh, gw))
        positives = owner.sum().clamp(min=1.0)
        safe = torch.tensor(SAFE_BOX, device=raw.device)
        true_box = torch.where(owner[:, None] > 0, targets.reshape(-1, 5)[:, 1:], safe)
        # one row past the last cell for the rows that own none (their losses are masked)
        pred_box = torch.cat((grid_boxes(raw).reshape(-1, 4), safe[None]))[flat]
        if self.params["box_loss"] == "giou":
            box_each = generalized_box_iou_loss(cxcywh_to_xyxy(pred_box), cxcywh_to_xyxy(true_box),
                                                reduction="none")
        else:
            box_each = (pred_box - true_box).abs().sum(dim=1)
        box = (box_each * owner).sum() / positives
        logits = raw[:, 0].reshape(-1)
        wanted = torch.zeros(n * gh * gw + 1, device=raw.device).scatter(0, flat, owner)[:-1]
        if self.params["objectness_loss"] == "focal":
            obj = sigmoid_focal_loss(logits, wanted, alpha=FOCAL_ALPHA, gamma=FOCAL_GAMMA, reduction="sum")
        else:
            obj = F.binary_cross_entropy_with_logits(logits, wanted, reduction="sum")
        scores = raw[:, 5:].permute(0, 2, 3, 1).reshape(-1, channels - 5)
        scores = torch.cat((scores, scores.new_zeros(1, channels - 5)))[flat]
        labels = targets.reshape(-1, 5)[:, 0].clamp(min=0).long()
        cls = (F.cross_entropy(scores, labels, reduction="none") * owner).sum() / positives
        return torch.stack((box, obj / positives, cls))

    def loss(self, outputs: tuple[torch.Tensor, ...],
             targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        parts = self.parts(outputs[0], targets)
        p = self.params
        weights = torch.tensor([p["box_weight"], p["objectness_weight"], p["class_weight"]],
                               device=parts.device)
        return (parts * weights).sum(), parts.detach()

    def evaluator(self) -> DetectionEvaluator:
        from visionstudio.core.tasks.detection_metrics import DetectionEvaluator

        return DetectionEvaluator(self.params, self.num_classes)

    def predict(self, outputs: tuple[torch.Tensor, ...], image_hw: tuple[int, int] = (1, 1)) -> Any:
        """Per image (boxes x1, y1, x2, y2, scores, classes) after the Detect layer's
        threshold and NMS; in pixels of ``image_hw``, fractions of the image by default."""
        from visionstudio.core.tasks.detection_decode import decode_detections

        p = self.params
        return decode_detections(outputs[0].float(), image_hw, p["conf_threshold"], p["iou_threshold"],
                                 p["max_detections"])


OBJECTIVES["detection"] = DetectionObjective
