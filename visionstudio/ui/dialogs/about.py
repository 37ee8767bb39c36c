"""Help › About VisionStudio: versions of everything that matters for a bug report.

torch is imported when the dialog opens (never at start-up); CUDA devices and Apple
MPS availability come from it. "Copy to clipboard" copies the table as plain text.
"""

from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visionstudio import __version__


def _module_version(name: str) -> str:
    try:
        module = __import__(name)
    except Exception as exc:  # noqa: BLE001 - any import failure is worth showing
        return f"not available ({type(exc).__name__})"
    return str(getattr(module, "__version__", "unknown"))


def torch_info() -> list[tuple[str, str]]:
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken torch install must not break About
        return [("PyTorch", f"not available ({type(exc).__name__}: {exc})")]
    rows = [("PyTorch", str(torch.__version__))]
    try:
        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            rows.append(("CUDA", f"available (CUDA {torch.version.cuda}): " + ", ".join(names)))
        else:
            built = torch.version.cuda
            rows.append(("CUDA", "not available" + (f" (torch built for CUDA {built})" if built
                                                    else " (CPU-only torch build)")))
    except Exception as exc:  # noqa: BLE001 - a broken driver must not break About
        rows.append(("CUDA", f"error: {exc}"))
    try:
        mps = getattr(torch.backends, "mps", None)
        rows.append(("Apple MPS", "available" if mps is not None and mps.is_available()
                     else "not available"))
    except Exception as exc:  # noqa: BLE001 - nor a broken MPS backend
        rows.append(("Apple MPS", f"error: {exc}"))
    return rows


def version_info() -> list[tuple[str, str]]:
    import PySide6

    rows = [("VisionStudio", __version__),
            ("Python", f"{platform.python_version()} ({sys.executable})"),
            ("Platform", platform.platform())]
    rows += torch_info()
    rows += [("torchvision", _module_version("torchvision")),
             ("Qt", qVersion()),
             ("PySide6", PySide6.__version__),
             ("pyqtgraph", _module_version("pyqtgraph")),
             ("NumPy", _module_version("numpy"))]
    app = QApplication.instance()
    if app is not None:
        rows.append(("Qt platform", f"{app.platformName()}, style {app.style().name()}"))
    return rows


def as_text(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About VisionStudio")
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        head = QLabel(f"<h2>VisionStudio {__version__}</h2>"
                      "<p>Design convolutional neural networks visually, train them, and look "
                      "inside them.</p><p>Open source under the MIT licence.</p>", self)
        head.setObjectName("aboutHeading")
        head.setWordWrap(True)
        head.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        layout.addWidget(head)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # importing torch: a second
        try:
            self.rows = version_info()
        finally:
            QApplication.restoreOverrideCursor()
        self.table = QTreeWidget(self)
        self.table.setObjectName("aboutVersions")
        self.table.setAccessibleName("Versions")
        self.table.setHeaderLabels(["Component", "Version"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        for key, value in self.rows:
            item = QTreeWidgetItem([key, value])
            item.setToolTip(1, value)
            self.table.addTopLevelItem(item)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, self.table.columnWidth(0) + 16)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.copy_button = QPushButton("Copy to Clipboard", self)
        self.copy_button.setObjectName("aboutCopyButton")
        self.copy_button.setToolTip("Copy these versions as text, e.g. for a bug report")
        self.copy_button.clicked.connect(self.copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.resize(620, 440)

    def text(self) -> str:
        return f"VisionStudio {__version__}\n" + as_text(self.rows)

    def copy(self) -> None:
        QApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")
