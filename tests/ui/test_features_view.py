"""FeatureMapView on a briefly trained classic CNN: samples, layers, files, time-lapse,
Grad-CAM, evaluation gallery, exports."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pyqtgraph")

from visionstudio.ui.features.demo import open_viewer, train_demo
from visionstudio.ui.features.feature_map_view import ALL_CONV


@pytest.fixture(scope="module")
def demo():
    return train_demo(epochs=2, samples=400, val_samples=120)


@pytest.fixture
def view(qtbot, demo):
    controller, view = open_viewer(demo)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    yield view
    view.shutdown()


def test_grid_has_one_image_per_channel(view):
    assert view.objectName() == "featureMapView"
    view.set_layer(ALL_CONV)
    assert list(view.grid.layers) == ["conv1", "conv2"]
    assert view.grid.image_count("conv1") == 32 and view.grid.image_count("conv2") == 64
    view.set_layer("pool1")
    assert list(view.grid.layers) == ["pool1"] and view.grid.image_count("pool1") == 32
    view.set_layer("dense1")                       # a vector: bars, one per unit
    assert view.grid.layers["dense1"].dense and view.grid.image_count("dense1") == 64
    # the next sample redraws the same items
    view.set_layer("conv1")
    item = view.grid.layers["conv1"].image
    before = item.image.copy()
    view.step(1)
    assert view.state.sample.index == 1
    assert view.grid.layers["conv1"].image is item and not np.array_equal(before, item.image)


def test_channel_click_shows_it_large_with_stats(view, qtbot):
    view.set_layer("conv1")
    lv = view.grid.layers["conv1"]
    x, y, w, h = lv.tiles.rects[5]
    scene_pt = lv.view.mapViewToScene(pg_point(x + w / 2, y + h / 2))
    assert lv.channel_at(scene_pt) == 5
    view.grid.select("conv1", 5)
    view._on_grid_channel_clicked("conv1", 5)
    assert view.detail.current == ("conv1", 5)
    assert "zeros" in view.detail.stats.text() and "channel 5 of 32" in view.detail.title.text()
    assert view.detail.image.image.shape == (26, 26)


def pg_point(x, y):
    from PySide6.QtCore import QPointF
    return QPointF(x, y)


def test_class_filter_and_normalisation(view, demo):
    labels = demo.loaded.val_labels.numpy()
    view.class_filter.setCurrentIndex(1 + 3)           # "star"
    assert all(labels[i] == 3 for i in view._filtered)
    assert view.state.sample.label == 3
    view.step(1)
    assert view.state.sample.label == 3
    view.norm_combo.setCurrentIndex(1)                 # shared scale
    assert view.grid.per_channel is False
    view.cmap_combo.setCurrentText("inferno")
    assert view.grid.cmap_name == "inferno"


def test_files_as_samples(view, tmp_path):
    rgba = np.zeros((90, 60, 4), np.uint8)
    rgba[20:70, 10:50] = (0, 0, 0, 255)         # a black square; the rest transparent (-> white)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "shape.png")
    assert view.open_image(tmp_path / "shape.png")
    s = view.state.sample
    assert s.image.shape == (1, 28, 28) and s.label is None and "RGBA" in s.note
    assert s.image[0, 14, 14] == 0 and s.image[0, 1, 1] == 255
    assert "converted" in view.sample_info.text()
    assert view.grid.image_count("conv1") == 32

    g16 = (np.linspace(0, 65535, 40 * 40).reshape(40, 40)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "gray16.tif")
    assert view.open_image(tmp_path / "gray16.tif")
    assert view.state.sample.image.shape == (1, 28, 28) and "I;16" in view.state.sample.note
    assert view.thumb.pixmap() is not None and not view.thumb.pixmap().isNull()

    (tmp_path / "broken.png").write_bytes(b"nope")
    assert not view.open_image(tmp_path / "broken.png")
    assert "not an image" in view.sample_info.text()


def test_timelapse_scrub(view, demo):
    view.set_layer("conv1")
    slider = view.timelapse_slider
    assert slider.isEnabled() and slider.maximum() == 2
    now = view.grid.layers["conv1"].image.image.copy()
    slider.setValue(0)                                  # before training
    assert view._frame_epoch == 0 and "after epoch 0" in view.timelapse_label.text()
    first = view.grid.layers["conv1"].image.image.copy()
    assert not np.allclose(np.nan_to_num(first), np.nan_to_num(now))
    assert np.allclose(view.current_activations()[0]["conv1"].array,
                       demo.frames[0][1]["conv1"].array, atol=1e-2, rtol=1e-2)
    slider.setValue(2)
    assert view._frame_epoch is None
    # another sample: the time-lapse belongs to the first one
    view.step(1)
    assert not slider.isEnabled()


def test_prediction_and_gradcam(view, qtbot):
    view.tabs.setCurrentIndex(2)
    probs = view.prediction.probabilities
    assert probs is not None and len(probs) == 10 and abs(probs.sum() - 1) < 1e-4
    assert view.prediction.true_label == view.state.sample.label
    view.tabs.setCurrentIndex(3)
    heat = view.overlay.heatmap
    assert heat is not None and heat.shape == (28, 28) and 0 <= heat.min() and heat.max() <= 1
    assert view.cam_layer_combo.currentData() == "conv2" and "Grad-CAM at conv2" in view.cam_caption.text()
    view.opacity_slider.setValue(20)
    assert abs(view.overlay.heat.opacity() - 0.2) < 1e-6
    view.cam_class_combo.setCurrentIndex(1 + 4)         # "cross"
    assert "cross" in view.cam_caption.text()
    view.method_combo.setCurrentIndex(1)
    assert "Saliency" in view.cam_caption.text() and view.overlay.heatmap.shape == (28, 28)
    view.tabs.setCurrentIndex(1)
    assert view.filters.tiles is not None and len(view.filters.tiles.rects) == 32  # conv1: 32×1


def test_evaluation_cell_gallery_and_exports(view, qtbot, tmp_path, demo):
    ev_panel = view.evaluation
    view.tabs.setCurrentIndex(4)
    task = ev_panel.run_evaluation()
    with qtbot.waitSignal(task.done, timeout=60_000):
        pass
    ev = ev_panel.evaluation
    assert ev is not None and ev.confusion.sum() == 120
    assert ev_panel.table.rowCount() == 10
    t, p = np.unravel_index(np.argmax(ev.confusion), ev.confusion.shape)
    idx = ev_panel.show_cell(int(t), int(p))
    assert ev_panel.gallery.count() == len(idx) == ev.confusion[t, p]
    labels = demo.loaded.val_labels.numpy()
    assert all(labels[i] == t for i in idx)
    ev_panel.normalised.setChecked(True)
    assert ev_panel._texts[0].toPlainText().startswith(("0.", "1."))
    # clicking a sample opens it in the viewer
    item = ev_panel.gallery.item(0)
    ev_panel._on_gallery_item(item)
    assert view.state.sample.index == int(idx[0]) and view.tabs.currentIndex() == 0

    csv = ev_panel.export_csv(tmp_path / "cm.csv")
    assert csv.read_text().splitlines()[0].startswith("true\\predicted,circle")
    assert ev_panel.export_png(tmp_path / "cm.png").stat().st_size > 1000
    view.set_layer("conv2")
    [npy] = view.export_activations(tmp_path / "a.npy")
    assert np.load(npy).shape == (64, 11, 11)
    view.set_layer(ALL_CONV)
    files = view.export_activations(tmp_path / "all.npy")
    assert [f.name for f in files] == ["all_conv1.npy", "all_conv2.npy"]
    assert view.export_grid_png(tmp_path / "grid.png").stat().st_size > 1000
