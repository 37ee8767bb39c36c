"""Training › Find the Largest Batch…: the batch-size finder (core/training/batch_finder.py).

The search runs as a background task on the project's plan at batch 1 (plan_run refuses
a batch that does not fit, and the point is to find one), so the window stays responsive
and Cancel stops it between tries. Each try is listed as it finishes; "Use batch N"
writes the result into the training settings through SetTrainingSettings, one undoable
step. The project's model and the next run are untouched: a CUDA search trains a copy,
a CPU one only reads the memory estimate.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.memory import human_bytes
from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, one_line, run_task
from visionstudio.ui.shell.torch_loader import when_torch_loaded

HOW = {"measured": "measured with real training steps on the GPU",
       "estimated": "estimated from the network's memory needs"}


def search(state: TaskState, plan: Any, max_batch: int) -> Any:
    """The task: find_batch_size with the task's cancel flag as its stop request (worker thread)."""
    from visionstudio.core.training.batch_finder import find_batch_size
    from visionstudio.core.training.control import TrainerControl

    class TaskControl(TrainerControl):
        @property
        def stop_requested(self) -> bool:   # also read while the dataset loads
            return state.cancelled or super().stop_requested

    def progress(batch: int, fits: bool, used: int | None) -> None:
        state.emit((batch, fits, used))   # every try arrives (progress keeps only the newest)

    return find_batch_size(plan, max_batch=max_batch, control=TaskControl(), progress=progress)


def try_line(batch: int, fits: bool, used: int | None) -> str:
    """'Batch 256 fits (78 MiB)' / 'Batch 512 does not fit (out of memory)'."""
    size = human_bytes(used) if used is not None else "out of memory"
    return f"Batch {batch} {'fits' if fits else 'does not fit'} ({size})"


class BatchFinderDialog(QDialog):
    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.task: BackgroundTask | None = None
        self.result: Any = None
        self.setObjectName("batchFinderDialog")
        self.setWindowTitle("Find the Largest Batch")
        self.resize(480, 420)
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel("Finds the largest training batch that fits in memory: on a CUDA GPU by "
                       "real training steps on a copy of the network, elsewhere from its memory "
                       "estimate with a safety margin. The network and its weights are not changed.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Largest to try:"))
        self.max_batch = QSpinBox(objectName="batchFinderMax", minimum=1, maximum=65_536, value=4096)
        self.max_batch.setAccessibleName("Largest batch to try")
        row.addWidget(self.max_batch)
        self.run_button = QPushButton("&Run", objectName="batchFinderRun")
        self.cancel_button = QPushButton("&Cancel", objectName="batchFinderCancel", enabled=False)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.tries = QListWidget(objectName="batchFinderTries")
        self.tries.setAccessibleName("Batch sizes tried")
        layout.addWidget(self.tries, 1)
        self.status = QLabel("", objectName="batchFinderStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.use_button = QPushButton("Use batch", objectName="batchFinderUse", enabled=False)
        self.use_button.clicked.connect(lambda _checked=False: self.apply())
        buttons.addWidget(self.use_button)
        buttons.addStretch(1)
        close = QPushButton("Close", objectName="batchFinderClose")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout.addLayout(buttons)

    # -- the search ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.task is not None:
            return
        self.run_button.setEnabled(False)
        self.status.setText("Loading…")
        when_torch_loaded(self._start_task, self.status.setText)

    def _start_task(self) -> None:
        from visionstudio.core.training.plan import PlanProblems, plan_run

        plan = plan_run(self.controller.document, {"batch_size": 1})   # every other check a Train makes
        if isinstance(plan, PlanProblems):
            self.status.setText(plan.message)
            self.run_button.setEnabled(True)
            return
        self._show(None)
        self.tries.clear()
        self.cancel_button.setEnabled(True)
        self.status.setText("Searching…")
        self.task = run_task(search, plan, self.max_batch.value(), name="batch-finder", parent=self,
                             report_errors=False, on_partial=self._on_try,
                             on_finished=self._on_finished, on_failed=self._on_failed)
        self.task.done.connect(self._on_done)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Cancelling after this try…")

    def _on_try(self, tried: tuple[int, bool, int | None]) -> None:
        self.tries.addItem(try_line(*tried))
        self.status.setText(f"Searching… {try_line(*tried)}")

    def _on_failed(self, exc: BaseException) -> None:
        self.status.setText(f"The search failed: {one_line(exc)}")

    def _on_done(self) -> None:
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_finished(self, result: Any) -> None:
        if result.failure is not None:
            self.status.setText(result.failure.message)
            return
        self.tries.clear()
        self.tries.addItems([try_line(*t) for t in result.tried])
        self._show(result)
        notes = " ".join(result.notes)
        if result.batch is None:
            text = "Not even a batch of one fits: use a smaller input, fewer channels or another device."
        else:
            text = f"Largest batch that fits: {result.batch} ({HOW.get(result.how, result.how)})."
        self.status.setText(("Cancelled. " if result.cancelled else "") + f"{text} {notes}".strip())

    def _show(self, result: Any) -> None:
        self.result = result
        batch = result.batch if result is not None else None
        self.use_button.setEnabled(batch is not None)
        self.use_button.setText(f"Use batch {batch}" if batch is not None else "Use batch")

    def apply(self) -> bool:
        """Set the training batch size to the result (undoable)."""
        batch = self.result.batch if self.result is not None else None
        if batch is None:
            return False
        if not self.controller.push(SetTrainingSettings({"batch_size": int(batch)})):
            return False
        self.status.setText(f"Batch size set to {batch} (Edit › Undo to go back).")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.cancel()
        super().closeEvent(event)


def add_batch_finder_action(window: Any, menu: Any) -> QAction:
    """Training › Find the Largest Batch…, one dialog per window (kept while the window lives)."""
    action = QAction("Find the Largest &Batch…", window, objectName="action_batch_finder")
    action.setStatusTip("Find the largest batch size that fits the device's memory")

    def open_dialog() -> None:
        dialog = window.findChild(BatchFinderDialog, "batchFinderDialog")
        if dialog is None:
            dialog = BatchFinderDialog(window.controller, window)
        dialog.show()
        dialog.raise_()

    action.triggered.connect(lambda _checked=False: open_dialog())
    menu.addAction(action)
    return action
