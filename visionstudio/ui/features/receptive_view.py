"""The sample with the receptive field of the hovered feature-map pixel outlined.

Hovering a pixel of a map (in the mosaic or the channel zoom) asks which input pixels it
sees (core.inspect.receptive_field) and draws that rectangle on the sample, with the
region in words underneath and as the tooltip. The fields of the whole network are
computed on the first hover after an edit, keyed by the layer paths the viewer uses.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from visionstudio.core.graph import GraphAnalysis, GraphModel
from visionstudio.core.inspect.receptive_field import ReceptiveField, fields_by_path, input_region
from visionstudio.ui.features.panels import image_view

HINT = "Hover a feature-map pixel to outline the part of the sample it sees."
OUTLINE = QColor("#ffd84d")


class FieldOverlay(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("receptiveFieldOverlay")
        self.setAccessibleName("Receptive field on the sample")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot, self.image = image_view(self)
        self.plot.setMinimumHeight(120)
        self.outline = QGraphicsRectItem()
        pen = QPen(OUTLINE)
        pen.setCosmetic(True)
        pen.setWidth(2)
        self.outline.setPen(pen)
        self.outline.setZValue(10)
        self.outline.setVisible(False)
        self.plot.addItem(self.outline)
        self.caption = QLabel(HINT, self)
        self.caption.setObjectName("receptiveFieldCaption")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.caption)
        self.region: tuple[int, int, int, int] | None = None  # (top, left, bottom, right), half-open
        self._for: tuple[GraphModel, GraphAnalysis] | None = None
        self._fields: dict[str, ReceptiveField] = {}

    def set_sample(self, display: np.ndarray) -> None:
        self.image.setImage(display, levels=(0, 255), autoLevels=False)
        self.plot.autoRange(padding=0)

    def fields(self, graph: GraphModel, analysis: GraphAnalysis) -> dict[str, ReceptiveField]:
        if self._for is None or self._for[0] is not graph or self._for[1] is not analysis:
            self._fields = fields_by_path(graph, analysis)
            self._for = (graph, analysis)
        return self._fields

    def show_pixel(self, graph: GraphModel, analysis: GraphAnalysis, layer: str, y: int, x: int) -> None:
        """Outline what pixel (y, x) of ``layer``'s maps sees; a layer without a field
        (no shape, or unknown) clears the outline and says why."""
        field = self.fields(graph, analysis).get(layer)
        if field is None:
            self.clear(f"{layer} has no receptive field to show (its shape is not known).")
            return
        top, left, bottom, right = self.region = input_region(field, y, x)
        if bottom <= top or right <= left:
            self.outline.setVisible(False)
            text = f"{layer} pixel ({y}, {x}) lies in padding: it sees none of the sample."
        else:
            self.outline.setRect(QRectF(left, top, right - left, bottom - top))
            self.outline.setVisible(True)
            text = (f"{layer} pixel ({y}, {x}) sees rows {top}–{bottom - 1}, columns {left}–{right - 1} "
                    f"({bottom - top}×{right - left} px of the {field.height.extent}×{field.width.extent} "
                    "sample)")
        self.caption.setText(text)
        self.setToolTip(text)

    def clear(self, text: str = HINT) -> None:
        self.region = None
        self.outline.setVisible(False)
        self.caption.setText(text)
        self.setToolTip("")


def attach(view) -> None:
    """Wire the feature viewer's hovers and samples to its overlay (view.field_overlay)."""
    overlay: FieldOverlay = view.field_overlay

    def hovered(layer: str, _channel: int, y: int, x: int) -> None:
        controller = view.controller
        overlay.show_pixel(controller.document.graph, controller.network_analysis, layer, y, x)

    view.grid.pixel_hovered.connect(hovered)
    view.detail.pixel_hovered.connect(hovered)
    view.state.sample_changed.connect(lambda sample: overlay.set_sample(sample.display()))
