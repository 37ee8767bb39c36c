"""QUndoStack integration: each core command is wrapped in a QUndoCommand.

The wrapper only forwards ``redo``/``undo`` to the core command's ``do``/``undo`` on the
document and maps merge keys to QUndoCommand ids, so undo works the same with or
without Qt.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from visionstudio.core.commands import Command
from visionstudio.core.project import ProjectDocument

_merge_ids: dict[Any, int] = {}


def _id_for(key: Any) -> int:
    if key is None:
        return -1
    return _merge_ids.setdefault(key, len(_merge_ids) + 1)


class CoreUndoCommand(QUndoCommand):
    """Runs a core command on the document the controller held when it was pushed.

    The stack is cleared when the controller replaces its document, so every step on
    it belongs to the same document.
    """

    def __init__(self, command: Command, document: ProjectDocument) -> None:
        super().__init__(command.text)
        self.command = command
        self.document = document
        self._first = True

    def redo(self) -> None:
        if self._first:  # already done by DocumentController.push (to catch refusals)
            self._first = False
            return
        self.command.do(self.document)
        self.setText(self.command.text)

    def undo(self) -> None:
        self.command.undo(self.document)

    def id(self) -> int:
        return _id_for(self.command.merge_key)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, CoreUndoCommand) or not self.command.merge(other.command):
            return False
        self.setText(self.command.text)
        return True
