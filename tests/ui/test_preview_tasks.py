"""The dataset preview of other tasks: boxes drawn with their class names (localization,
detection), target values under each image (regression), from the preview's own data or
from the loaded dataset's labels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from visionstudio.ui.training import preview as preview_module
from visionstudio.ui.training.preview import PreviewStrip
from visionstudio.ui.training.preview_cells import BOX_COLORS, THUMB


def show(qtbot, data: dict) -> PreviewStrip:
    strip = PreviewStrip()
    qtbot.addWidget(strip)
    strip._generation = 1
    strip._on_loaded(1, data)
    return strip


def captions(strip: PreviewStrip) -> list[str]:
    items = [strip.grid.itemAtPosition(r, c) for r in range(1, strip.grid.rowCount(), 2) for c in range(6)]
    return [i.widget().text() for i in items if i is not None]


def brightest(image, x: float, y: int) -> QColor:
    """The brightest pixel next to ``x`` (an antialiased line covers one or two pixels)."""
    return max((image.pixelColor(i, y) for i in range(int(x) - 1, int(x) + 2)), key=lambda c: c.lightness())


def black(n: int) -> np.ndarray:
    return np.zeros((n, 3, 32, 32), np.uint8)


def test_detection_preview_draws_each_box_in_its_class_colour(qtbot):
    boxes = np.full((2, 3, 5), -1.0, np.float32)           # padded with rows of -1
    boxes[0, 0] = [1, 0.5, 0.5, 0.5, 0.5]                  # a square in the middle
    boxes[1, :2] = [[0, 0.25, 0.25, 0.3, 0.3], [2, 0.7, 0.7, 0.2, 0.2]]
    strip = show(qtbot, {"images": black(2), "labels": boxes, "class_names": ["circle", "square", "star"],
                         "counts": None, "train": 40, "val": 10, "task": "detection"})
    assert strip.state == "ready" and strip.grid.count() == 4
    first, second = captions(strip)
    assert first == "square" and second.startswith("2: circle")     # elided to the thumbnail's width
    cell = strip.grid.itemAtPosition(0, 0).widget()
    assert "square: centre 0.50, 0.50" in cell.toolTip()
    image = cell.pixmap().toImage()
    edge = brightest(image, 0.25 * THUMB, THUMB // 2)     # the box's left side, in the square's colour
    assert edge.blue() > 150 and edge.red() < 120 and QColor(BOX_COLORS[1]).blue() > 150
    assert image.pixelColor(THUMB // 2, THUMB // 2).lightness() < 20     # inside: still the image
    assert "Boxes of 3 classes: circle, square, star" in strip.info.text()


def test_boxes_given_apart_from_the_labels(qtbot):
    # a preview callable's boxes: (x0, y0, x1, y1, class) in pixels of the 32×32 image
    strip = show(qtbot, {"images": black(1), "labels": np.array([0]), "class_names": ["ring"],
                         "counts": np.array([1]), "train": 1, "val": 0,
                         "boxes": [[(9.6, 9.6, 22.4, 22.4, 0)]]})
    assert captions(strip) == ["ring"] and "Objects per class: ring 1." in strip.info.text()
    assert "ring: centre 0.50, 0.50, size 0.40 × 0.40" in strip.grid.itemAtPosition(0, 0).widget().toolTip()
    image = strip.grid.itemAtPosition(0, 0).widget().pixmap().toImage()
    assert brightest(image, 0.3 * THUMB, THUMB // 2).red() > 150


def test_regression_preview_shows_the_values_under_each_image(qtbot):
    values = np.array([[12.5, 30.0], [7.25, -45.0]], np.float32)
    strip = show(qtbot, {"images": black(2), "labels": values, "class_names": [], "counts": None,
                         "train": 2, "val": 0, "target_names": ["size", "angle"]})
    assert captions(strip) == ["12.5 · 30", "7.25 · -45"]
    many = show(qtbot, {"images": black(1), "labels": np.arange(7, dtype=np.float32)[None], "class_names": [],
                        "counts": None, "train": 1, "val": 0})
    assert captions(many)[0].splitlines()[0] == "0 · 1" and captions(many)[0].count("\n") == 1
    assert strip.grid.itemAtPosition(0, 1).widget().toolTip() == "size = 7.25\nangle = -45"
    assert "Targets: size, angle." in strip.info.text()


def test_a_long_caption_is_elided_not_widening_the_panel(qtbot):
    names = [f"class number {i}" for i in range(4)]
    boxes = np.array([[[i, 0.5, 0.5, 0.1, 0.1] for i in range(4)]], np.float32)
    strip = show(qtbot, {"images": black(1), "labels": boxes, "class_names": names, "counts": None,
                         "train": 1, "val": 0, "task": "detection"})
    text = captions(strip)[0]
    assert text.endswith("…") and len(text) < 20


def test_loaded_detection_labels_are_previewed_without_class_counts(monkeypatch):
    torch = pytest.importorskip("torch")
    from visionstudio.core.data.base import LoadedDataset

    labels = torch.full((3, 2, 5), -1.0)
    labels[:, 0] = torch.tensor([1.0, 0.5, 0.5, 0.2, 0.2])
    data = LoadedDataset(torch.zeros(3, 1, 8, 8, dtype=torch.uint8), labels, None, None, ["a", "b"],
                         (0.5,), (0.2,), [], task="detection")
    monkeypatch.setattr(preview_module.data_registry, "preview_dataset", lambda *a, **k: None)
    monkeypatch.setattr(preview_module.data_registry, "load_dataset", lambda *a, **k: data)

    shown = preview_module.load_preview(Running(), object(), 0, 0.1)
    assert shown["task"] == "detection" and shown["counts"] is None and shown["labels"].shape == (3, 2, 5)


class Running:
    cancelled = False


@pytest.mark.parametrize("key", ["shapes_detect", "shapes_localize"])
def test_the_built_in_box_sets_preview_with_their_boxes(qtbot, key):
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.data.registry import DATASETS
    from visionstudio.core.params import validate_all

    params, _ = validate_all(DATASETS.get(key).params, {"samples": 24, "val_samples": 8})
    data = preview_module.load_preview(Running(), DatasetConfig(key, params), 0, 0.1)
    strip = show(qtbot, data)
    cells = [strip.grid.itemAtPosition(0, c).widget() for c in range(6)]
    assert all("centre" in cell.toolTip() for cell in cells)      # every image has its boxes
    assert "Objects per class" in strip.info.text()


def test_the_built_in_regression_set_previews_its_values(qtbot):
    pytest.importorskip("torch")
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.data.registry import DATASETS
    from visionstudio.core.params import validate_all

    params, _ = validate_all(DATASETS.get("shapes_regress").params, {"samples": 24, "val_samples": 8})
    data = preview_module.load_preview(Running(), DatasetConfig("shapes_regress", params), 0, 0.1)
    strip = show(qtbot, data)
    assert "Targets: size, angle, x, y." in strip.info.text()
    tip = strip.grid.itemAtPosition(0, 0).widget().toolTip().splitlines()
    assert [line.split(" = ")[0] for line in tip] == ["size", "angle", "x", "y"]
    first, second = captions(strip)[0].splitlines()             # two values a line
    assert len(first.split(" · ")) == 2 and second.count("·") == 1
