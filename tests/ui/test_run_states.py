"""True states (issue #13): overlay ranges cover every shown run, failed runs are marked
and not continuable, the status bar starts over on New, History texts name the setting
and the value, and Export starts from the trained weights under the project's name."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("torch")

from PySide6.QtCore import QSettings

from visionstudio.core.commands import UndoHistory
from visionstudio.core.project import ProjectDocument
from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
from visionstudio.core.runs import RunHistory, make_entry
from visionstudio.core.training.records import BatchRecord, EpochRecord
from visionstudio.ui.shell.controller import DocumentController

from .shell_helpers import Answers
from .test_training_run import make_controller, make_loss_diverge, wait_done, wait_first_batch


def fill(history: RunHistory, steps: int, scale: float, lr: float, rate: float) -> None:
    """A run whose loss is about ``scale``, at learning rate ``lr`` and ``rate`` img/s."""
    x = np.arange(steps)
    losses = tuple((scale * (1.5 - x / (2 * steps))).tolist())
    history.add(BatchRecord(epoch=1, batch=steps, batches=steps, step=steps, loss=losses[-1],
                            accuracy=0.5, lr=lr, images_per_s=rate, elapsed_s=1.0, eta_s=0.0,
                            losses=losses, lrs=(lr,) * steps))
    history.add(EpochRecord(epoch=1, step=steps, train_loss=scale, train_accuracy=0.8,
                            val_loss=scale * 1.2, val_accuracy=0.7, val_top5=None, lr=lr,
                            images_per_s=rate, epoch_s=1.0, elapsed_s=1.0, eta_s=0.0,
                            monitored=scale, best=True))


def _inside(view: tuple[float, float], values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return view[0] <= float(v.min()) and float(v.max()) <= view[1]


# -- overlay ranges ----------------------------------------------------------------------
def test_overlay_ranges_cover_every_shown_run(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    from visionstudio.ui.plots.metrics import MetricsPlots

    plots = MetricsPlots(DocumentController())
    plots.resize(1000, 600)
    qtbot.addWidget(plots)
    s = plots.selection
    shapes = {"small": (300, 0.02, 1e-4, 200.0), "big": (900, 40.0, 0.5, 50_000.0)}
    for rid, (steps, scale, lr, rate) in shapes.items():
        h = RunHistory()
        fill(h, steps, scale, lr, rate)
        h.save(s.store.root / rid)
    plots.controller.document.set_runs([make_entry("big", "big", {}, status="completed"),
                                        make_entry("small", "small", {}, status="completed")])
    s.show_run("small")
    s.set_overlay(["small", "big"])
    plots.refresh(force=True)
    assert set(plots.overlay_items) == {"big"} and len(plots.overlay_items["big"]) == 4
    for plot in plots.plots.values():
        plot.vb.updateAutoRange()
    for rid in ("small", "big"):
        a = s.history_for(rid).batch_arrays()
        loss_x, loss_y = plots.plots["loss"].vb.viewRange()
        assert _inside(tuple(loss_y), a["loss_ema"]) and _inside(tuple(loss_x), a["step"]), rid
        assert _inside(tuple(plots.plots["lr"].vb.viewRange()[1]), a["lr"]), rid
        assert _inside(tuple(plots.plots["throughput"].vb.viewRange()[1]), a["rate"]), rid
        acc_y = plots.plots["accuracy"].vb.viewRange()[1]
        assert acc_y[0] <= 0.7 and 0.8 <= acc_y[1]
    # the raw loss of the shown run stays in view as well
    assert _inside(tuple(plots.plots["loss"].vb.viewRange()[1]),
                   s.history_for("small").batch_arrays()["loss"])
    # on a log axis too
    plots.set_log_scale(True)
    plots.refresh(force=True)
    lo, hi = plots.plots["loss"].vb.viewRange()[1]
    assert lo <= np.log10(0.02 * 0.99) and np.log10(40.0 * 1.5) <= hi
    s.set_overlay([])
    plots.refresh(force=True)
    assert plots.overlay_items == {}
    assert all(len(p.listDataItems()) == n for p, n in
               zip(plots.plots.values(), (4, 3, 1, 1)))   # no overlay item left behind


# -- History texts -------------------------------------------------------------------------
@pytest.mark.parametrize("changes,text", [
    ({"optimizer": {"key": "sgd_momentum", "params": {}}}, "Set optimizer to SGD with momentum"),
    ({"epochs": 12}, "Set epochs to 12"),
    ({"batch_size": 32}, "Set batch size to 32"),
    ({"clip_norm": 1.5}, "Set gradient clipping to 1.5"),
    ({"epochs": 3, "batch_size": 8}, "Change batch size and epochs"),
    ({"scheduler": {"key": "step", "params": {}}}, "Set learning-rate schedule to Step decay"),
])
def test_training_setting_texts(changes, text):
    history = UndoHistory(ProjectDocument())
    assert history.push(SetTrainingSettings(changes)).text == text


def test_param_texts_name_the_param_and_the_value():
    doc = ProjectDocument()
    history = UndoHistory(doc)
    history.push(SetTrainingSettings({"optimizer": {"key": "sgd_momentum", "params": {}}}))
    lr = history.push(SetTrainingSettings({"optimizer": {"key": "sgd_momentum",
                                                         "params": {"lr": 0.005}}}))
    assert lr.text == "Set learning rate to 0.005"
    momentum = history.push(SetTrainingSettings({"optimizer": {"key": "sgd_momentum",
                                                               "params": {"lr": 0.005, "momentum": 0.8}}}))
    assert momentum.text == "Set momentum of SGD with momentum to 0.8"
    assert lr.merge_key != momentum.merge_key          # two fields: two undo steps
    both = history.push(SetTrainingSettings({"optimizer": {"key": "sgd_momentum", "params": {
        "lr": 0.01, "momentum": 0.5}}}))
    assert both.text == "Change learning rate and momentum of SGD with momentum"
    smoothing = history.push(SetTrainingSettings({"loss": {"key": "cross_entropy",
                                                           "params": {"label_smoothing": 0.1}}}))
    assert smoothing.text.startswith("Set label smoothing of ") and smoothing.text.endswith(" to 0.1")
    step = history.push(SetTrainingSettings({"scheduler": {"key": "step", "params": {}}}))
    size = history.push(SetTrainingSettings({"scheduler": {"key": "step", "params": {"step_size": 4}}}))
    assert step.text.endswith("Step decay") and size.text == "Set step size of Step decay to 4"


def test_a_drag_of_one_param_is_one_step():
    history = UndoHistory(ProjectDocument())
    for value in (0.01, 0.02, 0.03):
        history.push(SetTrainingSettings({"optimizer": {"key": "adam", "params": {"lr": value}}}))
    assert len(history._done) == 1 and history._done[0].text == "Set learning rate to 0.03"
    history.undo()
    assert history.document.training.optimizer["params"].get("lr") is None   # back to the default


def test_dataset_texts_name_what_changed():
    history = UndoHistory(ProjectDocument())
    size = history.push(SetDatasetSettings("shapes", {"image_size": 32}))
    assert size.text == "Set image size of Shapes (built-in) to 32"
    both = history.push(SetDatasetSettings("shapes", {"image_size": 40, "samples": 100}))
    assert both.text == "Change image size and training images of Shapes (built-in)"
    assert history.push(SetDatasetSettings("mnist", {})).text == "Use dataset MNIST"


# -- with a real run -----------------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.shell.main_window import MainWindow
    from visionstudio.ui.training.panel import TrainingPanel
    from visionstudio.ui.training.run_controller import runs_for

    controller = make_controller(tmp_path, monkeypatch)
    win = MainWindow(controller, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     recovery_dir=tmp_path / "recovery")
    Answers().install(win)
    win.panel, win.plots = TrainingPanel(controller), MetricsPlots(controller)
    for widget in (win, win.panel, win.plots):
        qtbot.addWidget(widget)
    yield win
    runs_for(controller).shutdown()


def test_paused_learning_rate_change_names_the_learning_rate(qtbot, window):
    panel = window.panel
    session = panel.training
    window.controller.push(SetTrainingSettings({"epochs": 4}))
    assert session.train()
    wait_first_batch(qtbot, session)
    session.pause()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=60_000)
    editor = panel.choice_forms["optimizer"].editors["lr"]
    editor.setText("0.005")
    editor.editingFinished.emit()
    stack = window.controller.undo_stack
    qtbot.waitUntil(lambda: stack.undoText() == "Set learning rate to 0.005", timeout=10_000)
    session.stop()
    wait_done(qtbot, session)


def test_failed_run_is_marked_not_continuable_and_new_resets_the_status_bar(qtbot, window,
                                                                             monkeypatch):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    integration.show_failure = lambda parent, failure: None
    make_loss_diverge(monkeypatch)
    session, panel = integration.training, window.panel
    assert session.train()
    wait_done(qtbot, session)
    entry = window.controller.document.runs[-1]
    assert entry["status"] == "failed" and entry["summary"]["failure"]
    assert integration.selection.display_id == entry["id"]
    # listed as failed: the status word, an error icon and why in the tooltip
    item = window.plots.runs.list.item(0)
    assert "failed" in item.text() and not item.icon().isNull()
    assert "cannot be continued" in item.toolTip()
    # Continue is off, in the menu and on the panel, and says why
    assert not integration.actions["continue"].isEnabled()
    assert "cannot be continued" in integration.actions["continue"].toolTip()
    assert not panel.continue_button.isEnabled() and panel.train_button.isEnabled()
    # and refused with the reason if triggered anyway
    failures = []
    session.failed.connect(failures.append)
    assert session.continue_run(entry["id"]) is False
    assert failures and "failed, so it cannot be continued" in failures[0].message
    assert session.active_run is None and session.state == "idle"
    # the status bar showed the run's end; after New it shows nothing of it
    assert integration.step_label.text() and integration.step_label.isVisibleTo(window)
    assert window.files.new_from_template(ask=False)
    for widget in (integration.step_label, integration.progress, integration.time_label):
        assert not widget.isVisibleTo(window)
    assert integration.step_label.text() == "" and "Epoch" not in window.statusBar().currentMessage()
    assert not integration.actions["continue"].isEnabled()


def test_a_stopped_run_stays_continuable_and_new_clears_its_epoch(qtbot, window):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    session = window.panel.training
    window.controller.push(SetTrainingSettings({"epochs": 50}))
    assert session.train()
    wait_first_batch(qtbot, session)
    session.stop()
    wait_done(qtbot, session)
    assert window.controller.document.runs[-1]["status"] == "stopped"
    assert session.can_continue(window.controller.document.runs[-1]["id"])
    assert window.panel.continue_button.isEnabled() and integration.actions["continue"].isEnabled()
    assert re.search(r"Epoch \d+/50", integration.step_label.text())   # where the stop landed
    assert integration.time_label.isVisibleTo(window)
    assert window.files.new_from_template(ask=False)
    assert "Epoch" not in integration.step_label.text()
    assert not integration.step_label.isVisibleTo(window) and not integration.progress.isVisibleTo(window)
    assert not window.panel.continue_button.isEnabled()


def test_continue_refuses_an_imported_run(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.training.run_controller import runs_for

    controller = make_controller(tmp_path, monkeypatch)
    controller.document.set_runs([make_entry("imp", "Imported", {}, status="imported")])
    runs = runs_for(controller)
    assert not runs.can_continue("imp")
    failures = []
    runs.failed.connect(failures.append)
    assert runs.continue_run("imp") is False and "no checkpoint" in failures[0].message


def test_open_resets_the_status_bar_without_a_run(qtbot, window, tmp_path):
    from visionstudio.ui.training.integration import install

    integration = install(window)
    integration.step_label.setText("Epoch 5/5 · batch 4/4")
    integration.step_label.show()
    integration._show_status("Training completed: accuracy 90.0%")
    path = tmp_path / "other.vsproj"
    assert window.files.save_to(path)
    assert window.files.open_path(path, ask=False)
    assert not integration.step_label.isVisibleTo(window) and integration.step_label.text() == ""
    assert "Training completed" not in window.statusBar().currentMessage()


@pytest.mark.parametrize("name,path,expected", [
    ("Untitled", "/x/mnist-net.vsproj", "MnistNet"), ("Untitled", None, "Untitled"),
    ("My CNN", "/x/other.vsproj", "MyCNN"), ("Untitled", "/x/___.vsproj", "Network"),
    ("", "/x/3conv.vsproj", "Net3conv"),
])
def test_export_class_name_from_the_project_or_file_name(name, path, expected):
    from visionstudio.core.export.codegen import class_name_for, export_name

    assert class_name_for(export_name(name, path)) == expected
