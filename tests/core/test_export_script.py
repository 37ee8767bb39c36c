"""Training-script bundle: files, config.json, the standalone shapes generator and the
metrics CSV shared with the app."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import subprocess
import sys

import pytest
import torch

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.shapes import generate_shapes
from visionstudio.core.export import export_project, import_metrics_csv
from visionstudio.core.export.metrics import MetricsImportError
from visionstudio.core.training.records import METRIC_COLUMNS

from .export_graphs import template_projects
from .support import import_file


def _classic():
    return dict(template_projects())["classic_cnn"]


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add((node.module or "").split(".")[0])
    return names


def test_bundle_files_and_config(tmp_path):
    doc = _classic()
    doc.dataset = DatasetConfig("shapes", {"samples": 300, "val_samples": 50})
    doc.training = doc.training.replace(
        epochs=3, batch_size=16, seed=4, loss={"key": "nll", "params": {}},
        optimizer={"key": "sgd_momentum", "params": {"lr": 0.05, "momentum": 0.8}},
        scheduler={"key": "cosine", "params": {"warmup_epochs": 1.0}})
    result = export_project(doc, "script", tmp_path)
    names = {p.name for p in result.files}
    assert {"train.py", "train_data.py", "model.py", "config.json", "shapes_data.py",
            "augmentation.py", "lr_schedule.py", "weights.safetensors"} <= names
    cfg = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert cfg["model"] == {"module": "model", "class": "ClassicCNN", "weights": "weights.safetensors",
                            "softmax_output": True}
    assert cfg["dataset"]["key"] == "shapes" and cfg["dataset"]["params"]["samples"] == 300
    assert cfg["training"]["epochs"] == 3 and cfg["training"]["batch_size"] == 16
    assert cfg["training"]["seed"] == 4
    assert cfg["loss"]["head"] == "log_softmax"  # NLL on a softmax output, as the app does
    assert cfg["optimizer"]["class"] == "SGD"
    assert cfg["optimizer"]["kwargs"]["momentum"] == 0.8 and cfg["optimizer"]["kwargs"]["lr"] == 0.05
    assert cfg["scheduler"]["key"] == "cosine"
    for name in ("train.py", "train_data.py", "model.py", "shapes_data.py", "augmentation.py",
                 "lr_schedule.py"):
        compile((tmp_path / name).read_text(encoding="utf-8"), name, "exec")
    allowed = {"torch", "safetensors", "numpy", "torchvision", "shapes_data", "augmentation",
               "train_data", "lr_schedule", "param_groups", "__future__", "argparse",
               "csv", "importlib", "io", "json", "math", "os", "shutil", "sys", "time", "pathlib",
               "collections", "train_tasks", "regress_shapes_data", "box_shapes_data", "box_labels_data",
               "image_csv_data", "yolo_data", "coco_data", "PIL"}
    assert _imports(tmp_path / "train.py") <= allowed
    assert _imports(tmp_path / "train_data.py") <= allowed
    assert _imports(tmp_path / "lr_schedule.py") <= {"__future__", "math", "collections", "typing"}
    assert _imports(tmp_path / "param_groups.py") <= {"__future__", "collections", "typing", "torch"}
    assert cfg["metrics"]["columns"] == list(METRIC_COLUMNS)
    assert _imports(tmp_path / "shapes_data.py") <= {"__future__", "math", "collections", "typing",
                                                      "numpy", "torch"}
    assert _imports(tmp_path / "augmentation.py") <= {"__future__", "math", "collections", "typing",
                                                      "torch", "torchvision"}
    assert "weights_only=True" in (tmp_path / "train.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("loss,head", [("cross_entropy", "logits"), ("mse", "output"),
                                       ("bce_with_logits", "output")])
def test_loss_head_follows_the_app(tmp_path, loss, head):
    doc = _classic()
    doc.training = doc.training.replace(loss={"key": loss, "params": {}})
    export_project(doc, "script", tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["loss"]["head"] == head


@pytest.mark.parametrize("kw", [dict(seed=0, stream=0), dict(seed=9, stream=1, channels=3, size=20,
                                                            classes=4, noise=0.0)])
def test_exported_shapes_generator_is_identical(tmp_path, kw):
    doc = _classic()
    export_project(doc, "script", tmp_path)
    spec = importlib.util.spec_from_file_location("shapes_data_export", tmp_path / "shapes_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["shapes_data_export"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["shapes_data_export"]
    images, labels = module.generate_shapes(257, **kw)
    app_images, app_labels = generate_shapes(257, **kw)
    assert torch.equal(images, app_images) and torch.equal(labels, app_labels)
    from visionstudio.core.data.base import channel_stats, stratified_split

    assert module.channel_stats(images) == channel_stats(images)
    assert module.stratified_split(labels, 0.2, 3) == stratified_split(labels, 0.2, 3)


def test_metric_columns_match_the_trainer():
    import dataclasses

    from visionstudio.core.training.records import EpochRecord

    assert set(METRIC_COLUMNS) <= {f.name for f in dataclasses.fields(EpochRecord)}


def test_import_metrics_csv(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(",".join(METRIC_COLUMNS) + "\n"
                    "2,20,1.5,0.5,1.6,0.45,,0.001,300.5,2.1,4.2,False\n"
                    "1,10,2.3,0.1,2.2,0.2,0.6,0.001,250,2.0,2.0,True\n", encoding="utf-8")
    rows = import_metrics_csv(path)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["val_top5"] is None and rows[0]["val_top5"] == 0.6
    assert rows[0]["best"] is True and rows[1]["best"] is False
    assert isinstance(rows[0]["step"], int) and rows[1]["train_loss"] == 1.5
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(MetricsImportError, match="bad.csv: not a metrics CSV"):
        import_metrics_csv(tmp_path / "bad.csv")
    (tmp_path / "nan.csv").write_text("epoch,train_loss\n1,abc\n", encoding="utf-8")
    with pytest.raises(MetricsImportError, match="line 2: train_loss"):
        import_metrics_csv(tmp_path / "nan.csv")
    with pytest.raises(MetricsImportError, match="missing.csv: cannot be read"):
        import_metrics_csv(tmp_path / "missing.csv")


_load = import_file


PRESETS = ("none", "flip", "crop", "flip_crop", "rotate", "color", "standard")


def test_bundled_augmentation_is_the_apps(tmp_path):
    from visionstudio.core.data import augment as app_augment
    from visionstudio.core.training.config import AUGMENTATION_PRESETS

    assert set(PRESETS) == set(AUGMENTATION_PRESETS)
    export_project(_classic(), "script", tmp_path)
    text = (tmp_path / "augmentation.py").read_text(encoding="utf-8")
    assert text == inspect.getsource(app_augment)  # source-identical
    bundled = _load(tmp_path / "augmentation.py", "augmentation_export")
    for shape in ((1, 28, 28), (3, 20, 12)):
        x = torch.rand(6, *shape)
        for preset in PRESETS:
            torch.manual_seed(11)
            fn = bundled.make_augmentation(preset, shape)
            ours = x if fn is None else fn(x.clone())
            torch.manual_seed(11)
            fn = app_augment.make_augmentation(preset, shape)
            theirs = x if fn is None else fn(x.clone())
            assert torch.equal(ours, theirs), (preset, shape)
            if preset != "none":
                assert not torch.equal(ours, x), preset  # it did something


def test_train_py_augments_where_the_app_trainer_does(tmp_path, monkeypatch):
    """train.py's batch path (uint8 -> [0, 1] -> augmentation -> per-channel
    normalisation) gives the app trainer's batch for the same seed."""
    from visionstudio.core.data.augment import make_augmentation
    from visionstudio.core.training.feed import Normalizer

    export_project(_classic(), "script", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    train = _load(tmp_path / "train.py", "train_export")
    try:
        images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
        mean, std = (0.3,), (0.2,)
        mean_t, std_t = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
        assert train.make_augment("none", (1, 28, 28)) is None
        for preset in ("standard", "rotate"):
            torch.manual_seed(3)
            ours = train.prepare(images, mean_t, std_t, torch.device("cpu"),
                                 train.make_augment(preset, (1, 28, 28)))
            torch.manual_seed(3)
            norm = Normalizer(mean, std, torch.device("cpu"), channels_last=False)
            theirs = norm(images, make_augmentation(preset, (1, 28, 28)))
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    finally:
        for name in ("augmentation", "shapes_data", "train_data", "lr_schedule"):
            sys.modules.pop(name, None)


@pytest.mark.slow
def test_train_py_runs_with_augmentation(tmp_path):
    doc = _classic()
    doc.dataset = DatasetConfig("shapes", {"samples": 96, "val_samples": 32})
    doc.training = doc.training.replace(epochs=1, batch_size=32, augmentation="standard")
    export_project(doc, "script", tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["training"]["augmentation"] == "standard"
    proc = subprocess.run([sys.executable, "train.py", "--device", "cpu"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "epoch 1/1" in proc.stdout
    assert import_metrics_csv(tmp_path / "out" / "metrics.csv")[0]["step"] == 3


def test_import_metrics_csv_as_a_run(tmp_path):
    from visionstudio.core.export import import_metrics_run
    from visionstudio.core.runs import RunHistory, run_dir

    csv_path = tmp_path / "bundle" / "out" / "metrics.csv"
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text(",".join(METRIC_COLUMNS) + "\n"
                        "1,10,2.3,0.1,2.2,0.2,0.6,0.001,250,2.0,2.0,True\n"
                        "2,20,1.5,0.5,1.6,0.45,,0.001,300.5,2.1,4.2,False\n", encoding="utf-8")
    root = tmp_path / "net.vsproj.runs"
    entry = import_metrics_run(csv_path, root)
    assert entry["name"] == "bundle (imported)" and entry["status"] == "imported"
    assert entry["summary"]["epochs"] == 2 and entry["summary"]["steps"] == 20
    assert entry["summary"]["best_epoch"] == 1 and entry["summary"]["val_accuracy"] == 0.45
    history = RunHistory.load(run_dir(root, entry))
    assert [e["epoch"] for e in history.epochs] == [1, 2] and history.status == "imported"
    steps, losses = history.epoch_series("train_loss")
    assert steps.tolist() == [10, 20] and losses.tolist() == [2.3, 1.5]
    (tmp_path / "empty.csv").write_text("epoch,train_loss\n", encoding="utf-8")
    with pytest.raises(MetricsImportError, match="empty.csv: has no epochs"):
        import_metrics_run(tmp_path / "empty.csv", root)
    assert len(list(root.iterdir())) == 1
