"""DocumentController: the one place UI intent becomes core commands.

Views call ``push`` with a core command; a refused edit (CommandError) leaves the
document untouched and is announced through ``refused`` for the status bar.
Shape analysis re-runs after every semantic change and is shared by all views.
"""

from __future__ import annotations

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
        self._lock: tuple[str, object] | None = None  # (reason, allow(command, target)) — issue #5
        self.document.graph.changed.connect(self._on_graph_changed)

    @property
    def graph(self):
        return self.document.graph

    # -- edits ------------------------------------------------------------------
    def push(self, command: Command, target: object | None = None) -> bool:
        """Do ``command`` and put it on the undo stack; False (and ``refused``) if refused."""
        target = self.document.graph if target is None else target
        if self._lock is not None and not self._lock[1](command, target):
            self.refused.emit(self._lock[0])
            return False
        try:
            command.do(target)
        except CommandError as exc:
            self.refused.emit(str(exc))
            return False
        self.undo_stack.push(CoreUndoCommand(command, target))
        return True

    # -- lock while training (issue #5; owned by visionstudio.ui.training) ----------
    # While a run trains, edits that would change the model are refused with the
    # reason; ``allow(command, target)`` lets some through (layout moves, pause-time
    # optimizer settings). Views may listen to ``lock_changed`` to show a banner.
    def lock(self, reason: str, allow=None) -> None:
        self._lock = (reason, allow or (lambda command, target: False))
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
