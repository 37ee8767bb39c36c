"""The inspector: generated editors, refusals in place, merged undo steps, analysis."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from visionstudio.core.graph import Edge
from visionstudio.core.layers import LAYERS
from visionstudio.core.params import ParamSpec
from visionstudio.ui.canvas import GraphView
from visionstudio.ui.forms import parse_text
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, snapshot, wire


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def net(controller):
    a = add(controller, "input", (0, 0))
    c = add(controller, "conv2d", (0, 150))
    r = add(controller, "relu", (0, 300))
    wire(controller, a, c)
    wire(controller, c, r)
    return a, c, r


@pytest.fixture
def panel(qtbot, controller):
    p = InspectorPanel(controller)
    qtbot.addWidget(p)
    p.resize(320, 600)
    p.show()
    return p


def type_into(widget, text: str) -> None:
    line = widget.lineEdit() if hasattr(widget, "lineEdit") and widget.lineEdit() else widget
    widget.setFocus()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Backspace)
    QTest.keyClicks(line, text)
    QTest.keyClick(line, Qt.Key.Key_Return)


def test_placeholder_and_multiple_selection(panel, controller, net):
    assert panel.stack.currentIndex() == 0
    controller.set_selection(list(net[:2]))
    assert panel.placeholder.text() == "2 layers selected"
    controller.set_selection([net[1]])
    assert panel.stack.currentIndex() == 1 and panel.node_id == net[1]


def test_editors_follow_param_specs(panel, controller, net):
    controller.set_selection([net[1]])
    assert isinstance(panel.editor("out_channels").field, QSpinBox)
    spin = panel.editor("out_channels").field
    assert (spin.minimum(), spin.maximum(), spin.value()) == (1, 65536, 32)
    assert isinstance(panel.editor("bias").field, QCheckBox)
    assert isinstance(panel.editor("activation").field, QComboBox)
    assert isinstance(panel.editor("kernel_size").field, QLineEdit)
    padding = panel.editor("padding").field
    assert isinstance(padding, QComboBox) and padding.isEditable()
    assert [padding.itemText(i) for i in range(padding.count())] == ["same", "valid"]
    spec = LAYERS.get("conv2d").param("out_channels")
    assert spin.toolTip() == spec.describe() and panel.row("out_channels").label.toolTip() == spec.describe()
    # advanced params live in the collapsible group
    assert panel.advanced_toggle.isVisible() and not panel.advanced_box.isVisible()
    assert panel.advanced_form.rowCount() == 2  # dilation, groups
    panel.advanced_toggle.setChecked(True)
    assert panel.advanced_box.isVisible()
    controller.set_selection([net[2]])  # ReLU: nothing to edit
    assert panel.no_params_label.isVisible() and not panel.advanced_toggle.isVisible()
    controller.set_selection([net[0]])
    assert panel.description_label.text() == LAYERS.get("input").description


def test_spinbox_edit_updates_canvas_labels(qtbot, panel, controller, net):
    view = GraphView(controller)
    qtbot.addWidget(view)
    a, c, r = net
    controller.set_selection([c])
    type_into(panel.editor("out_channels").field, "64")
    assert controller.graph.nodes[c].params["out_channels"] == 64
    scene = view.graph_scene
    assert scene.node_item(c).shape_text == "64×26×26"
    assert scene.node_item(c).summary.startswith("64")
    assert scene.edge_item(Edge(c, r, 0)).label == "64×26×26"
    assert scene.node_item(r).shape_text == "64×26×26"
    assert panel.shape_label.text() == "64×26×26"
    assert panel.params_label.text() == "640"
    assert controller.undo_stack.undoText().startswith("Set filters of conv1 to 64")


def test_pair_field_accepts_one_or_two_numbers(panel, controller, net):
    c = net[1]
    controller.set_selection([c])
    field = panel.editor("kernel_size").field
    type_into(field, "5")
    assert controller.graph.nodes[c].params["kernel_size"] == 5
    type_into(field, "3, 5")
    assert controller.graph.nodes[c].params["kernel_size"] == [3, 5]
    assert panel.shape_label.text() == "32×26×24"
    type_into(panel.editor("padding").field, "same")
    assert controller.graph.nodes[c].params["padding"] == "same"


def test_invalid_values_refused_with_reason(panel, controller, net):
    c = net[1]
    controller.set_selection([c])
    before, count = snapshot(controller), controller.undo_stack.count()
    field = panel.editor("kernel_size").field
    type_into(field, "0")
    assert snapshot(controller) == before and controller.undo_stack.count() == count
    assert "at least 1" in panel.error_text("kernel_size")
    assert panel.row("kernel_size").error.isVisible()
    type_into(field, "three")
    assert "whole number" in panel.error_text("kernel_size")
    type_into(field, "1, 2, 3")
    assert "not 3" in panel.error_text("kernel_size")
    assert snapshot(controller) == before
    type_into(field, "3")  # back to the current value: error cleared, nothing pushed
    assert panel.error_text("kernel_size") == "" and controller.undo_stack.count() == count
    # a shape problem is not a refusal: the value applies and the analysis explains
    type_into(field, "40")
    assert controller.graph.nodes[c].params["kernel_size"] == 40
    assert "⚠" in panel.diagnostics_label.text() and panel.diagnostics_label.isVisible()
    assert panel.shape_label.text() == "?"


def test_successive_edits_of_one_field_merge(panel, controller, net):
    c = net[1]
    controller.set_selection([c])
    count = controller.undo_stack.count()
    spin = panel.editor("out_channels").field
    spin.stepUp()
    spin.stepUp()
    type_into(spin, "48")
    assert controller.graph.nodes[c].params["out_channels"] == 48
    assert controller.undo_stack.count() == count + 1
    panel.editor("bias").field.setChecked(False)
    assert controller.undo_stack.count() == count + 2
    controller.undo_stack.undo()
    controller.undo_stack.undo()
    assert controller.graph.nodes[c].params["out_channels"] == 32
    assert spin.value() == 32  # the editor follows undo
    controller.undo_stack.redo()
    assert spin.value() == 48
    # after a save (clean state) a new edit starts a new step
    controller.undo_stack.setClean()
    spin.stepUp()
    assert controller.undo_stack.count() == count + 2


def test_float_bool_choice_editors(panel, controller):
    d = add(controller, "dropout")
    n = add(controller, "dense")
    controller.set_selection([d])
    box = panel.editor("p").field
    assert isinstance(box, QDoubleSpinBox) and box.text() == "0.5"
    type_into(box, "0.25")
    assert controller.graph.nodes[d].params["p"] == pytest.approx(0.25)
    controller.set_selection([n])
    combo = panel.editor("activation").field
    combo.activated.emit(combo.findText("relu"))
    assert controller.graph.nodes[n].params["activation"] == "relu"
    panel.editor("bias").field.click()
    assert controller.graph.nodes[n].params["bias"] is False


def test_optional_param_can_be_cleared(panel, controller):
    p = add(controller, "maxpool2d")
    controller.set_selection([p])
    field = panel.editor("stride").field
    assert field.text() == "" and field.isClearButtonEnabled()
    type_into(field, "1")
    assert controller.graph.nodes[p].params["stride"] == 1
    type_into(field, "")
    assert controller.graph.nodes[p].params["stride"] is None


def test_rename_and_refusal(panel, controller, net):
    a, c, r = net
    controller.set_selection([c])
    type_into(panel.name_edit, "features")
    assert controller.graph.nodes[c].name == "features"
    before = snapshot(controller)
    type_into(panel.name_edit, "relu1")
    assert snapshot(controller) == before
    assert "already exists" in panel.name_error.text() and panel.name_error.isVisible()
    type_into(panel.name_edit, "2x")
    assert "not a valid name" in panel.name_error.text()
    controller.undo_stack.undo()
    assert panel.name_edit.text() == "conv1"


def test_follows_undo_of_other_views_and_document_swap(panel, controller, net):
    from visionstudio.core.graph import SetParam
    from visionstudio.core.project import ProjectDocument

    c = net[1]
    controller.set_selection([c])
    controller.push(SetParam(c, "out_channels", 12))
    assert panel.editor("out_channels").field.value() == 12
    controller.replace_document(ProjectDocument())
    assert panel.stack.currentIndex() == 0
    n = add(controller, "dense")
    controller.set_selection([n])
    assert panel.editor("units").field.value() == 64


def test_parse_text_kinds():
    pair = ParamSpec("k", "pair", 3, minimum=1)
    assert parse_text(pair, "3×5") == [3, 5] and parse_text(pair, "(2, 2)") == [2, 2]
    lst = ParamSpec("w", "float_list", [], title="weights")
    assert parse_text(lst, "0.5, 1.5") == [0.5, 1.5] and parse_text(lst, "") == []
    with pytest.raises(ValueError, match="weights"):
        parse_text(lst, "a, b")
