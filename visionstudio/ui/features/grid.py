"""ActivationGrid: each shown layer's channels as one mosaic ImageItem; dense layers as bars.

Items are kept per layer and fed with ``setImage`` / ``setOpts`` on every update; the
layout is rebuilt only when the set of shown layers changes. Each ViewBox zooms (wheel)
and pans (drag); clicking a tile emits ``channel_clicked(layer, channel)``.

Each map keeps at least ``MIN_MAP_HEIGHT`` pixels: with many layers (a ResNet-50 has 53
conv layers) the grid grows taller than its window and the view wraps it in a scroll
area, instead of squeezing every map to nothing under its title. Per-channel statistics
are read only on hover, so a draw never pays for 26,000 channels' numbers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from visionstudio.ui.features.mosaic import Tiles, activation_tiles
from visionstudio.ui.plots.grid import add_grid

DEFAULT_COLORMAP = "viridis"
COLORMAPS = ("viridis", "inferno", "magma", "plasma", "cividis", "turbo", "CET-L1", "CET-D1")


def colormap(name: str) -> pg.ColorMap:
    if name == "gray":
        return pg.ColorMap([0.0, 1.0], [(0, 0, 0), (255, 255, 255)])
    return pg.colormap.get(name)


GRID_BACKGROUND, GRID_TEXT = "#1e1f22", "#d0d0d0"
MIN_MAP_HEIGHT = 160        # pixels per layer's map or bar plot when the grid must scroll


class _LayerView:
    """One layer: title + (ViewBox with a mosaic ImageItem) or (PlotItem with bars)."""

    def __init__(self, layout: pg.GraphicsLayout, row: int, name: str, dense: bool) -> None:
        self.name, self.dense = name, dense
        # the grid stays dark in both themes (theme.KEEP_BACKGROUND): light text, not the
        # theme's foreground, which is dark in the light theme
        self.title = layout.addLabel(name, row=2 * row, col=0, justify="left", color=GRID_TEXT)
        self._title_text = name
        self.tiles: Tiles | None = None
        self.array: np.ndarray | None = None
        self.activation = None
        if dense:
            self.plot = layout.addPlot(row=2 * row + 1, col=0)
            self.plot.setMenuEnabled(False)
            add_grid(self.plot, y=True, alpha=0.3)
            self.plot.setLabel("bottom", "unit")
            for axis in ("left", "bottom"):
                self.plot.getAxis(axis).setPen(GRID_TEXT)
                self.plot.getAxis(axis).setTextPen(GRID_TEXT)
            self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=pg.mkBrush("#4c9be8"))
            self.plot.addItem(self.bars)
            self.view = self.plot.getViewBox()
            self.plot.setMinimumHeight(MIN_MAP_HEIGHT)
            self.image = None
            self.mark = None
        else:
            self.view = layout.addViewBox(row=2 * row + 1, col=0, lockAspect=True, invertY=True,
                                          enableMenu=False)
            self.view.setMinimumHeight(MIN_MAP_HEIGHT)
            self.image = pg.ImageItem(axisOrder="row-major")
            self.image.setOpts(nanPolicy="omit")
            self.view.addItem(self.image)
            self.mark = QGraphicsRectItem()
            pen = QPen(QColor("#ff4040"))
            pen.setWidthF(0)
            pen.setCosmetic(True)
            pen.setWidth(2)
            self.mark.setPen(pen)
            self.mark.setVisible(False)
            self.mark.setZValue(10)
            self.view.addItem(self.mark)
            self.bars = None
        self._range_key = None

    @property
    def stats(self) -> tuple:
        """Per-channel statistics of the shown activation (computed on first use)."""
        return self.activation.stats if self.activation is not None else ()

    def set_title(self, text: str) -> None:
        if text != self._title_text:          # LabelItem.setText re-lays out: ~1.5 ms each
            self._title_text = text
            self.title.setText(text)

    def update(self, activation, per_channel: bool, cmap: pg.ColorMap) -> None:
        self.array, self.activation = activation.array, activation
        if self.dense:
            values = activation.array.reshape(-1)
            self.bars.setOpts(x=np.arange(len(values)), height=values, width=0.8)
            key = len(values)
            if key != self._range_key:
                self.plot.enableAutoRange()
                self._range_key = key
            return
        cols = self.tiles.cols if self.tiles is not None and len(self.tiles.rects) == len(self.array) \
            and self.tiles.rects[0][2:] == tuple(self.array.shape[1:])[::-1] else None
        self.tiles = activation_tiles(self.array, per_channel, cols)
        self.image.setColorMap(cmap)
        self.image.setImage(self.tiles.image, levels=(0.0, 1.0), autoLevels=False)
        key = self.tiles.image.shape
        if key != self._range_key:
            self.view.autoRange(padding=0.02)
            self._range_key = key

    def set_colormap(self, cmap: pg.ColorMap) -> None:
        if self.image is not None:
            self.image.setColorMap(cmap)

    def channel_at(self, scene_pos) -> int | None:
        if self.tiles is None or not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.view.mapSceneToView(scene_pos)
        return self.tiles.tile_at(p.x(), p.y())

    def mark_channel(self, channel: int | None) -> None:
        if self.mark is None:
            return
        if channel is None or self.tiles is None or channel >= len(self.tiles.rects):
            self.mark.setVisible(False)
            return
        x, y, w, h = self.tiles.rects[channel]
        self.mark.setRect(QRectF(x - 0.5, y - 0.5, w + 1, h + 1))
        self.mark.setVisible(True)


class ActivationGrid(pg.GraphicsLayoutWidget):
    channel_clicked = Signal(str, int)
    hovered = Signal(str)                 # "conv1 · channel 5: min … " for the status line
    pixel_hovered = Signal(str, int, int, int)  # layer, channel, row, column of the map

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("activationGrid")
        self.setBackground(GRID_BACKGROUND)
        self.layers: dict[str, _LayerView] = {}
        self._signature: tuple = ()
        self.per_channel = True
        self.cmap_name = DEFAULT_COLORMAP
        self._cmap = colormap(DEFAULT_COLORMAP)
        self.selected: tuple[str, int] | None = None
        self.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._hover = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30, slot=self._on_moved)

    # -- content -------------------------------------------------------------------------------
    def show_activations(self, activations: dict, order: list[str],
                         titles: dict[str, str] | None = None) -> None:
        """Draw ``order``'s layers from ``activations`` (reusing items where the layers match)."""
        shown = [n for n in order if n in activations]
        signature = tuple((n, activations[n].array.ndim != 3) for n in shown)
        if signature != self._signature:
            self.ci.clear()
            self.layers = {}
            for row, (name, dense) in enumerate(signature):
                self.layers[name] = _LayerView(self.ci, row, name, dense)
            self._signature = signature
            self._fit_height()
        for name in shown:
            view = self.layers[name]
            act = activations[name]
            view.update(act, self.per_channel, self._cmap)
            shape = "×".join(str(d) for d in act.array.shape)
            title = f"<b>{name}</b>  {shape}"
            if act.array.ndim == 3:
                flat = len(view.tiles.flat)
                if flat:
                    title += (f"  <span style='color:#9aa0a6'>· {flat} of {act.array.shape[0]} "
                              f"channels flat for this sample (left blank)</span>")
            view.set_title((titles or {}).get(name, title))
        if self.selected is not None:
            layer, ch = self.selected
            if layer in self.layers:
                self.layers[layer].mark_channel(ch)

    def _fit_height(self) -> None:
        """At least the layout's minimum height (titles + MIN_MAP_HEIGHT per map), so the
        scroll area around the grid scrolls rather than the maps collapsing."""
        hint = self.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).height()
        self.setMinimumHeight(int(hint) + 2 * self.frameWidth() if self.layers else 0)

    def clear_layers(self) -> None:
        self.ci.clear()
        self.layers = {}
        self._signature = ()
        self._fit_height()

    def image_count(self, layer: str) -> int:
        """How many channel images the layer's mosaic holds (bars: one per unit)."""
        view = self.layers[layer]
        if view.dense:
            return int(view.array.size)
        return len(view.tiles.rects) if view.tiles is not None else 0

    def set_per_channel(self, on: bool) -> None:
        self.per_channel = bool(on)

    def set_colormap(self, name: str) -> None:
        self.cmap_name = name
        self._cmap = colormap(name)
        for view in self.layers.values():
            view.set_colormap(self._cmap)

    def select(self, layer: str, channel: int | None) -> None:
        for name, view in self.layers.items():
            view.mark_channel(channel if name == layer else None)
        self.selected = (layer, channel) if channel is not None else None

    # -- mouse ---------------------------------------------------------------------------------
    def _hit(self, scene_pos):
        for name, view in self.layers.items():
            if view.dense:
                continue
            ch = view.channel_at(scene_pos)
            if ch is not None:
                return name, ch
        return None

    def _on_scene_clicked(self, event) -> None:
        hit = self._hit(event.scenePos())
        if hit is not None:
            self.select(*hit)
            self.channel_clicked.emit(*hit)

    def _on_moved(self, args) -> None:
        hit = self._hit(args[0])
        if hit is None:
            return
        name, ch = hit
        lv = self.layers[name]
        p, (tx, ty, _w, _h) = lv.view.mapSceneToView(args[0]), lv.tiles.rects[ch]
        self.pixel_hovered.emit(name, ch, int(p.y() - ty), int(p.x() - tx))
        st = lv.stats[ch]
        self.hovered.emit(f"{name} · channel {ch}: min {st.minimum:.3g}  max {st.maximum:.3g}  "
                          f"mean {st.mean:.3g}  zeros {st.zero_fraction:.0%}")
