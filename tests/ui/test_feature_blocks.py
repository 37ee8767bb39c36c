"""The feature viewer inside blocks: the layer chooser lists a block's inner layers under
their instance (``conv_block_1 › conv1``), their maps and filters show, and Grad-CAM
works on a convolution inside a block."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

pytest.importorskip("pyqtgraph")

from tests.core.block_helpers import conv_block, network
from visionstudio.core.build import build_model
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.features.feature_map_view import ALL_CONV, FeatureMapView
from visionstudio.ui.shell.controller import DocumentController


@pytest.fixture
def view(qtbot):
    document = ProjectDocument()
    document.graph.blocks.add(conv_block())
    network(document.graph, ["conv_block", "conv_block"], shape=(3, 12, 12))
    controller = DocumentController(document)
    v = FeatureMapView(controller)
    qtbot.addWidget(v)
    st = v.state
    st._dataset_key = st._wanted_dataset_key()          # given here, not loaded
    st.set_model(build_model(document.graph, seed=0), "a block network")
    seeded = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 12, 12), dtype=torch.uint8, generator=seeded)
    st.set_dataset(SimpleNamespace(val_images=images, val_labels=torch.tensor([0, 1, 2, 0]),
                                   class_names=["a", "b", "c"], mean=(0.5,) * 3, std=(0.25,) * 3))
    v.resize(1100, 760)
    v.show()
    qtbot.waitExposed(v)
    yield v
    v.shutdown()


def combo_items(combo) -> list[tuple[str, str]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_the_chooser_lists_each_blocks_inner_layers_under_it(view):
    items = combo_items(view.layer_combo)
    names = [data for _text, data in items]
    assert names == [ALL_CONV, "input", "conv_block_1", "conv_block_1.conv1", "conv_block_1.relu1",
                     "conv_block_2", "conv_block_2.conv1", "conv_block_2.relu1", "flatten", "dense"]
    text = dict((data, text) for text, data in items)
    assert text["conv_block_1.conv1"].startswith("    conv_block_1 › conv1") and "8×12×12" in text[
        "conv_block_1.conv1"]
    assert not text["conv_block_1"].startswith(" ")
    assert view.conv_layers() == ["conv_block_1.conv1", "conv_block_2.conv1"]
    assert [d for _t, d in combo_items(view.cam_layer_combo)] == view.conv_layers()


def test_maps_of_an_inner_layer_chosen_with_the_keyboard(view):
    combo = view.layer_combo
    combo.setFocus()
    combo.setCurrentIndex(combo.findData("conv_block_1"))
    QTest.keyClick(combo, Qt.Key.Key_Down)                # the next row: the block's first layer
    assert combo.currentData() == "conv_block_1.conv1"
    assert list(view.grid.layers) == ["conv_block_1.conv1"]
    assert view.grid.image_count("conv_block_1.conv1") == 8
    acts, _ = view.current_activations()
    assert acts["conv_block_1.conv1"].array.shape == (8, 12, 12)
    assert not np.allclose(acts["conv_block_1.conv1"].array, acts["conv_block_2.conv1"].array)
    view.set_layer(ALL_CONV)
    assert list(view.grid.layers) == ["conv_block_1.conv1", "conv_block_2.conv1"]
    view.tabs.setCurrentIndex(1)                          # filters of the inner conv
    view.filter_combo.setCurrentIndex(view.filter_combo.findData("conv_block_2.conv1"))
    assert view.filters.tiles is not None and len(view.filters.tiles.rects) == 8 * 8


def test_grad_cam_on_a_convolution_inside_a_block(view):
    view.tabs.setCurrentIndex(3)
    assert view.cam_layer_combo.currentData() == "conv_block_2.conv1"     # the last conv
    assert "Grad-CAM at conv_block_2.conv1" in view.cam_caption.text()
    view.cam_layer_combo.setCurrentIndex(view.cam_layer_combo.findData("conv_block_1.conv1"))
    heat = view.overlay.heatmap
    assert heat is not None and heat.shape == (12, 12) and 0 <= heat.min() and heat.max() <= 1
    assert "Grad-CAM at conv_block_1.conv1" in view.cam_caption.text()


def test_the_viewer_builds_the_block_network_itself_while_a_block_is_open(qtbot, view):
    controller = view.controller
    assert controller.open_definition("conv_block", controller.graph.node_by_name("conv_block_1").id)
    view.state.invalidate_model()                      # as after an edit: built again, on a worker
    qtbot.waitUntil(lambda: view.state.model() is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not view.state._tasks, timeout=60_000)
    # the whole network, not the definition the canvas shows
    assert view.conv_layers() == ["conv_block_1.conv1", "conv_block_2.conv1"]
    acts, probs = view.state.activations()
    assert acts["conv_block_2.conv1"].array.shape == (8, 12, 12) and len(probs) == 3
