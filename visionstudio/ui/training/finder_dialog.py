"""The frame the Training menu's finders share (Find Learning Rate…, Find the Largest Batch…).

Each finder is a short search over a copy of the project's network: an intro, a limit
(spin box) with Run and Cancel, a body that shows the search (a plot, a list), a status
line, "Use …" buttons and Close. The search runs as a background task (run_task) on the
project's plan, so the window stays responsive; Cancel (and closing the window) asks it
to stop at the next step, and Run waits for torch to load first. A subclass names its
task and words and fills in the parts that differ: the inputs, the body, the Use
buttons, what a result shows and what Use writes (one undoable SetTrainingSettings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, one_line, run_task
from visionstudio.ui.shell.torch_loader import when_torch_loaded


def task_control(state: TaskState) -> Any:
    """A TrainerControl for a finder's task (worker thread): Cancel is its stop request."""
    from visionstudio.core.training.control import TrainerControl

    class TaskControl(TrainerControl):
        @property
        def stop_requested(self) -> bool:   # also read while the dataset loads
            return state.cancelled or super().stop_requested

    return TaskControl()


class FinderDialog(QDialog):
    prefix: ClassVar[str]                  # object names: f"{prefix}Dialog", f"{prefix}Run", …
    title: ClassVar[str]
    window_size: ClassVar[tuple[int, int]]
    intro: ClassVar[str]
    task_name: ClassVar[str]
    noun: ClassVar[str]                    # "sweep": "The sweep failed: …"
    unit: ClassVar[str]                    # "step": "Cancelling after this step…"
    running: ClassVar[str]                 # the status while the task runs
    plan_overrides: ClassVar[Mapping[str, Any] | None] = None
    # The task's progress and partial-result slots, where the finder has them.
    _on_progress: Callable[[float, str], None] | None = None
    _on_partial: Callable[[Any], None] | None = None

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.task: BackgroundTask | None = None
        self.result: Any = None
        self.setObjectName(f"{self.prefix}Dialog")
        self.setWindowTitle(self.title)
        self.resize(*self.window_size)
        self._build()

    # -- what a finder fills in ---------------------------------------------------------------
    @staticmethod
    def work(state: Any, plan: Any, limit: int) -> Any:
        """The task (worker thread): the search on ``plan`` up to ``limit``."""
        raise NotImplementedError

    def _limit(self) -> int:
        raise NotImplementedError

    def _build_inputs(self, row: QHBoxLayout) -> None:
        """The widgets left of Run."""
        raise NotImplementedError

    def _build_row_end(self, row: QHBoxLayout) -> None:
        row.addStretch(1)

    def _build_body(self, layout: QVBoxLayout) -> None:
        raise NotImplementedError

    def _build_use(self, buttons: QHBoxLayout) -> None:
        """The Use buttons, left of Close."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Forget the last search's partial results as a new one starts."""

    def _show(self, result: Any) -> None:
        """Keep ``result`` (None: none yet) and set the body and the Use buttons from it."""
        raise NotImplementedError

    def _show_finished(self, result: Any) -> None:
        """The body and status line for a search that ran to its end (or was cancelled)."""
        raise NotImplementedError

    # -- the frame ---------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(self.intro)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self._build_inputs(row)
        self.run_button = QPushButton("&Run", objectName=f"{self.prefix}Run")
        self.cancel_button = QPushButton("&Cancel", objectName=f"{self.prefix}Cancel", enabled=False)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        self._build_row_end(row)
        layout.addLayout(row)
        self._build_body(layout)
        self.status = QLabel("", objectName=f"{self.prefix}Status", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self._build_use(buttons)
        buttons.addStretch(1)
        close = QPushButton("Close", objectName=f"{self.prefix}Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout.addLayout(buttons)

    def start(self) -> None:
        if self.task is not None:
            return
        self.run_button.setEnabled(False)
        self.status.setText("Loading…")
        when_torch_loaded(self._start_task, self.status.setText)

    def _start_task(self) -> None:
        from visionstudio.core.training.plan import PlanProblems, plan_run

        plan = plan_run(self.controller.document, self.plan_overrides)   # every check a Train makes
        if isinstance(plan, PlanProblems):
            self.status.setText(plan.message)
            self.run_button.setEnabled(True)
            return
        self._show(None)
        self._clear()
        self.cancel_button.setEnabled(True)
        self.status.setText(self.running)
        self.task = run_task(self.work, plan, self._limit(), name=self.task_name, parent=self,
                             report_errors=False, on_progress=self._on_progress,
                             on_partial=self._on_partial, on_finished=self._on_finished,
                             on_failed=self._on_failed)
        self.task.done.connect(self._on_done)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText(f"Cancelling after this {self.unit}…")

    def _on_failed(self, exc: BaseException) -> None:
        self.status.setText(f"The {self.noun} failed: {one_line(exc)}")

    def _on_done(self) -> None:
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_finished(self, result: Any) -> None:
        if result.failure is not None:
            self.status.setText(result.failure.message)
            return
        self._show_finished(result)

    def _push(self, command: Any, done: str) -> bool:
        """Push the Use command (one undoable step) and say so in the status line."""
        if not self.controller.push(command):
            return False
        self.status.setText(f"{done} (Edit › Undo to go back).")
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.cancel()
        super().closeEvent(event)


def add_finder_action(window: Any, menu: Any, dialog_class: type[FinderDialog], text: str,
                      name: str, tip: str) -> QAction:
    """The menu entry of a finder: one dialog per window (kept while the window lives)."""
    action = QAction(text, window, objectName=name)
    action.setStatusTip(tip)

    def open_dialog() -> None:
        dialog = window.findChild(dialog_class, f"{dialog_class.prefix}Dialog")
        if dialog is None:
            dialog = dialog_class(window.controller, window)
        dialog.show()
        dialog.raise_()

    action.triggered.connect(lambda _checked=False: open_dialog())
    menu.addAction(action)
    return action
