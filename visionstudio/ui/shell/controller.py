"""DocumentController: the one place UI intent becomes core commands.

Views call ``push`` with a core command and the window's Undo/Redo call ``undo`` and
``redo``; a refused edit (CommandError, or the training lock) leaves the document
untouched and is announced through ``refused`` for the status bar.
Shape analysis re-runs after every semantic change and is shared by all views.

The controller also holds the editing scope (scope.py): the network, or a block
definition opened on the canvas. ``graph``, ``analysis``, ``selection`` and ``push``
follow it (an edit inside is wrapped in InDefinition, one step on the one undo stack);
``document.graph`` and ``network_analysis`` stay the whole network for training,
export and the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from visionstudio.core.commands import Command, CommandError
from visionstudio.core.graph import GraphAnalysis, GraphModel, analyze
from visionstudio.core.project import ProjectDocument
from visionstudio.ui.shell.scope import (
    ScopeLevel,
    edits_graph,
    in_definition,
    innermost,
    scope_analysis,
    scope_graph,
    valid_prefix,
)
from visionstudio.ui.shell.undo import CoreUndoCommand


class DocumentController(QObject):
    analysis_changed = Signal(object)   # GraphAnalysis
    selection_changed = Signal(list)    # [node_id, ...]
    refused = Signal(str)               # why an edit was refused, for the status bar
    document_replaced = Signal(object)  # ProjectDocument (New/Open)
    path_changed = Signal(str)
    lock_changed = Signal(str)          # why edits are locked ("" when unlocked) — issue #5
    scope_changed = Signal(list)        # [ScopeLevel, ...]: the definition opened on the canvas

    def __init__(self, document: ProjectDocument | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.document = document or ProjectDocument()
        self.path: Path | None = None
        self.network_analysis: GraphAnalysis = analyze(self.document.graph)
        self.analysis: GraphAnalysis = self.network_analysis  # of the scope's graph
        self._scope: tuple[ScopeLevel, ...] = ()
        self._selection: list[str] = []
        self._lock: tuple[str, Callable[[Command], bool] | None] | None = None  # (reason, allow)
        self.document.graph.changed.connect(self._on_graph_changed)

    @property
    def graph(self) -> GraphModel:
        """The graph being edited: the network, or the definition opened on the canvas."""
        return scope_graph(self.document.graph, self._scope)

    # -- edits ------------------------------------------------------------------
    def push(self, command: Command) -> bool:
        """Do ``command`` on the document and put it on the undo stack.

        False (and ``refused`` with the reason) when the training lock or the command
        itself refuses it; the document is then untouched.
        """
        if self._scope and edits_graph(command):
            command = in_definition(self._scope[-1].key, command)
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
        if allow is not None and allow(innermost(command)):
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
        self.network_analysis = analyze(self.document.graph)
        scope = valid_prefix(self.document.graph, self._scope)
        if scope != self._scope:   # an undo removed the definition being edited
            self._enter(scope, [])
            return
        self.analysis = scope_analysis(self.document.graph, self.network_analysis, self._scope)
        self.analysis_changed.emit(self.analysis)
        alive = [nid for nid in self._selection if nid in self.graph.nodes]
        if alive != self._selection:
            self.set_selection(alive)

    # -- scope: the definition opened on the canvas ---------------------------------
    @property
    def scope(self) -> tuple[ScopeLevel, ...]:
        return self._scope

    def open_definition(self, key: str, instance: str | None = None) -> bool:
        """Edit definition ``key`` on the canvas, one level deeper; ``instance`` (a node
        of the current graph) gives the shapes shown inside. False for an unknown key."""
        if key not in self.document.graph.blocks:
            return False
        if instance is not None and instance not in self.graph.nodes:
            instance = None
        self._enter(self._scope + (ScopeLevel(key, instance),), [])
        return True

    def leave_definition(self, depth: int | None = None) -> bool:
        """Back to the level ``depth`` deep (0: the network; None: one level up); the
        instance the canvas came out of is selected there."""
        if not self._scope:
            return False
        depth = len(self._scope) - 1 if depth is None else max(0, min(depth, len(self._scope)))
        if depth == len(self._scope):
            return False
        came_from = self._scope[depth].instance
        self._enter(self._scope[:depth], [came_from] if came_from else [])
        return True

    def _enter(self, scope: tuple[ScopeLevel, ...], selection: list[str]) -> None:
        self._scope = scope
        self.analysis = scope_analysis(self.document.graph, self.network_analysis, scope)
        self._selection = [nid for nid in selection if nid in self.graph.nodes]
        self.scope_changed.emit(list(scope))
        self.analysis_changed.emit(self.analysis)
        self.selection_changed.emit(list(self._selection))

    # -- selection --------------------------------------------------------------
    @property
    def selection(self) -> list[str]:
        return list(self._selection)

    def set_selection(self, node_ids: list[str]) -> None:
        node_ids = [n for n in node_ids if n in self.graph.nodes]
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
        left = bool(self._scope)
        self._scope = ()
        self.network_analysis = self.analysis = analyze(document.graph)
        self.document_replaced.emit(document)
        if left:
            self.scope_changed.emit([])
        self.analysis_changed.emit(self.analysis)
        self.selection_changed.emit([])
        self.undo_stack.setClean()
        self.path_changed.emit(str(path) if path else "")

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()
