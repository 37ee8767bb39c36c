"""File > Export…: which format, where to, and with which weights.

The dialog only collects a choice (``request()`` -> ExportRequest); the export itself
runs off the GUI thread (``ui/export/integration.py``). Weights: the project's seeded
initial weights, the last/best checkpoint of each run in ``document.runs`` whose files
exist in the runs folder, or a .safetensors file / checkpoint folder picked by hand.
The first offered is the best checkpoint of the most recent finished run when there is
one: exporting untrained weights after training is rarely what was meant.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
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
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

# key -> (title, one-line explanation); keys are core.export.FORMATS'.
FORMAT_CHOICES: dict[str, tuple[str, str]] = {
    "pytorch": ("PyTorch code",
                "model.py (a readable nn.Module) + weights.safetensors for your own code."),
    "script": ("Training script",
               "train.py for python or torchrun (many GPUs or machines) + model, weights, settings."),
    "onnx": ("ONNX",
             "model.onnx for ONNX Runtime, TensorRT, OpenVINO…; any batch size."),
    "torchscript": ("TorchScript",
                    "model.torchscript.pt for libtorch (C++) and older PyTorch runtimes."),
}
CHECKPOINT_KINDS = (("last", "last checkpoint"), ("best", "best checkpoint"))
CHOOSE_FILE, CHOOSE_FOLDER = "__choose_file__", "__choose_folder__"
CHOOSERS = (CHOOSE_FILE, CHOOSE_FOLDER)


@dataclass(frozen=True)
class WeightsChoice:
    label: str
    source: Path | None          # None: the project's initial (seeded) weights


@dataclass(frozen=True)
class ExportRequest:
    fmt: str
    folder: Path
    weights: Path | None
    weights_label: str


def run_weight_choices(runs: list[dict[str, Any]], root: Path | None) -> list[WeightsChoice]:
    """The last/best checkpoints of ``runs`` that exist under the runs folder ``root``."""
    if root is None:
        return []
    from visionstudio.core.runs import run_dir

    out = []
    for entry in runs:
        try:
            folder = run_dir(Path(root), entry) / "checkpoints"
        except (KeyError, TypeError, ValueError):   # ValueError: RunPathError, not a plain name
            continue
        name = str(entry.get("name") or entry.get("id"))
        summary = entry.get("summary") or {}
        for kind, words in CHECKPOINT_KINDS:
            ckpt = folder / kind
            if not ckpt.is_dir():
                continue
            epoch = summary.get("best_epoch") if kind == "best" else summary.get("epochs")
            detail = f", epoch {epoch}" if isinstance(epoch, int) and epoch > 0 else ""
            out.append(WeightsChoice(f"{name}: {words}{detail}", ckpt))
    return out


def default_folder(project_path: str | os.PathLike[str] | None, name: str) -> Path:
    """``<project folder>/<project>-export``, or ``~/VisionStudio exports/<name>``."""
    if project_path:
        p = Path(project_path)
        return p.with_name(f"{p.stem}-export")
    safe = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in name).strip() or "Untitled"
    return Path.home() / "VisionStudio exports" / safe


class ExportDialog(QDialog):
    """Format (radio buttons, one line each), output folder, weights, Export."""

    def __init__(self, choices: list[WeightsChoice], *, folder: Path | None = None,
                 fmt: str = "pytorch", seed: int | None = None, preferred: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        # Replaced by tests; each returns "" when the user cancels.
        self.choose_folder: Callable[[QWidget, str], str] = lambda parent, start: (
            QFileDialog.getExistingDirectory(parent, "Export into folder", start))
        self.choose_weights: Callable[[QWidget, str], str] = _ask_weights_path  # (parent, kind)
        layout = QVBoxLayout(self)
        self._add_formats(layout, fmt)
        form = QFormLayout()
        form.addRow(*self._folder_row(folder))
        form.addRow("&Weights:", self._weights_combo(choices, seed, preferred))
        layout.addLayout(form)
        self.note = QLabel("Files with the same names in that folder are replaced.", self)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.addButton("&Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.folder_edit.textChanged.connect(self._update_button)
        self._update_button()
        self.resize(580, self.sizeHint().height())

    def _add_formats(self, layout: QVBoxLayout, fmt: str) -> None:
        layout.addWidget(QLabel("<b>Format</b>", self))
        self.formats = QButtonGroup(self)
        self.format_buttons: dict[str, QRadioButton] = {}
        for key, (title, line) in FORMAT_CHOICES.items():
            button = QRadioButton(title, self)
            button.setObjectName(f"exportFormat_{key}")
            button.setToolTip(line)
            button.setAccessibleDescription(line)
            note = QLabel(line, self)
            note.setWordWrap(True)
            note.setIndent(24)
            note.setBuddy(button)
            self.formats.addButton(button)
            self.format_buttons[key] = button
            layout.addWidget(button)
            layout.addWidget(note)
        self.format_buttons.get(fmt, self.format_buttons["pytorch"]).setChecked(True)

    def _folder_row(self, folder: Path | None) -> tuple[QLabel, QHBoxLayout]:
        row = QHBoxLayout()
        self.folder_edit = QLineEdit(str(folder) if folder else "", self)
        self.folder_edit.setObjectName("exportFolder")
        self.folder_edit.setAccessibleName("Output folder")
        self.folder_edit.setPlaceholderText("Folder to write the files into")
        browse = QPushButton("Browse…", self)
        browse.setObjectName("exportBrowse")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        folder_label = QLabel("Output &folder:", self)
        folder_label.setBuddy(self.folder_edit)
        return folder_label, row

    def _weights_combo(self, choices: list[WeightsChoice], seed: int | None,
                       preferred: Path | None) -> QComboBox:
        self.weights = QComboBox(self)
        self.weights.setObjectName("exportWeights")
        self.weights.setAccessibleName("Weights")
        initial = "Initial weights (untrained" + (f", seed {seed})" if seed is not None else ")")
        self.weights.addItem(initial, None)
        for choice in choices:
            self.weights.addItem(choice.label, str(choice.source))
            self.weights.setItemData(self.weights.count() - 1, str(choice.source),
                                     Qt.ItemDataRole.ToolTipRole)
        self.weights.addItem("Choose a .safetensors file…", CHOOSE_FILE)
        self.weights.addItem("Choose a checkpoint folder…", CHOOSE_FOLDER)
        at = self.weights.findData(str(preferred)) if preferred is not None else -1
        self._previous_weights = max(at, 0)
        self.weights.setCurrentIndex(self._previous_weights)
        self.weights.activated.connect(self._on_weights_activated)
        return self.weights

    # -- choices --------------------------------------------------------------------
    def format(self) -> str:
        for key, button in self.format_buttons.items():
            if button.isChecked():
                return key
        return "pytorch"

    def set_format(self, key: str) -> None:
        self.format_buttons[key].setChecked(True)

    def set_folder(self, folder: str | os.PathLike[str]) -> None:
        self.folder_edit.setText(os.fspath(folder))

    def weights_labels(self) -> list[str]:
        return [self.weights.itemText(i) for i in range(self.weights.count())]

    def select_weights(self, label_or_path: str | os.PathLike[str]) -> None:
        """Pick an item by its label, or add (and pick) a file/folder path."""
        text = os.fspath(label_or_path)
        labels = self.weights_labels()
        if text in labels:
            self.weights.setCurrentIndex(labels.index(text))
        else:
            self._add_path(text)

    def request(self) -> ExportRequest:
        data = self.weights.currentData()
        source = Path(data) if data is not None and data not in CHOOSERS else None
        label = self.weights.currentText() if data not in CHOOSERS else self.weights.itemText(0)
        return ExportRequest(self.format(), Path(self.folder_edit.text().strip()).expanduser(),
                             source, label)

    # -- slots ----------------------------------------------------------------------
    def accept(self) -> None:
        if not self.folder_edit.text().strip():
            self.note.setText("Choose a folder to export into.")
            return
        super().accept()

    def _update_button(self) -> None:
        self.export_button.setEnabled(bool(self.folder_edit.text().strip()))

    def _browse(self) -> None:
        start = self.folder_edit.text().strip()
        while start and not Path(start).is_dir() and Path(start).parent != Path(start):
            start = str(Path(start).parent)
        chosen = self.choose_folder(self, start)
        if chosen:
            self.folder_edit.setText(chosen)

    def _on_weights_activated(self, index: int) -> None:
        kind = self.weights.itemData(index)
        if kind not in CHOOSERS:
            self._previous_weights = index
            return
        chosen = self.choose_weights(self, "file" if kind == CHOOSE_FILE else "folder")
        if chosen:
            self._add_path(chosen)
        else:
            self.weights.setCurrentIndex(self._previous_weights)

    def _add_path(self, path: str) -> None:
        at = self.weights.count() - len(CHOOSERS)   # keep the "Choose…" items last
        self.weights.insertItem(at, Path(path).name or path, path)
        self.weights.setItemData(at, path, Qt.ItemDataRole.ToolTipRole)
        self.weights.setCurrentIndex(at)
        self._previous_weights = at


def _ask_weights_path(parent: QWidget, kind: str) -> str:
    """A .safetensors file (``kind`` "file") or a checkpoint folder; "" when cancelled."""
    if kind == "folder":
        return QFileDialog.getExistingDirectory(parent, "Checkpoint folder to export", "")
    path, _ = QFileDialog.getOpenFileName(parent, "Weights to export", "",
                                          "Weights (*.safetensors);;All files (*)")
    return path
