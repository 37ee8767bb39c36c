"""Minimap: an overview of the whole network in the canvas's bottom-right corner.

Shown only while the network does not fit in the view. The layers are drawn as small
rectangles from the model's positions (not by rendering the scene, which at 10,000
layers would cost more than the canvas itself) into a cached pixmap, rebuilt once per
batch of model changes; each paint adds only the selection and the rectangle of what
the canvas shows. Clicking or dragging in it centres the canvas there.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from visionstudio.core.graph import GraphModel
from visionstudio.core.graph.editing import NODE_HEIGHT, NODE_WIDTH
from visionstudio.ui.canvas.layer_style import kind_color

MAX_SIDE = 200.0       # px, the longer side of the overview
MIN_SIDE = 48.0        # px, the shorter side of a very tall or very wide network
MARGIN = 10            # px from the canvas's corner
INSET = 4.0            # px between the frame and the drawing
PAD = 40.0             # scene units around the layers
EDGE_BUDGET = 5000     # above this many connections the overview shows layers only
SELECTION_BUDGET = 500


class Minimap(QWidget):
    """The overview widget of one GraphView; it follows the controller's document."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setObjectName("minimap")
        self.setAccessibleName("Overview of the network")
        self.setToolTip("Overview of the whole network: click or drag to move the view")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        # Opaque: a repaint of the overview must not make the canvas under it redraw its
        # scene (at 10,000 layers that costs more than the overview itself).
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._graph: GraphModel | None = None
        self._bounds = QRectF()        # the layers' scene rectangle, without padding
        self._pixmap: QPixmap | None = None
        self._stale = True             # the model changed since the pixmap was drawn
        self._shown_rect = QRectF()    # the canvas's visible scene rectangle last drawn
        self._timer = QTimer(self)     # coalesces model and view changes into one refresh
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        view.controller.document_replaced.connect(self._on_controller_document_replaced)
        view.controller.selection_changed.connect(self._on_controller_selection_changed)
        view.controller.scope_changed.connect(self._on_controller_scope_changed)
        self._bind(view.controller.graph)
        self.hide()

    # -- model ---------------------------------------------------------------------------
    def _bind(self, graph: GraphModel) -> None:
        if self._graph is not None:
            for event in self._events(self._graph):
                event.disconnect(self._on_graph_changed)
        self._graph = graph
        for event in self._events(graph):
            event.connect(self._on_graph_changed)
        self._on_graph_changed()

    @staticmethod
    def _events(graph: GraphModel):
        return (graph.node_added, graph.node_removed, graph.node_moved, graph.edge_added,
                graph.edge_removed)

    def _on_graph_changed(self, *_args) -> None:
        self._stale = True
        self._timer.start()

    def _on_controller_document_replaced(self, document) -> None:
        self._bind(document.graph)

    def _on_controller_scope_changed(self, _scope) -> None:
        self._bind(self.view.controller.graph)  # the overview of the definition opened

    def _on_controller_selection_changed(self, _ids) -> None:
        if self.isVisible():
            self.update()

    def view_changed(self) -> None:
        """The canvas scrolled, zoomed or resized: refresh if what it shows moved."""
        if self.visible_scene_rect() != self._shown_rect or self._stale:
            self._timer.start()

    # -- geometry ------------------------------------------------------------------------
    def visible_scene_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def needed(self) -> bool:
        """True while part of the network lies outside the canvas's view."""
        return not self._bounds.isNull() and not self.visible_scene_rect().contains(self._bounds)

    def _area(self) -> QRectF:
        return self._bounds.adjusted(-PAD, -PAD, PAD, PAD)

    def _mapping(self) -> tuple[float, float, float]:
        """(scale, x offset, y offset): widget = scene * scale + offset, the network centred."""
        area = self._area()
        s = min((self.width() - 2 * INSET) / max(area.width(), 1.0),
                (self.height() - 2 * INSET) / max(area.height(), 1.0))
        return (s, (self.width() - area.width() * s) / 2 - area.left() * s,
                (self.height() - area.height() * s) / 2 - area.top() * s)

    def to_widget(self, point: QPointF) -> QPointF:
        s, ox, oy = self._mapping()
        return QPointF(point.x() * s + ox, point.y() * s + oy)

    def to_scene(self, point: QPointF) -> QPointF:
        s, ox, oy = self._mapping()
        return QPointF((point.x() - ox) / s, (point.y() - oy) / s)

    def _size_for(self, area: QRectF) -> tuple[int, int]:
        viewport = self.view.viewport()
        longest = min(MAX_SIDE, max(MIN_SIDE, min(viewport.width(), viewport.height()) / 3))
        aspect = area.width() / max(area.height(), 1.0)
        if aspect >= 1:
            return round(longest), round(max(MIN_SIDE, longest / aspect))
        return round(max(MIN_SIDE, longest * aspect)), round(longest)

    # -- refresh -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-measure the network if it changed, show or hide, place, repaint."""
        self._timer.stop()
        if self._stale:
            self._bounds = self._measure()
        if not self.needed():
            self.hide()
            self._shown_rect = self.visible_scene_rect()
            return
        width, height = self._size_for(self._area())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
            self._pixmap = None
        viewport = self.view.viewport().geometry()
        self.move(viewport.right() - width - MARGIN, viewport.bottom() - height - MARGIN)
        if self._stale or self._pixmap is None:
            self._pixmap = self._draw_layers()
            self._stale = False
        self._shown_rect = self.visible_scene_rect()
        self.show()
        self.raise_()
        self.update()

    def _measure(self) -> QRectF:
        positions = [self._graph.positions.get(n, (0.0, 0.0)) for n in self._graph.nodes]
        if not positions:
            return QRectF()
        xs, ys = [p[0] for p in positions], [p[1] for p in positions]
        return QRectF(min(xs) - NODE_WIDTH / 2, min(ys) - NODE_HEIGHT / 2,
                      max(xs) - min(xs) + NODE_WIDTH, max(ys) - min(ys) + NODE_HEIGHT)

    def _draw_layers(self) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(round(self.width() * ratio), round(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        style = self.view.graph_scene.style
        pixmap.fill(style.background.darker(108) if not style.dark else style.background.lighter(125))
        painter = QPainter(pixmap)
        graph = self._graph
        s, ox, oy = self._mapping()
        w, h = max(1.5, NODE_WIDTH * s), max(1.5, NODE_HEIGHT * s)
        positions = graph.positions
        centre = {}
        for nid in graph.nodes:
            x, y = positions.get(nid, (0.0, 0.0))
            centre[nid] = (x * s + ox, y * s + oy)
        if len(graph.edges) <= EDGE_BUDGET:
            painter.setPen(QPen(style.edge, 1))
            for edge in graph.edges:
                a, b = centre.get(edge.src), centre.get(edge.dst)
                if a is not None and b is not None:
                    painter.drawLine(QPointF(*a), QPointF(*b))
        painter.setPen(Qt.PenStyle.NoPen)
        colors: dict[str, QColor] = {}
        for nid, node in graph.nodes.items():
            color = colors.get(node.kind) or colors.setdefault(node.kind, kind_color(node.kind))
            x, y = centre[nid]
            painter.fillRect(QRectF(x - w / 2, y - h / 2, w, h), color)
        painter.setPen(QPen(style.node_border, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1))
        painter.end()
        return pixmap

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        if self._pixmap is None:
            return
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        style, s = self.view.graph_scene.style, self._mapping()[0]
        positions = self._graph.positions
        w, h = max(3.0, NODE_WIDTH * s), max(3.0, NODE_HEIGHT * s)
        painter.setPen(QPen(style.selection, 1.5))
        painter.setBrush(style.selection)
        for nid in self.view.controller.selection[:SELECTION_BUDGET]:
            c = self.to_widget(QPointF(*positions.get(nid, (0.0, 0.0))))
            painter.drawRect(QRectF(c.x() - w / 2, c.y() - h / 2, w, h))
        shown = self.visible_scene_rect()
        frame = QRectF(self.to_widget(shown.topLeft()), self.to_widget(shown.bottomRight()))
        fill = QColor(style.selection)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(style.selection, 1.5))
        painter.setClipRect(QRectF(1, 1, self.width() - 2, self.height() - 2))
        painter.drawRect(frame)
        painter.end()

    # -- mouse -----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self.to_scene(event.position()))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.accept()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        event.accept()  # the overview does not zoom; neither should the canvas under it
