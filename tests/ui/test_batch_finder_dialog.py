"""Training › Find the Largest Batch…: a real search on a tiny Shapes set, clicked through:
Run, the tries listed, Use batch N (one undoable step); a plan problem; the menu action."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from PySide6.QtCore import Qt

from tests.ui.finder_helpers import TIMEOUT_MS, check_menu_action_opens_one_dialog, tiny_controller
from visionstudio.core.memory import human_bytes
from visionstudio.ui.training.batch_finder_dialog import BatchFinderDialog, add_batch_finder_action


def test_run_and_use_the_batch_undoably(qtbot):
    dialog = BatchFinderDialog(tiny_controller())
    qtbot.addWidget(dialog)
    dialog.max_batch.setValue(40)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None and dialog.result is not None, timeout=TIMEOUT_MS)
    result = dialog.result
    assert result.ok and result.batch == 40 and result.how == "estimated"
    shown = [dialog.tries.item(i).text() for i in range(dialog.tries.count())]
    assert shown[:2] == [f"Batch 1 fits ({human_bytes(result.tried[0][2])})",
                         f"Batch 2 fits ({human_bytes(result.tried[1][2])})"]
    assert dialog.tries.count() == len(result.tried)
    assert "Largest batch that fits: 40" in dialog.status.text()
    assert dialog.use_button.isEnabled() and dialog.use_button.text() == "Use batch 40"
    controller = dialog.controller
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert controller.document.training.batch_size == 40
    assert "Batch size set to 40" in dialog.status.text()
    assert controller.undo()
    assert controller.document.training.batch_size == 16


def test_a_plan_problem_is_shown_and_nothing_runs(qtbot):
    dialog = BatchFinderDialog(tiny_controller(size=12))   # the network's Input does not fit 8×8 images
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "does not fit" in dialog.status.text(), timeout=TIMEOUT_MS)
    assert dialog.task is None and dialog.run_button.isEnabled() and not dialog.use_button.isEnabled()


def test_the_menu_action_opens_one_dialog(qtbot):
    check_menu_action_opens_one_dialog(qtbot, add_batch_finder_action, BatchFinderDialog,
                                       "Find the Largest &Batch")
