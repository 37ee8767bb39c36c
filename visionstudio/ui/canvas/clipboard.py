"""Copy, cut, paste and duplicate of layers on GraphView.

The clipboard holds a graph fragment as JSON under FRAGMENT_MIME (plus a text list of
the layers for other applications). Pasting the same fragment again steps the offset
(the core keeps every copy clear of the layers already there); each paste is one
undoable command and the pasted layers become the selection.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from visionstudio.core.graph.editing import added_ids, fragment_of, paste_nodes
from visionstudio.core.layers import LAYERS
from visionstudio.ui.shell.push import push_or_reason

FRAGMENT_MIME = "application/x-visionstudio-fragment"


class ClipboardMixin:
    """Clipboard actions for GraphView (state: _paste_count, _last_clip)."""

    _paste_count: int
    _last_clip: str

    def copy_selection(self) -> bool:
        ids = self.controller.selection
        if not ids:
            self.status_message.emit("Select layers to copy")
            return False
        fragment = fragment_of(self.controller.graph, ids)
        payload = json.dumps(fragment)
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME, payload.encode("utf-8"))
        names = [n["name"] + " (" + LAYERS.get(n["kind"]).title + ")" for n in fragment["nodes"]]
        mime.setText("\n".join(names))
        QGuiApplication.clipboard().setMimeData(mime)
        self._last_clip = payload
        self._paste_count = 0
        return True

    def cut_selection(self) -> bool:
        if not self.copy_selection():
            return False
        return self.delete_selection()

    def paste(self) -> list[str]:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(FRAGMENT_MIME):
            self.status_message.emit("The clipboard holds no layers to paste")
            return []
        payload = bytes(mime.data(FRAGMENT_MIME)).decode("utf-8", "replace")
        if payload != self._last_clip:
            self._last_clip, self._paste_count = payload, 0
        self._paste_count += 1
        try:
            fragment = json.loads(payload)
        except ValueError:
            self.status_message.emit("The clipboard's layers could not be read")
            return []
        return self._paste_fragment(fragment, self._paste_count)

    def duplicate_selection(self) -> list[str]:
        ids = self.controller.selection
        if not ids:
            self.status_message.emit("Select layers to duplicate")
            return []
        return self._paste_fragment(fragment_of(self.controller.graph, ids), 1)

    def _paste_fragment(self, fragment, repeat: int) -> list[str]:
        """Push the paste of ``fragment``; where it lands (clear of every layer, a step
        further each ``repeat``) is the core's rule."""
        try:
            command = paste_nodes(self.controller.graph, fragment, repeat=repeat)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.status_message.emit(f"The clipboard's layers could not be pasted: {exc}")
            return []
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
            return []
        ids = added_ids(command)
        self.controller.set_selection(ids)
        return ids
