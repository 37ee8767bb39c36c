"""TrainingSession: one per controller; owns the worker thread, the run list's files
and the histories the plots read. Panels, the status bar and the actions all talk
to it (``session_for(controller)``), so they can be created in any order.

States: idle -> preparing (worker loads the dataset, then builds the model) -> running
<-> paused -> stopping -> idle. No model is built on the GUI thread: Train checks the
analysis, the dataset's fit and the memory estimate here (all cheap, no torch
allocation) and refuses with the reason; the worker builds the network. The graph is
locked (controller.lock) from Train until the thread has ended: edits that would change
the model are refused with the reason; moving layers and, while paused, the optimizer's
hyper-parameters stay editable.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from visionstudio.core.runs import (
    RemoveRun,
    RenameRun,
    RunHistory,
    RunPathError,
    adopt_runs,
    delete_run_files,
    make_entry,
    new_run_id,
    run_dir,
    runs_root,
    scratch_root,
    summarize,
    writable_run_dir,
)
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import FailureRecord
from visionstudio.ui.shell.threads import track
from visionstudio.ui.training import datasets
from visionstudio.ui.training.worker import TrainingJob, TrainingWorker

LOCK_REASON = "Training is running: the network cannot be changed until it stops (Shift+F5)."
BUSY = ("preparing", "running", "pausing", "paused", "stopping")


def _memory_problem(analysis, config, device) -> str | None:
    """The refusal sentence when training ``config`` on ``device`` would not fit (host RAM;
    a CUDA GPU's free memory, read once its context exists: training needs it anyway)."""
    from visionstudio.core.memory import available_memory, estimate_for_config, memory_problem
    from visionstudio.core.training.device import resolve_precision

    precision, _note = resolve_precision(config.mixed_precision, device)
    estimate = estimate_for_config(analysis, config, precision)
    return memory_problem(estimate, available_memory(str(device)))


def session_for(controller) -> TrainingSession:
    session = getattr(controller, "_training_session", None)
    if session is None:
        session = TrainingSession(controller)
        controller._training_session = session
    return session


class TrainingSession(QObject):
    state_changed = Signal(str)
    fit_started = Signal(object)        # FitStartRecord
    batch = Signal(object)              # BatchRecord
    epoch = Signal(object)              # EpochRecord
    validation = Signal(object)         # ValidationRecord
    progress = Signal(str, float)       # dataset loading
    failed = Signal(object)             # FailureRecord (also setup problems before a thread)
    finished = Signal(object)           # the run entry (dict) when a run has ended
    message = Signal(str)               # for the status bar
    runs_changed = Signal()
    display_changed = Signal()          # the displayed run or the overlay set changed

    def __init__(self, controller) -> None:
        super().__init__(controller)
        self.controller = controller
        self.state = "idle"
        self.control: TrainerControl | None = None
        self.thread = None
        self.worker: TrainingWorker | None = None
        self.job: TrainingJob | None = None
        self.start_record = None
        self.last_batch = None
        self.last_epoch = None
        self.last_failure: FailureRecord | None = None
        self.last_result = None
        self.final_weights: dict | None = None
        self.history = RunHistory()         # what the plots show as "the" run
        self.display_id: str | None = None
        self.overlay_ids: list[str] = []
        self._histories: dict[str, RunHistory] = {}
        self._scratch = scratch_root()
        self._root = runs_root(controller.path, self._scratch)
        self._pause_poll = QTimer(self)
        self._pause_poll.setInterval(40)
        self._pause_poll.timeout.connect(self._poll_paused)
        controller.path_changed.connect(self._on_controller_path_changed)
        controller.document_replaced.connect(self._on_controller_document_replaced)
        self._bind_document(controller.document)
        self._show_latest_run()
        from PySide6.QtCore import QCoreApplication

        app = QCoreApplication.instance()
        if app is not None:   # safety net: never quit with the training thread running
            app.aboutToQuit.connect(self.shutdown)

    # -- helpers ------------------------------------------------------------------------
    @property
    def document(self):
        return self.controller.document

    @property
    def busy(self) -> bool:
        return self.state in BUSY

    @property
    def root(self) -> Path:
        return self._root

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _bind_document(self, doc) -> None:
        doc.settings_changed.connect(self._on_document_settings_changed)

    def _on_document_settings_changed(self, section: str) -> None:
        if section == "runs":
            self.runs_changed.emit()

    def run_entry(self, run_id: str | None) -> dict | None:
        for run in self.document.runs:
            if run.get("id") == run_id:
                return run
        return None

    def _update_entry(self, run_id: str, **changes: Any) -> None:
        runs = copy.deepcopy(self.document.runs)
        for run in runs:
            if run.get("id") == run_id:
                run.update(copy.deepcopy(changes))
        self.document.set_runs(runs)
        self.controller.undo_stack.resetClean()   # unsaved work: the title shows it

    def history_for(self, run_id: str) -> RunHistory | None:
        if self.job is not None and run_id == self.job.run_id:
            return self.history
        if run_id not in self._histories:
            entry = self.run_entry(run_id)
            if entry is None:
                return None
            try:
                self._histories[run_id] = RunHistory.load(run_dir(self._root, entry))
            except ValueError as exc:
                self.message.emit(str(exc))
                self._histories[run_id] = RunHistory()
        return self._histories[run_id]

    def show_run(self, run_id: str | None) -> None:
        """Make ``run_id`` the run the dashboard shows (not while one trains)."""
        if self.busy:
            return
        hist = self.history_for(run_id) if run_id else None
        self.display_id = run_id if hist is not None else None
        self.history = hist or RunHistory()
        self.display_changed.emit()

    def set_overlay(self, run_ids: list[str]) -> None:
        self.overlay_ids = [r for r in run_ids if self.run_entry(r) is not None]
        self.display_changed.emit()

    def _show_latest_run(self) -> None:
        runs = self.document.runs
        self.show_run(runs[-1]["id"] if runs else None)

    # -- training -------------------------------------------------------------------------
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
        """Continue a stopped or finished run for more epochs from its last checkpoint."""
        run_id = run_id or self.display_id
        if run_id is None:
            return self._setup_failure("There is no run to continue; press Train first.")
        return self._start(run_id, extra_epochs)

    def _start(self, continue_id: str | None, extra_epochs: int | None) -> bool:
        if self.busy:
            return False
        from visionstudio.core.build import BuildError
        from visionstudio.core.data.base import check_compatibility
        from visionstudio.core.data.config import DatasetConfig
        from visionstudio.core.graph import analyze
        from visionstudio.core.params import ConfigError
        from visionstudio.core.training.checkpoint import CheckpointError, read_meta
        from visionstudio.core.training.config import TrainingConfig

        doc = self.document
        resume, resume_step = None, 0
        if continue_id is not None:
            entry = self.run_entry(continue_id)
            if entry is None:
                return self._setup_failure("That run is no longer in the project.")
            try:   # Continue writes checkpoints and metrics there: confined to the runs folder
                folder = writable_run_dir(self._root, entry)
            except RunPathError as exc:
                return self._setup_failure(f"Run {entry.get('name')} cannot be continued: {exc}")
            ckpt = folder / "checkpoints" / "last"
            try:
                meta = read_meta(ckpt)["trainer"]
            except CheckpointError as exc:
                return self._setup_failure(f"Run {entry.get('name')} cannot be continued: {exc}")
            done = len(meta.get("history", []))
            try:
                settings = entry.get("settings", {})
                config = TrainingConfig.from_dict(settings.get("training", doc.training.to_dict()))
                dataset = DatasetConfig.from_dict(settings.get("dataset", doc.dataset.to_dict()))
            except ConfigError as exc:
                return self._setup_failure(f"Run {entry.get('name')} has unusable settings: {exc}")
            planned = config.epochs
            if extra_epochs is None:   # finish the plan, or train as many epochs again
                epochs = planned if planned > done else done + planned
            else:
                epochs = done + max(1, int(extra_epochs))
            config = config.replace(epochs=epochs)
            resume, resume_step, run_id = str(ckpt), int(meta.get("step", 0)), continue_id
        else:
            config, dataset = doc.training, doc.dataset
            run_id = new_run_id()
            folder = self._root / run_id
        graph = doc.graph.copy()
        analysis = analyze(graph)
        if not analysis.ok:
            lines = "\n".join(f"- {d}" for d in analysis.errors)
            return self._setup_failure(f"The network has problems to fix before training:\n{lines}")
        if analysis.input_id is None or analysis.output_id is None:   # what build_model refuses
            exc = BuildError(["the network has no single input and output"])
            return self._setup_failure(f"The network cannot be built: {exc}")
        try:
            from visionstudio.core.training.trainer import resolve_device
            device = resolve_device(config.device)
        except Exception as exc:  # noqa: BLE001 - TrainingSetupError: words for the user
            return self._setup_failure(str(exc))
        # before the dataset: run_training's order, and the refusal that matters most
        problem = _memory_problem(analysis, config, device)
        if problem:
            return self._setup_failure(f"The network {problem}")
        in_name = graph.nodes[analysis.input_id].name if analysis.input_id else None
        out_name = graph.nodes[analysis.output_id].name if analysis.output_id else None
        info = datasets.describe(dataset)
        if info is not None:
            problems = check_compatibility(info, analysis.input_shape, analysis.output_shape,
                                           output_name=out_name, input_name=in_name)
            if problems:
                return self._setup_failure("The network does not fit the dataset:\n"
                                           + "\n".join(f"- {p}" for p in problems))
        # -- the run entry (saved with the project) -----------------------------------------
        if continue_id is None:
            n = len(doc.runs) + 1
            name = f"Run {n}"
            entry = make_entry(run_id, name, {"training": config.to_dict(), "dataset": dataset.to_dict()})
            doc.set_runs([*copy.deepcopy(doc.runs), entry])
            self.controller.undo_stack.resetClean()
            self.history = RunHistory()
        else:
            self._update_entry(run_id, status="running")
            hist = RunHistory.load(folder)
            hist.truncate(resume_step)
            self.history = hist
        self._histories.pop(run_id, None)
        self.display_id = run_id
        self.history.status = "running"
        self.job = TrainingJob(run_id=run_id, graph=graph, analysis=analysis, config=config,
                               dataset=dataset, input_shape=analysis.input_shape,
                               output_shape=analysis.output_shape,
                               input_name=in_name, output_name=out_name, run_dir=folder,
                               resume=resume, resume_step=resume_step)
        self._job_root = self._root
        self.last_failure = self.last_result = self.start_record = None
        self.last_batch = self.last_epoch = None
        self.control = TrainerControl()
        self._stale = False
        self._graph = doc.graph
        doc.graph.changed.connect(self._on_graph_changed_during_run)
        self._launch()
        self.controller.lock(LOCK_REASON, self._allow_while_locked)
        self._set_state("preparing")
        self.display_changed.emit()
        self.message.emit("Continuing training…" if resume else "Training started")
        return True

    def _launch(self) -> None:
        from PySide6.QtCore import QThread

        thread = QThread()
        thread.setObjectName(f"training-{self.job.run_id}")
        worker = TrainingWorker(self.job, self.control)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self.progress)
        worker.fit_started.connect(self._on_worker_fit_started)
        worker.batch.connect(self._on_worker_batch)
        worker.validation.connect(self.validation)
        worker.epoch.connect(self._on_worker_epoch)
        worker.weights.connect(self._on_worker_weights)
        worker.done.connect(self._on_worker_done)
        self.thread, self.worker = track(thread), worker
        thread.start()

    def _allow_while_locked(self, command) -> bool:
        from visionstudio.core.graph.commands import MoveNodes
        from visionstudio.core.project.commands import SetTrainingSettings

        if isinstance(command, (MoveNodes, RenameRun)):
            return True
        if isinstance(command, RemoveRun):
            return self.job is None or command.run_id != self.job.run_id
        if isinstance(command, SetTrainingSettings) and self.state == "paused" and self.job:
            opt = command.changes.get("optimizer")
            return (set(command.changes) == {"optimizer"} and isinstance(opt, dict)
                    and opt.get("key") == self.job.config.optimizer["key"])
        return False

    # -- worker signals (GUI thread, queued) -------------------------------------------------
    def _on_worker_fit_started(self, record) -> None:
        self.start_record = record
        self.history.add(record)
        if self.state == "preparing":
            self._set_state("running")
        self.fit_started.emit(record)
        for note in record.notes:
            self.message.emit(note)

    def _on_worker_batch(self, record) -> None:
        self.last_batch = record
        self.history.add(record)
        self.batch.emit(record)
        for event in record.events:
            self.message.emit(event)

    def _on_worker_epoch(self, record) -> None:
        self.last_epoch = record
        self.history.add(record)
        self.epoch.emit(record)

    def _on_worker_weights(self, weights) -> None:
        self.final_weights = weights

    def _on_graph_changed_during_run(self, *_args) -> None:
        # undo/redo bypass the lock (QUndoStack); the worker trains its own snapshot, so the
        # run is unaffected, but it no longer matches the canvas: say so and mark the run
        if not self._stale:
            self._stale = True
            self.message.emit("The network changed while training (undo/redo); this run keeps "
                              "training the network as it was when Train was pressed.")

    def _on_worker_done(self, result, failure) -> None:
        job = self.job
        try:
            self._graph.changed.disconnect(self._on_graph_changed_during_run)
        except Exception:  # noqa: BLE001 - already gone with its document
            pass
        thread = self.thread
        if thread is not None:
            thread.wait(10_000)
        self._pause_poll.stop()
        self.last_result, self.last_failure = result, failure
        status = result.status if result is not None else ("failed" if failure else "stopped")
        self.history.status = status
        if job is not None:
            if self._job_root != self._root:   # the project was saved meanwhile: bring it along
                adopt_runs([{"id": job.run_id, "folder": job.run_id}], self._job_root, self._root,
                           move=self._job_root == self._scratch)
            if self.run_entry(job.run_id) is not None:
                extra = {"stale": True} if self._stale else {}
                self._update_entry(job.run_id, status=status, summary=summarize(self.history, result),
                                   **extra)
        self.thread = self.worker = None
        self.job = None
        self.control = None
        self.controller.unlock()
        self._set_state("idle")
        if failure is not None:
            self.failed.emit(failure)
            self.message.emit(failure.message.splitlines()[0])
        else:
            last = self.history.final()
            acc = last.get("val_accuracy") if last.get("val_accuracy") is not None else last.get("train_accuracy")
            late = result.notes[len(self.start_record.notes):] if result and self.start_record else ()
            self.message.emit(f"Training {status}" + (f": accuracy {acc:.1%}" if acc is not None
                                                      and math.isfinite(acc) else "")
                              + "".join(f". {note}" for note in late))   # e.g. unreadable files
        self.finished.emit(self.run_entry(job.run_id) if job else None)
        self.runs_changed.emit()

    # -- controls ------------------------------------------------------------------------------
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
        """Block until the worker thread has ended and its results are handled."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop

        deadline = QDeadlineTimer(timeout_ms)
        while self.job is not None and not deadline.hasExpired():
            if self.thread is not None:
                self.thread.wait(50)
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return self.job is None

    def stop_and_wait(self, timeout_ms: int = 30_000) -> bool:
        self.stop()
        return self.wait(timeout_ms)

    def set_hyperparameters(self, **values: Any) -> bool:
        """While paused (or running): queue optimizer settings for the trainer and keep
        them in the project's settings (undoable)."""
        if self.control is None or self.job is None:
            return False
        from visionstudio.core.project.commands import SetTrainingSettings

        self.control.set_hyperparameters(**values)
        opt = copy.deepcopy(self.document.training.optimizer)
        if opt.get("key") == self.job.config.optimizer["key"]:
            opt["params"].update(values)
            self.controller.push(SetTrainingSettings({"optimizer": opt}), target=self.document)
        return True

    # -- runs -----------------------------------------------------------------------------------
    def rename_run(self, run_id: str, name: str) -> bool:
        return self.controller.push(RenameRun(run_id, name), target=self.document)

    def remove_run(self, run_id: str, delete_files: bool = False) -> bool:
        if self.job is not None and self.job.run_id == run_id:
            self.message.emit("The run that is training cannot be removed; stop it first.")
            return False
        entry = copy.deepcopy(self.run_entry(run_id))
        if entry is None:
            return False
        ok = self.controller.push(RemoveRun(run_id), target=self.document)
        if ok and delete_files:
            try:
                kept = delete_run_files(self._root, entry)
            except (OSError, RunPathError) as exc:
                self.message.emit(f"The files of {entry.get('name')} could not be deleted: {exc}")
            else:
                if kept:
                    self.message.emit(f"Deleted the files of {entry.get('name')}; kept {len(kept)} "
                                      f"VisionStudio did not write: {', '.join(kept[:3])}")
        self._histories.pop(run_id, None)
        if self.display_id == run_id:
            self._show_latest_run()
        self.set_overlay([r for r in self.overlay_ids if r != run_id])
        return ok

    def run_folder(self, run_id: str) -> Path | None:
        entry = self.run_entry(run_id)
        return run_dir(self._root, entry) if entry else None

    # -- the project's path and document --------------------------------------------------------
    def _on_controller_path_changed(self, path: str) -> None:
        new_root = runs_root(path or None, self._scratch)
        old_root = self._root
        if new_root == old_root:
            return
        skip = {self.job.run_id} if self.job is not None else set()
        problems = adopt_runs(self.document.runs, old_root, new_root,
                              move=old_root == self._scratch, skip=skip)
        for p in problems:
            self.message.emit(f"Could not move run files: {p}")
        self._root = new_root

    def _on_controller_document_replaced(self, doc) -> None:
        if self.busy:
            self.stop_and_wait()
        self._root = runs_root(self.controller.path, self._scratch)
        self._histories.clear()
        self.overlay_ids = []
        self._bind_document(doc)
        self._show_latest_run()
        self.runs_changed.emit()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop a running training and wait for its thread (closing the window)."""
        if self.job is None:
            return True
        return self.stop_and_wait(timeout_ms)
