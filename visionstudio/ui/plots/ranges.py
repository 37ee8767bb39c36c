"""StickyYRanges: y ranges with hysteresis for the dashboard's growing curves.

pyqtgraph's auto-range would move a live curve's y range on nearly every frame, and
every move re-renders the axis text (the dearest part of a frame). Here a range grows
when the data leave it and shrinks only when they use less than half of it; once the
user zooms or pans a plot, its range is left alone until the shown run changes. The
range covers every run drawn on the plot (the shown one and the overlaid ones).
"""

from __future__ import annotations

import numpy as np


class StickyYRanges:
    def __init__(self, plots: dict, names: tuple[str, ...]) -> None:
        self.plots, self.names = plots, names
        self.reset()
        for name in names:
            plots[name].vb.sigRangeChangedManually.connect(
                lambda *_a, n=name: self._on_view_range_changed_manually(n))

    def reset(self) -> None:
        """Manage every range again (a new run is shown, or starts)."""
        self._managed = dict.fromkeys(self.names, True)
        self._log: dict[str, bool] = {}

    def forget(self, name: str) -> None:
        """The axis changed (log scale toggled): set the range afresh next time."""
        self._log.pop(name, None)

    def update(self, name: str, *arrays: np.ndarray, log: bool = False,
               floor: float | None = None) -> None:
        """Fit the range to every array given: the shown run's and each overlaid run's."""
        if not self._managed.get(name, True):
            return
        bounds = [b for b in (_bounds(values, log) for values in arrays) if b is not None]
        if not bounds:
            return
        lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
        if floor is not None:
            lo = min(lo, floor)
        (cur_lo, cur_hi) = self.plots[name].vb.viewRange()[1]
        span = max(hi - lo, 1e-12)
        inside = cur_lo <= lo and hi <= cur_hi
        if inside and span >= 0.5 * (cur_hi - cur_lo) and self._log.get(name) == log:
            return
        self._log[name] = log
        self.plots[name].setYRange(lo - 0.08 * span if floor is None else lo, hi + 0.08 * span,
                                   padding=0)

    def _on_view_range_changed_manually(self, name: str) -> None:
        self._managed[name] = False          # the user zoomed or panned: hands off


def _bounds(values: np.ndarray, log: bool) -> tuple[float, float] | None:
    """(min, max) of the finite values (of their log10 on a log axis); None when none."""
    v = np.asarray(values)
    v = v[np.isfinite(v)]
    if log:
        v = np.log10(v[v > 0])
    return (float(v.min()), float(v.max())) if len(v) else None
