"""The viewer in a project: model source, dataset loading off the GUI thread, live
refresh and time-lapse while the in-app training run trains, the Inspect menu."""

from __future__ import annotations

import pytest

pytest.importorskip("pyqtgraph")

from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.templates import load_template
from visionstudio.ui.features import FeatureMapView
from visionstudio.ui.shell.controller import DocumentController


@pytest.fixture
def controller(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    doc = load_template("classic_cnn")
    doc.set_dataset(DatasetConfig("shapes", {"samples": 300, "val_samples": 60}))
    doc.set_training(doc.training.replace(epochs=3, device="cpu", batch_size=64))
    return DocumentController(doc)


def _wait_dataset(qtbot, view):
    qtbot.waitUntil(lambda: view.state.sample is not None, timeout=60_000)


def _wait_model(qtbot, view):
    """The network is built on a worker thread; wait for it, then draw."""
    qtbot.waitUntil(lambda: view.state.model() is not None, timeout=60_000)
    view.refresh()


def test_untrained_then_live_training_then_run_weights(qtbot, controller):
    from visionstudio.ui.training.run_controller import runs_for

    view = FeatureMapView(controller)
    qtbot.addWidget(view)
    view.show()
    _wait_dataset(qtbot, view)
    _wait_model(qtbot, view)
    assert view.state.num_samples == 60
    assert "Untrained" in view.weights_label.text() and "seed 0" in view.weights_label.text()
    assert view.grid.image_count("conv1") == 32

    runs = runs_for(controller)
    epochs_seen = []
    view.state.live_updated.connect(epochs_seen.append)
    assert runs.train()
    assert runs.wait(120_000)
    assert runs.last_failure is None
    tl = view.state.timelapse
    assert tl.epochs() == [0, 1, 2, 3] and tl.sample_key == view.state.sample.key
    assert epochs_seen and epochs_seen[-1] <= 3
    # after the run: the run's checkpoint is the model source
    _wait_model(qtbot, view)
    assert "Run 1, after epoch 3" in view.weights_label.text()
    view.timelapse_slider.setValue(1)
    assert view._frame_epoch == 1 and "after epoch 1 of 3" in view.timelapse_label.text()
    view.shutdown()


def test_graph_that_cannot_build_is_said(qtbot, controller):
    from visionstudio.core.graph.commands import RemoveNodes

    view = FeatureMapView(controller)
    qtbot.addWidget(view)
    view.show()
    _wait_dataset(qtbot, view)
    dense = controller.graph.node_by_name("dense1")
    assert controller.push(RemoveNodes([dense.id]))
    view.refresh()
    assert "cannot be built" in view.weights_label.text()
    view.shutdown()


def test_install_adds_inspect_menu(qtbot, controller):
    from PySide6.QtWidgets import QMainWindow

    from visionstudio.ui.features.integration import install

    win = QMainWindow()
    qtbot.addWidget(win)
    win.controller = controller
    win.menus = {}
    view = FeatureMapView(controller)
    win.setCentralWidget(view)
    win.docks = {}
    integ = install(win)
    assert [a.objectName() for a in win.menus["inspect"].actions()] == [
        "action_feature_maps", "action_open_sample", "action_filters", "action_gradcam", "action_evaluate"]
    win.show()
    _wait_dataset(qtbot, view)
    _wait_model(qtbot, view)
    integ.actions["gradcam"].trigger()
    assert view.tabs.currentIndex() == 3
    integ.actions["evaluate"].trigger()
    qtbot.waitUntil(lambda: view.evaluation.evaluation is not None, timeout=60_000)
    assert integ.confirm_close()


def test_dataset_that_does_not_fit_the_input_is_said_then_reloaded(qtbot, controller):
    from visionstudio.core.graph.commands import SetParam

    doc = controller.document
    doc.set_dataset(DatasetConfig("shapes", {"samples": 100, "val_samples": 30, "channels": 3}))
    view = FeatureMapView(controller)
    qtbot.addWidget(view)
    view.show()
    _wait_dataset(qtbot, view)
    assert view.state.sample.image.shape == (3, 28, 28)
    _wait_model(qtbot, view)
    assert "network's Input is 1×28×28" in view.sample_info.text() and not view.grid.layers
    assert view.evaluation.run_evaluation() is None and "must match" in view.evaluation.summary.text()
    # fix the Input: the dataset is reloaded for it and the maps appear; filters in colour
    assert controller.push(SetParam(controller.graph.node_by_name("input").id, "channels", 3))
    qtbot.waitUntil(lambda: not view.state._tasks, timeout=60_000)
    _wait_model(qtbot, view)
    assert view.grid.image_count("conv1") == 32
    view.tabs.setCurrentIndex(1)
    assert "RGB kernels" in view.filters.caption.text()
    view.shutdown()
