"""Training from the app: panel + worker thread + dashboard, on the classic CNN and a
tiny Shapes set (64 images + 16 for validation, batch 16: 4 steps an epoch)."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from visionstudio.core.graph.commands import MoveNodes, SetParam
from visionstudio.core.project.commands import SetDatasetSettings, SetTrainingSettings
from visionstudio.core.templates import load_template
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.tasks import live_tasks

RUN_TIMEOUT_MS = 180_000


def make_controller(tmp_path, monkeypatch, **training) -> DocumentController:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    controller = DocumentController(load_template("classic_cnn"))
    controller.push(SetDatasetSettings("shapes", {"samples": 64, "val_samples": 16}))
    settings = {"epochs": 2, "batch_size": 16, "val_split": 0.25, "device": "cpu"}
    settings.update(training)
    controller.push(SetTrainingSettings(settings))
    return controller


@pytest.fixture
def app_parts(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.training.panel import TrainingPanel

    controller = make_controller(tmp_path, monkeypatch)
    panel = TrainingPanel(controller)
    plots = MetricsPlots(controller)
    qtbot.addWidget(panel)
    qtbot.addWidget(plots)
    yield controller, panel, plots
    panel.training.shutdown()


def wait_done(qtbot, session) -> None:
    if session.active_run is not None:
        with qtbot.waitSignal(session.finished, timeout=RUN_TIMEOUT_MS):
            pass
    assert session.active_run is None and session.state == "idle"


def wait_first_batch(qtbot, session) -> None:
    qtbot.waitUntil(lambda: session.last_batch is not None or session.active_run is None,
                    timeout=RUN_TIMEOUT_MS)


def test_train_button_runs_epochs_fills_plots_and_shows_accuracy(qtbot, app_parts):
    from PySide6.QtCore import Qt

    controller, panel, plots = app_parts
    session = panel.training
    epochs = []
    session.epoch.connect(epochs.append)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert session.state == "preparing" and not panel.train_button.isEnabled()
    wait_done(qtbot, session)
    assert [r.epoch for r in epochs] == [1, 2]
    assert session.last_failure is None and session.history.status == "completed"
    plots.refresh(force=True)
    x, y = plots.items["loss_raw"].getOriginalDataset()
    assert len(x) == session.history.steps_done == 8
    assert len(plots.items["val_acc"].getOriginalDataset()[0]) == 2
    assert "Final accuracy" in panel.final_label.text()
    acc = epochs[-1].val_accuracy
    assert f"{acc:.1%}" in panel.final_label.text()
    entry = controller.document.runs[-1]
    assert entry["status"] == "completed" and entry["summary"]["epochs"] == 2
    assert (session.store.folder(entry["id"]) / "checkpoints" / "last").is_dir()
    assert panel.train_button.isEnabled() and panel.continue_button.isEnabled()
    assert controller.locked_reason is None
    assert not live_tasks()


def test_pause_change_lr_resume_keeps_optimizer_state(qtbot, app_parts):
    controller, panel, plots = app_parts
    session = panel.training
    controller.push(SetTrainingSettings({"epochs": 4}))
    assert session.train()
    wait_first_batch(qtbot, session)
    session.pause()
    qtbot.waitUntil(lambda: session.state == "paused", timeout=RUN_TIMEOUT_MS)
    trainer = session.worker.trainer
    opt = trainer.optimizer
    first = opt.param_groups[0]["params"][0]
    exp_avg = opt.state[first]["exp_avg"].clone()
    step_before = trainer.step
    adam_step = float(opt.state[first]["step"])
    # the optimizer's lr editor is enabled while paused (the rest of the settings are not)
    lr_editor = panel.choice_forms["optimizer"].editors["lr"]
    assert lr_editor.isEnabled() and not panel.training_form.editors["epochs"].isEnabled()
    lr_editor.setText("0.0004")
    lr_editor.editingFinished.emit()
    qtbot.waitUntil(lambda: math.isclose(opt.param_groups[0]["lr"], 4e-4), timeout=10_000)
    assert trainer.step == step_before                       # still paused, same step
    assert opt.state[first]["exp_avg"].equal(exp_avg)       # state untouched by the change
    assert controller.document.training.optimizer["params"]["lr"] == pytest.approx(4e-4)
    session.resume()
    qtbot.waitUntil(lambda: trainer.step > step_before or session.active_run is None, timeout=RUN_TIMEOUT_MS)
    session.stop()
    wait_done(qtbot, session)
    assert opt.param_groups[0]["lr"] == pytest.approx(4e-4)
    assert float(opt.state[first]["step"]) > adam_step      # Adam went on from its old state
    assert not opt.state[first]["exp_avg"].equal(exp_avg)
    # the step numbering continued: no step was repeated or skipped
    steps = session.history.batch_arrays()["step"]
    assert list(steps) == list(range(1, len(steps) + 1))
    assert any("learning rate set to 0.0004" in e for e in session.history.events)


def test_stop_returns_within_one_batch_and_keeps_checkpoint(qtbot, app_parts):
    controller, panel, plots = app_parts
    session = panel.training
    controller.push(SetTrainingSettings({"epochs": 200}))
    assert session.train()
    wait_first_batch(qtbot, session)
    trainer = session.worker.trainer
    at_stop = trainer.step
    session.stop()
    assert panel.stop_button.isEnabled() is False
    wait_done(qtbot, session)
    result = session.last_result
    assert result.status == "stopped"
    assert result.steps <= at_stop + 1
    assert result.last_checkpoint and session.history.status == "stopped"
    assert not live_tasks()
    assert controller.document.runs[-1]["status"] == "stopped"


def make_loss_diverge(monkeypatch) -> None:
    """From the second batch on, the training loss is NaN (the run fails as diverged)."""
    from visionstudio.core.training import losses

    original = losses.TrainingLoss.__call__
    calls = {"n": 0}

    def diverging(self, out, target):
        calls["n"] += 1
        loss = original(self, out, target)
        return loss * float("nan") if calls["n"] >= 2 else loss

    monkeypatch.setattr(losses.TrainingLoss, "__call__", diverging)


def test_nan_loss_shows_message_and_returns_to_idle(qtbot, app_parts, monkeypatch):
    controller, panel, plots = app_parts
    session = panel.training
    make_loss_diverge(monkeypatch)
    failures = []
    session.failed.connect(failures.append)
    assert session.train()
    wait_done(qtbot, session)
    assert failures and failures[0].kind == "nan"
    assert panel.message.isVisibleTo(panel)
    assert "diverged" in panel.message.text() and "learning rate" in panel.message.text()
    assert panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    assert controller.document.runs[-1]["status"] == "failed"
    assert controller.locked_reason is None
    assert not live_tasks()


def test_setup_errors_show_before_any_thread(qtbot, app_parts):
    controller, panel, plots = app_parts
    session = panel.training
    doc = controller.document
    dense = [n for n in doc.graph.nodes.values() if n.kind == "dense"][-1]
    assert controller.push(SetParam(dense.id, "units", 7))
    failures = []
    session.failed.connect(failures.append)
    assert session.train() is False
    assert session.task is None and session.state == "idle"
    assert failures and "10 classes" in failures[0].message and dense.name in failures[0].message
    assert panel.message.isVisibleTo(panel) and "Cannot start training" in panel.message.text()
    assert doc.runs == []


def test_graph_is_locked_while_training(qtbot, app_parts):
    controller, panel, plots = app_parts
    session = panel.training
    controller.push(SetTrainingSettings({"epochs": 200}))
    refused = []
    controller.refused.connect(refused.append)
    assert session.train()
    node = next(iter(controller.document.graph.nodes.values()))
    conv = [n for n in controller.document.graph.nodes.values() if n.kind == "conv2d"][0]
    assert controller.push(SetParam(conv.id, "out_channels", 8)) is False
    assert refused and "Training is running" in refused[-1]
    assert controller.push(MoveNodes({node.id: (5.0, 5.0)}))   # layout moves stay allowed
    assert not panel.training_form.editors["epochs"].isEnabled()
    session.stop()
    wait_done(qtbot, session)
    assert controller.push(SetParam(conv.id, "out_channels", 8))
