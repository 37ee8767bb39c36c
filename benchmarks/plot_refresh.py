"""How long one dashboard frame takes with 10k, 100k and 1M batch points.

A frame = ``refresh()`` (setData on all four plots' reused items with the history's
numpy views) + painting them (forced with ``repaint()``), the x range growing each frame.
A tick = what the dashboard's timer does while a run trains: one plot's setData + paint,
the x range pinned to the run's planned steps. Measured with the dashboard's settings
(auto-downsampling 'peak' + clip-to-view) and, for contrast, with both turned off.
Usage:  python benchmarks/plot_refresh.py [--frames 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_STATE_HOME", tempfile.mkdtemp())


def fill(history, n: int, chunk: int = 50_000) -> None:
    import numpy as np

    from visionstudio.core.training.records import BatchRecord, EpochRecord

    rng = np.random.default_rng(0)
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        steps = np.arange(start, end) + 1
        losses = 2.0 / np.sqrt(steps) + 0.1 * rng.random(end - start)
        history.add(BatchRecord(epoch=1, batch=end, batches=n, step=end, loss=float(losses[-1]),
                                accuracy=0.5, lr=1e-3, images_per_s=1000.0, elapsed_s=1.0, eta_s=1.0,
                                losses=tuple(losses.tolist()), lrs=(1e-3,) * (end - start)))
    for e in range(1, 11):
        history.add(EpochRecord(epoch=e, step=n * e // 10, train_loss=1 / e, train_accuracy=0.5,
                                val_loss=1 / e, val_accuracy=0.5, val_top5=None, lr=1e-3,
                                images_per_s=1.0, epoch_s=1.0, elapsed_s=e, eta_s=0.0, monitored=1.0,
                                best=True))


def tick_ms(plots, app, ticks: int) -> list[float]:
    from visionstudio.core.training.records import BatchRecord

    h = plots.training.history
    times = []
    for _ in range(ticks):
        step = h.steps_done + 1
        h.add(BatchRecord(epoch=1, batch=step, batches=step, step=step, loss=0.1, accuracy=0.5,
                          lr=1e-3, images_per_s=1000.0, elapsed_s=1.0, eta_s=1.0))
        t0 = time.perf_counter()
        plots._tick()
        app.processEvents()                    # paints only the region that changed
        times.append((time.perf_counter() - t0) * 1000)
    return times


def frame_ms(plots, app, frames: int) -> list[float]:
    from visionstudio.core.training.records import BatchRecord

    h = plots.training.history
    times = []
    for _ in range(frames):
        step = h.steps_done + 1
        h.add(BatchRecord(epoch=1, batch=step, batches=step, step=step, loss=0.1, accuracy=0.5,
                          lr=1e-3, images_per_s=1000.0, elapsed_s=1.0, eta_s=1.0))
        t0 = time.perf_counter()
        plots.refresh()
        plots.graphics.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
        app.processEvents()
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController

    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        for fast in (True, False):
            plots = MetricsPlots(DocumentController())
            plots.timer.stop()                 # frames are driven here
            plots.resize(1200, 700)
            plots.show()
            if not fast:
                for p in plots.plots.values():
                    p.setDownsampling(auto=False, ds=1)
                    p.setClipToView(False)
            fill(plots.training.history, n)
            app.processEvents()
            frame_ms(plots, app, 2)            # warm-up (first autorange)
            t = frame_ms(plots, app, args.frames)
            plots._on_training_fit_started(type("Start", (), {"total_steps": int(n * 1.2)})())
            tick_ms(plots, app, 8)             # warm-up: every plot once with the pinned range
            k = tick_ms(plots, app, 4 * args.frames)
            row = {"points": n, "downsample_clip": fast, "frame_median_ms": round(statistics.median(t), 2),
                   "frame_max_ms": round(max(t), 2), "tick_median_ms": round(statistics.median(k), 2),
                   "tick_p90_ms": round(sorted(k)[int(0.9 * (len(k) - 1))], 2)}
            results.append(row)
            print(f"{n:>9,} points  {'downsample+clip' if fast else 'plain          '}  "
                  f"frame median {row['frame_median_ms']:7.2f} ms (max {row['frame_max_ms']:7.2f})  "
                  f"tick median {row['tick_median_ms']:6.2f} ms (p90 {row['tick_p90_ms']:6.2f})",
                  flush=True)
            plots.close()
            plots.deleteLater()
            app.processEvents()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
