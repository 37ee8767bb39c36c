"""The Filters tab: a conv layer's kernels as a grid of tiles big enough to read.

Kernels are a few pixels wide (3×3, 5×5), so each is drawn blown up by a whole number
with no smoothing, as blocks of colour. When a filter is one tile (one input channel,
or three drawn in colour) the columns follow the room the panel has; with more input
channels each filter is a row of kernels. Tiles never shrink below ``MIN_TILE_PX``
(past that the grid scrolls) nor grow past ``MAX_TILE_PX``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from visionstudio.ui.features.mosaic import (
    MAX_FILTER_INPUTS,
    Tiles,
    filter_grid_shape,
    filter_tiles,
    fit_columns,
)

MIN_TILE_PX = 24          # below this a 3×3 kernel's pixels cannot be told apart
BACKGROUND = QColor("#20242a")
PAD = 1                   # kernel pixels between tiles when choosing columns
GAP_PX = 6                # screen pixels between tiles
MAX_TILE_PX = 96          # larger tiles show nothing more and push the grid apart


class ElidedLabel(QLabel):
    """One line of plain text; when the label is narrower than the text it ends in "…"
    and the whole text moves to the tooltip."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def is_elided(self) -> bool:
        return self.text() != self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(40, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                              max(self.width(), 1))
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


def colour_mosaic(tiles: Tiles, rgb: bool) -> np.ndarray:
    """The mosaic as H×W×3 uint8: colour kernels as they are, grey ones through a
    diverging map (blue < 0 < red); NaN padding in the background colour."""
    image = tiles.image
    gap = np.isnan(image) if image.ndim == 2 else np.isnan(image).any(axis=-1)
    if rgb:
        out = (np.clip(np.nan_to_num(image), 0, 1) * 255).astype(np.uint8)
    else:
        lut = pg.colormap.get("CET-D1").getLookupTable(0.0, 1.0, 256, alpha=False)
        out = lut[(np.clip(np.nan_to_num(image, nan=0.5), 0, 1) * 255).astype(np.intp)]
    out[gap] = (BACKGROUND.red(), BACKGROUND.green(), BACKGROUND.blue())
    return np.ascontiguousarray(out, dtype=np.uint8)


class FilterGrid(QWidget):
    """The tiles painted ``scale`` screen pixels per kernel pixel (nearest neighbour),
    ``gap`` screen pixels apart."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("filterGrid")
        self._image: QImage | None = None
        self._array: np.ndarray | None = None
        self.tiles: Tiles | None = None
        self.scale, self.gap = 1, GAP_PX

    def set_mosaic(self, tiles: Tiles, rgb: np.ndarray, scale: int) -> None:
        self.tiles, self.scale = tiles, max(1, int(scale))
        self._array = rgb
        h, w = rgb.shape[:2]
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        rows = math.ceil(len(tiles.rects) / tiles.cols)
        _x, _y, tw, th = tiles.rects[0]
        self.setFixedSize(grid_extent(tiles.cols, tw, self.scale), grid_extent(rows, th, self.scale))
        self.update()

    def clear(self) -> None:
        self.tiles, self._image, self._array = None, None, None
        self.setFixedSize(0, 0)
        self.update()

    def tile_rect(self, i: int) -> QRect:
        """Tile ``i`` in this widget's pixels."""
        _x, _y, w, h = self.tiles.rects[i]
        col, row = i % self.tiles.cols, i // self.tiles.cols
        s = self.scale
        return QRect(col * (w * s + self.gap), row * (h * s + self.gap), w * s, h * s)

    def tile_at(self, x: int, y: int) -> int | None:
        """The tile under a point in this widget's pixels (None: a gap or nothing)."""
        if self.tiles is None:
            return None
        return next((i for i in range(len(self.tiles.rects)) if self.tile_rect(i).contains(x, y)), None)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._image is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for i, (x, y, w, h) in enumerate(self.tiles.rects):
            p.drawImage(self.tile_rect(i), self._image, QRect(x, y, w, h))
        p.end()


def grid_extent(count: int, kernel: int, scale: int) -> int:
    """Screen pixels taken by ``count`` tiles of ``kernel`` pixels in a row or column."""
    return count * kernel * scale + max(count - 1, 0) * GAP_PX


def fitting_scale(count: int, kernel: int, room: int) -> int:
    """The largest whole scale at which ``count`` tiles fit in ``room`` pixels."""
    return max(1, (room - max(count - 1, 0) * GAP_PX) // max(count * kernel, 1))


class FiltersView(QWidget):
    """A caption (layer, filter shape, colour key) above the filter grid."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("filtersView")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = ElidedLabel()
        self.caption.setObjectName("filterCaption")
        self.grid = FilterGrid()
        self.scroll = QScrollArea()
        self.scroll.setObjectName("filterGridScroll")
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setWidget(self.grid)
        self.scroll.setMinimumSize(60, 40)
        self.scroll.installEventFilter(self)
        self.top = QHBoxLayout()          # the tab puts its layer picker before the caption
        self.top.addWidget(self.caption, 1)
        lay.addLayout(self.top)
        lay.addWidget(self.scroll, 1)
        self.weights: np.ndarray | None = None
        self.tiles: Tiles | None = None

    def show_filters(self, layer: str, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights)
        out_c, in_c, kh, kw = self.weights.shape
        cut = f" (first {MAX_FILTER_INPUTS} of {in_c} inputs)" if in_c > MAX_FILTER_INPUTS else ""
        how = ("RGB kernels, one tile per filter" if in_c == 3 else
               "blue < 0 < red" if in_c == 1 else f"a row per filter{cut}; blue < 0 < red")
        self.caption.set_full_text(f"{layer}: {out_c} filters of {in_c}×{kh}×{kw} · {how}")
        self._layout()

    def clear(self, text: str = "") -> None:
        self.weights, self.tiles = None, None
        self.grid.clear()
        self.caption.set_full_text(text)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        # the scroll area's own size (not its viewport's, which scroll bars change)
        if watched is self.scroll and event.type() == QEvent.Type.Resize and self.weights is not None:
            self._layout()
        return super().eventFilter(watched, event)

    def _room(self) -> tuple[int, int]:
        r = self.scroll.contentsRect()
        return max(r.width(), 1), max(r.height(), 1)

    def _layout(self) -> None:
        """Tile the kernels for the room there is and paint them as large as fits."""
        out_c, in_c, kh, kw = self.weights.shape
        width, height = self._room()
        min_scale = math.ceil(MIN_TILE_PX / max(kh, kw))
        fixed = filter_grid_shape(out_c, in_c)
        if fixed is None:
            cols = fit_columns(out_c, kh, kw, width, height, PAD, largest=MAX_TILE_PX / max(kh, kw))
            if _scale_for(out_c, cols, kh, kw, width, height) < min_scale:
                bar = self.scroll.verticalScrollBar().sizeHint().width()
                cols = max(1, min(out_c, (width - bar + GAP_PX) // (min_scale * kw + GAP_PX)))
        else:
            cols = fixed[1]
        tiles, rgb = filter_tiles(self.weights, cols)
        self.tiles = tiles
        fitted = _scale_for(len(tiles.rects), cols, kh, kw, width, height)
        scale = max(min_scale, min(fitted, MAX_TILE_PX // max(kh, kw)))
        self.grid.set_mosaic(tiles, colour_mosaic(tiles, rgb), scale)


def _scale_for(n: int, cols: int, kh: int, kw: int, width: int, height: int) -> int:
    rows = math.ceil(n / cols)
    return min(fitting_scale(cols, kw, width), fitting_scale(rows, kh, height))
