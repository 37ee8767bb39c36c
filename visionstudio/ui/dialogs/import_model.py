"""File › Import Model…: a torchvision architecture by name, or a model file (.onnx, .keras,
.h5, or the user's own .py), imported on a worker thread and opened as a new, unsaved
project.

A .py file is code: the dialog names the file and asks before anything runs it, and only
a "yes" passes ``trust_code``. The path is the one the user typed or picked here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from visionstudio.ui.shell.tasks import run_task

FILE_FILTER = "Models (*.onnx *.keras *.h5 *.hdf5 *.py);;All files (*)"


def ask_to_run(parent: QWidget, path: str) -> bool:
    answer = QMessageBox.question(
        parent, "Run this Python file?",
        f"Importing {path} runs the code in it, with your permissions.\n\n"
        "Import it only if you trust where it comes from.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes


def _import(state: Any, source: str, trust_code: bool) -> Any:
    from visionstudio.ui.shell.torch_loader import import_torch

    import_torch()
    from visionstudio.core.importers import import_model

    state.set_progress(0.0, f"Importing {source}…")
    return import_model(source, trust_code=trust_code)


class ImportModelDialog(QDialog):
    imported = Signal(object)    # the ImportResult

    def __init__(self, parent: QWidget | None = None, *, names: list[str] | None = None,
                 confirm: Callable[[QWidget, str], bool] = ask_to_run) -> None:
        super().__init__(parent)
        self.setObjectName("importModelDialog")
        self.setWindowTitle("Import Model")
        self.confirm = confirm
        self.result_value: Any = None
        self.task: Any = None
        from visionstudio.core.importers.torch_sources import TESTED

        self.by_name = QRadioButton("A &torchvision architecture (untrained weights)")
        self.by_file = QRadioButton("A model &file (.onnx, .keras, .h5 or your own .py)")
        group = QButtonGroup(self)
        group.addButton(self.by_name)
        group.addButton(self.by_file)
        self.by_name.setChecked(True)
        self.names = QComboBox()
        self.names.setObjectName("torchvisionNames")
        self.names.setEditable(True)
        self.names.addItems(names if names is not None else list(TESTED))
        self.path = QLineEdit()
        self.path.setObjectName("modelPath")
        self.path.setPlaceholderText("model.onnx, model.keras or model.py")
        self.class_name = QLineEdit()
        self.class_name.setObjectName("className")
        self.class_name.setPlaceholderText("for a .py file: the nn.Module class (default: the last one)")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow(self.by_name)
        form.addRow("Architecture:", self.names)
        form.addRow(self.by_file)
        form.addRow("File:", row)
        form.addRow("Class:", self.class_name)
        self.message = QLabel()
        self.message.setObjectName("importMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("&Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("importButton")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.path.textEdited.connect(lambda _text: self.by_file.setChecked(True))

    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", FILE_FILTER)
        if path:
            self.path.setText(path)
            self.by_file.setChecked(True)

    def source(self) -> str:
        if self.by_name.isChecked():
            return f"torchvision:{self.names.currentText().strip()}"
        path = self.path.text().strip()
        cls = self.class_name.text().strip()
        return f"{path}:{cls}" if cls and path.lower().endswith(".py") else path

    def start(self) -> None:
        source = self.source()
        if source in ("", "torchvision:"):
            self.message.setText("Choose an architecture or a file to import.")
            return
        trust = False
        if self.by_file.isChecked() and self.path.text().strip().lower().endswith(".py"):
            if not self.confirm(self, self.path.text().strip()):
                self.message.setText("Nothing was run or imported.")
                return
            trust = True
        self.import_button.setEnabled(False)
        self.message.setText(f"Importing {source}…")
        self.task = run_task(_import, source, trust, name="Import model", parent=self, report_errors=False,
                             on_finished=self._done, on_failed=self._failed)

    def _done(self, result: Any) -> None:
        self.result_value = result
        self.imported.emit(result)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.import_button.setEnabled(True)
        self.message.setText(str(exc))


def open_import_dialog(window: Any) -> ImportModelDialog | None:
    """File › Import Model…: after the unsaved-changes prompt, the dialog; an import is
    saved as a project with its weights beside it (the user picks where) and opened."""
    if not window.files.maybe_save():
        return None
    dialog = ImportModelDialog(window)

    def opened(result: Any) -> None:
        if not window.files.open_imported(result):
            return
        notes = " ".join(result.notes[:2])
        window.show_status(f"Imported {result.document.name}: {len(result.document.graph.nodes)} layers"
                           + (f". {notes}" if notes else ""))

    dialog.imported.connect(opened)
    dialog.open()
    return dialog
