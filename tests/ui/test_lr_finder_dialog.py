"""Training › Find Learning Rate…: a real sweep on a tiny Shapes set, clicked through:
Run, the curve and the two markers, Use valley (one undoable step), Cancel."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from PySide6.QtCore import Qt

from tests.ui.finder_helpers import TIMEOUT_MS, check_menu_action_opens_one_dialog, tiny_controller
from visionstudio.ui.training.lr_finder_dialog import LRFinderDialog, add_lr_finder_action, rounded


def _controller(size: int = 8):
    return tiny_controller(size, optimizer={"key": "sgd", "params": {"lr": 0.5}})


@pytest.fixture
def dialog(qtbot):
    dlg = LRFinderDialog(_controller())
    qtbot.addWidget(dlg)
    dlg.steps.setValue(40)
    yield dlg
    if dlg.task is not None:
        dlg.task.cancel()
        qtbot.waitUntil(lambda: dlg.task is None, timeout=TIMEOUT_MS)


def test_run_plot_and_use_the_valley_undoably(qtbot, dialog):
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None and dialog.result is not None, timeout=TIMEOUT_MS)
    result = dialog.result
    assert result.ok and len(result.lrs) >= 20
    xs, ys = dialog.smooth_curve.getData()
    assert len(xs) == len(result.lrs) and list(ys) == pytest.approx(list(result.smoothed))
    assert result.valley is not None and "valley" in dialog.markers
    button = dialog.use_buttons["valley"]
    assert button.isEnabled() and f"{rounded(result.valley):.1e}" in button.text()
    assert "Suggested" in dialog.status.text()
    controller = dialog.controller
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert controller.document.training.optimizer["params"]["lr"] == rounded(result.valley)
    assert controller.document.training.optimizer["key"] == "sgd"
    assert controller.undo()
    assert controller.document.training.optimizer["params"]["lr"] == 0.5
    assert "Learning rate set to" in dialog.status.text()


def test_a_plan_problem_is_shown_and_nothing_runs(qtbot):
    dlg = LRFinderDialog(_controller(size=12))   # the network's Input does not fit 8×8 images
    qtbot.addWidget(dlg)
    qtbot.mouseClick(dlg.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "does not fit" in dlg.status.text(), timeout=TIMEOUT_MS)
    assert dlg.task is None and dlg.run_button.isEnabled()
    assert not any(b.isEnabled() for b in dlg.use_buttons.values())


def test_cancel_stops_the_sweep(qtbot, dialog):
    dialog.steps.setValue(1000)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is not None and dialog.cancel_button.isEnabled(), timeout=TIMEOUT_MS)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.task is None, timeout=TIMEOUT_MS)
    assert dialog.result is not None and dialog.result.stopped_reason == "cancelled"
    assert len(dialog.result.lrs) < 1000 and dialog.run_button.isEnabled()


def test_the_menu_action_opens_one_dialog(qtbot):
    check_menu_action_opens_one_dialog(qtbot, add_lr_finder_action, LRFinderDialog, "Find &Learning Rate")
