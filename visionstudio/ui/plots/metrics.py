"""MetricsPlots: the live dashboard (pyqtgraph).

Four plots share the step axis: loss (every batch, faint, plus its EMA and the
per-epoch train/validation loss), accuracy (per epoch, plus the running training
accuracy), learning rate and throughput. The widget never redraws per batch: a
QTimer (20 Hz) calls ``refresh`` which does nothing unless the run history's
``version`` moved, and then hands the history's numpy views to the same
PlotDataItems with ``setData``. Auto-downsampling ('peak') and clip-to-view keep a
run of a million batches at a few milliseconds a frame.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.plots.grid import add_grid
from visionstudio.ui.plots.lazy_menu import LazyMenuViewBox
from visionstudio.ui.plots.overlays import RunOverlays
from visionstudio.ui.plots.ranges import StickyYRanges
from visionstudio.ui.plots.readout import cursor_lines, follow_pointer, readout_at
from visionstudio.ui.plots.runs_list import RunsList
from visionstudio.ui.plots.selection import selection_for
from visionstudio.ui.plots.style import (
    BLUE,
    ORANGE,
    THEMED,
    TITLES,
    TimedGraphics,
    decimate,
    pen,
    set_if_changed,
    titles,
)
from visionstudio.ui.plots.task_series import MetricChoice, draw_metric

REFRESH_HZ = 10          # frames per second at most (adaptive: fewer when frames are slow)
MAX_INTERVAL_MS = 125    # per plot tick: never slower than 2 frames per second
# while a run trains in this process, drawing gets a smaller share of a core: every ms the
# GUI thread paints is a ms the training loses (the plots held the GIL and the CPU for
# ~10% of a core and made the app train at ~0.75x the command line; docs/training-in-the-app.md)
BUDGET, TRAINING_BUDGET = 0.10, 0.01            # share of one core for drawing
TRAINING_MAX_INTERVAL_MS = 400                   # training: a plot tick at least every 0.4 s
GROUPS = ("loss", "accuracy", "lr", "throughput")
TICK_MS = int(1000 / REFRESH_HZ / len(GROUPS))   # one plot per tick


class MetricsPlots(QWidget):
    """``staged``: built by ``build_steps`` one step per event-loop turn (the caller drives
    it, see docks.LaterDocks: each plot item costs 15-20 ms of CPU, the whole dashboard
    0.1-0.65 s, a frozen window when built in one turn); else complete when constructed."""

    builds_in_steps = True

    def __init__(self, controller, parent: QWidget | None = None, *, staged: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPlots")
        self.setAccessibleName("Metrics")
        self.controller = controller
        self.selection = selection_for(controller)     # which run is shown, which overlaid
        self.training = self.selection.runs            # the RunController
        self._drawn: tuple | None = None
        self.refresh_count = 0
        self.timer = QTimer(self)
        self._group_drawn: dict[str, tuple] = {}
        self._next_group = 0
        self._last_group = ""
        self.build_steps = self._build_steps()
        if not staged:
            for _ in self.build_steps:
                pass

    def _build_steps(self):
        """The construction; each ``yield`` ends one step (one plot item at most)."""
        self._build()
        yield
        for name in GROUPS:
            self._build_plot(name)
            yield
        self._build_items()
        yield
        self._build_cursor()
        self._apply_theme_colors()
        self.y_ranges = StickyYRanges(self.plots, ("loss", "throughput", "lr"))
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.selection.display_changed.connect(self._on_selection_display_changed)
        self.training.finished.connect(self._on_training_finished)
        self.training.fit_started.connect(self._on_training_fit_started)

    # -- the x range: fixed to the run's length while it trains --------------------------------
    def _on_training_fit_started(self, record) -> None:
        self.y_ranges.reset()
        self._planned_steps = record.total_steps
        self._pin_x()
        self._invalidate()

    def _pin_x(self) -> None:
        # a growing x range would re-render the axes every frame: pin it to the planned
        # steps, or to the longest overlaid run (the user can still zoom; pyqtgraph then
        # leaves auto-range by itself)
        end = max(self._planned_steps, self.overlays.last_step(self.selection))
        self.plots["loss"].setXRange(0, max(1, end), padding=0.01)

    def _on_training_finished(self, _entry) -> None:
        self.plots["loss"].enableAutoRange(x=True)
        self._invalidate()

    def _off_screen(self) -> bool:
        """In a window that does not show it (a dock tab behind another, a minimised
        window): the timer draws nothing then, and showing it draws what changed meanwhile.
        A widget on its own (no window around it) always draws."""
        return not self.isVisible() and self.window() is not self

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()             # what changed while it was hidden, all four plots at once

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_theme_colors()

    def _apply_theme_colors(self) -> None:
        """Series colours that must change with the theme (dark: lighter navy and brown)."""
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        if not hasattr(self, "items") or dark == getattr(self, "_dark_colors", False):
            return
        self._dark_colors = dark
        train, throughput = (THEMED[k][1 if dark else 0] for k in ("train", "throughput"))
        for key in ("train_loss", "train_acc"):
            self.items[key].setPen(pen(train, 1.5, style=Qt.PenStyle.DashLine))
            self.items[key].setSymbolBrush(train)
        self.items["throughput"].setPen(pen(throughput, 1.5))
        for name, text in titles(train).items():
            self.plots[name].setTitle(text)
        self.metric_choice.restyle(self.plots["accuracy"], train)   # its title names the metric

    def _on_selection_display_changed(self) -> None:
        self.y_ranges.reset()
        if not self.training.busy:
            self.plots["loss"].enableAutoRange(x=True)
        elif self._planned_steps:
            self._pin_x()
        self._invalidate()

    # -- building ---------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addLayout(self._build_bar())
        split = QSplitter(Qt.Orientation.Horizontal)
        self.runs = RunsList(self.selection)
        split.addWidget(self.runs)
        self.graphics = TimedGraphics()
        self.graphics.setObjectName("metricsGraphics")
        self.graphics.setBackground("w")
        split.addWidget(self.graphics)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([200, 800])
        outer.addWidget(split, 1)
        self.plots: dict[str, pg.PlotItem] = {}

    def _build_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        self.log_check = QCheckBox("Log scale")
        self.log_check.setObjectName("logScaleCheck")
        self.log_check.setToolTip("Logarithmic y axis for the loss and the learning rate")
        self.log_check.setAccessibleName("Log scale")
        self.log_check.toggled.connect(self.set_log_scale)
        self.raw_check = QCheckBox("Every batch")
        self.raw_check.setObjectName("rawBatchesCheck")
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip("Show the loss of every batch (faint) behind its smoothed line")
        self.raw_check.setAccessibleName("Show every batch")
        self.raw_check.toggled.connect(lambda on: self.items["loss_raw"].setVisible(on))
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setObjectName("exportCsvButton")
        self.csv_button.setToolTip("Save the shown run's per-batch curves and per-epoch metrics "
                                   "as CSV files")
        self.csv_button.setAccessibleName("Export metrics as CSV")
        self.csv_button.clicked.connect(self._ask_export_csv)
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setObjectName("exportPngButton")
        self.png_button.setToolTip("Save the plots as a PNG image")
        self.png_button.setAccessibleName("Export plots as PNG")
        self.png_button.clicked.connect(self._ask_export_png)
        self.metric_choice = MetricChoice()        # the second plot's metric (task_series.py)
        self.metric_choice.changed.connect(self._invalidate)
        bar.addWidget(self.metric_choice)
        self.readout = QLabel("")
        self.readout.setObjectName("plotReadout")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.log_check, self.raw_check, self.csv_button, self.png_button):
            bar.addWidget(w)
        bar.addWidget(self.readout, 1)
        return bar

    def _build_plot(self, name: str) -> None:
        """The plot ``name`` (GROUPS order: the loss plot first, the others share its x)."""
        row, col = divmod(GROUPS.index(name), 2)
        title = {"lr": "Learning rate", "throughput": "Throughput (images/s)"}.get(name) or TITLES[name]
        plot = self.plots[name] = self.graphics.addPlot(row=row, col=col, title=title,
                                                        viewBox=LazyMenuViewBox())
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        add_grid(plot, x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "step")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setPen(pg.mkPen("#555"))
            plot.getAxis(axis).setTextPen(pg.mkPen("#333"))
        plot.titleLabel.setAttr("color", "#222")
        # text is the dearest thing to paint: axes and titles are cached as pixmaps
        # and re-rendered only when their range or text changes
        for part in (plot.getAxis("left"), plot.getAxis("bottom"), plot.titleLabel):
            part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        if name != "loss":
            plot.setXLink(self.plots["loss"])
        if name == "accuracy":
            plot.setYRange(0, 1, padding=0.02)

    def _build_items(self) -> None:
        """One PlotDataItem per series, reused for every frame (setData)."""
        lp, ap = self.plots["loss"], self.plots["accuracy"]
        epoch_dots = {"symbol": "o", "symbolSize": 6, "symbolBrush": "#0d47a1", "symbolPen": None}
        val_dots = {"symbol": "s", "symbolSize": 7, "symbolBrush": ORANGE, "symbolPen": None}
        dashed = pen("#0d47a1", 1.5, style=Qt.PenStyle.DashLine)
        self.items = {
            "loss_raw": lp.plot(pen=pen(BLUE, 1, 70), name="batch loss"),
            "loss_ema": lp.plot(pen=pen(BLUE, 2.2), name="smoothed (EMA)"),
            "train_loss": lp.plot(pen=dashed, name="train (epoch)", **epoch_dots),
            "val_loss": lp.plot(pen=pen(ORANGE, 2), name="validation", **val_dots),
            "acc_batch": ap.plot(pen=pen(BLUE, 1, 70), name="running train acc"),
            "train_acc": ap.plot(pen=dashed, name="train (epoch)", **epoch_dots),
            "val_acc": ap.plot(pen=pen(ORANGE, 2), name="validation", **val_dots),
            "lr": self.plots["lr"].plot(pen=pen("#43a047", 2)),
            "throughput": self.plots["throughput"].plot(pen=pen("#6d4c41", 1.5)),
        }
        for item in self.items.values():
            item.setData(np.zeros(0), np.zeros(0), connect="finite")
        self.overlays = RunOverlays(self.plots)
        self.overlay_items = self.overlays.items   # run id -> its items (OVERLAY_PLOTS order)
        self._planned_steps = 0

    def _build_cursor(self) -> None:
        """Hover: a vertical line per plot and the values under the cursor in the readout."""
        self.cursor_lines = cursor_lines(self.plots)
        self._hover_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_scene_mouse_moved)

    # -- refreshing (timer) -------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._drawn = None
        self._group_drawn.clear()

    def _signature(self) -> tuple:
        s = self.selection
        over = tuple((rid, getattr(s.history_for(rid), "version", 0)) for rid in s.overlay_ids)
        return (id(s.history), s.history.version, over, self.log_check.isChecked(), self.metric_choice.chosen)

    def refresh(self, force: bool = False) -> bool:
        """Redraw every plot if anything changed since the last frame; True when it redrew."""
        sig = self._signature()
        if sig == self._drawn and not force:
            return False
        self._drawn = sig
        self.refresh_count += 1
        for group in GROUPS:
            self._draw_group(group)
            self._group_drawn[group] = sig
        return True

    def _tick(self) -> None:
        """The timer: redraw one stale plot per tick (round robin), so a frame's paint is
        a quarter of the dashboard and the event loop is never held for a whole frame."""
        if self._off_screen():     # behind another dock tab while training: nothing to see
            return
        sig = self._signature()
        order = [GROUPS[(self._next_group + i) % len(GROUPS)] for i in range(len(GROUPS))]
        training = self._training()
        if training:   # few ticks a second: the loss, the curve people watch, every other one
            others = [g for g in order if g != "loss"]
            order = others + ["loss"] if self._last_group == "loss" else ["loss"] + others
        for group in order:
            if self._group_drawn.get(group) != sig:
                if not (training and group == "loss"):
                    self._next_group = (GROUPS.index(group) + 1) % len(GROUPS)
                self._last_group = group
                t0 = time.perf_counter()
                self._draw_group(group)
                self._group_drawn[group] = sig
                if all(self._group_drawn.get(g) == sig for g in GROUPS):
                    self._drawn = sig
                    self.refresh_count += 1
                self._adapt_rate(time.perf_counter() - t0)
                return

    def _draw_group(self, group: str) -> None:
        h = self.selection.history
        a = h.batch_arrays()
        it = self.items
        # smooth curves need no more than ~20k points on screen: decimate them here so
        # their bounds and the lr plot's log mapping stay cheap; the raw loss keeps every
        # point (pyqtgraph's peak downsampling shows its spikes)
        log = self.log_check.isChecked()
        if group == "accuracy":   # the chosen metric first: the overlaid runs show it too
            self.overlays.metric = draw_metric(self.plots["accuracy"], it, h, self.metric_choice)
        others = self.overlays.draw(group, self.selection)   # the overlaid runs' y values
        if group == "loss":
            it["loss_raw"].setData(a["step"], a["loss"], connect="finite")
            it["loss_ema"].setData(*decimate(a["step"], a["loss_ema"]), connect="finite")
            epochs = [h.epoch_series(key) for key in ("train_loss", "val_loss")]
            for key, (x, y) in zip(("train_loss", "val_loss"), epochs):
                set_if_changed(it[key], x, y)
            self.y_ranges.update("loss", a["loss"], *(y for _x, y in epochs), *others, log=log)
        elif group == "lr":
            it["lr"].setData(*decimate(a["step"], a["lr"]), connect="finite")
            self.y_ranges.update("lr", a["lr"], *others, log=log, floor=None if log else 0.0)
        elif group == "throughput":
            it["throughput"].setData(*decimate(a["rate_step"], a["rate"]), connect="finite")
            self.y_ranges.update("throughput", a["rate"], *others, floor=0.0)

    def _training(self) -> bool:
        return getattr(self.training, "state", "idle") in ("running", "preparing")

    def _adapt_rate(self, seconds: float) -> None:
        # frame-rate governor: keep drawing under BUDGET of one core (TRAINING_BUDGET while
        # a run trains). A frame is a few ms on a desktop (10 Hz); a huge history or a
        # starved 2-core machine (30-50 ms frames measured) lowers the rate instead of
        # taking CPU and the GIL from the training thread
        cost = seconds + self.graphics.take_paint_s()    # one plot: a quarter of a frame
        budget, longest = ((TRAINING_BUDGET, TRAINING_MAX_INTERVAL_MS) if self._training()
                           else (BUDGET, MAX_INTERVAL_MS))
        interval = int(min(longest, max(TICK_MS, cost * 1000 / budget)))
        if abs(interval - self.timer.interval()) > 10:
            self.timer.setInterval(interval)

    def set_log_scale(self, on: bool) -> None:
        for name in ("loss", "lr"):
            self.plots[name].setLogMode(x=False, y=bool(on))
            self.y_ranges.forget(name)
        if self.log_check.isChecked() != bool(on):
            self.log_check.setChecked(bool(on))
        self._invalidate()

    # -- hover -------------------------------------------------------------------------------
    def _on_scene_mouse_moved(self, event) -> None:
        text = follow_pointer(self.plots, self.cursor_lines, event[0], self.values_at)
        if text is not None:
            self.readout.setText(text)

    def values_at(self, step: float) -> str:
        """The values of the shown run nearest to ``step`` (the hover readout)."""
        return readout_at(self.selection.history, step, self.metric_choice.key)

    # -- export -----------------------------------------------------------------------------
    def export_csv(self, path: str | Path) -> list[Path]:
        """Write the shown run's per-batch curves to ``path`` and its per-epoch metrics to
        ``<stem>-epochs.csv`` beside it; returns both paths."""
        h = self.selection.history
        path = Path(path)
        path.write_text(h.batch_csv(), encoding="utf-8")
        epochs = path.with_name(f"{path.stem}-epochs.csv")
        epochs.write_text(h.epoch_csv(), encoding="utf-8")
        return [path, epochs]

    def export_png(self, path: str | Path) -> bool:
        self.refresh(force=True)
        return self.graphics.grab().save(str(path), "PNG")

    def _ask_export_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves as CSV", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def _ask_export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots as PNG", "metrics.png", "PNG (*.png)")
        if path:
            self.export_png(path)


