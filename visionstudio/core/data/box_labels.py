"""Box labels read from the user's files (YOLO text, COCO JSON): checked one by one, every
problem named by file and line (or annotation) and left out, never a crash.

A box is kept as [class, cx, cy, w, h], fractions of the image (the layout of
``LoadedDataset`` for detection), so resizing an image to the network's Input never
moves its boxes. Rules, the same for both formats:

* the class must be one of the dataset's classes;
* a box needs a width and a height above zero;
* a box may pass the border by ``EDGE_TOLERANCE`` of the image (rounding in the tools
  that write labels) and is clipped to it; one further out is left out — it was drawn
  on another image size, or on a different image;
* at most ``MAX_BOXES`` boxes per image (the label tensor pads every image to the most
  any image has); the rest are left out and reported.

This module loads no torch: the dataset preview uses it as the window opens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionstudio.core.data.image_decode import ImageProblem, decode

MAX_BOXES = 100
EDGE_TOLERANCE = 0.01
REPORT_PROBLEMS = 50           # label problems listed one by one in the report
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PREVIEW_SHAPE = (3, 64, 64)

Box = tuple[int, float, float, float, float]
KINDS = ("box outside the image", "zero area", "unknown class", "missing image", "malformed",
         "not a number", "not a finite number", "more than", "duplicate", "file name",
         "label file larger", "not UTF-8", "cannot be read")   # the report's summary by kind


@dataclass
class BoxRecord:
    """One image and its checked boxes; ``source`` names where the boxes came from."""

    path: Path
    boxes: list[Box] = field(default_factory=list)
    source: str = ""


@dataclass
class LabelProblems:
    """Every label left out, as (where, why): "labels/a.txt line 3", "box outside the image"."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, why: str) -> None:
        self.items.append((where, why))

    def __len__(self) -> int:
        return len(self.items)

    def report(self) -> list[str]:
        if not self.items:
            return []
        kinds: dict[str, int] = {}
        for _, why in self.items:
            kind = next((k for k in KINDS if why.startswith(k)), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
        summary = "; ".join(f"{why} {n}" for why, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        lines = [f"Left out {len(self.items)} label(s) with problems ({summary}):"]
        lines += [f"  {where}: {why}" for where, why in self.items[:REPORT_PROBLEMS]]
        if len(self.items) > REPORT_PROBLEMS:
            lines.append(f"  … and {len(self.items) - REPORT_PROBLEMS} more.")
        return lines


def random_split(n: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) indices of a seeded random split (boxes have no single class to
    stratify by); at least one validation item when there are two and val_split > 0."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_split)) if val_split > 0 else 0
    n_val = min(max(n_val, 1 if val_split > 0 and n >= 2 else 0), max(n - 1, 0))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def class_problem(value: Any, classes: int) -> str | None:
    """Why ``value`` is no class index of a dataset with ``classes`` classes (None: it is)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"unknown class {str(value)[:40]} (not a whole number)"
    if value != int(value):
        return f"unknown class {value!r} (not a whole number)"
    if not 0 <= int(value) < classes:
        return (f"unknown class {int(value)} (the class names list {classes}, numbered 0 to "
                f"{classes - 1})")
    return None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def check_box(cls: int, x0: float, y0: float, x1: float, y1: float) -> tuple[Box | None, str | None]:
    """A box given by its corners (fractions of the image) -> (clipped box, None) or
    (None, why it is left out)."""
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return None, "not a finite number"
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return None, f"zero area (width {_fmt(w)}, height {_fmt(h)} of the image)"
    low, high = -EDGE_TOLERANCE, 1 + EDGE_TOLERANCE
    if x0 < low or x1 > high or y0 < low or y1 > high:
        hint = " (it looks like pixels; these boxes are fractions of the image)" if max(x1, y1) > 2 else ""
        return None, (f"box outside the image (x {_fmt(x0)} to {_fmt(x1)}, y {_fmt(y0)} to {_fmt(y1)} "
                      f"of the image's width and height){hint}")
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
    if x1 <= x0 or y1 <= y0:
        return None, "zero area inside the image"
    return (int(cls), (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), None


def cap_boxes(record: BoxRecord, problems: LabelProblems) -> None:
    """Keep the first MAX_BOXES boxes of an image; report the others."""
    if len(record.boxes) > MAX_BOXES:
        problems.add(record.source, f"more than {MAX_BOXES} boxes in one image: "
                                    f"{len(record.boxes) - MAX_BOXES} left out")
        del record.boxes[MAX_BOXES:]


def pixel_boxes(rows: Any, width: int, height: int) -> list[tuple[float, float, float, float, int]]:
    """Label rows [class, cx, cy, w, h] (fractions; -1 rows skipped) as (x0, y0, x1, y1, class)
    in pixels: what the dataset preview draws."""
    out = []
    for cls, cx, cy, w, h in np.asarray(rows, dtype=np.float64).reshape(-1, 5):
        if cls < 0:
            continue
        out.append((float((cx - w / 2) * width), float((cy - h / 2) * height), float((cx + w / 2) * width),
                    float((cy + h / 2) * height), int(cls)))
    return out


def label_array(records: list[BoxRecord]) -> np.ndarray:
    """float32 N×M×5 rows [class, cx, cy, w, h], padded with -1 rows to M = the most boxes
    any image has (at least 1)."""
    most = max([len(r.boxes) for r in records] + [1])
    out = np.full((len(records), most, 5), -1.0, dtype=np.float32)
    for i, record in enumerate(records):
        if record.boxes:
            out[i, :len(record.boxes)] = np.asarray(record.boxes, dtype=np.float32)
    return out


def preview_records(records: list[BoxRecord], val: int, class_names: list[str], count: int) -> dict:
    """The dataset preview of a labelled folder without torch: the first ``count`` images
    that decode (at PREVIEW_SHAPE), their boxes, each one's first class as "labels", boxes
    per class, and the listed split sizes (images are checked only when loading)."""
    images, boxes, labels = [], [], []
    for record in records:
        if len(images) >= count:
            break
        try:
            images.append(decode(record.path, PREVIEW_SHAPE))
        except ImageProblem:
            continue
        rows = np.asarray(record.boxes, dtype=np.float64).reshape(-1, 5)
        boxes.append(pixel_boxes(rows, PREVIEW_SHAPE[2], PREVIEW_SHAPE[1]))
        labels.append(int(rows[0, 0]) if len(rows) else -1)
    kinds = [b[0] for r in records for b in r.boxes]
    return {"images": np.stack(images) if images else np.zeros((0, *PREVIEW_SHAPE), np.uint8),
            "labels": np.asarray(labels, dtype=np.int64), "boxes": boxes,
            "class_names": list(class_names),
            "counts": np.bincount(np.asarray(kinds, dtype=np.int64), minlength=len(class_names)),
            "train": len(records), "val": val, "task": "detection"}
