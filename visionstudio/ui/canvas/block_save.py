"""Save Block to Library…: a project's block definition as a ``.vsblock`` file in the
user's library folder (block_library.py), the definitions it uses included.

The file is named after the block's key; when the library has that name already the
user chooses to replace it or keep both (the new one then gets a free name). Every
palette shows the library again after a save (``library_events().changed``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from visionstudio.ui.canvas.block_library import free_path, library_path, save_definition

REPLACE, KEEP_BOTH = "replace", "keep"


class LibraryEvents(QObject):
    changed = Signal()   # a file was saved, imported or deleted: palettes read the folder again


_events: list[LibraryEvents] = []


def library_events() -> LibraryEvents:
    if not _events:
        _events.append(LibraryEvents())
    return _events[0]


def ask_clash(parent: QWidget | None, name: str) -> str | None:
    """Replace the library's block ``name``, keep both, or None (cancel)."""
    box = QMessageBox(QMessageBox.Icon.Question, "Save Block to Library",
                      f"Your block library has a block named “{name}” already.", parent=parent)
    box.setInformativeText("Replace it with this one, or keep both (this one gets a new name)?")
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep Both", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return REPLACE if clicked is replace else KEEP_BOTH if clicked is keep else None


def tell(parent: QWidget | None, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def save_block_to_library(parent: QWidget | None, controller, key: str,
                          folder: Path | None = None) -> Path | None:
    """Write definition ``key`` into the library; the file written, or None (cancelled,
    or the folder cannot be written: the user is told why)."""
    library = controller.document.graph.blocks
    if key not in library:
        return None
    path = library_path(key, folder)
    if path.exists():
        answer = ask_clash(parent, path.stem)
        if answer is None:
            return None
        if answer == KEEP_BOTH:
            path = free_path(key, folder)
    try:
        save_definition(library, key, path)
    except OSError as exc:
        tell(parent, "Save Block to Library",
             f"The block could not be saved as {path}: {exc.strerror or exc}.")
        return None
    library_events().changed.emit()
    return path
