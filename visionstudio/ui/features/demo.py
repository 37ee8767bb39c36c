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


def small_shapes(document, samples: int = 1200, val_samples: int = 300, channels: int = 1):
    from ...core.data.config import DatasetConfig

    document.set_dataset(DatasetConfig("shapes", {"samples": samples, "val_samples": val_samples,
                                                  "channels": channels}))
    return document


def train_demo(template: str = "classic_cnn", epochs: int = 3, samples: int = 3000,
               val_samples: int = 300, sample_index: int = 0, lr: float = 2e-3) -> Demo:
    import time

    from ...core.build import build_model
    from ...core.inspect import capture_activations, class_probabilities, prepare_sample
    from ...core.templates import load_template
    from ...core.training.config import TrainingConfig
    from ...core.training.trainer import Callback, Trainer
    from ..training import datasets
    from .state import _validation_only

    doc = small_shapes(load_template(template), samples, val_samples)
    t0 = time.perf_counter()
    loaded = datasets.load(doc.dataset, val_split=doc.training.val_split, seed=0, target_shape=(1, 28, 28))
    view = _validation_only(loaded)
    x = prepare_sample(view.val_images[sample_index].numpy(), view.mean, view.std)
    model = build_model(doc.graph, seed=0)
    frames = []

    class Record(Callback):
        def on_fit_start(self, trainer, record):
            acts, out = capture_activations(trainer.model, x)
            frames.append((0, acts, class_probabilities(out)))

        def on_epoch_end(self, trainer, record):
            acts, out = capture_activations(trainer.model, x)
            frames.append((record.epoch, acts, class_probabilities(out)))

    cfg = TrainingConfig().replace(epochs=epochs, batch_size=64, device="cpu",
                                   optimizer={"key": "adam", "params": {"lr": lr}})
    Trainer(model, cfg, callbacks=[Record()]).fit(loaded)
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    return Demo(doc, model, view, frames, time.perf_counter() - t0)


def open_viewer(demo: Demo, sample_index: int = 0):
    from ..controller import DocumentController
    from .feature_map_view import FeatureMapView

    controller = DocumentController(demo.document)
    view = FeatureMapView(controller)
    st = view.state
    st._dataset_key = st._wanted_dataset_key()     # given, not loaded
    st.set_model(demo.model, f"demo: {len(demo.frames) - 1} epochs on Shapes")
    st.set_dataset(demo.loaded)
    view.choose_sample(sample_index)
    for epoch, acts, probs in demo.frames:
        st.timelapse.add(epoch, acts, probs)
    st.timelapse_changed.emit()
    return controller, view


def run_demo(argv: list[str] | None = None) -> int:  # pragma: no cover - manual launcher
    import argparse

    from PySide6.QtWidgets import QApplication

    parser = argparse.ArgumentParser(description="Feature-map viewer demo")
    parser.add_argument("--template", default="classic_cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--tab", default="maps", choices=["maps", "filters", "prediction", "gradcam",
                                                          "evaluation"])
    parser.add_argument("--layer", default=None)
    parser.add_argument("--channel", type=int, default=None)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    app = QApplication.instance() or QApplication(sys.argv[:1])
    demo = train_demo(args.template, args.epochs, sample_index=args.sample)
    controller, view = open_viewer(demo, args.sample)
    view.resize(1500, 950)
    view.setWindowTitle("VisionStudio — feature maps (demo)")
    if args.layer:
        view.set_layer(args.layer)
    tabs = {"maps": 0, "filters": 1, "prediction": 2, "gradcam": 3, "evaluation": 4}
    view.tabs.setCurrentIndex(tabs[args.tab])
    view.show()
    if args.channel is not None:
        layer = view.shown_layers()[0]
        view.grid.select(layer, args.channel)
        view._on_grid_channel_clicked(layer, args.channel)
    if args.tab == "evaluation":
        view.evaluation.run_evaluation()
    return app.exec()
