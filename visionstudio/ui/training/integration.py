"""install(window): the training actions, menu, toolbar buttons and status-bar progress.

The main window calls ``install(window)`` once and ``confirm_close()`` from its
closeEvent. Shortcuts: F5 Train, F6 Pause / Resume, Shift+F5 Stop, Ctrl+F5 Continue.
The window needs ``.controller``, ``.menus`` (dict), a QToolBar and a status bar.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QStyle, QToolBar

from visionstudio.ui.plots.selection import selection_for
from visionstudio.ui.shell.torch_loader import when_torch_loaded
from visionstudio.ui.training.batch_finder_dialog import add_batch_finder_action
from visionstudio.ui.training.lr_finder_dialog import add_lr_finder_action
from visionstudio.ui.training.texts import failure_title, fmt_time

SP = QStyle.StandardPixmap


def ask_stop(parent) -> bool:
    answer = QMessageBox.question(
        parent, "Training is running",
        "A training run is still going. Stop it (a checkpoint is kept) and close?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def show_failure(parent, failure) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, failure_title(failure), failure.message, parent=parent)
    box.setObjectName("trainingFailureBox")
    if failure.traceback:
        box.setDetailedText(failure.traceback)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()   # not exec(): the app stays responsive and tests do not block


class TrainingIntegration(QObject):
    """What ``install`` returns: the actions, the status widgets and ``confirm_close``."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.selection = selection_for(window.controller)   # Continue continues the shown run
        self.training = self.selection.runs                  # the RunController
        self.ask_stop = ask_stop            # tests replace these
        self.show_failure = show_failure
        self.actions: dict[str, QAction] = {}
        self._make_actions()
        self._make_menu_and_toolbar()
        self._make_status_widgets()
        t = self.training
        t.state_changed.connect(self._on_training_state_changed)
        t.fit_started.connect(self._on_training_fit_started)
        t.batch.connect(self._on_training_batch)
        t.epoch.connect(self._on_training_epoch)
        t.failed.connect(self._on_training_failed)
        t.message.connect(self._show_status)
        t.runs_changed.connect(self._update_actions)
        t.store_reset.connect(self._on_training_store_reset)
        self.selection.message.connect(self._show_status)
        self.selection.display_changed.connect(self._update_actions)
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)
        self._on_training_state_changed(t.state)

    # -- actions ------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        w, s = self.window, self.training
        style = w.style()
        specs = (
            ("train", "&Train", "Train the network on the dataset (F5)", "F5", SP.SP_MediaPlay,
             lambda: when_torch_loaded(s.train, s.message.emit)),   # torch first, off this thread
            ("pause", "&Pause", "Pause after the current batch (F6)", "F6", SP.SP_MediaPause, s.pause),
            ("resume", "&Resume", "Resume the paused run (F6)", "F6", SP.SP_MediaSeekForward, s.resume),
            ("stop", "&Stop", "Stop after the current batch; a checkpoint is kept (Shift+F5)",
             "Shift+F5", SP.SP_MediaStop, s.stop),
            ("continue", "&Continue Training", "Continue the shown run from its last checkpoint "
             "(Ctrl+F5)", "Ctrl+F5", SP.SP_MediaSkipForward, self._continue),
        )
        for name, text, tip, key, icon, slot in specs:
            action = QAction(style.standardIcon(icon), text, w)
            action.setObjectName(f"action_{name}")
            action.setShortcut(QKeySequence(key))
            action.setStatusTip(tip)
            action.setToolTip(tip)
            action.triggered.connect(lambda _checked=False, f=slot: f())
            self.actions[name] = action
            w.addAction(action)

    def _continue(self) -> None:
        panel = self.window.findChild(QObject, "trainingPanel")
        extra = panel.extra_epochs.value() if panel is not None and hasattr(panel, "extra_epochs") else None
        run_id, t = self.selection.display_id, self.training
        when_torch_loaded(lambda: t.continue_run(run_id, extra), t.message.emit)

    def _make_menu_and_toolbar(self) -> None:
        w = self.window
        bar = w.menuBar()
        menu = None
        menus = getattr(w, "menus", None)
        help_menu = menus.get("help") if isinstance(menus, dict) else None
        if help_menu is not None:
            menu = bar.addMenu("T&raining")
            bar.insertMenu(help_menu.menuAction(), menu)
        else:
            menu = bar.addMenu("T&raining")
        menu.setObjectName("menu_training")
        for name in ("train", "pause", "resume", "stop"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        menu.addAction(self.actions["continue"])
        menu.addSeparator()
        self.actions["lr_finder"] = add_lr_finder_action(w, menu)
        self.actions["batch_finder"] = add_batch_finder_action(w, menu)
        if isinstance(menus, dict):
            menus["training"] = menu
        self.menu = menu
        toolbar = getattr(w, "toolbar", None)
        if not isinstance(toolbar, QToolBar):
            bars = w.findChildren(QToolBar)
            toolbar = bars[0] if bars else w.addToolBar("Training")
        toolbar.addSeparator()
        for name in ("train", "pause", "resume", "stop"):
            toolbar.addAction(self.actions[name])
        self.toolbar = toolbar

    def _make_status_widgets(self) -> None:
        bar = self.window.statusBar()
        self.lock_label = QLabel("Network locked while training")
        self.lock_label.setObjectName("trainingLockLabel")
        self.lock_label.setToolTip("Edits that would change the model are refused until the run "
                                   "stops; moving layers still works.")
        self.lock_label.setStyleSheet("background: #fff3cd; color: #6b4f00; padding: 0 6px; "
                                      "border-radius: 3px;")
        self.step_label = QLabel("")
        self.step_label.setObjectName("trainingStepLabel")
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.time_label = QLabel("")
        self.time_label.setObjectName("trainingTimeLabel")
        for widget in (self.lock_label, self.step_label, self.progress, self.time_label):
            bar.addPermanentWidget(widget)
            widget.hide()
        # a fixed size, so a new text does not re-lay out the status bar: with a label that
        # may grow, each setText (twice a second) invalidated the main window's layout and
        # repainted the whole window (1600x915 px), counted with a paint-event filter
        for label, widest in ((self.step_label, "Epoch 9999/9999 · batch 99999/99999 (paused)"),
                              (self.time_label, "Elapsed 999:59:59 · ETA 999:59:59")):
            label.setFixedSize(label.fontMetrics().horizontalAdvance(widest) + 8,
                               label.sizeHint().height())
        self._t0 = None
        self._elapsed = 0.0
        self._eta = None
        self._batch = self._batch_shown = None   # the latest batch record, the one shown
        self._batch_text = ""
        self._last_status = ""

    # -- training -> actions and status ---------------------------------------------------------
    def _update_actions(self) -> None:
        state = self.training.state
        a = self.actions
        a["train"].setEnabled(state == "idle")
        a["pause"].setEnabled(state in ("running", "preparing"))
        a["resume"].setEnabled(state in ("paused", "pausing"))
        a["stop"].setEnabled(state in ("running", "preparing", "paused", "pausing"))
        shown = self.selection.display_id
        a["continue"].setEnabled(self.training.can_continue(shown))
        why = self.training.store.continue_problem(shown) if shown is not None else None
        a["continue"].setToolTip(why or a["continue"].statusTip())
        a["pause"].setVisible(state not in ("paused", "pausing"))
        a["resume"].setVisible(state in ("paused", "pausing"))

    def _on_training_state_changed(self, state: str) -> None:
        self._update_actions()
        busy = self.training.busy
        self.lock_label.setVisible(busy)
        if state == "preparing":
            for widget in (self.step_label, self.progress, self.time_label):
                widget.show()
            self.progress.setRange(0, 0)   # busy indicator while the dataset loads
            self.step_label.setText("Loading dataset…")
            self._t0, self._elapsed, self._eta = time.monotonic(), 0.0, None
            self._batch = self._batch_shown = None
            self._clock.start()
        elif state == "paused":
            self._show_batch()
            self.step_label.setText(self.step_label.text().split(" (")[0] + " (paused)")
        elif state == "idle":
            self._clock.stop()
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1)
            self._tick()

    def _on_training_fit_started(self, record) -> None:
        self.progress.setRange(0, max(1, record.total_steps))
        self.progress.setValue(record.start_step)

    def _on_training_batch(self, r) -> None:
        # kept, and shown by the clock (twice a second): QProgressBar.setValue repaints at
        # once, and with the steps label it re-laid out the status bar at every batch record
        # (~3 ms of the GUI thread each, measured while training in the main window)
        first = self._batch is None
        plan = self.training.plan
        epochs = plan.config.epochs if plan is not None else "?"
        self._batch, self._batch_text = r, f"Epoch {r.epoch}/{epochs} · batch {r.batch}/{r.batches}"
        self._elapsed, self._eta = r.elapsed_s, r.eta_s
        self._t0 = time.monotonic()
        if first:
            self._tick()

    def _on_training_epoch(self, r) -> None:
        self._elapsed, self._eta = r.elapsed_s, r.eta_s
        self._t0 = time.monotonic()

    def _show_batch(self) -> None:
        r, self._batch_shown = self._batch, self._batch
        if r is None:
            return
        # QProgressBar.setValue repaints at once (a synchronous repaint of the bar and the
        # status bar behind it, py-spy: 15% of the GUI thread's busy time while training);
        # with updates off it only marks the bar dirty, painted with the next frame
        self.progress.setUpdatesEnabled(False)
        try:
            self.progress.setValue(min(r.step, self.progress.maximum()))
            self.progress.setFormat(f"{r.step}/{self.progress.maximum()} steps")
        finally:
            self.progress.setUpdatesEnabled(True)
        self.step_label.setText(self._batch_text)

    def _tick(self) -> None:
        if self._batch is not self._batch_shown:
            self._show_batch()
        running = self.training.state in ("running", "preparing")
        extra = time.monotonic() - self._t0 if (self._t0 is not None and running) else 0.0
        eta = max(0.0, self._eta - extra) if self._eta is not None and running else (
            0.0 if self.training.state == "idle" and self._eta is not None else self._eta)
        self.time_label.setText(f"Elapsed {fmt_time(self._elapsed + extra)} · ETA {fmt_time(eta)}")

    def _on_training_store_reset(self) -> None:
        """Another document (New, Open): the last run's epoch, progress and times were
        that project's, so they go; so does a training message still shown."""
        self._clock.stop()
        for widget in (self.step_label, self.progress, self.time_label):
            widget.hide()
        self.step_label.setText("")
        self.time_label.setText("")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.resetFormat()
        self._t0, self._elapsed, self._eta = None, 0.0, None
        bar = self.window.statusBar()
        if self._last_status and bar.currentMessage() == self._last_status:
            bar.clearMessage()
        self._last_status = ""
        self._update_actions()

    def _on_training_failed(self, failure) -> None:
        self.step_label.setText(failure_title(failure))   # not "Loading dataset…" forever
        self.show_failure(self.window, failure)

    def _show_status(self, text: str) -> None:
        self._last_status = text
        self.window.statusBar().showMessage(text, 8000)

    # -- closing ---------------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """True when the window may close: no run, or the user agreed to stop it (then the
        run is stopped, its checkpoint kept and the thread has ended)."""
        if not self.training.busy:
            return True
        if not self.ask_stop(self.window):
            return False
        return self.training.shutdown()


def install(window) -> TrainingIntegration:
    integration = getattr(window, "_training_integration", None)
    if integration is None:
        integration = TrainingIntegration(window)
        window._training_integration = integration
    return integration
