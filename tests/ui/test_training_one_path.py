"""The app trains through the core's one path (plan_run on the GUI thread, execute on the
training thread, once per run), and the run list's commands: undo and redo work, the
run that trains keeps its entry whatever is undone or redone, and its records (added,
ended) are unsaved work without undo steps."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("torch")

from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.core.runs import RemoveRun, RenameRun
from visionstudio.core.training import plan as training_plan
from visionstudio.ui.shell.tasks import live_tasks
from visionstudio.ui.training.run_controller import LOCK_REASON, runs_for

from .test_training_run import make_controller, wait_done, wait_first_batch


@pytest.fixture
def calls(monkeypatch):
    """Every plan_run and execute call, as (name, on the main thread?)."""
    seen: list[tuple[str, bool]] = []
    for name in ("plan_run", "execute"):
        real = getattr(training_plan, name)

        def counting(*args, _real=real, _name=name, **kwargs):
            seen.append((_name, threading.current_thread() is threading.main_thread()))
            return _real(*args, **kwargs)

        monkeypatch.setattr(training_plan, name, counting)
    return seen


def test_train_plans_once_on_the_gui_thread_and_executes_once_on_the_training_thread(
        qtbot, tmp_path, monkeypatch, calls):
    controller = make_controller(tmp_path, monkeypatch, epochs=1)
    runs = runs_for(controller)
    try:
        assert runs.train()
        wait_done(qtbot, runs)
        assert calls == [("plan_run", True), ("execute", False)]
        assert runs.last_failure is None and runs.history.status == "completed"
        assert runs.continue_run(controller.document.runs[-1]["id"], extra_epochs=1)
        wait_done(qtbot, runs)
        assert runs.train()
        wait_done(qtbot, runs)
        assert [name for name, _ in calls] == ["plan_run", "execute"] * 3
        assert [gui for _, gui in calls] == [True, False] * 3
        # a refused plan starts nothing
        controller.push(SetTrainingSettings({"device": "cuda:7"}))
        assert runs.train() is False and calls[-1] == ("plan_run", True) and len(calls) == 7
        assert runs.last_failure.kind == "setup" and "cuda" in runs.last_failure.message.lower()
        assert len(controller.document.runs) == 2
    finally:
        runs.shutdown()
    assert not live_tasks()


def test_run_commands_undo_redo_and_the_training_run_keeps_its_entry(qtbot, tmp_path, monkeypatch):
    controller = make_controller(tmp_path, monkeypatch, epochs=1)
    runs = runs_for(controller)
    refused: list[str] = []
    controller.refused.connect(refused.append)
    try:
        steps_before = controller.undo_stack.count()
        assert runs.train()
        wait_done(qtbot, runs)
        run_id = controller.document.runs[-1]["id"]
        # the run's entry and its end are recorded, not undo steps; the project is unsaved
        assert controller.undo_stack.count() == steps_before and controller.is_dirty
        assert controller.document.runs[-1]["status"] == "completed"
        # rename and remove are undoable steps
        assert runs.rename_run(run_id, "baseline")
        assert controller.undo() and runs.store.entry(run_id)["name"] == "Run 1"
        assert controller.redo() and runs.store.entry(run_id)["name"] == "baseline"
        assert runs.remove_run(run_id)
        assert runs.store.entry(run_id) is None
        assert controller.undo() and runs.store.entry(run_id)["name"] == "baseline"
        # RemoveRun is now on the redo side, and stays there while the run continues
        # (its records are no undo steps): redoing it would delete the training run's entry
        assert runs.continue_run(run_id, extra_epochs=200)
        wait_first_batch(qtbot, runs)
        assert runs.active_run == run_id
        assert controller.redo() is False and refused[-1] == LOCK_REASON
        assert runs.store.entry(run_id) is not None
        # removing it directly is refused too, with the reason
        assert controller.push(RemoveRun(run_id)) is False and refused[-1] == LOCK_REASON
        with qtbot.waitSignal(runs.message) as said:
            assert runs.remove_run(run_id) is False
        assert "cannot be removed" in said.args[0]
        # undo while it trains: the rename goes back, the settings edits are refused (they
        # would change the model), the entry stays
        for _ in range(controller.undo_stack.index()):
            controller.undo()
        assert runs.store.entry(run_id)["name"] == "Run 1" and refused[-1] == LOCK_REASON
        assert controller.undo_stack.index() == steps_before and runs.active_run == run_id
        # renaming the training run is allowed (and undoable)
        assert controller.push(RenameRun(run_id, "long run"))
        assert controller.undo() and runs.store.entry(run_id)["name"] == "Run 1"
        runs.stop()
        wait_done(qtbot, runs)
        assert runs.store.entry(run_id)["status"] == "stopped"
        assert controller.locked_reason is None
    finally:
        runs.shutdown()
    assert not live_tasks()


def test_opening_another_document_stops_the_run_and_leaves_the_new_one_alone(qtbot, tmp_path,
                                                                           monkeypatch):
    from visionstudio.core.project import ProjectDocument
    from visionstudio.core.runs import RunHistory

    controller = make_controller(tmp_path, monkeypatch, epochs=200)
    runs = runs_for(controller)
    refused: list[str] = []
    controller.refused.connect(refused.append)
    try:
        assert runs.train()
        wait_first_batch(qtbot, runs)
        folder = runs.active_folder
        controller.replace_document(ProjectDocument(name="other"))
        assert runs.active_run is None and runs.state == "idle" and controller.locked_reason is None
        assert controller.document.runs == [] and refused == []
        assert RunHistory.load(folder).status == "stopped"     # the old run's files are whole
        assert runs.store.document is controller.document and runs.store.latest_id() is None
    finally:
        runs.shutdown()
    assert not live_tasks()
