"""The canvas's edge item: a connection drawn from an output port to an input port.

An edge is an S-curve, or a route around the layers it would cross (routing.py, with the
scene's route index), labelled with the tensor shape it carries.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from visionstudio.core.graph import Edge
from visionstudio.ui.canvas.items import NodeItem
from visionstudio.ui.canvas.routing import as_rect, curve, route_edge
from visionstudio.ui.canvas.style import PORT_RADIUS, style_of

_EDGE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable  # looked up once (see items.py)


class EdgeItem(QGraphicsItem):
    """A connection, drawn as a curve from an output to an input, labelled with its shape."""

    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem, *, route: bool = True) -> None:
        """``route=False`` leaves the path empty until the owner calls update_path (the scene
        routes every edge once after loading, not once per edge and again per neighbour)."""
        super().__init__()
        self.edge = edge
        self.src = src
        self.dst = dst
        self.dst_offset = 0.0
        self.label = ""
        self.drop_target = False
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self.setFlags(_EDGE_FLAGS)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)
        src.edges.add(self)
        dst.edges.add(self)
        if route:
            self.update_path()

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    def set_label(self, text: str) -> None:
        if text != self.label:
            routed = not self._path.isEmpty()  # an unrouted edge lays its label out when routed
            if routed:
                self.prepareGeometryChange()
            self.label = text
            if routed:
                self._layout_label()
                self.update()
        self.setToolTip(f"{self.src.name} → {self.dst.name}" + (f"\nTensor: {text}" if text else ""))

    def set_drop_target(self, on: bool) -> None:
        if on != self.drop_target:
            self.drop_target = on
            self.update()

    def update_path(self) -> None:
        self.prepareGeometryChange()
        p1 = self.src.output_anchor()
        p2 = self.dst.input_anchor(self.dst_offset)
        index = getattr(self.scene(), "route_index", None)
        if index is None:
            self._path = curve(p1, p2)
        else:
            skip = (self.src, self.dst)
            src, dst = (index.nodes.box(item) or as_rect(item.mapRectToScene(item.body_rect()))
                        for item in skip)  # (a layer not indexed yet: its own body)

            def near(rect, runs=None):  # the other layers' bodies, straight from the index
                return index.bodies_near(runs or [rect], skip)

            self._path, area = route_edge(p1, p2, src, dst, near)
            index.put_edge(self, area)
        self._layout_label()
        self.update()

    def _layout_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            return
        w, h = style_of(self).label_size(self.label)
        mid = self._path.pointAtPercent(0.5)
        self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        label = self._label_rect.adjusted(-2, -2, 2, 2)
        return self._path.boundingRect().adjusted(-8, -8, 8, 8).united(label)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(14)
        shape = stroker.createStroke(self._path)
        if not self._label_rect.isNull():
            shape.addRect(self._label_rect)
        return shape

    def distance_hint(self, point: QPointF) -> float:
        """Rough distance from ``point`` to the curve (for drop hit-testing)."""
        best = float("inf")
        for i in range(21):
            q = self._path.pointAtPercent(i / 20)
            best = min(best, (q.x() - point.x()) ** 2 + (q.y() - point.y()) ** 2)
        return best ** 0.5

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        style = style_of(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.drop_target or self.isSelected():
            color, width = style.selection, 2.6
        else:
            color, width = style.edge, 1.8
        painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        # arrow head just above the input port
        tip = self.dst.input_anchor(self.dst_offset) - QPointF(0, PORT_RADIUS + 1)
        head = QPolygonF([tip, tip + QPointF(-4.5, -8), tip + QPointF(4.5, -8)])
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(head)
        if self.label and not self._label_rect.isNull():
            painter.setPen(QPen(color if (self.drop_target or self.isSelected()) else style.grid, 1))
            painter.setBrush(QBrush(style.label_fill))
            radius = self._label_rect.height() / 2
            painter.drawRoundedRect(self._label_rect, radius, radius)
            painter.setFont(style.small_font)
            painter.setPen(style.muted if not self.isSelected() else style.text)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)

