"""RunOverlays: the dashed curves of the ticked runs, on every plot of the dashboard.

Each overlaid run gets one PlotDataItem per plot (smoothed loss, accuracy or the metric
the dashboard shows instead, learning rate, throughput) in its colour from the runs list,
reused frame after frame. Drawing a plot
returns the y values it put there, so the plot's range covers every run shown on it,
not just the shown run: two runs of very different loss scales both stay in view.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from visionstudio.ui.plots.metric_names import ACCURACY
from visionstudio.ui.plots.runs_list import OVERLAY_COLORS
from visionstudio.ui.plots.style import decimate, pen
from visionstudio.ui.plots.task_series import overlay_series

OVERLAY_PLOTS = ("loss", "accuracy", "lr", "throughput")   # the order of a run's items


class RunOverlays:
    def __init__(self, plots: dict) -> None:
        self.plots = plots
        self.items: dict[str, tuple] = {}      # run id -> one item per OVERLAY_PLOTS
        self.metric = ACCURACY                 # what the accuracy plot shows (task_series.py)

    @staticmethod
    def wanted(selection) -> list[str]:
        """The overlaid runs, the shown one excluded (it is drawn in full already)."""
        return [r for r in selection.overlay_ids if r != selection.display_id]

    def sync(self, selection) -> None:
        """Items for the runs ticked now, none for the others."""
        wanted = self.wanted(selection)
        for rid in [r for r in self.items if r not in wanted]:
            for plot_name, item in zip(OVERLAY_PLOTS, self.items.pop(rid)):
                self.plots[plot_name].removeItem(item)
        for i, rid in enumerate(wanted):
            if rid in self.items or selection.history_for(rid) is None:
                continue
            color = OVERLAY_COLORS[i % len(OVERLAY_COLORS)]
            name = (selection.entry(rid) or {}).get("name", rid)
            dashed = pen(color, 1.8, 220, Qt.PenStyle.DashLine)
            self.items[rid] = tuple(
                self.plots[p].plot(pen=dashed, name=name, **(
                    {"symbol": "t", "symbolSize": 6, "symbolBrush": color, "symbolPen": None}
                    if p == "accuracy" else {}))
                for p in OVERLAY_PLOTS)

    def draw(self, plot_name: str, selection) -> list[np.ndarray]:
        """Set the overlaid runs' data on one plot; the y arrays drawn there."""
        self.sync(selection)
        at = OVERLAY_PLOTS.index(plot_name)
        drawn = []
        for rid, items in self.items.items():
            hist = selection.history_for(rid)
            if hist is None:
                continue
            x, y = self._series(plot_name, hist)
            items[at].setData(x, y, connect="finite")
            drawn.append(y)
        return drawn

    def _series(self, plot_name: str, hist) -> tuple[np.ndarray, np.ndarray]:
        if plot_name == "accuracy" and self.metric != ACCURACY:
            return overlay_series(hist, self.metric)
        if plot_name == "accuracy":
            x, y = hist.epoch_series("val_accuracy")
            return (x, y) if len(x) else hist.epoch_series("train_accuracy")
        a = hist.batch_arrays()
        if plot_name == "loss":
            return a["step"], a["loss_ema"]
        if plot_name == "lr":
            return decimate(a["step"], a["lr"])
        return decimate(a["rate_step"], a["rate"])

    def last_step(self, selection) -> int:
        """The longest overlaid run's last step (0 when none): a pinned x range reaches it."""
        ends = [0]
        for rid in self.wanted(selection):
            hist = selection.history_for(rid)
            steps = hist.batch_arrays()["step"] if hist is not None else ()
            if len(steps):
                ends.append(int(steps[-1]))
        return max(ends)
