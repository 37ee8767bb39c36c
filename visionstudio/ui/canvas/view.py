"""GraphView: the interactive canvas (zoom, pan, connect, drop, clipboard, layout).

Every gesture ends in one core command pushed through the controller; the view
itself only tracks the gesture in progress (a rubber connection line, a pan).
Run ``python -m visionstudio.ui.canvas.view`` to try it alone on a demo network.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QEvent, QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView, QPinchGesture

from ...core.graph import (
    AddNode, CommandError, Connect, Disconnect, Macro, MoveNodes, RemoveNodes, fragment_of,
    insert_on_edge, paste_nodes,
)
from ...core.layers import LAYERS
from ..push import push_or_reason
from .items import EdgeItem, NodeItem, PortItem, curve
from .layout import layered_positions
from .scene import GraphScene
from .style import ROW_SPACING, CanvasStyle

LAYER_MIME = "application/x-visionstudio-layer"
FRAGMENT_MIME = "application/x-visionstudio-fragment"

MIN_ZOOM, MAX_ZOOM = 0.15, 3.0


class GraphView(QGraphicsView):
    status_message = Signal(str)

    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("modelCanvas")
        self.setAccessibleName("Model canvas")
        self.controller = controller
        self.graph_scene = GraphScene(controller, self)
        self.setScene(self.graph_scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().grabGesture(Qt.GestureType.PinchGesture)
        self._wire: QGraphicsPathItem | None = None   # rubber line while connecting
        self._wire_from: PortItem | None = None
        self._wire_target: PortItem | None = None
        self._pan_from: QPointF | None = None
        self._space_held = False
        self._drop_edge: EdgeItem | None = None
        self._paste_count = 0
        self._last_clip = ""

    # -- zoom ------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        """Absolute zoom (1.0 = 100 %), kept within limits, around ``anchor`` (viewport px)."""
        factor = max(MIN_ZOOM, min(MAX_ZOOM, factor))
        ratio = factor / self.zoom
        if abs(ratio - 1.0) < 1e-6:
            return
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(ratio, ratio)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
            return
        before = self.mapToScene(anchor.toPoint())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(ratio, ratio)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / 1.25)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def fit_to_view(self) -> None:
        items = self.graph_scene.node_items()
        if not items:
            self.resetTransform()
            self.centerOn(0, 0)
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        rect = rect.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 1.25:
            self.set_zoom(1.25)
        elif self.zoom < MIN_ZOOM:
            self.set_zoom(MIN_ZOOM)
        self.centerOn(rect.center())

    def wheelEvent(self, event) -> None:  # noqa: N802
        # Node-editor convention: a mouse wheel zooms around the cursor; a touchpad's
        # two-finger scroll (pixel deltas) pans, and Ctrl+scroll on it zooms.
        pixel = event.pixelDelta()
        touchpad = not pixel.isNull() and not (event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if touchpad:
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - pixel.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - pixel.y())
            event.accept()
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * (1.15 ** steps), event.position())
        event.accept()

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Gesture:
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                factor = pinch.scaleFactor()
                if factor > 0:
                    center = self.viewport().mapFromGlobal(pinch.centerPoint().toPoint())
                    self.set_zoom(self.zoom * factor, QPointF(center))
                event.accept()
                return True
        if (event.type() == QEvent.Type.NativeGesture
                and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture):
            # touchpad pinch on macOS / Wayland: value() is the relative scale change
            self.set_zoom(self.zoom * (1.0 + event.value()), event.position())
            event.accept()
            return True
        return super().viewportEvent(event)

    # -- mouse: pan, connect ---------------------------------------------------------
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

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            port = self._port_at(pos)
            if port is not None:
                self._start_wire(port)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        if self._wire is not None:
            self._drag_wire(event.position().toPoint())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space_held
                                      else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        if self._wire is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_wire(event.position().toPoint())
            event.accept()
            return
        super().mouseReleaseEvent(event)

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
        self.cancel_wire()
        if ends is None:
            return
        src, dst = ends
        reason = push_or_reason(self.controller, Connect(src, dst))
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

    # -- keyboard ------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selection()
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self._wire is not None:
            self.cancel_wire()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- drop a layer from the palette --------------------------------------------------
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
            stack.extend(e.dst for e in graph.edges if e.src == n)
        return {n: (graph.positions.get(n, (0.0, 0.0))[0], graph.positions.get(n, (0.0, 0.0))[1] + need)
                for n in down}

    # -- selection & editing actions ---------------------------------------------------
    def select_all(self) -> None:
        self.controller.set_selection(list(self.controller.graph.nodes))

    def delete_selection(self) -> bool:
        nodes = self.controller.selection
        edges = [i.edge for i in self.graph_scene.selectedItems()
                 if isinstance(i, EdgeItem) and i.edge.src not in nodes and i.edge.dst not in nodes]
        if not nodes and not edges:
            return False
        commands = [Disconnect(e) for e in edges]
        if nodes:
            commands.append(RemoveNodes(nodes))
        command = commands[0] if len(commands) == 1 else Macro(
            f"Delete {len(nodes)} layers and {len(edges)} connections", commands)
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
        return reason is None

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
        step = 40.0 * self._paste_count
        try:
            fragment = json.loads(payload)
        except ValueError:
            self.status_message.emit("The clipboard's layers could not be read")
            return []
        return self._paste_fragment(fragment, (step, step))

    def duplicate_selection(self) -> list[str]:
        ids = self.controller.selection
        if not ids:
            self.status_message.emit("Select layers to duplicate")
            return []
        return self._paste_fragment(fragment_of(self.controller.graph, ids), (40.0, 40.0))

    def _paste_fragment(self, fragment, offset) -> list[str]:
        try:
            command = paste_nodes(self.controller.graph, fragment, offset)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.status_message.emit(f"The clipboard's layers could not be pasted: {exc}")
            return []
        reason = push_or_reason(self.controller, command)
        if reason:
            self.status_message.emit(reason)
            return []
        ids = [c.node_id for c in command.commands if isinstance(c, AddNode)]
        self.controller.set_selection(ids)
        return ids

    def auto_layout(self) -> bool:
        graph = self.controller.graph
        targets = layered_positions(graph)
        moves = {n: p for n, p in targets.items()
                 if graph.positions.get(n) is None
                 or abs(graph.positions[n][0] - p[0]) > 0.01 or abs(graph.positions[n][1] - p[1]) > 0.01}
        if not moves:
            return False
        command = MoveNodes(moves)
        command.text = "Arrange layers"
        ok = self.controller.push(command)
        if ok:
            self.fit_to_view()
        return ok

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.StyleChange):
            self.graph_scene.style = CanvasStyle.from_palette(self.palette())
            self.graph_scene.update()
        super().changeEvent(event)

    def drawForeground(self, painter, rect) -> None:  # noqa: N802
        if not self.graph_scene.node_items():
            painter.save()
            painter.resetTransform()
            painter.setPen(self.graph_scene.style.muted)
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Drag layers here from the palette")
            painter.restore()


def install_demo_actions(view: GraphView) -> None:
    """Standard shortcuts for running the canvas alone (the main window has its own)."""
    undo = view.controller.undo_stack
    for text, keys, slot in [
        ("Undo", QKeySequence.StandardKey.Undo, undo.undo),
        ("Redo", QKeySequence.StandardKey.Redo, undo.redo),
        ("Copy", QKeySequence.StandardKey.Copy, view.copy_selection),
        ("Cut", QKeySequence.StandardKey.Cut, view.cut_selection),
        ("Paste", QKeySequence.StandardKey.Paste, view.paste),
        ("Select all", QKeySequence.StandardKey.SelectAll, view.select_all),
        ("Duplicate", QKeySequence("Ctrl+D"), view.duplicate_selection),
        ("Zoom in", QKeySequence.StandardKey.ZoomIn, view.zoom_in),
        ("Zoom out", QKeySequence.StandardKey.ZoomOut, view.zoom_out),
        ("Fit", QKeySequence("F"), view.fit_to_view),
        ("Arrange", QKeySequence("Ctrl+L"), view.auto_layout),
    ]:
        action = QAction(text, view)
        action.setShortcut(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        view.addAction(action)


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from ..controller import DocumentController
    from .demo import demo_document

    app = QApplication.instance() or QApplication(argv or sys.argv)
    controller = DocumentController(demo_document())
    view = GraphView(controller)
    install_demo_actions(view)
    view.status_message.connect(lambda text: view.window().setWindowTitle(f"Canvas — {text}"))
    view.setWindowTitle("VisionStudio canvas")
    view.resize(1100, 800)
    view.show()
    view.fit_to_view()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
