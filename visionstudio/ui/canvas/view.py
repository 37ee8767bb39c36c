"""GraphView: the interactive canvas (zoom, pan, connect, drop, clipboard, layout).

Every gesture ends in one core command pushed through the controller; the view
itself only tracks the gesture in progress (a rubber connection line, a pan).
Run ``python -m visionstudio.ui.canvas.view`` to try it alone on a demo network.

The gestures live in mixins, one responsibility each: zoom.py (zoom, fit, wheel,
pinch), wiring.py (port-drag connections), drop.py (layers dropped from the palette),
clipboard.py (copy, cut, paste, duplicate); find.py (the find bar, arrow-key steps
along edges) and minimap.py (the overview) are child widgets and helpers. This module
routes mouse and keys, holds the gesture state and the selection/layout actions.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView

from visionstudio.core.commands import Macro
from visionstudio.core.graph import Disconnect, MoveNodes, RemoveNodes
from visionstudio.ui.canvas.block_actions import BlockActionsMixin
from visionstudio.ui.canvas.clipboard import FRAGMENT_MIME, ClipboardMixin
from visionstudio.ui.canvas.drop import LAYER_MIME, LayerDropMixin
from visionstudio.ui.canvas.edge_item import EdgeItem
from visionstudio.ui.canvas.find import DOWN, LEFT, RIGHT, UP, FindBar, step_along_edges
from visionstudio.ui.canvas.items import PortItem
from visionstudio.ui.canvas.layout import layered_positions
from visionstudio.ui.canvas.minimap import Minimap
from visionstudio.ui.canvas.scene import GraphScene
from visionstudio.ui.canvas.style import CanvasStyle
from visionstudio.ui.canvas.wiring import WiringMixin
from visionstudio.ui.canvas.zoom import MAX_ZOOM, MIN_ZOOM, ZoomMixin
from visionstudio.ui.shell.push import push_or_reason

__all__ = ["FRAGMENT_MIME", "LAYER_MIME", "MAX_ZOOM", "MIN_ZOOM", "GraphView"]

_ARROWS = {Qt.Key.Key_Up: UP, Qt.Key.Key_Down: DOWN, Qt.Key.Key_Left: LEFT, Qt.Key.Key_Right: RIGHT}
FOUND_ZOOM = 0.75  # a found layer is shown at least this large: its text stays readable


class GraphView(ZoomMixin, WiringMixin, LayerDropMixin, ClipboardMixin, BlockActionsMixin, QGraphicsView):
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
        self._came_from: dict[str, str] = {}  # arrow steps: where each step started
        self.find_bar = FindBar(self)
        self.minimap = Minimap(self)
        self._init_blocks()  # block_actions.py: the breadcrumb bar, a view position per level

    # -- mouse: pan, connect ---------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        pos = event.position().toPoint()
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton and not self.items(pos):
            event.accept()  # empty canvas keeps the selection: its menu can group it into a block
            return
        if event.button() == Qt.MouseButton.LeftButton:
            port = self._port_at(pos)
            if port is not None:
                self._start_wire(port)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
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

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        panning = (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton)
        if self._pan_from is not None and event.button() in panning:
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

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.open_block_at(event.position().toPoint()):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    # -- keyboard ------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
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
        if key == Qt.Key.Key_Escape and self.leave_block():
            event.accept()
            return
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        if key in _ARROWS and plain and self.step_selection(_ARROWS[key]):
            event.accept()
            return
        super().keyPressEvent(event)  # arrows with nothing selected scroll, as before

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- finding and stepping ------------------------------------------------------------
    def show_find(self) -> None:
        """Edit › Find Layer… (Ctrl+F): the find bar, its text selected for retyping."""
        self.find_bar.open()

    def go_to_node(self, node_id: str) -> None:
        """Select a layer and centre the canvas on it, zooming in to readable size."""
        item = self.graph_scene.node_item(node_id)
        if item is None:
            return
        self.controller.set_selection([node_id])
        if self.zoom < FOUND_ZOOM:
            self.set_zoom(FOUND_ZOOM)
        self.centerOn(item.scenePos())  # the layer's centre (its bounding box has a shadow)

    def step_selection(self, direction: str) -> bool:
        """Move the selection one connection along (the arrow keys); False when no layer
        is selected, so the keys keep scrolling the canvas then."""
        selection = self.controller.selection
        if not selection:
            return False
        current = selection[-1]
        target = step_along_edges(self.controller.graph, current, direction, self._came_from.get(current))
        if target is None:
            return True
        self._came_from[target] = current
        self.controller.set_selection([target])
        item = self.graph_scene.node_item(target)
        if item is not None:
            self.ensureVisible(item, 40, 40)
        return True

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

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange,
                            QEvent.Type.StyleChange):
            self.graph_scene.style = CanvasStyle.from_palette(self.palette())
            self.graph_scene.update()
        super().changeEvent(event)

    # -- overlays: the find bar and the minimap follow the view ---------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.place_breadcrumb()
        if self.find_bar.isVisible():
            self.find_bar.place()
        self.minimap.view_changed()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt's name
        super().scrollContentsBy(dx, dy)
        self.minimap.view_changed()

    def drawForeground(self, painter, rect) -> None:  # noqa: N802 - Qt's name
        self.minimap.view_changed()  # every zoom repaints the viewport, so it ends up here
        if not self.graph_scene.node_items():
            painter.save()
            painter.resetTransform()
            painter.setPen(self.graph_scene.style.muted)
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Drag layers here from the palette")
            painter.restore()
