"""The same training run in the app (dashboard visible, worker thread) and headless
(the core Trainer on the main thread), interleaved, plus the GUI's responsiveness.

Modes, interleaved per repeat:
  app     the TrainingSession (worker QThread) with TrainingPanel + MetricsPlots shown
  thread  the core Trainer in a plain Python thread, the Qt event loop idle (the same
          threading as the app without the UI: isolates the UI's cost)
  main    the core Trainer on the main thread (what the CLI does)
Throughput: images/s over the training part of each run (the trainer's own clock:
dataset loading excluded), median over repeats; ratios app/thread and app/main.
Responsiveness: a 10 ms QTimer probe on the GUI thread while training runs (app and
thread modes); latency = how late each tick fires (interval - 10 ms); p50/p99/max.

Usage: python benchmarks/gui_training.py [--steps 60] [--batch-size 64] [--repeats 3]
       [--device auto] [--json out.json]      (QT_QPA_PLATFORM=offscreen by default)
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
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")


def project(args):
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.templates import load_template

    doc = load_template("classic_cnn")
    samples = args.steps * args.batch_size
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {"samples": samples,
                                                                        "val_samples": 0}})
    doc.training = doc.training.replace(epochs=1, batch_size=args.batch_size, val_split=0.0,
                                        device=args.device, seed=0)
    return doc


def headless(doc, loaded) -> float:
    from visionstudio.core.build import build_model
    from visionstudio.core.graph import analyze
    from visionstudio.core.training.trainer import Trainer

    graph = doc.graph.copy()
    model = build_model(graph, analyze(graph), seed=0)
    result = Trainer(model, doc.training).fit(loaded)
    assert result.ok, result.failure
    return result.history[-1].step * doc.training.batch_size / result.elapsed_s


class Probe:
    """A 10 ms timer on the GUI thread; records how late each tick is while ``active()``."""

    def __init__(self, active) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.lat: list[float] = []
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.last = 0
        self.active = active
        self.timer.timeout.connect(self._tick)
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        if self.active() and self.last:
            self.lat.append(max(0.0, (now - self.last) / 1e6 - 10.0))
        self.last = now

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.lat


def in_thread(app, doc, loaded) -> tuple[float, list[float]]:
    import threading

    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(headless(doc, loaded)))
    probe = Probe(worker.is_alive)
    worker.start()
    while worker.is_alive():
        app.processEvents()
        time.sleep(0.001)
    return out[0], probe.stop()


def in_app(app, doc, window) -> tuple[float, list[float]]:
    from visionstudio.ui.training.session import session_for

    session = session_for(window.controller)
    window.controller.document.dataset, window.controller.document.training = doc.dataset, doc.training
    lat: list[float] = []
    probe = Probe(lambda: session.state == "running")
    assert session.train(), session.last_failure
    while session.job is not None:
        app.processEvents()
        time.sleep(0.001)
    lat = probe.stop()
    result = session.last_result
    assert result is not None and result.ok, session.last_failure
    return result.history[-1].step * doc.training.batch_size / result.elapsed_s, lat


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication, QSplitter

    app = QApplication(sys.argv[:1])
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from visionstudio.core.data.base import load_dataset
    from visionstudio.ui.controller import DocumentController
    from visionstudio.ui.plots import MetricsPlots
    from visionstudio.ui.training import TrainingPanel

    doc = project(args)
    loaded = load_dataset(doc.dataset, val_split=0.0, seed=0)
    controller = DocumentController(project(args))
    window = QSplitter()
    window.controller = controller
    window.addWidget(TrainingPanel(controller))
    window.addWidget(MetricsPlots(controller))
    window.resize(1400, 700)
    window.show()
    app.processEvents()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    print(f"classic CNN, shapes, {args.steps} steps x batch {args.batch_size}, device {device}, "
          f"torch threads {torch.get_num_threads()}", flush=True)
    headless(doc, loaded)                              # warm-up (allocator, kernels)
    ips: dict[str, list[float]] = {"app": [], "thread": [], "main": []}
    lat: dict[str, list[float]] = {"app": [], "thread": []}
    modes = ("app", "thread", "main")
    for rep in range(args.repeats):
        order = modes if rep % 2 == 0 else modes[::-1]
        for mode in order:
            if mode == "app":
                v, l = in_app(app, doc, window)
            elif mode == "thread":
                v, l = in_thread(app, doc, loaded)
            else:
                v, l = headless(doc, loaded), []
            ips[mode].append(v)
            if mode in lat:
                lat[mode].extend(l)
            print(f"  repeat {rep + 1} {mode:7s} {v:9.1f} images/s", flush=True)
    med = {k: statistics.median(v) for k, v in ips.items()}
    out = {"device": str(device), "steps": args.steps, "batch_size": args.batch_size,
           "torch_threads": torch.get_num_threads(), "images_per_s": med, "runs": ips,
           "ratio_app_vs_thread": med["app"] / med["thread"], "ratio_app_vs_main": med["app"] / med["main"]}
    print(f"throughput (median images/s): app {med['app']:.1f}, engine in a thread {med['thread']:.1f}, "
          f"engine on the main thread {med['main']:.1f}")
    print(f"  ratio app / engine-in-thread {out['ratio_app_vs_thread']:.3f}, app / engine-on-main "
          f"{out['ratio_app_vs_main']:.3f} (target >= 0.95)")
    for mode, values in lat.items():
        stats = {"ticks": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99),
                 "max_ms": max(values or [float("nan")])}
        out[f"latency_{mode}"] = stats
        print(f"event-loop latency, {mode} ({stats['ticks']} ticks): p50 {stats['p50_ms']:.1f} ms, "
              f"p99 {stats['p99_ms']:.1f} ms (target < 33), max {stats['max_ms']:.1f} ms")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    session = controller._training_session
    session.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
