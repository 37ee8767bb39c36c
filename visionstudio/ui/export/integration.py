"""install(window): File > Export… (Ctrl+E), run off the GUI thread with progress, and
File > Import Metrics CSV as Run… (an exported script's ``out/metrics.csv``).

The dialog (``dialogs/export_dialog.py``) collects format, folder and weights; an
background task (``run_export``) calls ``core.export.export_project`` on a snapshot
of the document and sends back plain results. Success shows the message
and an "Open Folder" button; failure shows the network's diagnostics (BuildError) or
the error's text. The window needs ``.controller``, ``.menus["file"]`` and a status bar.
"""

from __future__ import annotations

import copy
import logging
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QProgressDialog

from visionstudio.ui.export.dialog import (
    FORMAT_CHOICES,
    ExportDialog,
    ExportRequest,
    default_folder,
    run_weight_choices,
)
from visionstudio.ui.shell.settings import read_str
from visionstudio.ui.shell.tasks import BackgroundTask, TaskState, run_task

log = logging.getLogger("visionstudio")
SHORTCUT = "Ctrl+E"
CLOSE_WAIT_MS = 120_000


def snapshot(doc, path=None):
    """A detached copy of the project for the worker (graph copy, frozen settings), named
    as the export names it: a saved project still called 'Untitled' by its file's name."""
    from visionstudio.core.export.codegen import export_name
    from visionstudio.core.project import ProjectDocument

    # "initial weights": what a fresh run starts from
    return ProjectDocument(graph=doc.graph.copy(), dataset=doc.dataset, training=doc.training,
                           name=export_name(doc.name, path), description=doc.description,
                           runs=copy.deepcopy(doc.runs), initial_weights=doc.initial_weights,
                           task=doc.task, folder=doc.folder)


def run_export(state: TaskState, doc, request: ExportRequest) -> tuple[object, object]:
    """One export, on the task's thread: (result, None), or (None, failure) for every
    error, as plain data; failure = (title, text, diagnostics, details)."""
    from visionstudio.core.build import BuildError
    from visionstudio.core.export import ExportError, WeightsError, export_project

    r = request
    try:
        result = export_project(doc, r.fmt, r.folder, weights=r.weights,
                                progress=lambda f, text: state.set_progress(float(f), str(text)))
    except BuildError as exc:
        diagnostics = [str(d) for d in exc.diagnostics]
        return None, ("The network has problems to fix before it can be exported",
                      "\n".join(f"• {d}" for d in diagnostics), diagnostics, "")
    except WeightsError as exc:
        return None, ("The weights cannot be exported", str(exc), [], "")
    except ExportError as exc:
        return None, ("Export failed", str(exc), [], "")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return None, ("Export failed", f"The files could not be written: {where}{exc.strerror or exc}",
                      [], traceback.format_exc())
    except Exception as exc:
        log.exception("export failed")
        return None, ("Export failed", f"{type(exc).__name__}: {exc}", [], traceback.format_exc())
    return result, None


def show_result(parent, result, folder: Path) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "Export finished", result.message, parent=parent)
    box.setObjectName("exportResultBox")
    box.setInformativeText(f"Folder: {folder}")
    open_button = box.addButton("Open Folder", QMessageBox.ButtonRole.ActionRole)
    open_button.setObjectName("exportOpenFolder")
    box.addButton(QMessageBox.StandardButton.Close)
    # ActionRole buttons still close the box; opening the folder is all they do.
    open_button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
    box.open()   # not exec(): the app stays responsive and tests do not block
    return box


def show_failure(parent, failure, window_title: str = "Cannot export") -> QMessageBox:
    title, text, diagnostics, details = failure
    box = QMessageBox(QMessageBox.Icon.Warning, window_title, title, parent=parent)
    box.setObjectName("exportFailureBox")
    box.setInformativeText(text)
    if details:
        box.setDetailedText(details)
    box.open()
    return box


class ExportIntegration(QObject):
    """What ``install`` returns: the action, the running export, the last message box."""

    finished = Signal(object, object)   # (ExportResult or None, failure tuple or None)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.task: BackgroundTask | None = None
        self.request: ExportRequest | None = None
        self.dialog: ExportDialog | None = None
        self.progress: QProgressDialog | None = None
        self.message_box: QMessageBox | None = None
        self.show_result = show_result      # tests may replace these
        self.show_failure = show_failure
        self._last_folder: dict[str, str] = {}   # project path/name -> folder
        self._quiet = False                      # closing: no message boxes
        self.action = QAction(QIcon.fromTheme("document-export"), "&Export…", window)
        self.action.setObjectName("action_export")
        self.action.setShortcut(QKeySequence(SHORTCUT))
        tip = "Export PyTorch code, a training script, ONNX or TorchScript"
        self.action.setToolTip(f"{tip} ({SHORTCUT})")
        self.action.setStatusTip(tip)
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())
        self.import_action = QAction("&Import Metrics CSV as Run…", window)
        self.import_action.setObjectName("action_import_metrics")
        tip = "Add the metrics of an exported training script (out/metrics.csv) as a run"
        self.import_action.setToolTip(tip)
        self.import_action.setStatusTip(tip)
        self.import_action.triggered.connect(lambda _checked=False: self.import_metrics())
        self.ask_csv_path = lambda parent: QFileDialog.getOpenFileName(
            parent, "Import metrics CSV as a run", "", "Metrics CSV (*.csv);;All files (*)")[0]
        self._add_to_menu()
        actions = getattr(window, "actions_by_name", None)
        if isinstance(actions, dict):
            actions.setdefault("export", self.action)
            actions.setdefault("import_metrics", self.import_action)
        window.installEventFilter(self)

    @property
    def busy(self) -> bool:
        return self.task is not None

    # -- menu ---------------------------------------------------------------------------
    def _add_to_menu(self) -> None:
        menus = getattr(self.window, "menus", None)
        menu = menus.get("file") if isinstance(menus, dict) else None
        mine = [self.action, self.import_action]
        if not isinstance(menu, QMenu):
            self.window.addAction(self.action)   # the shortcut works without a menu
            return
        actions = menu.actions()
        names = [a.objectName() for a in actions]
        at = next((names.index(n) for n in ("action_close", "action_quit") if n in names), None)
        if at is None:
            menu.addSeparator()
            menu.addActions(mine)
            return
        if at > 0 and actions[at - 1].isSeparator():
            at -= 1                              # [..., Save As, Export…, Import…, ----, Close]
        menu.insertActions(actions[at], mine)

    # -- the dialog -----------------------------------------------------------------------
    def _run_store(self):
        from visionstudio.ui.training.run_controller import runs_for

        return runs_for(self.window.controller).store

    def _runs_root(self) -> Path:
        return self._run_store().root

    def _folder_key(self) -> str:
        c = self.window.controller
        return str(c.path or c.document.name)

    def open_dialog(self) -> ExportDialog | None:
        if self.busy:
            self._status("An export is still running.")
            return None
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            return self.dialog
        c = self.window.controller
        doc = c.document
        choices = run_weight_choices(doc.runs, self._runs_root()) if doc.runs else []
        folder = self._last_folder.get(self._folder_key()) or default_folder(c.path, doc.name)
        settings = getattr(self.window, "settings", None)
        fmt = read_str(settings, "export/format", "pytorch", choices=FORMAT_CHOICES) \
            if settings is not None else "pytorch"
        # trained weights when there are some: the best of the most recent finished run
        preferred = self._run_store().export_checkpoint() if choices else None
        dialog = ExportDialog(choices, folder=Path(folder), fmt=fmt, seed=doc.training.seed,
                              preferred=preferred, parent=self.window)
        dialog.accepted.connect(lambda d=dialog: self.start(d.request()))
        dialog.finished.connect(lambda _result, d=dialog: self._on_dialog_finished(d))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _on_dialog_finished(self, dialog: ExportDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # -- running ----------------------------------------------------------------------------
    def start(self, request: ExportRequest) -> bool:
        """Export the current document as ``request`` says, on a worker thread."""
        if self.busy:
            return False
        self.request = request
        self._last_folder[self._folder_key()] = str(request.folder)
        settings = getattr(self.window, "settings", None)
        if settings is not None:
            settings.setValue("export/format", request.fmt)
        doc = snapshot(self.window.controller.document, self.window.controller.path)
        self.action.setEnabled(False)
        self._show_progress(request)
        self.task = run_task(run_export, doc, request, name="export", parent=self,
                             on_progress=self._on_worker_progress,
                             on_finished=lambda pair: self._on_worker_done(*pair))
        return True

    def _show_progress(self, request: ExportRequest) -> None:
        bar = QProgressDialog(f"Exporting to {request.folder}…", "", 0, 100, self.window)
        bar.setObjectName("exportProgress")
        bar.setWindowTitle("Export")
        bar.setCancelButton(None)           # export_project cannot be interrupted
        bar.setMinimumDuration(300)
        bar.setAutoClose(False)
        bar.setAutoReset(False)
        bar.setValue(0)
        self.progress = bar
        self._status(f"Exporting to {request.folder}…")

    def _on_worker_progress(self, fraction: float, text: str) -> None:
        if self.progress is not None:
            self.progress.setValue(int(round(max(0.0, min(fraction, 1.0)) * 100)))
            self.progress.setLabelText(text)

    def _on_worker_done(self, result, failure) -> None:
        self._finish_thread()
        request = self.request
        if result is not None:
            folder = request.folder if request is not None else Path(result.files[0]).parent
            self._status(f"Exported to {folder}")
            if not self._quiet:
                self.message_box = self.show_result(self.window, result, folder)
        else:
            self._status(f"Export failed: {failure[0]}")
            if not self._quiet:
                self.message_box = self.show_failure(self.window, failure)
        self.finished.emit(result, failure)

    def _finish_thread(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.wait()
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        self.action.setEnabled(True)

    def wait(self, timeout_ms: int = CLOSE_WAIT_MS) -> bool:
        """Block until a running export has ended (closing the window)."""
        if self.task is None:
            return True
        if not self.task.wait(timeout_ms):
            return False
        # The result is queued to this thread: handle it now, in the status bar only.
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer

        self._quiet = True
        try:
            deadline = QDeadlineTimer(5000)
            while self.task is not None and not deadline.hasExpired():
                QCoreApplication.processEvents()
            if self.task is not None:      # the result never arrived: end the thread anyway
                self._finish_thread()
        finally:
            self._quiet = False
        return True

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.window and event.type() == QEvent.Type.Close and self.busy:
            self._status("Waiting for the export to finish…")
            self.wait()
        return False

    # -- importing a metrics CSV as a run ------------------------------------------------
    def import_metrics(self, path: str | None = None) -> dict | None:
        """Add a metrics CSV as a run of the project; returns the new run entry."""
        from visionstudio.core.export import MetricsImportError, import_metrics_run

        path = path or self.ask_csv_path(self.window)
        if not path:
            return None
        root = self._runs_root()
        try:
            entry = import_metrics_run(path, root)
        except (MetricsImportError, OSError) as exc:
            self.message_box = self.show_failure(
                self.window, ("The metrics could not be imported", str(exc), [], ""), "Cannot import")
            return None
        from visionstudio.core.runs import AddRun

        self.window.controller.record(AddRun(entry))   # a run, not an edit: no undo step
        self._status(f"Imported {Path(path).name} as {entry['name']}")
        return entry

    def _status(self, text: str) -> None:
        try:
            self.window.statusBar().showMessage(text, 8000)
        except (AttributeError, RuntimeError):
            pass


def install(window) -> ExportIntegration:
    integration = getattr(window, "_export_integration", None)
    if integration is None:
        integration = ExportIntegration(window)
        window._export_integration = integration
    return integration
