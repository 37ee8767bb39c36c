"""Runs saved with the project: files move next to it on first save, curves come back
after reopening, "Continue training" resumes from the checkpoint; rename/delete."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from visionstudio.core.project import load_project, save_project
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.tasks import live_tasks

from .test_training_run import make_controller, wait_done


def save_as(controller, path) -> None:
    """What FileManager.save_to does: write, set the path, announce it."""
    save_project(controller.document, path)
    controller.path = path
    controller.undo_stack.setClean()
    controller.path_changed.emit(str(path))


def test_save_reopen_shows_curves_and_continue_training_works(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.plots.metrics import MetricsPlots
    from visionstudio.ui.training.panel import TrainingPanel

    controller = make_controller(tmp_path, monkeypatch, epochs=1)
    panel = TrainingPanel(controller)
    qtbot.addWidget(panel)
    session = panel.training
    assert session.train()
    wait_done(qtbot, session)
    run = controller.document.runs[-1]
    scratch_folder = session.store.folder(run["id"])
    assert str(tmp_path / "state") in str(scratch_folder) and scratch_folder.is_dir()
    assert controller.is_dirty                       # a finished run is unsaved work
    project = tmp_path / "net.vsproj"
    save_as(controller, project)
    folder = tmp_path / "net.vsproj.runs" / run["id"]
    assert (folder / "checkpoints" / "last").is_dir() and (folder / "metrics.csv").is_file()
    assert not scratch_folder.exists()               # moved, not copied
    steps = session.history.steps_done
    loss_before = session.history.batch_arrays()["loss"].copy()

    # reopen in a fresh controller, as File > Open does
    other = DocumentController()
    plots = MetricsPlots(other)
    panel2 = TrainingPanel(other)
    qtbot.addWidget(plots)
    qtbot.addWidget(panel2)
    other.replace_document(load_project(project), project)
    s2 = panel2.training
    shown = panel2.selection
    assert shown.display_id == run["id"] and shown.history.steps_done == steps
    assert (shown.history.batch_arrays()["loss"] == loss_before).all()
    plots.refresh(force=True)
    assert len(plots.items["loss_ema"].getOriginalDataset()[0]) == steps
    assert len(plots.items["val_loss"].getOriginalDataset()[0]) == 1
    assert panel2.continue_button.isEnabled()
    panel2.extra_epochs.setValue(1)
    panel2.continue_button.click()
    assert s2.busy
    wait_done(qtbot, s2)
    assert s2.last_failure is None, s2.last_failure and s2.last_failure.message
    assert [e["epoch"] for e in s2.history.epochs] == [1, 2]
    assert s2.history.steps_done == 2 * steps
    assert s2.last_result.status == "completed"
    entry = s2.store.entry(run["id"])
    assert entry["summary"]["epochs"] == 2 and len(other.document.runs) == 1
    assert not live_tasks()
    panel.training.shutdown()


def test_rename_and_delete_runs(qtbot, tmp_path, monkeypatch):
    from visionstudio.ui.plots.metrics import MetricsPlots

    controller = make_controller(tmp_path, monkeypatch, epochs=1)
    plots = MetricsPlots(controller)
    qtbot.addWidget(plots)
    session = plots.training
    shown = plots.selection
    for _ in range(2):
        assert session.train()
        wait_done(qtbot, session)
    first, second = (r["id"] for r in controller.document.runs)
    assert plots.runs.list.count() == 2
    # overlay the first run while the second is shown
    shown.set_overlay([first])
    plots.refresh(force=True)
    assert first in plots.overlay_items
    # rename (undoable)
    plots.runs.ask_name = lambda parent, old: ("baseline", True)
    plots.runs.list.setCurrentRow(1)               # newest first: row 1 is the first run
    assert shown.display_id == first
    plots.runs.rename_current()
    assert session.store.entry(first)["name"] == "baseline"
    controller.undo_stack.undo()
    assert session.store.entry(first)["name"] == "Run 1"
    controller.undo_stack.redo()
    # remove, keep files: undo brings it back
    folder = session.store.folder(first)
    plots.runs.ask_delete = lambda parent, name: "keep"
    plots.runs.delete_current()
    assert session.store.entry(first) is None and folder.is_dir()
    controller.undo_stack.undo()
    assert session.store.entry(first)["name"] == "baseline"
    # remove and delete files
    plots.runs.list.setCurrentRow(1)
    plots.runs.ask_delete = lambda parent, name: "files"
    plots.runs.delete_current()
    assert not folder.exists() and [r["id"] for r in controller.document.runs] == [second]
    # cancelled: nothing happens
    plots.runs.ask_delete = lambda parent, name: ""
    plots.runs.list.setCurrentRow(0)
    plots.runs.delete_current()
    assert [r["id"] for r in controller.document.runs] == [second]
    assert not live_tasks()
