"""SweepSession: one per document controller; runs a sweep on the one background-task
helper (ui/shell/tasks.py) and keeps the app's training rule.

A sweep trains, so it and a training run never run at once: Start is refused in words
while the run controller is busy, and while the sweep runs the controller is locked as
for training (the network and settings cannot change under the trials; moving layers and
renaming runs still can). The Train action sees that lock and says why it waits.

Only plain data crosses the thread: the worker gets the document as its JSON dict and
the config as the sweep file's dict, and sends back TrialRows and the trials' run
entries (dicts, the runner's ``on_run``). The trials are ordinary runs: their entries
are recorded into the document here, on the GUI thread, without an undo step (as the app
records a training run), so the Runs list shows each as its run ends. torch and optuna are imported on the
worker thread when a sweep starts, never at start-up.
"""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from visionstudio.core.graph.commands import MoveNodes
from visionstudio.core.runs import AddRun, RenameRun, UpdateRun
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, one_line, run_task
from visionstudio.ui.training.run_controller import runs_for

DB_NAME = "sweeps.db"   # core.sweeps.study.STUDY_FILE (that module loads optuna and torch)
LOCK_REASON = ("A sweep is running: the network, its settings and Train wait until it stops "
               "(Stop in the Sweeps panel).")
TRAINING_BUSY = "A training run is going: start the sweep once it has stopped."


def sweep_task(state: TaskState, document_data: dict, config_data: dict, runs_root: str) -> Any:
    """The worker: rebuild the document, run the study, stream ("trial", TrialRow) and
    ("run", entry) items."""
    from visionstudio.core.project.document import document_from_dict
    from visionstudio.core.sweeps.config import SweepConfig
    from visionstudio.core.sweeps.study import SweepRunner, study_storage_url
    from visionstudio.core.training.control import TrainerControl

    document = document_from_dict(document_data)
    config = SweepConfig.from_dict(config_data)

    class TaskControl(TrainerControl):
        @property
        def stop_requested(self) -> bool:
            return state.cancelled or super().stop_requested

    def on_trial(row: Any) -> None:
        state.emit(("trial", row))
        state.set_progress(0.0, f"Trial {row.number} {row.state}")

    runner = SweepRunner(document, config, runs_root=Path(runs_root),
                         storage=study_storage_url(runs_root), on_trial=on_trial,
                         on_run=lambda entry: state.emit(("run", copy.deepcopy(entry))))
    return runner.run(TaskControl())


def summary_text(summary: Any) -> str:
    """How the sweep ended, in one or two sentences: counts, the best, the first failure."""
    counts: dict[str, int] = {}
    for r in summary.rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    done = counts.get("complete", 0)
    others = ", ".join(f"{n} {state}" for state, n in counts.items() if state != "complete")
    text = f"Sweep {'stopped' if summary.stopped else 'finished'}: {done} trial{'s' * (done != 1)} " \
           f"finished" + (f", {others}" if others else "") + "."
    if summary.best is not None and summary.best.value is not None:
        text += f" Best: trial {summary.best.number} with {summary.best.value:.4g}."
    failed = next((r for r in summary.rows if r.state == "failed" and r.message), None)
    if failed is not None:
        text += f" Trial {failed.number} failed: {failed.message}"
    return text


def sweeps_for(controller) -> SweepSession:
    session = getattr(controller, "_sweep_session", None)
    if session is None:
        session = SweepSession(controller)
        controller._sweep_session = session
    return session


class SweepSession(QObject):
    state_changed = Signal(str)     # "idle" | "running" | "stopping"
    row = Signal(object)            # a TrialRow as a trial starts or ends
    finished = Signal(object)       # the SweepSummary (None when it failed)
    message = Signal(str)           # for the panel's status line

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.controller = controller
        self.runs = runs_for(controller)
        self.state = "idle"
        self.task: BackgroundTask | None = None
        self.config_data: dict | None = None
        self.summary = None
        self._document = controller.document
        self._root = self.runs_root()        # where the studies are (the runs folder)
        self._job_runs: list[str] = []       # the runs the sweep that runs has recorded
        controller.path_changed.connect(self._on_controller_path_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        app = QCoreApplication.instance()
        if app is not None:   # safety net: never quit with the sweep's thread running
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return self.state != "idle"

    def runs_root(self) -> Path:
        return Path(self.runs.store.root)

    def problem_starting(self) -> str | None:
        if self.busy:
            return "The sweep is already running."
        if self.runs.busy:
            return TRAINING_BUSY
        return self.controller.locked_reason

    def start(self, config_data: dict) -> bool:
        """Run (or continue: the same name) the sweep ``config_data``; False and a message
        when it cannot start now."""
        problem = self.problem_starting()
        if problem is not None:
            self.message.emit(problem)
            return False
        self.config_data, self.summary = copy.deepcopy(config_data), None
        self._document = self.controller.document   # the entries are this project's
        self._root, self._job_runs = self.runs_root(), []
        self.task = run_task(sweep_task, self.controller.document.to_dict(), self.config_data,
                             str(self.runs_root()),
                             name=f"sweep-{config_data.get('name', 'sweep')}", parent=self,
                             report_errors=False, on_partial=self._on_task_partial,
                             on_finished=self._on_task_finished, on_failed=self._on_task_failed)
        self.task.done.connect(self._on_task_done)
        self.controller.lock(LOCK_REASON, self._allow_while_locked)
        self._set_state("running")
        self.message.emit(f"Sweep {config_data.get('name')} started")
        return True

    def stop(self) -> None:
        """Ask the sweep to end: the trial that trains stops after its batch and is kept."""
        if self.task is not None and self.state == "running":
            self.task.cancel()
            self._set_state("stopping")
            self.message.emit("Stopping the sweep after the current batch…")

    def wait(self, timeout_ms: int = 60_000) -> bool:
        from PySide6.QtCore import QDeadlineTimer, QEventLoop

        deadline = QDeadlineTimer(timeout_ms)
        while self.busy and not deadline.hasExpired():
            if self.task is not None:
                self.task.wait(50)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return not self.busy

    def shutdown(self) -> bool:
        self.stop()
        return self.wait()

    def _on_controller_document_replaced(self, _document) -> None:
        """Another project: the sweep was this one's; it stops (its study is kept)."""
        if self.busy:
            self.shutdown()
        self._root = self.runs_root()

    def _on_controller_path_changed(self, _path: str) -> None:
        """Saved (as): the studies follow the runs (the run controller moved those first);
        a sweep that runs writes on where it started, and is brought along when it ends."""
        if not self.busy:
            self._bring_studies()

    def _bring_studies(self) -> None:
        """sweeps.db from the old runs folder to the new one: moved out of a scratch
        folder, copied on Save As (as the runs are); never over an existing one, never a
        link."""
        old, new = self._root, self.runs_root()
        self._root = new
        src, dst = old / DB_NAME, new / DB_NAME
        if old == new or not src.is_file() or src.is_symlink() or os.path.lexists(dst):
            return
        try:
            new.mkdir(parents=True, exist_ok=True)
            if old == Path(self.runs.store.scratch):
                shutil.move(str(src), str(dst))
            else:
                shutil.copy2(src, dst)
        except OSError as exc:
            self.message.emit(f"Could not bring the sweeps along: {exc}")

    def _allow_while_locked(self, command) -> bool:
        return isinstance(command, (MoveNodes, RenameRun, AddRun, UpdateRun))

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    # -- the worker's news (GUI thread) ---------------------------------------------------------
    def _on_task_partial(self, item: Any) -> None:
        kind, value = item
        if kind == "run":
            self._record_entry(value)
        else:
            self.row.emit(value)

    def _record_entry(self, entry: dict) -> None:
        """A trial's run joins the project's run list (no undo step: a fact, not an edit)."""
        if self.controller.document is not self._document:
            return   # another project was opened meanwhile: the run stays in the old folder
        run_id = entry.get("id")
        self._job_runs.append(run_id)
        if self.runs.store.entry(run_id) is None:
            self.controller.record(AddRun(entry))
        else:
            self.controller.record(UpdateRun(run_id, status=entry.get("status"),
                                             summary=entry.get("summary")))
        self.runs.runs_changed.emit()

    def _on_task_finished(self, summary: Any) -> None:
        self.summary = summary
        self.message.emit(summary_text(summary))

    def _on_task_failed(self, exc: BaseException) -> None:
        self.summary = None
        if isinstance(exc, ValueError):   # ConfigError, SweepError: already in the user's words
            self.message.emit(f"The sweep cannot run: {exc}")
        else:
            self.message.emit(f"The sweep stopped with an error: {one_line(exc)}")

    def _on_task_done(self) -> None:
        self.task = None
        if self.controller.document is self._document:   # saved meanwhile: bring the runs along
            for run_id in self._job_runs:
                for text in self.runs.store.bring_along(run_id, self._root):
                    self.message.emit(f"Could not move run files: {text}")
            self._bring_studies()
        self.controller.unlock()
        self._set_state("idle")
        self.finished.emit(self.summary)
