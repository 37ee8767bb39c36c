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

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QSpinBox, QVBoxLayout

from visionstudio.core.memory import human_bytes
from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.shell.tasks import TaskState
from visionstudio.ui.training.finder_dialog import FinderDialog, add_finder_action, task_control

HOW = {"measured": "measured with real training steps on the GPU",
       "estimated": "estimated from the network's memory needs"}


def search(state: TaskState, plan: Any, max_batch: int) -> Any:
    """The task: find_batch_size with the task's cancel flag as its stop request (worker thread)."""
    from visionstudio.core.training.batch_finder import find_batch_size

    def progress(batch: int, fits: bool, used: int | None) -> None:
        state.emit((batch, fits, used))   # every try arrives (progress keeps only the newest)

    return find_batch_size(plan, max_batch=max_batch, control=task_control(state), progress=progress)


def try_line(batch: int, fits: bool, used: int | None) -> str:
    """'Batch 256 fits (78 MiB)' / 'Batch 512 does not fit (out of memory)'."""
    size = human_bytes(used) if used is not None else "out of memory"
    return f"Batch {batch} {'fits' if fits else 'does not fit'} ({size})"


class BatchFinderDialog(FinderDialog):
    prefix, title, window_size = "batchFinder", "Find the Largest Batch", (480, 420)
    intro = ("Finds the largest training batch that fits in memory: on a CUDA GPU by "
             "real training steps on a copy of the network, elsewhere from its memory "
             "estimate with a safety margin. The network and its weights are not changed.")
    task_name, noun, unit, running = "batch-finder", "search", "try", "Searching…"
    plan_overrides = {"batch_size": 1}   # plan_run refuses a batch that does not fit
    work = staticmethod(search)

    def _limit(self) -> int:
        return self.max_batch.value()

    def _build_inputs(self, row: QHBoxLayout) -> None:
        row.addWidget(QLabel("Largest to try:"))
        self.max_batch = QSpinBox(objectName="batchFinderMax", minimum=1, maximum=65_536, value=4096)
        self.max_batch.setAccessibleName("Largest batch to try")
        row.addWidget(self.max_batch)

    def _build_body(self, layout: QVBoxLayout) -> None:
        self.tries = QListWidget(objectName="batchFinderTries")
        self.tries.setAccessibleName("Batch sizes tried")
        layout.addWidget(self.tries, 1)

    def _build_use(self, buttons: QHBoxLayout) -> None:
        self.use_button = QPushButton("Use batch", objectName="batchFinderUse", enabled=False)
        self.use_button.clicked.connect(lambda _checked=False: self.apply())
        buttons.addWidget(self.use_button)

    # -- the search ---------------------------------------------------------------------------
    def _clear(self) -> None:
        self.tries.clear()

    def _on_partial(self, tried: tuple[int, bool, int | None]) -> None:
        self.tries.addItem(try_line(*tried))
        self.status.setText(f"Searching… {try_line(*tried)}")

    def _show_finished(self, result: Any) -> None:
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
        return self._push(SetTrainingSettings({"batch_size": int(batch)}), f"Batch size set to {batch}")


def add_batch_finder_action(window: Any, menu: Any) -> QAction:
    """Training › Find the Largest Batch…, one dialog per window (kept while the window lives)."""
    return add_finder_action(window, menu, BatchFinderDialog, "Find the Largest &Batch…",
                             "action_batch_finder",
                             "Find the largest batch size that fits the device's memory")
