"""TrainingWorker: runs the core trainer on a QThread and sends back plain data.

The worker gets a ``TrainingJob`` (a snapshot: frozen configs, a graph copy and its
analysis, the run folder) and builds the model itself, on the training thread: a
large network takes seconds (or, crafted, all the memory) to build, and the GUI
thread must stay responsive — the session has already checked the analysis and the
memory estimate, so a build failure here is rare and reported like any setup failure.
It emits only frozen records, numpy arrays and strings through queued signals. It
catches every error itself (DESIGN §5: exceptions in a worker's slots would reach the
excepthook on the worker thread) and reports it as a FailureRecord; it never touches
a widget.

Thread policy (core/training/thread_policy.py, docs/training-in-the-app.md): ``run()``
first lowers the training thread's OS priority and sets its torch thread count to the
one the GUI thread (and so the command line) uses, before any torch op, so the OpenMP
team the thread creates inherits both. The GUI then preempts training only when it has
work, instead of a core being reserved for it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from visionstudio.core.runs import RunHistory
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.records import FailureRecord
from visionstudio.core.training.thread_policy import (
    AppliedPolicy,
    apply_to_current_thread,
    lower_priority_supported,
    policy_for,
)
from visionstudio.ui.training import datasets

REPORT_INTERVAL_S = 0.05   # the trainer sends at most ~20 batch records a second


@dataclass(frozen=True)
class TrainingJob:
    run_id: str
    graph: Any                      # GraphModel: a detached copy, built on the training thread
    analysis: Any                   # GraphAnalysis of that copy (checked: no errors)
    config: Any                     # TrainingConfig (frozen)
    dataset: Any                    # DatasetConfig (frozen)
    input_shape: tuple | None
    output_shape: tuple | None
    input_name: str | None
    output_name: str | None
    run_dir: Path
    resume: str | None = None       # checkpoint folder to continue from
    resume_step: int = 0
    report_interval_s: float = REPORT_INTERVAL_S


class _Forward:
    """Trainer callback (training thread): record history, emit frozen records."""

    def __init__(self, worker: TrainingWorker, history: RunHistory) -> None:
        self.worker, self.history = worker, history

    def on_fit_start(self, trainer, record) -> None:
        self.history.add(record)
        self.worker.fit_started.emit(record)

    def on_epoch_start(self, trainer, epoch) -> None: ...

    def on_batch_end(self, trainer, record) -> None:
        self.history.add(record)
        self.worker.batch.emit(record)

    def on_validation_end(self, trainer, record) -> None:
        self.worker.validation.emit(record)

    def on_epoch_end(self, trainer, record) -> None:
        self.history.add(record)
        try:
            self.history.save(self.worker.job.run_dir)
        except OSError:
            pass  # reported once at the end if it keeps failing
        self.worker.epoch.emit(record)

    def on_fit_end(self, trainer, result) -> None:
        self.history.add(result)   # the run's late notes (files that broke) join its events

    def on_failure(self, trainer, failure) -> None: ...


class TrainingWorker(QObject):
    progress = Signal(str, float)        # dataset loading
    fit_started = Signal(object)         # FitStartRecord
    batch = Signal(object)               # BatchRecord (throttled by the trainer)
    validation = Signal(object)          # ValidationRecord
    epoch = Signal(object)               # EpochRecord
    weights = Signal(object)             # {name: numpy array} (CPU copy) after the run
    done = Signal(object, object)        # FitResult | None, FailureRecord | None

    def __init__(self, job: TrainingJob, control: TrainerControl) -> None:
        super().__init__()
        self.job, self.control = job, control
        self.trainer = None
        self.model = None            # built by run(), on the training thread
        import torch

        # read here, on the GUI thread: the count the process (and the CLI) trains with; a
        # fresh thread's torch.get_num_threads() may say otherwise before its first op
        self.default_threads = torch.get_num_threads()
        self.thread_policy: AppliedPolicy | None = None   # what run() applied, read back there

    @Slot()
    def run(self) -> None:
        job = self.job
        result, failure = None, None
        history = RunHistory()
        try:
            self._apply_thread_policy()
            if job.resume:
                history = RunHistory.load(job.run_dir)
                history.truncate(job.resume_step)
            result, failure = self._train(history)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            failure = FailureRecord(kind="error", message=f"Training stopped by an error: "
                                    f"{type(exc).__name__}: {exc}", epoch=0, step=history.steps_done,
                                    traceback=traceback.format_exc())
        finally:
            self._restore_thread_count()
        history.status = (result.status if result is not None
                          else ("failed" if failure is not None else "stopped"))
        try:
            job.run_dir.mkdir(parents=True, exist_ok=True)
            history.save(job.run_dir)
        except OSError as exc:
            if failure is None:
                failure = FailureRecord(kind="error", message=f"The run's metrics could not be "
                                        f"saved in {job.run_dir}: {exc}", epoch=0, step=0)
        try:
            if self.model is not None:
                self.weights.emit({k: v.detach().to("cpu").numpy().copy()
                                   for k, v in self.model.state_dict().items()})
        except Exception:  # noqa: BLE001 - weights are a convenience
            pass
        self.done.emit(result, failure)
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    def _train(self, history: RunHistory):
        from visionstudio.core.data.base import DatasetCancelled, DatasetError, check_compatibility
        from visionstudio.core.training.checkpoint import CheckpointError
        from visionstudio.core.training.trainer import Trainer, TrainingSetupError

        job, control = self.job, self.control
        target = tuple(job.input_shape) if job.input_shape and len(job.input_shape) == 3 else None
        try:
            loaded = datasets.load(job.dataset, val_split=job.config.val_split, seed=job.config.seed,
                                   target_shape=target, progress=self.progress.emit,
                                   cancel=lambda: control.stop_requested)
        except DatasetCancelled:
            return None, None
        except DatasetError as exc:
            return None, FailureRecord(kind="dataset", message=str(exc), epoch=0, step=0)
        problems = check_compatibility(loaded, job.input_shape, job.output_shape,
                                       output_name=job.output_name, input_name=job.input_name)
        if problems:
            return None, FailureRecord(kind="dataset", message="The network does not fit the "
                                       "dataset:\n" + "\n".join(f"- {p}" for p in problems),
                                       epoch=0, step=0)
        failure = self._build()
        if failure is not None:
            return None, failure
        trainer = Trainer(self.model, job.config, callbacks=[_Forward(self, history)], control=control,
                          checkpoint_dir=job.run_dir / "checkpoints",
                          report_interval_s=job.report_interval_s,
                          notes=list(getattr(loaded, "report", []) or []))
        self.trainer = trainer   # for tests and debugging: read it only while paused or after
        try:
            result = trainer.fit(loaded, resume=job.resume)
        except (TrainingSetupError, CheckpointError) as exc:
            return None, FailureRecord(kind="setup", message=str(exc), epoch=0, step=0)
        return result, result.failure

    def _apply_thread_policy(self) -> None:
        """On the training thread, before its first torch op (see the module docstring)."""
        from visionstudio.core.training.device import TrainingSetupError, resolve_device

        try:
            kind = resolve_device(self.job.config.device).type
        except TrainingSetupError:
            kind = "cpu"   # the trainer reports the unknown device in words
        policy = policy_for(kind, self.default_threads)
        self.thread_policy = apply_to_current_thread(policy)
        if policy.nice and not lower_priority_supported():
            thread = QThread.currentThread()
            if thread is not None:   # Windows / macOS: the toolkit's per-thread priority
                thread.setPriority(QThread.Priority.LowPriority)

    def _restore_thread_count(self) -> None:
        """An override (VISIONSTUDIO_CPU_THREADS) also changed torch's process-wide count
        (MKL's and the one fresh threads start from): give the GUI thread its own back."""
        import torch

        if torch.get_num_threads() != self.default_threads:
            torch.set_num_threads(self.default_threads)

    def _build(self) -> FailureRecord | None:
        """Build the job's network here, on the training thread (after the dataset fits)."""
        from visionstudio.core.build import BuildError, build_model
        from visionstudio.core.training.device import is_oom

        job = self.job
        try:
            self.model = build_model(job.graph, job.analysis, seed=job.config.seed)
        except BuildError as exc:
            return FailureRecord(kind="setup", message=f"The network cannot be built: {exc}",
                                 epoch=0, step=0)
        except (MemoryError, RuntimeError) as exc:
            if not (isinstance(exc, MemoryError) or is_oom(exc)):
                raise
            return FailureRecord(kind="setup", message="The network cannot be built: there is not "
                                 "enough memory; lower the batch size or the input size",
                                 epoch=0, step=0)
        return None

