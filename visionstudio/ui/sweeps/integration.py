"""install(window): what the sweep panel adds to the main window beside its dock.

Closing the window while a sweep runs asks first, as for a training run; agreed, the
sweep is stopped (the trial that trains keeps its checkpoint, the study stays in the
project's sweeps database to continue) and its thread has ended before the window goes.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from visionstudio.ui.sweeps.session import sweeps_for


def ask_stop(parent) -> bool:
    answer = QMessageBox.question(
        parent, "A sweep is running",
        "A sweep is still running. Stop it (Continue in the Sweeps panel goes on later) and close?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class SweepIntegration(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.session = sweeps_for(window.controller)
        self.ask_stop = ask_stop   # tests replace it

    def confirm_close(self) -> bool:
        if not self.session.busy:
            return True
        if not self.ask_stop(self.window):
            return False
        return self.session.shutdown()


def install(window) -> SweepIntegration:
    integration = getattr(window, "_sweep_integration", None)
    if integration is None:
        integration = SweepIntegration(window)
        window._sweep_integration = integration
    return integration
