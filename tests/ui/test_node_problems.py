"""Problems on the node: a broken layer says what is wrong on its body, the inspector
says how to fix it and offers the quick fix; a click on the Fix button repairs the
graph and Ctrl+Z puts it back. Real mouse clicks and keys, in the main window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from visionstudio.core.project.document import ProjectDocument

from .canvas_helpers import add, mouse, snapshot, wire
from .shell_helpers import make_window


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    w.resize(1280, 800)
    w.controller.replace_document(ProjectDocument())
    return w


def dense_after_conv(controller):
    a = add(controller, "input", (0, 0))
    c = add(controller, "conv2d", (0, 130))
    d = add(controller, "dense", (0, 260), units=10)
    wire(controller, a, c)
    wire(controller, c, d)
    return c, d


def click_node(qtbot, window, node_id):
    view = window.canvas
    view.centerOn(*window.controller.graph.positions[node_id])
    pos = view.mapFromScene(*window.controller.graph.positions[node_id])
    mouse(view, "press", pos)
    mouse(view, "release", pos)
    qtbot.waitUntil(lambda: window.controller.selection == [node_id], timeout=2000)


def test_the_problem_line_is_on_the_node(window):
    c, d = dense_after_conv(window.controller)
    window.canvas.centerOn(0, 130)
    window.canvas.viewport().grab()  # paints every node once
    item = window.canvas.graph_scene.node_item(d)
    painted = item._problem_elided
    assert painted is not None  # laid out by the paint ...
    assert item.problem_text.startswith("receives a 32×26×26 feature map")
    assert not item.problem_text.startswith("dense1")  # the name is on the node already
    style = window.canvas.graph_scene.style
    line = item.problem_line(style, 172.0)
    assert line.startswith("⚠ receives a") and line.endswith("…") and len(line) < len(item.problem_text)
    assert item.problem_line(style, 172.0) is line is painted[1]  # ... once, not per paint
    assert "To fix: insert a Flatten before it" in item.toolTip()
    healthy = window.canvas.graph_scene.node_item(c)
    assert healthy.problem_text == "" and healthy._problem_elided is None


def test_fix_button_repairs_and_ctrl_z_restores(qtbot, window):
    controller = window.controller
    c, d = dense_after_conv(controller)
    before = snapshot(controller)
    click_node(qtbot, window, d)
    problems = window.inspector.problems
    assert problems.isVisible()
    text = problems.label.text()
    assert "dense1: receives a 32×26×26 feature map" in text and "To fix:" in text
    assert [b.text().replace("\n", " ") for b in problems.buttons] == ["Fix: Insert a Flatten before dense1"]
    QTest.mouseClick(problems.buttons[0], Qt.MouseButton.LeftButton)
    assert controller.analysis.ok
    flatten = next(n for n in controller.graph.nodes.values() if n.kind == "flatten")
    assert [e.src for e in controller.graph.inputs_of(d)] == [flatten.id]
    assert window.canvas.graph_scene.node_item(d).problem_text == ""
    assert window.actions_by_name["undo"].text() == "&Undo Insert a Flatten before dense1"
    window.activateWindow()
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert snapshot(controller) == before
    assert window.canvas.graph_scene.node_item(d).problem_text.startswith("receives a")


def test_merge_projection_from_the_inspector(qtbot, window):
    controller = window.controller
    a = add(controller, "input", (0, 0), channels=3, height=13, width=13)
    stem = add(controller, "conv2d", (0, 130), out_channels=32, padding=1)
    main = add(controller, "conv2d", (0, 260), out_channels=64, padding=1)
    merge = add(controller, "add", (0, 390))
    wire(controller, a, stem)
    wire(controller, stem, main)
    wire(controller, main, merge)
    wire(controller, stem, merge)
    before = snapshot(controller)
    item = window.canvas.graph_scene.node_item(merge)
    assert item.problem_text.startswith("inputs have different shapes 64×13×13 and 32×13×13")
    click_node(qtbot, window, merge)
    buttons = window.inspector.problems.buttons
    assert buttons and "1×1 Conv2d with 64 filters" in buttons[0].text().replace("\n", " ")
    QTest.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    assert controller.analysis.nodes[merge].ok and item.problem_text == ""
    assert controller.undo()
    assert snapshot(controller) == before


def test_the_last_dense_gets_the_dataset_classes(qtbot, window):
    controller = window.controller
    a = add(controller, "input", (0, 0))
    f = add(controller, "flatten", (0, 130))
    d = add(controller, "dense", (0, 260), units=7)
    wire(controller, a, f)
    wire(controller, f, d)
    click_node(qtbot, window, d)
    problems = window.inspector.problems
    assert [b.text().replace("\n", " ") for b in problems.buttons] == [
        "Fix: Set units of dense1 to 10 (the dataset's classes)"]
    QTest.mouseClick(problems.buttons[0], Qt.MouseButton.LeftButton)
    assert controller.analysis.output_shape == (10,)
    assert problems.buttons == [] and not problems.isVisible()
