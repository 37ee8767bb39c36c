"""New / Open / Save / Save As, the unsaved-changes prompt and the recent-files list.

Every question to the user goes through :class:`Prompts`, one method per dialog, so
tests (and a future scripting API) answer them by replacing a method.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from visionstudio.core.project import (
    PROJECT_SUFFIX,
    ProjectDocument,
    ProjectFormatError,
    load_project,
)
from visionstudio.core.project.save_as import save_project_as
from visionstudio.core.templates import DEFAULT_TEMPLATE
from visionstudio.ui.dialogs.new_project import NewProjectDialog
from visionstudio.ui.shell.controller import DocumentController
from visionstudio.ui.shell.settings import read_str, read_str_list
from visionstudio.ui.shell.templates import TemplatesUnavailable, template_document

log = logging.getLogger("visionstudio")

FILE_FILTER = f"VisionStudio projects (*{PROJECT_SUFFIX});;All files (*)"
RECENT_KEY = "files/recent"
# Entries kept, shown and read back: the app never writes more, so a longer stored list is
# foreign and is cut on read, before any per-entry work (20,000 entries once cost 107 s).
MAX_RECENT = 10
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux; a longer recent entry or last folder is garbage
LAST_DIR_KEY = "files/lastDir"


class Prompts:
    """The dialogs FileManager needs; replace a method to answer it programmatically."""

    def unsaved(self, parent: QWidget | None, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"Save the changes to {name} before closing it?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, parent)
        box.setObjectName("unsavedPrompt")
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(
                    QMessageBox.StandardButton(answer), "cancel")

    def open_path(self, parent: QWidget | None, directory: str) -> str:
        path, _ = QFileDialog.getOpenFileName(parent, "Open project", directory, FILE_FILTER)
        return path

    def save_path(self, parent: QWidget | None, suggested: str) -> str:
        path, _ = QFileDialog.getSaveFileName(parent, "Save project as", suggested, FILE_FILTER)
        if path and not Path(path).suffix:
            path += PROJECT_SUFFIX
        return path

    def error(self, parent: QWidget | None, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok, parent)
        box.setObjectName("fileErrorMessage")
        box.exec()

    def choose_template(self, parent: QWidget | None) -> str | None:
        """A template key, '' for a blank project, None when cancelled."""
        dialog = NewProjectDialog(parent)
        return dialog.chosen_key() if dialog.exec() else None


class FileManager(QObject):
    recent_changed = Signal(list)   # [path, ...]
    status = Signal(str)            # for the status bar

    def __init__(self, controller: DocumentController, settings: QSettings,
                 parent_widget: QWidget | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.parent_widget = parent_widget
        self.prompts = Prompts()

    # -- names ------------------------------------------------------------------
    @property
    def display_name(self) -> str:
        path = self.controller.path
        return Path(path).name if path else "Untitled"

    # -- the unsaved-changes prompt ------------------------------------------------
    def maybe_save(self) -> bool:
        """True when the current document may be closed (saved, discarded or clean)."""
        if not self.controller.is_dirty:
            return True
        answer = self.prompts.unsaved(self.parent_widget, self.display_name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    # -- new / open -----------------------------------------------------------------
    def new(self) -> bool:
        """File > New: the template gallery (or blank), after the unsaved prompt."""
        if not self.maybe_save():
            return False
        key = self.prompts.choose_template(self.parent_widget)
        if key is None:
            return False
        return self._new_from(key)

    def new_from_template(self, key: str = DEFAULT_TEMPLATE, *, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        return self._new_from(key)

    def _new_from(self, key: str) -> bool:
        if not key:
            self.controller.replace_document(ProjectDocument(), None)
            self.status.emit("New blank project")
            return True
        try:
            doc = template_document(key)
        except TemplatesUnavailable as exc:
            self.prompts.error(self.parent_widget, "Template unavailable", str(exc))
            return False
        self.controller.replace_document(doc, None)
        self.status.emit(f"New project from the {doc.name or key} template")
        return True

    def open(self) -> bool:
        if not self.maybe_save():
            return False
        path = self.prompts.open_path(self.parent_widget, self.last_dir())
        return bool(path) and self.open_path(path, ask=False)

    def open_path(self, path: str | Path, *, ask: bool = True) -> bool:
        """Open ``path``; a malformed file opens nothing and its problem is shown."""
        if ask and not self.maybe_save():
            return False
        path = Path(path)
        try:
            doc = load_project(path)
        except ProjectFormatError as exc:
            log.warning("cannot open %s: %s", path, exc)
            self.prompts.error(self.parent_widget, "Cannot open project", str(exc))
            return False
        self.controller.replace_document(doc, path.resolve())
        self.add_recent(path)
        self.status.emit(f"Opened {path.name}")
        return True

    def open_imported(self, result) -> bool:
        """An imported network (File › Import Model…, a pretrained card) becomes a project
        file at once: its weights can only live beside a saved project, where a fresh run
        starts from them (``initial_weights``). Cancelling the save opens nothing."""
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in result.document.name)[:80]
        suggested = str(Path(self.last_dir()) / f"{stem.strip('_') or 'imported'}{PROJECT_SUFFIX}")
        path = self.prompts.save_path(self.parent_widget, suggested)
        if not path:
            self.status.emit(f"{result.document.name} was not opened: it needs a project file "
                             "for its weights")
            return False
        try:
            from visionstudio.core.importers import save_import  # late: it loads torch

            project, _weights = save_import(result, path)
        except (OSError, ValueError) as exc:
            log.warning("cannot save the import to %s: %s", path, exc)
            self.prompts.error(self.parent_widget, "Cannot save the imported project",
                               f"{path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        return self.open_path(project, ask=False)

    # -- save -------------------------------------------------------------------------
    def save(self) -> bool:
        if self.controller.path is None:
            return self.save_as()
        return self.save_to(self.controller.path)

    def save_as(self) -> bool:
        current = self.controller.path
        suggested = str(current) if current else str(Path(self.last_dir()) / f"untitled{PROJECT_SUFFIX}")
        path = self.prompts.save_path(self.parent_widget, suggested)
        return bool(path) and self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        path = Path(path).resolve()
        try:
            save_project_as(self.controller.document, path)   # with its initial weights
        except (OSError, ValueError) as exc:
            log.warning("cannot save %s: %s", path, exc)
            self.prompts.error(self.parent_widget, "Cannot save project",
                               f"{path}: {getattr(exc, 'strerror', None) or exc}")
            return False
        changed = path != self.controller.path
        self.controller.path = path
        self.controller.document.folder = path.parent   # where initial_weights is looked for
        self.controller.undo_stack.setClean()
        if changed:
            self.controller.path_changed.emit(str(path))
        self.add_recent(path)
        self.status.emit(f"Saved {path.name}")
        return True

    # -- recent files ------------------------------------------------------------------
    def recent(self) -> list[str]:
        """The stored list, checked: at most MAX_RECENT distinct absolute paths as text.

        Only the strings are looked at (no filesystem access): a missing project is
        found, and dropped, when the user picks it."""
        return read_str_list(self.settings, RECENT_KEY, cap=MAX_RECENT, max_len=MAX_PATH_CHARS,
                             accept=os.path.isabs, what="absolute paths")

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent() if p != path]
        self._set_recent(items[:MAX_RECENT])
        self.settings.setValue(LAST_DIR_KEY, str(Path(path).parent))

    def remove_recent(self, path: str) -> None:
        self._set_recent([p for p in self.recent() if p != path])

    def clear_recent(self) -> None:
        self._set_recent([])

    def _set_recent(self, items: list[str]) -> None:
        self.settings.setValue(RECENT_KEY, items)
        self.recent_changed.emit(list(items))

    def last_dir(self) -> str:
        """Where Open and Save As start: the folder of the last project, else home."""
        return read_str(self.settings, LAST_DIR_KEY, "", max_len=MAX_PATH_CHARS) or str(Path.home())
