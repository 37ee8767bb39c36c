"""Feature-map viewer: time to draw a sample's maps, and what the live viewer costs training.

    python benchmarks/feature_maps.py [--samples 30] [--rounds 2] [--epochs 4] [--skip-training]

1. Choose -> painted: for the classic CNN and the ResNet-style template, with "All conv
   layers" shown, the time from ``choose_sample(i)`` until the grid's viewport has
   received its next paint event (events processed in between); median / p90 / max
   over ``--samples`` validation samples after a warm-up. Also the share spent in the
   forward pass with hooks. Target: < 100 ms.
2. Training slowdown: the in-app RunController trains the classic CNN on Shapes
   (``--train-samples`` images, ``--epochs`` epochs) with the viewer closed (no
   viewer) and open (shown, a sample chosen, live refresh on), interleaved for
   ``--rounds`` rounds; the trainer's own images/s (from the run history) and the
   fit's wall time are compared. Target: <= 5% slower.

Runs headless (QT_QPA_PLATFORM=offscreen unless a display is set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from visionstudio.core.data.config import DatasetConfig


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def template_case(template: str):
    from visionstudio.core.templates import load_template

    return template, load_template(template), (1, 28, 28)


def resnet50_case(size: int = 224):
    """The generated ResNet-50 (175 layers, 25.6 M weights) on 3-channel Shapes at ``size``."""
    from big_networks import resnet50_document

    return "resnet50", resnet50_document(size), (3, size, size)


def draw_times(app, case, n: int) -> dict:
    from visionstudio.core.build import build_model
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.inspect import capture_activations
    from visionstudio.ui.features.demo import Demo, open_viewer
    from visionstudio.ui.features.feature_map_view import ALL_CONV
    from visionstudio.ui.features.state import _validation_only

    template, doc, shape = case
    doc.set_dataset(DatasetConfig("shapes", {"samples": 50, "val_samples": n + 20, "channels": shape[0],
                                             "image_size": shape[1]}))
    loaded = _validation_only(load_dataset(doc.dataset, val_split=0.1, seed=0, target_shape=shape))
    model = build_model(doc.graph, seed=0).eval()
    controller, view = open_viewer(Demo(doc, model, loaded, [], 0.0))
    view.resize(1400, 900)
    view.set_layer(ALL_CONV)
    view.show()
    for _ in range(20):
        app.processEvents()
    counter = PaintCounter()
    view.grid.viewport().installEventFilter(counter)
    layers = view.conv_layers()

    def one(i: int) -> float:
        before = counter.count
        t0 = time.perf_counter()
        view.choose_sample(i)
        deadline = t0 + 5.0
        while counter.count == before and time.perf_counter() < deadline:
            app.processEvents()
        return (time.perf_counter() - t0) * 1000

    for i in range(5):                        # warm-up
        one(n + i)
    times = [one(i) for i in range(n)]
    x = view.state.tensor
    fwd = []
    for _ in range(n):
        t0 = time.perf_counter()
        capture_activations(model, x)
        fwd.append((time.perf_counter() - t0) * 1000)
    channels = sum(view.grid.image_count(name) for name in layers)
    view.shutdown()
    view.close()
    view.deleteLater()
    app.processEvents()
    times.sort()
    return {"template": template, "layers": len(layers), "channels": channels,
            "median": statistics.median(times), "p90": times[int(0.9 * (len(times) - 1))],
            "max": times[-1], "forward_median": statistics.median(fwd)}


def training_round(app, open_viewer_: bool, train_samples: int, epochs: int, state_dir: Path) -> dict:
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.templates import load_template
    from visionstudio.ui.features import FeatureMapView
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.training.run_controller import runs_for

    doc = load_template("classic_cnn")
    doc.set_dataset(DatasetConfig("shapes", {"samples": train_samples, "val_samples": 300}))
    doc.set_training(doc.training.replace(epochs=epochs, device="cpu", batch_size=64))
    controller = DocumentController(doc)
    view = None
    refreshes = []
    if open_viewer_:
        view = FeatureMapView(controller)
        view.resize(1400, 900)
        view.show()
        deadline = time.time() + 120
        while view.state.sample is None and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
        view.state.live_updated.connect(refreshes.append)
    session = runs_for(controller)
    gui_cpu0 = time.thread_time()
    assert session.train(), session.last_failure
    session.wait(600_000)
    gui_cpu = time.thread_time() - gui_cpu0     # GUI thread's CPU time during the run
    result = session.last_result
    hist = result.history
    ips = statistics.mean(r.images_per_s for r in hist[1:] or hist)   # epoch 1 warms up
    out = {"open": open_viewer_, "images_per_s": ips, "fit_s": result.elapsed_s,
           "refreshes": len(refreshes), "gui_cpu_s": gui_cpu,
           "frames": len(view.state.timelapse) if view is not None else 0}
    if view is not None:
        view.shutdown()
        view.close()
        view.deleteLater()
    app.processEvents()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train-samples", type=int, default=4000)
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--resnet50-samples", type=int, default=10,
                    help="samples timed on the generated ResNet-50 at 3x224x224")
    ap.add_argument("--no-resnet50", action="store_true")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads before drawing (0: torch's default). On a loaded 2-core "
                         "machine 2 threads can be 10x slower than 1 (threads wait for a busy core)")
    ap.add_argument("--only-resnet50", action="store_true",
                    help="only the ResNet-50 draw (implies no training part)")
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"platform {app.platformName()}, load average {os.getloadavg()[0]:.1f}", flush=True)
    print("\n1. choose a sample -> all conv layers painted (ms)")
    cases = [] if args.only_resnet50 else [template_case("classic_cnn"), template_case("small_resnet")]
    cases += [] if args.no_resnet50 else [resnet50_case()]
    for case in cases:
        big = case[0] == "resnet50"
        r = draw_times(app, case, args.resnet50_samples if big else args.samples)
        target = " (target < 500)" if big else ""
        print(f"  {r['template']:13s} {r['layers']} conv layers, {r['channels']} channels: "
              f"median {r['median']:.1f}  p90 {r['p90']:.1f}  max {r['max']:.1f}  "
              f"(forward with hooks {r['forward_median']:.1f}){target}", flush=True)
    if args.skip_training or args.only_resnet50:
        return 0
    print(f"\n2. training slowdown, live viewer open vs closed (classic CNN, Shapes "
          f"{args.train_samples} images, {args.epochs} epochs, interleaved)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_STATE_HOME"] = tmp
        for open_ in (False, True):                     # warm-up (imports, first-run costs)
            training_round(app, open_, max(600, args.train_samples // 4), 1, Path(tmp))
        results = []
        for r in range(args.rounds):
            for open_ in (False, True) if r % 2 == 0 else (True, False):
                res = training_round(app, open_, args.train_samples, args.epochs, Path(tmp))
                results.append(res)
                print(f"  round {r + 1} viewer {'open  ' if open_ else 'closed'}: "
                      f"{res['images_per_s']:7.0f} images/s, fit {res['fit_s']:.1f} s, "
                      f"GUI thread CPU {res['gui_cpu_s']:.2f} s"
                      + (f", {res['refreshes']} redraws, {res['frames']} time-lapse frames" if open_ else ""),
                      flush=True)
    pairs = [(results[i], results[i + 1]) for i in range(0, len(results), 2)]
    ratios = []
    for a, b in pairs:
        o, c = (a, b) if a["open"] else (b, a)
        ratios.append(o["images_per_s"] / c["images_per_s"])
    print("  per-round open/closed images/s: " + ", ".join(f"{r:.3f}" for r in ratios)
          + f"; median {statistics.median(ratios):.3f} "
            f"(slowdown {(1 - statistics.median(ratios)) * 100:+.1f}%)")
    closed = statistics.median(r["images_per_s"] for r in results if not r["open"])
    opened = statistics.median(r["images_per_s"] for r in results if r["open"])
    fit_c = statistics.median(r["fit_s"] for r in results if not r["open"])
    fit_o = statistics.median(r["fit_s"] for r in results if r["open"])
    print(f"  median images/s closed {closed:.0f}, open {opened:.0f}: slowdown "
          f"{(1 - opened / closed) * 100:+.1f}% ; fit time {fit_c:.1f} s vs {fit_o:.1f} s "
          f"({(fit_o / fit_c - 1) * 100:+.1f}%)")
    gui_c = statistics.median(r["gui_cpu_s"] for r in results if not r["open"])
    gui_o = statistics.median(r["gui_cpu_s"] for r in results if r["open"])
    print(f"  GUI-thread CPU during the run: closed {gui_c:.2f} s, open {gui_o:.2f} s -> the viewer's "
          f"own work is {gui_o - gui_c:.2f} s = {(gui_o - gui_c) / fit_o * 100:.1f}% of the fit time "
          f"(an upper bound on what it can take from training)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
