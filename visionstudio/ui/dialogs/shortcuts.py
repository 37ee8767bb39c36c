"""Help › Keyboard Shortcuts: every action of the window that has a shortcut.

Generated from the actions themselves (so later features' actions — Train F5, Export —
appear as soon as they are installed); a filter box searches names, keys and tips.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

NATIVE = QKeySequence.SequenceFormat.NativeText


def clean_text(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")


_NAMED_KEYS = {"Del", "Delete", "Backspace", "Ins", "Esc", "Return", "Enter", "Home", "End",
               "PgUp", "PgDown", "Space", "Tab"}


def typeable(key: str) -> bool:
    """False for media/application keys some platforms bind too ("Save", "Open", "Zoom In")."""
    return ("+" in key and not key.endswith("+") or key.endswith("++") or len(key) == 1
            or key in _NAMED_KEYS or (key[:1] == "F" and key[1:].isdigit()))


def shortcut_rows(window: QWidget) -> list[tuple[str, str, str]]:
    """(action, keys, description) for every action of ``window`` with a shortcut,
    sorted by action name; the first of several actions sharing a name wins."""
    rows: dict[str, tuple[str, str, str]] = {}
    for action in window.findChildren(QAction):
        keys = [k for k in (s.toString(NATIVE) for s in action.shortcuts() if not s.isEmpty())
                if typeable(k)]
        if not keys or not action.text():
            continue
        name = clean_text(action.text())
        if name.startswith(("Undo ", "Redo ")):  # QUndoStack names the step
            name = name.split(" ", 1)[0]
        tip = action.statusTip() or action.toolTip()
        rows.setdefault(name + " " + keys[0], (name, ", ".join(keys), tip))
    return sorted(rows.values(), key=lambda r: r[0].lower())


class ShortcutsDialog(QDialog):
    def __init__(self, window: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        layout = QVBoxLayout(self)
        self.search = QLineEdit(self)
        self.search.setObjectName("shortcutSearch")
        self.search.setPlaceholderText("Search actions, keys or descriptions")
        self.search.setToolTip("Type to show only the matching shortcuts")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.filter)
        layout.addWidget(self.search)
        self.table = QTreeWidget(self)
        self.table.setObjectName("shortcutTable")
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHeaderLabels(["Action", "Shortcut", "Description"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        for name, keys, tip in shortcut_rows(window):
            item = QTreeWidgetItem([name, keys, tip])
            item.setToolTip(2, tip)
            self.table.addTopLevelItem(item)
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(860, 560)

    def rows(self, visible_only: bool = True) -> list[tuple[str, str, str]]:
        out = []
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if visible_only and item.isHidden():
                continue
            out.append((item.text(0), item.text(1), item.text(2)))
        return out

    def filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            hay = " ".join(item.text(c) for c in range(3)).lower()
            item.setHidden(bool(needle) and needle not in hay)
