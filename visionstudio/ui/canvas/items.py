"""Graphics items of the canvas: a node per layer, its ports, an edge per connection.

Items hold only what they draw (texts, colours) plus the id of the model object
they stand for; the scene refreshes them from model events and the analysis.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from visionstudio.core.graph import Edge
from visionstudio.ui.canvas.layer_style import ERROR_COLOR, WARNING_COLOR, kind_color
from visionstudio.ui.canvas.routing import MIN_DETOUR_DY, RouteIndex
from visionstudio.ui.canvas.style import NODE_HEIGHT, NODE_WIDTH, PORT_RADIUS, CanvasStyle

# Looked up once: a PySide6 enum member costs microseconds per access, and a large
# network makes hundreds of thousands of items and position changes.
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_EDGE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_NODE_FLAGS = (QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
               | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
_CROSS_CURSOR = Qt.CursorShape.CrossCursor


def _style(item: QGraphicsItem) -> CanvasStyle:
    scene = item.scene()
    style = getattr(scene, "style", None)
    return style if isinstance(style, CanvasStyle) else CanvasStyle.from_palette()


class PortItem(QGraphicsItem):
    """The input (top) or output (bottom) connector of a node."""

    def __init__(self, node: NodeItem, is_output: bool) -> None:
        super().__init__(node)
        self.node = node
        self.is_output = is_output
        self.hovered = False
        self.state: str | None = None  # "ok" / "bad" while a connection is dragged over it
        self.span = 0.0  # width between the first and last edge into a merge
        self.setAcceptHoverEvents(True)
        self.setPos(0.0, NODE_HEIGHT / 2 if is_output else -NODE_HEIGHT / 2)
        self.setZValue(2)
        self.setCursor(_CROSS_CURSOR)
        self.setToolTip("Drag to an input to connect" if is_output
                        else "Drop a connection here")

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:  # noqa: N802
        r = PORT_RADIUS + 5
        return QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        r = PORT_RADIUS + 4  # a forgiving hit area
        path.addRoundedRect(QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r), r, r)
        return path

    def set_span(self, span: float) -> None:
        if span != self.span:
            self.prepareGeometryChange()
            self.span = span
        self.update()

    def set_state(self, state: str | None) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self.hovered = False
        self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = _style(self)
        color = self.node.color
        if self.state == "ok":
            color = style.selection
        elif self.state == "bad":
            color = ERROR_COLOR
        r = PORT_RADIUS + (2 if (self.hovered or self.state) else 0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(style.node_fill, 2))
        painter.setBrush(color if (self.is_output or self.node.connected_inputs or self.state)
                         else style.node_fill)
        if not self.is_output and not self.node.connected_inputs and not self.state:
            painter.setPen(QPen(color, 2))
        painter.drawRoundedRect(QRectF(-r - self.span / 2, -r, 2 * r + self.span, 2 * r), r, r)


class NodeItem(QGraphicsItem):
    """One layer: name and kind, key parameters, output shape and parameter count."""

    def __init__(self, node_id: str, kind: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.kind = kind
        self.name = ""
        self.kind_title = kind
        self.summary = ""
        self.description = ""
        self.category = ""
        self.shape_text = "?"
        self.params_text = ""
        self.diagnostics: list[tuple[str, str]] = []  # (message, severity)
        self.connected_inputs = 0
        self.is_source = False
        self.color: QColor = kind_color(kind)
        self.edges: set[EdgeItem] = set()
        self.setFlags(_NODE_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.output_port = PortItem(self, True)
        self.input_port = PortItem(self, False)

    # -- content ---------------------------------------------------------------------
    def set_content(self, *, name: str, kind_title: str, summary: str, description: str,
                    is_source: bool, category: str = "") -> None:
        self.name, self.kind_title, self.summary = name, kind_title, summary
        self.category = category
        self.description = description
        self.is_source = is_source
        self.input_port.setVisible(not is_source)
        self._refresh_tooltip()
        self.update()

    def set_info(self, shape_text: str, params_text: str, diagnostics: list[tuple[str, str]]) -> None:
        self.shape_text, self.params_text = shape_text, params_text
        self.diagnostics = diagnostics
        self._refresh_tooltip()
        self.update()

    def _refresh_tooltip(self) -> None:
        lines = [f"<b>{html.escape(self.name)}</b> — {html.escape(self.kind_title)}"]
        if self.description:
            lines.append(html.escape(self.description))
        lines.append(f"Output: {html.escape(self.shape_text)}")
        for message, severity in self.diagnostics:
            color = ERROR_COLOR.name() if severity == "error" else WARNING_COLOR.name()
            lines.append(f"<span style='color:{color}'>⚠ {html.escape(message)}</span>")
        self.setToolTip("<br>".join(lines))

    @property
    def has_error(self) -> bool:
        return any(sev == "error" for _, sev in self.diagnostics)

    # -- geometry --------------------------------------------------------------------
    def body_rect(self) -> QRectF:
        return QRectF(-NODE_WIDTH / 2, -NODE_HEIGHT / 2, NODE_WIDTH, NODE_HEIGHT)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.body_rect().adjusted(-4, -4, 12, 12)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body_rect(), 8, 8)
        return path

    def output_anchor(self) -> QPointF:
        return self.scenePos() + QPointF(0, NODE_HEIGHT / 2)

    def input_anchor(self, offset: float = 0.0) -> QPointF:
        return self.scenePos() + QPointF(offset, -NODE_HEIGHT / 2)

    def itemChange(self, change, value):  # noqa: N802
        if change == _POSITION_CHANGED:
            # The scene re-routes this layer's edges and the skips whose lane it enters or leaves.
            moved = getattr(self.scene(), "node_item_moved", None)
            if moved is not None:
                moved(self)
            else:
                for edge in self.edges:
                    edge.update_path()
        return super().itemChange(change, value)

    # -- painting --------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = _style(self)
        rect = self.body_rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        # shadow
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.shadow)
        painter.drawRoundedRect(rect.translated(0, 3), 8, 8)
        # body and category stripe
        body = QPainterPath()
        body.addRoundedRect(rect, 8, 8)
        painter.setBrush(style.node_fill)
        painter.drawPath(body)
        painter.save()
        painter.setClipPath(body)
        painter.fillRect(QRectF(rect.left(), rect.top(), 6, rect.height()), self.color)
        tint = QColor(self.color)
        tint.setAlpha(38 if style.dark else 26)
        painter.fillRect(QRectF(rect.left() + 6, rect.top(), rect.width() - 6, 26), tint)
        painter.restore()
        # border
        if self.isSelected():
            pen = QPen(style.selection, 2.2)
        elif self.has_error:
            pen = QPen(ERROR_COLOR, 1.6)
        else:
            pen = QPen(style.node_border, 1.0)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 8, 8)

        left = rect.left() + 14
        width = rect.width() - 24
        # line 1: name (bold) and kind (muted, right)
        painter.setFont(style.small_font)
        kind_w = QFontMetricsF(style.small_font).horizontalAdvance(self.kind_title) + 2
        painter.setPen(style.muted)
        line1 = QRectF(left, rect.top() + 4, width, 20)
        painter.drawText(line1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.kind_title)
        painter.setFont(style.title_font)
        painter.setPen(style.text)
        name_rect = QRectF(left, line1.top(), max(20.0, width - kind_w - 8), 20)
        name = QFontMetricsF(style.title_font).elidedText(self.name, Qt.TextElideMode.ElideRight, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        # line 2: key parameters
        painter.setFont(style.body_font)
        line2 = QRectF(left, rect.top() + 29, width, 20)
        summary = self.summary or self.category
        painter.setPen(style.text if self.summary else style.muted)
        summary = QFontMetricsF(style.body_font).elidedText(summary, Qt.TextElideMode.ElideRight, width)
        painter.drawText(line2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, summary)
        # line 3: output shape and parameter count
        painter.setFont(style.small_font)
        line3 = QRectF(left, rect.bottom() - 24, width, 18)
        painter.setPen(ERROR_COLOR if self.shape_text == "?" and self.has_error else style.muted)
        painter.drawText(line3, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"→ {self.shape_text}")
        painter.setPen(style.muted)
        painter.drawText(line3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.params_text)
        # diagnostics badge
        if self.diagnostics:
            color = ERROR_COLOR if self.has_error else WARNING_COLOR
            center = QPointF(rect.right() - 1, rect.top() + 1)
            painter.setPen(QPen(style.node_fill, 2))
            painter.setBrush(color)
            painter.drawEllipse(center, 9, 9)
            painter.setPen(QColor("white"))
            font = style.title_font
            painter.setFont(font)
            painter.drawText(QRectF(center.x() - 9, center.y() - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "!")


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
        self._path = curve(p1, p2)
        index = getattr(self.scene(), "route_index", None)
        if index is not None:
            index.put_edge(self, self._path.boundingRect() if p2.y() - p1.y() >= MIN_DETOUR_DY else None)
        side = self._detour_x(self._path, index)
        if side is not None:
            self._path = detour(p1, p2, side)
        self._layout_label()
        self.update()

    def _detour_x(self, path: QPainterPath, index: RouteIndex | None) -> float | None:
        """Where to run a long edge (a residual skip) that would cross other layers:
        just right of the layers it passes, so it never hides behind the main chain.
        The scene's grid index gives the layers near the curve: asking the scene for its
        items walked every item once per edge (quadratic in edges)."""
        if index is None or path.elementAt(path.elementCount() - 1).y - path.elementAt(0).y < MIN_DETOUR_DY:
            return None
        near = index.nodes_near(path.boundingRect())
        blockers = [index.nodes.rect(item) for item in near if item is not self.src and item is not self.dst]
        blockers = [rect for rect in blockers if path.intersects(rect)]
        if not blockers:
            return None
        return max(rect.right() for rect in blockers) + 26.0

    def _layout_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            return
        w, h = _style(self).label_size(self.label)
        mid = self._path.pointAtPercent(0.5)
        self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)

    def path(self) -> QPainterPath:
        return QPainterPath(self._path)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._path.boundingRect().adjusted(-8, -8, 8, 8).united(self._label_rect.adjusted(-2, -2, 2, 2))

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

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        style = _style(self)
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
            painter.drawRoundedRect(self._label_rect, self._label_rect.height() / 2, self._label_rect.height() / 2)
            painter.setFont(style.small_font)
            painter.setPen(style.muted if not self.isSelected() else style.text)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    """A vertical S-curve from an output (above) to an input (below)."""
    path = QPainterPath(p1)
    dy = max(40.0, abs(p2.y() - p1.y()) * 0.5)
    path.cubicTo(p1 + QPointF(0, dy), p2 - QPointF(0, dy), p2)
    return path


def detour(p1: QPointF, p2: QPointF, x: float) -> QPainterPath:
    """Out of the output, down a vertical lane at ``x``, and into the input."""
    path = QPainterPath(p1)
    turn = min(60.0, max(20.0, (p2.y() - p1.y()) / 4))
    path.cubicTo(p1 + QPointF(0, turn), QPointF(x, p1.y()), QPointF(x, p1.y() + 2 * turn))
    if p2.y() - 2 * turn > p1.y() + 2 * turn:
        path.lineTo(x, p2.y() - 2 * turn)
    path.cubicTo(QPointF(x, p2.y()), p2 - QPointF(0, turn), p2)
    return path
