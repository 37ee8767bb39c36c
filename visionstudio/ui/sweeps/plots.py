"""The sweep's two charts: parallel coordinates (one polyline per trial) and parameter
importance (one bar per parameter).

Parallel coordinates put each swept parameter on a vertical axis scaled 0..1 over its
range (log10 for a log range, the choices evenly spaced for a categorical one, their
names as ticks), then the objective metric over the values seen (on a log scale when
they span more than ten times, so one blown-up trial does not flatten the rest). Each trial is one line
coloured by its metric's rank (viridis, whichever the direction: on a dark plot yellow the
best, on a light one dark blue, so the best lines stand out; by rank, so one blown-up trial
does not paint all the others alike); a trial with no value yet
(running, failed) is a grey dashed line that stops at the last parameter. pyqtgraph draws
both; a sweep of a few hundred trials is a few hundred items, cheap to redraw when a
trial ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from visionstudio.ui.plots.style import GREY, pen
from visionstudio.ui.sweeps.table import format_number

CMAP = pg.colormap.get("viridis")


def _theme() -> tuple[str, Any, bool]:
    """The text colour, a translucent label backing and whether the plot is dark, read
    from pyqtgraph's options when drawing (the app's theme sets them)."""
    bg = pg.mkColor(pg.getConfigOption("background"))
    fg = pg.mkColor(pg.getConfigOption("foreground"))
    backing = pg.mkColor(bg)
    backing.setAlpha(150)
    return fg.name(), pg.mkBrush(backing), bg.lightness() < 128


@dataclass(frozen=True)
class Axis:
    """One vertical axis: a swept parameter's range, plain data for the plot."""

    path: str
    title: str
    kind: str                     # "float" | "int" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def position(self, value: Any) -> float:
        """``value`` on this axis, 0..1 (NaN when it is not on it)."""
        if self.kind == "choice":
            if value not in self.choices:
                return math.nan
            return 0.5 if len(self.choices) == 1 else self.choices.index(value) / (len(self.choices) - 1)
        if not isinstance(value, (int, float)) or self.low is None or self.high is None:
            return math.nan
        lo, hi, v = float(self.low), float(self.high), float(value)
        if self.log and lo > 0 and hi > 0 and v > 0:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(v)
        return 0.5 if hi == lo else (v - lo) / (hi - lo)

    def ticks(self) -> list[tuple[float, str]]:
        """(position, label) pairs drawn beside the axis."""
        if self.kind == "choice":
            return [(self.position(c), str(c)) for c in self.choices]
        if self.low is None or self.high is None:
            return []
        if self.log and self.low > 0 and self.high > 0:
            mid = math.sqrt(self.low * self.high)
        else:
            mid = (self.low + self.high) / 2
        mid = round(mid) if self.kind == "int" else mid
        return [(self.position(v), format_number(v)) for v in (self.low, mid, self.high)]


def _plot(title: str, name: str) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    widget.setObjectName(name)
    widget.setAccessibleName(title)
    widget.setToolTip(title)
    widget.setMenuEnabled(False)
    widget.setMinimumSize(130, 110)
    item = widget.getPlotItem()
    item.hideButtons()
    item.setMouseEnabled(x=False, y=False)
    return widget


class ParallelCoordinates(QWidget):
    """``show_trials(axes, rows, metric)`` redraws; ``trial_items`` holds one line per trial."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepParallelCoordinates")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = _plot("Parallel coordinates: one line per trial", "sweepParallelPlot")
        self.plot.getPlotItem().hideAxis("left")
        self.plot.getPlotItem().hideAxis("bottom")
        layout.addWidget(self.plot, 1)
        self.note = QLabel("Each trial is a line across its settings and the metric.")
        self.note.setObjectName("sweepParallelNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.trial_items: list[pg.PlotDataItem] = []
        self.titles: list[pg.TextItem] = []   # the axes' names, above them

    def show_trials(self, axes: Sequence[Axis], rows: Sequence[Any], metric: str,
                    minimize: bool = True) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.trial_items, self.titles = [], []
        values = [r.value for r in rows if r.value is not None and math.isfinite(r.value)]
        lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
        metric_axis = Axis(metric, metric, "float", lo, hi, log=lo > 0 and hi > 10 * lo)   # an outlier
        columns = [*axes, metric_axis]
        text_color, backing, dark = _theme()
        for x, axis in enumerate(columns):
            item.addItem(pg.InfiniteLine(pos=x, angle=90, pen=pen(GREY, 1.0)))
            owner, _, name = axis.title.rpartition(": ")   # "conv3: filters" on two lines
            lines = f"{escape(owner)}<br>{escape(name)}" if owner else escape(name)
            title = pg.TextItem(html=f"<div style='text-align:center; color:{text_color}'>{lines}</div>",
                                anchor=(0.5, 0))
            title.setPos(x, 1.25)   # hanging down from the top edge
            item.addItem(title)
            self.titles.append(title)
            for y, text in axis.ticks() if values or axis is not metric_axis else ():
                label = pg.TextItem(text, color=GREY, anchor=(0, 0.5), fill=backing)
                label.setPos(x + 0.03, y)
                item.addItem(label)
        xs = np.arange(len(columns), dtype=float)
        order = sorted(set(values), reverse=minimize)   # worst first: rank 0

        def drawn_before(r: Any) -> tuple:   # the best lines last, on top
            return (r.value in order, order.index(r.value) if r.value in order else 0, r.number)

        for row in sorted(rows, key=drawn_before):
            ys = np.array([a.position(row.params.get(a.path)) for a in axes]
                          + [metric_axis.position(row.value) if row.value is not None else math.nan])
            if row.value is None or not math.isfinite(row.value):
                line_pen = pen(GREY, 1.2, 160, Qt.PenStyle.DashLine)
            else:
                share = order.index(row.value) / (len(order) - 1) if len(order) > 1 else 1.0
                share = share if dark else 1.0 - share   # the best stands out: yellow on dark
                line_pen = pg.mkPen(CMAP.map(share, mode="qcolor"), width=2)
            line = pg.PlotDataItem(xs, ys, pen=line_pen, connect="finite", name=f"trial {row.number}")
            line.setToolTip(f"Trial {row.number}: {metric} "
                            + ("—" if row.value is None else format_number(row.value)))
            item.addItem(line)
            self.trial_items.append(line)
        item.setXRange(-0.45, max(0.8, len(columns) - 0.4), padding=0)
        item.setYRange(-0.06, 1.26, padding=0)
        ends = ("yellow", "dark blue") if dark else ("dark blue", "yellow")
        self.note.setText(f"Colour: rank by {metric}, {ends[0]} the best, {ends[1]} the worst; "
                          "dashed: no value."
                          if rows else "Each trial is a line across its settings and the metric.")


class ImportanceChart(QWidget):
    """``show_importance({path: share})``: one horizontal bar per parameter, the most
    important on top; ``bar_items`` holds them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepImportance")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = _plot("Parameter importance: how much of the metric's variation each "
                          "setting explains", "sweepImportancePlot")
        layout.addWidget(self.plot, 1)
        self.note = QLabel("Importance needs a few finished trials.")
        self.note.setObjectName("sweepImportanceNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.bar_items: list[pg.BarGraphItem] = []

    def show_importance(self, importance: dict[str, float], titles: dict[str, str],
                        note: str = "") -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.bar_items = []
        ordered = sorted(importance.items(), key=lambda kv: kv[1])   # the largest on top
        for y, (path, share) in enumerate(ordered):
            bar = pg.BarGraphItem(x0=[0.0], y=[float(y)], height=[0.6], width=[float(share)],
                                  brush=pg.mkBrush("#1e88e5"), pen=pg.mkPen(None))
            bar.setToolTip(f"{titles.get(path, path)}: {share:.0%}")
            item.addItem(bar)
            self.bar_items.append(bar)
        item.getAxis("left").setTicks([[(y, titles.get(p, p)) for y, (p, _s) in enumerate(ordered)]])
        item.setXRange(0, max([1.0, *(s for _p, s in ordered)]) if ordered else 1.0, padding=0.02)
        item.setYRange(-0.6, max(0.6, len(ordered) - 0.4), padding=0)
        explained = "Share of the metric's variation each setting explains (Optuna's importance)."
        self.note.setText(note or (explained if ordered else "Importance needs a few finished trials."))
