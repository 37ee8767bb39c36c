"""The offer to recover autosaved work after a crash (never applied silently)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def make_recovery_box(title: str, saved_at: str, parent: QWidget | None = None) -> QMessageBox:
    when = f" (autosaved {saved_at.replace('T', ' ')})" if saved_at else ""
    box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved work",
                      f"VisionStudio did not close properly last time. Recover the unsaved "
                      f"changes to {title}{when}?", parent=parent)
    box.setObjectName("recoveryPrompt")
    box.setInformativeText("Recovered work opens as an unsaved project; Discard deletes it.")
    box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Discard)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    return box


def ask_recover(title: str, saved_at: str, parent: QWidget | None = None) -> str:
    """'recover', 'discard' or 'later' (keep the file for the next start)."""
    box = make_recovery_box(title, saved_at, parent)
    box.exec()
    clicked = box.clickedButton()
    role = box.buttonRole(clicked) if clicked is not None else QMessageBox.ButtonRole.RejectRole
    if role == QMessageBox.ButtonRole.AcceptRole:
        return "recover"
    if role == QMessageBox.ButtonRole.DestructiveRole:
        return "discard"
    return "later"
