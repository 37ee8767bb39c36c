"""Detection metrics: COCO mAP through torchmetrics, precision and recall at the Detect
layer's confidence threshold, and the precision/recall curve.

- ``map50`` and ``map``: torchmetrics' MeanAveragePrecision (COCO definition, pycocotools
  backend; boxes x1, y1, x2, y2): AP at IoU 0.5, and averaged over IoU 0.50:0.95, both
  averaged over the classes. For mAP the grid is decoded with a confidence threshold of
  EVAL_CONF (as COCO evaluations do: the ranking, not one threshold, is what AP measures),
  the layer's NMS IoU and its max detections. Boxes stay in fractions of the image (IoU
  does not change with the image's size; only the small/medium/large split would, and it
  is not reported).
- ``precision`` and ``recall``: the boxes a user would see (score at least the layer's
  confidence threshold) matched greedily, best score first, to unmatched true boxes of
  the same class with IoU at least 0.5: TP / (TP + FP) and TP / (true boxes).
- ``pr_curve()``: precision at COCO's 101 recall points for IoU 0.5, averaged over the
  classes present, for the UI's curve.

Decoding and NMS have sizes known only from the data, so ``add`` reads back per batch
(unlike the other tasks' evaluators); validation runs without gradients, so it is cheap.
With no true box in the validation set, AP is undefined and reported as 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from visionstudio.core.tasks.objective import Evaluator

if TYPE_CHECKING:
    import torch

EVAL_CONF = 0.001
MATCH_IOU = 0.5


def true_boxes(targets: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per image of targets (N, M, 5) [class, cx, cy, w, h]: (boxes xyxy, classes) of its
    real rows (padding rows have class -1)."""
    from visionstudio.core.tasks.detection_decode import cxcywh_to_xyxy

    out = []
    for rows in targets:
        rows = rows[rows[:, 0] >= 0]
        out.append((cxcywh_to_xyxy(rows[:, 1:5].float()), rows[:, 0].long()))
    return out


def match_counts(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                 gt_boxes: torch.Tensor, gt_labels: torch.Tensor, iou: float = MATCH_IOU) -> tuple[int, int]:
    """(true positives, false positives) of one image's predictions: greedy, best score
    first, each true box matched once, same class and IoU at least ``iou``."""
    from torchvision.ops import box_iou

    if len(boxes) == 0:
        return 0, 0
    if len(gt_boxes) == 0:
        return 0, len(boxes)
    overlap = box_iou(boxes, gt_boxes)
    overlap[labels[:, None] != gt_labels[None, :]] = -1.0
    taken = [False] * len(gt_boxes)
    tp = 0
    for i in scores.argsort(descending=True).tolist():
        row = overlap[i].tolist()
        best, best_iou = -1, iou
        for j, value in enumerate(row):
            if not taken[j] and value >= best_iou:
                best, best_iou = j, value
        if best >= 0:
            taken[best] = True
            tp += 1
    return tp, len(boxes) - tp


class DetectionEvaluator(Evaluator):
    """mAP (torchmetrics) and the counts for precision and recall over one validation pass."""

    def __init__(self, params: dict[str, Any], num_classes: int) -> None:
        from torchmetrics.detection import MeanAveragePrecision

        self.params = dict(params)
        self.num_classes = int(num_classes)
        self.metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", backend="pycocotools",
                                           extended_summary=True)
        self.tp = self.fp = self.positives = 0
        self._computed: dict[str, Any] | None = None

    def add_detections(self, found: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                       targets: torch.Tensor) -> None:
        """Add decoded predictions per image (boxes xyxy in fractions, scores, classes),
        decoded with a confidence threshold at most EVAL_CONF."""
        truth = true_boxes(targets)
        conf = float(self.params["conf_threshold"])
        preds, gts = [], []
        for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(found, truth):
            preds.append({"boxes": boxes.float().cpu(), "scores": scores.float().cpu(),
                          "labels": labels.cpu()})
            gts.append({"boxes": gt_boxes.cpu(), "labels": gt_labels.cpu()})
            shown = scores >= conf
            tp, fp = match_counts(boxes[shown], scores[shown], labels[shown], gt_boxes, gt_labels)
            self.tp, self.fp, self.positives = self.tp + tp, self.fp + fp, self.positives + len(gt_boxes)
        self.metric.update(preds, gts)
        self._computed = None

    def add(self, outputs: tuple[torch.Tensor, ...], targets: torch.Tensor) -> None:
        import torch

        from visionstudio.core.tasks.detection_decode import decode_detections

        with torch.no_grad():
            found = decode_detections(outputs[0].detach().float(), (1, 1), EVAL_CONF,
                                      float(self.params["iou_threshold"]), int(self.params["max_detections"]))
        self.add_detections(found, targets.to(outputs[0].device))

    def _summary(self) -> dict[str, Any]:
        if self._computed is None:
            self._computed = self.metric.compute()
        return self._computed

    def result(self) -> dict[str, float]:
        summary = self._summary()
        shown = self.tp + self.fp
        return {
            "map50": max(float(summary["map_50"]), 0.0),
            "map": max(float(summary["map"]), 0.0),
            "precision": self.tp / shown if shown else 0.0,
            "recall": self.tp / self.positives if self.positives else 0.0,
        }

    def pr_curve(self) -> tuple[list[float], list[float]]:
        """(recall, precision) at IoU 0.5: COCO's 101 recall points, precision averaged
        over the classes that have true boxes; ([], []) when none has."""
        summary = self._summary()
        precision = summary.get("precision")
        if precision is None or precision.numel() == 0:
            return [], []
        at50 = precision[0, :, :, 0, -1]            # recall points × classes, area "all", most detections
        present = (at50 >= 0).any(dim=0)
        if not bool(present.any()):
            return [], []
        curve = at50[:, present].clamp(min=0).mean(dim=1)
        return [float(r) for r in self.metric.rec_thresholds], curve.tolist()
