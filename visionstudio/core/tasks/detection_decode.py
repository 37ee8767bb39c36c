"""The Detect layer's grid encoding and its decode: raw grid -> boxes, scores, classes.

The detector is single-stage and anchor-free (YOLO-style, one prediction per grid cell).
The network ends in a (5 + C) × Gh × Gw grid; cell (i, j) covers rows i/Gh..(i+1)/Gh and
columns j/Gw..(j+1)/Gw of the image and its channels are

    0        objectness logit: sigmoid = the chance an object's centre lies in this cell
    1, 2     tx, ty: the centre is (j + sigmoid(tx)) / Gw, (i + sigmoid(ty)) / Gh
    3, 4     tw, th: the size is sigmoid(tw), sigmoid(th) of the image width and height
    5 …      one logit per class (softmax over them)

Sigmoids keep every decoded number inside the image and the training stable (no exp to
blow up). A box's score is sigmoid(objectness) × its best class's softmax probability.
Decoding keeps cells scoring at least ``conf_threshold``, then removes overlapping boxes
of the same class (class-aware NMS, ``torchvision.ops.batched_nms``) and keeps the
``max_detections`` best.

This module imports nothing of the app: the export copies its source into model.py as it
is, so the exported model decodes exactly as the app does. torchvision is imported inside
``decode_detections`` so a model.py without a Detect layer needs torch only.
"""

from __future__ import annotations

import torch
from torch import nn


def grid_boxes(raw: torch.Tensor) -> torch.Tensor:
    """The box of every cell, (N, Gh·Gw, 4) as centre x, y, width, height in fractions
    of the image (cells in row-major order)."""
    n, _, gh, gw = raw.shape
    rows = torch.arange(gh, device=raw.device, dtype=raw.dtype).view(gh, 1)
    cols = torch.arange(gw, device=raw.device, dtype=raw.dtype).view(1, gw)
    cx = (cols + torch.sigmoid(raw[:, 1])) / gw
    cy = (rows + torch.sigmoid(raw[:, 2])) / gh
    w, h = torch.sigmoid(raw[:, 3]), torch.sigmoid(raw[:, 4])
    return torch.stack((cx, cy, w, h), dim=-1).reshape(n, gh * gw, 4)


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """Centre and size -> corners (x1, y1, x2, y2), in the same units."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), dim=-1)


def decode_detections(raw: torch.Tensor, image_hw: tuple[int, int], conf_threshold: float = 0.25,
                      iou_threshold: float = 0.5, max_detections: int = 100,
                      ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image of the batch: (boxes (K, 4) x1, y1, x2, y2 in pixels of an image of
    ``image_hw`` = (height, width), scores (K,), class indices (K,) int64), best first."""
    from torchvision.ops import batched_nms

    height, width = image_hw
    n, channels = raw.shape[0], raw.shape[1]
    scale = torch.tensor([width, height, width, height], device=raw.device, dtype=raw.dtype)
    boxes = (cxcywh_to_xyxy(grid_boxes(raw)) * scale).clamp(min=0)
    boxes = torch.minimum(boxes, scale)
    objectness = torch.sigmoid(raw[:, 0]).reshape(n, -1)
    class_prob = torch.softmax(raw[:, 5:], dim=1).reshape(n, channels - 5, -1)
    best_prob, labels = class_prob.max(dim=1)
    scores = objectness * best_prob
    found = []
    for b in range(n):
        keep = scores[b] >= conf_threshold
        kept_boxes, kept_scores, kept_labels = boxes[b][keep], scores[b][keep], labels[b][keep]
        order = batched_nms(kept_boxes, kept_scores, kept_labels, iou_threshold)[:max_detections]
        found.append((kept_boxes[order], kept_scores[order], kept_labels[order]))
    return found


class Detect(nn.Module):
    """The Detect layer: passes the raw grid on (training and ONNX see the raw heads);
    ``decode`` turns it into boxes with the layer's thresholds."""

    def __init__(self, conf_threshold: float = 0.25, iou_threshold: float = 0.5,
                 max_detections: int = 100) -> None:
        super().__init__()
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, raw: torch.Tensor, image_hw: tuple[int, int]
               ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return decode_detections(raw, image_hw, self.conf_threshold, self.iou_threshold,
                                 self.max_detections)
