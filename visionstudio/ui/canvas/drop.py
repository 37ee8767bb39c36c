"""Dropping a layer from the palette onto GraphView.

The palette drags a layer key under LAYER_MIME. Dropped on empty canvas it adds the
layer there; dropped on a connection (highlighted while dragging) it is inserted into
it, and the layers below are moved down to make room, all in one undoable command.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt

from visionstudio.core.commands import CommandError
from visionstudio.core.graph import AddNode, Macro, MoveNodes, insert_on_edge
from visionstudio.core.layers import LAYERS
from visionstudio.ui.canvas.items import EdgeItem
from visionstudio.ui.canvas.style import ROW_SPACING
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

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if self._layer_key(event.mimeData()) is not None:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        key = self._layer_key(event.mimeData())
        if key is None:
            event.ignore()
            return
        edge = None
        if not LAYERS.get(key).is_source:
            edge = self.graph_scene.edge_near(self.mapToScene(event.position().toPoint()))
        self._set_drop_edge(edge)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._set_drop_edge(None)
        event.accept()

    def _set_drop_edge(self, edge: EdgeItem | None) -> None:
        if edge is not self._drop_edge:
            if self._drop_edge is not None and self._drop_edge.scene() is not None:
                self._drop_edge.set_drop_target(False)
            self._drop_edge = edge
            if edge is not None:
                edge.set_drop_target(True)

    def dropEvent(self, event) -> None:  # noqa: N802
        key = self._layer_key(event.mimeData())
        self._set_drop_edge(None)
        if key is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.add_layer(key, self.mapToScene(event.position().toPoint()))

    def add_layer(self, kind: str, scene_pos: QPointF) -> str | None:
        """Add ``kind`` at ``scene_pos``; onto an edge it is inserted into the connection."""
        pos = (round(scene_pos.x(), 1), round(scene_pos.y(), 1))
        spec = LAYERS.get(kind)
        edge_item = None if spec.is_source else self.graph_scene.edge_near(scene_pos)
        graph = self.controller.graph
        if edge_item is None:
            command = AddNode(kind, pos)
            new_id = command.node_id
        else:
            try:
                insert = insert_on_edge(graph, kind, edge_item.edge, pos)
            except CommandError as exc:
                self.status_message.emit(str(exc))
                return None
            new_id = insert.commands[0].node_id
            moves = self._room_below(edge_item.edge.dst, pos[1])
            command = Macro(insert.text, [insert, MoveNodes(moves)]) if moves else insert
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
            return None
        self.controller.set_selection([new_id])
        return new_id

    def _room_below(self, start: str, y: float) -> dict[str, tuple[float, float]]:
        """Moves that shift ``start`` and everything after it down to clear row ``y``."""
        graph = self.controller.graph
        sy = graph.positions.get(start, (0.0, 0.0))[1]
        need = y + ROW_SPACING - sy
        if need <= 0:
            return {}
        down, stack = set(), [start]
        while stack:
            n = stack.pop()
            if n in down:
                continue
            down.add(n)
            stack.extend(e.dst for e in graph.outputs_of(n))  # the index: not a scan per layer
        return {n: (graph.positions.get(n, (0.0, 0.0))[0], graph.positions.get(n, (0.0, 0.0))[1] + need)
                for n in down}
