"""The dashboard's hover readout: a vertical line per plot under the pointer and the
shown run's values nearest to that step, in words."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from visionstudio.ui.plots.task_series import epoch_readout


def readout_at(history, step: float, metric_key: str) -> str:
    """"step 120 · loss 0.53 · EMA 0.6 · lr 0.001 · 2,300 img/s · epoch 1: …" ("" when
    the run has no batch yet); ``metric_key``: what the accuracy plot shows."""
    a = history.batch_arrays()
    if not len(a["step"]):
        return ""
    i = int(np.clip(np.searchsorted(a["step"], step), 0, len(a["step"]) - 1))
    parts = [f"step {int(a['step'][i])}", f"loss {a['loss'][i]:.4g}",
             f"EMA {a['loss_ema'][i]:.4g}", f"lr {a['lr'][i]:.3g}"]
    if len(a["rate_step"]):
        j = int(np.clip(np.searchsorted(a["rate_step"], step), 0, len(a["rate_step"]) - 1))
        parts.append(f"{a['rate'][j]:,.0f} img/s")
    epochs = [e for e in history.epochs if e["step"] >= a["step"][i]]
    if epochs:
        parts.append(epoch_readout(epochs[0], metric_key))
    return " · ".join(parts)


def cursor_lines(plots: dict) -> dict:
    """One hidden dotted vertical line per plot (name -> line), outside the plots' bounds."""
    lines = {}
    for name, plot in plots.items():
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#9e9e9e", style=Qt.PenStyle.DotLine))
        line.setVisible(False)
        plot.addItem(line, ignoreBounds=True)
        lines[name] = line
    return lines


def follow_pointer(plots: dict, lines: dict, pos, text_at: Callable[[float], str]) -> str | None:
    """Move the lines to the step under scene position ``pos`` and return the readout for
    it; off every plot, hide them and return None."""
    for plot in plots.values():
        if plot.sceneBoundingRect().contains(pos):
            x = plot.vb.mapSceneToView(pos).x()
            for line in lines.values():
                line.setPos(x)
                line.setVisible(True)
            return text_at(x)
    for line in lines.values():
        line.setVisible(False)
    return None
