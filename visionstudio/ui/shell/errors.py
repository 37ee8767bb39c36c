"""Unexpected errors: logged, shown in a non-modal dialog, and the app keeps running.

``install_excepthooks`` replaces ``sys.excepthook`` (exceptions in Qt slots end up
there in PySide6) and ``threading.excepthook``. A worker thread never touches a widget:
its report crosses to the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger("visionstudio")


class ErrorDialog(QDialog):
    """A non-modal report of one unexpected error with the traceback as details."""

    def __init__(self, summary: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("Unexpected error")
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.message = QLabel(
            f"<b>Something went wrong, but VisionStudio is still running.</b><br>{_escape(summary)}"
            "<br>Your work is autosaved; saving now is a good idea.", self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        self.details = QPlainTextEdit(details, self)
        self.details.setObjectName("errorDetails")
        self.details.setAccessibleName("Error details")
        self.details.setReadOnly(True)
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(details))
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ErrorReporter(QObject):
    """Lives on the GUI thread; ``report`` may be called from any thread."""

    reported = Signal(str, str)  # summary, details (queued across threads)

    def __init__(self, parent_widget: Callable[[], QWidget | None] = lambda: None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._parent_widget = parent_widget
        self.dialogs: list[ErrorDialog] = []
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, exc_type, exc_value, exc_tb, where: str = "") -> None:
        details = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
        summary = f"{exc_type.__name__}: {exc_value}"
        if where:
            summary = f"{summary} (in {where})"
        log.error("unexpected error%s\n%s", f" in {where}" if where else "", details)
        self.reported.emit(summary, details)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if QApplication.instance() is None:
            return
        if len(self.dialogs) >= 5:  # an error in a paint loop must not bury the screen
            return
        dialog = ErrorDialog(summary, details, self._parent_widget())
        self.dialogs.append(dialog)
        dialog.destroyed.connect(lambda *_: self._forget(dialog))
        dialog.show()

    def _forget(self, dialog: ErrorDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)


def install_excepthooks(reporter: ErrorReporter) -> Callable[[], None]:
    """Route uncaught exceptions (GUI and other threads) to ``reporter``; returns an undo."""
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def sys_hook(exc_type, exc_value, exc_tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            old_sys(exc_type, exc_value, exc_tb)
            return
        try:
            reporter.report(exc_type, exc_value, exc_tb)
        except Exception:  # noqa: BLE001 - never let the hook itself take the app down
            old_sys(exc_type, exc_value, exc_tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        try:
            reporter.report(args.exc_type, args.exc_value, args.exc_traceback, where=name)
        except Exception:  # noqa: BLE001 - nor the thread hook: Python's own report then
            old_thread(args)

    sys.excepthook = sys_hook
    threading.excepthook = thread_hook

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = old_sys, old_thread

    return uninstall
