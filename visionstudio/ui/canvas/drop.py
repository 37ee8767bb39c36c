"""Dropping a layer from the palette onto GraphView (and a block: block_drop.py).

The palette drags a layer key under LAYER_MIME. Dropped on empty canvas it adds the
layer there; dropped on a connection (highlighted while dragging) it is inserted into
it, and the layers below are moved down to make room, all in one undoable command.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt

from visionstudio.core.commands import CommandError
from visionstudio.core.graph.editing import add_layer, added_ids, insert_on_edge
from visionstudio.core.layers import LAYERS
from visionstudio.ui.canvas import block_drop
from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.shell.push import push_or_reason

LAYER_MIME = "application/x-visionstudio-layer"


class LayerDropMixin:
    """Palette drops for GraphView (state: _drop_edge, the connection under the drag)."""

    _drop_edge: EdgeItem | None

    def _layer_key(self, mime: QMimeData) -> str | None:
        if not mime.hasFormat(LAYER_MIME):
            return None
        key = bytes(mime.data(LAYER_MIME)).decode("utf-8", "replace").strip()
        return key if key in LAYERS else None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        mime = event.mimeData()
        if self._layer_key(mime) is not None or block_drop.accepts(mime):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        key = self._layer_key(event.mimeData())
        if key is None:
            if block_drop.accepts(event.mimeData()):   # a block: placed, not inserted
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
            else:
                event.ignore()
            return
        edge = None
        if not LAYERS.get(key).is_source:
            edge = self.graph_scene.edge_near(self.mapToScene(event.position().toPoint()))
        self._set_drop_edge(edge)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._set_drop_edge(None)
        event.accept()

    def _set_drop_edge(self, edge: EdgeItem | None) -> None:
        if edge is not self._drop_edge:
            if self._drop_edge is not None and self._drop_edge.scene() is not None:
                self._drop_edge.set_drop_target(False)
            self._drop_edge = edge
            if edge is not None:
                edge.set_drop_target(True)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        key = self._layer_key(event.mimeData())
        self._set_drop_edge(None)
        if key is None and block_drop.accepts(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            block_drop.drop_blocks(self, event.mimeData(), self.mapToScene(event.position().toPoint()))
            return
        if key is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.add_layer(key, self.mapToScene(event.position().toPoint()))

    def add_layer(self, kind: str, scene_pos: QPointF) -> str | None:
        """Add ``kind`` at ``scene_pos``; onto an edge it is inserted into the connection
        (where it goes and what moves aside is the core's rule)."""
        pos = (round(scene_pos.x(), 1), round(scene_pos.y(), 1))
        edge_item = None if LAYERS.get(kind).is_source else self.graph_scene.edge_near(scene_pos)
        graph = self.controller.graph
        try:
            command = (add_layer(graph, kind, pos) if edge_item is None
                       else insert_on_edge(graph, kind, edge_item.edge, pos))
        except CommandError as exc:
            self.status_message.emit(str(exc))
            return None
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
            return None
        new_id = added_ids(command)[0]
        self.controller.set_selection([new_id])
        return new_id
