"""The Task choice of the Training panel: one undoable step, the datasets offered follow
it, and the Loss section steps aside when the network's heads carry their own losses."""

from __future__ import annotations

import pytest

from visionstudio.core.graph import AddNode, Connect
from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.core.templates import load_template
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.tasks import live_tasks


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.training import devices
    from visionstudio.ui.training import panel as panel_module

    monkeypatch.setattr(panel_module, "list_devices_async", lambda _done: devices.BASIC_DEVICES)
    controller = DocumentController(load_template("classic_cnn"))
    controller.push(SetDatasetSettings("shapes", {"samples": 64, "val_samples": 16}))
    widget = panel_module.TrainingPanel(controller)
    qtbot.addWidget(widget)
    yield widget
    widget.hide()
    qtbot.waitUntil(lambda: not live_tasks(), timeout=60_000)   # the preview's loader


def offered(panel) -> list[str]:
    combo = panel.dataset_combo
    return [combo.itemData(i) for i in range(combo.count())]


def choose(combo, value) -> None:
    combo.setCurrentIndex(combo.findData(value))
    combo.activated.emit(combo.currentIndex())


def test_choosing_regression_is_one_undoable_step_and_filters_the_datasets(panel):
    from visionstudio.core.data.registry import DATASETS

    c, picker = panel.controller, panel.task_picker
    doc = c.document
    assert picker.combo.currentData() == "classification" and picker.combo.accessibleName() == "Task"
    assert "shapes" in offered(panel) and "shapes_regress" not in offered(panel)
    steps = c.undo_stack.count()
    choose(picker.combo, "regression")
    assert doc.task == "regression" and c.undo_stack.count() == steps + 1
    regression = [k for k in DATASETS if "regression" in DATASETS.get(k).tasks]
    assert offered(panel) == regression and doc.dataset.key == regression[0]   # switched with it
    assert panel.dataset_combo.currentData() == doc.dataset.key
    assert c.undo_stack.undoText() == "Set task to Regression"
    assert "Output layer with target values" in picker.hint.text()
    c.undo()
    assert doc.task == "classification" and doc.dataset.key == "shapes"
    assert doc.dataset.params["samples"] == 64                     # its settings came back too
    assert picker.combo.currentData() == "classification" and "shapes" in offered(panel)
    c.redo()
    assert doc.task == "regression" and picker.combo.currentData() == "regression"


def test_a_dataset_of_another_task_is_shown_as_such(panel):
    from visionstudio.core.project.commands import SetTask

    c = panel.controller
    c.push(SetTask("detection"))                 # the command alone keeps the dataset
    assert c.document.dataset.key == "shapes"
    assert "(not for detection)" in panel.dataset_combo.currentText()
    assert "Detect layer" in panel.task_picker.hint.text()


def test_loss_section_hides_when_the_heads_carry_their_losses(panel):
    c = panel.controller
    loss_box = panel.choice_combos["loss"].parentWidget()
    panel.show()
    assert loss_box.isVisible()
    graph = c.document.graph
    last = next(n for n in graph.nodes.values() if not any(e.src == n.id for e in graph.edges))
    add = AddNode("output", position=(0, 0))
    c.push(add)
    c.push(Connect(last.id, add.node_id))
    assert not loss_box.isVisible() and "sets its own loss" in panel.task_picker.hint.text()
    c.undo()
    c.undo()
    assert loss_box.isVisible()


def test_task_choice_is_read_only_while_training(panel, monkeypatch):
    runs = panel.training
    monkeypatch.setattr(type(runs), "busy", property(lambda self: True))
    runs.state_changed.emit("running")
    assert not panel.task_picker.combo.isEnabled()
