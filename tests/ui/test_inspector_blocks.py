"""The inspector for blocks: an instance's exposed parameters (each instance its own
values), its definition's buttons, and "Expose" on the layers inside an opened block."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSpinBox

from tests.core.block_helpers import add as add_inner
from tests.core.block_helpers import chain, conv_block
from visionstudio.core.blocks.commands import AddDefinition
from visionstudio.core.graph import Connect, GraphModel
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, wire
from .test_inspector import type_into


def two_convs() -> BlockDefinition:
    inner = GraphModel()
    ids = [add_inner(inner, "block_input", "x_in"),
           add_inner(inner, "conv2d", "conv1", out_channels=4, kernel_size=3, padding=1),
           add_inner(inner, "conv2d", "conv2", out_channels=4, kernel_size=3, padding=1),
           add_inner(inner, "block_output", "out")]
    chain(inner, *ids)
    return BlockDefinition("pair", "Two convolutions", "Two 3×3 convolutions.", inner,
                           [ExposedParam("out_channels", ids[1], "out_channels")])


@pytest.fixture
def controller():
    c = DocumentController()
    assert c.push(AddDefinition(conv_block()))
    assert c.push(AddDefinition(two_convs()))
    return c


@pytest.fixture
def net(controller):
    a = add(controller, "input", (0, 0), channels=3, height=16, width=16)
    b1 = add(controller, "block", (0, 150), block="conv_block")
    b2 = add(controller, "block", (0, 300), block="conv_block")
    wire(controller, a, b1)
    wire(controller, b1, b2)
    return a, b1, b2


@pytest.fixture
def panel(qtbot, controller):
    p = InspectorPanel(controller)
    qtbot.addWidget(p)
    p.resize(360, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_an_instance_shows_and_edits_its_own_exposed_parameters(panel, controller, net):
    _a, b1, b2 = net
    controller.set_selection([b1])
    assert panel.kind_label.text() == "Conv block"
    assert panel.description_label.text() == "A convolution and a ReLU."
    assert list(panel._rows) == ["channels"]
    spin = panel.editor("channels").field
    assert isinstance(spin, QSpinBox) and spin.value() == 8
    assert panel.row("channels").expose is None              # exposing happens inside the block
    steps = controller.undo_stack.count()
    type_into(spin, "16")
    assert controller.graph.nodes[b1].params["channels"] == 16
    assert "channels" not in controller.graph.nodes[b2].params      # the other keeps the default
    assert controller.analysis.nodes[b1].output_shape == (16, 16, 16)
    assert controller.analysis.nodes[b2].output_shape == (8, 16, 16)
    assert panel.shape_label.text() == "16×16×16" and controller.undo_stack.count() == steps + 1
    controller.set_selection([b2])
    assert panel.editor("channels").field.value() == 8
    assert panel.editor("channels").field.minimum() == 1        # the inner spec's bounds
    controller.undo()
    controller.set_selection([b1])
    assert panel.editor("channels").field.value() == 8
    assert controller.graph.nodes[b1].params.get("channels", 8) == 8


def test_definition_line_open_block_and_detach(qtbot, panel, controller, net):
    _a, b1, _b2 = net
    controller.set_selection([b1])
    header = panel.block_header
    assert header.isVisible() and "Conv block" in header.definition_label.text()
    assert "used 2 times" in header.definition_label.text()
    QTest.mouseClick(header.detach_button, Qt.MouseButton.LeftButton)
    assert controller.graph.nodes[b1].params["block"] == "conv_block2"
    assert "Conv block (copy)" in panel.kind_label.text() and "used 2" not in header.definition_label.text()
    controller.undo()
    assert controller.graph.nodes[b1].params["block"] == "conv_block"
    assert "conv_block2" not in controller.graph.blocks
    controller.set_selection([b1])
    QTest.mouseClick(header.open_button, Qt.MouseButton.LeftButton)
    assert [level.key for level in controller.scope] == ["conv_block"]
    assert not header.isVisible() and panel.stack.currentIndex() == 0   # nothing selected inside yet
    controller.set_selection([controller.graph.node_by_name("conv1").id])
    assert panel.row("out_channels").expose.isChecked()            # exposed as "channels"
    assert not panel.row("kernel_size").expose.isChecked() and not panel.block_header.isVisible()
    controller.leave_definition()
    assert controller.scope == () and controller.selection == [b1]
    a = net[0]
    controller.set_selection([a])                                          # a layer: no block line
    assert not header.isVisible()


def test_expose_toggle_inside_an_opened_block(panel, controller):
    a = add(controller, "input", (0, 0), channels=3, height=8, width=8)
    inst = add(controller, "block", (0, 150), block="pair", out_channels=6)
    controller.push(Connect(a, inst))
    assert controller.open_definition("pair", inst)
    definition = controller.document.graph.blocks.get("pair")
    conv1, conv2 = (definition.graph.node_by_name(n).id for n in ("conv1", "conv2"))
    controller.set_selection([conv2])
    box = panel.row("out_channels").expose
    assert box is not None and box.isVisible() and not box.isChecked()
    assert panel.row("kernel_size").expose is not None
    steps = controller.undo_stack.count()
    QTest.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.isChecked() and controller.undo_stack.count() == steps + 1
    added = definition.exposed[-1]
    assert (added.name, added.node_id, added.param) == ("out_channels_2", conv2, "out_channels")
    assert [s.name for s in definition.param_specs()] == ["out_channels", "out_channels_2"]
    controller.set_selection([conv1])
    assert panel.row("out_channels").expose.isChecked()
    QTest.mouseClick(panel.row("out_channels").expose, Qt.MouseButton.LeftButton)   # unexpose
    assert [e.name for e in definition.exposed] == ["out_channels_2"]
    controller.undo()
    assert [e.name for e in definition.exposed] == ["out_channels", "out_channels_2"]
    assert panel.row("out_channels").expose.isChecked()
    controller.undo()
    assert [e.name for e in definition.exposed] == ["out_channels"]
    controller.leave_definition()
    assert controller.document.graph.nodes[inst].params["out_channels"] == 6    # kept through it all
