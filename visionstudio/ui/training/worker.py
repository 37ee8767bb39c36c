"""TrainingWorker: what runs on the training thread — the thread policy, then the core
``execute(plan, callbacks, control)``, the one training path the command line takes too.

The run controller plans the run on the GUI thread (``plan_run``: every check, no
allocation) and starts this worker with ``run_task``. The worker has no logic of its
own: the plan says what to train, ``execute`` loads the dataset, builds the network
(here, off the GUI thread: a large network takes seconds to build) and trains it.
The worker only forwards what the trainer reports — frozen records, as they are —
through ``state.emit``; the GUI thread adds them to the run's one RunHistory (the
trained weights are in the run's checkpoints, where the feature maps read them). It
never touches a widget; an unexpected error leaves ``__call__`` and reaches the GUI
thread as the task's ``failed``.

Thread policy (core/training/thread_policy.py, docs/training-in-the-app.md): the call
first lowers the training thread's OS priority and sets its torch thread count to the
one the GUI thread (and so the command line) uses, before any torch op, so the OpenMP
team the thread creates inherits both. The GUI then preempts training only when it has
work, instead of a core being reserved for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread

from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.thread_policy import (
    AppliedPolicy,
    apply_to_current_thread,
    default_thread_count,
    lower_priority_supported,
    policy_for,
)

# At most 4 batch records a second (each carries every step's loss, so no point is lost):
# the status line and the dashboard (at most ~3 frames a second while a run trains) need
# no more, and each record costs the GUI thread a status-line relayout (~1 ms) and the
# history's bookkeeping; at 10 a second the GUI took 5.5% of a core, and on 2 cores each
# GUI slice stalls the whole OpenMP team (docs/training-in-the-app.md)
REPORT_INTERVAL_S = 0.25


class _Forward:
    """Trainer callback (training thread): hand every record to the GUI thread."""

    def __init__(self, worker: TrainingWorker, state: Any) -> None:
        self.worker, self.state = worker, state

    def on_fit_start(self, trainer, record) -> None:
        self.worker.trainer = trainer
        self.state.emit(record)

    def on_epoch_start(self, trainer, epoch) -> None: ...

    def on_batch_end(self, trainer, record) -> None:
        if self.state.cancelled:      # the app is shutting down (tasks.wait_all)
            self.worker.control.request_stop()
        self.state.emit(record)

    def on_validation_end(self, trainer, record) -> None:
        self.state.emit(record)

    def on_epoch_end(self, trainer, record) -> None:
        self.state.emit(record)

    def on_fit_end(self, trainer, result) -> None:
        # the run's late notes (files that broke mid-run) join its events on the GUI side
        self.state.emit(result)

    def on_failure(self, trainer, failure) -> None: ...


class TrainingWorker:
    """``worker(state)`` trains ``plan`` into ``run_dir``; returns the core RunResult."""

    def __init__(self, plan: Any, control: TrainerControl, run_dir: Path) -> None:
        self.plan, self.control, self.run_dir = plan, control, Path(run_dir)
        self.trainer = None   # set when fitting starts; read it only while paused or after
        # read here, on the GUI thread: the count the process (and the CLI) trains with
        # (not the GUI thread's own: torch runs serially there, see thread_policy.py); a
        # fresh thread's torch.get_num_threads() may say otherwise before its first op
        self.default_threads = default_thread_count()
        self.thread_policy: AppliedPolicy | None = None   # what the call applied

    def __call__(self, state: Any) -> Any:
        from visionstudio.core.training import plan as training_plan  # torch: not at start-up
        from visionstudio.core.training.layer_health import LayerHealthMonitor

        self._apply_thread_policy()
        callbacks: list[Any] = [_Forward(self, state)]
        if self.plan.config.layer_health:   # its records go to the GUI as the others do
            callbacks.append(LayerHealthMonitor(state.emit))
        try:
            return training_plan.execute(
                self.plan, callbacks, self.control, run_dir=self.run_dir,
                metrics_csv=False,   # the GUI's RunHistory writes metrics.csv (the one writer)
                progress=lambda text, fraction: state.set_progress(fraction, text),
                report_interval_s=REPORT_INTERVAL_S)
        finally:
            self._restore_thread_count()

    def _apply_thread_policy(self) -> None:
        """On the training thread, before its first torch op (see the module docstring)."""
        kind = str(self.plan.device).split(":")[0] or "cpu"
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
