"""Write Report…: a run's HTML report, written in the background, then offered to open.

The page is rendered by ``core.report`` on a worker thread, from a copy of the graph
taken here on the GUI thread (the user may edit the network meanwhile). Where to save
is asked first (the run's folder by default); when it is written, one question offers to
open it in the browser.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from visionstudio.ui.shell.tasks import BackgroundTask, one_line, run_task
from visionstudio.ui.shell.torch_loader import torch_loaded, when_torch_loaded


def ask_path(parent: QWidget, default: Path) -> str:
    path, _filter = QFileDialog.getSaveFileName(parent, "Write Report", str(default),
                                                "Web page (*.html)")
    return path


def offer_open(parent: QWidget, path: Path, notes: list[str]) -> None:
    extra = ("\n\n" + "\n".join(notes[:5])) if notes else ""
    answer = QMessageBox.question(parent, "Report written", f"The report was saved as {path}.{extra}"
                                  "\n\nOpen it in the browser?")
    if answer == QMessageBox.StandardButton.Yes:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class RunReport:
    """One report at a time for the runs list; ``ask_path``, ``offer_open`` and ``tell``
    are attributes so tests can answer them."""

    def __init__(self, parent: QWidget, runs) -> None:
        self.parent, self.runs = parent, runs
        self.ask_path, self.offer_open = ask_path, offer_open
        self.tell = lambda text: QMessageBox.warning(parent, "Write Report", text)
        self.task: BackgroundTask | None = None

    def write(self, run_id: str | None) -> BackgroundTask | None:
        """The report task, or None: nothing to report, one is running, or torch is still
        loading (off the GUI thread; the report then starts by itself)."""
        if run_id is None or (self.task is not None and self.task.is_running()):
            return None
        if not torch_loaded():   # core.report evaluates with torch: never import it here
            when_torch_loaded(lambda: self.write(run_id), getattr(self.parent.window(), "show_status", None))
            return None
        from visionstudio.core.report import ReportError, from_project, write_report

        doc = self.runs.controller.document
        try:
            source = from_project(doc, None, run_id, store=self.runs.store)
        except ReportError as exc:
            self.tell(f"No report can be written: {exc}.")
            return None
        path = self.ask_path(self.parent, source.folder / "report.html")
        if not path:
            return None
        snapshot = SimpleNamespace(name=doc.name, graph=doc.graph.copy())
        source = dataclasses.replace(source, document=snapshot)

        def work(state):
            return write_report(source, path, cancel=lambda: state.cancelled,
                                progress=lambda text, f: state.set_progress(f, text))

        self.task = run_task(work, name="run-report", parent=self.parent, report_errors=False,
                             on_finished=lambda r: self.offer_open(self.parent, r.path, r.notes),
                             on_failed=lambda exc: self.tell(f"The report could not be written: "
                                                             f"{one_line(exc)}"))
        return self.task
