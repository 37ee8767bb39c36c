"""Heads on the canvas: an Output layer says which target it feeds with which loss, and a
head that does not fit the task or the dataset shows the problem on its node."""

from __future__ import annotations

from visionstudio.core.graph import SetParam
from visionstudio.core.project.commands import SetDatasetSettings, SetTask, SetTrainingSettings
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, open_view, wire


def regression_net(controller) -> tuple[str, str]:
    a = add(controller, "input", (0, 0), channels=1, height=32, width=32)
    f = add(controller, "flatten", (0, 130))
    d = add(controller, "dense", (0, 260), units=3)
    h = add(controller, "output", (0, 390), target="values", loss="mse")
    wire(controller, a, f)
    wire(controller, f, d)
    wire(controller, d, h)
    return d, h




def test_an_output_head_shows_its_target_and_its_problem(qtbot):
    controller = DocumentController()
    view = open_view(qtbot, controller, centre=(400.0, 200.0))
    controller.push(SetTask("regression"))
    controller.push(SetDatasetSettings("shapes_regress", {}))
    dense, head = regression_net(controller)
    item = view.scene().node_item(head)
    assert item.head_tag is not None and item.head_tag.text == "→ values · MSE"
    # the dataset gives 4 values (size, angle, x, y): 3 numbers is a problem on the head
    assert item.has_error and "must output 4 numbers" in item.problem_text
    assert "it outputs 3" in item.toolTip()
    assert not view.scene().node_item(dense).has_error
    controller.push(SetParam(dense, "units", 4))
    assert not item.has_error and item.problem_text == ""
    controller.push(SetParam(head, "weight", 5.0))
    controller.push(SetParam(head, "loss", "smooth_l1"))
    assert item.head_tag.text == "→ values · smooth L1 × 5"
    assert "trained on: values · smooth L1 × 5" in item.head_tag.toolTip()
    # the task decides what a head may feed: a classification project has no values
    controller.push(SetTask("classification"))
    assert item.has_error and "values" in item.problem_text
    controller.undo()
    assert not item.has_error
    view.grab()        # the tag paints (under the head's body)


def test_a_detection_project_without_a_detect_layer_says_so_on_its_output(qtbot):
    controller = DocumentController()
    view = open_view(qtbot, controller)
    controller.push(SetTask("detection"))
    controller.push(SetDatasetSettings("shapes_detect", {}))
    conv = add(controller, "conv2d", (0, 130))
    wire(controller, add(controller, "input", (0, 0)), conv)
    item = view.scene().node_item(conv)
    assert item.has_error and "Detect layer" in item.problem_text
    assert item.head_tag is not None and item.head_tag.text.startswith("→ detections")
    controller.push(SetTask("classification"))    # the classic look: no tag, no head problem
    assert item.head_tag is None and not item.has_error


def test_the_loss_settings_name_a_plain_output(qtbot):
    controller = DocumentController()
    view = open_view(qtbot, controller)
    controller.push(SetTask("regression"))
    controller.push(SetTrainingSettings({"loss": {"key": "l1", "params": {}}}))
    dense = add(controller, "dense", (0, 260), units=4)
    wire(controller, add(controller, "input", (0, 0)), dense)
    item = view.scene().node_item(dense)
    assert item.head_tag.text == "→ values · L1"
