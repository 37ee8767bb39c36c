"""Every user edit is a command on the ProjectDocument: ``do`` and ``undo`` touch only the core.

One base for graph, settings and run-list edits means one undo stack, one lock check
and one way to group steps (:class:`Macro`). Commands validate in ``do`` and raise
:class:`CommandError` with a sentence for the status bar, leaving the document untouched.
The UI wraps each command in a QUndoCommand; headless code (tests, scripts) uses
:class:`UndoHistory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from visionstudio.core.events import Event

if TYPE_CHECKING:
    from visionstudio.core.project.document import ProjectDocument


class CommandError(ValueError):
    """A refused edit; the message says why in the user's words."""


class Command:
    text = ""
    # Commands with the same non-None merge_key that follow each other become one
    # undo step (a spin-box drag, typing into a field).
    merge_key: Any = None

    def do(self, document: ProjectDocument) -> None:
        raise NotImplementedError

    def undo(self, document: ProjectDocument) -> None:
        raise NotImplementedError

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (already done) into self; return True when merged."""
        return False


class Macro(Command):
    """Several commands as one undo step; if one fails, those done are rolled back.

    The document announces once, after the last step (``ProjectDocument.batch``): the
    graph's ``changed`` once, each changed settings section once, so a paste of 2,000
    layers costs one re-analysis, not 2,000.
    """

    def __init__(self, text: str, commands: Sequence[Command]) -> None:
        self.text = text
        self.commands = list(commands)

    def do(self, document: ProjectDocument) -> None:
        done: list[Command] = []
        with document.batch():
            try:
                for cmd in self.commands:
                    cmd.do(document)
                    done.append(cmd)
            except Exception:
                for cmd in reversed(done):
                    cmd.undo(document)
                raise

    def undo(self, document: ProjectDocument) -> None:
        with document.batch():
            for cmd in reversed(self.commands):
                cmd.undo(document)


class UndoHistory:
    """Headless undo stack on a document, with merge semantics like QUndoStack's."""

    def __init__(self, document: ProjectDocument) -> None:
        self.document = document
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean_index: int | None = 0
        self.changed = Event("history_changed")

    def push(self, cmd: Command) -> Command:
        cmd.do(self.document)  # raises CommandError without side effects
        self._undone.clear()
        if self._clean_index is not None and self._clean_index > len(self._done):
            self._clean_index = None
        last = self._done[-1] if self._done else None
        if (last is not None and cmd.merge_key is not None and last.merge_key == cmd.merge_key
                and self._clean_index != len(self._done) and last.merge(cmd)):
            pass
        else:
            self._done.append(cmd)
        self.changed.emit()
        return cmd

    def undo(self) -> bool:
        if not self._done:
            return False
        cmd = self._done.pop()
        cmd.undo(self.document)
        self._undone.append(cmd)
        self.changed.emit()
        return True

    def redo(self) -> bool:
        if not self._undone:
            return False
        cmd = self._undone.pop()
        cmd.do(self.document)
        self._done.append(cmd)
        self.changed.emit()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def texts(self) -> list[str]:
        return [c.text for c in self._done]

    def set_clean(self) -> None:
        self._clean_index = len(self._done)

    @property
    def is_clean(self) -> bool:
        return self._clean_index == len(self._done)
