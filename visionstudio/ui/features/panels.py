"""The smaller views of the feature-map viewer: a channel large, prediction bars, the
Grad-CAM overlay (the filters have their own module). Each takes plain arrays; none knows about the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from visionstudio.ui.features.fitted import FittedPlot
from visionstudio.ui.features.mosaic import normalise
from visionstudio.ui.plots.grid import add_grid


def sample_pixmap(display: np.ndarray, size: int = 96) -> QPixmap:
    """H×W or H×W×3 uint8 -> a pixmap scaled (nearest) to ``size`` pixels high."""
    arr = np.ascontiguousarray(display)
    h, w = arr.shape[:2]
    if arr.ndim == 2:
        img = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        img = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(img).scaledToHeight(size, Qt.TransformationMode.FastTransformation)


def describe_sample(sample, class_names: list[str], probs) -> str:
    """One line about the shown sample: where from, its true and its predicted class."""
    if sample is None:
        return ""
    names = class_names
    parts = [f"<b>{sample.source if sample.index is not None else Path(sample.source).name}</b>"]
    if sample.label is not None and sample.label < len(names):
        parts.append(f"true: {names[sample.label]}")
    if probs is not None and len(probs):
        p = int(np.argmax(probs))
        name = names[p] if p < len(names) else str(p)
        mark = "" if sample.label is None else (" ✓" if p == sample.label else " ✗")
        parts.append(f"predicted: {name} ({probs[p]:.0%}){mark}")
    if sample.note:
        parts.append(f"converted: {sample.note}")
    return " · ".join(parts)


def save_activations(arrays: dict[str, np.ndarray], path: Path) -> list[Path]:
    """One layer: ``path`` itself; several: ``<stem>_<layer>.npy`` beside it."""
    if len(arrays) == 1:
        np.save(path, next(iter(arrays.values())))
        return [path]
    out = []
    for name, array in arrays.items():
        q = path.with_name(f"{path.stem}_{name}.npy")
        np.save(q, array)
        out.append(q)
    return out


def image_view(parent=None) -> tuple[pg.PlotWidget, pg.ImageItem]:
    """A zoomable, pannable image with pixel axes (y down)."""
    plot = pg.PlotWidget(parent)
    plot.setMenuEnabled(False)
    plot.setAspectLocked(True)
    plot.invertY(True)
    item = pg.ImageItem(axisOrder="row-major")
    plot.addItem(item)
    return plot, item


class ChannelDetail(QWidget):
    """One channel large (zoom and pan), with its index and statistics."""

    pixel_hovered = Signal(str, int, int, int)  # layer, channel, row, column

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("channelDetail")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Click a channel to see it large")
        self.title.setWordWrap(True)
        self.plot, self.image = image_view(self)
        self.stats = QLabel("")
        self.stats.setObjectName("channelStats")
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.title)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.stats)
        self.current: tuple[str, int] | None = None
        self.plot.scene().sigMouseMoved.connect(self._on_moved)

    def _on_moved(self, scene_pos) -> None:
        """A hovered pixel of the shown channel (pixel_hovered, for its receptive field)."""
        plane = self.image.image
        if self.current is None or plane is None:
            return
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        y, x = int(np.floor(p.y())), int(np.floor(p.x()))
        if 0 <= y < plane.shape[0] and 0 <= x < plane.shape[1]:
            self.pixel_hovered.emit(*self.current, y, x)

    def show_channel(self, layer: str, channel: int, activation, cmap: pg.ColorMap) -> None:
        arr = activation.array
        if arr.ndim != 3 or channel >= arr.shape[0]:
            return
        plane = arr[channel]
        st = activation.stats[channel]
        self.current = (layer, channel)
        self.title.setText(f"<b>{layer}</b> · channel {channel} of {arr.shape[0]}  "
                           f"({plane.shape[1]}×{plane.shape[0]})")
        self.image.setColorMap(cmap)
        lo, hi = float(plane.min()), float(plane.max())
        self.image.setImage(plane, levels=(lo, hi if hi > lo else lo + 1e-6), autoLevels=False)
        self.plot.autoRange(padding=0)
        self.stats.setText(f"min {st.minimum:.4g}   max {st.maximum:.4g}   mean {st.mean:.4g}   "
                           f"zeros {st.zero_fraction:.1%}")

    def clear(self) -> None:
        self.current = None
        self.image.clear()
        self.title.setText("Click a channel to see it large")
        self.stats.setText("")


class PredictionPlot(pg.PlotWidget):
    """Class probabilities as bars; the true class in orange with a ▼ marker above it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("predictionPlot")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        add_grid(self.getPlotItem(), y=True, alpha=0.3)
        self.setLabel("left", "probability")
        self.setYRange(0, 1.08, padding=0)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.7)
        self.addItem(self.bars)
        self.true_marker = pg.ScatterPlotItem(symbol="t", size=14, brush=pg.mkBrush("#ff9f1c"),
                                              pen=pg.mkPen(None))
        self.addItem(self.true_marker)
        self.legend_text = pg.TextItem(anchor=(1, 0), color="#dddddd")
        self.addItem(self.legend_text)
        self.probabilities: np.ndarray | None = None
        self.true_label: int | None = None

    def show_probabilities(self, probs: np.ndarray, names: list[str], true_label: int | None) -> None:
        probs = np.asarray(probs, dtype=float)
        self.probabilities, self.true_label = probs, true_label
        n = len(probs)
        names = list(names) + [str(i) for i in range(len(names), n)]
        pred = int(np.argmax(probs)) if n else -1
        brushes = []
        for i in range(n):
            color = "#ff9f1c" if i == true_label else ("#4c9be8" if i == pred else "#6b7785")
            brushes.append(pg.mkBrush(color))
        self.bars.setOpts(x=np.arange(n), height=probs, width=0.7, brushes=brushes)
        axis = self.getAxis("bottom")
        axis.setTicks([[(i, names[i]) for i in range(n)]])
        if true_label is not None and 0 <= true_label < n:
            self.true_marker.setData([true_label], [min(1.04, probs[true_label] + 0.04)])
        else:
            self.true_marker.setData([], [])
        self.setXRange(-0.6, n - 0.4, padding=0)
        text = f"predicted: {names[pred]} ({probs[pred]:.0%})" if n else ""
        if true_label is not None and 0 <= true_label < n:
            text += f"   true: {names[true_label]} ▼"
        self.legend_text.setText(text)
        self.legend_text.setPos(n - 0.5, 1.08)


def heat_lut(n: int = 256) -> np.ndarray:
    """Inferno colours whose alpha grows with the value: unimportant pixels stay see-through,
    so the sample shows where the heat-map is low."""
    colors = pg.colormap.get("inferno").getLookupTable(0.0, 1.0, n, alpha=True)
    ramp = np.clip(np.linspace(0.0, 1.0, n) * 1.6, 0, 1) ** 0.8
    colors[:, 3] = (ramp * 255).astype(np.ubyte)
    return colors


class OverlayView(QWidget):
    """The sample with a heat-map on top (Grad-CAM or saliency) and a chosen opacity,
    framed to the image: no axes, no empty range beside it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot, self.base = image_view()
        self.plot.setObjectName("camPlot")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setLookupTable(heat_lut())
        self.heat.setZValue(5)
        self.plot.addItem(self.heat)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("inferno"), width=12,
                                   interactive=False, label="importance")
        self.bar.setImageItem(self.heat, insert_in=self.plot.getPlotItem())
        self.heat.setLookupTable(heat_lut())   # the colour bar set its own opaque map
        self.frame = FittedPlot(self.plot, self)
        lay.addWidget(self.frame, 1)
        self.heatmap: np.ndarray | None = None

    def show_overlay(self, display: np.ndarray, heatmap: np.ndarray, opacity: float) -> None:
        self.base.setImage(display, levels=(0, 255), autoLevels=False)
        self.heatmap = heatmap
        self.heat.setImage(heatmap, levels=(0.0, 1.0), autoLevels=False)
        self.set_opacity(opacity)
        h, w = display.shape[:2]
        self.frame.set_extent(w, h)

    def set_opacity(self, opacity: float) -> None:
        self.heat.setOpacity(float(opacity))

    def clear(self) -> None:
        self.heatmap = None
        self.base.clear()
        self.heat.clear()


def shown_normalised(array: np.ndarray, per_channel: bool) -> np.ndarray:
    return normalise(array, per_channel)
