"""Connecting layers by dragging between ports on GraphView.

A press on a port starts a rubber line; while it is dragged the port it would attach
to (a node's body counts as its free port) is marked ok/bad by asking the graph; the
release pushes one Connect command or says why it cannot. The view's mouse handlers
route the gesture here; Escape calls ``cancel_wire``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from visionstudio.core.graph import Connect
from visionstudio.ui.canvas.items import NodeItem, PortItem
from visionstudio.ui.canvas.routing import curve
from visionstudio.ui.shell.push import push_or_reason


class WiringMixin:
    """Port-drag connections for GraphView (state: _wire, _wire_from, _wire_target)."""

    _wire: QGraphicsPathItem | None      # rubber line while connecting
    _wire_from: PortItem | None
    _wire_target: PortItem | None

    def _port_at(self, view_pos) -> PortItem | None:
        for item in self.items(view_pos):
            if isinstance(item, PortItem) and item.isVisible():
                return item
        return None

    def _node_at(self, view_pos) -> NodeItem | None:
        for item in self.items(view_pos):
            if isinstance(item, NodeItem):
                return item
            if isinstance(item, PortItem):
                return item.node
        return None

    def _start_wire(self, port: PortItem) -> None:
        self._wire_from = port
        self._wire = QGraphicsPathItem()
        pen = QPen(self.graph_scene.style.selection, 2, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap)
        self._wire.setPen(pen)
        self._wire.setZValue(5)
        self.graph_scene.addItem(self._wire)
        self._drag_wire(self.mapFromScene(port.scenePos()))

    def _wire_ends(self, target: NodeItem) -> tuple[str, str]:
        assert self._wire_from is not None
        if self._wire_from.is_output:
            return self._wire_from.node_id, target.node_id
        return target.node_id, self._wire_from.node_id

    def _wire_target_at(self, view_pos) -> PortItem | None:
        """The port a connection dragged to ``view_pos`` would attach to (body counts)."""
        assert self._wire_from is not None
        port = self._port_at(view_pos)
        if port is None:
            node = self._node_at(view_pos)
            if node is None:
                return None
            port = node.input_port if self._wire_from.is_output else node.output_port
        if port.is_output == self._wire_from.is_output or port.node is self._wire_from.node:
            return None
        return port

    def _drag_wire(self, view_pos) -> None:
        assert self._wire is not None and self._wire_from is not None
        scene_pos = self.mapToScene(view_pos)
        target = self._wire_target_at(view_pos)
        if target is not self._wire_target:
            if self._wire_target is not None:
                self._wire_target.set_state(None)
            self._wire_target = target
            if target is not None:
                src, dst = self._wire_ends(target.node)
                ok = self.controller.graph.connection_problem(src, dst) is None
                target.set_state("ok" if ok else "bad")
        end = target.scenePos() if target is not None else scene_pos
        start = self._wire_from.scenePos()
        path = curve(start, end) if self._wire_from.is_output else curve(end, start)
        self._wire.setPath(path if start != end else QPainterPath(start))

    def _finish_wire(self, view_pos) -> None:
        target = self._wire_target_at(view_pos)
        ends = self._wire_ends(target.node) if target is not None else None
        # A block's own input port numbers the connection; a body or a layer's port takes the next free one.
        into = self._wire_from if self._wire_from is not None and not self._wire_from.is_output else (
            target if target is not None and self._port_at(view_pos) is target else None)
        self.cancel_wire()
        if ends is None:
            return
        src, dst = ends
        reason = push_or_reason(self.controller, Connect(src, dst, into.index if into is not None else None))
        if reason:
            self.status_message.emit(f"Cannot connect: {reason}")

    def cancel_wire(self) -> None:
        if self._wire_target is not None:
            self._wire_target.set_state(None)
        if self._wire is not None:
            self.graph_scene.removeItem(self._wire)
        self._wire = None
        self._wire_from = None
        self._wire_target = None
