"""Grid lines at the axes' ticks, drawn straight in the view's paint.

pyqtgraph's ``PlotItem.showGrid`` makes each axis draw its grid lines: the lines are
recorded in the axis's QPicture, whose bounds then cover the whole plot. Played back, each
recorded line is a polygon for the raster engine, and a polygon as tall as the plot is
filled in parallel on Qt's GUI thread pool: about 700 pool wake-ups per frame of one plot
(measured: ``benchmarks/plot_grid.py``), each one taking a core from training
for a moment (the "Thread (pooled)" wake-ups in docs/training-in-the-app.md). Here the same
lines, at the same tick values and with the same fading alpha per tick level, are drawn
with ``QPainter.drawLines`` and a cosmetic pen, which the raster engine strokes on the
calling thread: a dozen wake-ups per frame, and cheaper on the GUI thread too.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF
from PySide6.QtGui import QColor, QPen

__all__ = ["TickGrid", "add_grid"]


def _clip(value: float) -> float:
    return 0.0 if value < 0 else 1.0 if value > 1 else value


class TickGrid(pg.GraphicsObject):
    """The grid of one plot: lines across the view at its bottom and left axes' ticks."""

    def __init__(self, plot: pg.PlotItem, x: bool, y: bool, alpha: float) -> None:
        super().__init__()
        self.plot, self.view = plot, plot.getViewBox()
        self.x, self.y, self.alpha = x, y, _clip(alpha)
        self.setZValue(-1000)                 # under every curve, like the axes' grid
        self._tick_cache: dict[tuple, list[list[float]]] = {}
        self._lines_key: tuple | None = None           # the lines of the last paint
        self._lines_drawn: list[tuple[QPen, list[QLineF]]] = []
        self.view.sigRangeChanged.connect(self._moved)
        self.view.sigResized.connect(self._moved)

    def _moved(self, *_args) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self.view.viewRect()

    def _levels(self, axis: pg.AxisItem, low: float, high: float, pixels: float) -> list[list[float]]:
        if axis._tickLevels is not None:  # set with setTicks: the axis draws these
            return [[value for value, _text in level] for level in axis._tickLevels]
        # the plot repaints for every new point, its range changes far less often: the
        # ticks of the last range are kept (pyqtgraph's tickValues is the dear part)
        key = (id(axis), low, high, pixels, axis.logMode, str(axis._tickSpacing))
        cached = self._tick_cache.get(key)
        if cached is None:
            cached = [list(values) for _spacing, values in axis.tickValues(low, high, pixels)]
            if len(self._tick_cache) >= 4:
                self._tick_cache.clear()
            self._tick_cache[key] = cached
        return cached

    def _lines(self, name: str, rect: QRectF, pixels: float) -> list[tuple[QPen, list[QLineF]]]:
        axis = self.plot.getAxis(name)
        vertical = name == "bottom"
        low, high = (rect.left(), rect.right()) if vertical else (rect.top(), rect.bottom())
        low, high = min(low, high), max(low, high)
        out = []
        base = QColor(axis.tickPen().color())
        for i, values in enumerate(self._levels(axis, low, high, pixels)):
            # pyqtgraph's own fading: finer levels and denser ticks draw fainter
            fade = 255 / (i + 1) * self.alpha * _clip(0.05 * pixels / (len(values) + 1))
            color = QColor(base)
            color.setAlpha(int(fade))
            pen = QPen(color)
            pen.setCosmetic(True)
            pen.setWidth(0)
            inside = [v for v in values if low <= v <= high]
            if vertical:
                lines = [QLineF(v, rect.top(), v, rect.bottom()) for v in inside]
            else:
                lines = [QLineF(rect.left(), v, rect.right(), v) for v in inside]
            if lines and fade >= 1:
                out.append((pen, lines))
        return out

    def paint(self, painter, *_args) -> None:
        rect = self.view.viewRect()
        if rect.width() <= 0 or rect.height() <= 0:
            return
        size = self.view.size()
        # while a run trains the plot repaints for new points far more often than its
        # range moves: the lines of the last range are kept (building them was two thirds
        # of the grid's paint, measured in the app while training)
        key = (rect.getRect(), size.width(), size.height(), self.x, self.y, self.alpha) + tuple(
            (axis.logMode, str(axis._tickSpacing), id(axis._tickLevels), axis.tickPen().color().rgba())
            for axis in (self.plot.getAxis("bottom"), self.plot.getAxis("left")))
        if key != self._lines_key:
            parts = []
            if self.x:
                parts += self._lines("bottom", rect, float(size.width()))
            if self.y:
                parts += self._lines("left", rect, float(size.height()))
            self._lines_key, self._lines_drawn = key, parts
        for pen, lines in self._lines_drawn:
            painter.setPen(pen)
            painter.drawLines(lines)


def add_grid(plot: pg.PlotItem, *, x: bool = False, y: bool = False, alpha: float = 0.25) -> TickGrid:
    """A grid for ``plot`` in place of ``plot.showGrid(x=..., y=..., alpha=...)``."""
    grid = TickGrid(plot, x, y, alpha)
    plot.addItem(grid, ignoreBounds=True)
    return grid
