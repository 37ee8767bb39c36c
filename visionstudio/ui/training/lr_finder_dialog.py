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
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout

from visionstudio.core.project.commands import SetTrainingSettings
from visionstudio.ui.plots.grid import add_grid
from visionstudio.ui.plots.style import BLUE, GREY, ORANGE, pen
from visionstudio.ui.shell.tasks import TaskState
from visionstudio.ui.training.finder_dialog import FinderDialog, add_finder_action, task_control

LR_RANGE = (1e-12, 100.0)     # what the optimizers' lr setting accepts
GREEN = "#43a047"
REASONS = {"completed": "all steps done", "diverged": "stopped when the loss diverged",
           "non-finite": "stopped when the loss became NaN or infinite",
           "cancelled": "cancelled"}


def sweep(state: TaskState, plan: Any, steps: int) -> Any:
    """The task: find_lr with the task's cancel flag as its stop request (worker thread)."""
    from visionstudio.core.training.lr_finder import find_lr

    def progress(step: int, total: int, lr: float, loss: float) -> None:
        state.set_progress(step / total, f"Step {step} of {total}: learning rate {lr:.2g}, loss {loss:.3f}")

    return find_lr(plan, steps=steps, control=task_control(state), progress=progress)


def rounded(lr: float) -> float:
    """Two significant digits (3.2e-03), inside what the setting accepts."""
    return min(LR_RANGE[1], max(LR_RANGE[0], float(f"{lr:.2g}")))


def y_range(losses, smoothed) -> tuple[float, float]:
    """From the lowest loss to a little above where the sweep started: the run-away end
    (often 1000x the start) would squash the part that matters into a line."""
    low = min(min(losses), min(smoothed))
    high = max(smoothed[: max(1, len(smoothed) // 10)]) * 1.25
    return low, max(high, low + 1e-6)


class LRFinderDialog(FinderDialog):
    prefix, title, window_size = "lrFinder", "Find Learning Rate", (640, 480)
    intro = ("Trains a copy of the network for a few steps while the learning rate grows "
             "from 1e-7 to 10, and suggests where the loss falls fastest. The network, "
             "its weights and the next run are not changed.")
    task_name, noun, unit, running = "lr-finder", "sweep", "step", "Sweeping…"
    work = staticmethod(sweep)

    def _limit(self) -> int:
        return self.steps.value()

    def _build_inputs(self, row: QHBoxLayout) -> None:
        row.addWidget(QLabel("Steps:"))
        self.steps = QSpinBox(objectName="lrFinderSteps", minimum=10, maximum=1000, value=100)
        self.steps.setAccessibleName("Steps of the sweep")
        row.addWidget(self.steps)

    def _build_row_end(self, row: QHBoxLayout) -> None:
        self.progress = QProgressBar(objectName="lrFinderProgress", maximum=1000)
        row.addWidget(self.progress, 1)

    def _build_body(self, layout: QVBoxLayout) -> None:
        self.plot = pg.PlotWidget(objectName="lrFinderPlot")
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "learning rate")
        self.plot.setLabel("left", "loss")
        add_grid(self.plot.getPlotItem(), x=True, y=True, alpha=0.2)
        self.raw_curve = self.plot.plot([], [], pen=pen(GREY, 1))
        self.smooth_curve = self.plot.plot([], [], pen=pen(BLUE, 2))
        self.markers: dict[str, pg.InfiniteLine] = {}
        layout.addWidget(self.plot, 1)

    def _build_use(self, buttons: QHBoxLayout) -> None:
        self.use_buttons = {
            "steepest": QPushButton("Use steepest", objectName="lrFinderUseSteepest", enabled=False),
            "valley": QPushButton("Use valley", objectName="lrFinderUseValley", enabled=False)}
        for which, button in self.use_buttons.items():
            button.clicked.connect(lambda _c=False, w=which: self.apply(w))
            buttons.addWidget(button)

    # -- the sweep --------------------------------------------------------------------------
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(text)

    def _show_finished(self, result: Any) -> None:
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
        return self._push(SetTrainingSettings({"optimizer": opt}),
                          f"Learning rate set to {opt['params']['lr']:g}")


def add_lr_finder_action(window: Any, menu: Any) -> QAction:
    """Training › Find Learning Rate…, one dialog per window (kept while the window lives)."""
    return add_finder_action(window, menu, LRFinderDialog, "Find &Learning Rate…", "action_lr_finder",
                             "Suggest a learning rate with a short sweep over a copy of the network")
