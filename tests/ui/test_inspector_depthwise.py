"""The inspector's Depthwise box: one real click makes a Conv2d depthwise (groups = input
channels, filters a multiple of them) as one undo step, and unticking undoes the grouping."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from visionstudio.core.graph import SetParam
from visionstudio.ui.inspector import InspectorPanel
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, wire


@pytest.fixture
def controller():
    return DocumentController()


@pytest.fixture
def panel(qtbot, controller):
    p = InspectorPanel(controller)
    qtbot.addWidget(p)
    p.resize(320, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def _net(controller, channels=3, **conv):
    a = add(controller, "input", (0, 0), channels=channels, height=8, width=8)
    c = add(controller, "conv2d", (0, 150), **conv)
    wire(controller, a, c)
    return a, c


def _click(box):
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=box.rect().center())


def test_one_click_makes_the_conv_depthwise_in_one_undo_step(panel, controller):
    _, conv = _net(controller, channels=3)  # 32 filters by default: not a multiple of 3
    controller.set_selection([conv])
    box = panel.depthwise
    assert box.isVisible() and box.isEnabled() and not box.isChecked()
    steps = controller.undo_stack.count()
    _click(box)
    assert controller.undo_stack.count() == steps + 1
    assert controller.undo_stack.undoText() == "Make conv1 depthwise"
    params = controller.graph.nodes[conv].params
    assert (params["groups"], params["out_channels"]) == (3, 30)
    assert box.isChecked()
    info = controller.analysis.nodes[conv]
    assert info.params == 30 * 1 * 9 + 30 and info.output_shape == (30, 6, 6)
    assert controller.undo()  # one step takes back both parameters
    params = controller.graph.nodes[conv].params
    assert (params["groups"], params["out_channels"]) == (1, 32)
    assert not box.isChecked()


def test_filters_that_are_a_multiple_stay_and_unticking_gives_groups_one(panel, controller):
    _, conv = _net(controller, channels=4, out_channels=8)
    controller.set_selection([conv])
    _click(panel.depthwise)
    params = controller.graph.nodes[conv].params
    assert (params["groups"], params["out_channels"]) == (4, 8)  # depth multiplier 2 kept
    _click(panel.depthwise)
    assert controller.graph.nodes[conv].params["groups"] == 1 and not panel.depthwise.isChecked()
    assert controller.undo() and controller.graph.nodes[conv].params["groups"] == 4
    assert panel.depthwise.isChecked()


def test_the_box_follows_the_graph_and_the_kind(panel, controller):
    a, conv = _net(controller, channels=6, out_channels=12)
    controller.set_selection([conv])
    assert not panel.depthwise.isChecked()
    assert controller.push(SetParam(conv, "groups", 6))  # typed in the groups field instead
    assert panel.depthwise.isChecked()
    assert controller.push(SetParam(a, "channels", 1))  # one input channel: nothing to choose
    assert not panel.depthwise.isEnabled() and "already depthwise" in panel.depthwise.toolTip()
    relu = add(controller, "relu", (0, 300))
    controller.set_selection([relu])
    assert not panel.depthwise.isVisible()
    lone = add(controller, "conv2d", (300, 150))
    controller.set_selection([lone])
    assert panel.depthwise.isVisible() and not panel.depthwise.isEnabled()
    assert "Connect an input first" in panel.depthwise.toolTip()
