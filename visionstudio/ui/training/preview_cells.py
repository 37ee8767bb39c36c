"""What each thumbnail of the dataset preview shows, by the dataset's task: the class name
(classification), the boxes drawn on the image with their class names (localization,
detection), or the target values under the image (regression).

The preview's data is a dict (core/data/registry.preview_dataset, or the loaded
dataset's first images: preview.load_preview) with "images" and "labels" in the layout
of LoadedDataset (core/data/base.py): int classes (N,); float values (N, T); box rows
[class, cx, cy, w, h] as fractions of the image, (N, 5) or (N, M, 5) padded with rows of
-1. A preview callable may give the boxes apart from the labels as "boxes": per image a
list of (x0, y0, x1, y1, class) in pixels (core/data/box_labels.pixel_boxes), its "labels"
then being each image's first class and its "counts" the objects per class. "task" and
"target_names" say what the labels are; without "task" the layout tells: "boxes" means
boxes, float labels of two dimensions mean values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel

THUMB = 44
CAPTION_WIDTH = THUMB + 20
VALUE_LINES = 2         # a regression image's values: two a line, at most this many lines
BOX_COLORS = ("#e53935", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#c0ca33", "#6d4c41")
BOX_TASKS = ("localization", "detection")


@dataclass(frozen=True)
class Cell:
    caption: str                    # under the thumbnail
    tooltip: str
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()   # (class, cx, cy, w, h)


def to_pixmap(image: np.ndarray, size: int = THUMB) -> QPixmap:
    """uint8 C×H×W -> a scaled QPixmap (grayscale or RGB)."""
    c, h, w = image.shape
    if c == 1:
        buf = np.ascontiguousarray(image[0])
        qimg = QImage(buf.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        buf = np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0)))
        qimg = QImage(buf.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimg).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.FastTransformation)


def thumbnail(image: np.ndarray, cell: Cell, size: int = THUMB) -> QPixmap:
    """The image scaled to ``size``, its boxes drawn over it in their class's colour."""
    pixmap = to_pixmap(image, size)
    if not cell.boxes:
        return pixmap
    w, h = pixmap.width(), pixmap.height()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for cls, cx, cy, bw, bh in cell.boxes:
        painter.setPen(QPen(QColor(BOX_COLORS[cls % len(BOX_COLORS)]), 1.5))
        painter.drawRect(QRectF((cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h))
    painter.end()
    return pixmap


def caption_text(label: QLabel, caption: str) -> str:
    """each line of ``caption`` elided to a little more than a thumbnail's width (at the 9 px caption
    font): a long list of classes or values must not widen the panel."""
    font = QFont(label.font())
    font.setPixelSize(9)
    metrics = QFontMetrics(font)
    return "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideRight, CAPTION_WIDTH)
                     for line in caption.splitlines())


def task_of(data: dict) -> str:
    task = data.get("task")
    if isinstance(task, str):
        return task
    if data.get("boxes") is not None:
        return "detection"
    labels = np.asarray(data.get("labels", ()))
    return "regression" if labels.ndim == 2 and labels.dtype.kind == "f" else "classification"


def cells(data: dict) -> list[Cell]:
    """One Cell per preview image."""
    task = task_of(data)
    names = list(data.get("class_names") or ())
    labels = list(data.get("labels", ()))
    if task in BOX_TASKS:
        given = data.get("boxes")
        if given is None:
            return [_box_cell(r, names) for r in labels]
        return [_box_cell(_fraction_rows(b, image), names) for b, image in zip(given, data["images"])]
    if task == "regression":
        targets = list(data.get("target_names") or ())
        return [_value_cell(v, targets) for v in labels]
    return [_class_cell(v, names) for v in labels]


def _class_name(cls: int, names: list[str]) -> str:
    return names[cls] if 0 <= cls < len(names) else str(cls)


def _class_cell(label, names: list[str]) -> Cell:
    name = _class_name(int(label), names)
    return Cell(name, name)


def _fraction_rows(boxes, image: np.ndarray) -> np.ndarray:
    """Pixel boxes (x0, y0, x1, y1, class) of one C×H×W image as rows [class, cx, cy, w, h]."""
    h, w = image.shape[-2:]
    out = [[cls, (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
           for x0, y0, x1, y1, cls in boxes]
    return np.asarray(out, dtype=np.float64).reshape(-1, 5)


def _box_cell(rows, names: list[str]) -> Cell:
    array = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    boxes = tuple((int(r[0]), *(float(v) for v in r[1:])) for r in array
                  if r[0] >= 0 and r[3] > 0 and r[4] > 0)       # padding rows are -1
    kinds = [_class_name(b[0], names) for b in boxes]
    caption = ", ".join(dict.fromkeys(kinds))
    if len(boxes) > 1:
        caption = f"{len(boxes)}: {caption}"
    lines = [f"{k}: centre {b[1]:.2f}, {b[2]:.2f}, size {b[3]:.2f} × {b[4]:.2f}"
             for k, b in zip(kinds, boxes)]
    return Cell(caption or "no objects", "\n".join(lines) or "No objects in this image", boxes)


def _value_cell(values, targets: list[str]) -> Cell:
    numbers = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    pairs = [" · ".join(f"{v:.3g}" for v in numbers[i:i + 2]) for i in range(0, len(numbers), 2)]
    caption = "\n".join(pairs[:VALUE_LINES - 1] + [" · ".join(pairs[VALUE_LINES - 1:])])[:200]
    named = [f"{targets[i] if i < len(targets) else f'target {i + 1}'} = {v:.4g}"
             for i, v in enumerate(numbers)]
    return Cell(caption, "\n".join(named))


def summary(data: dict) -> str:
    """The line under the thumbnails: split sizes, and per class counts, the classes or
    the targets."""
    sizes = f"{data['train']} training / {data['val']} validation images. "
    names = list(data.get("class_names") or ())
    task = task_of(data)
    if task == "regression":
        targets = list(data.get("target_names") or ())
        return sizes + (f"Targets: {', '.join(targets)}." if targets else "")
    counts = data.get("counts")
    if task in BOX_TASKS:
        if counts is None:
            return sizes + f"Boxes of {len(names)} classes: {', '.join(names)}."
        return sizes + "Objects per class: " + ", ".join(f"{n} {int(c)}" for n, c in zip(names, counts)) + "."
    per_class = (", ".join(f"{n} {int(c)}" for n, c in zip(names, counts))
                 if counts is not None else f"{len(names)} classes")
    return sizes + f"Per class: {per_class}."
