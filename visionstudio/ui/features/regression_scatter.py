"""RegressionScatter: predicted against true values of one target, with the y = x line and
R² in the title.

Fed live by the training's ValidationRecords (``record.scatter``: per target, the true and
predicted values of up to 1,000 validation images, plain tuples from the worker) through
the run controller's ``validation`` signal — the newest epoch replaces the points — or by
an evaluation's arrays (``show_values``). R² is the record's ``r2/<target>`` when it has
one (the whole validation set), else computed from the points shown.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from visionstudio.ui.plots.grid import add_grid


def r_squared(true: np.ndarray, predicted: np.ndarray) -> float:
    """1 − SSE / SST (SST about the true values' mean); 0 when the truth does not vary."""
    true, predicted = np.asarray(true, float), np.asarray(predicted, float)
    sst = float(((true - true.mean()) ** 2).sum()) if len(true) else 0.0
    return 1.0 - float(((predicted - true) ** 2).sum()) / sst if sst > 1e-12 else 0.0


class RegressionScatter(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("regressionScatter")
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("scatterTarget")
        self.target_combo.setToolTip("The target whose predicted and true values are plotted")
        self.target_combo.setAccessibleName("Scatter target")
        self.caption = QLabel("Train a regression run to see its predictions against the truth, "
                              "epoch by epoch.")
        self.caption.setObjectName("scatterCaption")
        self.caption.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("scatterPlot")
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumSize(220, 180)
        add_grid(self.plot.getPlotItem(), x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "true")
        self.plot.setLabel("left", "predicted")
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen(None), brush=pg.mkBrush(76, 155, 232, 150))
        self.plot.addItem(self.points)
        self.diagonal = pg.InfiniteLine(pos=(0, 0), angle=45, pen=pg.mkPen("#ff9f1c", width=1,
                                                                           style=pg.QtCore.Qt.PenStyle.DashLine))
        self.plot.addItem(self.diagonal)
        top = QHBoxLayout()
        top.addWidget(QLabel("Target:"))
        top.addWidget(self.target_combo)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot, 1)
        self.series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.r2: dict[str, float] = {}
        self.epoch: int | None = None
        self.source = ""
        self.target_combo.currentIndexChanged.connect(lambda _i: self._redraw())

    # -- feeding ---------------------------------------------------------------------------------
    def add_record(self, record) -> None:
        """A ValidationRecord: its scatter replaces what is shown (nothing when it has none)."""
        scatter = getattr(record, "scatter", ())
        if not scatter:
            return
        metrics = dict(getattr(record, "metrics", ()))
        series = {name: (np.asarray(true, float), np.asarray(pred, float)) for name, true, pred in scatter}
        r2 = {name: float(metrics[f"r2/{name}"]) for name in series if f"r2/{name}" in metrics}
        self._set(series, r2, f"epoch {record.epoch}", int(record.epoch))

    def show_values(self, names, true: np.ndarray, predicted: np.ndarray, source: str = "evaluation") -> None:
        """An evaluation's (N, T) true and predicted values."""
        series = {n: (np.asarray(true)[:, i], np.asarray(predicted)[:, i]) for i, n in enumerate(names)}
        self._set(series, {}, source, None)

    def clear(self) -> None:
        self.series, self.r2, self.epoch = {}, {}, None
        self.points.setData([], [])
        self.plot.setTitle("")

    def _set(self, series, r2, source: str, epoch: int | None) -> None:
        names = list(series)
        if names != [self.target_combo.itemText(i) for i in range(self.target_combo.count())]:
            keep = self.target_combo.currentText()
            self.target_combo.blockSignals(True)
            self.target_combo.clear()
            self.target_combo.addItems(names)
            self.target_combo.setCurrentIndex(max(self.target_combo.findText(keep), 0))
            self.target_combo.blockSignals(False)
        self.series, self.r2, self.source, self.epoch = series, r2, source, epoch
        self._redraw()

    # -- drawing ---------------------------------------------------------------------------------
    def current(self) -> tuple[str, np.ndarray, np.ndarray] | None:
        name = self.target_combo.currentText()
        if name not in self.series:
            return None
        return (name, *self.series[name])

    def point_count(self) -> int:
        return len(self.points.data)

    def r2_of(self, name: str) -> float:
        true, pred = self.series[name]
        return self.r2.get(name, r_squared(true, pred))

    def _redraw(self) -> None:
        shown = self.current()
        if shown is None:
            self.clear()
            return
        name, true, pred = shown
        self.points.setData(true, pred)
        r2 = self.r2_of(name)
        self.plot.setTitle(f"{name}: R² {r2:.3f} ({self.source})")
        self.caption.setText(f"{len(true):,} validation images; on the dashed line the prediction is "
                             f"exact.")
        if len(true):
            lo = float(min(true.min(), pred.min()))
            hi = float(max(true.max(), pred.max()))
            pad = (hi - lo) * 0.05 or 1.0
            self.plot.setRange(xRange=(lo - pad, hi + pad), yRange=(lo - pad, hi + pad), padding=0)
