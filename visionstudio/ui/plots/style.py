"""How the dashboard looks: series colours (some per theme), pens, the plot titles that
carry the colour keys, decimation of smooth curves, and a plot surface that times its
own paint (the frame-rate governor reads it)."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsView

BLUE, ORANGE, GREY = "#1e88e5", "#fb8c00", "#90a4ae"
DARK_BLUE = "#0d47a1"
# colours that differ by theme (light, dark): navy and brown vanish on a dark plot
THEMED = {"train": ("#0d47a1", "#8fa8ff"), "throughput": ("#6d4c41", "#d7a98c")}


def _key(color: str, text: str, mark: str = "—") -> str:
    return f"<span style='color:{color}'>{mark}&nbsp;{text}</span>"


def titles(train: str = DARK_BLUE) -> dict[str, str]:
    """The loss and accuracy titles; no legends inside the plots (they cover the curves of
    a short dock): the titles carry the colour keys."""
    return {
        "loss": "Loss &nbsp; " + " &nbsp;".join([_key("#90caf9", "batch"), _key(BLUE, "<b>smoothed</b>"),
                                                 _key(train, "train", "●"), _key(ORANGE, "validation", "■")]),
        "accuracy": "Accuracy &nbsp; " + " &nbsp;".join([_key("#90caf9", "running train"),
                                                         _key(train, "train", "●"),
                                                         _key(ORANGE, "validation", "■")]),
    }


TITLES = titles()


def metric_title(label: str, train: str = DARK_BLUE, with_train: bool = True) -> str:
    """The second plot's title for a metric other than accuracy, with its colour keys."""
    keys = ([_key(train, "train", "●")] if with_train else []) + [_key(ORANGE, "validation", "■")]
    return f"{label} &nbsp; " + " &nbsp;".join(keys)


def pen(color: str, width: float = 1.5, alpha: int = 255, style=Qt.PenStyle.SolidLine):
    c = pg.mkColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=width, style=style)


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th point (and the last) so at most ~max_points remain (views, no copies)."""
    n = len(x)
    if n <= max_points:
        return x, y
    k = -(-n // max_points)
    if (n - 1) % k == 0:
        return x[::k], y[::k]
    return np.append(x[::k], x[-1]), np.append(y[::k], y[-1])


def set_if_changed(item, x, y, **kwargs) -> None:
    """``item.setData(x, y)`` unless the series are the ones it was last given.

    For the short per-epoch series, redrawn with their plot every frame while they change
    once an epoch: pyqtgraph's ``setData`` costs ~0.5 ms however short the data (measured
    in the app while training). Copies are kept, so keep it to short series."""
    x, y = np.asarray(x), np.asarray(y)
    last = getattr(item, "_fed_series", None)
    if last is not None and last[0].shape == x.shape and last[1].shape == y.shape and \
            np.array_equal(last[0], x, equal_nan=True) and np.array_equal(last[1], y, equal_nan=True):
        return
    item._fed_series = (x.copy(), y.copy())
    item.setData(x, y, **kwargs)


class TimedGraphics(pg.GraphicsLayoutWidget):
    """Adds up how long its paints took (the frame-rate governor takes the sum).

    The sum and not the last paint: a tick's ``setData`` can be followed by more than one
    paint (an axis re-rendered after its range moved, a title), and the governor's budget
    is what all of them cost (measured in the app while training: 1.3 paints a tick).

    No background cache (pyqtgraph turns QGraphicsView's CacheBackground on): the cached
    background is a view-sized image blended at every paint, and Qt blends an image that
    size on its GUI thread pool, waking those threads at each frame while a run trains;
    the background is one solid fill, cheaper to paint than to blend
    (``benchmarks/plot_grid.py``)."""

    paint_s = 0.0          # the paints since the last take_paint_s()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)

    def take_paint_s(self) -> float:
        took, self.paint_s = self.paint_s, 0.0
        return took

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.paint_s += time.perf_counter() - t0
