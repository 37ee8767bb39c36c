"""Demo data for the feature-map viewer: the classic CNN trained briefly on Shapes.

``train_demo`` trains with the core Trainer (no Qt) and records the time-lapse the
way the live viewer does at each epoch end; ``run_demo`` opens the viewer alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Demo:
    document: Any
    model: Any
    loaded: Any               # what InspectionState.set_dataset takes
    frames: list              # [(epoch, activations, probabilities)] for sample 0
    seconds: float
    val_accuracy: float | None = None


def small_shapes(document, samples: int = 1200, val_samples: int = 300, channels: int = 1):
    from visionstudio.core.data.config import DatasetConfig

    document.set_dataset(DatasetConfig("shapes", {"samples": samples, "val_samples": val_samples,
                                                  "channels": channels}))
    return document


def train_demo(template: str = "classic_cnn", epochs: int = 3, samples: int = 3000,
               val_samples: int = 300, sample_index: int = 0, lr: float = 3e-3,
               progress=None, cancelled=None) -> Demo:
    """``progress(fraction, text)`` hears of each epoch; ``cancelled()`` true stops the
    training at the next batch (a background task's state gives both)."""
    import time

    from visionstudio.core.build import build_model
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.inspect import capture_activations, class_probabilities, prepare_sample
    from visionstudio.core.templates import load_template
    from visionstudio.core.training.callbacks import Callback
    from visionstudio.core.training.config import TrainingConfig
    from visionstudio.core.training.trainer import Trainer
    from visionstudio.ui.features.state import _validation_only

    doc = small_shapes(load_template(template), samples, val_samples)
    t0 = time.perf_counter()
    loaded = load_dataset(doc.dataset, val_split=doc.training.val_split, seed=0, target_shape=(1, 28, 28))
    view = _validation_only(loaded)
    x = prepare_sample(view.val_images[sample_index].numpy(), view.mean, view.std)
    model = build_model(doc.graph, seed=0)
    frames = []

    class Record(Callback):
        def on_fit_start(self, trainer, record):
            acts, out = capture_activations(trainer.model, x)
            frames.append((0, acts, class_probabilities(out)))

        def on_epoch_start(self, trainer, epoch):
            if progress is not None:
                progress((epoch - 1) / epochs, f"Training the demo network: epoch {epoch} of {epochs}…")

        def on_batch_end(self, trainer, record):
            if cancelled is not None and cancelled():
                trainer.control.request_stop()

        def on_epoch_end(self, trainer, record):
            acts, out = capture_activations(trainer.model, x)
            frames.append((record.epoch, acts, class_probabilities(out)))

    cfg = TrainingConfig().replace(epochs=epochs, batch_size=64, device="cpu",
                                   optimizer={"key": "adam", "params": {"lr": lr}})
    result = Trainer(model, cfg, callbacks=[Record()]).fit(loaded)
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    acc = result.history[-1].val_accuracy if result.history else None
    return Demo(doc, model, view, frames, time.perf_counter() - t0, acc)


def cached_demo(cache_dir, template: str = "classic_cnn", epochs: int = 3, **kw) -> Demo:
    """``train_demo`` once, then its weights (safetensors) and time-lapse (npz) from
    ``cache_dir`` — for repeated screenshots."""
    import json
    from pathlib import Path

    import numpy as np
    from safetensors.torch import load_file, save_file

    from visionstudio.core.build import build_model
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.inspect import Activation
    from visionstudio.core.templates import load_template
    from visionstudio.ui.features.state import _validation_only

    root = Path(cache_dir) / (f"{template}-{epochs}-{kw.get('samples', 3000)}"
                              f"-s{kw.get('sample_index', 0)}")
    if (root / "meta.json").exists():
        meta = json.loads((root / "meta.json").read_text())
        doc = small_shapes(load_template(template), meta["samples"], meta["val_samples"])
        model = build_model(doc.graph, seed=0)
        model.load_state_dict(load_file(root / "weights.safetensors"))
        model.eval()
        loaded = _validation_only(load_dataset(doc.dataset, val_split=doc.training.val_split,
                                                seed=0, target_shape=(1, 28, 28)))
        frames = []
        with np.load(root / "frames.npz") as z:
            for epoch in meta["epochs"]:
                acts = {k.split("/", 1)[1]: Activation(k.split("/", 1)[1], z[k].astype(np.float32))
                        for k in z.files if k.startswith(f"{epoch}/") and not k.endswith("/__probs__")}
                frames.append((epoch, acts, z[f"{epoch}/__probs__"]))
        return Demo(doc, model, loaded, frames, 0.0, meta["val_accuracy"])
    demo = train_demo(template, epochs, **kw)
    root.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in demo.model.state_dict().items()}, root / "weights.safetensors")
    arrays = {}
    for epoch, acts, probs in demo.frames:
        arrays[f"{epoch}/__probs__"] = probs
        arrays.update({f"{epoch}/{n}": a.array.astype(np.float16) for n, a in acts.items()})
    np.savez(root / "frames.npz", **arrays)
    (root / "meta.json").write_text(json.dumps({
        "samples": kw.get("samples", 3000), "val_samples": kw.get("val_samples", 300),
        "epochs": [e for e, _a, _p in demo.frames], "val_accuracy": demo.val_accuracy}))
    return demo


def open_viewer(demo: Demo, sample_index: int = 0):
    from visionstudio.ui.features.feature_map_view import FeatureMapView
    from visionstudio.ui.shell.controller import DocumentController

    controller = DocumentController(demo.document)
    view = FeatureMapView(controller)
    st = view.state
    st._dataset_key = st._wanted_dataset_key()     # given, not loaded
    acc = f", validation accuracy {demo.val_accuracy:.0%}" if demo.val_accuracy is not None else ""
    st.set_model(demo.model, f"demo: {len(demo.frames) - 1} epochs on Shapes{acc}")
    st.set_dataset(demo.loaded)
    view.choose_sample(sample_index)
    for epoch, acts, probs in demo.frames:
        st.timelapse.add(epoch, acts, probs)
    st.timelapse_changed.emit()
    return controller, view


def _arguments(argv: list[str] | None):
    import argparse

    parser = argparse.ArgumentParser(description="Feature-map viewer demo")
    parser.add_argument("--template", default="classic_cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--tab", default="maps", choices=["maps", "filters", "prediction", "gradcam",
                                                          "evaluation"])
    parser.add_argument("--layer", default=None)
    parser.add_argument("--channel", type=int, default=None)
    parser.add_argument("--samples", type=int, default=3000, help="training images")
    parser.add_argument("--cache", default=None, help="folder to keep the trained demo in")
    return parser.parse_args(argv if argv is not None else sys.argv[1:])


def _trained(state, args) -> Demo:
    """The demo network, trained (or read from the cache) on a background thread."""
    if args.cache:
        return cached_demo(args.cache, args.template, args.epochs, samples=args.samples,
                           sample_index=args.sample)
    return train_demo(args.template, args.epochs, samples=args.samples, sample_index=args.sample,
                      progress=state.set_progress, cancelled=lambda: state.cancelled)


def _show_viewer(window, args, demo: Demo) -> None:
    """Swap the waiting line for the viewer on the trained demo, on the chosen tab."""
    controller, view = open_viewer(demo, args.sample)
    window.demo = (controller, view)
    window.layout().takeAt(0).widget().deleteLater()
    window.layout().addWidget(view)
    if args.layer:
        view.set_layer(args.layer)
    tabs = {"maps": 0, "filters": 1, "prediction": 2, "gradcam": 3, "evaluation": 4}
    view.tabs.setCurrentIndex(tabs[args.tab])
    if args.channel is not None:
        layer = view.shown_layers()[0]
        view.grid.select(layer, args.channel)
        view._on_grid_channel_clicked(layer, args.channel)
    if args.tab == "evaluation":
        view.evaluation.run_evaluation()


def run_demo(argv: list[str] | None = None) -> int:  # pragma: no cover - manual launcher
    """The window shows at once with what it is waiting for; the demo network trains on
    a background task and the viewer takes the window's place when it is ready."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

    from visionstudio.ui.shell.launch import quit_demo_later
    from visionstudio.ui.shell.tasks import run_task, wait_all

    args = _arguments(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QWidget()
    window.setWindowTitle("VisionStudio — feature maps (demo)")
    waiting = QLabel(f"Training the demo network ({args.epochs} epochs on Shapes)…")
    waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
    QVBoxLayout(window).addWidget(waiting)
    room = app.primaryScreen().availableGeometry()
    window.resize(min(1500, room.width()), min(950, room.height()))
    window.show()

    def ready(demo: Demo) -> None:
        _show_viewer(window, args, demo)
        quit_demo_later()                 # a test's clock starts once the viewer is up

    def failed(exc: BaseException) -> None:
        waiting.setText(f"The demo network could not be trained: {exc}")
        quit_demo_later(lambda: app.exit(1))

    run_task(_trained, args, name="feature-maps-demo", parent=window, report_errors=False,
             on_finished=ready, on_failed=failed,
             on_progress=lambda _f, text: waiting.setText(text) if text else None)
    app.aboutToQuit.connect(lambda: wait_all(10_000))
    return app.exec()
