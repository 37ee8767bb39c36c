"""The cost of each step of building the metrics and feature-map panels in steps.

The app builds each of these panels one step per event-loop turn when its dock first
shows (docks.LaterDocks); a step is as long as input waits then. This prints, per
step and for the first show and paint of the built panel, the GUI thread's CPU time
(``time.thread_time``: what the step itself costs, whatever else loads the machine)
and the wall time, the lean one-call build for comparison, and the load average.

    python benchmarks/panel_steps.py [--runs 3] [--platform offscreen]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _steps(cls, controller) -> list[tuple[float, float]]:
    widget = cls(controller, staged=True)
    out, steps = [], widget.build_steps
    while True:
        cpu, wall = time.thread_time(), time.perf_counter()
        done = next(steps, StopIteration) is StopIteration
        out.append(((time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))
        if done:
            return out


def _first_show(cls, controller, app) -> tuple[float, float]:
    """The turn that puts the complete panel in a shown window (as its dock does):
    polish, layout and its first paint."""
    from PySide6.QtWidgets import QMainWindow

    window = QMainWindow()
    window.resize(1000, 420)
    window.show()
    app.processEvents()
    widget = cls(controller)
    cpu, wall = time.thread_time(), time.perf_counter()
    window.setCentralWidget(widget)
    app.processEvents()
    window.repaint()
    spent = (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
    window.close()
    return spent


def _lean(cls, controller) -> tuple[float, float]:
    cpu, wall = time.thread_time(), time.perf_counter()
    cls(controller)
    return (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = args.platform
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import pyqtgraph as pg

    from visionstudio.ui.features import FeatureMapView
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController

    pg.PlotItem()   # warm-up: pyqtgraph's first plot loads its templates
    for cls in (MetricsPlots, FeatureMapView):
        runs = [_steps(cls, DocumentController()) for _ in range(args.runs)]
        lean = [_lean(cls, DocumentController()) for _ in range(args.runs)]
        shows = [_first_show(cls, DocumentController(), app) for _ in range(args.runs)]
        print(f"{cls.__name__}: {len(runs[0])} steps (median of {args.runs} runs)")
        for i in range(len(runs[0])):
            cpu = statistics.median(r[i][0] for r in runs)
            wall = statistics.median(r[i][1] for r in runs)
            print(f"  step {i + 1}: cpu {cpu:6.1f} ms   wall {wall:6.1f} ms")
        longest = statistics.median(max(c for c, _w in r) for r in runs)
        print(f"  longest step: cpu {longest:.1f} ms; lean one-call build: cpu "
              f"{statistics.median(c for c, _w in lean):.1f} ms, wall "
              f"{statistics.median(w for _c, w in lean):.1f} ms")
        print(f"  first show and paint of the complete panel: cpu "
              f"{statistics.median(c for c, _w in shows):.1f} ms, wall "
              f"{statistics.median(w for _c, w in shows):.1f} ms")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    from visionstudio.ui.shell.tasks import wait_all

    wait_all()   # the shown feature view started loading its dataset
    return 0


if __name__ == "__main__":
    sys.exit(main())
