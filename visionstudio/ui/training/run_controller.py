"""RunController: one per document controller; the state of training and its thread.

States: idle -> preparing (the worker loads the dataset, then builds the network) ->
running <-> paused -> stopping -> idle. Train plans the run here, on the GUI thread,
with the core ``plan_run`` (every check once, no torch allocation) and shows a problem
as a setup failure before any thread starts; the plan goes to a ``TrainingWorker`` run
with ``run_task``, which calls the core ``execute`` and forwards the trainer's frozen
records. They arrive here, on the GUI thread, and go into the run's RunHistory — the
only one: the plots read it, and it is saved into the run's folder after every epoch
and when the run ends.

The graph is locked (controller.lock) from Train until the thread has ended: edits,
undo and redo that would change the model are refused with the reason; moving layers,
renaming runs and, while paused, the optimizer's hyper-parameters stay editable, and
the training run's entry cannot be removed. The run list changes only through the run
commands (core/runs/commands.py); the run's own entry is recorded (AddRun, UpdateRun)
without an undo entry.
"""

from __future__ import annotations

import copy
import traceback
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from visionstudio.core.graph.commands import MoveNodes
from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.core.runs import (
    AddRun,
    RemoveRun,
    RenameRun,
    RunHistory,
    RunStore,
    UpdateRun,
    make_entry,
    new_run_id,
    summarize,
)
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import FailureRecord
from visionstudio.ui.shell import collector
from visionstudio.ui.shell.tasks import BackgroundTask, run_task
from visionstudio.ui.shell.torch_loader import serial_gui_torch
from visionstudio.ui.training.texts import run_score
from visionstudio.ui.training.worker import TrainingWorker

LOCK_REASON = "Training is running: the network cannot be changed until it stops (Shift+F5)."
BUSY = ("preparing", "running", "pausing", "paused", "stopping")


def runs_for(controller) -> RunController:
    """The document controller's one RunController (panels, actions and the status bar
    share it, so they can be created in any order)."""
    runs = getattr(controller, "_run_controller", None)
    if runs is None:
        runs = RunController(controller)
        controller._run_controller = runs
    return runs


class RunController(QObject):
    state_changed = Signal(str)
    started = Signal(str)               # the run id, once its entry exists and it starts
    fit_started = Signal(object)        # FitStartRecord
    batch = Signal(object)              # BatchRecord
    epoch = Signal(object)              # EpochRecord
    validation = Signal(object)         # ValidationRecord
    health = Signal(object)             # LayerHealthRecord (core/training/layer_health.py)
    progress = Signal(str, float)       # dataset loading
    failed = Signal(object)             # FailureRecord (also setup problems before a thread)
    finished = Signal(object)           # the run entry (dict) when a run has ended
    message = Signal(str)               # for the status bar
    runs_changed = Signal()
    store_reset = Signal()              # another document: every run view starts over

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.controller = controller
        self.store = RunStore(controller.document, controller.path)
        self.state = "idle"
        self.active_run: str | None = None   # the run that trains, from Train until its end
        self.plan = None                     # its RunPlan
        self.control: TrainerControl | None = None
        self.task: BackgroundTask | None = None
        self.worker: TrainingWorker | None = None
        self._holding_heap = False           # a collector.hold_heap of the active run
        self.history = RunHistory()          # the run that trains, or trained last
        self.start_record = self.last_batch = None
        self.last_failure: FailureRecord | None = None
        self.last_result = None              # the FitResult of the last run (None if none)
        self._outcome: tuple[Any, FailureRecord | None, str] = (None, None, "stopped")
        self._job_root = self._job_folder = None   # where the active run writes
        self._pause_poll = QTimer(self)
        self._pause_poll.setInterval(40)
        self._pause_poll.timeout.connect(self._poll_paused)
        controller.path_changed.connect(self._on_controller_path_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        controller.document.settings_changed.connect(self._on_document_settings_changed)
        app = QCoreApplication.instance()
        if app is not None:   # safety net: never quit with the training thread running
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return self.state in BUSY

    @property
    def active_folder(self):
        """The folder the active run writes its checkpoints and metrics into (None when
        idle); it stays put when the project is saved meanwhile, until the run ends."""
        return self._job_folder if self.active_run is not None else None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _on_document_settings_changed(self, section: str) -> None:
        if section == "runs":
            listed = {run.get("id") for run in self.controller.document.runs}
            for run_id in [r for r in self.store.loaded_ids() if r not in listed]:
                self.store.forget(run_id)
            self.runs_changed.emit()

    # -- starting -----------------------------------------------------------------------------
    def _setup_failure(self, message: str) -> bool:
        failure = FailureRecord(kind="setup", message=message, epoch=0, step=0)
        self.last_failure = failure
        self.failed.emit(failure)
        self.message.emit(message.splitlines()[0])
        return False

    def train(self) -> bool:
        """Start a new run with the project's settings; False (and ``failed``) if it cannot."""
        return self._start(None, None)

    def continue_run(self, run_id: str | None = None, extra_epochs: int | None = None) -> bool:
        """Continue a stopped or finished run (the latest by default) for more epochs from
        its last checkpoint."""
        run_id = run_id or self.store.latest_id()
        problem = self.store.continue_problem(run_id)
        if problem is not None:
            return self._setup_failure(problem)
        return self._start(run_id, extra_epochs)

    def can_continue(self, run_id: str | None) -> bool:
        """Whether Continue is offered for ``run_id`` now (idle, a run that did not fail)."""
        return not self.busy and self.store.continue_problem(run_id) is None

    def _start(self, continue_id: str | None, extra_epochs: int | None) -> bool:
        if self.busy:
            return False
        if self.controller.locked_reason is not None:   # another tool trains (a sweep)
            return self._setup_failure(self.controller.locked_reason)
        # Here, not at module level: the plan imports torch (seconds), which the window
        # must not wait for at start (the Train action loads it first, off this thread).
        from visionstudio.core.training import plan as training_plan

        serial_gui_torch()   # before planning's first torch op on this thread (torch_loader.py)
        plan = training_plan.plan_run(self.controller.document, continue_from=continue_id,
                                      extra_epochs=extra_epochs, runs_root=self.store.root)
        if isinstance(plan, training_plan.PlanProblems):
            return self._setup_failure(plan.message)
        opened = self._open_history(plan, continue_id)
        if opened is None:
            return False
        run_id, self.history = opened
        self.history.status = "running"
        self.store.keep_history(run_id, self.history)
        self.active_run, self.plan, self._job_root = run_id, plan, self.store.root
        self._job_folder = self.store.folder(run_id)   # where it writes, even if saved meanwhile
        self.last_failure = self.last_result = self.start_record = None
        self.last_batch = None
        self._outcome = (None, None, "stopped")
        self.control = TrainerControl()
        self.worker = TrainingWorker(plan, self.control, self._job_folder)
        collector.hold_heap()   # full collections skip the app's heap while it trains
        self._holding_heap = True
        self.task = run_task(self.worker, name=f"training-{run_id}", parent=self,
                             report_errors=False, on_partial=self._on_task_partial,
                             on_progress=self._on_task_progress,
                             on_finished=self._on_task_finished, on_failed=self._on_task_failed)
        self.task.done.connect(self._on_task_done)
        self.controller.lock(LOCK_REASON, self._allow_while_locked)
        self._set_state("preparing")
        self.started.emit(run_id)
        from visionstudio.core.data.checks import train_warning  # with the plan's imports

        warning = train_warning(plan.dataset, plan.config.val_split, plan.config.seed)
        self.message.emit(("Continuing training…" if continue_id else "Training started")
                          + (f". {warning}" if warning else ""))
        return True

    def _open_history(self, plan, continue_id: str | None) -> tuple[str, RunHistory] | None:
        """Record the run's entry and give the history it trains into (a continued run
        keeps its curves up to the checkpoint's step)."""
        if continue_id is None:
            run_id = new_run_id()
            entry = make_entry(run_id, self.store.next_name(),
                               {"training": plan.config.to_dict(), "dataset": plan.dataset.to_dict()})
            self.controller.record(AddRun(entry))
            return run_id, RunHistory()
        name = (self.store.entry(continue_id) or {}).get("name")
        try:
            history = RunHistory.load(self.store.folder(continue_id))
        except ValueError as exc:
            self._setup_failure(f"Run {name} cannot be continued: {exc}")
            return None
        history.truncate(plan.resume_step)
        self.controller.record(UpdateRun(continue_id, status="running"))
        return continue_id, history

    def _allow_while_locked(self, command) -> bool:
        """What may happen while a run trains (done, undone or redone)."""
        if isinstance(command, (MoveNodes, RenameRun)):
            return True
        if isinstance(command, (RemoveRun, AddRun, UpdateRun)):
            return command.run_id != self.active_run
        if isinstance(command, SetTrainingSettings) and self.state == "paused" and self.plan:
            opt = command.changes.get("optimizer")
            return (set(command.changes) == {"optimizer"} and isinstance(opt, dict)
                    and opt.get("key") == self.plan.config.optimizer["key"])
        return False

    # -- the worker's news (GUI thread, queued) -----------------------------------------------
    def _on_task_partial(self, item) -> None:
        self.history.add(item)
        kind = type(item).__name__
        if kind == "FitStartRecord":
            self.start_record = item
            if self.state == "preparing":
                self._set_state("running")
            self.fit_started.emit(item)
            for note in item.notes:
                self.message.emit(note)
        elif kind == "BatchRecord":
            self.last_batch = item
            self.batch.emit(item)
            for event in item.events:
                self.message.emit(event)
        elif kind == "ValidationRecord":
            self.validation.emit(item)
        elif kind == "LayerHealthRecord":
            self.health.emit(item)
        elif kind == "EpochRecord":
            self._save_history()      # a crash keeps the curves up to the last epoch
            self.epoch.emit(item)

    def _on_task_progress(self, fraction: float, text: str) -> None:
        self.progress.emit(text, fraction)

    def _on_task_finished(self, result) -> None:
        self._outcome = (result.fit, result.failure, result.status)   # the core RunResult

    def _on_task_failed(self, exc: BaseException) -> None:
        self._outcome = (None, FailureRecord(
            kind="error", message=f"Training stopped by an error: {type(exc).__name__}: {exc}",
            epoch=0, step=self.history.steps_done,
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__))),
            "failed")

    def _save_history(self) -> str | None:
        """Write the run's metric files; the problem in words, None when saved."""
        folder = self._job_folder
        try:
            self.history.save(folder)
        except OSError as exc:
            return f"The run's metrics could not be saved in {folder}: {exc}"
        return None

    def _on_task_done(self) -> None:
        if self._holding_heap:
            self._holding_heap = False
            collector.release_heap()
        run_id = self.active_run
        result, failure, status = self._outcome
        self._pause_poll.stop()
        self.history.status = status
        problem = self._save_history()
        if problem and failure is None:
            failure = FailureRecord(kind="error", message=problem, epoch=0, step=0)
        self.last_result, self.last_failure = result, failure
        for text in self.store.bring_along(run_id, self._job_root):   # saved meanwhile
            self.message.emit(f"Could not move run files: {text}")
        self.task = self.worker = self.control = self.plan = None
        self.active_run = None
        self.controller.unlock()
        # (not when another document was opened meanwhile: the run was that one's)
        if self.store.document is self.controller.document and self.store.entry(run_id) is not None:
            self.controller.record(UpdateRun(run_id, status=status,
                                             summary=summarize(self.history, result, failure)))
        self._set_state("idle")
        self._announce(status, result, failure)
        self.finished.emit(self.store.entry(run_id))
        self.runs_changed.emit()

    def _announce(self, status: str, result, failure) -> None:
        if failure is not None:
            self.failed.emit(failure)
            self.message.emit(failure.message.splitlines()[0])
            return
        score, _where = run_score(self.history.final())   # the task's metric, or the accuracy
        late = result.notes[len(self.start_record.notes):] if result and self.start_record else ()
        self.message.emit(f"Training {status}" + (f": {score}" if score else "")
                          + "".join(f". {note}" for note in late))   # e.g. unreadable files

    # -- controls -------------------------------------------------------------------------------
    def pause(self) -> None:
        if self.control is not None and self.state in ("running", "preparing"):
            self.control.pause()
            self._set_state("pausing")
            self._pause_poll.start()

    def _poll_paused(self) -> None:
        if self.control is None or self.state != "pausing":
            self._pause_poll.stop()
        elif self.control.is_paused:
            self._pause_poll.stop()
            self._set_state("paused")
            self.message.emit("Paused: the learning rate and optimizer settings can be changed")

    def resume(self) -> None:
        if self.control is not None and self.state in ("paused", "pausing"):
            self._pause_poll.stop()
            self.control.resume()
            self._set_state("running" if self.start_record is not None else "preparing")

    def stop(self) -> None:
        """Ask the run to end after the current batch (a checkpoint is kept)."""
        if self.control is not None and self.busy:
            self.control.request_stop()
            self._pause_poll.stop()
            self._set_state("stopping")

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the training thread has ended and its results are handled."""
        from PySide6.QtCore import QDeadlineTimer, QEventLoop

        deadline = QDeadlineTimer(timeout_ms)
        while self.active_run is not None and not deadline.hasExpired():
            if self.task is not None:
                self.task.wait(50)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return self.active_run is None

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        self.stop()
        return self.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop a running training and wait for its thread (closing the window)."""
        if self.active_run is None:
            return True
        return self.stop_and_wait(timeout_ms)

    def set_hyperparameters(self, **values: Any) -> bool:
        """While paused (or running): queue optimizer settings for the trainer and keep
        them in the project's settings (undoable)."""
        if self.control is None or self.plan is None:
            return False
        self.control.set_hyperparameters(**values)
        opt = copy.deepcopy(self.controller.document.training.optimizer)
        if opt.get("key") == self.plan.config.optimizer["key"]:
            opt["params"].update(values)
            self.controller.push(SetTrainingSettings({"optimizer": opt}))
        return True

    # -- the run list -----------------------------------------------------------------------
    def rename_run(self, run_id: str, name: str) -> bool:
        return self.controller.push(RenameRun(run_id, name))

    def remove_run(self, run_id: str, delete_files: bool = False) -> bool:
        """Remove a run from the list (undoable); its files too when asked (not undoable)."""
        if run_id == self.active_run:
            self.message.emit("The run that is training cannot be removed; stop it first.")
            return False
        entry = copy.deepcopy(self.store.entry(run_id))
        if entry is None:
            return False
        ok = self.controller.push(RemoveRun(run_id))
        if ok and delete_files:
            for text in self.store.delete_files(entry):
                self.message.emit(text)
        return ok

    # -- the project's path and document ------------------------------------------------------
    def _on_controller_path_changed(self, path: str) -> None:
        skip = {self.active_run} if self.active_run is not None else set()
        for problem in self.store.set_project_path(path or None, skip=skip):
            self.message.emit(f"Could not move run files: {problem}")

    def _on_controller_document_replaced(self, doc) -> None:
        if self.busy:
            self.stop_and_wait()
        self.store.reset(doc, self.controller.path)
        doc.settings_changed.connect(self._on_document_settings_changed)
        self.store_reset.emit()
        self.runs_changed.emit()
