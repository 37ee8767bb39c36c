"""File > New: a small gallery of project templates (and a blank project)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget,
)

BLANK_KEY = ""


class TemplateGalleryDialog(QDialog):
    """Lists templates with their descriptions; ``chosen_key()`` after ``exec()``."""

    def __init__(self, templates: list, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateGallery")
        self.setWindowTitle("New project")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Start from a template or from an empty canvas:", self))
        self.list = QListWidget(self)
        self.list.setObjectName("templateList")
        self.list.setAccessibleName("Project templates")
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        for t in templates:
            self._add(getattr(t, "key"), getattr(t, "title", t.key), getattr(t, "description", ""))
        self._add(BLANK_KEY, "Blank project", "An empty canvas: add an Input from the palette.")
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(460, 360)

    def _add(self, key: str, title: str, description: str) -> None:
        item = QListWidgetItem(f"{title}\n{description}" if description else title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setToolTip(description)
        self.list.addItem(item)

    def keys(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def select_key(self, key: str) -> None:
        self.list.setCurrentRow(self.keys().index(key))

    def chosen_key(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)
