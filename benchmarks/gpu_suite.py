"""One benchmark for the day a GPU is lent: every figure of issue #14's "GPU readiness" in
one table, measured side by side in one run. Needs nothing from the network and installs
nothing (synthetic data, the repository's own templates).

    python benchmarks/gpu_suite.py [--device auto|cuda|cpu] [--quick] [--no-compile]
                                   [--samples N] [--batch-size N] [--rounds N]

Figures (one line each in the table):

- engine: VisionStudio's ``Trainer.fit`` — uint8 data resident on the device and
  normalised there, bf16 autocast on CUDA (float32 on the CPU, which the trainer says),
  channels_last, the fused optimizer on CUDA, no per-batch host sync (losses read in one
  ``.tolist()`` per report) — on CIFAR-shaped random data (3×32×32, 10 classes) with
  the Small ResNet template;
- idiomatic: TensorDataset + DataLoader(shuffle) of float32 images, ``.to(device)`` and
  ``loss.item()`` every batch, float32, the same network;
- both again under ``torch.compile`` (skipped on the CPU unless ``--compile``: the
  compile time would be most of a CPU run; ``--no-compile`` skips it everywhere);
- app / CLI: the in-app RunController (worker thread, dashboard shown offscreen) vs
  the engine on the main thread of its own process (what ``visionstudio train`` does;
  ``--quick``: of this process), via benchmarks/gui_training.py's own functions;
- feature maps: one sample -> every layer's activation (``capture_activations``), for
  the Small ResNet at 3×32×32 and the generated ResNet-50 at 3×224×224;
- peak memory: ``torch.cuda.max_memory_allocated`` of the engine's fit and of the
  idiomatic loop's (CUDA), or the process's peak RSS (CPU).

Throughputs are medians over ``--rounds`` interleaved rounds, after a warm-up round.
Target on a GPU: engine >= 3x the idiomatic loop. ``--quick`` (CPU, about a minute) is
what tests/e2e/test_gpu_suite_smoke.py runs to check that every line is printed.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ.setdefault("VISIONSTUDIO_NO_RECOVERY_PROMPT", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from train_throughput import run_idiomatic, sync  # noqa: E402  - the same loop as train_throughput's

from visionstudio.core.build import build_model  # noqa: E402
from visionstudio.core.training.config import TrainingConfig  # noqa: E402
from visionstudio.core.training.feed import TrainData  # noqa: E402
from visionstudio.core.training.trainer import Trainer  # noqa: E402

LINES = ("engine", "idiomatic", "engine / idiomatic", "engine compiled", "idiomatic compiled",
         "compiled engine / idiomatic", "app / CLI", "feature maps small_resnet",
         "feature maps resnet50", "peak memory engine", "peak memory idiomatic")
SHAPE = (3, 32, 32)


def small_resnet() -> torch.nn.Module:
    """The Small ResNet template at 3×32×32, ending in raw scores (for both loops)."""
    from visionstudio.core.templates import load_template

    graph = load_template("small_resnet").graph.copy()
    for node in graph.nodes.values():
        if node.kind == "input":
            node.params.update(channels=SHAPE[0], height=SHAPE[1], width=SHAPE[2])
        if node.kind == "dense" and node.params.get("activation") == "softmax":
            node.params["activation"] = "none"
    return build_model(graph, seed=0)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak(device: torch.device) -> float:
    """MiB: the CUDA allocator's peak since the last reset, or the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(model, x_u8, y, device, batch) -> float:
    precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else \
        "fp16" if device.type == "cuda" else "off"
    cfg = TrainingConfig.from_dict({"epochs": 1, "batch_size": batch, "device": str(device),
                                    "mixed_precision": precision, "val_split": 0.0,
                                    "optimizer": {"key": "adam", "params": {"lr": 1e-3}}})
    data = TrainData.from_tensors(x_u8, y, num_classes=10)
    data.mean, data.std = (0.5,) * SHAPE[0], (0.25,) * SHAPE[0]
    sync(device)
    t0 = time.perf_counter()
    result = Trainer(model, cfg, report_interval_s=0.5).fit(data)
    sync(device)
    assert result.ok, result.failure
    return x_u8.shape[0] / (time.perf_counter() - t0)


def throughput(base, x_u8, x_f, y, device, args, compiled: bool) -> tuple[dict, dict]:
    """Interleaved rounds of both loops after a warm-up: medians (images/s) and peaks (MiB).

    Compiled: each loop keeps one ``torch.compile`` module for the warm-up (which pays the
    compilation) and every round, its weights reset from ``base`` before each run, so the
    rounds time training, not recompilation (a new module would miss dynamo's guards)."""
    initial = copy.deepcopy(base.state_dict())
    models = {name: copy.deepcopy(base) for name in ("engine", "idiomatic")}
    wrapped = {name: torch.compile(m) if compiled else m for name, m in models.items()}
    fns = {"engine": (run_engine, x_u8), "idiomatic": (run_idiomatic, x_f)}

    def once(name: str, n: int) -> float:
        models[name].load_state_dict(initial)
        fn, data = fns[name]
        return fn(wrapped[name], data[:n], y[:n], device, args.batch_size)

    warm = max(args.batch_size * 4, min(len(y), 1024))
    once("engine", warm)
    once("idiomatic", warm)
    runs: dict[str, list[float]] = {"engine": [], "idiomatic": []}
    peaks: dict[str, float] = {}
    for r in range(args.rounds):
        for name in ("engine", "idiomatic") if r % 2 == 0 else ("idiomatic", "engine"):
            reset_peak(device)
            runs[name].append(once(name, len(y)))
            peaks[name] = max(peaks.get(name, 0.0), peak(device))
    return {k: statistics.median(v) for k, v in runs.items()}, peaks


def app_vs_cli(device: torch.device, quick: bool) -> tuple[float, str]:
    """gui_training.py's app run (RunController + dashboard, offscreen) vs its headless run."""
    import gui_training
    from PySide6.QtWidgets import QApplication, QSplitter

    from visionstudio.core.data.registry import load_dataset
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.controller import DocumentController
    from visionstudio.ui.training.panel import TrainingPanel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    spec = SimpleNamespace(steps=8 if quick else 60, batch_size=64, device=str(device), threads=0)
    doc = gui_training.project(spec)
    loaded = load_dataset(doc.dataset, val_split=0.0, seed=0)
    controller = DocumentController(gui_training.project(spec))
    window = QSplitter()
    window.controller = controller
    window.addWidget(TrainingPanel(controller))
    window.addWidget(MetricsPlots(controller))
    window.resize(1400, 700)
    window.show()
    app.processEvents()
    gui_training.headless(doc, loaded)                      # warm-up
    app_ips, cli_ips, lat = [], [], []
    for r in range(1 if quick else 3):
        for mode in ("app", "cli") if r % 2 == 0 else ("cli", "app"):
            if mode == "app":
                v, ticks = gui_training.in_app(app, doc, window)
                app_ips.append(v)
                lat.extend(ticks)
            elif quick:                                     # the engine on this main thread
                cli_ips.append(gui_training.headless(doc, loaded))
            else:                                           # `visionstudio train`'s way: its own process
                cli_ips.append(gui_training.in_cli(spec))
    from visionstudio.ui.training.run_controller import runs_for

    runs_for(controller).shutdown()
    window.close()
    a, c = statistics.median(app_ips), statistics.median(cli_ips)
    p99 = gui_training.pct(lat, 0.99)
    return a / c, (f"classic CNN on Shapes, {spec.steps} steps x 64: app {a:,.0f} vs CLI {c:,.0f} images/s; "
                   f"event-loop p99 {p99:.1f} ms")


def feature_map_ms(model, shape, device, repeats: int) -> float:
    from visionstudio.core.inspect import capture_activations

    model = model.to(device).eval()
    x = torch.rand(shape)
    capture_activations(model, x)                           # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        acts, _out = capture_activations(model, x)          # arrays come back to the host
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="small sizes (CPU smoke run, ~1 min)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile lines")
    ap.add_argument("--compile", action="store_true", help="run the torch.compile lines on the CPU too")
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--no-app", action="store_true", help="skip the app / CLI line")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    gpu = device.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True
    args.samples = args.samples or (32768 if gpu else 256 if args.quick else 2048)
    args.batch_size = args.batch_size or (512 if gpu else 64 if args.quick else 128)
    args.rounds = args.rounds or (1 if args.quick else 3)
    compile_why = ("--no-compile" if args.no_compile else
                   "CPU: compile time would dominate the run; pass --compile" if not gpu and not args.compile
                   else None)
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"gpu_suite: {name}, torch {torch.__version__}, Small ResNet at {'x'.join(map(str, SHAPE))}, "
          f"{args.samples} samples, batch {args.batch_size}, {args.rounds} round(s), "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    g = torch.Generator().manual_seed(0)
    x_u8 = torch.randint(0, 256, (args.samples, *SHAPE), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (args.samples,), generator=g)
    x_f = (x_u8.float() / 255 - 0.5) / 0.25
    base = small_resnet()
    rows: list[tuple[str, str, str]] = []

    def row(label: str, value: str, note: str = "") -> None:
        rows.append((label, value, note))
        print(f"  [{time.perf_counter() - t_start:5.1f} s] {label}: {value} {note}", flush=True)

    eager, peaks = throughput(base, x_u8, x_f, y, device, args, compiled=False)
    precision = "bf16/fp16 autocast" if gpu else "float32 (autocast is CUDA-only)"
    row("engine", f"{eager['engine']:,.0f} images/s", f"Trainer, uint8 on device, {precision}, channels_last")
    row("idiomatic", f"{eager['idiomatic']:,.0f} images/s", "DataLoader, float32, .item() per batch")
    row("engine / idiomatic", f"{eager['engine'] / eager['idiomatic']:.2f}x",
        "target >= 3x on a GPU" if gpu else "(the 3x target is for a GPU)")
    if compile_why is None:
        comp, _ = throughput(base, x_u8, x_f, y, device, args, compiled=True)
        row("engine compiled", f"{comp['engine']:,.0f} images/s",
            f"torch.compile; {comp['engine'] / eager['engine']:.2f}x eager engine")
        row("idiomatic compiled", f"{comp['idiomatic']:,.0f} images/s",
            f"torch.compile; {comp['idiomatic'] / eager['idiomatic']:.2f}x eager idiomatic")
        row("compiled engine / idiomatic", f"{comp['engine'] / comp['idiomatic']:.2f}x",
            f"vs eager idiomatic {comp['engine'] / eager['idiomatic']:.2f}x")
    else:
        for label in ("engine compiled", "idiomatic compiled", "compiled engine / idiomatic"):
            row(label, "skipped", compile_why)
    if args.no_app:
        row("app / CLI", "skipped", "--no-app")
    else:
        ratio, note = app_vs_cli(device, args.quick)
        row("app / CLI", f"{ratio:.2f}x", note + " (target >= 0.95)")
    repeats = 3 if args.quick else 10
    row("feature maps small_resnet", f"{feature_map_ms(small_resnet(), SHAPE, device, repeats):.1f} ms",
        "one 3x32x32 sample -> every layer's activation on the host")
    from big_networks import resnet50_graph

    big = build_model(resnet50_graph(), seed=0)
    big_ms = feature_map_ms(big, (3, 224, 224), device, 1 if args.quick else 5)
    row("feature maps resnet50", f"{big_ms:.1f} ms",
        "one 3x224x224 sample -> all 175 layers' activations on the host")
    unit = "CUDA max_memory_allocated" if gpu else "process peak RSS (the whole run so far)"
    row("peak memory engine", f"{peaks['engine']:,.0f} MiB", unit)
    row("peak memory idiomatic", f"{peaks['idiomatic']:,.0f} MiB", unit)
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':>{vwidth}}  note")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>{vwidth}}  {note}")
    print(f"total {time.perf_counter() - t_start:.0f} s, load average {os.getloadavg()[0]:.1f}"
          + (" (--quick: one short round per figure, a smoke run; the ratios are indicative only)"
             if args.quick else ""))
    assert [r[0] for r in rows] == list(LINES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
