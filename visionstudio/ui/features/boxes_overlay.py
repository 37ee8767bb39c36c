"""BoxesView: the sample with the network's boxes (solid, class name and score) and the
true boxes (dashed), a confidence-threshold slider, and a click on a box to explain it.

The predictions come decoded from a low score up (task_evaluation.sample_detections), so
the slider only chooses which are drawn: no forward pass per slider step. Boxes are in
pixels of the shown image (x1, y1, x2, y2). ``boxes_pixmap`` draws boxes on a gallery
thumbnail.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from visionstudio.ui.features.fitted import FittedPlot
from visionstudio.ui.features.panels import image_view, sample_pixmap

TRUE_COLOR = "#3ddc84"
FALSE_COLOR = "#ff4d4d"
MISSED_COLOR = "#ffb020"


def class_color(label: int, classes: int) -> QColor:
    return pg.intColor(int(label), hues=max(int(classes), 3), values=1, maxValue=255, sat=200)


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)


class BoxesView(QWidget):
    box_clicked = Signal(int)      # index into the predictions

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("boxesView")
        self.plot, self.base = image_view()
        self.plot.setObjectName("boxesPlot")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.frame = FittedPlot(self.plot, self)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("confidenceSlider")
        self.slider.setRange(0, 100)
        self.slider.setValue(25)
        self.slider.setMaximumWidth(220)
        self.slider.setToolTip("Draw the predicted boxes scoring at least this (objectness × class "
                               "probability)")
        self.slider.setAccessibleName("Confidence threshold")
        self.threshold_label = QLabel("")
        self.threshold_label.setObjectName("confidenceLabel")
        self.caption = QLabel("")
        self.caption.setObjectName("boxesCaption")
        self.caption.setWordWrap(True)
        self.controls = QWidget()
        row = QHBoxLayout(self.controls)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Confidence:"))
        row.addWidget(self.slider)
        row.addWidget(self.threshold_label)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.controls)
        lay.addWidget(self.caption)
        lay.addWidget(self.frame, 1)
        self.predictions = _empty()
        self.truths: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
        self.names: list[str] = []
        self._items: list = []
        self._shown: list[int] = []
        self._use_threshold = True
        self.slider.valueChanged.connect(lambda _v: self._redraw())
        self.plot.scene().sigMouseClicked.connect(self._on_clicked)
        self._label_threshold()

    # -- feeding ---------------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return self.slider.value() / 100

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(round(float(value) * 100))

    def show_boxes(self, display: np.ndarray, predictions, truths, names, caption: str = "",
                   slider: bool = True) -> None:
        """``predictions`` (boxes, scores, classes), ``truths`` (boxes, classes)."""
        self.base.setImage(display, levels=(0, 255), autoLevels=False)
        h, w = display.shape[:2]
        self.frame.set_extent(w, h)
        self.predictions = tuple(np.asarray(a) for a in predictions)
        self.truths = tuple(np.asarray(a) for a in truths)
        self.names = list(names)
        self.controls.setVisible(slider)
        self._use_threshold = slider
        self.caption.setText(caption)
        self._redraw()

    def clear(self) -> None:
        self.base.clear()
        self.predictions, self._shown = _empty(), []
        self.truths = (np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
        self._clear_items()

    # -- drawing ---------------------------------------------------------------------------------
    def shown_indices(self) -> list[int]:
        """The predictions drawn now (score at least the threshold when the slider shows)."""
        return list(self._shown)

    def _name(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else f"class {label}"

    def _clear_items(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []

    def _rect(self, box, pen: QPen, text: str, color, anchor) -> None:
        x1, y1, x2, y2 = (float(v) for v in box)
        rect = QGraphicsRectItem(QRectF(x1, y1, x2 - x1, y2 - y1))
        rect.setPen(pen)
        rect.setZValue(10)
        self.plot.addItem(rect)
        label = pg.TextItem(text, color=color, anchor=anchor, fill=pg.mkBrush(0, 0, 0, 150))
        label.setPos(x1, y1 if anchor[1] == 1 else y2)
        label.setZValue(11)
        self.plot.addItem(label)
        self._items += [rect, label]

    def _redraw(self) -> None:
        self._label_threshold()
        self._clear_items()
        classes = max(len(self.names), 1)
        for box, label in zip(*self.truths):
            pen = pg.mkPen(TRUE_COLOR, width=1.5, style=Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._rect(box, pen, f"true {self._name(int(label))}", TRUE_COLOR, (0, 0))
        boxes, scores, labels = self.predictions
        limit = self.threshold if self._use_threshold else 0.0
        self._shown = [i for i in range(len(boxes)) if float(scores[i]) >= limit]
        for i in self._shown:
            color = class_color(int(labels[i]), classes)
            pen = pg.mkPen(color, width=2)
            pen.setCosmetic(True)
            self._rect(boxes[i], pen, f"{self._name(int(labels[i]))} {float(scores[i]):.0%}", color, (0, 1))

    def _label_threshold(self) -> None:
        self.threshold_label.setText(f"≥ {self.threshold:.2f}")

    def _on_clicked(self, event) -> None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        index = self.box_at(p.x(), p.y())
        if index is not None:
            self.box_clicked.emit(index)

    def box_at(self, x: float, y: float) -> int | None:
        """The smallest drawn predicted box holding the point (image pixels), or None."""
        boxes = self.predictions[0]
        hits = [i for i in self._shown
                if boxes[i][0] <= x <= boxes[i][2] and boxes[i][1] <= y <= boxes[i][3]]
        if not hits:
            return None
        return min(hits, key=lambda i: (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]))


def boxes_pixmap(display: np.ndarray, missed: np.ndarray, false: np.ndarray, size: int = 72) -> QPixmap:
    """A thumbnail with missed true boxes (dashed, amber) and false boxes (red); boxes in
    fractions of the image."""
    pix = sample_pixmap(display, size)
    painter = QPainter(pix)
    try:
        w, h = pix.width(), pix.height()
        for boxes, color, style in ((missed, MISSED_COLOR, Qt.PenStyle.DashLine),
                                    (false, FALSE_COLOR, Qt.PenStyle.SolidLine)):
            pen = QPen(QColor(color), 1.5, style)
            painter.setPen(pen)
            for x1, y1, x2, y2 in np.asarray(boxes).reshape(-1, 4):
                painter.drawRect(QRectF(x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h))
    finally:
        painter.end()
    return pix
