"""DocumentController: the one place UI intent becomes core commands.

Views call ``push`` with a core command and the window's Undo/Redo call ``undo`` and
``redo``; a refused edit (CommandError, or the training lock) leaves the document
untouched and is announced through ``refused`` for the status bar.
Shape analysis re-runs after every semantic change and is shared by all views.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from visionstudio.core.commands import Command, CommandError
from visionstudio.core.graph import GraphAnalysis, analyze
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.shell.undo import CoreUndoCommand


class DocumentController(QObject):
    analysis_changed = Signal(object)   # GraphAnalysis
    selection_changed = Signal(list)    # [node_id, ...]
    refused = Signal(str)               # why an edit was refused, for the status bar
    document_replaced = Signal(object)  # ProjectDocument (New/Open)
    path_changed = Signal(str)
    lock_changed = Signal(str)          # why edits are locked ("" when unlocked) — issue #5

    def __init__(self, document: ProjectDocument | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.document = document or ProjectDocument()
        self.path: Path | None = None
        self.analysis: GraphAnalysis = analyze(self.document.graph)
        self._selection: list[str] = []
        self._lock: tuple[str, Callable[[Command], bool] | None] | None = None  # (reason, allow)
        self.document.graph.changed.connect(self._on_graph_changed)

    @property
    def graph(self):
        return self.document.graph

    # -- edits ------------------------------------------------------------------
    def push(self, command: Command) -> bool:
        """Do ``command`` on the document and put it on the undo stack.

        False (and ``refused`` with the reason) when the training lock or the command
        itself refuses it; the document is then untouched.
        """
        if not self._allowed(command):
            return False
        try:
            command.do(self.document)
        except CommandError as exc:
            self.refused.emit(str(exc))
            return False
        self.undo_stack.push(CoreUndoCommand(command, self.document))
        return True

    def record(self, command: Command) -> bool:
        """Do ``command`` without an undo step: a fact the app records (a training run was
        added, or has ended), not the user's edit. The project shows unsaved work."""
        if not self._allowed(command):
            return False
        try:
            command.do(self.document)
        except CommandError as exc:
            self.refused.emit(str(exc))
            return False
        self.undo_stack.resetClean()   # never clean again until saved: the title shows it
        return True

    def undo(self) -> bool:
        """Undo the last step, unless the training lock refuses it (then ``refused`` says why).

        The window's Undo action and Ctrl+Z come here, not to the QUndoStack, so an
        undo cannot change a model that is training.
        """
        index = self.undo_stack.index()
        if index == 0 or not self._allowed(self._step(index - 1)):
            return False
        self.undo_stack.undo()
        return True

    def redo(self) -> bool:
        """Redo the step last undone, under the same lock as ``push`` and ``undo``."""
        index = self.undo_stack.index()
        if index >= self.undo_stack.count() or not self._allowed(self._step(index)):
            return False
        self.undo_stack.redo()
        return True

    def _step(self, index: int) -> Command:
        return self.undo_stack.command(index).command

    def _allowed(self, command: Command) -> bool:
        """The one check of the training lock, for push, undo and redo."""
        if self._lock is None:
            return True
        reason, allow = self._lock
        if allow is not None and allow(command):
            return True
        self.refused.emit(reason)
        return False

    # -- lock while training (issue #5; owned by visionstudio.ui.training) ----------
    # While a run trains, edits that would change the model are refused with the
    # reason; ``allow(command)`` lets some through (layout moves, pause-time optimizer
    # settings), whether the command is being done, undone or redone. Views may listen
    # to ``lock_changed`` to show a banner.
    def lock(self, reason: str, allow: Callable[[Command], bool] | None = None) -> None:
        self._lock = (reason, allow)
        self.lock_changed.emit(reason)

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock = None
            self.lock_changed.emit("")

    @property
    def locked_reason(self) -> str | None:
        return self._lock[0] if self._lock is not None else None

    def _on_graph_changed(self) -> None:
        self.analysis = analyze(self.document.graph)
        self.analysis_changed.emit(self.analysis)
        alive = [nid for nid in self._selection if nid in self.document.graph.nodes]
        if alive != self._selection:
            self.set_selection(alive)

    # -- selection --------------------------------------------------------------
    @property
    def selection(self) -> list[str]:
        return list(self._selection)

    def set_selection(self, node_ids: list[str]) -> None:
        node_ids = [n for n in node_ids if n in self.document.graph.nodes]
        if node_ids != self._selection:
            self._selection = node_ids
            self.selection_changed.emit(list(node_ids))

    # -- documents --------------------------------------------------------------
    def replace_document(self, document: ProjectDocument, path: Path | None = None) -> None:
        self.document.graph.changed.disconnect(self._on_graph_changed)
        self.undo_stack.clear()
        self.document = document
        self.document.graph.changed.connect(self._on_graph_changed)
        self.path = path
        self._selection = []
        self.analysis = analyze(document.graph)
        self.document_replaced.emit(document)
        self.analysis_changed.emit(self.analysis)
        self.selection_changed.emit([])
        self.undo_stack.setClean()
        self.path_changed.emit(str(path) if path else "")

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()
