"""A ResNet-50-sized network built from the library's own layers, for the "bigger networks"
benchmarks and tests (issue #14, item 4).

``resnet50_document()`` returns a project whose graph is torchvision's ``resnet50``
architecture expressed in VisionStudio layers: a 7×7/2 stem, a 3×3/2 max-pool, 16
bottleneck blocks (1×1 → 3×3 → 1×1 convolutions, each followed by batch norm, an Add
merge with the shortcut, then ReLU; a 1×1 projection + batch norm on the first block of
each stage), global average pooling and a 1000-way Dense layer — 175 layers at 3×224×224.
With torchvision's stride placement (the stride on the 3×3 convolution) the parameter
count equals ``torchvision.models.resnet50()``'s 25,557,032, which the tests check, so the
graph is known to be the real architecture rather than something merely of its size.

Importing this module needs only the core (no Qt); the graph is generated in code rather
than shipped as a template, laid out like the hand-made templates (main path in one
column, projections beside it).

Run as a script it is the item-4 benchmark (Qt offscreen):

    python benchmarks/big_networks.py [--runs 200] [--rounds 3] [--fm-samples 10] [--threads N]

  full shape analysis and one SetParam edit + re-analysis (median ms; target < 10 ms),
  the canvas (GraphView) built from the file and painted once (``grab()``; target < 1 s),
  a whole new main window doing the same,
  opening it into an existing window (vs the classic CNN, interleaved), and one sample ->
  all 53 conv layers' feature maps painted (benchmarks/feature_maps.py; target < 500 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from visionstudio.core.graph import AddNode, Connect, GraphModel
from visionstudio.core.project.document import ProjectDocument

RESNET50_PARAMS = 25_557_032          # torchvision.models.resnet50(num_classes=1000)
ROW, COLUMN = 130.0, 240.0            # the templates' spacing
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))   # width, blocks, stride


class _Builder:
    def __init__(self) -> None:
        self.graph = GraphModel()
        self.row = 0

    def add(self, kind: str, name: str, *inputs: str, column: int = 0, **params) -> str:
        cmd = AddNode(kind, (column * COLUMN, self.row * ROW), name=name, params=params or None)
        cmd.apply(self.graph)
        self.row += column == 0
        for src in inputs:
            Connect(src, cmd.node_id).apply(self.graph)
        return cmd.node_id

    def conv_bn(self, name: str, x: str, out: int, k: int, stride: int = 1, column: int = 0) -> str:
        x = self.add("conv2d", f"{name}_conv", x, column=column, out_channels=out, kernel_size=k,
                     stride=stride, padding=k // 2, bias=False)
        return self.add("batchnorm2d", f"{name}_bn", x, column=column)


def bottleneck(b: _Builder, name: str, x: str, cin: int, width: int, stride: int) -> str:
    out = width * 4
    shortcut = x
    if stride != 1 or cin != out:
        saved = b.row
        shortcut = b.conv_bn(f"{name}_down", x, out, 1, stride, column=1)
        b.row = saved
    y = b.add("relu", f"{name}_relu1", b.conv_bn(f"{name}_1", x, width, 1))
    y = b.add("relu", f"{name}_relu2", b.conv_bn(f"{name}_2", y, width, 3, stride))
    y = b.conv_bn(f"{name}_3", y, out, 1)
    y = b.add("add", f"{name}_add", y, shortcut)
    return b.add("relu", f"{name}_out", y)


def resnet50_graph(size: int = 224, classes: int = 1000) -> GraphModel:
    """torchvision's ResNet-50 as a VisionStudio graph (175 layers)."""
    b = _Builder()
    x = b.add("input", "input", channels=3, height=size, width=size)
    x = b.add("relu", "stem_relu", b.conv_bn("stem", x, 64, 7, 2))
    x = b.add("maxpool2d", "stem_pool", x, kernel_size=3, stride=2, padding=1)
    cin = 64
    for s, (width, blocks, stride) in enumerate(STAGES, start=1):
        for i in range(blocks):
            x = bottleneck(b, f"layer{s}_{i}", x, cin, width, stride if i == 0 else 1)
            cin = width * 4
    x = b.add("global_avgpool", "gap", x)
    b.add("dense", "fc", x, units=classes, activation="none")
    return b.graph


def resnet50_document(size: int = 224, classes: int = 1000) -> ProjectDocument:
    return ProjectDocument(graph=resnet50_graph(size, classes), name="ResNet-50 (generated)",
                           description="torchvision's ResNet-50 built from VisionStudio layers.")


def _ms(fn, *args):
    """(wall ms, this thread's CPU ms, result): CPU time is what a loaded machine cannot inflate."""
    w0, c0 = time.perf_counter(), time.thread_time()
    out = fn(*args)
    return (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000, out


def time_analysis(graph: GraphModel, runs: int) -> dict[str, float]:
    """Median wall / CPU ms of a full analyze() and of a SetParam edit + re-analysis."""
    from visionstudio.core.commands import UndoHistory
    from visionstudio.core.graph import SetParam, analyze
    from visionstudio.core.project import ProjectDocument

    conv = next(n.id for n in graph.nodes.values() if n.kind == "conv2d")
    history = UndoHistory(ProjectDocument(graph=graph))
    full, edit = [], []
    for i in range(runs):                      # interleaved: noise hits both alike
        full.append(_ms(analyze, graph)[:2])
        edit.append(_ms(lambda i=i: (history.push(SetParam(conv, "out_channels", 64 + i % 2)),
                                     analyze(graph)))[:2])
    return {"full": statistics.median(w for w, _ in full), "full_cpu": statistics.median(c for _, c in full),
            "edit": statistics.median(w for w, _ in edit), "edit_cpu": statistics.median(c for _, c in edit)}


def canvas_only(app, path: Path) -> tuple[float, float]:
    """(wall ms, GUI-thread CPU ms) from reading ``path`` to a GraphView (the canvas alone)
    built, shown, fitted and painted once via grab(). CPU time is what a loaded machine
    cannot inflate."""
    from visionstudio.core.project import load_project
    from visionstudio.ui.canvas.view import GraphView
    from visionstudio.ui.shell.controller import DocumentController

    w0, c0 = time.perf_counter(), time.thread_time()
    view = GraphView(DocumentController(load_project(path)))
    view.resize(1000, 800)
    view.show()
    app.processEvents()
    view.fit_to_view()
    image = view.grab()
    wall, cpu = (time.perf_counter() - w0) * 1000, (time.thread_time() - c0) * 1000
    assert not image.isNull()
    view.close()
    view.deleteLater()
    app.processEvents()
    return wall, cpu


def open_in_window(app, path: Path, window=None) -> tuple[float, object]:
    """ms from reading ``path`` until the main window (canvas, summary, inspector) has been
    painted once via grab(): a new window when ``window`` is None, else opened into it."""
    from PySide6.QtCore import QSettings

    from visionstudio.core.project import load_project
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.shell.main_window import MainWindow

    t0 = time.perf_counter()
    doc = load_project(path)
    if window is None:
        settings = QSettings(str(path.with_suffix(".ini")), QSettings.Format.IniFormat)
        window = MainWindow(DocumentController(doc), settings=settings, recovery_dir=path.parent)
        window.resize(1400, 900)
        window.show()
    else:
        window.controller.replace_document(doc, path)
    app.processEvents()
    window.frame_document()
    image = window.grab()
    ms = (time.perf_counter() - t0) * 1000
    assert not image.isNull()
    return ms, window


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="ResNet-50-sized graph: analysis, canvas, feature maps")
    ap.add_argument("--runs", type=int, default=200, help="analysis repetitions")
    ap.add_argument("--rounds", type=int, default=3, help="canvas open rounds (interleaved with a small one)")
    ap.add_argument("--fm-samples", type=int, default=10, help="feature-map draws timed (0: skip)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")
    import torch
    from PySide6.QtWidgets import QApplication

    from visionstudio.core.project.io import save_project
    from visionstudio.core.templates import load_template

    if args.threads:
        torch.set_num_threads(args.threads)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    doc = resnet50_document()
    print(f"ResNet-50 graph: {len(doc.graph.nodes)} layers, {len(doc.graph.edges)} connections, 3x224x224; "
          f"torch {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}", flush=True)
    t = time_analysis(doc.graph, args.runs)
    print(f"  full shape analysis            {t['full']:8.2f} ms wall, {t['full_cpu']:.2f} ms CPU, "
          f"median of {args.runs} (target < 10)")
    print(f"  SetParam edit + re-analysis    {t['edit']:8.2f} ms wall, {t['edit_cpu']:.2f} ms CPU "
          f"(target < 10)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "resnet50.vsproj", Path(tmp) / "classic.vsproj"
        save_project(doc, big)
        save_project(load_template("classic_cnn"), small)
        _, warm = open_in_window(app, small)               # imports, first-window costs
        times: dict[str, list[float]] = {"new": [], "open": [], "small": [], "canvas": [], "canvas_cpu": [],
                                         "canvas_small": [], "canvas_small_cpu": []}
        for _ in range(args.rounds):
            wall, cpu = canvas_only(app, big)
            times["canvas"].append(wall)
            times["canvas_cpu"].append(cpu)
            wall, cpu = canvas_only(app, small)
            times["canvas_small"].append(wall)
            times["canvas_small_cpu"].append(cpu)
            ms, window = open_in_window(app, big)
            times["new"].append(ms)
            window.controller.undo_stack.setClean()
            window.close()
            window.deleteLater()
            app.processEvents()
            times["small"].append(open_in_window(app, small, warm)[0])
            times["open"].append(open_in_window(app, big, warm)[0])
            warm.controller.undo_stack.setClean()
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"  canvas open + first paint      {med['canvas']:8.1f} ms wall, "
              f"{med['canvas_cpu']:.1f} ms CPU, "
              f"median of {args.rounds} (target < 1000; classic CNN {med['canvas_small']:.1f} ms wall, "
              f"{med['canvas_small_cpu']:.1f} ms CPU)")
        print(f"  new main window + first paint  {med['new']:8.1f} ms wall (every panel, the feature-map "
              f"and training docks included)")
        print(f"  open into the window + paint   {med['open']:8.1f} ms (classic CNN {med['small']:.1f} ms, "
              f"ratio {med['open'] / med['small']:.1f}x)", flush=True)
        warm.close()
    if args.fm_samples:
        import feature_maps

        r = feature_maps.draw_times(app, feature_maps.resnet50_case(), args.fm_samples)
        print(f"  one sample -> {r['layers']} conv layers painted ({r['channels']} channels): median "
              f"{r['median']:.0f} ms, p90 {r['p90']:.0f}, max {r['max']:.0f} (forward with hooks "
              f"{r['forward_median']:.0f}) (target < 500)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
