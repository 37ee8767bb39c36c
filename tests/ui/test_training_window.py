"""install(window): Training menu/toolbar actions with shortcuts, status-bar progress,
failure message box hook, and confirm_close stopping a run without leaving a thread."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from PySide6.QtCore import QSettings

from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.shell.tasks import live_tasks

from .shell_helpers import Answers
from .test_training_run import make_controller, wait_done, wait_first_batch


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.shell.main_window import MainWindow

    controller = make_controller(tmp_path, monkeypatch)
    win = MainWindow(controller, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     recovery_dir=tmp_path / "recovery")
    Answers().install(win)          # the unsaved-changes question on close answers itself
    qtbot.addWidget(win)
    yield win
    from visionstudio.ui.training.run_controller import runs_for
    runs_for(controller).shutdown()


def test_install_adds_actions_menu_toolbar_and_status(qtbot, window):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    assert install(window) is integration                       # idempotent
    a = integration.actions
    assert a["train"].shortcut().toString() == "F5"
    assert a["stop"].shortcut().toString() == "Shift+F5"
    assert a["pause"].shortcut().toString() == "F6"
    assert a["continue"].shortcut().toString() == "Ctrl+F5"
    assert window.menus["training"].actions()[0] is a["train"]
    assert a["train"] in integration.toolbar.actions()
    assert a["train"].isEnabled() and not a["stop"].isEnabled() and not a["continue"].isEnabled()
    failures = []
    integration.show_failure = lambda parent, failure: failures.append(failure)
    epochs = []
    integration.training.epoch.connect(epochs.append)
    a["train"].trigger()
    assert integration.lock_label.isVisibleTo(window)
    assert not a["train"].isEnabled() and a["stop"].isEnabled()
    wait_done(qtbot, integration.training)
    assert len(epochs) == 2 and not failures
    bar = integration.progress
    assert bar.maximum() == 8 and bar.value() == 8
    assert "Epoch 2/2" in integration.step_label.text()
    assert "Elapsed" in integration.time_label.text()
    assert not integration.lock_label.isVisibleTo(window)
    assert a["continue"].isEnabled()
    assert integration.confirm_close() is True                  # nothing running: no question


def test_confirm_close_during_training(qtbot, window):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    session = integration.training
    window.controller.push(SetTrainingSettings({"epochs": 200}))
    asked = []
    integration.ask_stop = lambda parent: asked.append(1) or False
    assert session.train()
    wait_first_batch(qtbot, session)
    assert integration.confirm_close() is False and asked and session.busy
    integration.ask_stop = lambda parent: True
    assert integration.confirm_close() is True
    assert session.active_run is None and session.state == "idle"
    assert session.last_result.status == "stopped"
    assert not live_tasks()


def test_failure_reaches_the_window(qtbot, window):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    failures = []
    integration.show_failure = lambda parent, failure: failures.append(failure)
    window.controller.push(SetTrainingSettings({"device": "cuda:7"}))
    assert integration.training.train() is False
    assert failures and "cuda" in failures[0].message.lower()
    assert integration.actions["train"].isEnabled()


def test_the_status_bar_labels_do_not_re_lay_out_the_window(qtbot, window):
    """Their texts change twice a second while training: with a size that followed the
    text, each change invalidated the main window's layout and repainted all of it."""
    from PySide6.QtCore import QEvent, QObject

    from visionstudio.ui.training.integration import install

    integration = install(window)
    window.show()
    qtbot.waitExposed(window)
    requests = []

    class Watch(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.LayoutRequest:
                requests.append(obj)
            return False

    watch = Watch()
    status = window.statusBar()
    for label in (integration.step_label, integration.time_label):
        label.show()
    qtbot.wait(300)   # the layout settles after the labels appear
    status.installEventFilter(watch)
    window.installEventFilter(watch)
    for step in (1, 12, 1234):
        integration.step_label.setText(f"Epoch {step}/50 · batch {step}/5000")
        integration.time_label.setText(f"Elapsed {step}:00 · ETA 1:{step % 60:02d}:00")
        qtbot.wait(20)
    status.removeEventFilter(watch)
    window.removeEventFilter(watch)
    assert requests == []
    for label in (integration.step_label, integration.time_label):   # the text still fits
        assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()
