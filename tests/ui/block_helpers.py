"""Helpers of the block canvas tests: a network with two instances of one block, the
window's actions on a bare canvas, and real clicks on items."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from visionstudio.core.blocks.builtin import builtin_block
from visionstudio.ui.shell.actions import CANVAS_ACTIONS, add_undo_actions, create_actions

from .canvas_helpers import add, vpos, wire

CHANNELS = 8


def two_instances(controller) -> dict[str, str]:
    """input 8×8×8 -> block1 -> block2 -> flatten -> dense, both blocks basic_block
    (3×3 conv-BN-ReLU twice and the identity add); the undo stack starts empty."""
    controller.document.graph.blocks.add(builtin_block("basic_block", channels=CHANNELS))
    ids = {"input": add(controller, "input", (0, 0), channels=CHANNELS, height=8, width=8),
           "block1": add(controller, "block", (0, 130), block="basic_block", channels=CHANNELS),
           "block2": add(controller, "block", (0, 260), block="basic_block", channels=CHANNELS),
           "flatten": add(controller, "flatten", (0, 390)),
           "dense": add(controller, "dense", (0, 520), units=10)}
    names = list(ids.values())
    for a, b in zip(names, names[1:]):
        wire(controller, a, b)
    controller.undo_stack.clear()
    return ids


def install_window_actions(view) -> dict:
    """The window's Edit/View actions on a bare canvas, wired as MainWindow wires them
    (Ctrl+G, Ctrl+Shift+G, Ctrl+Z... work where the canvas has the focus)."""
    actions = create_actions(view)
    add_undo_actions(view, view.controller, actions)
    for name, method in CANVAS_ACTIONS.items():
        slot = getattr(view, method)
        actions[name].triggered.connect(lambda _checked=False, slot=slot: slot())
    for action in actions.values():
        view.addAction(action)
    view.activateWindow()
    view.setFocus()
    return actions


def press(view, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    view.activateWindow()
    view.setFocus()
    QTest.keyClick(view, key, modifiers)


def click_node(view, node_id: str, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    item = view.graph_scene.node_item(node_id)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifiers, vpos(view, item.pos()))


def double_click_node(view, node_id: str) -> None:
    item = view.graph_scene.node_item(node_id)
    point = vpos(view, item.pos())
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def node_named(graph, name: str) -> str:
    node = graph.node_by_name(name)
    assert node is not None, name
    return node.id
