"""An image plot whose view box takes the image's shape, so it shows no empty margins.

A pyqtgraph view with a locked aspect fills the widget's shape and pads the image's
short side with empty range: in a wide dock a square sample sat in a band of blank
axes. ``FittedPlot`` sizes the plot widget itself so the view box has the image's
aspect and centres it in the room it has; the view range is then the image extent.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, QTimer
from PySide6.QtWidgets import QSizePolicy, QWidget


class FittedPlot(QWidget):
    """Holds ``plot`` (a pg.PlotWidget) at the aspect of the image extent it shows."""

    def __init__(self, plot: pg.PlotWidget, parent=None) -> None:
        super().__init__(parent)
        self.plot = plot
        plot.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(80, 60)
        self.extent: tuple[float, float] | None = None     # image width, height
        self.plot.getViewBox().sigResized.connect(self._on_view_resized)
        self._fitting = False

    def set_extent(self, width: float, height: float) -> None:
        """Show ``width`` × ``height`` image pixels, the whole image and nothing else."""
        self.extent = (float(width), float(height))
        self._fit()

    def reset_range(self) -> None:
        if self.extent is not None:
            w, h = self.extent
            self.plot.getViewBox().setRange(xRange=(0, w), yRange=(0, h), padding=0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, self._fit)    # once the plot has its shown size

    def _extras(self) -> tuple[int, int]:
        """What the plot spends around its view box: axes, colour bar, margins."""
        vb = self.plot.getViewBox().geometry()
        return (max(0, self.plot.width() - round(vb.width())),
                max(0, self.plot.height() - round(vb.height())))

    def _fit(self) -> None:
        """Place the plot; again while what it spends around its view box changes (the
        colour bar and the layout settle as the plot is resized), a few rounds at most."""
        if self._fitting:
            return
        self._fitting = True
        try:
            for _round in range(4):
                self._sync_scene()
                target = self._target()
                if target == self.plot.geometry():
                    break
                self.plot.setGeometry(target)
                self._sync_scene()
            self.reset_range()
        finally:
            self._fitting = False

    def _sync_scene(self) -> None:
        """A plot resized while hidden can keep its scene at an older size once shown (no
        resize event reaches pyqtgraph's handler): set the scene as that handler would."""
        size = self.plot.size()
        if self.plot.range.size().toSize() != size:
            # GraphicsView's own setRange: PlotWidget forwards setRange to its PlotItem
            pg.GraphicsView.setRange(self.plot, QRectF(0, 0, size.width(), size.height()),
                                     padding=0, disableAutoPixel=False)
            self.plot.updateMatrix()
        self.plot.getPlotItem().layout.activate()

    def _target(self) -> QRect:
        room = self.rect()
        if self.extent is None:
            return room
        w, h = self.extent
        dw, dh = self._extras()
        s = max(1e-6, min((room.width() - dw) / w, (room.height() - dh) / h))
        pw, ph = round(w * s) + dw, round(h * s) + dh
        return QRect((room.width() - pw) // 2, (room.height() - ph) // 2, pw, ph)

    def _on_view_resized(self, *_args) -> None:
        """The view box settles after its layout runs: fit again to its measured extras
        (later, when this comes in the middle of a fit)."""
        if self.extent is None:
            return
        if self._fitting:
            QTimer.singleShot(0, self._fit)
        else:
            self._fit()
