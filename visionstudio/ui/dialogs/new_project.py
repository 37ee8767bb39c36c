"""File › New: the welcome page's template cards in a dialog; one click picks a template.

The cards (previews, parameter counts) are the same widgets the welcome page shows, so
both places offer the same choice; the details are filled in after the dialog is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from visionstudio.ui.welcome.cards import (
    DEFAULT_CARD_COLUMNS,
    TemplateCard,
    fill_card_details,
    lay_out_cards,
    make_cards,
)


class NewProjectDialog(QDialog):
    """Template cards and a blank project; ``chosen_key()`` after ``exec()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newProjectDialog")
        self.setWindowTitle("New project")
        self.setAccessibleName("New project")
        self._chosen: str | None = None
        self._details_loaded = False
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(QLabel("Start from a template or from an empty canvas:", self))
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        self.cards: dict[str, TemplateCard] = make_cards(self)
        for key, card in self.cards.items():
            card.clicked.connect(lambda _checked=False, k=key: self.choose(k))
        lay_out_cards(self.grid, self.cards, DEFAULT_CARD_COLUMNS)
        layout.addLayout(self.grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        first = next(iter(self.cards.values()), None)
        if first is not None:
            first.setFocus()

    def keys(self) -> list[str]:
        return list(self.cards)

    def choose(self, key: str) -> None:
        self._chosen = key
        self.accept()

    def chosen_key(self) -> str | None:
        """The template key, '' for a blank project, None when cancelled."""
        return self._chosen

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._details_loaded:
            QTimer.singleShot(0, self.load_details)   # after the first paint

    def load_details(self) -> None:
        if not self._details_loaded:
            self._details_loaded = True
            fill_card_details(self.cards, self.palette())


if __name__ == "__main__":   # python -m visionstudio.ui.dialogs.new_project
    import sys

    from PySide6.QtWidgets import QApplication

    from visionstudio.ui.shell.launch import quit_demo_later

    app = QApplication(sys.argv)
    dialog = NewProjectDialog()
    quit_demo_later(dialog.reject)
    dialog.exec()
    print(repr(dialog.chosen_key()))
