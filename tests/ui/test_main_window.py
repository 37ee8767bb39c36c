"""The application shell: window contents, actions, title, status bar, layout, errors."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QUndoView, QWidget

from visionstudio.core.graph import SetParam
from visionstudio.ui.shell.errors import ErrorDialog, ErrorReporter, install_excepthooks

from .shell_helpers import Answers, ini_settings, make_window


def test_window_opens_with_the_classic_cnn(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True, panels=True)
    c = w.controller
    assert c.analysis.ok and c.analysis.total_params == 121_930
    assert w.findChild(QDockWidget, "summaryPanelDock").isVisible()
    assert "121,930 parameters" in w.summary.totals.text()
    assert w.windowTitle().startswith("Untitled (") and "[*]" in w.windowTitle()
    assert not w.isWindowModified()
    for name in ("layerPaletteDock", "inspectorDock", "undoHistoryDock", "summaryPanelDock"):
        dock = w.findChild(QDockWidget, name)
        assert dock is not None and dock.accessibleName(), name
    assert isinstance(w.history, QUndoView)
    # Every later-feature panel: a dock in the Panels menu holding its real, non-empty widget.
    from visionstudio.ui.shell.docks import LATER_PANELS

    qtbot.waitUntil(lambda: w.later_docks_added, timeout=20_000)
    expected = {"trainingPanel": "TrainingPanel", "metricsPlots": "MetricsPlots",
                "featureMapView": "FeatureMapView", "layerHealth": "LayerHealthPanel",
                "dataPanel": "DataPanel", "sweepPanel": "SweepPanel"}
    assert {panel.object_name for panel in LATER_PANELS} == set(expected)
    for object_name, cls in expected.items():
        dock = w.findChild(QDockWidget, f"{object_name}Dock")
        assert dock is not None, f"no dock for {object_name}"
        panel = w.findChild(QWidget, object_name)
        assert panel is not None and type(panel).__name__ == cls, object_name
        assert dock.isAncestorOf(panel), f"{object_name} is not in its dock"
        assert panel.findChildren(QWidget), f"{object_name} is empty"
        assert dock.toggleViewAction() in w.menus["panels"].actions()
    assert w.menuBar().actions()[-1] is w.menus["help"].menuAction()  # Help stays last


def test_canvas_and_palette_are_the_real_widgets(qtbot, tmp_path):
    from visionstudio.ui.canvas import GraphView
    from visionstudio.ui.canvas.palette import LayerPalette

    w = make_window(qtbot, tmp_path)
    assert isinstance(w.canvas, GraphView) and w.canvas.objectName() == "modelCanvas"
    assert isinstance(w.palette, LayerPalette) and w.palette.objectName() == "layerPalette"
    assert w.actions_by_name["zoom_in"].isEnabled()


def test_standard_shortcuts(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    a = w.actions_by_name
    SK = QKeySequence.StandardKey
    for name, key in (("new", SK.New), ("open", SK.Open), ("save", SK.Save), ("undo", SK.Undo),
                      ("redo", SK.Redo), ("copy", SK.Copy), ("paste", SK.Paste), ("cut", SK.Cut),
                      ("select_all", SK.SelectAll), ("zoom_in", SK.ZoomIn), ("delete", SK.Delete)):
        assert QKeySequence.keyBindings(key)[0] in a[name].shortcuts(), name
    assert QKeySequence("Ctrl+0") in a["fit"].shortcuts()
    assert QKeySequence("Ctrl+Shift+S") in a["save_as"].shortcuts()
    every = [s.toString() for act in a.values() for s in act.shortcuts()]
    assert len(every) == len(set(every)), "a shortcut is bound twice"
    assert all(act.objectName().startswith("action_") for act in a.values())


def test_title_marks_unsaved_changes_and_undo_clears_it(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    c = w.controller
    conv = c.graph.node_by_name("conv1") or next(
        n for n in c.graph.nodes.values() if n.kind == "conv2d")
    assert c.push(SetParam(conv.id, "out_channels", 16))
    assert w.isWindowModified()
    assert "16" in w.history.model().index(1, 0).data() or w.history.model().rowCount() == 2
    c.undo_stack.undo()
    assert not w.isWindowModified()
    assert w.controller.analysis.total_params == 121_930


def test_status_bar_shows_refusals_and_canvas_messages(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    node = next(iter(w.controller.graph.nodes))
    assert not w.controller.push(SetParam(node, "no_such_param", 1))
    assert "no parameter" in w.statusBar().currentMessage()
    w.canvas.status_message.emit("Zoom 150%")
    assert w.statusBar().currentMessage() == "Zoom 150%"


def test_view_menu_toggles_docks(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    toggle = next(a for a in w.menus["panels"].actions() if a.objectName() == "action_toggle_summaryPanel")
    toggle.trigger()
    assert not w.docks["summary"].isVisible()
    toggle.trigger()
    assert w.docks["summary"].isVisible()


def test_window_state_survives_a_restart(qtbot, tmp_path):
    settings = ini_settings(tmp_path)
    w = make_window(qtbot, tmp_path, settings=settings, show=True)
    w.resize(790, 530)  # the offscreen screen is 800 px wide
    qtbot.waitUntil(lambda: w.height() == 530, timeout=20_000)
    size = (w.width(), w.height())
    w.docks["history"].hide()
    w.removeDockWidget(w.docks["summary"])
    w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, w.docks["summary"])
    w.docks["summary"].show()
    area = w.dockWidgetArea(w.docks["summary"])
    assert w.close()
    w2 = make_window(qtbot, tmp_path, settings=ini_settings(tmp_path), show=True)
    assert (w2.width(), w2.height()) == size
    assert not w2.docks["history"].isVisible()
    assert w2.dockWidgetArea(w2.docks["summary"]) == area
    w2.reset_layout()
    assert w2.docks["history"].isVisible()


def test_close_with_unsaved_changes_can_be_cancelled(qtbot, tmp_path):
    answers = Answers()
    w = make_window(qtbot, tmp_path, answers=answers, show=True)
    node = next(n for n in w.controller.graph.nodes.values() if n.kind == "dense")
    w.controller.push(SetParam(node.id, "units", 32))
    answers.unsaved = "cancel"
    assert not w.close()
    assert w.isVisible() and answers.asked == ["unsaved"]
    answers.unsaved = "discard"
    assert w.close()


@pytest.mark.qt_no_exception_capture
def test_unexpected_error_shows_a_non_modal_dialog_and_the_app_goes_on(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    reporter = ErrorReporter(lambda: w)
    uninstall = install_excepthooks(reporter)
    try:
        def boom() -> None:
            raise RuntimeError("slot exploded")

        QTimer.singleShot(0, boom)  # an exception in a Qt slot reaches sys.excepthook
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 1, timeout=20_000)
        worker = threading.Thread(target=lambda: 1 / 0, name="worker-x")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 2, timeout=20_000)
    finally:
        uninstall()
    first, second = reporter.dialogs
    assert isinstance(first, ErrorDialog) and not first.isModal() and first.isVisible()
    assert "slot exploded" in first.details.toPlainText()
    assert "Traceback" in first.details.toPlainText()
    assert "ZeroDivisionError" in second.details.toPlainText() and "worker-x" in second.message.text()
    # The app goes on: the window still edits.
    node = next(n for n in w.controller.graph.nodes.values() if n.kind == "dense")
    assert w.controller.push(SetParam(node.id, "units", 48))
    first.close()
    second.close()


def test_gui_start_path_does_not_import_torch():
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
            "import visionstudio.app, visionstudio.ui.shell.main_window, visionstudio.ui.canvas\n"
            "import visionstudio.ui.canvas.palette, visionstudio.core.templates\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "torch is imported before the first paint"


def test_delete_shortcut_does_not_steal_keys_from_the_inspector(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, show=True)
    c = w.controller
    conv = next(n for n in c.graph.nodes.values() if n.kind == "conv2d")
    c.set_selection([conv.id])
    field = w.inspector.editor("out_channels").field
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    n = len(c.graph.nodes)
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Backspace)
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Delete)
    assert len(c.graph.nodes) == n  # edited text, deleted no layer
    w.canvas.setFocus()
    qtbot.waitUntil(w.canvas.hasFocus)
    qtbot.keyClick(w.canvas, Qt.Key.Key_Delete)
    assert len(c.graph.nodes) == n - 1


@pytest.mark.slow
def test_main_starts_paints_loads_and_logs_crashes(tmp_path):
    """The real entry point: first paint, then the template, faulthandler log in the state dir."""
    import os

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), VISIONSTUDIO_STARTUP_T0="1",
               VISIONSTUDIO_STARTUP_EXIT="1")
    out = subprocess.run([sys.executable, "-m", "visionstudio"], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "first-paint-ms" in out.stdout and "document-ready-ms" in out.stdout
    assert (tmp_path / "state" / "visionstudio" / "crash.log").exists()
    assert (tmp_path / "state" / "visionstudio" / "visionstudio.log").exists()
