"""Training › Find Learning Rate…: the range test (core/training/lr_finder.py) in a dialog.

The sweep runs as a background task (run_task) on the project's plan, so the window stays
responsive and Cancel stops it between steps. The curve is drawn on a log learning-rate
axis (raw and smoothed loss) with the two suggestions marked; "Use steepest" / "Use
valley" write the value into the optimizer's settings through SetTrainingSettings, one
undoable step. The project's model, a run in progress and the next run are untouched:
the sweep trains a copy (the core's promise).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.plots.style import BLUE, GREY, ORANGE, pen
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, one_line, run_task
from visionstudio.ui.shell.torch_loader import when_torch_loaded

LR_RANGE = (1e-12, 100.0)     # what the optimizers' lr setting accepts
GREEN = "#43a047"
REASONS = {"completed": "all steps done", "diverged": "stopped when the loss diverged",
           "non-finite": "stopped when the loss became NaN or infinite",
           "cancelled": "cancelled"}


def sweep(state: TaskState, plan: Any, steps: int) -> Any:
    """The task: find_lr with the task's cancel flag as its stop request (worker thread)."""
    from visionstudio.core.training.control import TrainerControl
    from visionstudio.core.training.lr_finder import find_lr

    class TaskControl(TrainerControl):
        @property
        def stop_requested(self) -> bool:   # also read while the dataset loads
            return state.cancelled or super().stop_requested

    def progress(step: int, total: int, lr: float, loss: float) -> None:
        state.set_progress(step / total, f"Step {step} of {total}: learning rate {lr:.2g}, loss {loss:.3f}")

    return find_lr(plan, steps=steps, control=TaskControl(), progress=progress)


def rounded(lr: float) -> float:
    """Two significant digits (3.2e-03), inside what the setting accepts."""
    return min(LR_RANGE[1], max(LR_RANGE[0], float(f"{lr:.2g}")))


def y_range(losses, smoothed) -> tuple[float, float]:
    """From the lowest loss to a little above where the sweep started: the run-away end
    (often 1000x the start) would squash the part that matters into a line."""
    low = min(min(losses), min(smoothed))
    high = max(smoothed[: max(1, len(smoothed) // 10)]) * 1.25
    return low, max(high, low + 1e-6)


class LRFinderDialog(QDialog):
    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.task: BackgroundTask | None = None
        self.result: Any = None
        self.setObjectName("lrFinderDialog")
        self.setWindowTitle("Find Learning Rate")
        self.resize(640, 480)
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel("Trains a copy of the network for a few steps while the learning rate grows "
                       "from 1e-7 to 10, and suggests where the loss falls fastest. The network, "
                       "its weights and the next run are not changed.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Steps:"))
        self.steps = QSpinBox(objectName="lrFinderSteps", minimum=10, maximum=1000, value=100)
        self.steps.setAccessibleName("Steps of the sweep")
        row.addWidget(self.steps)
        self.run_button = QPushButton("&Run", objectName="lrFinderRun")
        self.cancel_button = QPushButton("&Cancel", objectName="lrFinderCancel", enabled=False)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        self.progress = QProgressBar(objectName="lrFinderProgress", maximum=1000)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        self.plot = pg.PlotWidget(objectName="lrFinderPlot")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.raw_curve = self.plot.plot([], [], pen=pen(GREY, 1))
        self.smooth_curve = self.plot.plot([], [], pen=pen(BLUE, 2))
        self.markers: dict[str, pg.InfiniteLine] = {}
        layout.addWidget(self.plot, 1)
        self.status = QLabel("", objectName="lrFinderStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.use_buttons = {
            "steepest": QPushButton("Use steepest", objectName="lrFinderUseSteepest", enabled=False),
            "valley": QPushButton("Use valley", objectName="lrFinderUseValley", enabled=False)}
        for which, button in self.use_buttons.items():
            button.clicked.connect(lambda _c=False, w=which: self.apply(w))
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close", objectName="lrFinderClose")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout.addLayout(buttons)

    # -- the sweep --------------------------------------------------------------------------
    def start(self) -> None:
        if self.task is not None:
            return
        self.run_button.setEnabled(False)
        self.status.setText("Loading…")
        when_torch_loaded(self._start_task, self.status.setText)

    def _start_task(self) -> None:
        from visionstudio.core.training.plan import PlanProblems, plan_run

        plan = plan_run(self.controller.document)   # every check a Train makes
        if isinstance(plan, PlanProblems):
            self.status.setText(plan.message)
            self.run_button.setEnabled(True)
            return
        self._show(None)
        self.cancel_button.setEnabled(True)
        self.status.setText("Sweeping…")
        self.task = run_task(sweep, plan, self.steps.value(), name="lr-finder", parent=self,
                             report_errors=False, on_progress=self._on_progress,
                             on_finished=self._on_finished, on_failed=self._on_failed)
        self.task.done.connect(self._on_done)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Cancelling after this step…")

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(text)

    def _on_failed(self, exc: BaseException) -> None:
        self.status.setText(f"The sweep failed: {one_line(exc)}")

    def _on_done(self) -> None:
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_finished(self, result: Any) -> None:
        if result.failure is not None:
            self.status.setText(result.failure.message)
            return
        self._show(result)
        self.progress.setValue(self.progress.maximum())
        found = [f"{name} {getattr(result, name):.2g}" for name in ("steepest", "valley")
                 if getattr(result, name) is not None]
        text = f"{len(result.lrs)} steps, {REASONS.get(result.stopped_reason, result.stopped_reason)}. "
        self.status.setText(text + (f"Suggested: {', '.join(found)}." if found else
                                    "The loss did not fall: no suggestion (try more steps)."))

    def _show(self, result: Any) -> None:
        """Draw ``result``'s curve and markers (None: clear them) and set the Use buttons."""
        self.result = result
        for line in self.markers.values():
            self.plot.removeItem(line)
        self.markers.clear()
        lrs = list(result.lrs) if result else []
        self.raw_curve.setData(lrs, list(result.losses) if result else [])
        self.smooth_curve.setData(lrs, list(result.smoothed) if result else [])
        if result is not None and result.smoothed:
            self.plot.setYRange(*y_range(result.losses, result.smoothed), padding=0.05)
        for which, color in (("steepest", ORANGE), ("valley", GREEN)):
            value = getattr(result, which) if result else None
            button = self.use_buttons[which]
            button.setEnabled(value is not None)
            button.setText(f"Use {which} ({rounded(value):.1e})" if value is not None else f"Use {which}")
            if value is not None and math.isfinite(value):
                line = pg.InfiniteLine(math.log10(value), angle=90, pen=pen(color, 1.5),
                                       label=which, labelOpts={"position": 0.9, "color": color})
                self.plot.addItem(line)
                self.markers[which] = line

    def apply(self, which: str) -> bool:
        """Set the optimizer's learning rate to the suggestion (undoable)."""
        value = getattr(self.result, which, None) if self.result is not None else None
        if value is None:
            return False
        opt = copy.deepcopy(self.controller.document.training.optimizer)
        opt["params"]["lr"] = rounded(value)
        if not self.controller.push(SetTrainingSettings({"optimizer": opt})):
            return False
        self.status.setText(f"Learning rate set to {opt['params']['lr']:g} (Edit › Undo to go back).")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.cancel()
        super().closeEvent(event)


def add_lr_finder_action(window: Any, menu: Any) -> QAction:
    """Training › Find Learning Rate…, one dialog per window (kept while the window lives)."""
    action = QAction("Find &Learning Rate…", window, objectName="action_lr_finder")
    action.setStatusTip("Suggest a learning rate with a short sweep over a copy of the network")

    def open_dialog() -> None:
        dialog = window.findChild(LRFinderDialog, "lrFinderDialog")
        if dialog is None:
            dialog = LRFinderDialog(window.controller, window)
        dialog.show()
        dialog.raise_()

    action.triggered.connect(lambda _checked=False: open_dialog())
    menu.addAction(action)
    return action
