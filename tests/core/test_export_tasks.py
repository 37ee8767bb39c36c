"""The exported training script trains every task: regression, localization, detection.

Each template is exported with a tiny dataset and trained for one epoch by its own
train.py in a subprocess (the three in parallel); the printed metrics, metrics.csv's
columns and the saved weights are checked, and the bundle's cut copies of the app's
objectives and data generators are compared with the app's own on the same input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.export import ExportError, export_project
from visionstudio.core.export.task_source import TASK_MODULES, cut_module
from visionstudio.core.templates import load_template
from visionstudio.core.training.records import METRIC_COLUMNS

from .support import import_file

TASKS = {   # template -> (tiny dataset params, columns of metrics.csv, words printed)
    "regression": ({"samples": 24, "val_samples": 8},
                   ["val_mae", "val_rmse", "val_r2", "val_r2/size", "val_mae/angle"], ["mae", "rmse", "r2"]),
    "localization": ({"samples": 24, "val_samples": 8},
                     ["val_iou", "val_box_l1", "train_loss/box", "val_loss/cls"],
                     ["iou", "accuracy", "box_l1"]),
    "detection_grid": ({"samples": 16, "val_samples": 8},
                       ["val_map50", "val_map", "val_precision", "val_recall", "train_loss/objectness",
                        "val_loss/class"], ["map50", "map", "precision", "recall"]),
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
# Runs each bundle's train.py as __main__ in one interpreter (torch imported once, not per
# bundle): the bundle modules of the one before are forgotten, its folder leaves sys.path.
DRIVER = """
import os, runpy, sys
for folder in sys.argv[1:]:
    folder = os.path.realpath(folder)
    os.chdir(folder)
    sys.path.insert(0, folder)
    sys.argv = ["train.py", "--device", "cpu"]
    print("== bundle", folder, flush=True)
    try:
        runpy.run_path(os.path.join(folder, "train.py"), run_name="__main__")
    except SystemExit as exc:
        assert not exc.code, exc.code
    sys.path.remove(folder)
    for name, mod in list(sys.modules.items()):
        if os.path.realpath(str(getattr(mod, "__file__", None) or "/")).startswith(folder + os.sep):
            del sys.modules[name]
"""


def _bundle(key: str, folder, epochs: int = 1, **training):
    doc = load_template(key)
    doc.dataset = DatasetConfig(doc.dataset.key, {**doc.dataset.params, **TASKS[key][0]})
    doc.training = doc.training.replace(epochs=epochs, batch_size=8, **training)
    export_project(doc, "script", folder)
    return doc


def _csv_bundle(folder, images):
    """The regression template on the user's images with a CSV: 12 good lines, a missing
    file, a word for a number, a line with a column too few, an image that is no image."""
    from PIL import Image

    images.mkdir()
    rng = np.random.default_rng(0)
    lines = ["file,size,brightness"]
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 36), dtype=np.uint8)).save(images / f"im{i}.png")
        lines.append(f"im{i}.png,{i * 1.5},{i % 4}")
    (images / "broken.png").write_bytes(b"not a png")
    lines += ["gone.png,1,2", "im0.png,big,2", "im1.png,3", "broken.png,1,1"]
    (images / "targets.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = load_template("regression")
    doc.dataset = DatasetConfig("image_csv", {"folder": str(images), "csv": ""})
    doc.training = doc.training.replace(epochs=1, batch_size=4, val_split=0.25)
    # the template's values head gives 4 numbers; this CSV has 2 targets
    next(n for n in doc.graph.nodes.values() if n.name == "values").params["units"] = 2
    export_project(doc, "script", folder)


def _box_images(folder, count: int) -> list[tuple[str, list]]:
    """``count`` 48×40 RGB images with one bright square each: [(name, [(class, x, y, w, h)])] in pixels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        pixels = np.zeros((40, 48, 3), dtype=np.uint8)
        x, y = 4 + 3 * i, 6 + i
        pixels[y:y + 12, x:x + 14] = 220
        Image.fromarray(pixels).save(folder / f"im{i}.png")
        out.append((f"im{i}.png", [(i % 3, x, y, 14, 12)]))
    return out


def _detect_doc(dataset: DatasetConfig):
    doc = load_template("detection_grid")
    doc.dataset = dataset
    doc.training = doc.training.replace(epochs=1, batch_size=4, val_split=0.25)
    return doc


def _yolo_bundle(folder, root):
    """A YOLO folder: 8 labelled images, a class out of range and a box off the image."""
    objects = _box_images(root / "images", 8)
    (root / "labels").mkdir()
    for name, boxes in objects:
        lines = [f"{c} {(x + w / 2) / 48} {(y + h / 2) / 40} {w / 48} {h / 40}" for c, x, y, w, h in boxes]
        (root / "labels" / name.replace(".png", ".txt")).write_text("\n".join(lines) + "\n")
    with open(root / "labels" / "im0.txt", "a") as f:
        f.write("7 0.5 0.5 0.1 0.1\n0 1.8 0.5 0.2 0.2\n")
    (root / "classes.txt").write_text("circle\nsquare\ntriangle\n")
    export_project(_detect_doc(DatasetConfig("yolo", {"folder": str(root)})), "script", folder)


def _coco_bundle(folder, root):
    """A COCO instances file: 8 images, an unknown category and a missing image."""
    objects = _box_images(root, 8)
    images = [{"id": i + 1, "file_name": name, "width": 48, "height": 40}
              for i, (name, _) in enumerate(objects)]
    images.append({"id": 99, "file_name": "gone.png", "width": 48, "height": 40})
    annotations = [{"id": i + 1, "image_id": i + 1, "category_id": c + 1, "bbox": [x, y, w, h], "area": w * h,
                    "iscrowd": 0} for i, (_, boxes) in enumerate(objects) for c, x, y, w, h in boxes]
    annotations.append({"id": 50, "image_id": 1, "category_id": 9, "bbox": [1, 1, 5, 5], "area": 25,
                        "iscrowd": 0})
    categories = [{"id": k + 1, "name": n} for k, n in enumerate(("circle", "square", "triangle"))]
    (root / "instances.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                     "categories": categories}))
    dataset = DatasetConfig("coco", {"images": str(root), "annotations": str(root / "instances.json")})
    export_project(_detect_doc(dataset), "script", folder)


def _two_class_heads_bundle(folder):
    """A classification network with two class heads (the localization template, its box
    head turned into a second class head) on the built-in shapes."""
    doc = load_template("localization")
    doc.task = "classification"
    doc.dataset = DatasetConfig("shapes", {"samples": 24, "val_samples": 8, "image_size": 64, "channels": 3,
                                           "classes": 3})
    doc.training = doc.training.replace(epochs=1, batch_size=8)
    nodes = {n.name: n for n in doc.graph.nodes.values()}
    nodes["box_numbers"].params["units"] = 3
    nodes["box"].params.update(target="class", loss="cross_entropy")
    export_project(doc, "script", folder)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each task's bundle after one epoch: {key: (folder, stdout)}."""
    folders = {}
    for key in TASKS:
        folders[key] = tmp_path_factory.mktemp(key)
        _bundle(key, folders[key], augmentation="standard")   # box tasks: boxes move with the pixels
    folders["image_csv"] = tmp_path_factory.mktemp("image_csv")
    _csv_bundle(folders["image_csv"], tmp_path_factory.mktemp("user") / "images")
    folders["two_heads"] = tmp_path_factory.mktemp("two_heads")
    _two_class_heads_bundle(folders["two_heads"])
    for key, make in (("yolo", _yolo_bundle), ("coco", _coco_bundle)):
        folders[key] = tmp_path_factory.mktemp(key)
        make(folders[key], tmp_path_factory.mktemp(f"user_{key}"))
    proc = subprocess.run([sys.executable, "-c", DRIVER, *map(str, folders.values())], capture_output=True,
                          text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    parts = proc.stdout.split("== bundle ")[1:]
    return {key: (folder, part) for (key, folder), part in zip(folders.items(), parts)}


@pytest.mark.parametrize("key", list(TASKS))
def test_exported_script_trains_the_task(trained, key):
    folder, stdout = trained[key]
    _, columns, words = TASKS[key]
    line = next(x for x in stdout.splitlines() if x.startswith("epoch 1/1"))
    for word in words:
        assert f"  {word} " in line, line
    header = (folder / "out" / "metrics.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:len(METRIC_COLUMNS)] == list(METRIC_COLUMNS)
    assert set(columns) <= set(header), header
    row = dict(zip(header, (folder / "out" / "metrics.csv").read_text().splitlines()[1].split(",")))
    for column in columns:
        assert np.isfinite(float(row[column])), (column, row[column])
    cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert cfg["task"] == load_template(key).task and cfg["heads"]
    model_cls = getattr(import_file(folder / "model.py", f"model_{key}"), cfg["model"]["class"])
    model = model_cls()
    trained_weights = load_file(str(folder / "out" / "checkpoints" / "last" / "model.safetensors"))
    model.load_state_dict(trained_weights)   # strict: every key and shape of model.py
    start = load_file(str(folder / "weights.safetensors"))
    assert any(not torch.equal(start[k], trained_weights[k]) for k in start)   # it trained
    outputs = model.eval()(torch.rand(2, *cfg["input_shape"]))
    assert len(outputs if isinstance(outputs, tuple) else (outputs,)) == len(cfg["heads"])


def test_regression_normalisation_is_fitted_on_the_training_set_and_saved(trained):
    """The targets' mean and std travel with the weights and equal the app's for the same data."""
    from visionstudio.core.data.registry import load_dataset
    from visionstudio.core.tasks.heads import HeadPlan
    from visionstudio.core.tasks.objectives import make_objective

    folder, _ = trained["regression"]
    last = folder / "out" / "checkpoints" / "last"
    state = json.loads((last / "train_state.json").read_text())["objective"]
    with safe_open(str(last / "model.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["objective"]) == state
    doc = load_template("regression")
    data = load_dataset(DatasetConfig("shapes_regress", {**doc.dataset.params, **TASKS["regression"][0]}))
    app = make_objective("regression", (HeadPlan("head", "values", {"key": "mse", "params": {}}, 1.0, (4,)),),
                         0, torch.device("cpu"), data.target_names)
    app.fit(data.train_labels)
    assert state["targets"] == ["size", "angle", "x", "y"]
    np.testing.assert_allclose(state["mean"], app.state_dict()["mean"], rtol=1e-6)
    np.testing.assert_allclose(state["std"], app.state_dict()["std"], rtol=1e-6)


def _bundle_modules(folder, monkeypatch) -> dict[str, types.ModuleType]:
    monkeypatch.syspath_prepend(str(folder))
    names = [name for name, _, _ in TASK_MODULES] + ["train_tasks", "shapes_data", "augmentation"]
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    import importlib

    mods = {name: importlib.import_module(name) for name in names}
    for name in names:   # leave no bundle module behind for other tests
        monkeypatch.setitem(sys.modules, name, mods[name])
    return mods


def test_bundled_objectives_and_data_are_the_apps(trained, monkeypatch):
    """The cut copies compute what the app computes: the same drawn data, the same losses."""
    from visionstudio.core.data import shapes_detect, shapes_regress
    from visionstudio.core.tasks.heads import HeadPlan
    from visionstudio.core.tasks.objectives import make_objective

    folder = trained["detection_grid"][0]
    mods = _bundle_modules(folder, monkeypatch)
    p = json.loads((folder / "config.json").read_text())["dataset"]["params"]
    for task in ("detection", "localization"):
        ours, theirs = mods["box_shapes_data"]._drawn(p, task, 6, 1), shapes_detect._drawn(p, task, 6, 1)
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    rp = dict(load_template("regression").dataset.params)
    assert all(np.array_equal(a, b) for a, b in zip(mods["regress_shapes_data"].generate(rp, 5, 0),
                                                     shapes_regress.generate(rp, 5, 0)))
    cfg = json.loads((folder / "config.json").read_text())
    detect = cfg["heads"][0]
    images, labels = shapes_detect._drawn(p, "detection", 4, 0)
    targets = torch.from_numpy(labels)
    raw = torch.randn(4, *detect["output_shape"], generator=torch.Generator().manual_seed(2))
    app_heads = (HeadPlan(detect["name"], "detections", detect["loss"], 1.0, tuple(detect["output_shape"])),)
    app = make_objective("detection", app_heads, 3, torch.device("cpu"))
    bundle = mods["train_tasks"].make_task(cfg, 3, [], torch.utils.data.TensorDataset(
        torch.from_numpy(images), targets), torch.device("cpu"))
    total, parts = bundle.loss((raw,), targets)
    app_total, app_parts = app.loss((raw,), targets)
    torch.testing.assert_close(total, app_total)
    torch.testing.assert_close(parts, app_parts)
    ev, app_ev = bundle.objective.evaluator(), app.evaluator()
    ev.add((raw,), targets)
    app_ev.add((raw,), targets)
    assert ev.result() == app_ev.result()
    box = HeadPlan("box", "box", {"key": "smooth_l1", "params": {"beta": 1.0}}, 5.0, (4,))
    cls = HeadPlan("cls", "class", {"key": "cross_entropy", "params": {}}, 1.0, (3,))
    local_cfg = {"task": "localization", "heads": [dict(h.__dict__) for h in (box, cls)]}
    local_labels = torch.tensor([[0, 0.5, 0.5, 0.2, 0.3], [2, 0.3, 0.6, 0.1, 0.1]])
    outs = (torch.rand(2, 4), torch.randn(2, 3))
    ours = mods["train_tasks"].make_task(local_cfg, 3, [], None, torch.device("cpu")).loss(outs, local_labels)
    theirs = make_objective("localization", (box, cls), 3, torch.device("cpu")).loss(outs, local_labels)
    torch.testing.assert_close(ours[0], theirs[0])
    torch.testing.assert_close(ours[1], theirs[1])


def _fake_module(tmp_path, monkeypatch, text: str) -> types.ModuleType:
    (tmp_path / "fake_app_module.py").write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_app_module", raising=False)
    import importlib

    return importlib.import_module("fake_app_module")


def test_cut_leaves_out_what_needs_the_app_and_refuses_foreign_imports(tmp_path, monkeypatch):
    module = _fake_module(tmp_path, monkeypatch, '''"""An app module."""
from __future__ import annotations

import math

from visionstudio.core.params import ParamSpec
from visionstudio.core.data.base import channel_stats, LoadContext

PARAMS = (ParamSpec("x", "int", 1),)
EXTRA = PARAMS + ()


def area(r):
    return math.pi * r * r


def stats(images):
    return channel_stats(images)


def load(params, ctx: LoadContext):
    return params


def extra():
    return EXTRA


def uses_ui():
    from visionstudio.ui.shell import window
    return window
''')
    text = cut_module(module, "fake.py", maps={"visionstudio.core.data.base": "shapes_data"},
                      defined={"shapes_data": frozenset({"channel_stats"})}, header="cut")
    assert "from shapes_data import channel_stats" in text
    assert "def area" in text and "def stats" in text and "def load" in text  # annotations never run
    for gone in ("ParamSpec", "PARAMS", "EXTRA", "def extra", "uses_ui", "visionstudio"):
        assert gone not in text, gone
    qt = _fake_module(tmp_path, monkeypatch, "import math\n\n\ndef f():\n    import PySide6\n"
                                             "    return math\n")
    with pytest.raises(ExportError, match="imports PySide6"):
        cut_module(qt, "qt.py", maps={}, defined={})


def test_image_csv_bundle_reads_the_users_targets(trained):
    """image_csv: the app's CSV checks name each left-out line; the two targets train."""
    folder, stdout = trained["image_csv"]
    assert "targets.csv line 14: gone.png is not in the folder" in stdout
    assert "targets.csv line 15: size is 'big', not a number" in stdout
    assert "targets.csv line 16: 2 values, but the header has 3 columns" in stdout
    assert "targets.csv line 17: broken.png cannot be read" in stdout
    assert "training Regression on image_csv: 9 images" in stdout
    header = (folder / "out" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_r2/size", "val_mae/brightness"} <= set(header)
    state = json.loads((folder / "out" / "checkpoints" / "last" / "train_state.json").read_text())
    assert state["objective"]["targets"] == ["size", "brightness"]


@pytest.mark.parametrize("key", ["yolo", "coco"])
def test_box_label_bundles_read_the_users_files(trained, key):
    """YOLO and COCO through the app's readers: problems named and left out, mAP measured."""
    folder, stdout = trained[key]
    if key == "yolo":
        assert "labels/im0.txt line 2" in stdout and "labels/im0.txt line 3" in stdout
    else:
        assert "gone.png: cannot be read as an image" in stdout and "annotation id 50" in stdout
    assert "training GridDetector on " + key + ": 6 images" in stdout
    header = (folder / "out" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_map50", "val_recall"} <= set(header)


def test_classification_with_two_heads_trains_through_the_apps_objective(trained):
    folder, stdout = trained["two_heads"]
    cfg = json.loads((folder / "config.json").read_text())
    assert [h["name"] for h in cfg["heads"]] == ["box", "cls"]
    line = next(x for x in stdout.splitlines() if x.startswith("epoch 1/1"))
    assert "  acc " in line and "  accuracy " in line
    header = (folder / "out" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train_loss/box", "train_loss/cls", "val_loss/box", "val_loss/cls"} <= set(header)
    row = dict(zip(header, (folder / "out" / "metrics.csv").read_text().splitlines()[1].split(",")))
    assert 0.0 <= float(row["val_accuracy"]) <= 1.0 and 0.0 <= float(row["train_accuracy"]) <= 1.0


@pytest.mark.slow
def test_two_process_torchrun_trains_a_regression(tmp_path):
    """torchrun --standalone, 2 CPU processes (gloo): one epoch, metrics from rank 0."""
    _bundle("regression", tmp_path)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "train.py", "--device", "cpu"]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "2 process(es)" in proc.stdout and proc.stdout.count("epoch 1/1") == 1
    header = (tmp_path / "out" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "val_r2" in header
