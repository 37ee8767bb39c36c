"""DocumentController: one lock check for push, undo and redo; refusals say why.

While a run trains, the window's Undo/Redo (menu, toolbar, Ctrl+Z) go through the
controller like every edit, so a refused undo leaves the model as it is and the
status bar tells the user why.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from visionstudio.core.graph import AddNode, MoveNodes
from visionstudio.core.project import ProjectDocument
from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.shell.controller import DocumentController

from .shell_helpers import make_window

REASON = "The model cannot change while it trains; stop or finish the run first."


@pytest.fixture
def controller():
    return DocumentController()


def _refusals(controller) -> list[str]:
    got: list[str] = []
    controller.refused.connect(got.append)
    return got


def test_push_hands_the_command_to_allow_and_refuses_with_the_reason(controller):
    asked = []

    def allow(command) -> bool:
        asked.append(command)
        return isinstance(command, MoveNodes)

    add = AddNode("relu")
    assert controller.push(add)
    refusals = _refusals(controller)
    controller.lock(REASON, allow)
    blocked = AddNode("relu")
    assert not controller.push(blocked)
    assert refusals == [REASON] and len(controller.graph.nodes) == 1
    move = MoveNodes({add.node_id: (5.0, 6.0)})
    assert controller.push(move)
    assert asked == [blocked, move] and controller.graph.positions[add.node_id] == (5.0, 6.0)


def test_settings_commands_run_on_the_document_without_a_target(controller):
    epochs = controller.document.training.epochs
    assert controller.push(SetTrainingSettings({"epochs": epochs + 1}))
    assert controller.document.training.epochs == epochs + 1
    assert controller.undo()
    assert controller.document.training.epochs == epochs
    assert controller.redo()
    assert controller.document.training.epochs == epochs + 1


def test_undo_and_redo_are_checked_against_the_lock(controller):
    add = AddNode("relu")
    controller.push(add)
    move = MoveNodes({add.node_id: (9.0, 9.0)})
    controller.push(move)
    refusals = _refusals(controller)
    controller.lock(REASON, lambda command: isinstance(command, MoveNodes))
    assert controller.undo()                      # the move may be undone...
    assert controller.graph.positions[add.node_id] == (0.0, 0.0)
    assert not controller.undo()                  # ...the added layer may not
    assert add.node_id in controller.graph.nodes and refusals == [REASON]
    assert controller.redo()                      # redoing the move is allowed
    controller.unlock()
    assert controller.undo() and controller.undo()
    assert not controller.graph.nodes
    controller.lock(REASON)                       # no allow: nothing passes
    assert not controller.redo()
    assert not controller.graph.nodes and refusals == [REASON, REASON]


def test_undo_with_nothing_to_undo_is_quiet(controller):
    refusals = _refusals(controller)
    controller.lock(REASON)
    assert not controller.undo() and not controller.redo()
    assert refusals == []


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    w.controller.replace_document(ProjectDocument())
    return w


def test_a_refused_undo_says_why_in_the_status_bar(window, qtbot):
    c = window.controller
    add = AddNode("relu")
    assert c.push(add)
    undo = window.actions_by_name["undo"]
    assert undo.isEnabled() and undo.text() == "&Undo Add ReLU"
    c.lock(REASON)
    window.statusBar().clearMessage()
    undo.trigger()
    assert add.node_id in c.graph.nodes and c.undo_stack.index() == 1
    assert window.statusBar().currentMessage() == REASON
    window.statusBar().clearMessage()
    window.activateWindow()
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z
    assert add.node_id in c.graph.nodes
    assert window.statusBar().currentMessage() == REASON
    assert not window.history.isEnabled()         # jumping in the History panel would skip the lock
    c.unlock()
    assert window.history.isEnabled()
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not c.graph.nodes
    redo = window.actions_by_name["redo"]
    assert redo.isEnabled() and redo.text() == "&Redo Add ReLU" and not undo.isEnabled()


def test_a_refused_redo_says_why_in_the_status_bar(window):
    c = window.controller
    c.push(AddNode("relu"))
    assert c.undo()
    c.lock(REASON)
    window.statusBar().clearMessage()
    window.actions_by_name["redo"].trigger()
    assert not c.graph.nodes
    assert window.statusBar().currentMessage() == REASON
