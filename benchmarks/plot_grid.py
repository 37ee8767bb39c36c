"""The plots' grid and background, side by side in one run:

- pyqtgraph   pyqtgraph's defaults: ``showGrid`` (the grid drawn by the axes' QPicture) and
              QGraphicsView's background cache
- view grid   ``visionstudio.ui.plots.grid.add_grid`` (the grid drawn by the view), the
              background cache still on
- dashboard   the view grid without the background cache (``TimedGraphics``), as the
              dashboard draws

A frame = one plot's ``setData`` with a growing series + ``repaint()``, the x range
growing each frame as while a run trains. Printed per frame: the GUI thread's time and the
wake-ups of Qt's pooled threads (voluntary context switches of the threads named
"Thread (pooled)", from /proc: Linux only), the figure that matters to a training thread
sharing the cores. Modes alternate frame block by frame block so load changes hit both.
Usage:  python benchmarks/plot_grid.py [--frames 200] [--blocks 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pooled_wakeups() -> int:
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as fh:
                if "pooled" not in fh.read():
                    continue
            with open(f"/proc/self/task/{tid}/status") as fh:
                total += sum(int(line.split()[1]) for line in fh if line.startswith("voluntary_ctxt"))
        except OSError:
            continue
    return total


def make(app, mode: str):
    import pyqtgraph as pg

    from visionstudio.ui.plots.grid import add_grid

    widget = pg.PlotWidget()
    widget.resize(700, 350)
    plot = widget.getPlotItem()
    if mode == "pyqtgraph":
        plot.showGrid(x=True, y=True, alpha=0.25)
    else:
        add_grid(plot, x=True, y=True, alpha=0.25)
    if mode == "dashboard":
        from PySide6.QtWidgets import QGraphicsView

        widget.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(pg.mkPen("#555"))
    curve = plot.plot(pen=pg.mkPen("#1e88e5", width=1.5))
    widget.show()
    app.processEvents()
    return widget, curve


def block(app, widget, curve, start: int, frames: int) -> tuple[float, float]:
    import numpy as np

    rng = np.random.default_rng(start)
    before, t0 = pooled_wakeups(), time.perf_counter()
    for i in range(start, start + frames):
        n = 50 + i
        curve.setData(np.arange(n), 1.0 / np.sqrt(np.arange(n) + 1) + 0.05 * rng.random(n))
        widget.repaint()
        app.processEvents()
    ms = (time.perf_counter() - t0) * 1000 / frames
    return ms, (pooled_wakeups() - before) / frames


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200, help="frames per mode in all")
    ap.add_argument("--blocks", type=int, default=5)
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    modes = ("pyqtgraph", "view grid", "dashboard")
    plots = {m: make(app, m) for m in modes}
    for m in modes:                                   # warm-up: fonts, caches, the pool's threads
        block(app, *plots[m], 0, 10)
    per = max(1, args.frames // args.blocks)
    got: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for b in range(args.blocks):
        for m in (modes if b % 2 == 0 else modes[::-1]):  # order reversed every other block
            got[m].append(block(app, *plots[m], 10 + b * per, per))
    load = os.getloadavg()
    print(f"one plot 700x350, {per * args.blocks} frames per mode in {args.blocks} interleaved blocks, "
          f"load average {load[0]:.2f}")
    med = {m: (statistics.median(v[0] for v in got[m]), statistics.median(v[1] for v in got[m]))
           for m in modes}
    for m in modes:
        print(f"  {m:9s}: {med[m][0]:6.2f} ms per frame, "
              f"{med[m][1]:7.1f} pooled-thread wake-ups per frame")
    for m in modes[1:]:
        print(f"  ratio pyqtgraph / {m}: time {med['pyqtgraph'][0] / med[m][0]:.2f}x, wake-ups "
              f"{med['pyqtgraph'][1]:.0f} -> {med[m][1]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
